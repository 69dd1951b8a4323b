/**
 * Weighted forecast (销售预测) (metrics.md, `forecast`).
 *
 * The deals: open deals whose expected close date falls in the period, plus deals won in it.
 * - closed_won = Σ amount won in the period (`opportunities.closed_at`).
 * - weighted_pipeline = Σ amount × p over those open deals, p = the deal's probability
 *   override, else its stage's probability: configured (`probabilities=configured`, the
 *   default, as the `kpis` card) or learned (`probabilities=learned`).
 * - forecast = closed_won + weighted_pipeline.
 * - Categories roll up cumulatively (Salesforce), on unweighted amounts: commit = closed_won +
 *   open commit deals; best_case = commit + best_case deals; pipeline = best_case + pipeline
 *   deals. A deal's category is its own, else its stage's; omitted (or any other) deals are
 *   left out of the three and shown as `omitted`.
 * - open_pipeline = Σ amount of the open deals (unweighted, every category).
 * - With a target (the `target` parameter, or the target rows that apply, common/targets.ts):
 *   attainment = closed_won / target, gap = target − closed_won, coverage = open_pipeline /
 *   gap, null when the gap is ≤ 0 (target met).
 *
 * Learned probabilities (`view=stages` shows them): P(win | stage k) = won / (won + lost)
 * among deals closed in the trailing window (`window_months`, default 12, ending on the report
 * date) that reached k — reached as in the funnel: a won deal reached every stage, a lost deal
 * the furthest open stage its history shows. With n = won + lost below `min_deals` (30), a
 * Beta prior centred on the configured probability carries the missing weight:
 *   learned = (won + m × configured) / (n + m), m = max(0, min_deals − n)
 * so the estimate moves smoothly from the configured value (n = 0) to the raw rate (n ≥ 30).
 * They are learned from every deal the viewer may see, not only the filtered ones, so
 * filtered and grouped figures add up.
 *
 * Accuracy (`view=accuracy`), per whole month/quarter/year (`grain`) overlapping the period
 * and ended by the report date, for each method (weighted_configured, weighted_learned,
 * commit, best_case, pipeline): A = amount won in it; F = the forecast made `frozen_at_day`
 * days after it began, either frozen at the time (`basis=snapshots`, the forecast_snapshots
 * kept by `cockpit snapshot`: the first one taken on or after that day) or rebuilt from history
 * (`basis=backtest`: each deal's version at that moment — stage, amount, expected close date,
 * category, probability — with probabilities learned from deals closed before it).
 * accuracy = max(0, 1 − |A − F| / A) (HubSpot), bias = (F − A) / A, null when A = 0; over
 * the periods, WAPE = Σ|F − A| / ΣA per method (in the summary).
 */
import { z } from 'zod';
import { defineModel, type ModelContext } from './model';
import { grainParam, groupByParam, paramsSchema, type Dimension } from './common/params';
import { addDays, type Grain } from './common/period';
import { bucketsRelation } from './common/grain';
import { dealsRelation, dimensionKey, dimensionLabel, inPeriod, teamGroupCtes } from './common/relations';
import { targetRows } from './common/targets';
import { and, join, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';

const FORECAST_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'product', 'grade', 'stage', 'month', 'quarter'] as const;
const ACCURACY_DIMENSIONS = ['team', 'team_leaf', 'owner'] as const;
export const FORECAST_VIEWS = ['forecast', 'stages', 'accuracy'] as const;
export const FORECAST_METHODS = ['weighted_configured', 'weighted_learned', 'commit', 'best_case', 'pipeline'] as const;
type Method = (typeof FORECAST_METHODS)[number];

const methodList = z
  .union([z.enum(FORECAST_METHODS), z.array(z.enum(FORECAST_METHODS))])
  .transform((v) => (Array.isArray(v) ? v : [v]));

const params = paramsSchema({
  view: z.enum(FORECAST_VIEWS).default('forecast'),
  group_by: groupByParam(FORECAST_DIMENSIONS).optional(),
  probabilities: z.enum(['configured', 'learned']).default('configured'),
  /** Months of closed deals the learned probabilities come from. */
  window_months: z.coerce.number().int().min(1).max(120).default(12),
  /** Below this many closed deals that reached a stage, the configured probability fills in. */
  min_deals: z.coerce.number().int().min(0).max(100_000).default(30),
  /** A target for the whole result (instead of the target rows); ungrouped only. */
  target: z.coerce.number().positive().optional(),
  /** Accuracy: frozen forecasts (`snapshots`) or a backtest from history. */
  basis: z.enum(['backtest', 'snapshots']).default('backtest'),
  /** Accuracy: the periods evaluated. */
  grain: grainParam.default('quarter'),
  /** Accuracy: how many days into each period the forecast was made (0 = on its first day). */
  frozen_at_day: z.coerce.number().int().min(0).max(366).default(0),
  /** Accuracy: the methods to evaluate (default all). */
  method: methodList.optional()
}).superRefine((p, ctx) => {
  if (p.target !== undefined && p.group_by) {
    ctx.addIssue({ code: 'custom', path: ['target'], message: 'a single target applies to the ungrouped forecast; grouped rows use each group’s own target' });
  }
  if (p.view === 'stages' && p.group_by) {
    ctx.addIssue({ code: 'custom', path: ['group_by'], message: 'the stages view has one row per stage; group_by applies to the forecast and accuracy views' });
  }
  if (p.view === 'accuracy' && p.group_by && !(ACCURACY_DIMENSIONS as readonly string[]).includes(p.group_by)) {
    ctx.addIssue({ code: 'custom', path: ['group_by'], message: `accuracy can be grouped by ${ACCURACY_DIMENSIONS.join(', ')}` });
  }
  if (p.view === 'accuracy' && p.basis === 'snapshots') {
    for (const f of ['region', 'industry', 'source', 'product', 'grade'] as const) {
      if ((p[f] ?? []).length > 0) {
        ctx.addIssue({ code: 'custom', path: [f], message: 'frozen forecasts are kept per owner: filter them by team or owner, or use basis=backtest' });
      }
    }
  }
});

type Params = z.output<typeof params>;

const groupCols = { group_key: z.string().nullable(), group_label: z.string().nullable() };

const forecastRow = z.strictObject({
  ...groupCols,
  closed_won: z.number(),
  closed_won_n: z.number().int().nonnegative(),
  weighted_pipeline: z.number(),
  forecast: z.number(),
  open_pipeline: z.number(),
  open_n: z.number().int().nonnegative(),
  commit: z.number(),
  best_case: z.number(),
  pipeline: z.number(),
  omitted: z.number(),
  target: z.number().nullable(),
  attainment: z.number().nullable(),
  gap: z.number().nullable(),
  coverage: z.number().nullable(),
  n: z.number().int().nonnegative()
});

const stageRow = z.strictObject({
  stage: z.string(),
  stage_index: z.number().int().positive(),
  configured: z.number().min(0).max(1),
  won: z.number().int().nonnegative(),
  lost: z.number().int().nonnegative(),
  /** won / (won + lost), null when none closed. */
  win_rate: z.number().min(0).max(1).nullable(),
  /** The Beta prior's weight in deals: max(0, min_deals − n). */
  prior_weight: z.number().nonnegative(),
  learned: z.number().min(0).max(1),
  open_n: z.number().int().nonnegative(),
  open_amount: z.number(),
  n: z.number().int().nonnegative()
});

const accuracyRow = z.strictObject({
  ...groupCols,
  bucket: z.string(),
  label: z.string(),
  from: z.string(),
  to: z.string(),
  method: z.enum(FORECAST_METHODS),
  /** When the forecast was made: the backtest moment, or the snapshot's report date. */
  frozen_at: z.string().nullable(),
  forecast: z.number().nullable(),
  actual: z.number(),
  error: z.number().nullable(),
  accuracy: z.number().min(0).max(1).nullable(),
  bias: z.number().nullable(),
  forecast_n: z.number().int().nonnegative(),
  actual_n: z.number().int().nonnegative(),
  n: z.number().int().nonnegative()
});

const row = z.union([forecastRow, stageRow, accuracyRow]);

/**
 * CTEs ending in `stage_p(tid, name, idx, configured, won, lost, n, win_rate, prior_weight,
 * learned)`: the learned probability of each open stage for each learning window in `times`
 * (`SELECT tid, ws, we`: deals closed in [ws, we)). Reads every deal in view, unfiltered.
 */
function learnedCtes(times: Sql, minDeals: number, single?: { ws: Sql; we: Sql }): [string, Sql][] {
  return [
    ['learn_times', times],
    // A won deal reached every stage; a lost one the furthest stage in its history
    // (deal_facts.furthest_idx, the funnel's "reached").
    // One window (the report date's): constant bounds, pushed into the scan. Several (a
    // backtest): a range join of the windows with the deals closed in any of them.
    ['learn_closed', sql`SELECT d.status, d.closed_at, CASE WHEN d.status = 'won' THEN 1000000 ELSE d.furthest_idx END AS furthest
      FROM deal_facts d
      WHERE d.status IN ('won', 'lost') AND ${
        single
          ? sql`d.closed_at >= ${single.ws} AND d.closed_at < ${single.we}`
          : sql`d.closed_at >= (SELECT min(ws) FROM learn_times) AND d.closed_at < (SELECT max(we) FROM learn_times)`
      }`],
    ['learn_agg', single
      ? sql`SELECT 0 AS tid, c.furthest,
          count(*) FILTER (WHERE c.status = 'won') AS won, count(*) FILTER (WHERE c.status = 'lost') AS lost
        FROM learn_closed c GROUP BY c.furthest`
      : sql`SELECT t.tid, c.furthest,
          count(*) FILTER (WHERE c.status = 'won') AS won, count(*) FILTER (WHERE c.status = 'lost') AS lost
        FROM learn_times t JOIN learn_closed c ON c.closed_at >= t.ws AND c.closed_at < t.we
        GROUP BY ALL`],
    ['learn_counts', sql`SELECT t.tid, s.name, s.idx, s.probability AS configured,
        coalesce(sum(a.won) FILTER (WHERE a.furthest >= s.idx), 0)::INTEGER AS won,
        coalesce(sum(a.lost) FILTER (WHERE a.furthest >= s.idx), 0)::INTEGER AS lost
      FROM learn_times t CROSS JOIN stages s LEFT JOIN learn_agg a ON a.tid = t.tid
      WHERE s.kind = 'open'
      GROUP BY t.tid, s.name, s.idx, s.probability`],
    ['stage_p', sql`SELECT tid, name, idx, configured, won, lost, (won + lost)::INTEGER AS n,
        won::DOUBLE / nullif(won + lost, 0) AS win_rate,
        greatest(0, ${minDeals}::INTEGER - (won + lost))::DOUBLE AS prior_weight,
        CASE WHEN won + lost = 0 THEN configured
             ELSE (won + greatest(0, ${minDeals}::INTEGER - (won + lost)) * configured)
                  / (won + lost + greatest(0, ${minDeals}::INTEGER - (won + lost))) END AS learned
      FROM learn_counts`]
  ];
}

/** The learning window ending on the report date (deals closed through the end of that day). */
function currentWindow(p: Params, ctx: ModelContext): { times: Sql; bounds: { ws: Sql; we: Sql } } {
  const end = addDays(ctx.asOf, 1);
  const bounds = { ws: sql`(${end}::TIMESTAMP - to_months(${p.window_months}::INTEGER))`, we: sql`${end}::TIMESTAMP` };
  return { times: sql`SELECT 0 AS tid, ${bounds.ws} AS ws, ${bounds.we} AS we`, bounds };
}

/** The learned-probability CTEs for the report date's window. */
function currentLearned(p: Params, ctx: ModelContext): [string, Sql][] {
  const w = currentWindow(p, ctx);
  return learnedCtes(w.times, p.min_deals, w.bounds);
}

/** The date a forecast deal falls on: its close date when won, else its expected close date. */
const DEAL_DATE = sql`CASE WHEN r.status = 'won' THEN r.closed_at ELSE r.expected_close_date END`;

function forecastView(p: Params, ctx: ModelContext) {
  const g = p.group_by as Dimension | undefined;
  const learned = p.probabilities === 'learned';
  const key = g ? dimensionKey(g, ctx, DEAL_DATE) : sql`NULL::VARCHAR`;
  const label = g ? dimensionLabel(g, sql`x.group_key`, ctx) : sql`NULL::VARCHAR`;
  const targets =
    p.target !== undefined
      ? sql`SELECT NULL::VARCHAR AS group_key, ${p.target}::DOUBLE AS target`
      : sql`SELECT group_key, sum(amount)::DOUBLE AS target FROM (${targetRows(p, g, 'won_amount', ctx.period)}) GROUP BY 1`;
  const prob = learned ? sql`coalesce(r.probability, sp.learned, r.win_probability)` : sql`r.win_probability`;
  return {
    ctes: [
      ...(g === 'team' ? teamGroupCtes(p) : []),
      ...(learned ? currentLearned(p, ctx) : []),
      ['fd', sql`SELECT ${key} AS group_key, r.status, r.amount::DOUBLE AS amount, ${prob} AS p,
          r.effective_forecast_category AS category
        FROM ${dealsRelation(p)} r
        ${learned ? sql`LEFT JOIN stage_p sp ON sp.name = r.stage` : sql``}
        WHERE (r.status = 'won' AND ${inPeriod(sql`r.closed_at`, ctx.period)})
           OR (r.status = 'open' AND ${inPeriod(sql`r.expected_close_date`, ctx.period)})`],
      // Ungrouped, a plain aggregate: hash grouping on a constant key is much slower.
      ['agg', sql`SELECT ${g ? sql`group_key` : sql`NULL::VARCHAR AS group_key`},
          coalesce(sum(amount) FILTER (WHERE status = 'won'), 0) AS closed_won,
          count(*) FILTER (WHERE status = 'won') AS closed_won_n,
          coalesce(sum(amount * p) FILTER (WHERE status = 'open'), 0) AS weighted_pipeline,
          coalesce(sum(amount) FILTER (WHERE status = 'open'), 0) AS open_pipeline,
          count(*) FILTER (WHERE status = 'open') AS open_n,
          coalesce(sum(amount) FILTER (WHERE status = 'open' AND category = 'commit'), 0) AS commit_open,
          coalesce(sum(amount) FILTER (WHERE status = 'open' AND category = 'best_case'), 0) AS best_case_open,
          coalesce(sum(amount) FILTER (WHERE status = 'open' AND category = 'pipeline'), 0) AS pipeline_open,
          coalesce(sum(amount) FILTER (WHERE status = 'open' AND category NOT IN ('commit', 'best_case', 'pipeline')), 0) AS omitted
        FROM fd ${g ? sql`GROUP BY group_key` : sql``}`],
      ['tgt', targets],
      ['keys', g
        ? sql`SELECT group_key FROM agg UNION SELECT group_key FROM tgt`
        : sql`SELECT NULL::VARCHAR AS group_key`],
      ['x', sql`SELECT k.group_key,
          coalesce(a.closed_won, 0)::DOUBLE AS closed_won, coalesce(a.closed_won_n, 0)::INTEGER AS closed_won_n,
          coalesce(a.weighted_pipeline, 0)::DOUBLE AS weighted_pipeline,
          coalesce(a.open_pipeline, 0)::DOUBLE AS open_pipeline, coalesce(a.open_n, 0)::INTEGER AS open_n,
          coalesce(a.commit_open, 0)::DOUBLE AS commit_open, coalesce(a.best_case_open, 0)::DOUBLE AS best_case_open,
          coalesce(a.pipeline_open, 0)::DOUBLE AS pipeline_open, coalesce(a.omitted, 0)::DOUBLE AS omitted,
          t.target
        FROM keys k
        LEFT JOIN agg a ON a.group_key IS NOT DISTINCT FROM k.group_key
        LEFT JOIN tgt t ON t.group_key IS NOT DISTINCT FROM k.group_key`]
    ] as [string, Sql][],
    body: sql`SELECT x.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label,
        x.closed_won, x.closed_won_n, x.weighted_pipeline, x.closed_won + x.weighted_pipeline AS forecast,
        x.open_pipeline, x.open_n,
        x.closed_won + x.commit_open AS "commit",
        x.closed_won + x.commit_open + x.best_case_open AS best_case,
        x.closed_won + x.commit_open + x.best_case_open + x.pipeline_open AS pipeline,
        x.omitted, x.target,
        x.closed_won / nullif(x.target, 0) AS attainment,
        x.target - x.closed_won AS gap,
        CASE WHEN x.target - x.closed_won > 0 THEN x.open_pipeline / (x.target - x.closed_won) END AS coverage,
        (x.closed_won_n + x.open_n)::INTEGER AS n
      FROM x
      ORDER BY ${g ? sql`x.closed_won + x.weighted_pipeline DESC, x.group_key NULLS LAST` : sql`1`}`
  };
}

function stagesView(p: Params, ctx: ModelContext) {
  return {
    ctes: [
      ...currentLearned(p, ctx),
      ['open_by_stage', sql`SELECT r.stage, count(*)::INTEGER AS open_n, coalesce(sum(r.amount), 0)::DOUBLE AS open_amount
        FROM ${dealsRelation(p)} r WHERE r.status = 'open' AND ${inPeriod(sql`r.expected_close_date`, ctx.period)} GROUP BY 1`]
    ] as [string, Sql][],
    body: sql`SELECT sp.name AS stage, sp.idx::INTEGER AS stage_index, sp.configured, sp.won, sp.lost, sp.win_rate,
        sp.prior_weight, sp.learned, coalesce(o.open_n, 0)::INTEGER AS open_n, coalesce(o.open_amount, 0)::DOUBLE AS open_amount,
        sp.n, strftime((SELECT ws FROM learn_times), '%Y-%m-%d') AS window_from, strftime((SELECT we FROM learn_times), '%Y-%m-%d') AS window_to
      FROM stage_p sp LEFT JOIN open_by_stage o ON o.stage = sp.name
      ORDER BY sp.idx`
  };
}

/** The methods of a snapshot or backtest as SQL columns of a relation aliased `f`. */
const METHOD_COLUMNS: Record<Method, string> = {
  weighted_configured: 'f_configured',
  weighted_learned: 'f_learned',
  commit: 'f_commit',
  best_case: 'f_best_case',
  pipeline: 'f_pipeline'
};

function accuracyView(p: Params, ctx: ModelContext) {
  const g = p.group_by as Dimension | undefined;
  const grain = p.grain as Grain;
  const methods = (p.method ?? FORECAST_METHODS) as Method[];
  const key = g ? dimensionKey(g, ctx) : sql`NULL::VARCHAR`;
  const label = g ? dimensionLabel(g, sql`x.group_key`, ctx) : sql`NULL::VARCHAR`;
  const deals = sql`SELECT r.*, ${key} AS group_key FROM ${dealsRelation(p)} r`;
  // Whole buckets overlapping the period (for `all`: from the first deal on) that ended by the
  // report date; the forecast moment is frozen_at_day days into each.
  const times = sql`SELECT bucket AS tid, bucket, bucket_end, label, (bucket + to_days(${p.frozen_at_day}::INTEGER))::TIMESTAMP AS t
    FROM ${bucketsRelation(ctx.period, grain, ctx, sql`SELECT min(created_at) AS lo, max(greatest(created_at, closed_at)) AS hi FROM deal_facts`)}
    WHERE bucket_end <= ${ctx.asOf}::DATE AND bucket + to_days(${p.frozen_at_day}::INTEGER) < bucket_end`;

  // Constant bounds on the forecast moments, so the history scan can skip what no moment
  // needs: moments lie in buckets overlapping the period (a bucket starts at most one grain
  // before it) and before the report date; the expected close dates in those buckets.
  const grainDays = { day: 0, week: 6, month: 31, quarter: 92, year: 366 }[grain];
  const firstMoment = addDays(ctx.period.from, -grainDays);
  const lastMoment = addDays(ctx.period.to < ctx.asOf ? ctx.period.to : ctx.asOf, 1);
  const common: [string, Sql, { materialized?: boolean }?][] = [
    ...(g === 'team' ? teamGroupCtes(p) : []),
    ['acc_times', times],
    // Read three times; rescanning the facts beats materializing a million wide rows.
    ['acc_deals', deals, { materialized: false }],
    ['actual', sql`SELECT t.tid, d.group_key, sum(d.amount)::DOUBLE AS actual, count(*)::INTEGER AS actual_n
      FROM acc_times t JOIN acc_deals d ON d.status = 'won' AND d.closed_at >= t.bucket AND d.closed_at < t.bucket_end
      GROUP BY ALL`]
  ];

  const methodUnion = unionMethods(methods);

  if (p.basis === 'backtest') {
    return {
      ctes: [
        ...common,
        ...learnedCtes(sql`SELECT tid, t - to_months(${p.window_months}::INTEGER) AS ws, t AS we FROM acc_times`, p.min_deals),
        // Each deal's version at the forecast moment, when it was open and expected to close
        // in the bucket; a version without an amount or date takes the deal's current one.
        // The versions valid at each forecast moment, in an open stage, whose own expected
        // close date (when they have one) falls in the period — filtered before the join
        // with the deals, which would otherwise see millions of versions.
        ['v_at', sql`SELECT t.tid, t.bucket, t.bucket_end, v.opportunity_id, v.stage, v.amount, v.expected_close_date, v.probability, v.forecast_category
          FROM acc_times t
          JOIN opportunity_versions v ON v.valid_from <= t.t AND (v.valid_to IS NULL OR v.valid_to > t.t)
          WHERE v.valid_from < ${lastMoment}::TIMESTAMP AND (v.valid_to IS NULL OR v.valid_to > ${firstMoment}::TIMESTAMP)
            AND (v.expected_close_date IS NULL OR (v.expected_close_date >= ${firstMoment}::DATE AND v.expected_close_date < ${addDays(ctx.period.to, grainDays)}::DATE))
            AND v.stage IN (SELECT name FROM stages WHERE kind = 'open')
            AND (v.expected_close_date IS NULL OR (v.expected_close_date >= t.bucket AND v.expected_close_date < t.bucket_end))`],
        ['at_t', sql`SELECT v.tid, d.group_key, coalesce(v.amount, d.amount)::DOUBLE AS amount,
            coalesce(v.probability, s.probability) AS p_configured,
            coalesce(v.probability, sp.learned, s.probability) AS p_learned,
            coalesce(v.forecast_category, s.forecast_category) AS category
          FROM v_at v
          JOIN acc_deals d ON d.opportunity_id = v.opportunity_id
          JOIN stages s ON s.name = v.stage
          LEFT JOIN stage_p sp ON sp.tid = v.tid AND sp.name = v.stage
          WHERE coalesce(v.expected_close_date, d.expected_close_date) >= v.bucket
            AND coalesce(v.expected_close_date, d.expected_close_date) < v.bucket_end`],
        ['won_before', sql`SELECT t.tid, d.group_key, sum(d.amount)::DOUBLE AS won, count(*)::INTEGER AS won_n
          FROM acc_times t JOIN acc_deals d ON d.status = 'won' AND d.closed_at >= t.bucket AND d.closed_at < t.t
          GROUP BY ALL`],
        ['open_at', sql`SELECT tid, group_key,
            sum(amount * p_configured) AS w_configured, sum(amount * p_learned) AS w_learned,
            coalesce(sum(amount) FILTER (WHERE category = 'commit'), 0) AS c_commit,
            coalesce(sum(amount) FILTER (WHERE category = 'best_case'), 0) AS c_best_case,
            coalesce(sum(amount) FILTER (WHERE category = 'pipeline'), 0) AS c_pipeline,
            count(*)::INTEGER AS open_n
          FROM at_t GROUP BY ALL`],
        ['cells', cellsSql(!!g, ['won_before', 'open_at'])],
        ['f', sql`SELECT c.tid, c.group_key, strftime(c.t, '%Y-%m-%d') AS frozen_at,
            coalesce(w.won, 0) + coalesce(o.w_configured, 0) AS f_configured,
            coalesce(w.won, 0) + coalesce(o.w_learned, 0) AS f_learned,
            coalesce(w.won, 0) + coalesce(o.c_commit, 0) AS f_commit,
            coalesce(w.won, 0) + coalesce(o.c_commit, 0) + coalesce(o.c_best_case, 0) AS f_best_case,
            coalesce(w.won, 0) + coalesce(o.c_commit, 0) + coalesce(o.c_best_case, 0) + coalesce(o.c_pipeline, 0) AS f_pipeline,
            (coalesce(w.won_n, 0) + coalesce(o.open_n, 0))::INTEGER AS forecast_n
          FROM cells c
          LEFT JOIN won_before w ON w.tid = c.tid AND w.group_key IS NOT DISTINCT FROM c.group_key
          LEFT JOIN open_at o ON o.tid = c.tid AND o.group_key IS NOT DISTINCT FROM c.group_key`],
        ['by_method', methodUnion]
      ] as [string, Sql][],
      body: accuracyBody(label, g)
    };
  }

  // Frozen forecasts: per bucket, the first snapshot day on or after the forecast moment
  // (among the snapshots the viewer may see); the owners' rows of that day add up.
  const snaps = sql`SELECT r.*, ${key} AS group_key FROM (
      SELECT fs.*, fs.owner_id AS dim_owner, u.team_id AS dim_team_leaf
      FROM forecast_snapshots fs LEFT JOIN users u ON u.user_id = fs.owner_id
      WHERE ${and([
        (p.owner ?? []).length > 0 && sql`list_contains(${p.owner ?? []}::VARCHAR[], fs.owner_id)`,
        (p.team ?? []).length > 0 && sql`u.team_id IN (SELECT team_id FROM team_tree WHERE list_contains(${p.team ?? []}::VARCHAR[], ancestor))`
      ])}) r`;
  return {
    ctes: [
      ...common,
      ['snaps', snaps],
      ['snap_day', sql`SELECT t.tid, min(s.as_of) AS as_of
        FROM acc_times t JOIN snaps s ON s.period_from = t.bucket AND s.period_to = t.bucket_end
          AND s.as_of >= t.t::DATE AND s.as_of < t.bucket_end
        GROUP BY t.tid`],
      ['frozen', sql`SELECT d.tid, s.group_key, sum(s.forecast_configured) AS f_configured, sum(s.forecast_learned) AS f_learned,
          sum(s.commit_total) AS f_commit, sum(s.best_case_total) AS f_best_case, sum(s.pipeline_total) AS f_pipeline,
          sum(s.closed_won_n + s.open_n)::INTEGER AS forecast_n
        FROM snap_day d JOIN acc_times t ON t.tid = d.tid
        JOIN snaps s ON s.as_of = d.as_of AND s.period_from = t.bucket AND s.period_to = t.bucket_end
        GROUP BY ALL`],
      ['cells', cellsSql(!!g, ['frozen'])],
      // A bucket without a snapshot has no forecast (null); a group without a row on the
      // snapshot day had nothing to forecast (0).
      ['f', sql`SELECT c.tid, c.group_key, strftime(d.as_of, '%Y-%m-%d') AS frozen_at,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_configured, 0) END AS f_configured,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_learned, 0) END AS f_learned,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_commit, 0) END AS f_commit,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_best_case, 0) END AS f_best_case,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_pipeline, 0) END AS f_pipeline,
          coalesce(fr.forecast_n, 0)::INTEGER AS forecast_n
        FROM cells c
        LEFT JOIN snap_day d ON d.tid = c.tid
        LEFT JOIN frozen fr ON fr.tid = c.tid AND fr.group_key IS NOT DISTINCT FROM c.group_key`],
      ['by_method', methodUnion]
    ] as [string, Sql][],
    body: accuracyBody(label, g)
  };
}

/**
 * The (bucket, group) cells: ungrouped, one per bucket; grouped, each group with an actual or
 * a forecast in the bucket.
 */
function cellsSql(grouped: boolean, forecastRelations: string[]): Sql {
  if (!grouped) return sql`SELECT tid, t, NULL::VARCHAR AS group_key FROM acc_times`;
  const parts = ['actual', ...forecastRelations].map((r) => unsafeRaw(`SELECT tid, group_key FROM ${r}`));
  return sql`SELECT c.tid, t.t, c.group_key FROM (${join(parts, ' UNION ')}) c JOIN acc_times t ON t.tid = c.tid`;
}

function unionMethods(methods: Method[]): Sql {
  const parts = methods.map(
    (m) => sql`SELECT tid, group_key, frozen_at, ${m} AS method, ${unsafeRaw(METHOD_COLUMNS[m])}::DOUBLE AS forecast, forecast_n FROM f`
  );
  return parts.reduce((acc, part, i) => (i === 0 ? part : sql`${acc} UNION ALL ${part}`));
}

function accuracyBody(label: Sql, g: Dimension | undefined): Sql {
  return sql`SELECT x.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label,
      strftime(t.bucket, '%Y-%m-%d') AS bucket, t.label, strftime(t.bucket, '%Y-%m-%d') AS "from", strftime(t.bucket_end, '%Y-%m-%d') AS "to",
      x.method, x.frozen_at, x.forecast, coalesce(a.actual, 0)::DOUBLE AS actual,
      x.forecast - coalesce(a.actual, 0) AS error,
      CASE WHEN coalesce(a.actual, 0) > 0 AND x.forecast IS NOT NULL THEN greatest(0, 1 - abs(coalesce(a.actual, 0) - x.forecast) / a.actual) END AS accuracy,
      CASE WHEN coalesce(a.actual, 0) > 0 THEN (x.forecast - a.actual) / a.actual END AS bias,
      x.forecast_n, coalesce(a.actual_n, 0)::INTEGER AS actual_n, coalesce(a.actual_n, 0)::INTEGER AS n
    FROM by_method x JOIN acc_times t ON t.tid = x.tid
    LEFT JOIN actual a ON a.tid = x.tid AND a.group_key IS NOT DISTINCT FROM x.group_key
    ORDER BY ${g ? sql`x.group_key NULLS LAST,` : sql``} t.bucket, x.method`;
}

export const forecast = defineModel({
  name: 'forecast',
  title: { 'zh-CN': '销售预测', en: 'Sales forecast' },
  definition: {
    'zh-CN':
      '预计成交日期在本期的在途商机，加上本期已赢单。预测=已赢单+Σ金额×赢率（赢率取商机自设值，否则取阶段赢率：配置值或按近12个月已结商机学习的值，样本少于30单时向配置值收缩）。预测类别逐级累加：承诺=已赢单+承诺商机，最佳=承诺+最佳商机，管道=最佳+管道商机；排除的商机不计入。目标达成=已赢单/目标，缺口=目标−已赢单，覆盖率=在途金额/缺口（已达成时为空）。预测准确度=max(0, 1−|实际−预测|/实际)，偏差=(预测−实际)/实际，多期WAPE=Σ|预测−实际|/Σ实际。',
    en: 'Open deals expected to close in the period, plus deals already won in it. Forecast = won + Σ amount × probability (the deal’s own, else its stage’s: configured, or learned from the last 12 months of closed deals, shrunk toward the configured value below 30 deals). Categories roll up: commit = won + commit deals, best case = commit + best-case deals, pipeline = best case + pipeline deals; omitted deals are left out. Attainment = won / target, gap = target − won, coverage = open pipeline / gap (none once the target is met). Accuracy = max(0, 1 − |A − F| / A), bias = (F − A) / A, WAPE = Σ|F − A| / ΣA.'
  },
  // Won deals count by opportunities.closed_at; the learning window and accuracy's actuals too.
  dateField: (p) => (p.view === 'forecast' ? 'opportunities.expected_close_date' : 'opportunities.closed_at'),
  defaultPeriod: 'this_quarter',
  params,
  row,
  query(p, ctx) {
    if (p.view === 'stages') return stagesView(p, ctx);
    if (p.view === 'accuracy') return accuracyView(p, ctx);
    return forecastView(p, ctx);
  },
  finalize(rows, p) {
    if (p.view === 'stages') {
      const typed = rows.map(({ window_from: _f, window_to: _t, ...r }) => r) as z.input<typeof stageRow>[];
      const w = rows[0] as { window_from?: string; window_to?: string } | undefined;
      return {
        rows: typed,
        n: Math.max(0, ...typed.map((r) => r.n)),
        summary: { window_from: w?.window_from ?? null, window_to: w?.window_to ?? null, min_deals: p.min_deals }
      };
    }
    if (p.view === 'accuracy') {
      const typed = rows as z.input<typeof accuracyRow>[];
      // WAPE over every period (and group) with a forecast, per method.
      const wape: Record<string, number | null> = {};
      const periods: Record<string, number> = {};
      for (const m of (p.method ?? FORECAST_METHODS) as Method[]) {
        const rs = typed.filter((r) => r.method === m && r.forecast !== null);
        const sumA = rs.reduce((s, r) => s + r.actual, 0);
        const sumE = rs.reduce((s, r) => s + Math.abs((r.forecast as number) - r.actual), 0);
        wape[m] = sumA > 0 ? sumE / sumA : null;
        periods[m] = rs.length;
      }
      const first = typed.filter((r) => r.method === typed[0]?.method);
      return { rows: typed, n: first.reduce((s, r) => s + r.n, 0), summary: { basis: p.basis, wape, periods } };
    }
    const typed = rows as z.input<typeof forecastRow>[];
    return {
      rows: typed,
      n: typed.reduce((s, r) => s + r.n, 0),
      summary: { probabilities: p.probabilities, date_fields: { closed_won: 'opportunities.closed_at', open_deals: 'opportunities.expected_close_date', target: 'targets.period_start' } }
    };
  }
});
