/**
 * The forecast as of one instant (docs/metrics.md, "Weighted forecast" and "Statistical
 * forecast"): the SQL that the `forecast` view runs once (t = the report date + 1 day) and the
 * accuracy backtest once per period (t = the moment the forecast is made). Everything here is
 * computed from the deals as they were at t (models/common/pit.ts) and from outcomes that were
 * known before t, so a forecast as of a past date equals the forecast computed on a copy of
 * the data cut off at that date.
 *
 * One moment's CTEs (names prefixed, so a backtest can hold many) end in `<prefix>out`, one row
 * per group with: closed_won, closed_won_n; over open deals expected in the period (configured
 * and learned methods, categories): open_pipeline, open_n, w_configured, w_learned,
 * commit_open, best_case_open, pipeline_open, omitted; the statistical method: stat_pipeline
 * (Σ amount × P(won inside the rest of the period)), stat_var (Σ amount² p (1 − p)),
 * stat_open_n, new_flow, new_flow_sd; data quality: amount_fallback_n, amount_missing_n,
 * undated_n, past_due_n; and the moment's learning figures (the same on every row): sigma,
 * cuts_n, states_n, learn_from, learn_to, season_factor.
 */
import type { ModelContext } from './model';
import type { Dimension } from './common/params';
import { dealsRelation, dimensionKey, filterWhere } from './common/relations';
import { pitDealsWithDims, pitOpenStates } from './common/pit';
import { daysBetween } from './common/period';
import { amountEstimate, amountFallbackCtes, amountRule, dataQualityCounts, lookbackDays as learningLookbackDays } from '../warehouse/data-quality';
import { sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';
import { horizonReaches } from '../warehouse/horizon';

export interface EngineParams {
  group_by?: string;
  window_months: number;
  min_deals: number;
  team?: string[];
  owner?: string[];
  region?: string[];
  industry?: string[];
  source?: string[];
  product?: string[];
  grade?: string[];
}

export interface Moment {
  /** CTE name prefix, e.g. `m_` or `b3_`. */
  prefix: string;
  /** The instant, `YYYY-MM-DD` at midnight: everything strictly before it is known. */
  t: string;
  /** The period forecast, [from, to). */
  from: string;
  to: string;
}

/** Age in stage buckets (days): < 15, 15–29, 30–44, 45–59, 60–89, 90–119, 120–179, ≥ 180. */
const ageBucket = (age: Sql) =>
  sql`CASE WHEN ${age} < 15 THEN 0 WHEN ${age} < 30 THEN 1 WHEN ${age} < 45 THEN 2 WHEN ${age} < 60 THEN 3
           WHEN ${age} < 90 THEN 4 WHEN ${age} < 120 THEN 5 WHEN ${age} < 180 THEN 6 ELSE 7 END`;

/**
 * Expected close date relative to an instant `c` and its window [c + o, c + h) in days:
 * none (no date), past (before c's report date: slipped), before (before the window), in,
 * later.
 */
const ecdBucket = (ecd: Sql, c: Sql, o: number, h: number) =>
  sql`CASE WHEN ${ecd} IS NULL THEN 'none'
           WHEN ${ecd} < (${c} - INTERVAL 1 DAY)::DATE THEN 'past'
           WHEN ${ecd} < (${c} + to_days(${o}::INTEGER))::DATE THEN 'before'
           WHEN ${ecd} < (${c} + to_days(${h}::INTEGER))::DATE THEN 'in'
           ELSE 'later' END`;

/**
 * Activity recency at an instant `c` from `last`, the deal's last activity before c: days since
 * it — 0 none ever, 1 under 14 days, 2 under 45, 3 older.
 */
const recencyBucket = (last: Sql, c: Sql) =>
  sql`CASE WHEN ${last} IS NULL THEN 0 WHEN date_diff('day', ${last}, ${c}) < 14 THEN 1
           WHEN date_diff('day', ${last}, ${c}) < 45 THEN 2 ELSE 3 END`;

/** Activity recency at an instant `c` of the deal `id`, from its activities (the past states'). */
const actBucket = (id: Sql, c: Sql) =>
  sql`(SELECT ${recencyBucket(sql`max(a.occurred_at)`, c)} FROM activities a WHERE a.opportunity_id = ${id} AND a.occurred_at < ${c})`;

/** Position of a date's month in its fiscal quarter, 1–3. */
/** The weight of all past windows at other places in the quarter together (one same-place window weighs 1). */
const OTHER_WEIGHT = 0.25;
/** The F statistic above which monthly totals show a month-of-quarter effect (≈ the 5% point of F(2, 6)). */
const SEASONAL_F = 3;
/** Recent past windows count more: a window's weight halves every HALF_LIFE_DAYS before the forecast. */
const HALF_LIFE_DAYS = 45;

const monthOfQuarter = (d: Sql, fy: number) => sql`((month(${d}) - ${fy}::INTEGER + 12) % 3 + 1)`;

export function momentCtes(
  m: Moment,
  p: EngineParams,
  ctx: ModelContext,
  opts: { learned: boolean; statistical: boolean; dealDate: Sql }
): [string, Sql, { materialized?: boolean }?][] {
  const P = m.prefix;
  const n = (name: string) => unsafeRaw(`${P}${name}`);
  const g = p.group_by as Dimension | undefined;
  const t = sql`${m.t}::TIMESTAMP`;
  const key = g ? dimensionKey(g, ctx, opts.dealDate) : sql`NULL::VARCHAR`;
  // The rest of the period after t, in days from t: [o, h).
  const o = Math.max(0, daysBetween(m.t, m.from));
  const h = Math.max(0, daysBetween(m.t, m.to));
  // Learning looks back window_months, and at least far enough to see whole windows of h days.
  const lookbackDays = learningLookbackDays(p.window_months, h);
  const lookFrom = sql`(${t} - to_days(${lookbackDays}::INTEGER))`;
  const fy = ctx.fiscalYearStartMonth;
  const ctes: [string, Sql, { materialized?: boolean }?][] = [];
  const add = (name: string, body: Sql, opts?: { materialized?: boolean }) => ctes.push(opts ? [`${P}${name}`, body, opts] : [`${P}${name}`, body]);

  // The deals as at t, filtered, with their group key. A deal whose history settled before t
  // (models/common/pit.ts) is in its last version then, and only one open in it, or won in it
  // with a close date that can fall in the period (its recorded one, else the version's start:
  // `pit_forecast_until`, warehouse/facts.ts), can be kept below: one range condition, so the
  // scan of deal_facts skips the row groups of the deals closed before the period — most of a
  // million.
  const amongSettled = sql`f.pit_forecast_until >= ${m.from}::TIMESTAMP`;
  add('fd', sql`SELECT r.*, ${key} AS group_key,
      greatest(0, date_diff('day', r.stage_entered_at, ${t}))::INTEGER AS age_days
    FROM ${pitDealsWithDims(t, { stageEntered: opts.statistical, activity: opts.statistical, amongSettled })} r
    WHERE ${filterWhere(p, { team: sql`r.owner_team`, owner: sql`r.owner_id`, region: sql`r.customer_region`, industry: sql`r.customer_industry`, source: sql`r.source`, product: sql`r.product`, grade: sql`r.customer_grade` })}
      -- Only what the forecast reads below (open deals, deals won in the period): lost and
      -- earlier wins are most of the deals and are not kept.
      AND (r.status = 'open' OR (r.status = 'won' AND r.closed_at >= ${m.from}::TIMESTAMP AND r.closed_at < ${m.to}::TIMESTAMP))`,
    // Read twice (the open deals, the period's wins). With nothing in the history at or after t
    // (the facts horizon is before it: the usual forecast as of today) every state is a deal_facts
    // row, and reading them twice costs less than materializing the wide rows (10M deals: 126 →
    // 103 ms); with later events the states are rebuilt from the versions, once (298 against 370 ms).
    horizonReaches(ctx.factsHorizon, m.t) ? undefined : { materialized: false });
  // Amount fallback (warehouse/data-quality.ts): the average won amount of the deal's
  // product over the learning window (deals won before t, every deal in view), else of every
  // product.
  ctes.push(...amountFallbackCtes(P, t, lookFrom));
  const allAvg = sql`(SELECT avg_amount FROM ${n('amt_all')})`;
  add('open', sql`SELECT d.*,
      ${amountEstimate(sql`d.amount`, sql`a.avg_amount`, allAvg)} AS amount_est,
      ${amountRule(sql`d.amount`, sql`a.avg_amount`, allAvg)} AS amount_rule,
      d.expected_close_date >= ${m.from}::DATE AND d.expected_close_date < ${m.to}::DATE AS in_period,
      ${ageBucket(sql`d.age_days`)} AS age_b,
      ${ecdBucket(sql`d.expected_close_date`, t, o, h)} AS ecd_b
      -- Activity recency: the statistical method's alone (its lift on the close-in-period rate);
      -- the deal's last activity before t comes with its state (models/common/pit.ts).
      ${opts.statistical ? sql`, ${recencyBucket(sql`d.last_activity_at`, t)} AS act_b` : sql``}
    FROM ${n('fd')} d LEFT JOIN ${n('amt')} a ON a.product IS NOT DISTINCT FROM d.product
    WHERE d.status = 'open'`);

  if (opts.learned) {
    // P(win | reached stage) among deals closed in the window before t (the `learned` method).
    add('lc', sql`SELECT CASE WHEN d.status = 'won' THEN 1000000 ELSE d.furthest_idx END AS furthest, d.status
      FROM deal_facts d WHERE d.status IN ('won', 'lost')
        AND d.closed_at >= (${t} - to_months(${p.window_months}::INTEGER)) AND d.closed_at < ${t}`);
    add('stage_p', sql`SELECT s.name, s.probability AS configured,
        count(*) FILTER (WHERE c.status = 'won') AS won, count(c.status) AS n,
        CASE WHEN count(c.status) = 0 THEN s.probability
             ELSE (count(*) FILTER (WHERE c.status = 'won') + greatest(0, ${p.min_deals}::INTEGER - count(c.status)) * s.probability)
                  / (count(c.status) + greatest(0, ${p.min_deals}::INTEGER - count(c.status))) END AS learned
      FROM stages s LEFT JOIN ${n('lc')} c ON c.furthest >= s.idx
      WHERE s.kind = 'open' GROUP BY s.name, s.probability`);
  }

  if (opts.statistical) {
    // Weekly past instants whose whole window [c + o, c + h) ended by t, back to the learning
    // window's start and no earlier than the first recorded close (before it, nothing could
    // have been seen to close).
    // Month-of-quarter effect: each position's mean monthly won amount over the mean month,
    // over whole months in the learning window (from the first recorded close), shrunk toward
    // 1 by one pseudo-month; a window's factor is the mean over its days, relative to the mean
    // over the learning windows (whose mix of positions the learned rates already carry).
    add('months', sql`SELECT ms.m, ${monthOfQuarter(sql`ms.m`, fy)} AS pos,
        coalesce((SELECT sum(amount) FROM deal_facts WHERE status = 'won' AND closed_at >= ms.m AND closed_at < ms.m + INTERVAL 1 MONTH), 0)::DOUBLE AS won
      FROM (SELECT unnest(generate_series(date_trunc('month', ${lookFrom}), ${t} - INTERVAL 1 MONTH, INTERVAL 1 MONTH)) AS m) ms
      WHERE ms.m >= ${lookFrom} AND ms.m + INTERVAL 1 MONTH <= ${t}
        AND ms.m >= (SELECT min(closed_at) FROM deal_facts WHERE status IN ('won', 'lost') AND closed_at < ${t})`);
    // Past instants: weekly, plus the same day of each earlier month. Those a whole number of
    // quarters back (the same place in the quarter: the month-of-quarter effect) weigh 1 each, the
    // others OTHER_WEIGHT all together, so rates and new flow lean on the same part of the quarter and fall
    // back to every window while there are none.
    add('cuts', sql`SELECT cid, c, same, kq
      FROM (SELECT row_number() OVER (ORDER BY c)::INTEGER AS cid, c, bool_or(same) AS same, min(kq) AS kq
      FROM (
        SELECT (${t} - to_days((7 * k)::INTEGER)) AS c, false AS same, NULL::INTEGER AS kq FROM range(1, 1100) r(k)
        UNION ALL
        SELECT (${t} - to_months(k::INTEGER)) AS c, k % 3 = 0 AS same, (k % 3)::INTEGER AS kq FROM range(1, 400) r(k)
      )
      WHERE ${h}::INTEGER > 0 AND c + to_days(${h}::INTEGER) <= ${t} AND c >= ${lookFrom}
        AND c >= (SELECT min(closed_at) FROM deal_facts WHERE status IN ('won', 'lost') AND closed_at < ${t})
      GROUP BY c)`);
    add('states0', sql`SELECT s.*,
        ${ageBucket(sql`date_diff('day', s.stage_entered_at, s.c)`)} AS age_b,
        ${ecdBucket(sql`s.expected_close_date`, sql`s.c`, o, h)} AS ecd_b,
        ${actBucket(sql`s.opportunity_id`, sql`s.c`)} AS act_b,
        (s.final_status = 'won' AND s.final_closed_at >= s.c + to_days(${o}::INTEGER) AND s.final_closed_at < s.c + to_days(${h}::INTEGER))::INTEGER AS won,
        coalesce(s.amount, a.avg_amount, (SELECT avg_amount FROM ${n('amt_all')}), 0) AS amt_est
      FROM ${pitOpenStates(n('cuts'))} s
      LEFT JOIN ${n('amt')} a ON a.product IS NOT DISTINCT FROM s.product`,
      // Read by mrate and states (and states by srate, crate, cut_pred): computed once.
      { materialized: true });
    // Is there a month-of-quarter effect at all? Only when the value close rates at the past
    // instants on the same day of earlier months differ between the three places in the quarter
    // much more than within each (one-way analysis of variance, F ≥ SEASONAL_F); otherwise every
    // past window weighs the same. Until it can be tested (every place seen, four such instants
    // at least) the effect is assumed, as B2B quarters usually close at their end.
    add('mq', sql`SELECT coalesce((
        SELECT (sum(x.n * power(x.mean - g.grand, 2)) / 2) / nullif(sum((x.n - 1) * x.var) / nullif(sum(x.n) - 3, 0), 0) >= ${SEASONAL_F}::DOUBLE
        FROM (SELECT kq, count(*) AS n, avg(rate) AS mean, coalesce(var_samp(rate), 0) AS var FROM ${n('mrate')} GROUP BY kq) x,
             (SELECT avg(rate) AS grand FROM ${n('mrate')}) g
        HAVING count(*) = 3 AND sum(x.n) >= 4), true) AS seasonal`);
    ctes.splice(ctes.length - 1, 0, [`${P}mrate`, sql`SELECT k.kq, s.cid, sum(s.won * coalesce(s.final_amount, 0)) / nullif(sum(s.amt_est), 0) AS rate
      FROM ${n('states0')} s JOIN ${n('cuts')} k ON k.cid = s.cid WHERE k.kq IS NOT NULL GROUP BY k.kq, s.cid`]);
    // Weights: past windows a whole number of quarters back (the same place in the quarter) 1
    // each, the others OTHER_WEIGHT all together — when there is a month-of-quarter effect;
    // every window halves every HALF_LIFE_DAYS before the forecast.
    add('cw', sql`SELECT cid, c, same,
        (CASE WHEN same OR NOT (SELECT seasonal FROM ${n('mq')}) THEN 1.0 ELSE ${OTHER_WEIGHT}::DOUBLE / count(*) FILTER (WHERE NOT same) OVER () END)
          * pow(0.5, date_diff('day', c, ${t}) / ${HALF_LIFE_DAYS}::DOUBLE) AS w
      FROM ${n('cuts')}`);
    add('states', sql`SELECT s.*, cw.w FROM ${n('states0')} s JOIN ${n('cw')} cw ON cw.cid = s.cid`, { materialized: true });
    // Value-weighted: a cell's rate is the won amount over the amount open at the past instants
    // (amounts as known then, else the fallback), so a big deal's lower odds and discounts at
    // signing count; "won" below is that rate × n, in deal equivalents for the shrinkage.
    const wonEq = sql`sum(w) * least(1, coalesce(sum(w * won * coalesce(final_amount, 0)) / nullif(sum(w * amt_est), 0), sum(w * won) / nullif(sum(w), 0)))`;
    add('srate', sql`SELECT st.name AS stage, st.probability AS configured,
        coalesce(x.n, 0) AS n, coalesce(x.won, 0) AS won,
        CASE WHEN coalesce(x.n, 0) + greatest(0, ${p.min_deals}::INTEGER - coalesce(x.n, 0)) = 0 THEN st.probability
             ELSE (coalesce(x.won, 0) + greatest(0, ${p.min_deals}::INTEGER - coalesce(x.n, 0)) * st.probability)
                  / (coalesce(x.n, 0) + greatest(0, ${p.min_deals}::INTEGER - coalesce(x.n, 0))) END AS rate
      FROM stages st LEFT JOIN (SELECT stage, sum(w) AS n, ${wonEq} AS won FROM ${n('states')} GROUP BY stage) x ON x.stage = st.name
      WHERE st.kind = 'open'`);
    add('crate0', sql`SELECT x.stage, x.age_b, x.ecd_b, x.n, x.won,
        (x.won + ${p.min_deals}::DOUBLE * s.rate) / nullif(x.n + ${p.min_deals}::DOUBLE, 0) AS rate
      FROM (SELECT stage, age_b, ecd_b, sum(w) AS n, ${wonEq} AS won FROM ${n('states')} GROUP BY ALL) x
      JOIN ${n('srate')} s ON s.stage = x.stage`);
    // Activity recency (issue 10.2): within each cell, a bucket's rate is the cell's times the
    // bucket's lift — its own rate over the cell's, shrunk toward 1 by min_deals states at the
    // cell's rate — so a cell with one bucket only (no activities recorded) keeps its rate.
    add('crate', sql`SELECT x.stage, x.age_b, x.ecd_b, x.act_b, x.n, x.won,
        least(1, c0.rate * coalesce(((x.won + ${p.min_deals}::DOUBLE * c0.won / nullif(c0.n, 0)) / nullif(x.n + ${p.min_deals}::DOUBLE, 0))
          / nullif(c0.won / nullif(c0.n, 0), 0), 1)) AS rate
      FROM (SELECT stage, age_b, ecd_b, act_b, sum(w) AS n, ${wonEq} AS won FROM ${n('states')} GROUP BY ALL) x
      JOIN ${n('crate0')} c0 ON c0.stage = x.stage AND c0.age_b = x.age_b AND c0.ecd_b = x.ecd_b`);
    add('season', sql`SELECT q.pos,
        CASE WHEN (SELECT avg(won) FROM ${n('months')}) > 0
             THEN (count(mo.m) * coalesce(avg(mo.won), 0) / (SELECT avg(won) FROM ${n('months')}) + 1) / (count(mo.m) + 1)
             ELSE 1 END AS s,
        count(mo.m)::INTEGER AS months
      FROM (SELECT unnest([1, 2, 3]) AS pos) q LEFT JOIN ${n('months')} mo ON mo.pos = q.pos GROUP BY q.pos`);
    add('sfac', sql`SELECT
        coalesce((SELECT avg(se.s) FROM range(${o}::INTEGER, ${h}::INTEGER) r(i)
                  JOIN ${n('season')} se ON se.pos = ${monthOfQuarter(sql`(${t} + to_days(r.i::INTEGER))`, fy)}), 1) AS f_window,
        coalesce((SELECT avg(se.s) FROM ${n('cuts')} k CROSS JOIN range(${o}::INTEGER, ${h}::INTEGER) r(i)
                  JOIN ${n('season')} se ON se.pos = ${monthOfQuarter(sql`(k.c + to_days(r.i::INTEGER))`, fy)}), 1) AS f_learn`);
    add('cut_fac', sql`SELECT k.cid, avg(se.s) / nullif((SELECT f_learn FROM ${n('sfac')}), 0) AS f
      FROM ${n('cuts')} k CROSS JOIN range(${o}::INTEGER, ${h}::INTEGER) r(i)
      JOIN ${n('season')} se ON se.pos = ${monthOfQuarter(sql`(k.c + to_days(r.i::INTEGER))`, fy)} GROUP BY k.cid`);
    // New-deal flow: deals created at or after each past instant and won inside its window.
    add('nf_cut', sql`SELECT k.cid, ${g ? sql`r.group_key` : sql`NULL::VARCHAR AS group_key`}, sum(r.amount)::DOUBLE AS amount
      FROM ${n('cuts')} k
      JOIN (SELECT r.*, ${g ? dimensionKey(g, ctx, sql`r.closed_at`) : sql`NULL::VARCHAR`} AS group_key
            FROM ${dealsRelation(p)} r WHERE r.status = 'won' AND r.closed_at < ${t} AND r.closed_at >= ${lookFrom}) r
        ON r.closed_at >= k.c + to_days(${o}::INTEGER) AND r.closed_at < k.c + to_days(${h}::INTEGER)
       AND coalesce(r.created_at, list_min(r.entered)) >= k.c
      GROUP BY ALL`);
    add('nf', sql`SELECT x.group_key, sum(k.w * x.amount) / nullif((SELECT sum(w) FROM ${n('cw')}), 0) AS nf,
        sqrt(greatest(0, sum(k.w * x.amount * x.amount) / nullif((SELECT sum(w) FROM ${n('cw')}), 0)
          - power(sum(k.w * x.amount) / nullif((SELECT sum(w) FROM ${n('cw')}), 0), 2))) AS nf_sd
      FROM ${n('nf_cut')} x JOIN ${n('cw')} k ON k.cid = x.cid GROUP BY x.group_key`);
    // New flow over every deal in view (for the period shock's calibration).
    add('nf_all', sql`SELECT k.cid, coalesce(sum(f.amount), 0)::DOUBLE AS amount
      FROM ${n('cuts')} k LEFT JOIN deal_facts f ON f.status = 'won'
        AND f.closed_at >= k.c + to_days(${o}::INTEGER) AND f.closed_at < k.c + to_days(${h}::INTEGER)
        AND coalesce(f.created_at, list_min(f.entered)) >= k.c
      GROUP BY k.cid`);
    // The period shock: log(actual / predicted) at each past instant, predicted in sample with
    // the rates above (amounts as known then, else the fallback) — its root mean square.
    add('cut_pred', sql`SELECT s.cid,
        sum(s.amt_est * coalesce(cr.rate, c0.rate, sr.rate)) AS pipe,
        sum(CASE WHEN s.won = 1 THEN s.final_amount ELSE 0 END) AS actual_pipe
      FROM ${n('states')} s
      LEFT JOIN ${n('crate')} cr ON cr.stage = s.stage AND cr.age_b = s.age_b AND cr.ecd_b = s.ecd_b AND cr.act_b = s.act_b
      LEFT JOIN ${n('crate0')} c0 ON c0.stage = s.stage AND c0.age_b = s.age_b AND c0.ecd_b = s.ecd_b
      JOIN ${n('srate')} sr ON sr.stage = s.stage
      GROUP BY s.cid`);
    add('resid', sql`SELECT k.cid,
        (coalesce(cp.pipe, 0) + (SELECT sum(k2.w * a2.amount) / sum(k2.w) FROM ${n('nf_all')} a2 JOIN ${n('cw')} k2 ON k2.cid = a2.cid))
          * (CASE WHEN (SELECT count(*) FILTER (WHERE same) FROM ${n('cuts')}) >= 2 OR NOT (SELECT seasonal FROM ${n('mq')}) THEN 1 ELSE coalesce(cf.f, 1) END) AS predicted, k.same,
        coalesce(cp.actual_pipe, 0) + coalesce(na.amount, 0) AS actual
      FROM ${n('cuts')} k LEFT JOIN ${n('cut_pred')} cp ON cp.cid = k.cid LEFT JOIN ${n('nf_all')} na ON na.cid = k.cid
      LEFT JOIN ${n('cut_fac')} cf ON cf.cid = k.cid`);
    add('glob', sql`SELECT
        (SELECT count(*) FROM ${n('cuts')})::INTEGER AS cuts_n,
        (SELECT count(*) FROM ${n('states')})::INTEGER AS states_n,
        (SELECT strftime(min(c), '%Y-%m-%d') FROM ${n('cuts')}) AS learn_from,
        (SELECT strftime(max(c), '%Y-%m-%d') FROM ${n('cuts')}) AS learn_to,
        CASE WHEN (SELECT count(*) FILTER (WHERE same) FROM ${n('cuts')}) >= 2 OR NOT (SELECT seasonal FROM ${n('mq')}) THEN 1.0
             ELSE (SELECT f_window / nullif(f_learn, 0) FROM ${n('sfac')}) END AS season_factor,
        (SELECT sqrt(avg(power(ln(actual / predicted), 2))) FROM ${n('resid')} WHERE actual > 0 AND predicted > 0
           AND (same OR NOT (SELECT seasonal FROM ${n('mq')}) OR (SELECT count(*) FILTER (WHERE same) FROM ${n('cuts')}) < 4)) AS sigma,
        (SELECT count(*) FROM ${n('resid')} WHERE actual > 0 AND predicted > 0
           AND (same OR NOT (SELECT seasonal FROM ${n('mq')}) OR (SELECT count(*) FILTER (WHERE same) FROM ${n('cuts')}) < 4))::INTEGER AS sigma_n,
        (SELECT count(*) FILTER (WHERE same) FROM ${n('cuts')})::INTEGER AS same_n,
        (SELECT seasonal FROM ${n('mq')}) AS seasonal`);
  }

  const stat = opts.statistical;
  add('agg', sql`SELECT group_key,
      coalesce(sum(amount) FILTER (WHERE status = 'won' AND closed_at >= ${m.from}::TIMESTAMP AND closed_at < ${m.to}::TIMESTAMP), 0)::DOUBLE AS closed_won,
      count(*) FILTER (WHERE status = 'won' AND closed_at >= ${m.from}::TIMESTAMP AND closed_at < ${m.to}::TIMESTAMP)::INTEGER AS closed_won_n
    FROM ${n('fd')} WHERE status = 'won' GROUP BY group_key`);
  add('oagg', sql`SELECT o.group_key,
      coalesce(sum(o.amount_est) FILTER (WHERE o.in_period), 0)::DOUBLE AS open_pipeline,
      count(*) FILTER (WHERE o.in_period)::INTEGER AS open_n,
      coalesce(sum(o.amount_est * o.win_probability) FILTER (WHERE o.in_period), 0)::DOUBLE AS w_configured,
      ${opts.learned ? sql`coalesce(sum(o.amount_est * coalesce(o.probability, sp.learned, o.win_probability)) FILTER (WHERE o.in_period), 0)::DOUBLE` : sql`NULL::DOUBLE`} AS w_learned,
      coalesce(sum(o.amount_est) FILTER (WHERE o.in_period AND o.effective_forecast_category = 'commit'), 0)::DOUBLE AS commit_open,
      coalesce(sum(o.amount_est) FILTER (WHERE o.in_period AND o.effective_forecast_category = 'best_case'), 0)::DOUBLE AS best_case_open,
      coalesce(sum(o.amount_est) FILTER (WHERE o.in_period AND o.effective_forecast_category = 'pipeline'), 0)::DOUBLE AS pipeline_open,
      coalesce(sum(o.amount_est) FILTER (WHERE o.in_period AND o.effective_forecast_category NOT IN ('commit', 'best_case', 'pipeline')), 0)::DOUBLE AS omitted,
      ${stat ? sql`coalesce(sum(o.amount_est * ps.p), 0)::DOUBLE` : sql`NULL::DOUBLE`} AS stat_pipeline,
      ${stat ? sql`coalesce(sum(o.amount_est * o.amount_est * ps.p * (1 - ps.p)), 0)::DOUBLE` : sql`NULL::DOUBLE`} AS stat_var,
      ${stat ? sql`count(*) FILTER (WHERE ps.p > 0)` : sql`0`}::INTEGER AS stat_open_n,
      -- Data quality (warehouse/data-quality.ts): the amount rules count the deals whose
      -- amount this forecast uses (the statistical one: every open deal).
      ${dataQualityCounts({ t, rule: sql`o.amount_rule`, expectedClose: sql`o.expected_close_date`, amountCounted: sql`o.in_period OR ${stat}` })}
    FROM ${n('open')} o
    ${opts.learned ? sql`LEFT JOIN ${n('stage_p')} sp ON sp.name = o.stage` : sql``}
    ${stat
      ? sql`LEFT JOIN (SELECT o2.opportunity_id,
            CASE WHEN ${h}::INTEGER <= 0 THEN 0 ELSE coalesce(o2.probability_in, 0) END AS p
          FROM (SELECT x.opportunity_id, coalesce(cr.rate, c0.rate, sr.rate) AS probability_in
                FROM ${n('open')} x
                LEFT JOIN ${n('crate')} cr ON cr.stage = x.stage AND cr.age_b = x.age_b AND cr.ecd_b = x.ecd_b AND cr.act_b = x.act_b
                LEFT JOIN ${n('crate0')} c0 ON c0.stage = x.stage AND c0.age_b = x.age_b AND c0.ecd_b = x.ecd_b
                LEFT JOIN ${n('srate')} sr ON sr.stage = x.stage) o2) ps ON ps.opportunity_id = o.opportunity_id`
      : sql``}
    GROUP BY o.group_key`);
  add('keys', g
    ? sql`SELECT group_key FROM ${n('agg')} WHERE closed_won_n > 0
        UNION SELECT group_key FROM ${n('oagg')} WHERE open_n > 0 OR stat_open_n > 0${stat ? sql` UNION SELECT group_key FROM ${n('nf')} WHERE nf > 0` : sql``}`
    : sql`SELECT NULL::VARCHAR AS group_key`);
  add('out', sql`SELECT k.group_key,
      coalesce(a.closed_won, 0)::DOUBLE AS closed_won, coalesce(a.closed_won_n, 0)::INTEGER AS closed_won_n,
      coalesce(o.open_pipeline, 0)::DOUBLE AS open_pipeline, coalesce(o.open_n, 0)::INTEGER AS open_n,
      coalesce(o.w_configured, 0)::DOUBLE AS w_configured, coalesce(o.w_learned, 0)::DOUBLE AS w_learned,
      coalesce(o.commit_open, 0)::DOUBLE AS commit_open, coalesce(o.best_case_open, 0)::DOUBLE AS best_case_open,
      coalesce(o.pipeline_open, 0)::DOUBLE AS pipeline_open, coalesce(o.omitted, 0)::DOUBLE AS omitted,
      ${stat ? sql`coalesce(o.stat_pipeline, 0) * coalesce(gl.season_factor, 1)` : sql`NULL::DOUBLE`} AS stat_pipeline,
      ${stat ? sql`coalesce(o.stat_var, 0) * power(coalesce(gl.season_factor, 1), 2)` : sql`NULL::DOUBLE`} AS stat_var,
      coalesce(o.stat_open_n, 0)::INTEGER AS stat_open_n,
      ${stat ? sql`CASE WHEN ${h}::INTEGER > 0 THEN coalesce(nf.nf, 0) * coalesce(gl.season_factor, 1) ELSE 0 END` : sql`0::DOUBLE`} AS new_flow,
      ${stat ? sql`CASE WHEN ${h}::INTEGER > 0 THEN coalesce(nf.nf_sd, 0) * coalesce(gl.season_factor, 1) ELSE 0 END` : sql`0::DOUBLE`} AS new_flow_sd,
      coalesce(o.amount_fallback_n, 0)::INTEGER AS amount_fallback_n, coalesce(o.amount_missing_n, 0)::INTEGER AS amount_missing_n,
      coalesce(o.undated_n, 0)::INTEGER AS undated_n, coalesce(o.past_due_n, 0)::INTEGER AS past_due_n,
      ${stat ? sql`gl.sigma, gl.sigma_n, gl.cuts_n, gl.states_n, gl.learn_from, gl.learn_to, gl.season_factor, gl.seasonal`
        : sql`NULL::DOUBLE AS sigma, NULL::INTEGER AS sigma_n, NULL::INTEGER AS cuts_n, NULL::INTEGER AS states_n, NULL::VARCHAR AS learn_from, NULL::VARCHAR AS learn_to, NULL::DOUBLE AS season_factor, NULL::BOOLEAN AS seasonal`}
    FROM ${n('keys')} k
    LEFT JOIN ${n('agg')} a ON a.group_key IS NOT DISTINCT FROM k.group_key
    LEFT JOIN ${n('oagg')} o ON o.group_key IS NOT DISTINCT FROM k.group_key
    ${stat ? sql`LEFT JOIN ${n('nf')} nf ON nf.group_key IS NOT DISTINCT FROM k.group_key CROSS JOIN ${n('glob')} gl` : sql``}`);
  return ctes;
}
