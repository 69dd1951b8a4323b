/**
 * Trend (metrics.md, KPIs and trends — `trend`): one measure by `grain` over the period, one
 * row per bucket, empty buckets included as zero (null for a ratio).
 *
 * Measures, each on its own date:
 * - won_amount: Σ amount of deals won, by close date (`opportunities.closed_at`); n = won deals.
 * - collected_amount: Σ paid_amount (amount when the row has none) by payment date
 *   (`payments.paid_at`); n = payments.
 * - new_customers: customers whose first won deal (among the deals in view) closed in the
 *   bucket (`opportunities.closed_at`); n = those customers.
 * - new_opportunities: deals created in the bucket (`opportunities.created_at`).
 * - win_rate: won / (won + lost) by count among deals closed in the bucket; null when none
 *   closed; n = won + lost.
 * - weighted_forecast: won in the bucket + Σ amount × p over open deals whose expected close
 *   date falls in it (p = the deal's probability, else its stage's configured one — the
 *   `kpis` weighted forecast, bucket by bucket); n = won + open deals.
 *
 * `cumulative` is the running total within the period (amounts and counts); `target` is the
 * target rows lying inside the bucket (common/targets.ts; won_amount, collected_amount and
 * new_customers only). With `group_by`, one series per group, each with every bucket; the
 * groups add up to the ungrouped series.
 */
import { z } from 'zod';
import { defineModel, type ModelContext } from './model';
import { grainParam, groupByParam, paramsSchema, type CommonParams, type Dimension } from './common/params';
import { bucketStart, bucketsRelation } from './common/grain';
import { datedDeals, dealsRelation, dimensionKey, dimensionLabel, inPeriod, paidPayments, teamGroupCtes } from './common/relations';
import { targetRows, type TargetMetric } from './common/targets';
import { sql, type Sql } from '../src/lib/server/db/sql';
import type { Grain, Period } from './common/period';

export const TREND_MEASURES = ['won_amount', 'collected_amount', 'new_customers', 'new_opportunities', 'win_rate', 'weighted_forecast'] as const;
type Measure = (typeof TREND_MEASURES)[number];

const TREND_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'product', 'grade'] as const;

const params = paramsSchema({
  measure: z.enum(TREND_MEASURES).default('won_amount'),
  grain: grainParam.default('month'),
  group_by: groupByParam(TREND_DIMENSIONS).optional()
});

const row = z.strictObject({
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  /** First day of the bucket, `YYYY-MM-DD`. */
  bucket: z.string(),
  label: z.string(),
  /** The bucket clipped to the period: first day and exclusive end. */
  from: z.string(),
  to: z.string(),
  value: z.number().nullable(),
  cumulative: z.number().nullable(),
  target: z.number().nullable(),
  n: z.number().int().nonnegative()
});

const DATE_FIELD: Record<Measure, string> = {
  won_amount: 'opportunities.closed_at',
  collected_amount: 'payments.paid_at',
  new_customers: 'opportunities.closed_at',
  new_opportunities: 'opportunities.created_at',
  win_rate: 'opportunities.closed_at',
  weighted_forecast: 'opportunities.expected_close_date'
};

const TARGET_METRIC: Partial<Record<Measure, TargetMetric>> = {
  won_amount: 'won_amount',
  collected_amount: 'collected_amount',
  new_customers: 'new_customers'
};

const UNIT: Record<Measure, 'currency' | 'count' | 'ratio'> = {
  won_amount: 'currency',
  collected_amount: 'currency',
  new_customers: 'count',
  new_opportunities: 'count',
  win_rate: 'ratio',
  weighted_forecast: 'currency'
};

/**
 * `events(group_key, d, num, den, n)`: one line per record with its date `d`; the bucket value
 * is Σ num (over Σ den for a ratio) and n is Σ n.
 */
function events(measure: Measure, p: CommonParams & { group_by?: Dimension }, ctx: ModelContext, period: Period): Sql {
  const g = p.group_by;
  const key = (date?: Sql) => (g ? dimensionKey(g, ctx, date) : sql`NULL::VARCHAR`);
  // Over the dated deals and payments received (relations.ts datedDeals, paidPayments: the
  // rollups by owner and day when the filters and grouping allow, else the rows; a row is `n`
  // deals or payments).
  const dated = (role: 'closed' | 'created' | 'expected') => sql`${datedDeals(p, role, period, { dims: [g] }).from} r`;
  switch (measure) {
    case 'won_amount':
      return sql`SELECT ${key()} AS group_key, r.d, r.amount::DOUBLE AS num, 0 AS den, r.n FROM ${dated('closed')} WHERE r.status = 'won'`;
    case 'collected_amount':
      return sql`SELECT ${key()} AS group_key, r.d, r.collected::DOUBLE AS num, 0 AS den, r.n FROM ${paidPayments(p, period, [g]).from} r`;
    case 'new_opportunities':
      return sql`SELECT ${key()} AS group_key, r.d, r.n::DOUBLE AS num, 0 AS den, r.n FROM ${dated('created')}`;
    case 'win_rate':
      return sql`SELECT ${key()} AS group_key, r.d, CASE WHEN r.status = 'won' THEN r.n ELSE 0 END::DOUBLE AS num, r.n AS den, r.n
        FROM ${dated('closed')} WHERE r.status IN ('won', 'lost')`;
    case 'weighted_forecast':
      // won in the bucket by close date, open by expected close date
      return sql`SELECT ${key()} AS group_key, r.d, r.amount::DOUBLE AS num, 0 AS den, r.n FROM ${dated('closed')} WHERE r.status = 'won'
        UNION ALL
        SELECT ${key()} AS group_key, r.d, r.weighted::DOUBLE AS num, 0 AS den, r.n FROM ${dated('expected')} WHERE r.status = 'open'`;
    case 'new_customers': {
      // The first won deal of each customer, when it closed in the period: customers with a
      // win in the period and none before it.
      const deals = dealsRelation(p);
      return sql`SELECT arg_min(group_key, r.closed_at) AS group_key, min(r.closed_at) AS d, 1.0 AS num, 0 AS den, 1 AS n
        FROM (SELECT r.*, ${key()} AS group_key FROM ${deals} r
              WHERE r.status = 'won' AND r.customer_id IS NOT NULL AND ${inPeriod(sql`r.closed_at`, period)}) r
        WHERE NOT EXISTS (SELECT 1 FROM ${deals} e
                          WHERE e.customer_id = r.customer_id AND e.status = 'won' AND e.closed_at < ${period.from}::TIMESTAMP)
        GROUP BY r.customer_id`;
    }
  }
}

/** The earliest and latest date of a measure in the data, for the `all` period. */
function bounds(): Sql {
  return sql`SELECT min(d) AS lo, max(d) AS hi FROM events`;
}

export const trend = defineModel({
  name: 'trend',
  title: { 'zh-CN': '趋势', en: 'Trend' },
  definition: {
    'zh-CN':
      '一个指标按时间粒度（日/周/月/季/年，季度与年度按财年）逐期列出，无数据的期间记为0（比率记为空）。赢单金额与赢单率按成交日期，回款按实际回款日期，新客户为首次赢单落在该期的客户，新增商机按创建日期，加权预测=该期已赢单+预计该期成交的在途商机金额×赢率。累计值为期内逐期累加；目标为落在该期内的目标。',
    en: 'One measure by day, week, month, quarter or year (fiscal) over the period; empty buckets are zero (null for a ratio). Won amount and win rate by close date, collected by payment date, new customers by their first win, new opportunities by creation date, weighted forecast = won in the bucket + open deals expected to close in it × probability. Cumulative is the running total; target is the targets lying inside the bucket.'
  },
  dateField: (p) => DATE_FIELD[p.measure],
  defaultPeriod: 'this_year',
  params,
  row,
  query(p, ctx) {
    const measure = p.measure as Measure;
    const grain = p.grain as Grain;
    const g = p.group_by as Dimension | undefined;
    const ratio = UNIT[measure] === 'ratio';
    const tm = TARGET_METRIC[measure];
    const label = g ? dimensionLabel(g, sql`s.group_key`, ctx) : sql`NULL::VARCHAR`;
    return {
      ctes: [
        ...(g === 'team' ? teamGroupCtes(p) : []),
        ['events', events(measure, p, ctx, ctx.period)],
        ['buckets', bucketsRelation(ctx.period, grain, ctx, bounds())],
        ['agg', sql`SELECT group_key, ${bucketStart(sql`d`, grain, ctx.fiscalYearStartMonth)} AS bucket,
            sum(num)::DOUBLE AS num, sum(den)::DOUBLE AS den, sum(n)::INTEGER AS n
          FROM events GROUP BY ALL`],
        ['targets_in', tm ? targetRows(p, g, tm, ctx.period) : sql`SELECT NULL::VARCHAR AS group_key, NULL::DATE AS period_start, NULL::DATE AS period_end, NULL::DOUBLE AS amount WHERE FALSE`],
        // Ungrouped there is always the one series; grouped, a series per group with data
        // or a target in the period.
        ['series', g
          ? sql`SELECT DISTINCT group_key FROM agg UNION SELECT DISTINCT group_key FROM targets_in`
          : sql`SELECT NULL::VARCHAR AS group_key`],
        ['cells', sql`SELECT s.group_key, b.bucket, b.bucket_end, b.b_from, b.b_to, b.label,
            coalesce(a.num, 0) AS num, coalesce(a.den, 0) AS den, coalesce(a.n, 0)::INTEGER AS n,
            (SELECT sum(t.amount) FROM targets_in t
               WHERE t.group_key IS NOT DISTINCT FROM s.group_key AND t.period_start >= b.bucket AND t.period_end <= b.bucket_end)::DOUBLE AS target
          FROM series s CROSS JOIN buckets b
          LEFT JOIN agg a ON a.group_key IS NOT DISTINCT FROM s.group_key AND a.bucket = b.bucket`]
      ],
      body: sql`SELECT s.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label,
          strftime(s.bucket, '%Y-%m-%d') AS bucket, s.label, strftime(s.b_from, '%Y-%m-%d') AS "from", strftime(s.b_to, '%Y-%m-%d') AS "to",
          ${ratio ? sql`s.num / nullif(s.den, 0)` : sql`s.num`}::DOUBLE AS value,
          ${ratio ? sql`NULL` : sql`sum(s.num) OVER (PARTITION BY s.group_key ORDER BY s.bucket)`}::DOUBLE AS cumulative,
          s.target, s.n
        FROM cells s
        ORDER BY ${g ? sql`s.group_key NULLS LAST,` : sql``} s.bucket`
    };
  },
  finalize(rows, p) {
    const typed = rows as z.input<typeof row>[];
    const measure = p.measure as Measure;
    const n = typed.reduce((s, r) => s + r.n, 0);
    // For a ratio, value × n is the bucket's numerator (won deals), so the period's rate is
    // Σ(value × n) / Σ n.
    const total =
      UNIT[measure] === 'ratio'
        ? n > 0
          ? typed.reduce((s, r) => s + (r.value ?? 0) * r.n, 0) / n
          : null
        : typed.reduce((s, r) => s + (r.value ?? 0), 0);
    return { rows: typed, n, summary: { measure, unit: UNIT[measure], grain: p.grain, total } };
  }
});
