/**
 * Point in time (issue 10): the deals as they were at an instant, rebuilt from the history
 * (`opportunity_versions`, docs/data-model.md), never from today's rows.
 *
 * "As at instant t" means everything that happened strictly before t: a report dated D sees
 * the state at the end of D (t = D + 1 day, midnight), a backtest made on the first day of a
 * period sees the state at its first instant (t = the period's start). So
 * - a deal whose first version starts at or after t does not exist yet;
 * - a deal is in the stage, amount, expected close date, category, probability override and
 *   owner of its version valid at t (valid_from < t ≤ valid_to, a null valid_to is open-ended):
 *   a deal closed later is open, a deal won before t is won;
 * - unknown stays unknown: a version rebuilt from a per-stage date column (origin
 *   `stage_dates`, e.g. Maven's engage_date) carries the amount the source showed at the end,
 *   not one anybody knew while the deal was open, so an open stage's amount from such a version
 *   is null (the forecast's documented amount fallback then applies, and is counted);
 * - a closed deal's close date is its recorded close date when that is before t, else the
 *   start of its closed version.
 * Dimensions that have no history (customer region, industry, grade; product, source) are the
 * current ones; the owner (and so the owner's team) is the one of the version.
 *
 * Every relation here reads the scoped CTEs (`opportunity_versions`, `deal_facts`,
 * `stage_facts`, `users`, `stages`), so a viewer's scope applies as to every model.
 */
import { sql, type Sql } from '../../src/lib/server/db/sql';
import { lastActivityBefore, rebuiltStates, stateDealColumns } from '../../warehouse/pit-states';

export { lastActivityBefore };

/** `'YYYY-MM-DD'` as the instant at its start (midnight). */
export function instant(date: string): Sql {
  return sql`${date}::TIMESTAMP`;
}

/**
 * What a version's unknown values become (the one difference between the forecast's and the
 * pipeline flow's reading of the history):
 * - `as_recorded` (the forecast, issue 10): the version's own values; an open stage's amount
 *   from a `stage_dates` version is unknown (null), a version without an owner has the deal's
 *   current owner;
 * - `carry` (the pipeline flow, models/common/pipeline.ts): a version without an amount, an
 *   expected close date or an owner takes the last one known before t (histories that track
 *   stages only), else the deal's current one; the amount is 0 when none is known at all.
 */
export type UnknownRule = 'as_recorded' | 'carry';

/**
 * Every deal's state as at `t` (a TIMESTAMP expression), the single definition the forecast
 * and the pipeline flow read: the deal's version valid at t (valid_from < t ≤ valid_to, a null
 * valid_to is open-ended; a deal with none did not exist, or no longer exists), with the
 * `deal_facts` columns models read for dimensions and filters (opportunity_id, name,
 * customer_id, product, source, competitor, customer_region, customer_industry,
 * customer_grade) and the version's values at t: owner_id, owner_team (that owner's team),
 * stage, stage_kind (open / won / lost; null for a stage no longer configured), stage_idx,
 * status (= stage_kind), amount (DECIMAL, by `unknown`), expected_close_date, probability (the
 * override), win_probability, effective_forecast_category, closed_at (a closed deal's recorded
 * close date when that is before t, else the start of its closed version), and with
 * `stageEntered` stage_entered_at (when it entered the stage it was in at t: age in stage), and
 * with `activity` last_activity_at (its last activity before t, `lastActivityBefore`).
 *
 * Two paths, one answer. A deal whose history has not changed since before t — its last
 * version starts before t and every other version ended before t (`deal_facts.pit_settled_at`
 * < t, built at sync from the same versions, warehouse/facts.ts) — is in its last version
 * at t if that version is still open at t, and in none otherwise: its state is read from the
 * `pit_*` columns of `deal_facts` (what the last version says, the last known amount, close
 * date and owner, the stage stint it is in) without touching `opportunity_versions`. Only the
 * others (changed at or after t, or with an irregular history: `pit_settled_at` null) are
 * rebuilt from the versions, read from `version_facts` (the same versions stored in the order of
 * their deal's `pit_settled_at`), so only the row groups of those deals are read. At the report
 * date nearly every deal is settled, so the forecast reads one table; a past date rebuilds just
 * the deals that moved since.
 */
export function dealStatesAt(
  t: Sql,
  opts: { unknown: UnknownRule; stageEntered?: boolean; activity?: boolean; among?: Sql; amongSettled?: Sql; boundary?: boolean }
): Sql {
  const carry = opts.unknown === 'carry';
  // `among`: a condition on deal_facts `f` narrowing the deals read (a caller's shortcut: the
  // deals it rules out must be ones whose state the caller would discard); `amongSettled` the
  // same for the settled deals only (their state is their last version: the pit_* columns).
  const among = opts.among ?? sql`TRUE`;
  const amongSettled = opts.amongSettled ?? sql`TRUE`;
  // One range condition each on pit_settled_key (pit_settled_at, 'infinity' where null), which
  // DuckDB applies in the scan of deal_facts and skips the row groups of the deals settled long
  // before t with (the rebuilt path's join probed every deal when this was an OR with IS NULL).
  const isSettled = sql`f.pit_settled_key < ${t}`;
  // Each path's version columns under one set of names: v_from, v_stage, v_amount, v_ecd,
  // v_owner, v_category, v_probability, v_origin, and (carry) k_amount, k_ecd, k_owner: the last
  // ones known before t; (stageEntered) v_entered.
  const fCols = stateDealColumns(t, !!opts.activity);
  const settled = sql`SELECT ${fCols}, f.pit_valid_from AS v_from, f.pit_stage AS v_stage, f.pit_amount AS v_amount,
      f.pit_expected_close_date AS v_ecd, f.pit_owner_id AS v_owner, f.pit_forecast_category AS v_category,
      f.pit_probability AS v_probability, f.pit_origin AS v_origin
      ${carry ? sql`, f.pit_known_amount AS k_amount, f.pit_known_expected_close_date AS k_ecd, f.pit_known_owner_id AS k_owner` : sql``}
      ${opts.stageEntered ? sql`, f.pit_stage_entered_at AS v_entered` : sql``}
    FROM deal_facts f
    WHERE ${isSettled} AND f.pit_valid_from < ${t} AND (f.pit_valid_to IS NULL OR f.pit_valid_to >= ${t}) AND ${among} AND ${amongSettled}`;
  // The others, rebuilt from their versions (warehouse/pit-states.ts `rebuiltStates`: from
  // `version_facts`, the versions stored in the order of their deal's settled instant, so only
  // the row groups of the deals changed at or after t are read). With `boundary` (the pipeline
  // flow's rule at an instant `pit_boundary_facts` is kept for: the caller's check), the same
  // rows as computed at sync.
  if (opts.boundary && (!carry || opts.stageEntered || opts.activity)) throw new Error('pit_boundary_facts holds the carry rule without stage entry or activity');
  const rebuilt = opts.boundary
    ? sql`SELECT * EXCLUDE (boundary_at, pit_live_until) FROM pit_boundary_facts f WHERE f.boundary_at = ${t} AND ${among}`
    : rebuiltStates(t, { carry, stageEntered: opts.stageEntered, activity: opts.activity, among });
  const owner = carry ? sql`coalesce(x.k_owner, x.f_owner)` : sql`coalesce(x.v_owner, x.f_owner)`;
  const amount = carry
    ? sql`coalesce(x.k_amount, x.f_amount, 0)`
    : sql`CASE WHEN st.kind = 'open' AND x.v_origin = 'stage_dates' THEN NULL ELSE x.v_amount END`;
  return sql`(
    SELECT x.opportunity_id, x.name, x.customer_id, x.product, x.source, x.competitor,
      x.customer_region, x.customer_industry, x.customer_grade,
      ${owner} AS owner_id,
      CASE WHEN ${owner} IS NULL OR ${owner} = x.f_owner THEN x.f_owner_team ELSE u.team_id END AS owner_team,
      x.v_stage AS stage, st.kind AS stage_kind, st.idx AS stage_idx, st.kind AS status,
      (${amount})::DECIMAL(18,2) AS amount,
      ${carry ? sql`coalesce(x.k_ecd, x.f_ecd)` : sql`x.v_ecd`} AS expected_close_date,
      x.v_probability AS probability,
      coalesce(x.v_probability, st.probability) AS win_probability,
      coalesce(x.v_category, st.forecast_category) AS effective_forecast_category,
      CASE WHEN st.kind <> 'open' THEN
        CASE WHEN x.f_status = st.kind AND x.f_closed_at < ${t} THEN x.f_closed_at ELSE x.v_from END END AS closed_at
      ${opts.stageEntered ? sql`, coalesce(x.v_entered, x.v_from) AS stage_entered_at` : sql``}
      ${opts.activity ? sql`, x.f_activity_at AS last_activity_at` : sql``}
    FROM (${settled} UNION ALL ${rebuilt}) x
    LEFT JOIN stages st ON st.name = x.v_stage
    LEFT JOIN users u ON u.user_id = ${owner}
  )`;
}

/**
 * Each listed deal's last stage change before `t` (a TIMESTAMP expression): the latest version
 * whose stage differs from the one before it, or its first version. `ids` is a subquery of
 * opportunity ids: the deals whose stored last change (`deal_facts.last_stage_change_at`) is
 * after the report date, which the deals listing and the stalled view recompute.
 */
export function lastStageChangeBefore(t: Sql, ids: Sql): Sql {
  return sql`SELECT opportunity_id, max(valid_from) AS at
    FROM (
      SELECT v.opportunity_id, v.stage, v.valid_from,
             lag(v.stage) OVER (PARTITION BY v.opportunity_id ORDER BY v.valid_from) AS previous_stage
      FROM opportunity_versions v
      WHERE v.valid_from < ${t} AND v.opportunity_id IN (${ids})
    )
    WHERE previous_stage IS NULL OR previous_stage <> stage
    GROUP BY opportunity_id`;
}

/**
 * Every deal in view as at `t` (a TIMESTAMP expression), in a configured stage, read as
 * recorded (`dealStatesAt` with `as_recorded`): the `deal_facts` dimension columns, owner_id,
 * owner_team, stage, stage_kind, stage_idx, status (open / won / lost), amount (DOUBLE, null
 * when unknown then), expected_close_date, probability (the override), win_probability,
 * effective_forecast_category, closed_at, stage_entered_at (null without `stageEntered`: it
 * costs a range join with stage_facts for the deals rebuilt), with `activity` last_activity_at
 * (the last activity before t), its settled deals narrowed by `amongSettled` as in `dealStatesAt`, plus the `dim_*` columns of models/common/relations.ts in
 * `pitDealsWithDims`.
 */
export function pitDeals(t: Sql, opts: { stageEntered?: boolean; activity?: boolean; amongSettled?: Sql } = {}): Sql {
  const stageEntered = opts.stageEntered ?? true;
  return sql`(
    SELECT d.* REPLACE (d.amount::DOUBLE AS amount)${stageEntered ? sql`` : sql`, NULL::TIMESTAMP AS stage_entered_at`}
    FROM ${dealStatesAt(t, { unknown: 'as_recorded', stageEntered, activity: opts.activity, amongSettled: opts.amongSettled })} d
    WHERE d.stage_kind IS NOT NULL
  )`;
}

/** `pitDeals` with the `dim_*` columns of models/common/relations.ts added (aliased `r` by callers). */
export function pitDealsWithDims(t: Sql, opts: { stageEntered?: boolean; activity?: boolean; amongSettled?: Sql } = {}): Sql {
  return sql`(
    SELECT d.*, d.owner_team AS dim_team_leaf, d.owner_id AS dim_owner, d.customer_region AS dim_region,
      d.customer_industry AS dim_industry, d.source AS dim_source, d.product AS dim_product,
      d.customer_grade AS dim_grade, d.stage AS dim_stage, d.competitor AS dim_competitor
    FROM ${pitDeals(t, opts)} d
  )`;
}

/** A null end (open-ended: still valid) as a timestamp after every instant. */
const UNTIL_NOW = sql`'infinity'::TIMESTAMP`;

/**
 * The open states of every deal in view at each instant of `cuts` (a relation with a TIMESTAMP
 * column `c` and an id `cid`), for learning from past pipelines: cid, c, opportunity_id,
 * stage, stage_idx, amount (null when unknown then, as in `pitDeals`), expected_close_date,
 * product, stage_entered_at, and the deal's final status and closed_at (to be compared only
 * with windows that ended before the report date's instant).
 *
 * Written for DuckDB's range join (docs/decisions.md): the version valid at c is
 * `valid_from < c AND coalesce(valid_to, infinity) >= c` — the same rows as `valid_to IS NULL
 * OR valid_to >= c`, but two plain inequalities, which DuckDB runs as an IEJoin instead of a
 * nested loop over every (instant, version) pair — and the versions are narrowed to open
 * stages before the join. The stint in stage_facts likewise.
 */
export function pitOpenStates(cuts: Sql): Sql {
  return sql`(
    SELECT k.cid, k.c, v.opportunity_id, v.stage, v.stage_idx,
      (CASE WHEN v.origin = 'stage_dates' THEN NULL ELSE v.amount END)::DOUBLE AS amount,
      v.expected_close_date, f.product, f.status AS final_status, f.closed_at AS final_closed_at, f.amount::DOUBLE AS final_amount,
      coalesce(sf.entered_at, v.valid_from) AS stage_entered_at
    FROM ${cuts} k
    JOIN (SELECT ov.opportunity_id, ov.stage, st.idx AS stage_idx, ov.origin, ov.amount, ov.expected_close_date,
            ov.valid_from, coalesce(ov.valid_to, ${UNTIL_NOW}) AS valid_until
          FROM opportunity_versions ov JOIN stages st ON st.name = ov.stage AND st.kind = 'open') v
      ON v.valid_from < k.c AND v.valid_until >= k.c
    JOIN deal_facts f ON f.opportunity_id = v.opportunity_id
    LEFT JOIN (SELECT s.opportunity_id, s.entered_at, coalesce(s.left_at, ${UNTIL_NOW}) AS left_until FROM stage_facts s) sf
      ON sf.opportunity_id = v.opportunity_id AND sf.entered_at < k.c AND sf.left_until >= k.c
  )`;
}
