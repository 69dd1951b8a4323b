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
import { LTV_BASES, ltvBaseCtes, ltvPerCustomerCte, ltvWindows, type LtvParams } from './ltv';
import { customersRelation, everyCustomerInView, inPeriod } from './common/relations';
import { ident, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';
import { horizonReaches } from '../warehouse/horizon';


/** The listed customers the segment and the search keep: one definition for both paths. */
function matching(from: Sql, p: { segment: keyof typeof SEGMENT_WHERE; q?: string }): Sql {
  return sql`SELECT * FROM ${from}
      WHERE ${unsafeRaw(SEGMENT_WHERE[p.segment])}
        AND ${searchWhere(p.q, [sql`customer_name`, sql`customer_id`, sql`region`, sql`industry`, sql`owner_name`])}`;
}

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

/** Segments and sorts known from the precomputed per-customer totals (customer_facts) alone. */
const FAST_SEGMENTS: readonly string[] = ['all', 'with_revenue'];
const FAST_SORTS: readonly string[] = ['customer_name', 'owner_name', 'region', 'industry', 'ltv'];

/**
 * The revenue and activity events (as ltvBaseCtes' `rev_events`: customer, time, amount, kind,
 * is_revenue) of the customers in `ids` only (a one-column relation), before the end of the
 * report date. A payment's customer is its own, else its deal's: payment_facts'
 * `effective_customer_id`, which the scope layer serves exactly as ltv's join (a visible
 * payment tied to a deal has a visible deal).
 */
function eventsOf(ids: Sql, from: string | null, asOfEnd: string): Sql {
  const payFrom = from ? sql`AND pf.paid_at >= ${from.slice(0, 10)}::DATE` : sql``;
  const dealFrom = from ? sql`AND f.closed_at >= ${from}::TIMESTAMP` : sql``;
  return sql`SELECT pf.effective_customer_id AS customer_id, pf.paid_at::TIMESTAMP AS event_at,
        coalesce(pf.paid_amount, pf.amount)::DOUBLE AS amount, 'payments' AS kind, (SELECT basis FROM ltv_basis) = 'payments' AS is_revenue
      FROM payment_facts pf
      WHERE pf.paid_at IS NOT NULL AND pf.paid_at < ${asOfEnd}::DATE ${payFrom} AND pf.effective_customer_id IN (${ids})
      UNION ALL
      SELECT f.customer_id, f.closed_at, coalesce(f.amount, 0)::DOUBLE, 'won_amount', (SELECT basis FROM ltv_basis) = 'won_amount'
      FROM deal_facts f
      WHERE f.status = 'won' AND f.closed_at < ${asOfEnd}::TIMESTAMP ${dealFrom} AND f.customer_id IN (${ids})`;
}

/**
 * The first page and the totals without aggregating every customer's events (1 s at 1M deals):
 * for the segments and sorts that need only the historical LTV (`all`, `with_revenue`; by LTV
 * or a name), the LTV is customer_facts' all-time total of the basis less what the few events
 * after the report date add; the page's other figures come from the page's customers' events;
 * the totals from the events of the period and the trailing year (date ranges of the ordered
 * facts), and the churned count from each customer's last event (customer_facts), recomputed
 * from the events for the customers with an event after the year's end. customer_facts is the
 * scoped one (warehouse/facts.ts: computed from the visible deals and payments for any scope but
 * `all`), and counts every product: a product filter takes the exact path.
 */
function fastQuery(p: P, ctx: ModelContext): ModelQuery {
  const w = ltvWindows(ctx.period, ctx.asOf);
  const dir = p.dir === 'asc' ? sql`ASC` : sql`DESC`;
  const sortCol = ident(p.sort, CUSTOMER_SORTS);
  const lastEvent = sql`greatest(cf.last_paid_at::TIMESTAMP, cf.last_won_at)`;
  const from = ctx.period.from < w.lastYearFrom ? ctx.period.from : w.lastYearFrom;
  const wide = !!p.q || p.sort !== 'ltv';
  // A customer seen through one of the viewer's deals may be owned by someone outside the scope:
  // that owner is not shown (customersRelation's owner is the scoped users').
  const ltvCol = sql`(coalesce(CASE WHEN (SELECT basis FROM ltv_basis) = 'payments' THEN cf.paid_total ELSE cf.won_total END, 0)::DOUBLE
                - coalesce(l.amount, 0))::DOUBLE`;
  // With no revenue event at or after the year's end (the usual report date: today), no customer's
  // last event is there, so the customers whose churn is recomputed from their events are none:
  // that path is left out. Its EXISTS tests were planned as hash joins over the trailing years'
  // payments and wins even for no customer (10M deals: ~240 of the listing's 830 ms).
  const later = horizonReaches(ctx.revenueHorizon, w.end);
  // Every customer listed (segment `all`, no search, no filter) and every customer an event names
  // among them (ctx.everyCustomerListed): the events of the listed customers are every event with
  // a customer, and the semi join with 2.5M listed ids (~350 ms at 10M deals) is left out.
  const allListed = everyCustomerInView(p, ctx) && p.segment === 'all' && !p.q;
  // Listed by LTV, highest first, with no revenue after the report date, the page lies among the
  // customers with a positive LTV when there are at least offset + limit of them
  // (ctx.positiveLtv): they are ranked within customer_facts alone, and the customers are only
  // counted; joining all 2.5M of them to their facts was most of the listing at 10M deals.
  const basis = p.basis === 'auto' ? (ctx.positiveLtv?.anyPayments ? 'payments' : 'won_amount') : p.basis;
  const factsPage =
    allListed && p.sort === 'ltv' && p.dir === 'desc' && !!ctx.positiveLtv && !horizonReaches(ctx.revenueHorizon, w.asOfEnd) && p.offset + p.limit <= ctx.positiveLtv[basis];
  return {
    ctes: [
      [
        'ltv_basis',
        sql`SELECT CASE ${p.basis} WHEN 'payments' THEN 'payments' WHEN 'won_amount' THEN 'won_amount'
              ELSE (CASE WHEN EXISTS (SELECT 1 FROM payments) THEN 'payments' ELSE 'won_amount' END) END AS basis`
      ],
      // revenue at or after the end of the report date, per customer (none in a snapshot as of today)
      [
        'late',
        sql`SELECT customer_id, sum(amount) AS amount FROM (
              SELECT pf.effective_customer_id AS customer_id, coalesce(pf.paid_amount, pf.amount)::DOUBLE AS amount
              FROM payment_facts pf WHERE pf.paid_at >= ${w.asOfEnd}::DATE AND (SELECT basis FROM ltv_basis) = 'payments'
              UNION ALL
              SELECT f.customer_id, coalesce(f.amount, 0)::DOUBLE FROM deal_facts f
              WHERE f.status = 'won' AND f.closed_at >= ${w.asOfEnd}::TIMESTAMP AND (SELECT basis FROM ltv_basis) = 'won_amount')
            WHERE customer_id IS NOT NULL GROUP BY customer_id`
      ],
      [
        'base',
        // Listed by LTV without a search, only the page needs the customers' names: the others are
        // carried through the join and the sort for the page's rows only.
        factsPage
          ? sql`SELECT cf.customer_id, ${ltvCol} AS ltv, ${lastEvent} AS last_event_at
              FROM customer_facts cf
              LEFT JOIN late l ON l.customer_id = cf.customer_id`
          : wide
          ? sql`SELECT r.customer_id, r.name AS customer_name, r.industry, r.region, r.grade, r.dim_owner AS owner_id, u.name AS owner_name,
                ${ltvCol} AS ltv, ${lastEvent} AS last_event_at
              FROM ${customersRelation(p)} r
              LEFT JOIN customer_facts cf ON cf.customer_id = r.customer_id
              LEFT JOIN late l ON l.customer_id = r.customer_id
              LEFT JOIN users u ON u.user_id = r.dim_owner`
          : sql`SELECT r.customer_id, ${ltvCol} AS ltv, ${lastEvent} AS last_event_at
              FROM ${customersRelation(p)} r
              LEFT JOIN customer_facts cf ON cf.customer_id = r.customer_id
              LEFT JOIN late l ON l.customer_id = r.customer_id`
      ],
      [
        'matching',
        matching(sql`base`, p)
      ],
      [
        'page_ids',
        wide
          ? sql`SELECT * FROM matching ORDER BY ${sortCol} ${dir} NULLS LAST, customer_id ASC LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT`
          : sql`SELECT pg.customer_id, r.name AS customer_name, r.industry, r.region, r.grade, u.user_id AS owner_id, u.name AS owner_name, pg.ltv
              FROM (SELECT * FROM matching ORDER BY ltv ${dir} NULLS LAST, customer_id ASC LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT) pg
              JOIN customers r ON r.customer_id = pg.customer_id
              LEFT JOIN users u ON u.user_id = r.owner_id`
      ],
      // the page's figures other than the LTV need the events of the period and the two trailing years only
      ['rev_events', eventsOf(sql`SELECT customer_id FROM page_ids`, from, w.asOfEnd)],
      ltvPerCustomerCte(ctx),
      [
        'page',
        sql`SELECT pg.customer_id, pg.customer_name, pg.industry, pg.region, pg.grade, pg.owner_id, pg.owner_name,
              (SELECT basis FROM ltv_basis) AS basis, pg.ltv,
              coalesce(pc.won_amount, 0)::DOUBLE AS won_amount, coalesce(pc.won_deals, 0)::INTEGER AS won_deals,
              coalesce(pc.revenue_year, 0)::DOUBLE AS revenue_year,
              coalesce(pc.active_year, false) AS active_year, coalesce(pc.active_last_year, false) AS active_last_year,
              coalesce(pc.active_last_year AND NOT pc.active_year, false) AS churned
            FROM page_ids pg LEFT JOIN per_customer pc ON pc.customer_id = pg.customer_id`
      ],
      // the customers whose last event is at or after the year's end (none when the year ends at the
      // report date): their churn from their events
      ...((later ? [['later', sql`SELECT customer_id FROM matching WHERE last_event_at >= ${w.end}::TIMESTAMP`]] : []) as [string, Sql][]),
      [
        // churned: a revenue or activity event in last year's window and none in this year's
        // (each test an EXISTS per customer of `later`: the planner drives it from those few)
        'later_churned',
        later ? sql`SELECT count(*)::INTEGER AS n FROM later l
            WHERE (EXISTS (SELECT 1 FROM payment_facts pf WHERE pf.effective_customer_id = l.customer_id
                             AND pf.paid_at >= ${w.lastYearFrom}::DATE AND pf.paid_at < ${w.yearFrom}::DATE)
                   OR EXISTS (SELECT 1 FROM deal_facts f WHERE f.customer_id = l.customer_id AND f.status = 'won'
                             AND f.closed_at >= ${w.lastYearFrom}::TIMESTAMP AND f.closed_at < ${w.yearFrom}::TIMESTAMP))
              AND NOT EXISTS (SELECT 1 FROM payment_facts pf WHERE pf.effective_customer_id = l.customer_id
                             AND pf.paid_at >= ${w.yearFrom}::DATE AND pf.paid_at::TIMESTAMP < ${w.end}::TIMESTAMP)
              AND NOT EXISTS (SELECT 1 FROM deal_facts f WHERE f.customer_id = l.customer_id AND f.status = 'won'
                             AND f.closed_at >= ${w.yearFrom}::TIMESTAMP AND f.closed_at < ${w.end}::TIMESTAMP)`
          : sql`SELECT 0 AS n`
      ],
      [
        // the won deals of the period and the revenue of the trailing year, of the matching customers
        'window_totals',
        sql`SELECT coalesce(sum(won_amount), 0)::DOUBLE AS won_amount, coalesce(sum(won_deals), 0)::INTEGER AS won_deals,
              coalesce(sum(revenue_year), 0)::DOUBLE AS revenue_year
            FROM (
              SELECT f.customer_id, coalesce(f.amount, 0)::DOUBLE AS won_amount, 1 AS won_deals, 0::DOUBLE AS revenue_year FROM deal_facts f
              WHERE f.status = 'won' AND f.closed_at < ${w.asOfEnd}::TIMESTAMP AND ${inPeriod(sql`f.closed_at`, ctx.period)}
              UNION ALL
              SELECT pf.effective_customer_id, 0, 0, coalesce(pf.paid_amount, pf.amount)::DOUBLE FROM payment_facts pf
              WHERE (SELECT basis FROM ltv_basis) = 'payments' AND pf.paid_at < ${w.asOfEnd}::DATE
                AND pf.paid_at::TIMESTAMP >= ${w.yearFrom}::TIMESTAMP AND pf.paid_at::TIMESTAMP < ${w.end}::TIMESTAMP
              UNION ALL
              SELECT f.customer_id, 0, 0, coalesce(f.amount, 0)::DOUBLE FROM deal_facts f
              WHERE (SELECT basis FROM ltv_basis) = 'won_amount' AND f.status = 'won' AND f.closed_at < ${w.asOfEnd}::TIMESTAMP
                AND f.closed_at >= ${w.yearFrom}::TIMESTAMP AND f.closed_at < ${w.end}::TIMESTAMP)
            WHERE ${allListed ? sql`customer_id IS NOT NULL` : sql`customer_id IN (SELECT customer_id FROM matching)`}`
      ],
      [
        'totals',
        sql`SELECT ${factsPage ? sql`(SELECT count(*) FROM ${customersRelation(p)} r)` : sql`count(*)`}::INTEGER AS total_count,
              coalesce(sum(ltv), 0)::DOUBLE AS total_ltv,
              (SELECT won_amount FROM window_totals) AS total_won_amount, (SELECT won_deals FROM window_totals) AS total_won_deals,
              (SELECT revenue_year FROM window_totals) AS total_revenue_year,
              ((count(*) FILTER (WHERE last_event_at < ${w.end}::TIMESTAMP AND last_event_at >= ${w.lastYearFrom}::TIMESTAMP
                                   AND last_event_at < ${w.yearFrom}::TIMESTAMP))
               + (SELECT n FROM later_churned))::INTEGER AS total_churned,
              (SELECT basis FROM ltv_basis) AS total_basis
            FROM matching`
      ]
    ],
    body: sql`SELECT pg.*, t.* FROM totals t LEFT JOIN page pg ON TRUE
      ORDER BY pg.${sortCol} ${dir} NULLS LAST, pg.customer_id ASC`
  };
}

/**
 * The listing by the per-request aggregation of every customer's events (ltv's own CTEs): the
 * segments and sorts fastQuery does not serve, the export, and the reference fastQuery is
 * tested against (customer-list-facts.test.ts).
 */
export function listQuery(p: P, ctx: ModelContext, paged: boolean): ModelQuery {
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
      matching(sql`listed`, p)
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
  query: (p, ctx) =>
    FAST_SEGMENTS.includes(p.segment) && FAST_SORTS.includes(p.sort) && !p.product?.length ? fastQuery(p, ctx) : listQuery(p, ctx, true),
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
