/**
 * The customers behind a customer figure (客户明细) — `customer_list`: one row per customer, with
 * the figures of `ltv` computed per customer by the same CTEs (ltvBaseCtes + ltvPerCustomerCte),
 * so each card of the customers board is a sum or ratio of these rows:
 * - `segment=all`: every customer (the customers card: `total`);
 * - `with_revenue`: historical LTV > 0 (average LTV = `total_ltv` / `total`);
 * - `won`: a deal won in the period (ACV = `total_won_amount` / `total_won_deals`);
 * - `active`: active in the trailing year (ARPA = `total_revenue_year` / `total`; predictive LTV
 *   is ARPA × margin × lifetime — a projection, not a sum of rows);
 * - `active_last_year`: active the year before (churn = `total_churned` / `total`); `churned`
 *   those of them not active this year.
 * Filters, scope and revenue basis as `ltv`. Search on name, region, industry and owner; sort by
 * a whitelisted column with the customer id as tie-breaker; paged with `summary.total`.
 */
import { z } from 'zod';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { paramsSchema } from './common/params';
import { pagingShape, searchParam, searchWhere } from './common/listing';
import { LTV_BASES, ltvBaseCtes, ltvPerCustomerCte, type LtvParams } from './ltv';
import { ident, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';

export const CUSTOMER_SEGMENTS = ['all', 'with_revenue', 'won', 'active', 'active_last_year', 'churned'] as const;
export const CUSTOMER_SORTS = ['customer_name', 'owner_name', 'region', 'industry', 'ltv', 'won_amount', 'won_deals', 'revenue_year'] as const;

const params = paramsSchema({
  segment: z.enum(CUSTOMER_SEGMENTS).default('all'),
  basis: z.enum(LTV_BASES).default('auto'),
  q: searchParam.optional(),
  sort: z.enum(CUSTOMER_SORTS).default('ltv'),
  ...pagingShape
});

export const customerListRow = z.strictObject({
  customer_id: z.string(),
  customer_name: z.string().nullable(),
  industry: z.string().nullable(),
  region: z.string().nullable(),
  grade: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  basis: z.enum(['payments', 'won_amount']),
  ltv: z.number(),
  won_amount: z.number(),
  won_deals: z.number().int(),
  revenue_year: z.number(),
  active_year: z.boolean(),
  active_last_year: z.boolean(),
  churned: z.boolean()
});

type P = z.output<typeof params>;

const SEGMENT_WHERE: Record<(typeof CUSTOMER_SEGMENTS)[number], string> = {
  all: 'TRUE',
  with_revenue: 'ltv > 0',
  won: 'won_deals > 0',
  active: 'active_year',
  active_last_year: 'active_last_year',
  churned: 'active_last_year AND NOT active_year'
};

function listQuery(p: P, ctx: ModelContext, paged: boolean): ModelQuery {
  const dir = p.dir === 'asc' ? sql`ASC` : sql`DESC`;
  const order = sql`ORDER BY ${ident(p.sort, CUSTOMER_SORTS)} ${dir} NULLS LAST, customer_id ASC`;
  const columns = sql`customer_id, customer_name, industry, region, grade, owner_id, owner_name, basis, ltv, won_amount, won_deals,
      revenue_year, active_year, active_last_year, churned`;
  const ctes: [string, Sql][] = [
    // The same customers and revenue events as `ltv` (its params: basis, product, filters).
    ...ltvBaseCtes({ ...p, view: 'segments', gross_margin: 1 } as unknown as LtvParams, ctx, sql`NULL`),
    ltvPerCustomerCte(ctx),
    [
      'listed',
      // A customer seen through one of the viewer's deals may be owned by someone outside the scope:
      // that owner is not shown (users is the scoped table, so the join finds only visible owners).
      sql`SELECT c.customer_id, r.name AS customer_name, r.industry, r.region, r.grade, u.user_id AS owner_id, u.name AS owner_name,
            (SELECT basis FROM ltv_basis) AS basis,
            coalesce(pc.ltv, 0)::DOUBLE AS ltv, coalesce(pc.won_amount, 0)::DOUBLE AS won_amount,
            coalesce(pc.won_deals, 0)::INTEGER AS won_deals, coalesce(pc.revenue_year, 0)::DOUBLE AS revenue_year,
            coalesce(pc.active_year, false) AS active_year, coalesce(pc.active_last_year, false) AS active_last_year,
            coalesce(pc.active_last_year AND NOT pc.active_year, false) AS churned
          FROM cust c
          JOIN customers r ON r.customer_id = c.customer_id
          LEFT JOIN per_customer pc ON pc.customer_id = c.customer_id
          LEFT JOIN users u ON u.user_id = r.owner_id`
    ],
    [
      'matching',
      sql`SELECT * FROM listed
          WHERE ${unsafeRaw(SEGMENT_WHERE[p.segment])}
            AND ${searchWhere(p.q, [sql`customer_name`, sql`customer_id`, sql`region`, sql`industry`, sql`owner_name`])}`
    ]
  ];
  if (!paged) return { ctes, body: sql`SELECT * FROM matching`, order: sql`${ident(p.sort, CUSTOMER_SORTS)} ${dir} NULLS LAST, customer_id ASC` };
  return {
    ctes: [
      ...ctes,
      ['page', sql`SELECT ${columns} FROM matching ${order} LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT`],
      [
        'totals',
        sql`SELECT count(*)::INTEGER AS total_count, coalesce(sum(ltv), 0)::DOUBLE AS total_ltv,
              coalesce(sum(won_amount), 0)::DOUBLE AS total_won_amount, coalesce(sum(won_deals), 0)::INTEGER AS total_won_deals,
              coalesce(sum(revenue_year), 0)::DOUBLE AS total_revenue_year, count(*) FILTER (WHERE churned)::INTEGER AS total_churned,
              (SELECT basis FROM ltv_basis) AS total_basis
            FROM matching`
      ]
    ],
    body: sql`SELECT pg.*, t.* FROM totals t LEFT JOIN page pg ON TRUE
      ORDER BY pg.${ident(p.sort, CUSTOMER_SORTS)} ${dir} NULLS LAST, pg.customer_id ASC`
  };
}

const TOTALS = ['total_count', 'total_ltv', 'total_won_amount', 'total_won_deals', 'total_revenue_year', 'total_churned', 'total_basis'] as const;

export const customerList = defineModel({
  name: 'customer_list',
  title: { 'zh-CN': '客户明细', en: 'Customers' },
  definition: {
    'zh-CN':
      '构成客户分析各数字的客户，按客户列出客户价值模型（LTV）的同一口径：历史LTV（累计回款，无回款数据时为赢单金额）、本期赢单、近12个月收入，是否今年/去年活跃、是否流失。平均LTV=有收入客户的LTV合计/客户数；平均客单价=赢单金额/赢单数；流失率=流失客户/去年活跃客户。预测LTV是推算值（ARPA×毛利率×客户寿命），不是明细之和。',
    en: "The customers behind the customers board's figures, with the LTV model's own per-customer figures: historical LTV (payments received, or won amounts without payment data), won in the period, trailing-year revenue, active this year / last year, churned. Average LTV = Σ LTV / customers with revenue; ACV = won amount / won deals; churn = churned / active last year. Predicted LTV is a projection (ARPA × margin × lifetime), not a sum of rows."
  },
  dateField: () => 'opportunities.closed_at',
  defaultPeriod: 'this_year',
  params,
  row: customerListRow,
  query: (p, ctx) => listQuery(p, ctx, true),
  exportQuery: (p, ctx) => listQuery(p, ctx, false),
  finalize(rows, p) {
    const first = rows[0] ?? {};
    const out = rows
      .filter((r) => r.customer_id !== null)
      .map((r) => {
        const copy: Record<string, unknown> = { ...r };
        for (const k of TOTALS) delete copy[k];
        return customerListRow.parse(copy);
      });
    const total = Number(first.total_count ?? 0);
    return {
      rows: out,
      n: total,
      summary: {
        total,
        segment: p.segment,
        basis: first.total_basis ?? null,
        total_ltv: Number(first.total_ltv ?? 0),
        total_won_amount: Number(first.total_won_amount ?? 0),
        total_won_deals: Number(first.total_won_deals ?? 0),
        total_revenue_year: Number(first.total_revenue_year ?? 0),
        total_churned: Number(first.total_churned ?? 0),
        limit: p.limit,
        offset: p.offset
      }
    };
  }
});
