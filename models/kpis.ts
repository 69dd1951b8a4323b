/**
 * KPI cards (metrics.md, KPIs and trends — `kpis`): each measure for the period, the same
 * measure over the previous period, and the change.
 *
 * - won_amount: Σ amount of deals won (closed_at) in the period; n = won deals.
 * - collected_amount: Σ paid_amount of payments with paid_at in the period (paid_amount
 *   defaults to amount when paid_at is set); n = payments.
 * - new_customers: customers whose first won deal (among the deals in view) closed in the period.
 * - new_opportunities: deals created in the period.
 * - win_rate: won / (won + lost) by count among deals closed in the period; null when none closed.
 * - weighted_forecast: won in the period + Σ amount × p over open deals expected to close in
 *   it (p = the deal's probability, else its stage's); no previous value (a past period's
 *   forecast is not re-computable from today's pipeline).
 * - target_attainment: won_amount / target, the target being the rows that fall inside the
 *   period (common/targets.ts): of the filtered owners, else the filtered teams, else the top
 *   visible teams (falling back to the visible owners' targets); with a region filter, the
 *   targets set for that region; null without a target or with a filter no target is set by
 *   (industry, source, product, grade). `summary.target_basis` says which.
 * - overdue_amount: unpaid amount past due (due_date before the day) as of the report date,
 *   or as of the period's last day for a past period; previous: as of the previous period's
 *   corresponding day.
 *
 * The previous period is the preceding one, cut to the same elapsed length while the period
 * is under way (quarter to date against last quarter to the same day). Change is relative
 * for amounts and counts ((v − p) / |p|, null when p is 0) and in points for ratios (v − p).
 */
import { z } from 'zod';
import { defineModel, type ModelContext } from './model';
import { paramsSchema } from './common/params';
import { addDays } from './common/period';
import { datedDeals, dealsRelation, hasFilters, inPeriod, paidPayments, paymentsRelation } from './common/relations';
import { sql, type Sql } from '../src/lib/server/db/sql';
import { targetBasis, targetRows } from './common/targets';
import type { CommonParams } from './common/params';

export const KPI_MEASURES = [
  'won_amount',
  'collected_amount',
  'new_customers',
  'new_opportunities',
  'win_rate',
  'weighted_forecast',
  'target_attainment',
  'overdue_amount'
] as const;

const params = paramsSchema({
  compare: z.enum(['to_date', 'full']).default('to_date')
});

const row = z.strictObject({
  measure: z.enum(KPI_MEASURES),
  value: z.number().nullable(),
  previous: z.number().nullable(),
  change: z.number().nullable(),
  change_kind: z.enum(['relative', 'points']),
  unit: z.enum(['currency', 'count', 'ratio']),
  n: z.number().int(),
  n_previous: z.number().int().nullable()
});

/** One wide row with every measure's ingredients, current and previous. */
const wide = z.object({
  won_amount: z.number(),
  won_n: z.number(),
  won_amount_p: z.number(),
  won_n_p: z.number(),
  collected: z.number(),
  collected_n: z.number(),
  collected_p: z.number(),
  collected_n_p: z.number(),
  new_customers: z.number(),
  new_customers_p: z.number(),
  new_opps: z.number(),
  new_opps_p: z.number(),
  lost_n: z.number(),
  lost_n_p: z.number(),
  weighted_open: z.number(),
  open_n: z.number(),
  target: z.number().nullable(),
  target_p: z.number().nullable(),
  overdue: z.number(),
  overdue_n: z.number(),
  overdue_p: z.number(),
  overdue_n_p: z.number()
});

const NEVER = { from: '1900-01-01', to: '1900-01-01' };

/** The day overdue amounts are measured on: the report date, or the period's last day if earlier. */
function overdueDay(p: { from: string; to: string } | null, asOf: string): string {
  if (!p) return '1900-01-01';
  const last = addDays(p.to, -1);
  return last < asOf ? last : asOf;
}

function overdueAt(day: string): { amount: Sql; n: Sql } {
  // Outstanding on `day`: amount less what was paid on or before it; overdue when due before it.
  // In the columns' own DECIMAL(18,2): the difference of two fits in 64 bits, and casting each
  // to DECIMAL(38,2) first made DuckDB compute it in 128 bits (their sum is DECIMAL(38,2) anyway).
  const outstanding = sql`(pm.amount - CASE WHEN pm.paid_at IS NOT NULL AND pm.paid_at <= ${day}::DATE THEN coalesce(pm.paid_amount, pm.amount) ELSE 0 END)`;
  const cond = sql`pm.due_date < ${day}::DATE AND ${outstanding} > 0`;
  return {
    amount: sql`coalesce(sum(${outstanding}) FILTER (WHERE ${cond}), 0)::DOUBLE`,
    n: sql`count(*) FILTER (WHERE ${cond})::INTEGER`
  };
}

/** The target of the period: the rows common/targets.ts applies to an ungrouped figure. */
function targetFor(p: { from: string; to: string } | null, filters: CommonParams): Sql {
  if (!p) return sql`NULL::DOUBLE`;
  return sql`(SELECT sum(amount)::DOUBLE FROM (${targetRows(filters, undefined, 'won_amount', p)}))`;
}

export const kpis = defineModel({
  name: 'kpis',
  title: { 'zh-CN': '核心指标', en: 'Key metrics' },
  definition: {
    'zh-CN':
      '本期与上期对比（进行中的期间与上期同一进度对比）。赢单金额按赢单日期；回款按实际回款日期；新客户为首次赢单落在本期的客户；赢单率=赢单数/(赢单数+输单数)；加权预测=本期已赢单+预计本期成交的在途商机金额×赢率；目标达成=赢单金额/目标；逾期应收为截至报告日已过计划回款日仍未收回的金额。',
    en: 'This period against the previous one (to the same point while the period is under way). Won amount by close date; collected by payment date; new customers: first win in the period; win rate = won / (won + lost); weighted forecast = won so far + open deals expected to close in the period × probability; attainment = won / target; overdue: unpaid amounts past their due date as of the report date.'
  },
  dateField: () => 'opportunities.closed_at',
  defaultPeriod: 'this_quarter',
  params,
  row,
  query(p, ctx: ModelContext) {
    const cur = ctx.period;
    const prev = p.compare === 'full' ? ctx.previousFull : ctx.previous;
    const prevP = prev ?? NEVER;
    const day = overdueDay(cur, ctx.asOf);
    const dayP = prev ? overdueDay(prev, addDays(prev.to, -1)) : '1900-01-01';
    const od = overdueAt(day);
    const odP = overdueAt(dayP);
    // (Without a previous period its day owes nothing: only the current day matters.)
    const [earlierDay, laterDay] = !prev ? [day, day] : day < dayP ? [day, dayP] : [dayP, day];
    const targetPrev = p.compare === 'full' ? prev : ctx.previousFull;
    // The period sums over the dated deals and the payments received (relations.ts datedDeals,
    // paidPayments): the rollups by owner and day when no filter but team and owner is set, else
    // the deals and payments themselves; a row counts `n` deals or payments either way.
    const wonIn = (period: { from: string; to: string }) => sql`status = 'won' AND ${inPeriod(sql`d`, period)}`;
    const lostIn = (period: { from: string; to: string }) => sql`status = 'lost' AND ${inPeriod(sql`d`, period)}`;
    const paidIn = (period: { from: string; to: string }) => inPeriod(sql`d`, period);
    // Both periods' span (the current one alone when there is no previous).
    const span = prev ? { from: prev.from < cur.from ? prev.from : cur.from, to: prev.to > cur.to ? prev.to : cur.to } : cur;
    const closed = datedDeals(p, 'closed', span);
    const created = datedDeals(p, 'created', span);
    const expected = datedDeals(p, 'expected', cur);
    const paid = paidPayments(p, span);
    return {
      ctes: [
        ['deals', dealsRelation(p), { materialized: false }],
        ['pays', paymentsRelation(p), { materialized: false }],
        // The deal measures, current and previous, from three scans, each with a range on one
        // date that DuckDB applies inside the scan (and skips row groups with): one aggregate
        // with every measure's FILTER over all million deals costs several times more.
        [
          'd_closed',
          sql`SELECT
            coalesce(sum(amount) FILTER (WHERE ${wonIn(cur)}), 0)::DOUBLE AS won_amount,
            ${closed.count(wonIn(cur))} AS won_n,
            coalesce(sum(amount) FILTER (WHERE ${wonIn(prevP)}), 0)::DOUBLE AS won_amount_p,
            ${closed.count(wonIn(prevP))} AS won_n_p,
            ${closed.count(lostIn(cur))} AS lost_n,
            ${closed.count(lostIn(prevP))} AS lost_n_p
          FROM ${closed.from}`
        ],
        [
          'd_created',
          sql`SELECT ${created.count(inPeriod(sql`d`, cur))} AS new_opps, ${created.count(inPeriod(sql`d`, prevP))} AS new_opps_p
          FROM ${created.from}`
        ],
        [
          'd_open',
          sql`SELECT coalesce(sum(weighted), 0)::DOUBLE AS weighted_open, ${expected.count()} AS open_n
          FROM ${expected.from}`
        ],
        [
          'fw',
          sql`SELECT count(*) FILTER (WHERE ${inPeriod(sql`first_won`, cur)})::INTEGER AS new_customers,
                     count(*) FILTER (WHERE ${inPeriod(sql`first_won`, prevP)})::INTEGER AS new_customers_p
              FROM ${
                hasFilters(p)
                  ? sql`(SELECT customer_id, min(closed_at) AS first_won FROM deals WHERE status = 'won' AND customer_id IS NOT NULL GROUP BY customer_id)`
                  : // the same first wins, precomputed over the viewer's deals (scoped like them)
                    sql`(SELECT first_won_at AS first_won FROM customer_facts)`
              }
              -- only the span's first wins count (a condition DuckDB applies in the scan, before
              -- projecting both periods' tests over every customer: 2.5M at 10M deals)
              WHERE ${inPeriod(sql`first_won`, span)}`
        ],
        // Payments in two scans like the deals: what was collected in either period (a range on
        // paid_at), and what was owing on either overdue day. Only a payment due before the later
        // day and, on the earlier day, not yet paid in full can be owing on either; the rest (at
        // 10M deals most of 4.4M payments) skip the decimal arithmetic, which computed over every
        // payment made kpis 4× its raw SQL.
        [
          'pm_paid',
          sql`SELECT
            coalesce(sum(collected) FILTER (WHERE ${paidIn(cur)}), 0)::DOUBLE AS collected,
            ${paid.count(paidIn(cur))} AS collected_n,
            coalesce(sum(collected) FILTER (WHERE ${paidIn(prevP)}), 0)::DOUBLE AS collected_p,
            ${paid.count(paidIn(prevP))} AS collected_n_p
          FROM ${paid.from}`
        ],
        [
          'pm_due',
          sql`SELECT ${od.amount} AS overdue, ${od.n} AS overdue_n, ${odP.amount} AS overdue_p, ${odP.n} AS overdue_n_p
          FROM pays pm
          WHERE pm.due_date < ${laterDay}::DATE
            AND (pm.paid_at IS NULL OR pm.paid_at > ${earlierDay}::DATE OR coalesce(pm.paid_amount, pm.amount) < pm.amount)`
        ]
      ],
      body: sql`SELECT d_closed.*, d_created.*, d_open.*, fw.*, pm_paid.*, pm_due.*, ${targetFor(cur, p)} AS target, ${targetFor(targetPrev, p)} AS target_p
        FROM d_closed, d_created, d_open, fw, pm_paid, pm_due`
    };
  },
  finalize(rows, p, ctx) {
    const w = wide.parse(rows[0] as unknown);
    const hasPrev = ctx.previous !== null;
    const rel = (v: number | null, p: number | null) => (v === null || p === null || p === 0 ? null : (v - p) / Math.abs(p));
    const pts = (v: number | null, p: number | null) => (v === null || p === null ? null : v - p);
    const ratio = (a: number, b: number | null) => (b === null || b === 0 ? null : a / b);
    type Row = z.infer<typeof row>;
    const mk = (
      measure: Row['measure'],
      unit: Row['unit'],
      value: number | null,
      previous: number | null,
      n: number,
      nPrev: number | null
    ): Row => {
      const prevV = hasPrev ? previous : null;
      const kind = unit === 'ratio' ? 'points' : 'relative';
      return {
        measure,
        value,
        previous: prevV,
        change: kind === 'points' ? pts(value, prevV) : rel(value, prevV),
        change_kind: kind,
        unit,
        n,
        n_previous: hasPrev ? nPrev : null
      };
    };
    const out: Row[] = [
      mk('won_amount', 'currency', w.won_amount, w.won_amount_p, w.won_n, w.won_n_p),
      mk('collected_amount', 'currency', w.collected, w.collected_p, w.collected_n, w.collected_n_p),
      mk('new_customers', 'count', w.new_customers, w.new_customers_p, w.new_customers, w.new_customers_p),
      mk('new_opportunities', 'count', w.new_opps, w.new_opps_p, w.new_opps, w.new_opps_p),
      mk('win_rate', 'ratio', ratio(w.won_n, w.won_n + w.lost_n), ratio(w.won_n_p, w.won_n_p + w.lost_n_p), w.won_n + w.lost_n, w.won_n_p + w.lost_n_p),
      mk('weighted_forecast', 'currency', w.won_amount + w.weighted_open, null, w.won_n + w.open_n, null),
      mk('target_attainment', 'ratio', ratio(w.won_amount, w.target), ratio(w.won_amount_p, w.target_p), w.won_n, w.won_n_p),
      mk('overdue_amount', 'currency', w.overdue, w.overdue_p, w.overdue_n, w.overdue_n_p)
    ];
    return {
      rows: out,
      n: w.won_n + w.lost_n + w.new_opps + w.collected_n,
      summary: { target: w.target, target_previous: w.target_p, target_basis: targetBasis(p as CommonParams), weighted_open: w.weighted_open, open_deals: w.open_n }
    };
  }
});
