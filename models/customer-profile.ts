/**
 * Customer profile (客户画像), metrics.md `customer_profile`. Customer-level, with the same
 * filters as `ltv` (the customer's owner, team, region, industry, source, grade; `product`
 * keeps customers with a deal of it and counts only those deals).
 *
 * `view=profile` (default): for each of industry, region, source (the customer's 客户来源)
 * and grade — or the one named by `by` — one row per value (null = not recorded): customers
 * (those created before the period's end, or without a creation date), their share, the
 * customers with a deal won in the period, the won deals and won amount (by close date) and
 * the share of the won amount.
 *
 * `view=grid`: the value × potential grid. value = historical LTV (as `ltv`: received
 * payments, or won amounts when there are none, up to the report date); potential = the open
 * pipeline amount (Σ amount of the customer's open deals), or the number in the customer
 * attribute named by `potential_field`. Each is split at its median among the customers where
 * it is positive: high when ≥ that median, low otherwise (so 0 is always low). Quadrants:
 * 重点维护 high value / high potential, 重点培育 low value / high potential, 标准服务 high
 * value / low potential, 待激活 low / low. Four rows, always, in that order.
 * `view=grid_customers`: the customers themselves with their value, potential and quadrant
 * (optionally one `quadrant`, or only the customers in `customer`, placed by the medians of all),
 * largest value + potential first, at most `limit`.
 */
import { z } from 'zod';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { filterList, paramsSchema } from './common/params';
import { addDays } from './common/period';
import { customersRelation, inPeriod } from './common/relations';
import { LTV_BASES, ltvBaseCtes } from './ltv';
import { join, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';

export const PROFILE_DIMENSIONS = ['industry', 'region', 'source', 'grade'] as const;
export const PROFILE_VIEWS = ['profile', 'grid', 'grid_customers'] as const;

/** The quadrants in display order: key, zh-CN, en, high value, high potential. */
export const QUADRANTS = [
  { key: 'key_maintain', zh: '重点维护', en: 'Maintain', high_value: true, high_potential: true },
  { key: 'key_develop', zh: '重点培育', en: 'Develop', high_value: false, high_potential: true },
  { key: 'standard', zh: '标准服务', en: 'Standard service', high_value: true, high_potential: false },
  { key: 'activate', zh: '待激活', en: 'Activate', high_value: false, high_potential: false }
] as const;
const QUADRANT_KEYS = QUADRANTS.map((q) => q.key) as unknown as readonly ['key_maintain', 'key_develop', 'standard', 'activate'];

const params = paramsSchema({
  view: z.enum(PROFILE_VIEWS).default('profile'),
  /** One profile dimension; default all four. */
  by: z.enum(PROFILE_DIMENSIONS).optional(),
  basis: z.enum(LTV_BASES).default('auto'),
  /** A customer attribute holding the potential (e.g. 预计采购额); default the open pipeline amount. */
  potential_field: z.string().regex(/^[\p{L}\p{N}_ .-]{1,64}$/u, 'letters, digits, _ . - and spaces').optional(),
  quadrant: z.enum(QUADRANT_KEYS).optional(),
  /** `grid_customers` only: list just these customers (placed by the medians of all of them; the customer 360 page). */
  customer: filterList.optional(),
  limit: z.coerce.number().int().min(1).max(10000).default(100)
}).superRefine((p, ctx) => {
  // Said, not ignored: a customer asked of the profile or the grid would otherwise look like a
  // filter that was applied.
  if (p.customer && p.view !== 'grid_customers') {
    ctx.addIssue({ code: 'custom', path: ['customer'], message: `customer works with view=grid_customers only (view is ${p.view})` });
  }
});

const count = z.number().int().nonnegative();
const share = z.number().min(0).max(1).nullable();

export const profileRow = z.strictObject({
  dimension: z.enum(PROFILE_DIMENSIONS),
  /** The attribute value; null when not recorded. */
  value: z.string().nullable(),
  customers: count,
  share_customers: share,
  won_customers: count,
  won_deals: count,
  won_amount: z.number(),
  share_won_amount: share,
  n: count
});

export const gridRow = z.strictObject({
  quadrant: z.enum(QUADRANT_KEYS),
  label: z.strictObject({ 'zh-CN': z.string(), en: z.string() }),
  high_value: z.boolean(),
  high_potential: z.boolean(),
  customers: count,
  share: share,
  value: z.number(),
  potential: z.number(),
  n: count
});

export const gridCustomerRow = z.strictObject({
  customer_id: z.string(),
  name: z.string().nullable(),
  industry: z.string().nullable(),
  region: z.string().nullable(),
  grade: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  value: z.number(),
  potential: z.number(),
  quadrant: z.enum(QUADRANT_KEYS),
  n: z.literal(1)
});

const row = z.union([profileRow, gridRow, gridCustomerRow]);
export type ProfileRow = z.infer<typeof profileRow>;
export type GridRow = z.infer<typeof gridRow>;
export type GridCustomerRow = z.infer<typeof gridCustomerRow>;

type ProfileParams = z.output<typeof params>;

/** The SQL shape of the grid views: rows plus the medians and totals repeated on each. */
const gridSql = z.object({ value_median: z.number().nullable(), potential_median: z.number().nullable(), basis: z.string(), total: z.number() }).passthrough();

export const customerProfile = defineModel({
  name: 'customer_profile',
  title: { 'zh-CN': '客户画像', en: 'Customer profile' },
  definition: {
    'zh-CN':
      '按行业、地区、客户来源、客户级别统计客户数与本期赢单金额（按赢单日期）。价值×潜力矩阵：价值=历史LTV（累计回款），潜力=在途商机金额；各自以大于0的客户的中位数为界（≥中位数为高），分为重点维护（高/高）、重点培育（低价值/高潜力）、标准服务（高价值/低潜力）、待激活（低/低）。',
    en: 'Customers and won amount in the period (by close date) by industry, region, source and grade. Value × potential grid: value = historical LTV (payments received), potential = open pipeline amount; each split at its median among customers where it is positive (≥ median is high): Maintain (high/high), Develop (low value/high potential), Standard service (high value/low potential), Activate (low/low).'
  },
  // The grid is not filtered by the period: lifetime value (payments up to the report date) and today's pipeline.
  dateField: (p) => (p.view === 'profile' ? 'opportunities.closed_at' : 'payments.paid_at'),
  defaultPeriod: 'this_year',
  params,
  row,
  query(p, ctx) {
    return p.view === 'profile' ? profile(p, ctx) : grid(p, ctx);
  },
  finalize(rows, p) {
    if (p.view === 'profile') return { rows: rows as never, n: rows.length ? totalCustomers(rows) : 0 };
    const meta = rows.length ? gridSql.parse(rows[0]) : null;
    const clean = rows
      .filter((r) => r.quadrant !== null)
      .map((r) => {
        const { value_median: _m, potential_median: _pm, basis: _b, total: _t, ...rest } = r;
        if (p.view !== 'grid') return rest;
        const q = QUADRANTS.find((x) => x.key === r.quadrant)!;
        return { ...rest, label: { 'zh-CN': q.zh, en: q.en } };
      });
    return {
      rows: clean as never,
      n: meta?.total ?? 0,
      summary: {
        basis: meta?.basis ?? null,
        value_median: meta?.value_median ?? null,
        potential_median: meta?.potential_median ?? null,
        potential: p.potential_field ? `attributes.${p.potential_field}` : 'open_pipeline_amount',
        customers: meta?.total ?? 0
      }
    };
  }
});

/** Customers counted once: every dimension's rows cover the same customers. */
function totalCustomers(rows: Record<string, unknown>[]): number {
  const first = rows[0].dimension;
  return rows.filter((r) => r.dimension === first).reduce((s, r) => s + (r.n as number), 0);
}

function profile(p: ProfileParams, ctx: ModelContext): ModelQuery {
  const dims = p.by ? [p.by] : PROFILE_DIMENSIONS;
  const product = p.product?.length ? sql`AND list_contains(${p.product}::VARCHAR[], o.product)` : sql``;
  const parts = dims.map(
    (d) => sql`SELECT ${d} AS dimension, ${unsafeRaw(`dim_${d}`)} AS value, count(*)::INTEGER AS customers,
        count(*) FILTER (WHERE deals > 0)::INTEGER AS won_customers, sum(deals)::INTEGER AS won_deals, sum(amount)::DOUBLE AS won_amount
      FROM per_customer GROUP BY ${unsafeRaw(`dim_${d}`)}`
  );
  return {
    ctes: [
      [
        'cust',
        sql`SELECT r.customer_id, r.dim_industry, r.dim_region, r.dim_source, r.dim_grade
            FROM ${customersRelation(p)} r WHERE r.created_at IS NULL OR r.created_at < ${ctx.period.to}::TIMESTAMP`
      ],
      [
        'won',
        sql`SELECT o.customer_id, count(*) AS deals, sum(coalesce(o.amount, 0)) AS amount
            FROM deal_facts o
            WHERE o.status = 'won' AND ${inPeriod(sql`o.closed_at`, ctx.period)} ${product}
            GROUP BY o.customer_id`
      ],
      [
        // (won is not restricted to cust: this left join keeps only cust's customers)
        'per_customer',
        unsafeRaw(`SELECT c.*, coalesce(w.deals, 0) AS deals, coalesce(w.amount, 0) AS amount
          FROM cust c LEFT JOIN won w ON w.customer_id = c.customer_id`)
      ],
      ['by_dim', join(parts, '\nUNION ALL\n')]
    ],
    body: sql`SELECT x.dimension, x.value, x.customers,
        x.customers::DOUBLE / nullif(sum(x.customers) OVER d, 0) AS share_customers,
        x.won_customers, x.won_deals, x.won_amount,
        CASE WHEN sum(x.won_amount) OVER d > 0 THEN x.won_amount / sum(x.won_amount) OVER d END AS share_won_amount,
        x.customers AS n
      FROM by_dim x
      WINDOW d AS (PARTITION BY x.dimension)
      ORDER BY list_position(${[...PROFILE_DIMENSIONS]}::VARCHAR[], x.dimension), x.customers DESC, x.won_amount DESC, x.value NULLS LAST`
  };
}

function grid(p: ProfileParams, ctx: ModelContext): ModelQuery {
  const asOfEnd = addDays(ctx.asOf, 1);
  const product = p.product?.length ? sql`AND list_contains(${p.product}::VARCHAR[], o.product)` : sql``;
  // Without a product filter, value and potential come from customer_facts (per-customer
  // totals over the viewer's deals and payments, warehouse/facts.ts), exact up to the
  // report date: a customer with a payment, win or open deal dated after it is recomputed
  // from its events instead.
  const pre = !p.product?.length;
  const openDeals = (where: Sql) => sql`SELECT o.customer_id, sum(coalesce(o.amount, 0))::DOUBLE AS potential
          FROM deal_facts o
          WHERE o.status = 'open' AND (o.created_at IS NULL OR o.created_at < ${asOfEnd}::TIMESTAMP) ${product} ${where}
          GROUP BY o.customer_id`;
  const byField = p.potential_field
    ? sql`SELECT c.customer_id, coalesce(TRY_CAST(json_extract_string(c.attributes, ${'$."' + p.potential_field.replace(/"/g, '') + '"'}) AS DOUBLE), 0) AS potential
          FROM customers c WHERE c.customer_id IN (SELECT customer_id FROM cust)`
    : null;
  // With customer_facts: a customer's value is its precomputed total of the basis unless it has
  // revenue dated after the report date (`late`), and its potential its open total unless it
  // has an open deal created after it; those few are recomputed from their events and deals.
  // One join of the customers to their facts instead of one per measure.
  const valueLate = sql`CASE (SELECT basis FROM ltv_basis) WHEN 'payments' THEN cf.last_paid_at >= ${asOfEnd}::DATE ELSE cf.last_won_at >= ${asOfEnd}::TIMESTAMP END`;
  const potentialLate = sql`cf.last_open_created_at >= ${asOfEnd}::TIMESTAMP`;
  const ctes: [string, Sql][] = [
    // value = historical LTV, exactly as the ltv model computes it (same basis rule, same events)
    ...ltvBaseCtes({ ...p, view: 'segments', gross_margin: 1 }, ctx, sql`NULL`, { revenueOnly: true }),
    ...((pre
      ? [
          [
            'late_value',
            sql`SELECT customer_id, sum(amount) AS value FROM rev_events
                WHERE is_revenue AND customer_id IN (SELECT cf.customer_id FROM customer_facts cf WHERE ${valueLate})
                GROUP BY customer_id`
          ],
          ['potential_by_customer', byField ?? openDeals(sql`AND o.customer_id IN (SELECT cf.customer_id FROM customer_facts cf WHERE ${potentialLate})`)],
          [
            'vp',
            sql`SELECT c.customer_id,
                coalesce(CASE WHEN ${valueLate} THEN lv.value
                              ELSE (CASE (SELECT basis FROM ltv_basis) WHEN 'payments' THEN cf.paid_total ELSE cf.won_total END)::DOUBLE END, 0) AS value,
                coalesce(${byField ? sql`pt.potential` : sql`CASE WHEN ${potentialLate} THEN pt.potential ELSE cf.open_total::DOUBLE END`}, 0) AS potential
              FROM cust c
              LEFT JOIN customer_facts cf ON cf.customer_id = c.customer_id
              LEFT JOIN late_value lv ON lv.customer_id = c.customer_id
              LEFT JOIN potential_by_customer pt ON pt.customer_id = c.customer_id`
          ]
        ]
      : [
          ['value_by_customer', unsafeRaw(`SELECT customer_id, sum(amount) AS value FROM rev_events WHERE is_revenue GROUP BY customer_id`)],
          ['potential_by_customer', byField ?? openDeals(sql``)],
          [
            'vp',
            unsafeRaw(`SELECT c.customer_id, coalesce(v.value, 0) AS value, coalesce(pt.potential, 0) AS potential
              FROM cust c
              LEFT JOIN value_by_customer v ON v.customer_id = c.customer_id
              LEFT JOIN potential_by_customer pt ON pt.customer_id = c.customer_id`)
          ]
        ]) as [string, Sql][]),
    [
      'medians',
      unsafeRaw(`SELECT quantile_cont(value, 0.5) FILTER (WHERE value > 0) AS value_median,
          quantile_cont(potential, 0.5) FILTER (WHERE potential > 0) AS potential_median,
          count(*)::INTEGER AS total
        FROM vp`)
    ],
    [
      'placed',
      unsafeRaw(`SELECT vp.*, (vp.value > 0 AND vp.value >= m.value_median) AS high_value,
          (vp.potential > 0 AND vp.potential >= m.potential_median) AS high_potential
        FROM vp CROSS JOIN medians m`)
    ],
    [
      'quadrants',
      sql`SELECT * FROM (VALUES ${join(QUADRANTS.map((q, i) => sql`(${q.key}, ${i}::INTEGER, ${q.high_value}, ${q.high_potential})`))}) t(quadrant, ord, high_value, high_potential)`
    ]
  ];
  const meta = unsafeRaw(`m.value_median, m.potential_median, (SELECT basis FROM ltv_basis) AS basis, m.total`);
  if (p.view === 'grid') {
    return {
      ctes: [
        ...ctes,
        [
          'cells',
          unsafeRaw(`SELECT high_value, high_potential, count(*) AS customers, sum(value) AS value, sum(potential) AS potential
            FROM placed GROUP BY high_value, high_potential`)
        ]
      ],
      body: sql`SELECT q.quadrant, q.high_value, q.high_potential, coalesce(x.customers, 0)::INTEGER AS customers,
          coalesce(x.customers, 0)::DOUBLE / nullif(m.total, 0) AS share,
          coalesce(x.value, 0)::DOUBLE AS value, coalesce(x.potential, 0)::DOUBLE AS potential,
          coalesce(x.customers, 0)::INTEGER AS n, ${meta}
        FROM quadrants q CROSS JOIN medians m
        LEFT JOIN cells x ON x.high_value = q.high_value AND x.high_potential = q.high_potential
        ORDER BY q.ord`
    };
  }
  return {
    ctes: [
      ...ctes,
      [
        'listed',
        sql`SELECT x.*, q.quadrant FROM placed x JOIN quadrants q ON q.high_value = x.high_value AND q.high_potential = x.high_potential
            WHERE (${p.quadrant ?? null}::VARCHAR IS NULL OR q.quadrant = ${p.quadrant ?? null}::VARCHAR)
              AND (len(${p.customer ?? []}::VARCHAR[]) = 0 OR list_contains(${p.customer ?? []}::VARCHAR[], x.customer_id))
            ORDER BY x.value + x.potential DESC, x.customer_id LIMIT ${p.limit}::INTEGER`
      ]
    ],
    // A customer seen through one of the viewer's deals may be owned by someone outside the scope:
    // that owner is not shown (users is the scoped table, so the join finds only visible owners).
    body: sql`SELECT l.customer_id, c.name, c.industry, c.region, c.grade, u.user_id AS owner_id, u.name AS owner_name,
        l.value, l.potential, l.quadrant, 1 AS n, ${meta}
      FROM medians m
      LEFT JOIN listed l ON TRUE
      LEFT JOIN customers c ON c.customer_id = l.customer_id
      LEFT JOIN users u ON u.user_id = c.owner_id
      ORDER BY l.value + l.potential DESC, l.customer_id`
  };
}
