/**
 * The payments behind a number (回款明细) — `payment_list`: one row per planned or received
 * payment, with every common filter (through the payment's deal, or its customer when it has
 * no deal), search, sort and paging. The overdue list of the payments board is this model
 * with `state=overdue`.
 *
 * Definitions, as of the report date D (the same as `kpis`' overdue and metrics.md's
 * receivables):
 * - `outstanding` = amount less what was paid on or before D;
 * - `state`: `paid` when nothing is outstanding, `overdue` when outstanding and due before
 *   D, else `open` (due on or after D, or unplanned);
 * - `days_overdue` = D − due_date for overdue rows; `aging`: `current` (not overdue),
 *   `1_30`, `31_60`, `61_90`, `over_90` days past due.
 * The period filters on `date_field` (due_date by default, or paid_at); default `all`.
 * `received=true` (回款明细, the drill of the 回款/collected figure): only payments received
 * (paid_at set), the period on paid_at whatever `date_field` says — the rows of `kpis`' and
 * `payments`' collected amount, `summary.total_paid` its value and `total` its n.
 * `at_period_end=true` (期末应收明细, the drill of DSO's numerator): the receivables outstanding at
 * the period end as they stood that day — the payments model's `receivables` row by row, with
 * its definition (models/common/receivables.ts: a planned instalment not tied to a deal closed
 * later, less what was paid by then). The day D is the period's last day, or the report date
 * when earlier (`summary.outstanding_at`); `outstanding`, `state`, `days_overdue` and `aging`
 * are measured on D, and the period selects D only (no date filter): Σ outstanding = the
 * payments model's `receivables`, `total` its `receivables_n`.
 * `summary`: `total_amount` (Σ amount), `total_outstanding` (Σ outstanding on D) and
 * `total_paid` (Σ paid_amount — with `date_field=paid_at`, the period's collected amount as
 * `kpis` and `payments` count it).
 */
import { z } from 'zod';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { filterList, paramsSchema } from './common/params';
import { boolParam, boundedTotals, countedTotals, countParam, pagingShape, rowIdPage, searchParam } from './common/listing';
import { inPeriod, paymentsRelation } from './common/relations';
import { and, ident, join, sql, type Sql } from '../src/lib/server/db/sql';
import { openReceivableAt, receivablesDay } from './common/receivables';

export const PAYMENT_STATES = ['paid', 'overdue', 'open'] as const;
export const AGING_BUCKETS = ['current', '1_30', '31_60', '61_90', 'over_90'] as const;
export const PAYMENT_DATE_FIELDS = ['due_date', 'paid_at'] as const;
export const PAYMENT_SORTS = [
  'payment_id',
  'deal_name',
  'customer_name',
  'owner_name',
  'team_name',
  'amount',
  'due_date',
  'paid_at',
  'paid_amount',
  'outstanding',
  'days_overdue'
] as const;

const params = paramsSchema({
  state: filterList.pipe(z.array(z.enum(PAYMENT_STATES))).optional(),
  aging: filterList.pipe(z.array(z.enum(AGING_BUCKETS))).optional(),
  date_field: z.enum(PAYMENT_DATE_FIELDS).default('due_date'),
  received: boolParam.optional(),
  at_period_end: boolParam.optional(),
  q: searchParam.optional(),
  sort: z.enum(PAYMENT_SORTS).default('due_date'),
  count: countParam,
  ...pagingShape
}).superRefine((p, ctx) => {
  if (p.received && p.at_period_end) {
    ctx.addIssue({ code: 'custom', path: ['at_period_end'], message: 'received lists payments received in the period; at_period_end lists what was owed at its end — one or the other' });
  }
});

export const paymentRow = z.strictObject({
  payment_id: z.string(),
  opportunity_id: z.string().nullable(),
  deal_name: z.string().nullable(),
  customer_id: z.string().nullable(),
  customer_name: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  team_id: z.string().nullable(),
  team_name: z.string().nullable(),
  amount: z.number().nullable(),
  due_date: z.string().nullable(),
  paid_at: z.string().nullable(),
  paid_amount: z.number().nullable(),
  outstanding: z.number(),
  days_overdue: z.number().int().nullable(),
  state: z.enum(PAYMENT_STATES),
  aging: z.enum(AGING_BUCKETS)
});

type P = z.output<typeof params>;
const has = (v: string[] | undefined): v is string[] => !!v && v.length > 0;

/**
 * The listing query. Filters, search, state, aging and the sort key are expressions over
 * `payment_facts` alone (deal and customer names denormalised into it), so DuckDB scans one
 * table and keeps the page's rows in a top-N heap; owner and team names are joined to those
 * rows only (and to every row only when the sort is by them). The totals are one more scan of
 * the same filter, without a sort.
 */
function paymentQuery(p: P, ctx: ModelContext, paged: boolean): ModelQuery {
  // The day outstanding is measured on: the report date, or the period end for 期末应收明细.
  const d = p.at_period_end ? receivablesDay(ctx.period, ctx.asOf) : ctx.asOf;
  const outstanding = sql`(coalesce(r.amount::DECIMAL(38,2), 0) - CASE WHEN r.paid_at IS NOT NULL AND r.paid_at <= ${d}::DATE THEN coalesce(r.paid_amount, r.amount, 0)::DECIMAL(38,2) ELSE 0 END)::DOUBLE`;
  const daysOverdue = sql`CASE WHEN ${outstanding} > 0 AND r.due_date < ${d}::DATE THEN date_diff('day', r.due_date, ${d}::DATE)::INTEGER END`;
  const state = sql`CASE WHEN ${outstanding} <= 0 THEN 'paid' WHEN r.due_date < ${d}::DATE THEN 'overdue' ELSE 'open' END`;
  // The state filter as comparisons of the row's own DECIMAL columns (outstanding > 0 is amount >
  // what was paid by the day; no per-row DECIMAL(38,2) arithmetic): the CASE above, evaluated over
  // every payment to filter on it, was the overdue tile's whole time at 10M deals (4.4M payments:
  // 650 of 800 CPU-ms). The same states, row for row (models/payment-list.test.ts).
  const owing = sql`(coalesce(r.amount, 0) > CASE WHEN r.paid_at IS NOT NULL AND r.paid_at <= ${d}::DATE THEN coalesce(r.paid_amount, r.amount, 0) ELSE 0 END)`;
  const STATE_WHERE: Record<(typeof PAYMENT_STATES)[number], Sql> = {
    paid: sql`NOT ${owing}`,
    overdue: sql`(${owing} AND r.due_date < ${d}::DATE)`,
    open: sql`(${owing} AND NOT coalesce(r.due_date < ${d}::DATE, FALSE))`
  };
  const stateWhere = (states: string[]) =>
    sql`(${join([...new Set(states)].map((x) => STATE_WHERE[x as (typeof PAYMENT_STATES)[number]]), ' OR ')})`;
  const paidAmount = sql`(CASE WHEN r.paid_at IS NOT NULL THEN coalesce(r.paid_amount, r.amount) END)::DOUBLE`;
  const needle = p.q ? p.q.toLowerCase() : '';
  const hit = (c: Sql) => sql`contains(lower(coalesce(${c}, '')), ${needle})`;
  const needNames = p.sort === 'owner_name' || p.sort === 'team_name';
  const sortExpr: Record<(typeof PAYMENT_SORTS)[number], Sql> = {
    payment_id: sql`r.payment_id`,
    deal_name: sql`r.deal_name`,
    customer_name: sql`r.customer_name`,
    owner_name: sql`u.name`,
    team_name: sql`t.name`,
    amount: sql`r.amount::DOUBLE`,
    due_date: sql`r.due_date`,
    paid_at: sql`r.paid_at`,
    paid_amount: paidAmount,
    outstanding,
    days_overdue: daysOverdue
  };
  const agingOf = (days: Sql) => sql`CASE WHEN ${days} IS NULL THEN 'current' WHEN ${days} <= 30 THEN '1_30'
                         WHEN ${days} <= 60 THEN '31_60' WHEN ${days} <= 90 THEN '61_90' ELSE 'over_90' END`;
  const nameJoins = sql`LEFT JOIN users u ON u.user_id = r.dim_owner LEFT JOIN teams t ON t.team_id = r.dim_team_leaf`;
  // The matching payments: one scan of payment_facts with every filter in it (names joined only
  // when the sort is by them).
  const dateField = p.received ? 'paid_at' : p.date_field;
  const matching = (cols: Sql, names: boolean, rows: 'payment_facts' | 'payment_facts_rows' = 'payment_facts') => sql`SELECT ${cols}
      FROM ${paymentsRelation(p, rows)} r
      ${names ? nameJoins : sql``}
      WHERE ${and([
        !!p.at_period_end && openReceivableAt(d),
        !p.at_period_end && ctx.period.preset !== 'all' && inPeriod(sql`r.${ident(dateField, PAYMENT_DATE_FIELDS)}`, ctx.period),
        !!p.received && sql`r.paid_at IS NOT NULL`,
        !!needle &&
          sql`(${hit(sql`r.payment_id`)} OR ${hit(sql`r.deal_name`)} OR ${hit(sql`r.customer_name`)}
               OR r.dim_owner IN (SELECT user_id FROM users WHERE ${hit(sql`name`)}))`,
        has(p.state) && stateWhere(p.state),
        has(p.aging) && sql`list_contains(${p.aging}::VARCHAR[], ${agingOf(daysOverdue)})`
      ])}`;
  const dir = p.dir === 'asc' ? sql`ASC` : sql`DESC`;
  const factCols = sql`r.payment_id, r.opportunity_id, r.deal_name, r.effective_customer_id, r.customer_name, r.dim_owner, r.dim_team_leaf,
      r.amount, r.due_date, r.paid_at, r.paid_amount`;
  const shown = (rows: Sql) => sql`SELECT r.payment_id, r.opportunity_id, r.deal_name, r.effective_customer_id AS customer_id, r.customer_name,
          r.dim_owner AS owner_id, u.name AS owner_name, r.dim_team_leaf AS team_id, t.name AS team_name,
          r.amount::DOUBLE AS amount, r.due_date, r.paid_at, ${paidAmount} AS paid_amount, ${outstanding} AS outstanding,
          ${daysOverdue} AS days_overdue, ${state} AS state, ${agingOf(daysOverdue)} AS aging, r.sort_key
        FROM (${rows}) r
        ${nameJoins}`;
  const columns = sql`payment_id, opportunity_id, deal_name, customer_id, customer_name, owner_id, owner_name, team_id, team_name,
      amount, due_date, paid_at, paid_amount, outstanding, days_overdue, state, aging`;
  if (!paged) {
    return { body: shown(matching(sql`${factCols}, ${sortExpr[p.sort]} AS sort_key`, needNames)), order: sql`sort_key ${dir} NULLS LAST, payment_id ASC` };
  }
  return {
    ctes: [
      // The page: a top-N of the matching rows' row ids and sort keys, then those rows (listing.ts).
      ...rowIdPage(
        sql`${matching(sql`r.fact_rowid, ${sortExpr[p.sort]} AS sort_key`, needNames, 'payment_facts_rows')}
            ORDER BY sort_key ${dir} NULLS LAST, r.payment_id ASC LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT`,
        paymentsRelation(p, 'payment_facts_rows'),
        factCols
      ),
      [
        'totals',
        // Sums of the same per-row figures, taken apart: Σ outstanding = Σ amount − Σ what was paid
        // by D, summed as exact decimals and converted once (the per-row DECIMAL(38,2) difference
        // over every matching payment cost ten times the scan). count=bounded: listing/boundedTotals.
        sql`SELECT count(*)::INTEGER AS total_count, coalesce(sum(amount), 0)::DOUBLE AS total_amount,
                   (coalesce(sum(coalesce(amount, 0)), 0) - coalesce(sum(coalesce(paid_amount, amount, 0)) FILTER (WHERE paid_at <= ${d}::DATE), 0))::DOUBLE AS total_outstanding,
                   coalesce(sum(coalesce(paid_amount, amount)) FILTER (WHERE paid_at IS NOT NULL), 0)::DOUBLE AS total_paid
            FROM (${boundedTotals(matching(sql`r.amount, r.paid_at, r.paid_amount`, false), p.count)})`
      ]
    ],
    body: sql`SELECT pg.*, t.total_count, t.total_amount, t.total_outstanding, t.total_paid
      FROM totals t LEFT JOIN (SELECT ${columns}, sort_key FROM (${shown(sql`SELECT * FROM page`)})) pg ON TRUE
      ORDER BY pg.sort_key ${dir} NULLS LAST, pg.payment_id ASC`
  };
}

const pageRow = paymentRow.extend({ total_count: z.number(), total_amount: z.number(), total_outstanding: z.number(), total_paid: z.number(), sort_key: z.unknown() });

export const paymentList = defineModel({
  name: 'payment_list',
  title: { 'zh-CN': '回款明细', en: 'Payments' },
  definition: {
    'zh-CN':
      '构成某个回款数字的回款计划与实收记录。未收金额=计划金额减去报告日及之前的实收；已过计划回款日仍有未收即为逾期，逾期天数计至报告日，账龄分为未到期、1–30、31–60、61–90、90 天以上。',
    en: 'The payments behind a receivables number. Outstanding = amount less what was received on or before the report date; overdue = outstanding past the due date, aged in days to the report date (current, 1–30, 31–60, 61–90, over 90).'
  },
  dateField: (p) => (p.at_period_end ? 'payments.due_date (outstanding at the period end)' : `payments.${p.received ? 'paid_at' : p.date_field}`),
  defaultPeriod: 'all',
  params,
  row: paymentRow,
  query: (p, ctx) => paymentQuery(p, ctx, true),
  exportQuery: (p, ctx) => paymentQuery(p, ctx, false),
  finalize(rows, p, ctx) {
    const first = rows[0] ?? {};
    const out = pageRow
      .array()
      .parse(rows.filter((r) => r.payment_id !== null))
      .map(({ total_count: _t, total_amount: _a, total_outstanding: _o, total_paid: _p, sort_key: _k, ...r }) => r);
    const totals = countedTotals(
      Number(first.total_count ?? 0),
      { total_amount: Number(first.total_amount ?? 0), total_outstanding: Number(first.total_outstanding ?? 0), total_paid: Number(first.total_paid ?? 0) },
      p.count
    );
    return {
      rows: out,
      n: totals.total,
      summary: { ...totals, limit: p.limit, offset: p.offset, ...(p.at_period_end ? { outstanding_at: receivablesDay(ctx.period, ctx.asOf) } : {}) }
    };
  }
});
