/**
 * Win/loss (赢单率/输单分析), metrics.md `win_loss`. Filters on the close date; only won and
 * lost deals count, open deals never enter a denominator.
 *
 * - won, lost: counts of deals won / lost (status) with closed_at in the period; n = won + lost.
 * - won_amount = Σ amount of won deals; lost_amount = Σ amount of lost deals, where a lost
 *   deal whose amount the source zeroed (0 or empty) counts with its last amount while open:
 *   the amount of its latest version in an open stage (opportunity_versions, precomputed in
 *   deal_facts.effective_amount). A zeroed deal without such a version keeps 0. `lost_valued_from_history` counts the deals so valued.
 * - win_rate = won / (won + lost) by count; win_rate_value = won_amount / (won_amount +
 *   lost_amount); null on a zero denominator.
 * - loss_reasons (`view=loss_reasons`): per reason (null = not given) the lost count and
 *   amount, share = lost / all lost, share_amount = lost_amount / all lost amount (within
 *   the group when grouped).
 * - `view=series`: the same measures per close-date bucket (`grain`, default month), every
 *   bucket of the period present (zero counts, null rates when empty).
 * - `group_by` any deal dimension, `competitor` included; rows of a grouping add up to the
 *   ungrouped total (deals without the attribute form a group with a null key).
 */
import { z } from 'zod';
import { defineModel } from './model';
import { grainParam, groupByParam, paramsSchema } from './common/params';
import { datedDeals, dimensionKey, dimensionLabel, teamGroupCtes, type Weighted } from './common/relations';
import { bucketStart, bucketsRelation } from './common/grain';
import { sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';

const WIN_LOSS_DIMENSIONS = [
  'team',
  'team_leaf',
  'owner',
  'region',
  'industry',
  'source',
  'product',
  'grade',
  'competitor',
  'month',
  'quarter'
] as const;

export const WIN_LOSS_VIEWS = ['summary', 'series', 'loss_reasons'] as const;

const params = paramsSchema({
  /** summary: one row (per group); series: per close-date bucket; loss_reasons: per reason. */
  view: z.enum(WIN_LOSS_VIEWS).default('summary'),
  group_by: groupByParam(WIN_LOSS_DIMENSIONS).optional(),
  /** Bucket size for `view=series`. */
  grain: grainParam.default('month')
});

const rate = z.number().min(0).max(1).nullable();
const count = z.number().int().nonnegative();

/** A row of `view=summary` (bucket null) or `view=series`. */
export const winLossOutcomeRow = z.strictObject({
  /** First day of the close-date bucket (series), else null. */
  bucket: z.string().nullable(),
  bucket_label: z.string().nullable(),
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  won: count,
  lost: count,
  won_amount: z.number(),
  lost_amount: z.number(),
  /** Lost deals zeroed by the source and valued at their last open amount. */
  lost_valued_from_history: count,
  win_rate: rate,
  win_rate_value: rate,
  /** Closed deals (won + lost). */
  n: count
});

/** A row of `view=loss_reasons`. */
export const winLossReasonRow = z.strictObject({
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  /** 输单原因; null when the deal gives none. */
  reason: z.string().nullable(),
  lost: count,
  lost_amount: z.number(),
  /** lost / all lost deals (of the group). */
  share: rate,
  /** lost_amount / all lost amount (of the group). */
  share_amount: rate,
  n: count
});

const row = z.union([winLossOutcomeRow, winLossReasonRow]);

export type WinLossOutcomeRow = z.infer<typeof winLossOutcomeRow>;
export type WinLossReasonRow = z.infer<typeof winLossReasonRow>;

/** The measures over `valued` rows aliased `v` (relations.ts datedDeals: `count` counts the deals behind them, `value` is their Σ effective amount). */
const measures = (count: Weighted['count']) => sql`
  ${count(sql`v.status = 'won'`)} AS won,
  ${count(sql`v.status = 'lost'`)} AS lost,
  coalesce(sum(v.value) FILTER (WHERE v.status = 'won'), 0)::DOUBLE AS won_amount,
  coalesce(sum(v.value) FILTER (WHERE v.status = 'lost'), 0)::DOUBLE AS lost_amount,
  coalesce(sum(v.from_history), 0)::INTEGER AS lost_valued_from_history`;

const RATES = unsafeRaw(`
  won::DOUBLE / nullif(won + lost, 0) AS win_rate,
  CASE WHEN won_amount >= 0 AND lost_amount >= 0 AND won_amount + lost_amount > 0 THEN won_amount / (won_amount + lost_amount) END AS win_rate_value`);

export const winLoss = defineModel({
  name: 'win_loss',
  title: { 'zh-CN': '赢单率与输单分析', en: 'Win/loss' },
  definition: {
    'zh-CN':
      '按赢单/输单日期统计本期关闭的商机，在途商机不计入。赢单率=赢单数/(赢单数+输单数)；金额赢单率=赢单金额/(赢单金额+输单金额)，输单金额被系统清零时取其输单前最后一次的金额。输单原因按原因统计数量、金额及占输单的比例。',
    en: 'Deals closed in the period, by close date; open deals never count. Win rate = won / (won + lost) by count; by value = won amount / (won + lost amount), a lost deal whose amount the source zeroed counting with its last amount while open. Loss reasons: count, amount and share of lost deals per reason.'
  },
  dateField: () => 'opportunities.closed_at',
  defaultPeriod: 'this_year',
  params,
  row,
  query(p, ctx) {
    const grouped = !!p.group_by;
    const key = p.group_by ? dimensionKey(p.group_by, ctx, sql`r.d`) : sql`NULL::VARCHAR`;
    const label = (k: Sql) => (p.group_by ? dimensionLabel(p.group_by, k, ctx) : sql`NULL::VARCHAR`);
    const reasons = p.view === 'loss_reasons';
    const closed = datedDeals(p, 'closed', ctx.period, { dims: [p.group_by], perDeal: reasons, alias: 'v' });
    const MEASURES = measures(closed.count);
    const ctes: [string, Sql, { materialized?: boolean }?][] = [
      ...(p.group_by === 'team' ? teamGroupCtes(p) : []),
      [
        // The deals closed in the period (relations.ts datedDeals: the rollup by owner and day when
        // the filters and grouping allow, else the deals; the loss reasons need the deals).
        // effective_amount is the amount, or for a lost deal the source zeroed its last amount
        // while open (warehouse/facts.ts), so no history is read here.
        'valued',
        sql`SELECT r.status, r.d AS closed_at, ${key}::VARCHAR AS group_key, r.n, r.from_history, r.value
              ${reasons ? sql`, r.loss_reason` : sql``}
            FROM ${closed.from} r
            WHERE r.status IN ('won', 'lost')`,
        // A grouped series reads it three times (its buckets' bounds, the groups, the measures):
        // a few hundred thousand narrow rows cost less than rescanning deal_facts. Ungrouped, the
        // bounds are a min/max DuckDB reads beside the measures' scan, and materializing 1.8M rows
        // at 10M deals cost more than it saved (131 vs 153 ms); the outcome and reasons views read
        // it once (issue 15.2).
        { materialized: p.view === 'series' && grouped }
      ]
    ];

    if (p.view === 'loss_reasons') {
      ctes.push([
        'reasons',
        unsafeRaw(`SELECT v.group_key, v.loss_reason AS reason, count(*)::INTEGER AS lost, coalesce(sum(v.value), 0)::DOUBLE AS lost_amount
          FROM valued v WHERE v.status = 'lost' GROUP BY v.group_key, v.loss_reason`),
        { materialized: true }
      ]);
      return {
        ctes,
        body: sql`SELECT x.group_key, ${label(sql`x.group_key`)}::VARCHAR AS group_label, x.reason, x.lost, x.lost_amount,
            x.lost::DOUBLE / nullif(sum(x.lost) OVER g, 0) AS share,
            CASE WHEN sum(x.lost_amount) OVER g > 0 THEN x.lost_amount / sum(x.lost_amount) OVER g END AS share_amount,
            x.lost AS n
          FROM reasons x
          WINDOW g AS (PARTITION BY x.group_key)
          ORDER BY sum(x.lost) OVER g DESC, x.group_key NULLS LAST, x.lost DESC, x.lost_amount DESC, x.reason NULLS LAST`
      };
    }

    if (p.view === 'series') {
      const fy = ctx.fiscalYearStartMonth;
      const start = bucketStart(sql`v.closed_at`, p.grain, fy);
      ctes.push(
        ['buckets', sql`SELECT bucket, label FROM ${bucketsRelation(ctx.period, p.grain, ctx, unsafeRaw(`SELECT min(closed_at) AS lo, max(closed_at) AS hi FROM valued`))}`],
        ['by_bucket', sql`SELECT ${start} AS bucket, v.group_key, ${MEASURES} FROM valued v GROUP BY ALL`],
        [
          'series_groups',
          grouped ? unsafeRaw(`SELECT DISTINCT group_key FROM valued`) : unsafeRaw(`SELECT NULL::VARCHAR AS group_key`)
        ],
        [
          'grid',
          unsafeRaw(`SELECT b.bucket, b.label, g.group_key,
              coalesce(x.won, 0) AS won, coalesce(x.lost, 0) AS lost,
              coalesce(x.won_amount, 0) AS won_amount, coalesce(x.lost_amount, 0) AS lost_amount,
              coalesce(x.lost_valued_from_history, 0) AS lost_valued_from_history
            FROM buckets b CROSS JOIN series_groups g
            LEFT JOIN by_bucket x ON x.bucket = b.bucket AND x.group_key IS NOT DISTINCT FROM g.group_key`)
        ]
      );
      return {
        ctes,
        body: sql`SELECT strftime(s.bucket, '%Y-%m-%d') AS bucket, s.label AS bucket_label,
            s.group_key, ${label(sql`s.group_key`)}::VARCHAR AS group_label,
            s.won, s.lost, s.won_amount, s.lost_amount, s.lost_valued_from_history, ${RATES}, (s.won + s.lost)::INTEGER AS n
          FROM grid s
          ORDER BY s.group_key NULLS LAST, s.bucket`
      };
    }

    ctes.push([
      'totals',
      grouped
        ? sql`SELECT v.group_key, ${MEASURES} FROM valued v GROUP BY v.group_key`
        : sql`SELECT NULL::VARCHAR AS group_key, ${MEASURES} FROM valued v`
    ]);
    return {
      ctes,
      body: sql`SELECT NULL::VARCHAR AS bucket, NULL::VARCHAR AS bucket_label,
          t.group_key, ${label(sql`t.group_key`)}::VARCHAR AS group_label,
          t.won, t.lost, t.won_amount, t.lost_amount, t.lost_valued_from_history, ${RATES}, (t.won + t.lost)::INTEGER AS n
        FROM totals t
        ORDER BY n DESC, t.group_key NULLS LAST`
    };
  }
});
