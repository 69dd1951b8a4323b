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
 *
 * The calls (`method=call_commit` / `call_best_case`, asked for by name; not in the default
 * set): per period, the last forecast call (src/lib/server/forecast-call) submitted for exactly
 * that period before its forecast moment, scored like the system's methods. The call of a cell:
 * by owner, the rep's own call; by team, the team's; ungrouped, the owner filter's reps' calls,
 * else the team filter's teams', else the top teams' in view — null unless every one of them
 * called, and null under any other filter (a call covers a whole book, not a region of it).
 */
import { z } from 'zod';
import { defineModel, type ModelContext } from './model';
import { grainParam, groupByParam, paramsSchema, type Dimension } from './common/params';
import { addDays, ALL_FROM, type Grain } from './common/period';
import { bucketLabel, bucketsRelation } from './common/grain';
import { momentCtes, type Moment } from './forecast-engine';
import { DEFAULT_WINDOW_MONTHS, type DataQuality } from '../warehouse/data-quality';
import { shockSigma, simulate } from './common/simulate';
import { dealsRelation, dimensionKey, dimensionLabel, inPeriod, teamGroupCtes } from './common/relations';
import { targetRows } from './common/targets';
import { and, join, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';

const FORECAST_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'product', 'grade', 'stage', 'month', 'quarter'] as const;
const ACCURACY_DIMENSIONS = ['team', 'team_leaf', 'owner'] as const;
export const FORECAST_VIEWS = ['forecast', 'stages', 'accuracy'] as const;
export const FORECAST_METHODS = ['weighted_configured', 'weighted_learned', 'commit', 'best_case', 'pipeline', 'statistical'] as const;
/** The submitted calls, scored beside the system in the accuracy view when asked for. */
export const CALL_METHODS = ['call_commit', 'call_best_case'] as const;
type Method = (typeof FORECAST_METHODS)[number];
type AnyMethod = Method | (typeof CALL_METHODS)[number];
const ALL_METHODS = [...FORECAST_METHODS, ...CALL_METHODS] as const;

const methodList = z
  .union([z.enum(ALL_METHODS), z.array(z.enum(ALL_METHODS))])
  .transform((v) => (Array.isArray(v) ? v : [v]));

const params = paramsSchema({
  view: z.enum(FORECAST_VIEWS).default('forecast'),
  group_by: groupByParam(FORECAST_DIMENSIONS).optional(),
  probabilities: z.enum(['configured', 'learned', 'statistical']).default('configured'),
  /** Statistical: the Monte Carlo's seed (the same seed, the same band) and number of draws. */
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(1),
  simulations: z.coerce.number().int().min(100).max(20_000).default(2000),
  /** Months of closed deals the learned probabilities come from. */
  window_months: z.coerce.number().int().min(1).max(120).default(DEFAULT_WINDOW_MONTHS),
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
  /** Accuracy: the methods to evaluate (default all the system's; the calls by name). */
  method: methodList.optional(),
  /** Accuracy (backtest): only the most recent this many periods (with `period=all`: the last N ended by the report date). */
  last: z.coerce.number().int().min(1).max(12).optional()
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
  /** Statistical: expected won amount of deals not yet created (created and won inside the period). */
  new_flow: z.number(),
  forecast: z.number(),
  /** Statistical: the Monte Carlo band (null for the other methods). */
  p10: z.number().nullable(),
  p50: z.number().nullable(),
  p90: z.number().nullable(),
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
  /** Data quality: open deals valued by the amount fallback / with no value at all; open deals with no or a past expected close date. */
  amount_fallback_n: z.number().int().nonnegative(),
  amount_missing_n: z.number().int().nonnegative(),
  undated_n: z.number().int().nonnegative(),
  past_due_n: z.number().int().nonnegative(),
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
  method: z.enum(ALL_METHODS),
  /** When the forecast was made: the backtest moment, or the snapshot's report date (a call: the day it was submitted). */
  frozen_at: z.string().nullable(),
  forecast: z.number().nullable(),
  actual: z.number(),
  error: z.number().nullable(),
  accuracy: z.number().min(0).max(1).nullable(),
  bias: z.number().nullable(),
  forecast_n: z.number().int().nonnegative(),
  actual_n: z.number().int().nonnegative(),
  /** Statistical: the band made with the forecast, and whether the actual fell inside P10–P90. */
  p10: z.number().nullable(),
  p90: z.number().nullable(),
  covered: z.boolean().nullable(),
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

/** Columns of a moment's `out` rows that only finalize reads (the interval's inputs, learning figures). */
const INTERNAL_F = ['stat_pipeline', 'stat_var', 'new_flow_sd', 'sigma', 'sigma_n', 'cuts_n', 'states_n', 'learn_from', 'learn_to', 'season_factor', 'seasonal'] as const;

function forecastView(p: Params, ctx: ModelContext) {
  const g = p.group_by as Dimension | undefined;
  const label = g ? dimensionLabel(g, sql`x.group_key`, ctx) : sql`NULL::VARCHAR`;
  const targets =
    p.target !== undefined
      ? sql`SELECT NULL::VARCHAR AS group_key, ${p.target}::DOUBLE AS target`
      : sql`SELECT group_key, sum(amount)::DOUBLE AS target FROM (${targetRows(p, g, 'won_amount', ctx.period)}) GROUP BY 1`;
  const stat = p.probabilities === 'statistical';
  // The report date's state: everything before the end of that day.
  const moment = { prefix: 'm_', t: addDays(ctx.asOf, 1), from: ctx.period.from, to: ctx.period.to };
  const weighted = p.probabilities === 'learned' ? sql`x.w_learned` : stat ? sql`x.stat_pipeline` : sql`x.w_configured`;
  return {
    ctes: [
      ...(g === 'team' ? teamGroupCtes(p) : []),
      ...momentCtes(moment, p, ctx, { learned: p.probabilities === 'learned', statistical: stat, dealDate: DEAL_DATE }),
      ['tgt', targets],
      ['x', sql`SELECT o.* EXCLUDE (group_key), k.group_key, t.target FROM (
          SELECT group_key FROM m_out ${g ? sql`UNION SELECT group_key FROM tgt` : sql``}) k
        LEFT JOIN m_out o ON o.group_key IS NOT DISTINCT FROM k.group_key
        LEFT JOIN tgt t ON t.group_key IS NOT DISTINCT FROM k.group_key`]
    ] as [string, Sql, { materialized?: boolean }?][],
    body: sql`SELECT x.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label,
        coalesce(x.closed_won, 0)::DOUBLE AS closed_won, coalesce(x.closed_won_n, 0)::INTEGER AS closed_won_n,
        coalesce(${weighted}, 0)::DOUBLE AS weighted_pipeline,
        coalesce(x.new_flow, 0)::DOUBLE AS new_flow,
        (coalesce(x.closed_won, 0) + coalesce(${weighted}, 0) + coalesce(x.new_flow, 0))::DOUBLE AS forecast,
        coalesce(x.open_pipeline, 0)::DOUBLE AS open_pipeline, coalesce(x.open_n, 0)::INTEGER AS open_n,
        (coalesce(x.closed_won, 0) + coalesce(x.commit_open, 0))::DOUBLE AS "commit",
        (coalesce(x.closed_won, 0) + coalesce(x.commit_open, 0) + coalesce(x.best_case_open, 0))::DOUBLE AS best_case,
        (coalesce(x.closed_won, 0) + coalesce(x.commit_open, 0) + coalesce(x.best_case_open, 0) + coalesce(x.pipeline_open, 0))::DOUBLE AS pipeline,
        coalesce(x.omitted, 0)::DOUBLE AS omitted, x.target,
        coalesce(x.closed_won, 0) / nullif(x.target, 0) AS attainment,
        x.target - coalesce(x.closed_won, 0) AS gap,
        CASE WHEN x.target - coalesce(x.closed_won, 0) > 0 THEN coalesce(x.open_pipeline, 0) / (x.target - coalesce(x.closed_won, 0)) END AS coverage,
        coalesce(x.amount_fallback_n, 0)::INTEGER AS amount_fallback_n, coalesce(x.amount_missing_n, 0)::INTEGER AS amount_missing_n,
        coalesce(x.undated_n, 0)::INTEGER AS undated_n, coalesce(x.past_due_n, 0)::INTEGER AS past_due_n,
        (coalesce(x.closed_won_n, 0) + ${stat ? sql`coalesce(x.stat_open_n, 0)` : sql`coalesce(x.open_n, 0)`})::INTEGER AS n,
        x.stat_pipeline, x.stat_var, x.new_flow_sd, x.sigma, x.sigma_n, x.cuts_n, x.states_n, x.learn_from, x.learn_to, x.season_factor, x.seasonal
      FROM x
      ORDER BY ${g ? sql`forecast DESC, group_key NULLS LAST` : sql`1`}`
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
  pipeline: 'f_pipeline',
  statistical: 'f_statistical'
};

/**
 * At most this many periods in one backtest (the most recent ones). Each period is the whole
 * point-in-time forecast as its own CTEs: 36 exceeded DuckDB's expression depth (a 500 for
 * `period=all`), and each costs about 2 s on the small demo (12 monthly periods: 27 s).
 */
const MAX_BACKTEST_PERIODS = 12;

function addMonthsStr(date: string, n: number): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1 + n, d)).toISOString().slice(0, 10);
}

function bucketStartStr(date: string, grain: Grain, fy: number): string {
  const [y, m, d] = date.split('-').map(Number);
  const dt = new Date(Date.UTC(y, m - 1, d));
  if (grain === 'day') return date;
  if (grain === 'week') return addDays(date, -((dt.getUTCDay() + 6) % 7));
  const first = `${date.slice(0, 7)}-01`;
  if (grain === 'month') return first;
  const offset = (m - fy + 12) % 12;
  return addMonthsStr(first, -(grain === 'quarter' ? offset % 3 : offset));
}

function nextBucket(b: string, grain: Grain): string {
  return grain === 'day' ? addDays(b, 1) : grain === 'week' ? addDays(b, 7) : addMonthsStr(b, grain === 'month' ? 1 : grain === 'quarter' ? 3 : 12);
}

/**
 * The backtest's moments: whole buckets overlapping the period that ended by the report date
 * (for `all`, the most recent ones), each forecast `frozenDay` days after it began.
 */
export function backtestMoments(ctx: ModelContext, grain: Grain, frozenDay: number, last = MAX_BACKTEST_PERIODS): Moment[] {
  const all = ctx.period.preset === 'all' || ctx.period.from <= ALL_FROM;
  let b = bucketStartStr(all ? ctx.asOf : ctx.period.from, grain, ctx.fiscalYearStartMonth);
  if (all) for (let i = 0; i < MAX_BACKTEST_PERIODS; i++) b = bucketStartStr(addDays(b, -1), grain, ctx.fiscalYearStartMonth);
  const out: Moment[] = [];
  for (let guard = 0; guard < 100_000 && b < ctx.period.to; guard++) {
    const end = nextBucket(b, grain);
    if (end > ctx.asOf) break;
    const t = addDays(b, frozenDay);
    if (t < end) out.push({ prefix: '', t, from: b, to: end });
    b = end;
  }
  return out.slice(-Math.min(last, MAX_BACKTEST_PERIODS)).map((m, i) => ({ ...m, prefix: `b${i}_` }));
}

/**
 * `WITH <ctes> <body>`, to be used as a subquery: CTEs written as compileModel writes a model's
 * (src/lib/server/models/run.ts), scoped to that subquery. The outer CTEs (scope, stages, …)
 * stay visible inside it.
 */
function withCtes(ctes: [string, Sql, { materialized?: boolean }?][], body: Sql): Sql {
  const parts = ctes.map(([name, q, o]) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid CTE name "${name}"`);
    const mat = o?.materialized === true ? 'MATERIALIZED ' : o?.materialized === false ? 'NOT MATERIALIZED ' : '';
    return sql`${unsafeRaw(name)} AS ${unsafeRaw(mat)}(${q})`;
  });
  return sql`WITH ${join(parts, ',\n')}\n${body}`;
}

function accuracyView(p: Params, ctx: ModelContext) {
  const g = p.group_by as Dimension | undefined;
  const grain = p.grain as Grain;
  const asked = (p.method ?? FORECAST_METHODS) as AnyMethod[];
  const methods = asked.filter((m): m is Method => (FORECAST_METHODS as readonly string[]).includes(m));
  const callMethods = asked.filter((m) => !(FORECAST_METHODS as readonly string[]).includes(m));
  const key = g ? dimensionKey(g, ctx) : sql`NULL::VARCHAR`;
  const label = g ? dimensionLabel(g, sql`x.group_key`, ctx) : sql`NULL::VARCHAR`;
  const deals = sql`SELECT r.*, ${key} AS group_key FROM ${dealsRelation(p)} r`;
  // Whole buckets overlapping the period (for `all`: from the first deal on) that ended by the
  // report date; the forecast moment is frozen_at_day days into each.
  const times = sql`SELECT bucket AS tid, bucket, bucket_end, label, (bucket + to_days(${p.frozen_at_day}::INTEGER))::TIMESTAMP AS t
    FROM ${bucketsRelation(ctx.period, grain, ctx, sql`SELECT min(created_at) AS lo, max(greatest(created_at, closed_at)) AS hi FROM deal_facts`)}
    WHERE bucket_end <= ${ctx.asOf}::DATE AND bucket + to_days(${p.frozen_at_day}::INTEGER) < bucket_end`;

  const common: [string, Sql, { materialized?: boolean }?][] = [
    ...(g === 'team' ? teamGroupCtes(p) : []),
    ['acc_times', times],
    // Read three times; rescanning the facts beats materializing a million wide rows.
    ['acc_deals', deals, { materialized: false }],
    ['actual', sql`SELECT t.tid, d.group_key, sum(d.amount)::DOUBLE AS actual, count(*)::INTEGER AS actual_n
      FROM acc_times t JOIN acc_deals d ON d.status = 'won' AND d.closed_at >= t.bucket AND d.closed_at < t.bucket_end
      GROUP BY ALL`]
  ];

  const methodUnion = methods.length
    ? callMethods.length
      ? sql`${unionMethods(methods)} UNION ALL ${callUnion(callMethods)}`
      : unionMethods(methods)
    : callUnion(callMethods);
  const callCtes: [string, Sql][] = callMethods.length ? callsCtes(p, g) : [];

  if (p.basis === 'backtest') {
    // Each period's forecast is the forecast view's own computation as of its moment (the
    // deals as they were then, models/forecast-engine.ts): no hindsight.
    const moments = backtestMoments(ctx, grain, p.frozen_at_day, p.last);
    // Only calls asked for: the periods and moments, not the system's forecasts.
    const systemMoments = methods.length ? moments : [];
    const eng = { learned: methods.includes('weighted_learned'), statistical: methods.includes('statistical'), dealDate: DEAL_DATE };
    const timesValues = moments.length
      ? sql`SELECT * FROM (VALUES ${join(moments.map((m, i) => sql`(${i}::INTEGER, ${m.from}::DATE, ${m.to}::DATE, ${m.t}::TIMESTAMP)`))}) v(tid, bucket, bucket_end, t)`
      : sql`SELECT NULL::INTEGER AS tid, NULL::DATE AS bucket, NULL::DATE AS bucket_end, NULL::TIMESTAMP AS t WHERE false`;
    // Each moment's CTE chain is a subquery of its own inside its branch of the union, not
    // ~25 more CTEs per moment in the statement's one WITH list: the same SQL, a third less
    // DuckDB planning for `period=all`'s 12 moments (docs/decisions.md, 7 Dec, acc).
    const fc = systemMoments.length
      ? join(systemMoments.map((m, i) => sql`SELECT ${i}::INTEGER AS tid, * FROM (${withCtes(momentCtes(m, p, ctx, eng), unsafeRaw(`SELECT * FROM ${m.prefix}out`))})`), ' UNION ALL ')
      : sql`SELECT NULL::INTEGER AS tid, NULL::VARCHAR AS group_key WHERE false`;
    const all = ctx.period.preset === 'all' || ctx.period.from <= ALL_FROM;
    return {
      ctes: [
        ...(g === 'team' ? teamGroupCtes(p) : []),
        // For `all`, periods that ended before the first deal existed are left out.
        ['acc_times', sql`SELECT v.*, ${bucketLabel(sql`v.bucket`, grain, ctx)} AS label FROM (${timesValues}) v
          WHERE ${all ? sql`v.bucket_end > (SELECT min(created_at) FROM deal_facts)` : sql`true`}`],
        ['acc_deals', deals, { materialized: false }],
        ['actual', sql`SELECT t.tid, d.group_key, sum(d.amount)::DOUBLE AS actual, count(*)::INTEGER AS actual_n
          FROM acc_times t JOIN acc_deals d ON d.status = 'won' AND d.closed_at >= t.bucket AND d.closed_at < t.bucket_end
          GROUP BY ALL`],
        ['fc', fc],
        ...callCtes,
        // A call makes no cell of its own: cells are the groups the system forecast or won in.
        ['cells', cellsSql(!!g, ['fc'])],
        ['f', systemMoments.length
          ? sql`SELECT c.tid, c.group_key, strftime(c.t, '%Y-%m-%d') AS frozen_at,
            coalesce(o.closed_won, 0) + coalesce(o.w_configured, 0) AS f_configured,
            coalesce(o.closed_won, 0) + coalesce(o.w_learned, 0) AS f_learned,
            coalesce(o.closed_won, 0) + coalesce(o.commit_open, 0) AS f_commit,
            coalesce(o.closed_won, 0) + coalesce(o.commit_open, 0) + coalesce(o.best_case_open, 0) AS f_best_case,
            coalesce(o.closed_won, 0) + coalesce(o.commit_open, 0) + coalesce(o.best_case_open, 0) + coalesce(o.pipeline_open, 0) AS f_pipeline,
            coalesce(o.closed_won, 0) + coalesce(o.stat_pipeline, 0) + coalesce(o.new_flow, 0) AS f_statistical,
            coalesce(o.closed_won, 0) AS s_won, coalesce(o.stat_pipeline, 0) + coalesce(o.new_flow, 0) AS s_mean,
            coalesce(o.stat_var, 0) AS s_var, coalesce(o.new_flow_sd, 0) AS s_nf_sd, o.sigma AS s_sigma, o.sigma_n AS s_sigma_n,
            (coalesce(o.closed_won_n, 0) + coalesce(o.open_n, 0))::INTEGER AS forecast_n, NULL::DOUBLE AS b_p10, NULL::DOUBLE AS b_p90
          FROM cells c LEFT JOIN fc o ON o.tid = c.tid AND o.group_key IS NOT DISTINCT FROM c.group_key`
          : sql`SELECT NULL::INTEGER AS tid, NULL::VARCHAR AS group_key, NULL::VARCHAR AS frozen_at, ${unsafeRaw(Object.values(METHOD_COLUMNS).map((c) => `NULL::DOUBLE AS ${c}`).join(', '))},
              NULL::DOUBLE AS s_won, NULL::DOUBLE AS s_mean, NULL::DOUBLE AS s_var, NULL::DOUBLE AS s_nf_sd, NULL::DOUBLE AS s_sigma, NULL::INTEGER AS s_sigma_n, 0 AS forecast_n, NULL::DOUBLE AS b_p10, NULL::DOUBLE AS b_p90 WHERE false`],
        ['by_method', methodUnion]
      ] as [string, Sql, { materialized?: boolean }?][],
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
          sum(s.forecast_statistical) AS f_statistical,
          -- The frozen band: the owner's own when the cell is one owner row, the snapshot
          -- total's when it spans all the snapshot's owner rows; else none (quantiles do not add).
          CASE WHEN count(*) = 1 THEN any_value(s.stat_p10) WHEN count(*) = any_value(s.total_owners) THEN any_value(s.total_p10) END AS b_p10,
          CASE WHEN count(*) = 1 THEN any_value(s.stat_p90) WHEN count(*) = any_value(s.total_owners) THEN any_value(s.total_p90) END AS b_p90,
          sum(s.closed_won_n + s.open_n)::INTEGER AS forecast_n
        FROM snap_day d JOIN acc_times t ON t.tid = d.tid
        JOIN snaps s ON s.as_of = d.as_of AND s.period_from = t.bucket AND s.period_to = t.bucket_end
        GROUP BY ALL`],
      // Snapshots frozen before the statistical forecast was (migration 16) have it NULL: not
      // frozen, so that period has no statistical forecast rather than 0.
      ['snap_stat', sql`SELECT d.tid, bool_and(s.forecast_statistical IS NOT NULL) AS stat_frozen
        FROM snap_day d JOIN acc_times t ON t.tid = d.tid
        JOIN snaps s ON s.as_of = d.as_of AND s.period_from = t.bucket AND s.period_to = t.bucket_end
        GROUP BY d.tid`],
      ...callCtes,
      ['cells', cellsSql(!!g, ['frozen'])],
      // A bucket without a snapshot has no forecast (null); a group without a row on the
      // snapshot day had nothing to forecast (0).
      ['f', sql`SELECT c.tid, c.group_key, strftime(d.as_of, '%Y-%m-%d') AS frozen_at,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_configured, 0) END AS f_configured,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_learned, 0) END AS f_learned,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_commit, 0) END AS f_commit,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_best_case, 0) END AS f_best_case,
          CASE WHEN d.as_of IS NOT NULL THEN coalesce(fr.f_pipeline, 0) END AS f_pipeline,
          CASE WHEN d.as_of IS NOT NULL AND ss.stat_frozen THEN coalesce(fr.f_statistical, 0) END AS f_statistical,
          NULL::DOUBLE AS s_won, NULL::DOUBLE AS s_mean, NULL::DOUBLE AS s_var, NULL::DOUBLE AS s_nf_sd, NULL::DOUBLE AS s_sigma, NULL::INTEGER AS s_sigma_n,
          coalesce(fr.forecast_n, 0)::INTEGER AS forecast_n,
          CASE WHEN ss.stat_frozen THEN fr.b_p10 END AS b_p10, CASE WHEN ss.stat_frozen THEN fr.b_p90 END AS b_p90
        FROM cells c
        LEFT JOIN snap_day d ON d.tid = c.tid
        LEFT JOIN snap_stat ss ON ss.tid = c.tid
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

/**
 * `call_f(tid, group_key, frozen_at, c_commit, c_best)`: per period (`acc_times`) and cell, the
 * calls submitted for exactly that period before its moment `t`, the last one per subject.
 */
function callsCtes(p: Params, g: Dimension | undefined): [string, Sql][] {
  const last: [string, Sql] = [
    'call_last',
    sql`SELECT t.tid, c.level, c.subject, c.commit_amount::DOUBLE AS c_commit, c.best_case_amount::DOUBLE AS c_best, c.submitted_at
      FROM acc_times t JOIN forecast_calls c ON c.period_from = t.bucket AND c.period_to = t.bucket_end AND c.submitted_at < t.t
      QUALIFY row_number() OVER (PARTITION BY t.tid, c.level, c.subject ORDER BY c.submitted_at DESC, c.seq DESC) = 1`
  ];
  const cols = sql`strftime(max(submitted_at), '%Y-%m-%d') AS frozen_at, sum(c_commit) AS c_commit, sum(c_best) AS c_best`;
  // A call covers a rep's or team's whole book: under a region/industry/… filter there is none to compare.
  const other = (['region', 'industry', 'source', 'product', 'grade'] as const).some((f) => (p[f] ?? []).length > 0);
  if (other) return [last, ['call_f', sql`SELECT NULL::INTEGER AS tid, NULL::VARCHAR AS group_key, NULL::VARCHAR AS frozen_at, NULL::DOUBLE AS c_commit, NULL::DOUBLE AS c_best WHERE false`]];
  if (g === 'owner') return [last, ['call_f', sql`SELECT tid, subject AS group_key, ${cols} FROM call_last WHERE level = 'rep' GROUP BY ALL`]];
  if (g === 'team' || g === 'team_leaf') return [last, ['call_f', sql`SELECT tid, subject AS group_key, ${cols} FROM call_last WHERE level = 'team' GROUP BY ALL`]];
  const owners = p.owner ?? [];
  const teams = p.team ?? [];
  // Whose calls make the whole view's: the filter's reps, else its teams, else the top teams in view.
  const subjects = owners.length
    ? sql`SELECT 'rep' AS level, unnest(${owners}::VARCHAR[]) AS subject`
    : teams.length
      ? sql`SELECT 'team' AS level, unnest(${teams}::VARCHAR[]) AS subject`
      : sql`SELECT 'team' AS level, team_id AS subject FROM teams WHERE parent_id IS NULL OR parent_id NOT IN (SELECT team_id FROM teams)`;
  return [
    last,
    ['call_subjects', subjects],
    // Null unless every subject called for the period.
    ['call_f', sql`SELECT c.tid, NULL::VARCHAR AS group_key, ${cols} FROM call_last c JOIN call_subjects s ON s.level = c.level AND s.subject = c.subject
      GROUP BY c.tid HAVING count(*) = (SELECT count(*) FROM call_subjects)`]
  ];
}

/** The call methods' rows, shaped like `unionMethods`' (no band). */
function callUnion(methods: AnyMethod[]): Sql {
  const parts = methods.map(
    (m) => sql`SELECT c.tid, c.group_key, cf.frozen_at, ${m} AS method, ${unsafeRaw(m === 'call_commit' ? 'cf.c_commit' : 'cf.c_best')}::DOUBLE AS forecast, 0 AS forecast_n,
      NULL::DOUBLE AS s_won, NULL::DOUBLE AS s_mean, NULL::DOUBLE AS s_var, NULL::DOUBLE AS s_nf_sd, NULL::DOUBLE AS s_sigma, NULL::INTEGER AS s_sigma_n,
      NULL::DOUBLE AS b_p10, NULL::DOUBLE AS b_p90
      FROM cells c LEFT JOIN call_f cf ON cf.tid = c.tid AND cf.group_key IS NOT DISTINCT FROM c.group_key`
  );
  return join(parts, ' UNION ALL ');
}

function unionMethods(methods: Method[]): Sql {
  const parts = methods.map(
    (m) => sql`SELECT tid, group_key, frozen_at, ${m} AS method, ${unsafeRaw(METHOD_COLUMNS[m])}::DOUBLE AS forecast, forecast_n,
      ${m === 'statistical' ? unsafeRaw('s_won, s_mean, s_var, s_nf_sd, s_sigma, s_sigma_n, b_p10, b_p90') : unsafeRaw('NULL::DOUBLE AS s_won, NULL::DOUBLE AS s_mean, NULL::DOUBLE AS s_var, NULL::DOUBLE AS s_nf_sd, NULL::DOUBLE AS s_sigma, NULL::INTEGER AS s_sigma_n, NULL::DOUBLE AS b_p10, NULL::DOUBLE AS b_p90')} FROM f`
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
      x.forecast_n, coalesce(a.actual_n, 0)::INTEGER AS actual_n, coalesce(a.actual_n, 0)::INTEGER AS n,
      x.tid AS s_tid, x.s_won, x.s_mean, x.s_var, x.s_nf_sd, x.s_sigma, x.s_sigma_n, x.b_p10, x.b_p90
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
  finalize(rows, p, ctx) {
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
      const methods = (p.method ?? FORECAST_METHODS) as AnyMethod[];
      type Raw = z.input<typeof accuracyRow> & { s_tid: number; s_won: number | null; s_mean: number | null; s_var: number | null; s_nf_sd: number | null; s_sigma: number | null; s_sigma_n: number | null; b_p10: number | null; b_p90: number | null };
      const raw = rows as Raw[];
      // The statistical rows' bands: one simulation per period, the groups sharing its shock.
      const bands = new Map<Raw, { p10: number; p90: number }>();
      const byTid = new Map<number, Raw[]>();
      for (const r of raw) if (r.method === 'statistical' && r.forecast !== null && r.s_mean !== null) byTid.set(r.s_tid, [...(byTid.get(r.s_tid) ?? []), r]);
      for (const [tid, rs] of byTid) {
        const sim = simulate(
          rs.map((r) => ({ won: r.s_won ?? 0, mean: r.s_mean ?? 0, variance: r.s_var ?? 0, nfSd: r.s_nf_sd ?? 0 })),
          shockSigma(rs[0].s_sigma, rs[0].s_sigma_n),
          p.seed + tid,
          p.simulations
        );
        rs.forEach((r, i) => bands.set(r, sim.cells[i]));
      }
      const typed = raw.map(({ s_tid: _t, s_won: _w, s_mean: _m, s_var: _v, s_nf_sd: _n, s_sigma: _s, s_sigma_n: _sn, b_p10: bp10, b_p90: bp90, ...r }, i) => {
        // A frozen snapshot's band (basis=snapshots) as it was frozen; a backtest's simulated now.
        const b = bands.get(raw[i]) ?? (r.forecast !== null && bp10 !== null && bp90 !== null ? { p10: bp10, p90: bp90 } : undefined);
        return { ...r, p10: b?.p10 ?? null, p90: b?.p90 ?? null, covered: b ? r.actual >= b.p10 && r.actual <= b.p90 : null };
      });
      // Over every period (and group) with a forecast, per method: WAPE = Σ|F − A| / ΣA,
      // bias = Σ(F − A) / ΣA, and for the statistical method the P10–P90 coverage.
      const wape: Record<string, number | null> = {};
      const bias: Record<string, number | null> = {};
      const periods: Record<string, number> = {};
      const coverage: Record<string, { covered: number; of: number; mean_half_width: number | null } | null> = {};
      for (const m of methods) {
        const rs = typed.filter((r) => r.method === m && r.forecast !== null);
        const sumA = rs.reduce((s, r) => s + r.actual, 0);
        const sumE = rs.reduce((s, r) => s + Math.abs((r.forecast as number) - r.actual), 0);
        const sumD = rs.reduce((s, r) => s + ((r.forecast as number) - r.actual), 0);
        wape[m] = sumA > 0 ? sumE / sumA : null;
        bias[m] = sumA > 0 ? sumD / sumA : null;
        periods[m] = rs.length;
        const banded = rs.filter((r) => r.covered !== null);
        const withA = banded.filter((r) => r.actual > 0);
        coverage[m] = banded.length
          ? {
              covered: banded.filter((r) => r.covered).length,
              of: banded.length,
              // Half the P10–P90 width as a share of the actual, averaged over periods with an actual.
              mean_half_width: withA.length ? withA.reduce((s, r) => s + ((r.p90 as number) - (r.p10 as number)) / 2 / r.actual, 0) / withA.length : null
            }
          : null;
      }
      const first = typed.filter((r) => r.method === typed[0]?.method);
      return { rows: typed, n: first.reduce((s, r) => s + r.n, 0), summary: { basis: p.basis, wape, bias, coverage, periods } };
    }
    type RawF = z.input<typeof forecastRow> & Record<(typeof INTERNAL_F)[number], number | string | null>;
    const raw = rows as RawF[];
    const stat = p.probabilities === 'statistical';
    const sim = stat
      ? simulate(
          raw.map((r) => ({ won: r.closed_won, mean: (Number(r.stat_pipeline) || 0) + r.new_flow, variance: Number(r.stat_var) || 0, nfSd: Number(r.new_flow_sd) || 0 })),
          shockSigma(raw[0]?.sigma as number | null, raw[0]?.sigma_n as number | null),
          p.seed,
          p.simulations
        )
      : null;
    const typed = raw.map((r, i) => {
      const out: Record<string, unknown> = { ...r };
      for (const k of INTERNAL_F) delete out[k];
      const b = sim?.cells[i];
      return { ...out, p10: b?.p10 ?? null, p50: b?.p50 ?? null, p90: b?.p90 ?? null } as z.input<typeof forecastRow>;
    });
    const first = raw[0];
    const dq: DataQuality = {
      amount_fallback: typed.reduce((s, r) => s + r.amount_fallback_n, 0),
      amount_missing: typed.reduce((s, r) => s + r.amount_missing_n, 0),
      undated: typed.reduce((s, r) => s + r.undated_n, 0),
      past_due: typed.reduce((s, r) => s + r.past_due_n, 0)
    };
    return {
      rows: typed,
      n: typed.reduce((s, r) => s + r.n, 0),
      summary: {
        probabilities: p.probabilities,
        as_at: addDays(ctx.asOf, 1),
        data_quality: dq,
        ...(stat
          ? {
              learned: {
                window_from: first?.learn_from ?? null,
                window_to: first?.learn_to ?? null,
                past_instants: first?.cuts_n ?? 0,
                states: first?.states_n ?? 0,
                month_of_quarter_effect: first?.seasonal ?? null,
                season_factor: first?.season_factor ?? null,
                sigma: shockSigma(first?.sigma as number | null, first?.sigma_n as number | null),
                min_deals: p.min_deals
              },
              band: sim ? { ...sim.total, seed: p.seed, simulations: p.simulations } : null
            }
          : {}),
        date_fields: { closed_won: 'opportunities.closed_at', open_deals: 'opportunities.expected_close_date', target: 'targets.period_start' }
      }
    };
  }
});
