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
 */
import { z } from 'zod';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { filterList, paramsSchema } from './common/params';
import { orderBy, pagingShape, searchParam, searchWhere } from './common/listing';
import { inPeriod, paymentsRelation } from './common/relations';
import { and, ident, sql, type Sql } from '../src/lib/server/db/sql';

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
  q: searchParam.optional(),
  sort: z.enum(PAYMENT_SORTS).default('due_date'),
  ...pagingShape
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

function paymentQuery(p: P, ctx: ModelContext, paged: boolean): ModelQuery {
  const d = ctx.asOf;
  const ctes: [string, Sql][] = [
    [
      'pay_rows',
      sql`SELECT r.payment_id, r.opportunity_id, o.name AS deal_name, c.name AS customer_id_name, coalesce(r.customer_id, o.customer_id) AS customer_id,
            r.dim_owner AS owner_id, u.name AS owner_name, r.dim_team_leaf AS team_id, t.name AS team_name,
            r.amount::DOUBLE AS amount, r.due_date, r.paid_at,
            (CASE WHEN r.paid_at IS NOT NULL THEN coalesce(r.paid_amount, r.amount) END)::DOUBLE AS paid_amount,
            (r.amount - CASE WHEN r.paid_at IS NOT NULL AND r.paid_at <= ${d}::DATE THEN coalesce(r.paid_amount, r.amount) ELSE 0 END)::DOUBLE AS outstanding
          FROM ${paymentsRelation(p)} r
          LEFT JOIN opportunities o ON o.opportunity_id = r.opportunity_id
          LEFT JOIN customers c ON c.customer_id = coalesce(r.customer_id, o.customer_id)
          LEFT JOIN users u ON u.user_id = r.dim_owner
          LEFT JOIN teams t ON t.team_id = r.dim_team_leaf
          WHERE ${and([
            ctx.period.preset !== 'all' && inPeriod(sql`r.${ident(p.date_field, PAYMENT_DATE_FIELDS)}`, ctx.period),
            searchWhere(p.q, [sql`r.payment_id`, sql`o.name`, sql`c.name`, sql`u.name`])
          ])}`
    ],
    [
      'pay_states',
      sql`SELECT payment_id, opportunity_id, deal_name, customer_id, customer_id_name AS customer_name, owner_id, owner_name,
            team_id, team_name, amount, due_date, paid_at, paid_amount, outstanding,
            CASE WHEN outstanding > 0 AND due_date < ${d}::DATE THEN date_diff('day', due_date, ${d}::DATE)::INTEGER END AS days_overdue,
            CASE WHEN outstanding <= 0 THEN 'paid' WHEN due_date < ${d}::DATE THEN 'overdue' ELSE 'open' END AS state
          FROM pay_rows`
    ],
    [
      'pay_aged',
      sql`SELECT *, CASE WHEN days_overdue IS NULL THEN 'current' WHEN days_overdue <= 30 THEN '1_30'
                         WHEN days_overdue <= 60 THEN '31_60' WHEN days_overdue <= 90 THEN '61_90' ELSE 'over_90' END AS aging
          FROM pay_states
          WHERE ${and([has(p.state) && sql`list_contains(${p.state}::VARCHAR[], state)`])}`
    ],
    ['filtered', sql`SELECT * FROM pay_aged WHERE ${and([has(p.aging) && sql`list_contains(${p.aging}::VARCHAR[], aging)`])}`]
  ];
  const order = orderBy(p.sort, PAYMENT_SORTS, p.dir, 'payment_id');
  if (!paged) return { ctes, body: sql`SELECT * FROM filtered ${order}` };
  return {
    ctes,
    body: sql`SELECT pg.*, t.total_count, t.total_amount, t.total_outstanding
      FROM (SELECT count(*)::INTEGER AS total_count, coalesce(sum(amount), 0)::DOUBLE AS total_amount,
                   coalesce(sum(outstanding), 0)::DOUBLE AS total_outstanding FROM filtered) t
      LEFT JOIN (SELECT * FROM filtered ${order} LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT) pg ON TRUE
      ${order}`
  };
}

const pageRow = paymentRow.extend({ total_count: z.number(), total_amount: z.number(), total_outstanding: z.number() });

export const paymentList = defineModel({
  name: 'payment_list',
  title: { 'zh-CN': '回款明细', en: 'Payments' },
  definition: {
    'zh-CN':
      '构成某个回款数字的回款计划与实收记录。未收金额=计划金额减去报告日及之前的实收；已过计划回款日仍有未收即为逾期，逾期天数计至报告日，账龄分为未到期、1–30、31–60、61–90、90 天以上。',
    en: 'The payments behind a receivables number. Outstanding = amount less what was received on or before the report date; overdue = outstanding past the due date, aged in days to the report date (current, 1–30, 31–60, 61–90, over 90).'
  },
  dateField: (p) => `payments.${p.date_field}`,
  defaultPeriod: 'all',
  params,
  row: paymentRow,
  query: (p, ctx) => paymentQuery(p, ctx, true),
  exportQuery: (p, ctx) => paymentQuery(p, ctx, false),
  finalize(rows, p) {
    const first = rows[0] ?? {};
    const out = pageRow
      .array()
      .parse(rows.filter((r) => r.payment_id !== null))
      .map(({ total_count: _t, total_amount: _a, total_outstanding: _o, ...r }) => r);
    const total = Number(first.total_count ?? 0);
    return {
      rows: out,
      n: total,
      summary: { total, total_amount: Number(first.total_amount ?? 0), total_outstanding: Number(first.total_outstanding ?? 0), limit: p.limit, offset: p.offset }
    };
  }
});
