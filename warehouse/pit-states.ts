/**
 * The point-in-time state of the deals whose history changed at or after an instant t, rebuilt
 * from their versions — the half of models/common/pit.ts `dealStatesAt` that reads
 * `version_facts` — and `pit_boundary_facts`, that half computed at sync for the instants the
 * boards start their periods on (docs/decisions.md, "The waterfall's start kept at sync").
 *
 * It lives here, below the models, because a derived table is built from it: the sync and the
 * demo build `pit_boundary_facts` with the very SELECT the models run when an instant is not
 * one of the boundaries. The SQL reads the relations by their plain names (`deal_facts`,
 * `version_facts`, `stage_facts`): in a model those are the viewer's scoped CTEs
 * (models/common/scope.ts), in a sync's transaction the stored tables.
 */
import { join, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';

/**
 * The last activity on the deal of a `deal_facts` row aliased `f` strictly before the instant
 * `t` (null: none before t), from the row alone (warehouse/facts.ts: `last_activity_at`, and
 * `activity_times`, every activity time on the deal). A deal whose activities all lie before t
 * (at the report date, nearly every one) reads its last one; only the others (a past date)
 * look through their own list. Equal to `max(occurred_at)` over the deal's activities with
 * `occurred_at < t` (models/activity-recency.test.ts); every activity on a visible deal is
 * visible (models/common/scope.ts), so the row's list is the scoped one.
 */
export function lastActivityBefore(f: Sql, t: Sql): Sql {
  return sql`CASE WHEN ${f}.last_activity_at IS NULL OR ${f}.last_activity_at < ${t} THEN ${f}.last_activity_at
    ELSE list_max(list_filter(${f}.activity_times, a -> a < ${t})) END`;
}

/** The `deal_facts` columns (aliased `f`) both halves of `dealStatesAt` carry, under their names there. */
export function stateDealColumns(t: Sql, activity: boolean): Sql {
  return sql`f.opportunity_id, f.name, f.customer_id, f.product, f.source, f.competitor,
      f.customer_region, f.customer_industry, f.customer_grade, f.owner_id AS f_owner, f.owner_team AS f_owner_team,
      f.amount AS f_amount, f.expected_close_date AS f_ecd, f.status AS f_status, f.closed_at AS f_closed_at
      ${activity ? sql`, ${lastActivityBefore(sql`f`, t)} AS f_activity_at` : sql``}`;
}

/**
 * The deals not settled before `t` (`deal_facts.pit_settled_key >= t`), each in its version
 * valid at t: the `stateDealColumns` and the version's values as v_from, v_stage, v_amount,
 * v_ecd, v_owner, v_category, v_probability, v_origin, with `carry` k_amount, k_ecd, k_owner
 * (the last ones known before t), with `stageEntered` v_entered; `among` narrows the deals
 * (a condition on `f`), `extra` appends columns of `f`. Read from `version_facts` (the
 * versions stored in the order of their deal's settled instant, so `settled_key >= t` reads
 * only the row groups of the deals changed at or after t).
 */
export function rebuiltStates(t: Sql, opts: { carry: boolean; stageEntered?: boolean; activity?: boolean; among: Sql; extra?: Sql }): Sql {
  const { carry } = opts;
  return sql`SELECT ${stateDealColumns(t, !!opts.activity)}, v.valid_from AS v_from, v.stage AS v_stage, v.amount AS v_amount,
      v.expected_close_date AS v_ecd, v.owner_id AS v_owner, v.forecast_category AS v_category,
      v.probability AS v_probability, v.origin AS v_origin
      ${carry ? sql`, k.amount AS k_amount, k.ecd AS k_ecd, k.owner_id AS k_owner` : sql``}
      ${opts.stageEntered ? sql`, sf.entered_at AS v_entered` : sql``}
      ${opts.extra ? sql`, ${opts.extra}` : sql``}
    FROM deal_facts f
    JOIN version_facts v ON v.opportunity_id = f.opportunity_id
    ${carry
      ? sql`LEFT JOIN (SELECT kv.opportunity_id, arg_max(kv.amount, kv.valid_from) AS amount,
              arg_max(kv.expected_close_date, kv.valid_from) AS ecd, arg_max(kv.owner_id, kv.valid_from) AS owner_id
            FROM version_facts kv WHERE kv.settled_key >= ${t} AND kv.valid_from < ${t}
            GROUP BY kv.opportunity_id) k ON k.opportunity_id = f.opportunity_id`
      : sql``}
    ${opts.stageEntered
      ? sql`LEFT JOIN stage_facts sf ON sf.opportunity_id = v.opportunity_id AND sf.entered_at < ${t} AND (sf.left_at IS NULL OR sf.left_at >= ${t})`
      : sql``}
    WHERE f.pit_settled_key >= ${t} AND v.settled_key >= ${t} AND v.valid_from < ${t} AND (v.valid_to IS NULL OR v.valid_to >= ${t}) AND ${opts.among}`;
}

/**
 * The boundaries `pit_boundary_facts` is kept for, from the facts horizon (the latest event
 * instant in deal_facts, `YYYY-MM-DD …`; warehouse/facts.ts `factsHorizon`): the first day of
 * the horizon's month and of each of the five months before it — so this and last month, and
 * this and last quarter whatever month the fiscal year starts in — and 1 January of the
 * horizon's year and of the year before (this year, last year). Ascending, as 'YYYY-MM-DD'.
 * None without a horizon. The boards' periods are relative to the report date, by default
 * today, and the horizon is the last sync's data: a board whose period starts elsewhere (a
 * custom range, a report date months after the last sync) rebuilds its start as before.
 * The models compute this list from the horizon too: changing it needs a FACTS_VERSION bump.
 */
export function pitBoundaries(horizon: string | null | undefined): string[] {
  // A horizon that is not a plain date of years 1901–9999 ('infinity', year 294246 or 0001 from
  // a hostile or broken source): no boundary, every start rebuilt (tests/security/hostile-data).
  const ymd = /^(\d{4})-(\d{2})-\d{2}/.exec(horizon ?? '');
  if (!ymd) return [];
  const y = Number(ymd[1]);
  const m = Number(ymd[2]);
  if (y < 1901 || m < 1 || m > 12) return [];
  const out = new Set<string>();
  for (let k = 0; k < 6; k++) {
    const d = new Date(Date.UTC(y, m - 1 - k, 1));
    out.add(d.toISOString().slice(0, 10));
  }
  out.add(`${y}-01-01`);
  out.add(`${y - 1}-01-01`);
  return [...out].sort();
}

/**
 * `pit_boundary_facts`: for each boundary b (`pitBoundaries`), the rows `rebuiltStates` gives
 * at b's first instant under the pipeline flow's rule (`carry`: the last known amount, close
 * date and owner), with `boundary_at` = b and the deal's `pit_live_until` (the flow's `among`
 * conditions read it). Only the deals not settled before b have rows — the others are read
 * from deal_facts' settled columns, which are cheap — and for those the rows are exactly what
 * the model would rebuild (models/pipeline-flow.test.ts compares the flow with and without the
 * table). `only`: a table of opportunity ids (an incremental refresh).
 */
export function pitBoundaryFactsSelect(boundaries: string[], only?: string): Sql | null {
  if (boundaries.length === 0) return null;
  const among = only ? unsafeRaw(`f.opportunity_id IN (SELECT opportunity_id FROM ${only})`) : sql`TRUE`;
  const parts = boundaries.map((b) => {
    const at = dateLiteral(b);
    return sql`SELECT ${at} AS boundary_at, r.* FROM (${rebuiltStates(at, { carry: true, among, extra: sql`f.pit_live_until` })}) r`;
  });
  return join(parts, ' UNION ALL ');
}

/**
 * A boundary as a TIMESTAMP literal (a table is created from the statement, so its values are
 * written into it): only a date made by `pitBoundaries` passes.
 */
function dateLiteral(d: string): Sql {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error(`not a boundary date: ${d}`);
  return unsafeRaw(`TIMESTAMP '${d}'`);
}
