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

/** `'YYYY-MM-DD'` as the instant at its start (midnight). */
export function instant(date: string): Sql {
  return sql`${date}::TIMESTAMP`;
}

/**
 * Every deal in view as at `t` (a TIMESTAMP expression): the `deal_facts` columns models read
 * for dimensions and filters (opportunity_id, name, customer_id, product, source, competitor,
 * customer_region, customer_industry, customer_grade) with the history's values at t: owner_id,
 * owner_team, stage, stage_kind, stage_idx, status (open / won / lost), amount (DOUBLE, null
 * when unknown then), expected_close_date, probability (the override), win_probability,
 * effective_forecast_category, closed_at, stage_entered_at (when it entered the stage it was in
 * at t: age in stage), plus the `dim_*` columns of models/common/relations.ts.
 */
export function pitDeals(t: Sql): Sql {
  return sql`(
    SELECT f.opportunity_id, f.name, f.customer_id, f.product, f.source, f.competitor,
      f.customer_region, f.customer_industry, f.customer_grade,
      coalesce(v.owner_id, f.owner_id) AS owner_id,
      CASE WHEN v.owner_id IS NULL OR v.owner_id = f.owner_id THEN f.owner_team
           ELSE (SELECT u.team_id FROM users u WHERE u.user_id = v.owner_id) END AS owner_team,
      v.stage, st.kind AS stage_kind, st.idx AS stage_idx, st.kind AS status,
      (CASE WHEN st.kind = 'open' AND v.origin = 'stage_dates' THEN NULL ELSE v.amount END)::DOUBLE AS amount,
      v.expected_close_date, v.probability,
      coalesce(v.probability, st.probability) AS win_probability,
      coalesce(v.forecast_category, st.forecast_category) AS effective_forecast_category,
      CASE WHEN st.kind <> 'open' THEN
        CASE WHEN f.status = st.kind AND f.closed_at < ${t} THEN f.closed_at ELSE v.valid_from END END AS closed_at,
      coalesce(sf.entered_at, v.valid_from) AS stage_entered_at
    FROM opportunity_versions v
    JOIN deal_facts f ON f.opportunity_id = v.opportunity_id
    JOIN stages st ON st.name = v.stage
    LEFT JOIN stage_facts sf ON sf.opportunity_id = v.opportunity_id AND sf.entered_at < ${t} AND (sf.left_at IS NULL OR sf.left_at >= ${t})
    WHERE v.valid_from < ${t} AND (v.valid_to IS NULL OR v.valid_to >= ${t})
  )`;
}

/** `pitDeals` with the `dim_*` columns of models/common/relations.ts added (aliased `r` by callers). */
export function pitDealsWithDims(t: Sql): Sql {
  return sql`(
    SELECT d.*, d.owner_team AS dim_team_leaf, d.owner_id AS dim_owner, d.customer_region AS dim_region,
      d.customer_industry AS dim_industry, d.source AS dim_source, d.product AS dim_product,
      d.customer_grade AS dim_grade, d.stage AS dim_stage, d.competitor AS dim_competitor
    FROM ${pitDeals(t)} d
  )`;
}

/**
 * The open states of every deal in view at each instant of `cuts` (a relation with a TIMESTAMP
 * column `c` and an id `cid`), for learning from past pipelines: cid, c, opportunity_id,
 * stage, stage_idx, amount (null when unknown then, as in `pitDeals`), expected_close_date,
 * product, stage_entered_at, and the deal's final status and closed_at (to be compared only
 * with windows that ended before the report date's instant).
 */
export function pitOpenStates(cuts: Sql): Sql {
  return sql`(
    SELECT k.cid, k.c, v.opportunity_id, v.stage, st.idx AS stage_idx,
      (CASE WHEN v.origin = 'stage_dates' THEN NULL ELSE v.amount END)::DOUBLE AS amount,
      v.expected_close_date, f.product, f.status AS final_status, f.closed_at AS final_closed_at, f.amount::DOUBLE AS final_amount,
      coalesce(sf.entered_at, v.valid_from) AS stage_entered_at
    FROM ${cuts} k
    JOIN opportunity_versions v ON v.valid_from < k.c AND (v.valid_to IS NULL OR v.valid_to >= k.c)
    JOIN stages st ON st.name = v.stage AND st.kind = 'open'
    JOIN deal_facts f ON f.opportunity_id = v.opportunity_id
    LEFT JOIN stage_facts sf ON sf.opportunity_id = v.opportunity_id AND sf.entered_at < k.c AND (sf.left_at IS NULL OR sf.left_at >= k.c)
  )`;
}
