/**
 * The viewer's scope, applied in exactly one place below every model.
 *
 * Every model query runs under a `WITH` prefix that defines CTEs named like the canonical
 * tables (`opportunities`, `customers`, …). A CTE shadows the table of the same name, so a
 * model that reads `opportunities` reads only the rows its viewer may see; the real tables
 * are reachable only as `main.<table>`, which models never use (a test checks this).
 *
 * Definition of what a restricted viewer sees:
 * - teams: the scope's teams and every team below them, and the own team of each visible user
 *   (so a rep sees their team's name, not its other members or its target);
 * - users: members of those teams, plus the scope's owner ids;
 * - opportunities (and their precomputed `deal_facts` and `stage_facts`, warehouse/facts.ts;
 *   `deal_facts_rows` is deal_facts with its row id first, `fact_rowid`, for a listing's page;
 *   `payment_facts_rows` likewise for payment_facts):
 *   owned by a visible user; versions (and `version_facts`), stage events and the states at
 *   the period boundaries (`pit_boundary_facts`) of those;
 * - customers: owned by a visible user, or customer of a visible opportunity;
 * - payments (and `payment_facts`): of a visible opportunity, or of a visible customer when
 *   not tied to one (precomputed as payment_facts.owner_id);
 * - `option_facts` (the filter bar's counts per owner), `deal_day_facts` and `payment_day_facts`
 *   (the rollups by owner and day): the rows of visible owners; `activity_day_facts` (follow-ups
 *   per author and day): the rows of visible authors;
 * - `customer_facts` (per-customer totals, warehouse/facts.ts): the precomputed table for
 *   `all`; for any other scope the same totals over the visible deals and payments, summed
 *   from `customer_owner_facts` (the totals per customer and owner) of its owners;
 * - activities: by a visible user or on a visible opportunity;
 * - targets: of a visible user or a visible team;
 * - forecast_snapshots (frozen forecasts, kept per owner): of a visible user;
 * - forecast_calls (submitted calls, src/lib/server/forecast-call): a rep's of a visible user, a
 *   team's of a team in the scope's subtrees (not the own team a rep sees by name) — who reads
 *   the calls on /forecast-call reads the same ones in the accuracy ledger.
 * - `deal_locator` (opportunity_id, closed_at, created_at): the one deal a query names in
 *   `ModelQuery.deal` (models/model.ts), when visible; empty otherwise. It is found through
 *   the primary key of `opportunities` (an index lookup, which DuckDB uses only when the id is
 *   the scan's sole filter: the scope is applied to the row found), and a join with
 *   `deal_facts` on its sort key (closed_at, created_at) lets DuckDB skip every other row group
 *   of a table ordered by dates, not by id (docs/decisions.md, "One deal at 10M deals").
 *   `deal_activities`: that deal's follow-ups (all of them are visible: see activities), read
 *   without working out every visible deal as `activities` must for a restricted scope.
 * An absent scope sees nothing (fail closed); `all` sees everything.
 */
import { z } from 'zod';
import { sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';
import { customerFactsFromOwners, PAYMENT_FACTS_EXTRA } from '../../warehouse/facts';

export const scopeSchema = z.union([
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({
    team_ids: z.array(z.string().min(1)).default([]),
    owner_ids: z.array(z.string().min(1)).default([])
  })
]);

/** `{all: true}`, or team ids (each with its subtree) and/or owner ids. */
export type Scope = { all: true } | { team_ids: string[]; owner_ids: string[] };

export const ALL_SCOPE: Scope = { all: true };

export function isAll(scope: Scope | null | undefined): scope is { all: true } {
  return !!scope && 'all' in scope && scope.all === true;
}

/** Names every model may read; each is a scoped CTE. */
export const SCOPED_RELATIONS = [
  'deal_facts',
  'stage_facts',
  'payment_facts',
  'customer_facts',
  'option_facts',
  'teams',
  'users',
  'customers',
  'opportunities',
  'opportunity_versions',
  'version_facts',
  'stage_events',
  'payments',
  'activities',
  'targets',
  'forecast_snapshots',
  'forecast_calls',
  'deal_locator',
  'deal_activities',
  'deal_facts_rows',
  'payment_facts_rows',
  'deal_day_facts',
  'payment_day_facts',
  'activity_day_facts',
  'pit_boundary_facts'
] as const;

/** The closure of the team tree over all teams (structure, not row data): ancestor → team. */
const TEAM_TREE = unsafeRaw(`team_tree(ancestor, team_id, depth) AS (
    SELECT team_id, team_id, 0 FROM main.teams
    UNION ALL
    SELECT tt.ancestor, t.team_id, tt.depth + 1
    FROM team_tree tt JOIN main.teams t ON t.parent_id = tt.team_id
    WHERE tt.depth < 32
  )`);

const STAGE_EVENTS = unsafeRaw(`stage_events AS NOT MATERIALIZED (
    SELECT opportunity_id, stage, valid_from AS entered_at
    FROM (
      SELECT opportunity_id, stage, valid_from,
             lag(stage) OVER (PARTITION BY opportunity_id ORDER BY valid_from) AS previous_stage
      FROM opportunity_versions
    )
    WHERE previous_stage IS NULL OR previous_stage <> stage
  )`);

/**
 * `deal_locator`: the deal `id` names, found by the primary key alone (a MATERIALIZED lookup, so
 * the scope's condition, applied after it, cannot turn the index lookup into a scan), when
 * `visible` holds for it; with no id, no row.
 */
function dealLocator(id: string | undefined, visible: Sql | null): Sql[] {
  // Every follow-up on a visible deal is visible (see activities): no reading of which deals are.
  const dealActivities = unsafeRaw(`deal_activities AS NOT MATERIALIZED (
      SELECT * FROM main.activities WHERE opportunity_id IN (SELECT opportunity_id FROM deal_locator))`);
  if (id === undefined) {
    return [
      unsafeRaw(`deal_locator AS (SELECT NULL::VARCHAR AS opportunity_id, NULL::TIMESTAMP AS closed_at, NULL::TIMESTAMP AS created_at WHERE FALSE)`),
      dealActivities
    ];
  }
  return [
    sql`deal_lookup AS MATERIALIZED (SELECT opportunity_id, owner_id, closed_at, created_at FROM main.opportunities WHERE opportunity_id = ${id})`,
    sql`deal_locator AS (SELECT opportunity_id, closed_at, created_at FROM deal_lookup WHERE ${visible ?? unsafeRaw('TRUE')})`,
    dealActivities
  ];
}

/**
 * The CTEs (without the leading `WITH RECURSIVE`) that scope every canonical relation.
 * `scope` null or undefined means no access: every relation is empty.
 */
export function scopeCtes(scope: Scope | null | undefined, deal?: string): Sql[] {
  if (isAll(scope)) {
    return [
      TEAM_TREE,
      unsafeRaw(`teams AS NOT MATERIALIZED (SELECT * FROM main.teams)`),
      unsafeRaw(`users AS NOT MATERIALIZED (SELECT * FROM main.users)`),
      unsafeRaw(`opportunities AS NOT MATERIALIZED (SELECT * FROM main.opportunities)`),
      unsafeRaw(`deal_facts AS NOT MATERIALIZED (SELECT * FROM main.deal_facts)`),
      unsafeRaw(`deal_facts_rows AS NOT MATERIALIZED (SELECT rowid AS fact_rowid, * FROM main.deal_facts)`),
      unsafeRaw(`stage_facts AS NOT MATERIALIZED (SELECT * FROM main.stage_facts)`),
      unsafeRaw(`payment_facts AS NOT MATERIALIZED (SELECT * FROM main.payment_facts)`),
      unsafeRaw(`payment_facts_rows AS NOT MATERIALIZED (SELECT rowid AS fact_rowid, * FROM main.payment_facts)`),
      unsafeRaw(`customer_facts AS NOT MATERIALIZED (SELECT * FROM main.customer_facts)`),
      unsafeRaw(`option_facts AS NOT MATERIALIZED (SELECT * FROM main.option_facts)`),
      unsafeRaw(`deal_day_facts AS NOT MATERIALIZED (SELECT * FROM main.deal_day_facts)`),
      unsafeRaw(`payment_day_facts AS NOT MATERIALIZED (SELECT * FROM main.payment_day_facts)`),
      unsafeRaw(`activity_day_facts AS NOT MATERIALIZED (SELECT * FROM main.activity_day_facts)`),
      unsafeRaw(`customers AS NOT MATERIALIZED (SELECT * FROM main.customers)`),
      unsafeRaw(`opportunity_versions AS NOT MATERIALIZED (SELECT * FROM main.opportunity_versions)`),
      unsafeRaw(`version_facts AS NOT MATERIALIZED (SELECT * FROM main.version_facts)`),
      unsafeRaw(`pit_boundary_facts AS NOT MATERIALIZED (SELECT * FROM main.pit_boundary_facts)`),
      STAGE_EVENTS,
      unsafeRaw(`payments AS NOT MATERIALIZED (SELECT * FROM main.payments)`),
      unsafeRaw(`activities AS NOT MATERIALIZED (SELECT * FROM main.activities)`),
      unsafeRaw(`targets AS NOT MATERIALIZED (SELECT * FROM main.targets)`),
      unsafeRaw(`forecast_snapshots AS NOT MATERIALIZED (SELECT * FROM main.forecast_snapshots)`),
      unsafeRaw(`forecast_calls AS NOT MATERIALIZED (SELECT *, rowid AS seq FROM main.forecast_calls)`),
      ...dealLocator(deal, null)
    ];
  }
  const teamIds: string[] = scope ? [...scope.team_ids] : [];
  const ownerIds: string[] = scope ? [...scope.owner_ids] : [];
  return [
    TEAM_TREE,
    sql`scope_teams AS MATERIALIZED (
      SELECT DISTINCT team_id FROM team_tree WHERE list_contains(${teamIds}::VARCHAR[], ancestor)
    )`,
    sql`scope_users AS MATERIALIZED (
      SELECT user_id FROM main.users
      WHERE team_id IN (SELECT team_id FROM scope_teams) OR list_contains(${ownerIds}::VARCHAR[], user_id)
    )`,
    unsafeRaw(`teams AS NOT MATERIALIZED (
      SELECT * FROM main.teams
      WHERE team_id IN (SELECT team_id FROM scope_teams)
         OR team_id IN (SELECT team_id FROM main.users WHERE user_id IN (SELECT user_id FROM scope_users)))`),
    unsafeRaw(`users AS NOT MATERIALIZED (SELECT * FROM main.users WHERE user_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`opportunities AS NOT MATERIALIZED (
      SELECT * FROM main.opportunities WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`deal_facts AS NOT MATERIALIZED (
      SELECT * FROM main.deal_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`deal_facts_rows AS NOT MATERIALIZED (
      SELECT rowid AS fact_rowid, * FROM main.deal_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`stage_facts AS NOT MATERIALIZED (
      SELECT * FROM main.stage_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    // Per-owner counts (warehouse/facts.ts): the rows of the visible owners, as deal_facts.
    unsafeRaw(`option_facts AS NOT MATERIALIZED (
      SELECT * FROM main.option_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    // The rollups by owner and day (warehouse/facts.ts): the rows of the visible owners, as
    // deal_facts and payment_facts are scoped by owner.
    unsafeRaw(`deal_day_facts AS NOT MATERIALIZED (
      SELECT * FROM main.deal_day_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`payment_day_facts AS NOT MATERIALIZED (
      SELECT * FROM main.payment_day_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    // Follow-ups per author and day: the visible users' own (the first branch of `activities`;
    // not others' follow-ups on visible deals, which the leaderboard does not count either).
    unsafeRaw(`activity_day_facts AS NOT MATERIALIZED (
      SELECT * FROM main.activity_day_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    // "A or B" conditions are written as the union of two semi-joins: DuckDB evaluates
    // `x IN (…) OR y IN (…)` row by row, which is many times slower at a million rows.
    // The second branch: customers of a visible deal whose owner is not visible — such a deal's
    // owner differs from its customer's, so it is a row of cross_customers (warehouse/facts.ts).
    unsafeRaw(`customers AS NOT MATERIALIZED (
      SELECT * FROM main.customers WHERE owner_id IN (SELECT user_id FROM scope_users)
      UNION ALL
      SELECT * FROM main.customers
      WHERE (owner_id IS NULL OR owner_id NOT IN (SELECT user_id FROM scope_users))
        AND customer_id IN (SELECT customer_id FROM main.cross_customers WHERE deal_owner_id IN (SELECT user_id FROM scope_users)))`),
    // The versions of visible deals: version_facts holds every version of every deal with the
    // deal's owner (no semi join over every visible deal).
    unsafeRaw(`opportunity_versions AS NOT MATERIALIZED (
      SELECT * EXCLUDE (deal_owner_id, settled_key) FROM main.version_facts WHERE deal_owner_id IN (SELECT user_id FROM scope_users))`),
    // The versions in settled order (warehouse/facts.ts): those of visible deals, by the
    // deal's owner as deal_facts.
    unsafeRaw(`version_facts AS NOT MATERIALIZED (
      SELECT * FROM main.version_facts WHERE deal_owner_id IN (SELECT user_id FROM scope_users))`),
    // The deals' states at the period boundaries kept at sync (warehouse/pit-states.ts): those
    // of visible deals, by the deal's current owner (f_owner) as deal_facts.
    unsafeRaw(`pit_boundary_facts AS NOT MATERIALIZED (
      SELECT * FROM main.pit_boundary_facts WHERE f_owner IN (SELECT user_id FROM scope_users))`),
    STAGE_EVENTS,
    unsafeRaw(`payment_facts AS NOT MATERIALIZED (
      SELECT * FROM main.payment_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`payment_facts_rows AS NOT MATERIALIZED (
      SELECT rowid AS fact_rowid, * FROM main.payment_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    // Per-customer totals over every owner would leak other owners' deals: the totals over the
    // deals and payments this scope sees, from their owners' rows (warehouse/facts.ts).
    unsafeRaw(`customer_facts AS NOT MATERIALIZED (${customerFactsFromOwners(
      '(SELECT * FROM main.customer_owner_facts WHERE owner_id IN (SELECT user_id FROM scope_users))'
    )})`),
    // payment_facts is one row per payment with the payments columns first (warehouse/facts.ts).
    unsafeRaw(`payments AS NOT MATERIALIZED (
      SELECT * EXCLUDE (${PAYMENT_FACTS_EXTRA.join(', ')}) FROM main.payment_facts WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    // The second branch: follow-ups by someone not visible on a visible deal — someone other
    // than the deal's owner, so a row of cross_activities (warehouse/facts.ts).
    unsafeRaw(`activities AS NOT MATERIALIZED (
      SELECT * FROM main.activities WHERE owner_id IN (SELECT user_id FROM scope_users)
      UNION ALL
      SELECT * EXCLUDE (deal_owner_id) FROM main.cross_activities
      WHERE (owner_id IS NULL OR owner_id NOT IN (SELECT user_id FROM scope_users))
        AND deal_owner_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`targets AS NOT MATERIALIZED (
      SELECT * FROM main.targets
      WHERE owner_id IN (SELECT user_id FROM scope_users) OR team_id IN (SELECT team_id FROM scope_teams))`),
    unsafeRaw(`forecast_snapshots AS NOT MATERIALIZED (
      SELECT * FROM main.forecast_snapshots WHERE owner_id IN (SELECT user_id FROM scope_users))`),
    unsafeRaw(`forecast_calls AS NOT MATERIALIZED (
      SELECT *, rowid AS seq FROM main.forecast_calls
      WHERE (level = 'rep' AND subject IN (SELECT user_id FROM scope_users))
         OR (level = 'team' AND subject IN (SELECT team_id FROM scope_teams)))`),
    ...dealLocator(deal, unsafeRaw('owner_id IN (SELECT user_id FROM scope_users)'))
  ];
}
