/**
 * Customer value (客户价值/LTV), metrics.md `ltv`. Customer-level: filters and segments are
 * the customer's (team/owner = the customer's owner, region, industry, source, grade); a
 * `product` filter keeps customers with a deal of that product and counts only those deals
 * and their payments.
 *
 * Revenue basis: received payments (Σ paid_amount, or amount when a payment has a paid date
 * and no paid amount, dated paid_at) or, when there are no payments at all among the rows the
 * viewer can see, won deal amounts (dated closed_at). `basis` forces either; every row says
 * which was used. Only what happened before the end of the report date counts.
 *
 * `view=segments` (default), one row per segment (`group_by`) or one for all:
 * - historical_ltv: Σ revenue; avg_historical_ltv = that / customers with revenue > 0.
 * - acv (平均客单价) = won amount / won deals, deals won in the period.
 * - Predictive LTV = ARPA × gross_margin × lifetime_years, lifetime_years = 1 / churn capped
 *   at 10 years (so 10 when churn is 0). The year is the twelve months ending at the period's
 *   end or the report date, whichever is earlier; last year the twelve before. A customer is
 *   active in a year with a payment received or a deal won in it (whatever the basis).
 *   ARPA = the year's revenue / customers active in the year; churn = customers active last
 *   year and not this year / customers active last year. Null on a zero denominator.
 *
 * `view=cohorts`: customers by the month of their first won deal (the period filters that
 * month); for each month since (0 = the first-win month, up to the report date's month):
 * customers, retained (active in that month: a payment received or a deal won), retained
 * share, the month's revenue and the cumulative revenue per cohort customer.
 */
import { z } from 'zod';
import { defineModel, type ModelContext } from './model';
import { groupByParam, paramsSchema } from './common/params';
import { addDays } from './common/period';
import { customersRelation, dimensionKey, dimensionLabel, everyCustomerInView, inPeriod, teamGroupCtes } from './common/relations';
import { sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';
import { horizonReaches } from '../warehouse/horizon';

const SEGMENT_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'grade'] as const;
export const LTV_VIEWS = ['segments', 'cohorts'] as const;
export const LTV_BASES = ['auto', 'payments', 'won_amount'] as const;

/** Years of revenue a customer is expected to bring at most (when churn is 0 or tiny). */
export const MAX_LIFETIME_YEARS = 10;

const params = paramsSchema({
  view: z.enum(LTV_VIEWS).default('segments'),
  group_by: groupByParam(SEGMENT_DIMENSIONS).optional(),
  basis: z.enum(LTV_BASES).default('auto'),
  /** Share of revenue kept as margin; 1 = lifetime revenue. */
  gross_margin: z.coerce.number().gt(0).max(1).default(1)
}).superRefine((p, ctx) => {
  if (p.group_by && p.view !== 'segments') {
    ctx.addIssue({ code: 'custom', path: ['group_by'], message: `group_by works with view=segments only (view is ${p.view})` });
  }
});

const basis = z.enum(['payments', 'won_amount']);
const count = z.number().int().nonnegative();
const money = z.number();

export const ltvSegmentRow = z.strictObject({
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  basis,
  /** Customers in the segment (all, leads included). */
  customers: count,
  customers_with_revenue: count,
  historical_ltv: money,
  avg_historical_ltv: money.nullable(),
  won_amount: money,
  won_deals: count,
  acv: money.nullable(),
  active_customers: count,
  active_last_year: count,
  churned: count,
  churn: z.number().min(0).max(1).nullable(),
  arpa: money.nullable(),
  lifetime_years: z.number().positive().max(MAX_LIFETIME_YEARS).nullable(),
  gross_margin: z.number(),
  predictive_ltv: money.nullable(),
  n: count
});

export const ltvCohortRow = z.strictObject({
  /** `YYYY-MM` of the first won deal. */
  cohort: z.string(),
  months_since: z.number().int().nonnegative(),
  basis,
  customers: count,
  retained: count,
  retained_share: z.number().min(0).max(1).nullable(),
  revenue: money,
  cumulative_revenue_per_customer: money.nullable(),
  n: count
});

const row = z.union([ltvSegmentRow, ltvCohortRow]);
export type LtvSegmentRow = z.infer<typeof ltvSegmentRow>;
export type LtvCohortRow = z.infer<typeof ltvCohortRow>;

export type LtvParams = z.output<typeof params>;

/** The end of the report date, and the two trailing years (this year, last year). */
export function ltvWindows(period: { to: string }, asOf: string) {
  const asOfEnd = addDays(asOf, 1);
  const end = period.to < asOfEnd ? period.to : asOfEnd;
  const shiftYears = (d: string, n: number) => `${Number(d.slice(0, 4)) - n}${d.slice(4)}`;
  // Feb 29 shifted by a year becomes Mar 1.
  const valid = (d: string) => (d.endsWith('-02-29') && !isLeap(Number(d.slice(0, 4))) ? `${d.slice(0, 4)}-03-01` : d);
  return { asOfEnd, end, yearFrom: valid(shiftYears(end, 1)), lastYearFrom: valid(shiftYears(end, 2)) };
}
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * The CTEs every view shares: the basis, the filtered customers (`cust`) and the revenue and
 * activity events (`events`: customer, time, amount, kind, is_revenue). Payments come from
 * payment_facts (its deal's product is there); a payment without a customer takes its deal's.
 * Events are not joined to `cust` here: the views aggregate per customer first and join the
 * (much smaller) result.
 */
export function ltvBaseCtes(p: LtvParams, ctx: ModelContext, groupKey: Sql, opts: { revenueOnly?: boolean } = {}): [string, Sql][] {
  const { asOfEnd } = ltvWindows(ctx.period, ctx.asOf);
  const product = p.product?.length ? p.product : null;
  const payProduct = product ? sql`AND list_contains(${product}::VARCHAR[], pf.product)` : sql``;
  const dealProduct = product ? sql`AND list_contains(${product}::VARCHAR[], f.product)` : sql``;
  // The grid needs only the revenue of the basis; the other views also need the other kind as activity.
  const payBasis = opts.revenueOnly ? unsafeRaw(`AND (SELECT basis FROM ltv_basis) = 'payments'`) : sql``;
  return [
    [
      'ltv_basis',
      sql`SELECT CASE ${p.basis} WHEN 'payments' THEN 'payments' WHEN 'won_amount' THEN 'won_amount'
            ELSE (CASE WHEN EXISTS (SELECT 1 FROM payments) THEN 'payments' ELSE 'won_amount' END) END AS basis`
    ],
    ['cust', sql`SELECT r.customer_id, ${groupKey}::VARCHAR AS group_key FROM ${customersRelation(p)} r`],
    [
      'events',
      sql`SELECT pf.customer_id, pf.paid_at::TIMESTAMP AS event_at, coalesce(pf.paid_amount, pf.amount)::DOUBLE AS amount, 'payments' AS kind
          FROM payment_facts pf
          WHERE pf.customer_id IS NOT NULL AND pf.paid_at IS NOT NULL AND pf.paid_at < ${asOfEnd}::DATE ${payProduct} ${payBasis}
          UNION ALL
          SELECT f.customer_id, pf.paid_at::TIMESTAMP, coalesce(pf.paid_amount, pf.amount)::DOUBLE, 'payments'
          FROM payment_facts pf JOIN deal_facts f ON f.opportunity_id = pf.opportunity_id
          WHERE pf.customer_id IS NULL AND pf.paid_at IS NOT NULL AND pf.paid_at < ${asOfEnd}::DATE ${payProduct} ${payBasis}
          UNION ALL
          SELECT f.customer_id, f.closed_at, coalesce(f.amount, 0)::DOUBLE, 'won_amount'
          FROM deal_facts f
          WHERE f.status = 'won' AND f.closed_at < ${asOfEnd}::TIMESTAMP ${dealProduct}
            ${opts.revenueOnly ? unsafeRaw(`AND (SELECT basis FROM ltv_basis) = 'won_amount'`) : sql``}`
    ],
    [
      'rev_events',
      unsafeRaw(`SELECT e.*, e.kind = (SELECT basis FROM ltv_basis) AS is_revenue FROM events e WHERE e.customer_id IS NOT NULL`)
    ]
  ];
}

export const ltv = defineModel({
  name: 'ltv',
  title: { 'zh-CN': '客户价值 (LTV)', en: 'Customer value (LTV)' },
  definition: {
    'zh-CN':
      '历史LTV=客户累计实际回款（无回款数据时用赢单金额，结果注明口径）。平均客单价=本期赢单金额/赢单数。预测LTV=ARPA×毛利率×客户寿命，客户寿命=1/流失率，最长10年；ARPA=近12个月收入/活跃客户数，流失率=上一年活跃而近12个月无回款也无赢单的客户占比。同期群：按首次赢单月份分组，逐月留存率与人均累计收入。',
    en: 'Historical LTV = payments received from a customer (won amounts when there are no payments; the result says which). ACV = won amount / won deals in the period. Predictive LTV = ARPA × gross margin × lifetime, lifetime = 1 / churn capped at 10 years; ARPA = trailing-year revenue per active customer, churn = share of last year\'s active customers with no payment or win this year. Cohorts by first won month: retention and cumulative revenue per customer by month.'
  },
  // acv and the first win of a cohort by close date; the trailing years end at the period's end.
  dateField: () => 'opportunities.closed_at',
  defaultPeriod: 'this_year',
  params,
  row,
  query(p, ctx) {
    return p.view === 'cohorts' ? cohorts(p, ctx) : segments(p, ctx);
  },
  finalize(rows, p, ctx) {
    const w = ltvWindows(ctx.period, ctx.asOf);
    const list = rows as (LtvSegmentRow | LtvCohortRow)[];
    const n =
      p.view === 'cohorts'
        ? (list as LtvCohortRow[]).filter((r) => r.months_since === 0).reduce((s, r) => s + r.customers, 0)
        : list.reduce((s, r) => s + r.n, 0);
    return {
      rows: list,
      n,
      summary: {
        basis: list[0]?.basis ?? null,
        this_year: { from: w.yearFrom, to: w.end },
        last_year: { from: w.lastYearFrom, to: w.yearFrom },
        gross_margin: p.gross_margin,
        max_lifetime_years: MAX_LIFETIME_YEARS
      }
    };
  }
});

/**
 * `per_customer` over `rev_events` (after ltvBaseCtes): each customer's historical LTV, the
 * trailing year's revenue, whether active this year and last year, and the deals won in the
 * period and their amount. The segments aggregate it; `customer_list` lists it.
 */
export function ltvPerCustomerCte(ctx: ModelContext): [string, Sql] {
  const w = ltvWindows(ctx.period, ctx.asOf);
  const inYear = sql`(e.event_at >= ${w.yearFrom}::TIMESTAMP AND e.event_at < ${w.end}::TIMESTAMP)`;
  const inLastYear = sql`(e.event_at >= ${w.lastYearFrom}::TIMESTAMP AND e.event_at < ${w.yearFrom}::TIMESTAMP)`;
  return [
    'per_customer',
    sql`SELECT e.customer_id,
          coalesce(sum(e.amount) FILTER (WHERE e.is_revenue), 0) AS ltv,
          coalesce(sum(e.amount) FILTER (WHERE e.is_revenue AND ${inYear}), 0) AS revenue_year,
          coalesce(bool_or(${inYear}), false) AS active_year,
          coalesce(bool_or(${inLastYear}), false) AS active_last_year,
          count(*) FILTER (WHERE e.kind = 'won_amount' AND ${inPeriod(sql`e.event_at`, ctx.period)}) AS won_deals,
          coalesce(sum(e.amount) FILTER (WHERE e.kind = 'won_amount' AND ${inPeriod(sql`e.event_at`, ctx.period)}), 0) AS won_amount
        FROM rev_events e GROUP BY e.customer_id`
  ];
}

/** A segment's figures over its customers' `per_customer` rows (pc), besides how many customers it has. */
const SEGMENT_MEASURES = `count(*) FILTER (WHERE pc.ltv > 0)::INTEGER AS customers_with_revenue,
  coalesce(sum(pc.ltv), 0)::DOUBLE AS historical_ltv,
  coalesce(sum(pc.won_amount), 0)::DOUBLE AS won_amount,
  coalesce(sum(pc.won_deals), 0)::INTEGER AS won_deals,
  count(*) FILTER (WHERE pc.active_year)::INTEGER AS active_customers,
  count(*) FILTER (WHERE pc.active_last_year)::INTEGER AS active_last_year,
  count(*) FILTER (WHERE pc.active_last_year AND NOT pc.active_year)::INTEGER AS churned,
  coalesce(sum(pc.revenue_year), 0)::DOUBLE AS revenue_year`;

/**
 * The segment's figures without the per-customer aggregation of every event (segments, when no
 * revenue event is at or after the year's end and every customer an event names is listed): each
 * customer's LTV and last event from customer_facts (over every owner: the viewer sees all), the
 * period's wins and the year's revenue as sums over their date ranges, and last year's active
 * customers from that year's events. The same events per_customer reads: payments received (their
 * customer, else their deal's: effective_customer_id) and deals won, before the report date's end.
 */
function segmentFactsCtes(ctx: ModelContext): [string, Sql][] {
  const w = ltvWindows(ctx.period, ctx.asOf);
  const payments = unsafeRaw(`(SELECT basis FROM ltv_basis) = 'payments'`);
  return [
    [
      'seg_facts',
      sql`SELECT customer_id, (CASE WHEN ${payments} THEN paid_total ELSE won_total END)::DOUBLE AS ltv,
            greatest(last_paid_at::TIMESTAMP, last_won_at) AS last_at
          FROM customer_facts`
    ],
    [
      'seg_won',
      sql`SELECT coalesce(sum(coalesce(f.amount, 0)), 0)::DOUBLE AS won_amount, count(*)::INTEGER AS won_deals
          FROM deal_facts f
          WHERE f.status = 'won' AND f.customer_id IS NOT NULL AND f.closed_at < ${w.asOfEnd}::TIMESTAMP AND ${inPeriod(sql`f.closed_at`, ctx.period)}`
    ],
    [
      'seg_revenue',
      sql`SELECT coalesce(sum(amount), 0)::DOUBLE AS revenue FROM (
            SELECT coalesce(pf.paid_amount, pf.amount)::DOUBLE AS amount FROM payment_facts pf
            WHERE ${payments} AND pf.effective_customer_id IS NOT NULL AND pf.paid_at < ${w.asOfEnd}::DATE
              AND pf.paid_at::TIMESTAMP >= ${w.yearFrom}::TIMESTAMP AND pf.paid_at::TIMESTAMP < ${w.end}::TIMESTAMP
            UNION ALL
            SELECT coalesce(f.amount, 0)::DOUBLE FROM deal_facts f
            WHERE NOT ${payments} AND f.status = 'won' AND f.customer_id IS NOT NULL AND f.closed_at < ${w.asOfEnd}::TIMESTAMP
              AND f.closed_at >= ${w.yearFrom}::TIMESTAMP AND f.closed_at < ${w.end}::TIMESTAMP)`
    ],
    [
      'seg_last_year',
      sql`SELECT DISTINCT customer_id FROM (
            SELECT pf.effective_customer_id AS customer_id FROM payment_facts pf
            WHERE pf.paid_at < ${w.asOfEnd}::DATE AND pf.paid_at::TIMESTAMP >= ${w.lastYearFrom}::TIMESTAMP AND pf.paid_at::TIMESTAMP < ${w.yearFrom}::TIMESTAMP
            UNION ALL
            SELECT f.customer_id FROM deal_facts f
            WHERE f.status = 'won' AND f.closed_at < ${w.asOfEnd}::TIMESTAMP
              AND f.closed_at >= ${w.lastYearFrom}::TIMESTAMP AND f.closed_at < ${w.yearFrom}::TIMESTAMP)
          WHERE customer_id IS NOT NULL`
    ]
  ];
}

function segments(p: LtvParams, ctx: ModelContext) {
  const key = p.group_by ? dimensionKey(p.group_by, ctx) : sql`NULL::VARCHAR`;
  const label = p.group_by ? dimensionLabel(p.group_by, sql`s.group_key`, ctx) : sql`NULL::VARCHAR`;
  const w = ltvWindows(ctx.period, ctx.asOf);
  // Ungrouped, for an unfiltered viewer who sees every customer an event names
  // (ctx.everyCustomerListed), every per_customer row is a listed customer's: its sums need no
  // join with the 2.5M customers (at 10M deals), only their count. And when no revenue event is
  // at or after the year's end either (ctx.revenueHorizon; the usual report date, today), every
  // customer's figures up to it are customer_facts' totals and last event: only who was active
  // last year needs the events (that year's), and the 6M-event aggregation per customer is left
  // out (docs/decisions.md, "LTV segments from customer_facts").
  const unfiltered = !p.group_by && everyCustomerInView(p, ctx);
  const fromFacts = unfiltered && !horizonReaches(ctx.revenueHorizon, w.end);
  return {
    ctes: [
      ...(p.group_by === 'team' ? teamGroupCtes(p) : []),
      ...ltvBaseCtes(p, ctx, key),
      ...(fromFacts ? segmentFactsCtes(ctx) : [ltvPerCustomerCte(ctx)]),
      [
        'seg',
        fromFacts
          ? sql`SELECT NULL::VARCHAR AS group_key, (SELECT count(*) FROM cust)::INTEGER AS customers,
              count(*) FILTER (WHERE sf.ltv > 0)::INTEGER AS customers_with_revenue,
              coalesce(sum(sf.ltv), 0)::DOUBLE AS historical_ltv,
              (SELECT won_amount FROM seg_won) AS won_amount, (SELECT won_deals FROM seg_won) AS won_deals,
              count(*) FILTER (WHERE sf.last_at >= ${w.yearFrom}::TIMESTAMP)::INTEGER AS active_customers,
              (SELECT count(*) FROM seg_last_year)::INTEGER AS active_last_year,
              (SELECT count(*) FROM seg_last_year l JOIN seg_facts f ON f.customer_id = l.customer_id
                 WHERE f.last_at < ${w.yearFrom}::TIMESTAMP)::INTEGER AS churned,
              (SELECT revenue FROM seg_revenue) AS revenue_year
            FROM seg_facts sf`
          : unfiltered
            ? unsafeRaw(`SELECT NULL::VARCHAR AS group_key, (SELECT count(*) FROM cust)::INTEGER AS customers, ${SEGMENT_MEASURES}
            FROM per_customer pc`)
            : unsafeRaw(`SELECT c.group_key, count(*)::INTEGER AS customers, ${SEGMENT_MEASURES}
            FROM cust c LEFT JOIN per_customer pc ON pc.customer_id = c.customer_id
            GROUP BY c.group_key`)
      ],
      [
        'seg_rates',
        sql`SELECT s.*, s.churned::DOUBLE / nullif(s.active_last_year, 0) AS churn,
              s.revenue_year / nullif(s.active_customers, 0) AS arpa
            FROM seg s`
      ]
    ] as [string, Sql][],
    body: sql`SELECT s.group_key, ${label}::VARCHAR AS group_label, (SELECT basis FROM ltv_basis) AS basis,
        s.customers, s.customers_with_revenue, s.historical_ltv,
        s.historical_ltv / nullif(s.customers_with_revenue, 0) AS avg_historical_ltv,
        s.won_amount, s.won_deals, s.won_amount / nullif(s.won_deals, 0) AS acv,
        s.active_customers, s.active_last_year, s.churned, s.churn, s.arpa,
        CASE WHEN s.churn IS NULL THEN NULL WHEN s.churn = 0 THEN ${MAX_LIFETIME_YEARS}::DOUBLE
             ELSE least(1 / s.churn, ${MAX_LIFETIME_YEARS}::DOUBLE) END AS lifetime_years,
        ${p.gross_margin}::DOUBLE AS gross_margin,
        s.arpa * ${p.gross_margin}::DOUBLE * CASE WHEN s.churn IS NULL THEN NULL WHEN s.churn = 0 THEN ${MAX_LIFETIME_YEARS}::DOUBLE
             ELSE least(1 / s.churn, ${MAX_LIFETIME_YEARS}::DOUBLE) END AS predictive_ltv,
        s.customers AS n
      FROM ${p.group_by ? sql`seg_rates s` : sql`(SELECT * FROM seg_rates UNION ALL SELECT NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM seg_rates)) s`}
      ORDER BY s.historical_ltv DESC, s.customers DESC, s.group_key NULLS LAST`
  };
}

function cohorts(p: LtvParams, ctx: ModelContext) {
  const lastMonth = sql`date_trunc('month', ${ctx.asOf}::DATE)::DATE`;
  return {
    ctes: [
      ...ltvBaseCtes(p, ctx, sql`NULL`),
      [
        'first_won',
        p.product?.length
          ? sql`SELECT customer_id, date_trunc('month', min(event_at))::DATE AS cohort_start
            FROM rev_events WHERE kind = 'won_amount' AND customer_id IN (SELECT customer_id FROM cust) GROUP BY customer_id
            HAVING ${inPeriod(sql`min(event_at)`, ctx.period)}`
          : // the first win among the viewer's deals is precomputed (customer_facts, scoped like
            // the deals); before the end of the report date it is that one or none
            sql`SELECT customer_id, date_trunc('month', first_won_at)::DATE AS cohort_start
            FROM customer_facts
            WHERE first_won_at < ${ltvWindows(ctx.period, ctx.asOf).asOfEnd}::TIMESTAMP AND ${inPeriod(sql`first_won_at`, ctx.period)}
              ${
                // every customer of customer_facts is in `cust` for an unfiltered viewer who sees all
                // (ctx.everyCustomerListed): the semi join with every customer is left out
                everyCustomerInView(p, ctx) ? sql`` : sql`AND customer_id IN (SELECT customer_id FROM cust)`
              }`
      ],
      ['sizes', unsafeRaw(`SELECT cohort_start, count(*)::INTEGER AS customers FROM first_won GROUP BY cohort_start`)],
      [
        'cells',
        sql`SELECT s.cohort_start, s.customers, k.months_since
            FROM sizes s, LATERAL (SELECT unnest(range(0, date_diff('month', s.cohort_start, ${lastMonth}) + 1)) AS months_since) k`
      ],
      [
        'monthly',
        unsafeRaw(`SELECT f.cohort_start, date_diff('month', f.cohort_start, date_trunc('month', e.event_at)::DATE) AS months_since,
              count(DISTINCT e.customer_id)::INTEGER AS retained,
              coalesce(sum(e.amount) FILTER (WHERE e.is_revenue), 0)::DOUBLE AS revenue
            FROM rev_events e JOIN first_won f ON f.customer_id = e.customer_id
            WHERE e.event_at >= f.cohort_start
            GROUP BY ALL`)
      ]
    ] as [string, Sql][],
    body: sql`SELECT strftime(c.cohort_start, '%Y-%m') AS cohort, c.months_since::INTEGER AS months_since,
        (SELECT basis FROM ltv_basis) AS basis, c.customers,
        coalesce(m.retained, 0) AS retained, coalesce(m.retained, 0)::DOUBLE / c.customers AS retained_share,
        coalesce(m.revenue, 0) AS revenue,
        sum(coalesce(m.revenue, 0)) OVER (PARTITION BY c.cohort_start ORDER BY c.months_since) / c.customers AS cumulative_revenue_per_customer,
        c.customers AS n
      FROM cells c LEFT JOIN monthly m ON m.cohort_start = c.cohort_start AND m.months_since = c.months_since
      ORDER BY c.cohort_start, c.months_since`
  };
}
