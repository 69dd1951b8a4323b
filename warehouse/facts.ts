/**
 * Derived tables, rebuilt together. `deal_facts`: one row per opportunity with what deal models need precomputed from its
 * history and its neighbours, so a model scans one table instead of re-aggregating
 * `opportunity_versions` (4M rows at 1M deals) on every request.
 *
 * Columns: every `opportunities` column, plus
 * - `owner_team` (the owner's team), `customer_region`, `customer_industry`, `customer_grade`,
 *   `customer_source`;
 * - `stage_idx`, `stage_kind`: the current stage's position and kind (open/won/lost) by the
 *   configured stages; `win_probability`: the deal's probability, else its stage's;
 *   `weighted_amount` (DOUBLE): amount × win_probability for an open deal, the amount for a
 *   won one, 0 for a lost one (the deals listing's weighted amount and total, summed over
 *   every matching deal: precomputed, since the per-row product cost more than the scan);
 *   `effective_forecast_category`: the deal's category, else its stage's;
 * - `furthest_idx`: the furthest open stage or won its history (or current stage) shows — the
 *   funnel's "reached" (metrics.md: a lost deal reached the furthest open stage it showed);
 * - `entered`: first entry time into each stage, a list indexed by stage idx (1-based; null
 *   where never entered, e.g. a skipped stage);
 * - `us_to_next_1` … `us_to_next_<won idx>` (BIGINT): microseconds from first entering stage k
 *   to first entering any later stage (null unless both happened, in that order, or when the
 *   span does not fit 64 bits: hostile dates) — the funnel's median days to next, as plain
 *   columns. Exact integers rather than DOUBLE days: DuckDB's exact quantiles over BIGINT run
 *   2–5× faster than over DOUBLE, and the days are the microseconds / 86,400,000,000 once, at
 *   the end (docs/decisions.md, "Durations as exact microseconds");
 * - `last_open_amount`: the amount of the last version in an open stage;
 * - `effective_amount`: the amount, or for a lost deal whose amount the source zeroed, its
 *   last amount while open (metrics.md, win_rate_value);
 * - `last_stage_change_at`, `last_activity_at`: for stalled-deal rules;
 * - `activity_times`: every activity time on the deal, ascending (null: none), so the last
 *   activity before any instant t is read from the deal's row (models/common/pit.ts,
 *   `lastActivityBefore`) instead of joining every activity: the statistical forecast's
 *   activity recency and the risk flags' idle days, as of any report date;
 * - `customer_activity_at`: the last activity by the deal's owner on its customer tied to no
 *   deal (which counts towards the deal's idle days: the stalled rule), all history;
 * - `customer_name`: the customer's name, so the deals listing sorts and searches one table;
 * - the settled state, for point-in-time reads (models/common/pit.ts, `dealStatesAt`):
 *   `pit_valid_from`, `pit_valid_to`, `pit_stage`, `pit_amount`, `pit_expected_close_date`,
 *   `pit_owner_id`, `pit_forecast_category`, `pit_probability`, `pit_origin` (the version with
 *   the latest valid_from), `pit_known_amount`, `pit_known_expected_close_date`,
 *   `pit_known_owner_id` (the last non-null ones over all versions), `pit_stage_entered_at`
 *   (the entry of the stint in `stage_facts` with no end), `pit_forecast_until` (in that last
 *   version, the latest instant the deal can count in a forecast as won: 'infinity' in an open
 *   stage, the later of its close date and the version's start when won, '-infinity'
 *   otherwise — in close-date order like the table, so a forecast skips the row groups of the
 *   deals closed before its period), and `pit_settled_at`: the latest
 *   valid_from and valid_to in the history — after it, the deal is in its last version (when
 *   that is open-ended or not yet ended) and in no other; null when the history has two open
 *   versions, or an open one that is not the last (then nothing is read from these columns);
 *   `pit_settled_key`: the same, 'infinity' where null, so "settled before t" and "not" are
 *   each one range condition, which DuckDB applies in the scan and prunes row groups with (the
 *   close-date order clusters it: at 10M deals those not settled before this quarter lie in
 *   13 of 82 row groups);
 *   `pit_live_until`: the last instant at which the deal can be in an open stage or still
 *   changing — 'infinity' when its last version's stage is open, else `pit_settled_key` — so
 *   "open, or not settled before t" (the deals the pipeline flow reads) is one range condition
 *   too, `pit_live_until >= t`, pruned by the close-date order like the others
 *   (docs/decisions.md, "The waterfall's live deals as one range").
 * - for the risk flags (models/common/risk.ts) over the whole history: `risk_pushes` (versions
 *   whose close date is later than the last known one before them), `risk_peak_amount` (the
 *   highest amount), and `versions_last_from` (the latest valid_from: a report date after it
 *   sees the whole history, so these, `pit_known_amount` and `last_stage_change_at` hold then).
 *
 * Stored in close-date order (open deals last, by creation): nearly every model filters on a
 * close or creation date, and DuckDB skips the row groups whose min/max rule them out.
 *
 * It is derived data: rebuilt (never migrated) whenever the data or the stage configuration
 * changed. A sync refreshes the changed deals' rows inside its own transaction
 * (`refreshFactsFor`) and rebuilds everything right after its commit when many changed
 * (connectors/load/sync.ts, `rebuildAfterCommit`); otherwise the model runner rebuilds it before
 * the next query (`ensureFacts`), and runs a query again when a write moved meanwhile
 * (src/lib/server/models/run.ts). Tests compare it with the raw tables.
 */
import { createHash } from 'node:crypto';
import type { Database, WriteTx } from '../src/lib/server/db/database';
import { join, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';
import type { StageInfo } from './stages';
import { pitBoundaries, pitBoundaryFactsSelect } from './pit-states';
import { durationUs } from './durations';

/** The derived tables refreshFacts builds (`option_facts`: see OPTION_FACTS_SQL; `version_facts`: VERSION_FACTS_SQL). */
export const FACT_TABLES = [
  'deal_facts',
  'stage_facts',
  'payment_facts',
  'customer_owner_facts',
  'customer_facts',
  'option_facts',
  'version_facts',
  'cross_activities',
  'cross_customers',
  'deal_day_facts',
  'payment_day_facts',
  'activity_day_facts',
  'pit_boundary_facts'
] as const;

/** Bump when the facts' definition changes, so existing files rebuild. */
export const FACTS_VERSION = 25;

/**
 * `version_facts`: every version of `opportunity_versions` whose deal is in `deal_facts`, with
 * `deal_owner_id` (the deal's current owner: scoped like deal_facts and stage_facts) and
 * `settled_key` (the deal's `pit_settled_at`, 'infinity' where that is null), stored in
 * `settled_key` order. The point-in-time rebuild (models/common/pit.ts, `dealStatesAt`) needs
 * the versions of the deals not settled at an instant t only — `settled_key >= t`, one range
 * condition — so it reads the row groups from t on and skips the rest: at 1M deals the start
 * of this year is a fifth of the 3.5M versions, the report date a few hundred.
 * Sorted on the key alone (not also by deal and valid_from): nothing reads the order within a
 * key, and the longer sort cost seconds of CPU at sync.
 */
export const VERSION_FACTS_SQL = `CREATE OR REPLACE TABLE version_facts AS ${versionFactsSelect()}`;

/** version_facts' rows, of every deal or (incremental refresh) of the deals in `only` (a temp table of opportunity_id). */
function versionFactsSelect(only?: DealSet): string {
  return `SELECT ov.*, f.owner_id AS deal_owner_id, f.pit_settled_key AS settled_key
  FROM main.opportunity_versions ov
  JOIN main.deal_facts f ON f.opportunity_id = ov.opportunity_id
  ${only ? `WHERE ov.opportunity_id IN (SELECT opportunity_id FROM ${only})` : ''}
  ORDER BY settled_key`;
}

/**
 * `payment_facts`: every payments column plus the payment's `owner_id` (its deal's owner; its
 * customer's owner when it is tied to no deal — the scope rule of models/common/scope.ts) and
 * the dimensions filters use: `owner_team`, `customer_region`, `customer_industry`,
 * `customer_grade`, `source` and `product` (of its deal), and for the payments listing
 * `effective_customer_id` (its own customer, else its deal's), `customer_name` and `deal_name`,
 * and `deal_closed_at` (its deal's close date: a payment of a deal signed after a day D is not a
 * receivable on D, models/common/receivables.ts).
 * Stored in paid_at order, so a period of payments is a range of row groups.
 */
export const PAYMENT_FACTS_SQL = `CREATE OR REPLACE TABLE payment_facts AS ${paymentFactsSelect()}`;

/** payment_facts' columns after the payments columns (what the scope layer drops to serve `payments` from it). */
export const PAYMENT_FACTS_EXTRA = ['owner_id', 'owner_team', 'customer_region', 'customer_industry', 'customer_grade', 'source', 'product', 'effective_customer_id', 'customer_name', 'deal_name', 'deal_closed_at'] as const;

/** payment_facts' rows, of every payment or (incremental refresh) of those in `only` (a temp table of payment_id). */
function paymentFactsSelect(only?: string): string {
  return `  SELECT pm.*,
    CASE WHEN pm.opportunity_id IS NOT NULL THEN o.owner_id ELSE c.owner_id END AS owner_id,
    u.team_id AS owner_team,
    c.region AS customer_region, c.industry AS customer_industry, c.grade AS customer_grade,
    o.source AS source, o.product AS product,
    coalesce(pm.customer_id, o.customer_id) AS effective_customer_id, c.name AS customer_name, o.name AS deal_name,
    o.closed_at AS deal_closed_at
  FROM main.payments pm
  LEFT JOIN main.opportunities o ON o.opportunity_id = pm.opportunity_id
  LEFT JOIN main.customers c ON c.customer_id = coalesce(pm.customer_id, o.customer_id)
  LEFT JOIN main.users u ON u.user_id = CASE WHEN pm.opportunity_id IS NOT NULL THEN o.owner_id ELSE c.owner_id END
  ${only ? `WHERE pm.payment_id IN (SELECT payment_id FROM ${only})` : ''}
  ORDER BY pm.paid_at NULLS LAST, pm.due_date`;
}

/**
 * `customer_facts`: one row per customer with a deal or a received payment, aggregated over
 * every deal and payment (all time, every owner):
 * - `first_won_at`: the first won deal's close date (kpis' and the leaderboard's new
 *   customers, LTV cohorts);
 * - `paid_total`, `last_paid_at`: Σ received payments (paid_amount, else amount, where paid_at
 *   is set; a payment without a customer counts for its deal's) and the latest paid_at;
 * - `won_total`, `last_won_at`: Σ amount of won deals with a close date, and the latest;
 * - `open_total`, `last_open_created_at`: Σ amount of open deals, and the latest creation.
 * A model wanting a total "up to date D" subtracts what the (few) events at or after D add,
 * so the result is exact for any report date; the `last_*` columns say when there are none.
 *
 * Aggregated over every owner, the table is the truth only for a viewer who sees everything.
 * The scope layer (models/common/scope.ts) therefore serves it as is to the `all` scope only;
 * any other scope gets the same figures over the deals and payments it may see, from the rows
 * of `customer_owner_facts` of its owners (`customerFactsFromOwners`), so a customer's facts
 * never include a deal or payment the viewer cannot see. Filters a model applies to
 * deals (team, owner, region … of the deal) are not in it either: models use it only when
 * their deals are unfiltered, and the exact per-request aggregation otherwise.
 */
export function customerFactsFromOwners(ownerFacts: string): string {
  // A customer whose deals and payments all have one owner (most: accounts have an owner) has
  // one row, its totals as they are: only the others are grouped.
  return `SELECT customer_id, first_won_at, paid_total, last_paid_at, won_total, last_won_at, open_total, last_open_created_at
    FROM ${ownerFacts} WHERE sole_owner
    UNION ALL
    SELECT customer_id,
      min(first_won_at) AS first_won_at,
      sum(paid_total)::DECIMAL(38,2) AS paid_total, max(last_paid_at) AS last_paid_at,
      sum(won_total)::DECIMAL(38,2) AS won_total, max(last_won_at) AS last_won_at,
      sum(open_total)::DECIMAL(38,2) AS open_total, max(last_open_created_at) AS last_open_created_at
    FROM ${ownerFacts} WHERE NOT sole_owner
    GROUP BY customer_id`;
}

/**
 * `customer_owner_facts`: customer_facts' figures per customer and owner — the deals' owner
 * (deal_facts.owner_id) and the payments' (payment_facts.owner_id: the deal's, else the
 * customer's), the owners by which the scope layer shows deals and payments. Every figure is a
 * min, max or sum, so a customer's totals over any set of owners are the min, max or sum of
 * these rows: customer_facts is that over every owner, and a restricted scope's is that over
 * its own (models/common/scope.ts) — one GROUP BY over a table the size of customer_facts
 * instead of aggregating every visible deal and payment per request (a region's kpis at 10M
 * deals: 1.7 s). A payment's customer is payment_facts.effective_customer_id (its own, else its
 * deal's). `sole_owner`: the customer has this one row (every deal and payment of one owner),
 * which `customerFactsFromOwners` passes through without grouping. Stored by owner, then
 * customer: a scope's owners are a range of row groups when their ids are close.
 */
export function customerOwnerFactsSelect(deals: string, payments: string): string {
  return `SELECT customer_id, owner_id,
      count(*) OVER (PARTITION BY customer_id) = 1 AS sole_owner,
      min(first_won_at) AS first_won_at,
      sum(paid_total)::DECIMAL(38,2) AS paid_total, max(last_paid_at) AS last_paid_at,
      sum(won_total)::DECIMAL(38,2) AS won_total, max(last_won_at) AS last_won_at,
      sum(open_total)::DECIMAL(38,2) AS open_total, max(last_open_created_at) AS last_open_created_at
    FROM (
      SELECT customer_id, owner_id,
        min(closed_at) FILTER (WHERE status = 'won') AS first_won_at,
        NULL::DECIMAL(38,2) AS paid_total, NULL::DATE AS last_paid_at,
        sum(coalesce(amount, 0)) FILTER (WHERE status = 'won' AND closed_at IS NOT NULL) AS won_total,
        max(closed_at) FILTER (WHERE status = 'won') AS last_won_at,
        sum(coalesce(amount, 0)) FILTER (WHERE status = 'open') AS open_total,
        max(created_at) FILTER (WHERE status = 'open') AS last_open_created_at
      FROM ${deals} WHERE customer_id IS NOT NULL AND status IN ('won', 'open')
      GROUP BY customer_id, owner_id
      UNION ALL
      SELECT effective_customer_id, owner_id,
        NULL, sum(coalesce(paid_amount, amount)), max(paid_at), NULL, NULL, NULL, NULL
      FROM ${payments} WHERE paid_at IS NOT NULL
      GROUP BY 1, 2
    )
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id, owner_id`;
}

/** The deal_facts columns the filter bar lists values of (`options`), by option kind. */
export const OPTION_DIMS = {
  region: 'customer_region',
  industry: 'customer_industry',
  source: 'source',
  product: 'product',
  grade: 'customer_grade',
  competitor: 'competitor',
  loss_reason: 'loss_reason'
} as const;

/**
 * `option_facts`: the filter bar's counts (the `options` model) counted once at sync, per owner:
 * one row per owner_id, owner_team, kind and key with `n` that owner's deals — kind `deals`
 * (key null: all of them), `stage` (key: the current stage) and each of OPTION_DIMS (key: the
 * value, empty and null values left out, as the options list them). A viewer's options sum the
 * rows of the owners in their scope (scoped like deal_facts, by owner) instead of counting a
 * million deals before every board's first byte.
 */
export const OPTION_FACTS_SQL = `CREATE OR REPLACE TABLE option_facts AS ${optionFactsSelect('main.deal_facts')}`;

/** option_facts' rows counted over `deals` (deal_facts, or the deals of some owners). */
function optionFactsSelect(deals: string): string {
  return `SELECT owner_id, owner_team, 'deals' AS kind, NULL::VARCHAR AS key, count(*)::BIGINT AS n FROM ${deals} GROUP BY ALL
  UNION ALL
  SELECT owner_id, owner_team, 'stage', stage, count(*) FROM ${deals} GROUP BY ALL
  ${Object.entries(OPTION_DIMS)
    .map(([kind, col]) => `UNION ALL
  SELECT owner_id, owner_team, '${kind}', ${col}, count(*) FROM ${deals} WHERE ${col} IS NOT NULL AND ${col} <> '' GROUP BY ALL`)
    .join('\n  ')}
  ORDER BY kind, key, owner_id`;
}

/**
 * Rollups by owner and day, for the tiles that sum deals or payments over a period (issue 15.2:
 * at 10M deals a quarter's kpis scanned a million deal rows; these hold a few rows per owner and
 * day). Keyed by owner, so a scope (which shows deals and payments by their owner: scope.ts) and
 * the `team` and `owner` filters select whole rows and the sums stay exact; a model whose
 * request has any other filter (region, industry, source, product, grade: the customer's or the
 * deal's) reads deal_facts and payment_facts as before (models/common/relations.ts,
 * `rollupServes`).
 *
 * `deal_day_facts`: one row per role, day, owner_id (with that owner's `owner_team`) and the
 * deal's current `status`, over deal_facts —
 * - role `closed`: deals with a close date, `day` = closed_at's date;
 * - role `created`: deals with a creation date, `day` = created_at's date;
 * - role `expected`: open deals with an expected close date, `day` = that date;
 * - role `any`: every deal, `day` null (the deals listing's totals over all dates);
 * with `n` (deals), `amount` (Σ amount; null amounts add nothing, as in a sum over the deals),
 * `effective_amount` (Σ effective_amount, null as 0: win/loss by value), `weighted` (Σ amount ×
 * win_probability, each deal's product rounded to 6 decimals so that a group's sum does not
 * depend on the order DuckDB adds it in: the incremental refresh regroups some rows and must
 * equal a full rebuild bit for bit) and `from_history` (lost deals valued at their last open
 * amount), and for the deals listing's totals `listing_weighted` (Σ deal_facts.weighted_amount,
 * rounded alike) and `revalued` (deals whose effective_amount differs from their amount).
 * Periods are whole days, so `day` in [from, to) is exactly the timestamps in it.
 * Stored by role and day: a period is a range of row groups.
 */
/** Each role of deal_day_facts: its day, and which deals have one. */
const DAY_ROLES = [
  ['closed', 'closed_at::DATE', 'closed_at IS NOT NULL'],
  ['created', 'created_at::DATE', 'created_at IS NOT NULL'],
  ['expected', 'expected_close_date::DATE', "status = 'open' AND expected_close_date IS NOT NULL"],
  ['any', 'NULL::DATE', 'TRUE']
] as const;

export const DEAL_DAY_FACTS_SQL = `CREATE OR REPLACE TABLE deal_day_facts AS ${dealDayFactsSelect(() => 'main.deal_facts')} ORDER BY role, day, owner_id, status`;

/** deal_day_facts' rows over `deals(role)` (deal_facts, or per role the deals of some keys). */
function dealDayFactsSelect(deals: (role: string) => string): string {
  const measures = `count(*)::BIGINT AS n, sum(amount)::DECIMAL(38,2) AS amount,
      sum(coalesce(effective_amount, 0))::DECIMAL(38,2) AS effective_amount,
      sum((amount * win_probability)::DECIMAL(38,6))::DECIMAL(38,6) AS weighted,
      count(*) FILTER (WHERE status = 'lost' AND coalesce(amount, 0) = 0 AND coalesce(last_open_amount, 0) <> 0)::BIGINT AS from_history,
      sum(weighted_amount::DECIMAL(38,6))::DECIMAL(38,6) AS listing_weighted,
      count(*) FILTER (WHERE effective_amount IS DISTINCT FROM amount)::BIGINT AS revalued`;
  return DAY_ROLES.map(
    ([role, day, has]) => `SELECT '${role}' AS role, ${day} AS day, owner_id, owner_team, status, ${measures}
    FROM ${deals(role)} WHERE ${has} GROUP BY ALL`
  ).join('\n    UNION ALL\n    ');
}

/** The (role, day, owner) keys of deal_day_facts the deals in `only` feed (owner null as chr(0)). */
function dealDayKeys(only: DealSet): string {
  return DAY_ROLES.map(([role, day, has]) => `SELECT '${role}' AS role, ${day} AS day, coalesce(owner_id, chr(0)) AS o
    FROM main.deal_facts WHERE ${has} AND opportunity_id IN (SELECT opportunity_id FROM ${only})`).join('\n    UNION ALL\n    ');
}

/**
 * `payment_day_facts`: one row per paid day and owner (payment_facts.owner_id: the deal's, else
 * the customer's; with `owner_team`) of the payments received: `n` and `collected` (Σ
 * paid_amount, amount when none). Stored by day.
 */
export const PAYMENT_DAY_FACTS_SQL = `CREATE OR REPLACE TABLE payment_day_facts AS ${paymentDayFactsSelect('main.payment_facts')} ORDER BY day, owner_id`;

function paymentDayFactsSelect(payments: string): string {
  return `SELECT paid_at::DATE AS day, owner_id, owner_team, count(*)::BIGINT AS n, sum(coalesce(paid_amount, amount))::DECIMAL(38,2) AS collected
    FROM ${payments} WHERE paid_at IS NOT NULL GROUP BY ALL`;
}

/** The (day, owner) keys of payment_day_facts the payments `inP` names feed (owner null as chr(0)). */
function paymentDayKeys(inP: string): string {
  return `SELECT paid_at::DATE AS day, coalesce(owner_id, chr(0)) AS o FROM main.payment_facts WHERE paid_at IS NOT NULL AND payment_id ${inP}`;
}

/**
 * `activity_day_facts`: one row per day and author (`owner_id`, with the author's team
 * `owner_team`) of the follow-ups done (`occurred_at` set): `n`. The leaderboard's follow-ups per
 * person (by the people the viewer may see: the scope layer serves a restricted viewer the rows
 * of its own users, as the first branch of its `activities`) and the team and owner filters,
 * which are the author's. Stored by day.
 */
export const ACTIVITY_DAY_FACTS_SQL = `CREATE OR REPLACE TABLE activity_day_facts AS ${activityDayFactsSelect()} ORDER BY day, owner_id`;

/** activity_day_facts' rows, of every author or of the authors in `owners` (a relation of owner_id; null matched as null). */
function activityDayFactsSelect(owners?: string): string {
  return `SELECT a.occurred_at::DATE AS day, a.owner_id, u.team_id AS owner_team, count(*)::BIGINT AS n
    FROM main.activities a LEFT JOIN main.users u ON u.user_id = a.owner_id
    WHERE a.occurred_at IS NOT NULL ${owners ? `AND coalesce(a.owner_id, chr(0)) IN (SELECT coalesce(owner_id, chr(0)) FROM ${owners})` : ''}
    GROUP BY ALL`;
}

export const CUSTOMER_OWNER_FACTS_SQL = `CREATE OR REPLACE TABLE customer_owner_facts AS ${customerOwnerFactsSelect('main.deal_facts', 'main.payment_facts')} ORDER BY owner_id, customer_id`;
export const CUSTOMER_FACTS_SQL = `CREATE OR REPLACE TABLE customer_facts AS ${customerFactsFromOwners('main.customer_owner_facts')} ORDER BY customer_id`;

/**
 * `stage_facts`: one row per stint — a stage change (a version whose stage differs from the
 * deal's previous version, or its first version) and the time until the next one — so the
 * flow funnel and time in stage filter one table by date instead of windowing
 * `opportunity_versions` on every request. Columns: `opportunity_id`, `owner_id` (the deal's,
 * for scoping, as `deal_facts`), `stage`, `stage_idx`, `stage_kind`, `entered_at`,
 * `entered_amount` (the version's amount), `left_at` (the next stage change; null while in
 * the stage), `next_stage`, `next_idx`, `next_kind`, `us` (left_at − entered_at in
 * microseconds, BIGINT, as deal_facts' `us_to_next_*`),
 * `stint_no` (1 for the deal's first stint in this stage, 2 when it re-entered it …),
 * `cumulative_us` (microseconds in this stage over this and the earlier stints),
 * `next_same_left_at` (when the deal next left this same stage, if it re-entered it),
 * `previous_entered_at` (the deal's previous stage change, to count deals without DISTINCT),
 * and the previous stint's exit, which happened at this row's `entered_at`: `previous_stage`,
 * `previous_idx`, `previous_kind`, `previous_us`, `previous_cumulative_us`,
 * `previous_stint_no`, `previous_next_same_left_at`. Stored in `entered_at` order, so entries
 * and exits in a period are both one date filter that skips most row groups.
 */
export function buildStageFactsSql(stages: StageInfo[], only?: DealSet): Sql {
  // The windows partition by the deal's row id in opportunities (a BIGINT, unique within the
  // statement) rather than by its VARCHAR id: partitioning and sorting 3.5M versions on strings
  // four times was most of a 1M demo's 12 s here. The join to opportunities (the deal's owner,
  // and only deals that exist) comes first to supply it.
  return sql`${only ? unsafeRaw('INSERT INTO stage_facts') : unsafeRaw('CREATE OR REPLACE TABLE stage_facts AS')}
    WITH st AS ${stagesValues(stages)},
    v AS (
      SELECT o.rowid AS k, o.owner_id, ov.opportunity_id, ov.stage, ov.valid_from, ov.amount,
             lag(ov.stage) OVER (PARTITION BY o.rowid ORDER BY ov.valid_from) AS previous_stage
      FROM main.opportunity_versions ov
      JOIN main.opportunities o ON o.opportunity_id = ov.opportunity_id
      ${inDeals(only, 'ov.')}
    ),
    changes AS (
      SELECT k, owner_id, opportunity_id, stage, valid_from AS entered_at, amount AS entered_amount,
             lead(valid_from) OVER w AS left_at, lead(stage) OVER w AS next_stage,
             lag(valid_from) OVER w AS previous_entered_at
      FROM v WHERE previous_stage IS NULL OR previous_stage <> stage
      WINDOW w AS (PARTITION BY k ORDER BY valid_from)
    ),
    stints AS (
      SELECT c.*, ${durationUs(sql`c.entered_at`, sql`c.left_at`)} AS us
      FROM changes c
    ),
    numbered AS (
      SELECT s.*,
        (row_number() OVER same)::INTEGER AS stint_no,
        TRY_CAST(sum(s.us) OVER (same ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS cumulative_us,
        lead(s.left_at) OVER same AS next_same_left_at
      FROM stints s
      WINDOW same AS (PARTITION BY s.k, s.stage ORDER BY s.entered_at)
    ),
    carried AS (
      SELECT n.*,
        lag(n.stage) OVER d AS previous_stage, lag(n.us) OVER d AS previous_us,
        lag(n.cumulative_us) OVER d AS previous_cumulative_us, lag(n.stint_no) OVER d AS previous_stint_no,
        lag(n.next_same_left_at) OVER d AS previous_next_same_left_at
      FROM numbered n
      WINDOW d AS (PARTITION BY n.k ORDER BY n.entered_at)
    )
    SELECT s.opportunity_id, s.owner_id, s.stage, cs.idx AS stage_idx, cs.kind AS stage_kind,
      s.entered_at, s.entered_amount, s.left_at, s.next_stage, ns.idx AS next_idx, ns.kind AS next_kind, s.us,
      s.stint_no, s.cumulative_us, s.next_same_left_at, s.previous_entered_at,
      s.previous_stage, ps.idx AS previous_idx, ps.kind AS previous_kind, s.previous_us,
      s.previous_cumulative_us, s.previous_stint_no, s.previous_next_same_left_at
    FROM carried s
    LEFT JOIN st cs ON cs.name = s.stage
    LEFT JOIN st ns ON ns.name = s.next_stage
    LEFT JOIN st ps ON ps.name = s.previous_stage
    ORDER BY s.entered_at`;
}

export function factsSignature(stages: StageInfo[]): string {
  const h = createHash('sha256');
  h.update(String(FACTS_VERSION));
  h.update(JSON.stringify(stages.map((s) => [s.name, s.index, s.kind, s.probability, s.forecast_category])));
  return h.digest('hex').slice(0, 16);
}

/**
 * A set of deals whose derived rows an incremental refresh rebuilds: the name of a temp table
 * with an `opportunity_id` column (a constant chosen by the caller, never input).
 */
export type DealSet = 'temp.facts_deals';

/** `WHERE opportunity_id IN (the set)`, or nothing for a full rebuild. */
function inDeals(only: DealSet | undefined, alias = ''): Sql {
  return unsafeRaw(only ? `WHERE ${alias}opportunity_id IN (SELECT opportunity_id FROM ${only})` : '');
}

function stagesValues(stages: StageInfo[]): Sql {
  return sql`(SELECT * FROM (VALUES ${join(
    stages.map((s) => sql`(${s.name}, ${s.index}::INTEGER, ${s.kind}, ${s.probability}::DOUBLE, ${s.forecast_category})`)
  )}) t(name, idx, kind, probability, forecast_category))`;
}

/**
 * The statement that (re)builds `deal_facts` from the raw tables; first entries are written
 * out as one `min(valid_from) FILTER (idx = k)` per stage.
 */
export function buildFactsSql(stages: StageInfo[], only?: DealSet): Sql {
  const maxIdx = Math.max(...stages.map((s) => s.index));
  const firstEntries = join(
    Array.from({ length: maxIdx }, (_, i) => sql`min(v.valid_from) FILTER (WHERE st.idx = ${i + 1}::INTEGER)`),
    ', '
  );
  // Microseconds from first entering stage k to first entering any later stage (the funnel's
  // median days to next), per stage as a plain column: medians over a list element cost much more.
  const daysToNext = join(
    Array.from({ length: maxIdx }, (_, i) => {
      const k = i + 1;
      const later = Array.from({ length: maxIdx - k }, (_, x) => k + x + 1).map(
        (j) => sql`CASE WHEN h.entered[${j}::INTEGER] >= h.entered[${k}::INTEGER] THEN h.entered[${j}::INTEGER] END`
      );
      const next = later.length ? sql`least(${join(later)})` : sql`NULL::TIMESTAMP`;
      return sql`${durationUs(sql`h.entered[${k}::INTEGER]`, next)} AS ${unsafeRaw(`us_to_next_${k}`)}`;
    }),
    ', '
  );
  return sql`${only ? unsafeRaw('INSERT INTO deal_facts') : unsafeRaw('CREATE OR REPLACE TABLE deal_facts AS')}
    WITH st AS ${stagesValues(stages)},
    -- One pass over the versions for the stage history and the settled state (models/common/pit.ts,
    -- dealStatesAt: the last version, the last known amount, close date and owner, and from when on
    -- nothing in the history can change them). A version in a stage the configuration does not
    -- know counts for the settled state only (st is null: every stage FILTER leaves it out).
    h AS (
      SELECT v.opportunity_id,
        max(st.idx) FILTER (WHERE st.kind <> 'lost') AS furthest_hist,
        [${firstEntries}] AS entered,
        arg_max(v.amount, v.valid_from) FILTER (WHERE st.kind = 'open') AS last_open_amount,
        arg_max({'valid_from': v.valid_from, 'valid_to': v.valid_to, 'stage': v.stage, 'amount': v.amount,
                 'expected_close_date': v.expected_close_date, 'owner_id': v.owner_id,
                 'forecast_category': v.forecast_category, 'probability': v.probability, 'origin': v.origin}, v.valid_from) AS last,
        count(*) FILTER (WHERE v.valid_to IS NULL) AS n_open, max(v.valid_from) AS max_from, max(v.valid_to) AS max_to,
        arg_max(v.amount, v.valid_from) AS known_amount, arg_max(v.expected_close_date, v.valid_from) AS known_ecd,
        arg_max(v.owner_id, v.valid_from) AS known_owner
      FROM main.opportunity_versions v LEFT JOIN st ON st.name = v.stage
      ${inDeals(only, 'v.')}
      GROUP BY v.opportunity_id
    ),
    -- Stage changes, and the risk flags' history figures (models/common/risk.ts): close-date
    -- pushes (a close date later than the last known one before it) and the peak amount.
    changes AS (
      SELECT opportunity_id,
        max(valid_from) FILTER (WHERE previous_stage IS NULL OR previous_stage <> stage) AS last_stage_change_at,
        count(*) FILTER (WHERE expected_close_date > previous_close)::INTEGER AS close_pushes,
        max(amount) AS peak_amount
      FROM (
        SELECT opportunity_id, stage, valid_from, amount, expected_close_date,
               lag(stage) OVER w AS previous_stage,
               lag(expected_close_date IGNORE NULLS) OVER w AS previous_close
        FROM main.opportunity_versions ${inDeals(only)}
        WINDOW w AS (PARTITION BY opportunity_id ORDER BY valid_from)
      )
      GROUP BY opportunity_id
    ),
    acts AS (
      SELECT opportunity_id, max(occurred_at) AS last_activity_at,
        list(occurred_at ORDER BY occurred_at) FILTER (WHERE occurred_at IS NOT NULL) AS activity_times
      FROM main.activities WHERE opportunity_id IS NOT NULL ${only ? unsafeRaw(`AND opportunity_id IN (SELECT opportunity_id FROM ${only})`) : unsafeRaw('')}
      GROUP BY opportunity_id
    ),
    cacts AS (
      SELECT customer_id, owner_id, max(occurred_at) AS customer_activity_at
      FROM main.activities WHERE opportunity_id IS NULL AND customer_id IS NOT NULL AND owner_id IS NOT NULL
      ${only ? unsafeRaw(`AND customer_id IN (SELECT customer_id FROM main.opportunities WHERE opportunity_id IN (SELECT opportunity_id FROM ${only}))`) : unsafeRaw('')}
      GROUP BY customer_id, owner_id
    ),
    sfl AS (SELECT opportunity_id, max(entered_at) AS entered_at FROM main.stage_facts WHERE left_at IS NULL
            ${only ? unsafeRaw(`AND opportunity_id IN (SELECT opportunity_id FROM ${only})`) : unsafeRaw('')} GROUP BY opportunity_id)
    SELECT o.*,
      u.team_id AS owner_team,
      c.region AS customer_region, c.industry AS customer_industry, c.grade AS customer_grade, c.source AS customer_source,
      cs.idx AS stage_idx, cs.kind AS stage_kind,
      coalesce(o.probability, cs.probability) AS win_probability,
      (CASE WHEN o.status = 'won' THEN o.amount WHEN o.status = 'lost' THEN 0 ELSE o.amount * coalesce(o.probability, cs.probability) END)::DOUBLE AS weighted_amount,
      coalesce(o.forecast_category, cs.forecast_category) AS effective_forecast_category,
      greatest(coalesce(h.furthest_hist, 0), CASE WHEN cs.kind IN ('open', 'won') THEN cs.idx ELSE 0 END)::INTEGER AS furthest_idx,
      coalesce(h.entered, [${join(Array.from({ length: maxIdx }, () => sql`NULL::TIMESTAMP`), ', ')}]) AS entered,
      ${daysToNext},
      h.last_open_amount,
      CASE WHEN o.status = 'lost' AND coalesce(o.amount, 0) = 0 THEN coalesce(h.last_open_amount, o.amount) ELSE o.amount END AS effective_amount,
      coalesce(ch.last_stage_change_at, o.created_at) AS last_stage_change_at,
      a.last_activity_at,
      a.activity_times,
      ca.customer_activity_at,
      c.name AS customer_name,
      CASE WHEN h.n_open > 1 OR (h.n_open = 1 AND h.last.valid_to IS NOT NULL) THEN NULL
           ELSE greatest(h.max_from, coalesce(h.max_to, h.max_from)) END AS pit_settled_at,
      coalesce(pit_settled_at, 'infinity'::TIMESTAMP) AS pit_settled_key,
      h.last.valid_from AS pit_valid_from, h.last.valid_to AS pit_valid_to, h.last.stage AS pit_stage,
      h.last.amount AS pit_amount, h.last.expected_close_date AS pit_expected_close_date, h.last.owner_id AS pit_owner_id,
      h.last.forecast_category AS pit_forecast_category, h.last.probability AS pit_probability, h.last.origin AS pit_origin,
      h.known_amount AS pit_known_amount, h.known_ecd AS pit_known_expected_close_date, h.known_owner AS pit_known_owner_id,
      sfl.entered_at AS pit_stage_entered_at,
      CASE ls.kind WHEN 'open' THEN 'infinity'::TIMESTAMP WHEN 'won' THEN greatest(o.closed_at, h.last.valid_from)
           ELSE '-infinity'::TIMESTAMP END AS pit_forecast_until,
      CASE WHEN ls.kind = 'open' THEN 'infinity'::TIMESTAMP ELSE pit_settled_key END AS pit_live_until,
      h.max_from AS versions_last_from, ch.close_pushes AS risk_pushes, ch.peak_amount AS risk_peak_amount
    -- Restricted (an incremental refresh): the deals first, so the joins below carry thousands of
    -- rows, not every deal up to a semi join at the end (DuckDB planned it last: 474 → 212 ms for 10,000 of 1M deals).
    FROM ${only ? unsafeRaw(`(SELECT o0.* FROM main.opportunities o0 SEMI JOIN ${only} d ON d.opportunity_id = o0.opportunity_id)`) : unsafeRaw('main.opportunities')} o
    LEFT JOIN main.users u ON u.user_id = o.owner_id
    LEFT JOIN main.customers c ON c.customer_id = o.customer_id
    LEFT JOIN st cs ON cs.name = o.stage
    LEFT JOIN h ON h.opportunity_id = o.opportunity_id
    LEFT JOIN changes ch ON ch.opportunity_id = o.opportunity_id
    LEFT JOIN acts a ON a.opportunity_id = o.opportunity_id
    LEFT JOIN cacts ca ON ca.customer_id = o.customer_id AND ca.owner_id = o.owner_id
    LEFT JOIN sfl ON sfl.opportunity_id = o.opportunity_id
    LEFT JOIN st ls ON ls.name = h.last.stage
    ${inDeals(only, 'o.')}
    ORDER BY o.closed_at NULLS LAST, o.created_at`;
}

/**
 * `cross_activities`: every follow-up on a deal by someone other than the deal's owner (or by
 * no one), with `deal_owner_id`; `cross_customers`: every (customer_id, deal_owner_id) of a deal
 * whose owner is not its customer's owner. A restricted scope shows a follow-up by someone it
 * does not see when it is on a deal it sees, and a customer it does not own when it sees one of
 * its deals (models/common/scope.ts): those are exactly rows of these tables whose deal owner
 * it sees, so the scope reads these (usually few) rows instead of working out every visible
 * deal and probing every follow-up and customer with them (a region's deals listing at 10M
 * deals: 3.8 s).
 */
function crossActivitiesSelect(only?: DealSet): string {
  return `SELECT a.*, f.owner_id AS deal_owner_id
  FROM main.activities a JOIN main.deal_facts f ON f.opportunity_id = a.opportunity_id
  WHERE a.owner_id IS DISTINCT FROM f.owner_id ${only ? `AND a.opportunity_id IN (SELECT opportunity_id FROM ${only})` : ''}`;
}
function crossCustomersSelect(customers?: string): string {
  return `SELECT DISTINCT f.customer_id, f.owner_id AS deal_owner_id
  FROM main.deal_facts f JOIN main.customers c ON c.customer_id = f.customer_id
  WHERE f.owner_id IS DISTINCT FROM c.owner_id ${customers ? `AND f.customer_id IN (SELECT customer_id FROM ${customers})` : ''}`;
}
export const CROSS_ACTIVITIES_SQL = `CREATE OR REPLACE TABLE cross_activities AS ${crossActivitiesSelect()}`;
export const CROSS_CUSTOMERS_SQL = `CREATE OR REPLACE TABLE cross_customers AS ${crossCustomersSelect()}`;

/**
 * Rebuilds every derived table (FACT_TABLES) inside an existing write transaction and records
 * what they were built for.
 * The reference for the incremental refresh below.
 */
export async function refreshFacts(tx: WriteTx, stages: StageInfo[]): Promise<void> {
  // stage_facts first: deal_facts' pit_stage_entered_at reads it.
  await tx.run(buildStageFactsSql(stages));
  await tx.run(buildFactsSql(stages));
  await tx.run(PAYMENT_FACTS_SQL);
  await tx.run(CUSTOMER_OWNER_FACTS_SQL);
  await tx.run(CUSTOMER_FACTS_SQL);
  await tx.run(OPTION_FACTS_SQL);
  // after deal_facts: it stores each version beside its deal's settled instant
  await tx.run(VERSION_FACTS_SQL);
  await tx.run(CROSS_ACTIVITIES_SQL);
  await tx.run(CROSS_CUSTOMERS_SQL);
  await tx.run(DEAL_DAY_FACTS_SQL);
  await tx.run(PAYMENT_DAY_FACTS_SQL);
  await tx.run(ACTIVITY_DAY_FACTS_SQL);
  // after deal_facts and version_facts, which it reads
  await buildPitBoundaryFacts(tx);
  await recordFacts(tx, stages, null);
}

/** The facts horizon's statement (`factsHorizon`; `pitBoundaries` is derived from it; the bench's explain-model reads it too). */
export const HORIZON_SQL = `SELECT strftime(max(greatest(versions_last_from, last_stage_change_at, last_activity_at, customer_activity_at)), '%Y-%m-%d %H:%M:%S.%f') AS h FROM main.deal_facts`;

/**
 * `pit_boundary_facts` (warehouse/pit-states.ts) for the boundaries of the current facts
 * horizon: rebuilt whole when `only` is absent or the boundaries moved (the horizon entered
 * another month), else the rows of the deals in `only` (a table of opportunity ids) replaced.
 * The boundaries are kept in `meta` ('facts.pit_boundaries').
 */
async function buildPitBoundaryFacts(tx: WriteTx, only?: string): Promise<void> {
  const { rows } = await tx.query<{ h: string | null; b: string | null }>(
    `SELECT (${HORIZON_SQL}) AS h, (SELECT value FROM meta WHERE key = 'facts.pit_boundaries') AS b`
  );
  const boundaries = pitBoundaries(rows[0]?.h ?? null);
  const key = boundaries.join(',');
  const exists = (await tx.query<{ n: number }>(
    `SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'pit_boundary_facts'`
  )).rows[0].n > 0;
  if (only && exists && rows[0]?.b === key) {
    await tx.run(`DELETE FROM main.pit_boundary_facts WHERE opportunity_id IN (SELECT opportunity_id FROM ${only})`);
    const part = pitBoundaryFactsSelect(boundaries, only);
    if (part) await tx.run(sql`INSERT INTO main.pit_boundary_facts ${part}`);
  } else {
    // No boundary (no deal with a history yet): the table with its columns and no rows.
    const all = pitBoundaryFactsSelect(boundaries) ?? sql`SELECT * FROM (${pitBoundaryFactsSelect(['2000-01-01'])}) WHERE FALSE`;
    // In boundary order: a model reads one boundary's rows (`boundary_at = b`), a range of row groups.
    await tx.run(sql`CREATE OR REPLACE TABLE main.pit_boundary_facts AS SELECT * FROM (${all}) ORDER BY boundary_at`);
  }
  await tx.run(sql`INSERT OR REPLACE INTO meta VALUES ('facts.pit_boundaries', ${key})`);
}

async function recordFacts(tx: WriteTx, stages: StageInfo[], incrementalDeals: number | null) {
  await tx.run(sql`INSERT OR REPLACE INTO meta VALUES ('facts.signature', ${factsSignature(stages)})`);
  await tx.run(
    `INSERT OR REPLACE INTO meta VALUES ('facts.data_version', coalesce((SELECT value FROM meta WHERE key = 'data_version'), '0'))`
  );
  // Deals rebuilt incrementally since the last full rebuild (their rows sit out of date order).
  if (incrementalDeals === null) await tx.run(`INSERT OR REPLACE INTO meta VALUES ('facts.incremental_deals', '0')`);
  else
    await tx.run(sql`INSERT OR REPLACE INTO meta VALUES ('facts.incremental_deals',
      (coalesce((SELECT value FROM meta WHERE key = 'facts.incremental_deals')::BIGINT, 0) + ${incrementalDeals}::BIGINT)::VARCHAR)`);
}

/** The derived tables' bookkeeping: whether all are there for these stages, the data version they were built for, and the current one. */
async function factsState(tx: WriteTx, stages: StageInfo[]): Promise<{ complete: boolean; built: number | null; data: number | null; incrementalDeals: number }> {
  const { rows } = await tx.query<{ sig: string | null; built: string | null; data: string | null; inc: string | null; present: number }>(
    `SELECT (SELECT value FROM meta WHERE key = 'facts.signature') AS sig,
            (SELECT value FROM meta WHERE key = 'facts.data_version') AS built,
            (SELECT value FROM meta WHERE key = 'data_version') AS data,
            (SELECT value FROM meta WHERE key = 'facts.incremental_deals') AS inc,
            (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name IN (${FACT_TABLES.map((t) => `'${t}'`).join(', ')}))::INTEGER AS present`
  );
  const r = rows[0];
  return {
    complete: r.present === FACT_TABLES.length && r.sig === factsSignature(stages),
    built: r.built === null ? null : Number(r.built),
    data: r.data === null ? null : Number(r.data),
    incrementalDeals: Number(r.inc ?? 0)
  };
}

/**
 * Whether the derived tables were fresh when this write transaction began (it bumped
 * `data_version` by one first thing), for these stages: only then can an incremental refresh
 * start from them. Also how many deals were refreshed incrementally since the last full rebuild.
 */
export async function factsFreshAtStart(tx: WriteTx, stages: StageInfo[]): Promise<{ fresh: boolean; incrementalDeals: number }> {
  const r = await factsState(tx, stages);
  const fresh = r.complete && r.built !== null && r.data !== null && r.built === r.data - 1;
  return { fresh, incrementalDeals: r.incrementalDeals };
}

/** Whether the derived tables are fresh for the current data, inside a `derived` write transaction (one that did not bump the data version). */
export async function factsFresh(tx: WriteTx, stages: StageInfo[]): Promise<boolean> {
  const r = await factsState(tx, stages);
  return r.complete && r.built !== null && r.data !== null && r.built === r.data;
}

/**
 * Rebuilds the derived rows of some deals and payments only, inside the writer's transaction:
 * `temp.facts_deals (opportunity_id)` and `temp.facts_payments (payment_id)` name every deal
 * and payment whose inputs changed (the caller's duty: the row itself, its versions, its
 * activities, its owner's team, its customer's dimensions). Each table's rows for them are
 * deleted and inserted from the same SELECT a full rebuild runs, restricted to them:
 * stage_facts, deal_facts and version_facts per deal; payment_facts per payment (with every payment of those
 * deals); customer_owner_facts, customer_facts and cross_customers per customer any deleted or inserted deal/payment row names
 * (a customer whose row changed has every deal of it refreshed); cross_activities per deal; option_facts
 * per owner any deleted or inserted deal row names; deal_day_facts and payment_day_facts per
 * (role, day, owner) key any deleted or inserted deal or payment row names; activity_day_facts
 * per author named in `temp.facts_activity_owners` (the caller's: authors of changed follow-ups,
 * before and after, and users whose row changed; rebuilt whole when that table is absent);
 * pit_boundary_facts per deal, rebuilt whole when the facts horizon entered another month (its
 * boundaries moved). The result equals a full rebuild
 * (tests/connectors/incremental-sync.test.ts compares every table with EXCEPT ALL both ways);
 * only the physical order differs (the rebuilt rows are appended), which is why the caller
 * rebuilds fully once many deals were refreshed this way.
 */
export async function refreshFactsFor(tx: WriteTx, stages: StageInfo[]): Promise<void> {
  const D = 'temp.facts_deals';
  const inD = `IN (SELECT opportunity_id FROM ${D})`;
  await tx.run(`INSERT INTO temp.facts_payments SELECT payment_id FROM main.payments WHERE opportunity_id ${inD}`);
  const inP = `IN (SELECT payment_id FROM temp.facts_payments)`;
  // The customers and owners whose aggregates the old rows fed …
  await tx.run(`CREATE OR REPLACE TEMP TABLE facts_customers AS
    SELECT customer_id FROM main.deal_facts WHERE opportunity_id ${inD}
    UNION ALL SELECT effective_customer_id FROM main.payment_facts WHERE payment_id ${inP}`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE facts_owners AS SELECT owner_id FROM main.deal_facts WHERE opportunity_id ${inD}`);
  // The rollups' keys (role, day, owner) the old rows fed (the new ones are added below).
  await tx.run(`CREATE OR REPLACE TEMP TABLE facts_day_keys AS ${dealDayKeys(D)}`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE facts_pay_keys AS ${paymentDayKeys(inP)}`);
  await tx.run(`DELETE FROM main.stage_facts WHERE opportunity_id ${inD}`);
  await tx.run(`DELETE FROM main.deal_facts WHERE opportunity_id ${inD}`);
  await tx.run(`DELETE FROM main.payment_facts WHERE payment_id ${inP}`);
  await tx.run(buildStageFactsSql(stages, D));
  await tx.run(buildFactsSql(stages, D));
  await tx.run(`INSERT INTO main.payment_facts ${paymentFactsSelect('temp.facts_payments')}`);
  // version_facts after deal_facts (each version carries its deal's settled instant and owner);
  // appended rows sit after the ordered ones: the range condition stays exact, only fewer row
  // groups are skipped until the next full rebuild.
  await tx.run(`DELETE FROM main.version_facts WHERE opportunity_id ${inD}`);
  await tx.run(`INSERT INTO main.version_facts ${versionFactsSelect(D)}`);
  // … and the new rows feed.
  await tx.run(`INSERT INTO temp.facts_customers
    SELECT customer_id FROM main.deal_facts WHERE opportunity_id ${inD}
    UNION ALL SELECT effective_customer_id FROM main.payment_facts WHERE payment_id ${inP}`);
  await tx.run(`INSERT INTO temp.facts_owners SELECT owner_id FROM main.deal_facts WHERE opportunity_id ${inD}`);
  const inC = `IN (SELECT customer_id FROM temp.facts_customers)`;
  await tx.run(`DELETE FROM main.customer_owner_facts WHERE customer_id ${inC}`);
  await tx.run(`INSERT INTO main.customer_owner_facts ${customerOwnerFactsSelect(
    `(SELECT * FROM main.deal_facts WHERE customer_id ${inC})`,
    `(SELECT * FROM main.payment_facts WHERE effective_customer_id ${inC})`
  )} ORDER BY owner_id, customer_id`);
  await tx.run(`DELETE FROM main.cross_activities WHERE opportunity_id ${inD}`);
  await tx.run(`INSERT INTO main.cross_activities ${crossActivitiesSelect(D)}`);
  await tx.run(`DELETE FROM main.cross_customers WHERE customer_id ${inC}`);
  await tx.run(`INSERT INTO main.cross_customers ${crossCustomersSelect('temp.facts_customers')}`);
  await tx.run(`DELETE FROM main.customer_facts WHERE customer_id ${inC}`);
  await tx.run(`INSERT INTO main.customer_facts ${customerFactsFromOwners(`(SELECT * FROM main.customer_owner_facts WHERE customer_id ${inC})`)} ORDER BY customer_id`);
  // Deals without an owner have their own option rows (owner_id null): matched null-safely.
  const inO = `IN (SELECT DISTINCT coalesce(owner_id, chr(0)) FROM temp.facts_owners)`;
  await tx.run(`DELETE FROM main.option_facts WHERE coalesce(owner_id, chr(0)) ${inO}`);
  await tx.run(`INSERT INTO main.option_facts ${optionFactsSelect(`(SELECT * FROM main.deal_facts WHERE coalesce(owner_id, chr(0)) ${inO})`)}`);
  // The rollups: every (role, day, owner) group an old or a new row feeds, regrouped from the
  // deal_facts and payment_facts rows of that group (one semi join of each role's day and owner).
  await tx.run(`INSERT INTO temp.facts_day_keys ${dealDayKeys(D)}`);
  await tx.run(`INSERT INTO temp.facts_pay_keys ${paymentDayKeys(inP)}`);
  await tx.run(`DELETE FROM main.deal_day_facts t
    WHERE EXISTS (SELECT 1 FROM temp.facts_day_keys k WHERE k.role = t.role AND k.day IS NOT DISTINCT FROM t.day AND k.o = coalesce(t.owner_id, chr(0)))`);
  await tx.run(`INSERT INTO main.deal_day_facts ${dealDayFactsSelect((role) => {
    const day = DAY_ROLES.find(([r]) => r === role)![1];
    // role 'any' has no day: its groups are per owner (and status)
    const onDay = role === 'any' ? '' : `AND k.day = f.${day}`;
    return `(SELECT * FROM main.deal_facts f
      WHERE EXISTS (SELECT 1 FROM temp.facts_day_keys k WHERE k.role = '${role}' ${onDay} AND k.o = coalesce(f.owner_id, chr(0))))`;
  })}`);
  await tx.run(`DELETE FROM main.payment_day_facts t
    WHERE EXISTS (SELECT 1 FROM temp.facts_pay_keys k WHERE k.day = t.day AND k.o = coalesce(t.owner_id, chr(0)))`);
  await tx.run(`INSERT INTO main.payment_day_facts ${paymentDayFactsSelect(`(SELECT * FROM main.payment_facts f
      WHERE EXISTS (SELECT 1 FROM temp.facts_pay_keys k WHERE k.day = f.paid_at::DATE AND k.o = coalesce(f.owner_id, chr(0))))`)}`);
  // Follow-ups by author: every row of the authors `temp.facts_activity_owners` names (those of
  // changed follow-ups, before and after, and users whose row changed); without that table, all.
  const { rows: named } = await tx.query<{ n: number }>(
    `SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE temporary AND table_name = 'facts_activity_owners'`
  );
  if (named[0].n > 0) {
    await tx.run(`DELETE FROM main.activity_day_facts
      WHERE coalesce(owner_id, chr(0)) IN (SELECT coalesce(owner_id, chr(0)) FROM temp.facts_activity_owners)`);
    await tx.run(`INSERT INTO main.activity_day_facts ${activityDayFactsSelect('temp.facts_activity_owners')}`);
  } else await tx.run(ACTIVITY_DAY_FACTS_SQL);
  // after deal_facts and version_facts (the horizon, and the versions it reads)
  await buildPitBoundaryFacts(tx, D);
  const { rows } = await tx.query<{ n: number }>(`SELECT count(DISTINCT opportunity_id)::INTEGER AS n FROM ${D}`);
  for (const t of ['facts_customers', 'facts_owners', 'facts_day_keys', 'facts_pay_keys']) await tx.run(`DROP TABLE temp.${t}`);
  await recordFacts(tx, stages, rows[0].n);
}

/**
 * Per database instance: the write generation and stage signature the facts were last found
 * fresh for. The file cannot change under an open instance except through its own writes
 * (DuckDB lets one process write a file; `Database.writeGeneration` counts this one's), so
 * while neither moved the check is skipped: it cost a few milliseconds on every model request.
 */
const freshFor = new WeakMap<Database, { generation: number; sig: string }>();

/**
 * Makes sure `deal_facts` matches the current data and stages, rebuilding it when not. When
 * fresh this costs one small query on `meta`, and nothing when this process already found it
 * fresh since its last write. Readers keep reading the old facts while a rebuild runs (MVCC);
 * the rebuild re-checks inside the write lock, so concurrent callers rebuild once.
 */
export async function ensureFacts(db: Database, stages: StageInfo[]): Promise<void> {
  const sig = factsSignature(stages);
  // One check at a time per database: the calls of a page arriving together after a write used
  // to check (and, facts stale, queue a rebuild) each, every one a write of its own after the
  // first, so each moved the write generation and the relations they share
  // (src/lib/server/models/shared.ts) were built once per call instead of once.
  for (;;) {
    const known = freshFor.get(db);
    if (known && known.sig === sig && known.generation === db.writeGeneration) return;
    const running = checking.get(db);
    if (!running) break;
    await running.catch(() => undefined);
  }
  const run = checkFacts(db, stages, sig);
  checking.set(db, run);
  try {
    await run;
  } finally {
    if (checking.get(db) === run) checking.delete(db);
  }
}

const checking = new WeakMap<Database, Promise<void>>();

async function checkFacts(db: Database, stages: StageInfo[], sig: string): Promise<void> {
  const CHECK = `SELECT (SELECT value FROM meta WHERE key = 'facts.signature') AS sig,
                        (SELECT value FROM meta WHERE key = 'facts.data_version') AS built,
                        coalesce((SELECT value FROM meta WHERE key = 'data_version'), '0') AS data,
                        (SELECT count(*) FROM information_schema.tables WHERE table_name IN (${FACT_TABLES.map((t) => `'${t}'`).join(', ')}))::INTEGER AS present`;
  type Check = { sig: string | null; built: string | null; data: string; present: number };
  const fresh = (r: Check) => r.present === FACT_TABLES.length && r.sig === sig && r.built === r.data;
  // Read before checking: a write that lands meanwhile moves the generation past this one.
  const generation = db.writeGeneration;
  if (fresh((await db.query<Check>(CHECK)).rows[0])) {
    freshFor.set(db, { generation, sig });
    return;
  }
  // This write's own commit moves the generation by one more; any other write, further.
  const committed = await db.write(
    async (tx) => {
      if (!fresh((await tx.query<Check>(CHECK)).rows[0])) await refreshFacts(tx, stages);
      return db.writeGeneration + 1;
    },
    { derived: true }
  );
  freshFor.set(db, { generation: committed, sig });
}

/**
 * The latest revenue event of any customer in the derived tables — a payment received or a deal
 * won (customer_facts' `last_paid_at`, `last_won_at`, over every owner) — in the facts horizon's
 * format. The customer figures (models/customer-list.ts) leave out their paths for revenue after
 * an instant when none can be there. A closed date is what the source recorded and may lie after
 * any version's start, so this is not the facts horizon.
 */
export const REVENUE_HORIZON_SQL = `SELECT strftime(max(greatest(last_paid_at::TIMESTAMP, last_won_at)), '%Y-%m-%d %H:%M:%S.%f') AS h FROM main.customer_facts`;

/**
 * How many customers of customer_facts (every customer with a won or open deal or a payment
 * received) are not in `customers`: 0 when the loader's stub customers cover every reference,
 * as they do unless a table was written around it. When 0, an unfiltered viewer's revenue events
 * all belong to listed customers, and the customer figures can leave out their semi joins with
 * the customers (models/customer-list.ts, models/ltv.ts).
 */
export const UNKNOWN_CUSTOMERS_SQL = `SELECT count(*)::VARCHAR AS h FROM main.customer_facts f ANTI JOIN main.customers c ON c.customer_id = f.customer_id`;

/** Per database instance and statement: the value found (or being looked up) at a write generation. */
const horizons = new WeakMap<Database, Map<string, { generation: number; horizon: Promise<string | null> }>>();

/**
 * The single value `h` of `statement`, looked up once per database and write generation: the
 * first call after a write runs it, calls meanwhile share that lookup (a board's tiles start
 * together), a failed lookup is not kept.
 */
function horizonOf(db: Database, statement: string): Promise<string | null> {
  const generation = db.writeGeneration;
  let known = horizons.get(db);
  if (!known) horizons.set(db, (known = new Map()));
  const hit = known.get(statement);
  if (hit && hit.generation === generation) return hit.horizon;
  const horizon = db.query<{ h: string | null }>(statement).then((r) => r.rows[0]?.h ?? null);
  const entry = { generation, horizon };
  known.set(statement, entry);
  horizon.catch(() => {
    if (known.get(statement) === entry) known.delete(statement);
  });
  return horizon;
}

/**
 * The latest event instant in `deal_facts` over every deal (its last version, last stage change,
 * last activity, its owner's last activity on its customer) as `YYYY-MM-DD HH:MM:SS.ffffff`, or
 * null when there is none. Any viewer's deals are a subset, so a report date ending after it has
 * no deal with a later event. Looked up once per write generation (call after ensureFacts).
 */
export function factsHorizon(db: Database): Promise<string | null> {
  return horizonOf(db, HORIZON_SQL);
}

/** REVENUE_HORIZON_SQL's instant, or null when no customer has revenue; looked up once per write generation (after ensureFacts). */
export function revenueHorizon(db: Database): Promise<string | null> {
  return horizonOf(db, REVENUE_HORIZON_SQL);
}

/**
 * How many customers have a positive total of each LTV basis in customer_facts (over every
 * owner), and whether any payment exists (the `auto` basis): the customers listing ranks by LTV
 * within customer_facts alone when its page lies among them (models/customer-list.ts).
 */
export const POSITIVE_LTV_SQL = `SELECT concat_ws(',', count(*) FILTER (WHERE paid_total > 0), count(*) FILTER (WHERE won_total > 0),
  (SELECT count(*) FROM (SELECT 1 FROM main.payments LIMIT 1))) AS h FROM main.customer_facts`;

/** POSITIVE_LTV_SQL's counts; once per write generation (after ensureFacts). */
export async function positiveLtvCustomers(db: Database): Promise<{ payments: number; won_amount: number; anyPayments: boolean }> {
  const [payments, won, any] = ((await horizonOf(db, POSITIVE_LTV_SQL)) ?? '0,0,0').split(',').map(Number);
  return { payments, won_amount: won, anyPayments: any > 0 };
}

/** Whether every customer of customer_facts is in `customers` (UNKNOWN_CUSTOMERS_SQL); once per write generation (after ensureFacts). */
export async function customersComplete(db: Database): Promise<boolean> {
  return (await horizonOf(db, UNKNOWN_CUSTOMERS_SQL)) === '0';
}
