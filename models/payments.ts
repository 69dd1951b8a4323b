/**
 * Payments and receivables (回款分析) (metrics.md, `payments`).
 *
 * Outstanding at a day D = amount − paid_amount (amount when none) of what was paid on or
 * before D. A payment row is a receivable at D when it is a planned instalment (it has a due
 * date; a row without one is an unplanned receipt) and its deal did not close after D (a
 * contract signed later is not owed yet); a planned row without a deal is a receivable
 * throughout.
 *
 * `view=summary` (default), one row per group:
 * - contracted = Σ amount of deals won in the period (`opportunities.closed_at`);
 * - collected = Σ paid_amount (amount when none) with paid_at in the period;
 * - due = Σ amount with due_date in the period; collection_rate = collected / due (null when
 *   nothing was due; above 1 when arrears were collected);
 * - overdue = outstanding on the report date of receivables due before it; outstanding = all
 *   receivables outstanding on the report date (overdue + not yet due);
 * - receivables = outstanding at the period end (its last day, or the report date when that is
 *   earlier); dso = receivables / contracted × days of the period up to that day (null when
 *   nothing was contracted).
 * `view=aging`: receivables outstanding on the report date by days past due:
 *   current (not yet due), 1–30, 31–60, 61–90, >90.
 * `view=upcoming`: what falls due from the report date to the period end (outstanding on the
 *   report date), by `grain` (week by default), every bucket listed.
 * `view=overdue`: the overdue instalments themselves, largest first (`limit`, default 100).
 *
 * A payment belongs to its deal's owner, or its customer's owner when it has no deal.
 */
import { z } from 'zod';
import { defineModel } from './model';
import { grainParam, groupByParam, paramsSchema, type Dimension } from './common/params';
import { daysBetween, type Grain } from './common/period';
import { bucketsRelation, bucketStart } from './common/grain';
import { dealsRelation, dimensionKey, dimensionLabel, inPeriod, paymentsRelation, teamGroupCtes } from './common/relations';
import { sql, type Sql } from '../src/lib/server/db/sql';
import { outstandingAt, overdueAt, owedAt, paidBy, receivableAt, receivablesDay } from './common/receivables';

const PAYMENT_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'product', 'grade'] as const;
export const PAYMENT_VIEWS = ['summary', 'aging', 'upcoming', 'overdue'] as const;

/** Aging buckets: key, first and last day past due (null = open-ended). */
export const AGING_BUCKETS = [
  ['current', null, 0],
  ['1_30', 1, 30],
  ['31_60', 31, 60],
  ['61_90', 61, 90],
  ['over_90', 91, null]
] as const;

const params = paramsSchema({
  view: z.enum(PAYMENT_VIEWS).default('summary'),
  group_by: groupByParam(PAYMENT_DIMENSIONS).optional(),
  /** Buckets of the upcoming view. */
  grain: grainParam.default('week'),
  /** Rows of the overdue view. */
  limit: z.coerce.number().int().min(1).max(10_000).default(100)
}).superRefine((p, ctx) => {
  if (p.view === 'overdue' && p.group_by) {
    ctx.addIssue({ code: 'custom', path: ['group_by'], message: 'the overdue view lists instalments; group_by applies to summary, aging and upcoming' });
  }
});

const groupCols = { group_key: z.string().nullable(), group_label: z.string().nullable() };

const summaryRow = z.strictObject({
  ...groupCols,
  contracted: z.number(),
  contracted_n: z.number().int().nonnegative(),
  collected: z.number(),
  collected_n: z.number().int().nonnegative(),
  due: z.number(),
  due_n: z.number().int().nonnegative(),
  collection_rate: z.number().nonnegative().nullable(),
  overdue: z.number(),
  overdue_n: z.number().int().nonnegative(),
  outstanding: z.number(),
  receivables: z.number(),
  /** Receivables at `receivables_at` counted (the rows of `payment_list?at_period_end=true`). */
  receivables_n: z.number().int().nonnegative(),
  /** The day receivables and DSO are measured on. */
  receivables_at: z.string(),
  dso: z.number().nullable(),
  n: z.number().int().nonnegative()
});

const agingRow = z.strictObject({
  ...groupCols,
  bucket: z.enum(AGING_BUCKETS.map((b) => b[0]) as unknown as ['current', '1_30', '31_60', '61_90', 'over_90']),
  min_days: z.number().int().nullable(),
  max_days: z.number().int().nullable(),
  amount: z.number(),
  customers: z.number().int().nonnegative(),
  n: z.number().int().nonnegative()
});

const upcomingRow = z.strictObject({
  ...groupCols,
  bucket: z.string(),
  label: z.string(),
  from: z.string(),
  to: z.string(),
  amount: z.number(),
  customers: z.number().int().nonnegative(),
  n: z.number().int().nonnegative()
});

const overdueRow = z.strictObject({
  payment_id: z.string(),
  opportunity_id: z.string().nullable(),
  opportunity_name: z.string().nullable(),
  customer_id: z.string().nullable(),
  customer_name: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  due_date: z.string(),
  amount: z.number(),
  paid: z.number(),
  outstanding: z.number(),
  days_past_due: z.number().int().positive(),
  bucket: z.enum(['1_30', '31_60', '61_90', 'over_90']),
  n: z.literal(1)
});

const row = z.union([summaryRow, agingRow, upcomingRow, overdueRow]);


/** Payments (relation aliased `r` inside) with `recv_asof`/`recv_end`: receivable on the report date / the period end. */
function withReceivable(pays: Sql, asOf: string, end: string): Sql {
  // During the period (end = the report date) the two are one test: made once, since each is
  // an anti-join of every payment (issue 15.2).
  if (end === asOf) return sql`SELECT r.*, r.recv_asof AS recv_end FROM (SELECT r.*, ${receivableAt(asOf)} AS recv_asof FROM (${pays}) r) r`;
  return sql`SELECT r.*, ${receivableAt(asOf)} AS recv_asof, ${receivableAt(end)} AS recv_end FROM (${pays}) r`;
}

/** The view's main date; the summary's columns each say theirs in `summary.date_fields`. */
const DATE_FIELD: Record<(typeof PAYMENT_VIEWS)[number], string> = {
  summary: 'payments.paid_at',
  aging: 'payments.due_date',
  upcoming: 'payments.due_date',
  overdue: 'payments.due_date'
};

const SUMMARY_DATE_FIELDS = {
  contracted: 'opportunities.closed_at',
  collected: 'payments.paid_at',
  due: 'payments.due_date',
  overdue: 'payments.due_date (as of the report date)',
  outstanding: 'payments.due_date (as of the report date)',
  receivables: 'payments.due_date (as of receivables_at)'
};

export const payments = defineModel({
  name: 'payments',
  title: { 'zh-CN': '回款分析', en: 'Payments and receivables' },
  definition: {
    'zh-CN':
      '合同额=本期赢单金额（按成交日期）；回款额=实际回款日期在本期的回款；回款率=回款额/本期计划应收（按计划回款日期），补收往期欠款时可高于100%。逾期=截至报告日已过计划回款日仍未收回的金额，账龄按逾期天数分为未到期、1–30、31–60、61–90、90天以上；应收账款周转天数(DSO)=期末应收余额/本期合同额×本期天数。待回款按周或按月列出报告日起至期末到期的未收金额。',
    en: 'Contracted = won in the period (close date); collected = payments received in the period; collection rate = collected / amount due in the period (above 100% when arrears are collected). Overdue: unpaid amounts past their due date as of the report date, aged current, 1–30, 31–60, 61–90, >90 days. DSO = receivables at the period end / contracted × days in the period. Upcoming: unpaid amounts falling due from the report date to the period end, by week or month.'
  },
  dateField: (p) => DATE_FIELD[p.view],
  defaultPeriod: 'this_quarter',
  params,
  row,
  query(p, ctx) {
    const g = p.group_by as Dimension | undefined;
    const key = g ? dimensionKey(g, ctx) : sql`NULL::VARCHAR`;
    const label = g ? dimensionLabel(g, sql`x.group_key`, ctx) : sql`NULL::VARCHAR`;
    const asOf = ctx.asOf;
    const day = receivablesDay(ctx.period, ctx.asOf);
    const pays = withReceivable(sql`SELECT r.*, ${key} AS group_key FROM ${paymentsRelation(p)} r`, asOf, day);
    const teamCtes = g === 'team' ? teamGroupCtes(p) : [];
    const grouped = sql`${g ? sql`x.group_key NULLS LAST,` : sql``}`;

    if (p.view === 'summary') {
      const groupBy1 = g ? sql`GROUP BY 1` : sql``;
      const days = daysBetween(ctx.period.from, day) + 1;
      return {
        ctes: [
          ...teamCtes,
          // The payments with their group, and those owing something on the report date or the
          // receivables day, with the receivable test (an anti-join per row) made on those only.
          ['pay_rows', sql`SELECT r.*, ${key} AS group_key FROM ${paymentsRelation(p)} r`, { materialized: false }],
          ['owing', withReceivable(day === asOf
              ? sql`SELECT r.*, true AS owed_asof, true AS owed_end FROM pay_rows r WHERE ${owedAt(asOf)}`
              : sql`SELECT r.*, ${owedAt(asOf)} AS owed_asof, ${owedAt(day)} AS owed_end FROM pay_rows r WHERE ${owedAt(asOf)} OR ${owedAt(day)}`, asOf, day)],
          ['won', sql`SELECT ${key} AS group_key, sum(r.amount)::DOUBLE AS contracted, count(*)::INTEGER AS contracted_n
            FROM ${dealsRelation(p)} r WHERE r.status = 'won' AND ${inPeriod(sql`r.closed_at`, ctx.period)} ${groupBy1}`],
          // Each figure from the rows it concerns (paid in the period, due in it, owing), so the
          // date filters reach the scans, instead of a dozen filtered aggregates over every
          // payment; Σ outstanding = Σ amount − Σ paid by the day over the rows owing something
          // (owedAt): the same exact sums as Σ outstandingAt without its per-row DECIMAL(38,2)
          // arithmetic. n: the rows paid or due in the period, plus the receivables owing on
          // either day that are neither (issue 15.2).
          ['pay_agg', sql`SELECT ${g ? sql`group_key` : sql`NULL::VARCHAR AS group_key`},
              coalesce(sum(collected), 0)::DOUBLE AS collected, coalesce(sum(collected_n), 0)::INTEGER AS collected_n,
              coalesce(sum(due), 0)::DOUBLE AS due, coalesce(sum(due_n), 0)::INTEGER AS due_n,
              coalesce(sum(overdue), 0)::DOUBLE AS overdue, coalesce(sum(overdue_n), 0)::INTEGER AS overdue_n,
              coalesce(sum(outstanding), 0)::DOUBLE AS outstanding,
              coalesce(sum(receivables), 0)::DOUBLE AS receivables, coalesce(sum(receivables_n), 0)::INTEGER AS receivables_n,
              coalesce(sum(n), 0)::INTEGER AS n
            FROM (
              SELECT ${g ? sql`r.group_key,` : sql``} sum(coalesce(r.paid_amount, r.amount)) AS collected, count(*) AS collected_n,
                  NULL::DECIMAL(38,2) AS due, 0 AS due_n, NULL::DECIMAL(38,2) AS overdue, 0 AS overdue_n, NULL::DECIMAL(38,2) AS outstanding,
                  NULL::DECIMAL(38,2) AS receivables, 0 AS receivables_n, 0 AS n
                FROM pay_rows r WHERE ${inPeriod(sql`r.paid_at`, ctx.period)} ${groupBy1}
              UNION ALL
              SELECT ${g ? sql`r.group_key,` : sql``} NULL, 0, sum(r.amount), count(*), NULL, 0, NULL, NULL, 0, 0
                FROM pay_rows r WHERE ${inPeriod(sql`r.due_date`, ctx.period)} ${groupBy1}
              UNION ALL
              ${day === asOf
                ? // During the period both days are the report date: one receivable test, in the WHERE.
                  sql`SELECT ${g ? sql`r.group_key,` : sql``} NULL, 0, NULL, 0,
                  sum(r.amount) FILTER (WHERE r.due_date < ${asOf}::DATE) - sum(${paidBy(asOf)}) FILTER (WHERE r.due_date < ${asOf}::DATE),
                  count(*) FILTER (WHERE r.due_date < ${asOf}::DATE),
                  sum(r.amount) - sum(${paidBy(asOf)}), sum(r.amount) - sum(${paidBy(asOf)}), count(*),
                  count(*) FILTER (WHERE NOT coalesce(${inPeriod(sql`r.paid_at`, ctx.period)} OR ${inPeriod(sql`r.due_date`, ctx.period)}, false))
                FROM owing r WHERE r.recv_asof ${groupBy1}`
                : sql`SELECT ${g ? sql`r.group_key,` : sql``} NULL, 0, NULL, 0,
                  sum(r.amount) FILTER (WHERE r.due_date < ${asOf}::DATE AND r.owed_asof AND r.recv_asof)
                    - sum(${paidBy(asOf)}) FILTER (WHERE r.due_date < ${asOf}::DATE AND r.owed_asof AND r.recv_asof),
                  count(*) FILTER (WHERE r.due_date < ${asOf}::DATE AND r.owed_asof AND r.recv_asof),
                  sum(r.amount) FILTER (WHERE r.owed_asof AND r.recv_asof) - sum(${paidBy(asOf)}) FILTER (WHERE r.owed_asof AND r.recv_asof),
                  sum(r.amount) FILTER (WHERE r.owed_end AND r.recv_end) - sum(${paidBy(day)}) FILTER (WHERE r.owed_end AND r.recv_end),
                  count(*) FILTER (WHERE r.owed_end AND r.recv_end),
                  count(*) FILTER (WHERE ((r.owed_asof AND r.recv_asof) OR (r.owed_end AND r.recv_end))
                                     AND NOT coalesce(${inPeriod(sql`r.paid_at`, ctx.period)} OR ${inPeriod(sql`r.due_date`, ctx.period)}, false))
                FROM owing r ${groupBy1}`}
              UNION ALL
              SELECT ${g ? sql`r.group_key,` : sql``} NULL, 0, NULL, 0, NULL, 0, NULL, NULL, 0, count(*)
                FROM pay_rows r WHERE ${inPeriod(sql`r.paid_at`, ctx.period)} OR ${inPeriod(sql`r.due_date`, ctx.period)} ${groupBy1}
            ) ${groupBy1}`],
          ['x', sql`SELECT coalesce(w.group_key, a.group_key) AS group_key,
              coalesce(w.contracted, 0)::DOUBLE AS contracted, coalesce(w.contracted_n, 0)::INTEGER AS contracted_n,
              coalesce(a.collected, 0)::DOUBLE AS collected, coalesce(a.collected_n, 0)::INTEGER AS collected_n,
              coalesce(a.due, 0)::DOUBLE AS due, coalesce(a.due_n, 0)::INTEGER AS due_n,
              coalesce(a.overdue, 0)::DOUBLE AS overdue, coalesce(a.overdue_n, 0)::INTEGER AS overdue_n,
              coalesce(a.outstanding, 0)::DOUBLE AS outstanding, coalesce(a.receivables, 0)::DOUBLE AS receivables,
              coalesce(a.receivables_n, 0)::INTEGER AS receivables_n,
              coalesce(a.n, 0)::INTEGER AS n
            FROM won w FULL OUTER JOIN pay_agg a ON a.group_key IS NOT DISTINCT FROM w.group_key
            -- a group whose payments enter no figure (paid and settled long ago) is not listed
            WHERE coalesce(w.contracted_n, 0) > 0 OR coalesce(a.n, 0) > 0
            ${g ? sql`` : sql`UNION ALL SELECT NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
              WHERE NOT EXISTS (SELECT 1 FROM won WHERE contracted_n > 0) AND NOT EXISTS (SELECT 1 FROM pay_agg WHERE n > 0)`}`]
        ],
        body: sql`SELECT x.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label,
            x.contracted, x.contracted_n, x.collected, x.collected_n, x.due, x.due_n,
            x.collected / nullif(x.due, 0) AS collection_rate,
            x.overdue, x.overdue_n, x.outstanding, x.receivables, x.receivables_n, ${day} AS receivables_at,
            CASE WHEN ${days}::INTEGER > 0 THEN x.receivables / nullif(x.contracted, 0) * ${days}::INTEGER END::DOUBLE AS dso,
            x.n
          FROM x ORDER BY ${grouped} x.contracted DESC`
      };
    }

    if (p.view === 'aging') {
      const buckets = sql`SELECT * FROM (VALUES ${sql`('current', 0, NULL::INTEGER, 0), ('1_30', 1, 1, 30), ('31_60', 2, 31, 60), ('61_90', 3, 61, 90), ('over_90', 4, 91, NULL::INTEGER)`}) t(bucket, ord, min_days, max_days)`;
      return {
        ctes: [
          ...teamCtes,
          ['pays', pays],
          ['open_items', sql`SELECT r.group_key, r.customer_id, ${outstandingAt(asOf)}::DOUBLE AS outstanding,
              CASE WHEN r.due_date >= ${asOf}::DATE THEN 'current'
                   WHEN ${asOf}::DATE - r.due_date <= 30 THEN '1_30'
                   WHEN ${asOf}::DATE - r.due_date <= 60 THEN '31_60'
                   WHEN ${asOf}::DATE - r.due_date <= 90 THEN '61_90'
                   ELSE 'over_90' END AS bucket
            FROM pays r WHERE ${outstandingAt(asOf)} > 0 AND r.recv_asof`],
          ['aging_buckets', buckets],
          ['groups', g ? sql`SELECT DISTINCT group_key FROM open_items` : sql`SELECT NULL::VARCHAR AS group_key`],
          ['x', sql`SELECT gr.group_key, b.bucket, b.ord, b.min_days, b.max_days,
              coalesce(sum(o.outstanding), 0)::DOUBLE AS amount, count(DISTINCT o.customer_id)::INTEGER AS customers,
              count(o.bucket)::INTEGER AS n
            FROM groups gr CROSS JOIN aging_buckets b
            LEFT JOIN open_items o ON o.group_key IS NOT DISTINCT FROM gr.group_key AND o.bucket = b.bucket
            GROUP BY ALL`]
        ],
        body: sql`SELECT x.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label, x.bucket, x.min_days, x.max_days, x.amount, x.customers, x.n
          FROM x ORDER BY ${grouped} x.ord`
      };
    }

    if (p.view === 'upcoming') {
      const from = ctx.period.from > asOf ? ctx.period.from : asOf;
      const grain = p.grain as Grain;
      return {
        ctes: [
          ...teamCtes,
          ['pays', pays],
          ['dues', sql`SELECT r.group_key, r.customer_id, ${outstandingAt(asOf)}::DOUBLE AS outstanding,
              ${bucketStart(sql`r.due_date`, grain, ctx.fiscalYearStartMonth)} AS bucket
            FROM pays r
            WHERE r.due_date >= ${from}::DATE AND r.due_date < ${ctx.period.to}::DATE AND ${outstandingAt(asOf)} > 0 AND r.recv_asof`],
          ['buckets', bucketsRelation({ from, to: ctx.period.to > from ? ctx.period.to : from, preset: 'custom' }, grain, ctx)],
          ['groups', g ? sql`SELECT DISTINCT group_key FROM dues` : sql`SELECT NULL::VARCHAR AS group_key`],
          ['x', sql`SELECT gr.group_key, b.bucket, b.label, b.b_from, b.b_to,
              coalesce(sum(d.outstanding), 0)::DOUBLE AS amount, count(DISTINCT d.customer_id)::INTEGER AS customers,
              count(d.bucket)::INTEGER AS n
            FROM groups gr CROSS JOIN buckets b
            LEFT JOIN dues d ON d.group_key IS NOT DISTINCT FROM gr.group_key AND d.bucket = b.bucket
            GROUP BY ALL`]
        ],
        body: sql`SELECT x.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label,
            strftime(x.bucket, '%Y-%m-%d') AS bucket, x.label, strftime(x.b_from, '%Y-%m-%d') AS "from", strftime(x.b_to, '%Y-%m-%d') AS "to",
            x.amount, x.customers, x.n
          FROM x ORDER BY ${grouped} x.bucket`
      };
    }

    // view = overdue: the overdue items (with their totals), the largest `limit` of them, then
    // their names.
    return {
      ctes: [
        ['items', sql`SELECT r.payment_id, r.opportunity_id, r.customer_id, r.dim_owner AS owner_id, r.due_date,
            r.amount::DOUBLE AS amount, (r.amount::DECIMAL(38,2) - ${outstandingAt(asOf)})::DOUBLE AS paid, ${outstandingAt(asOf)}::DOUBLE AS outstanding,
            (${asOf}::DATE - r.due_date)::INTEGER AS days_past_due
          FROM ${paymentsRelation(p)} r
          WHERE ${overdueAt(asOf)} AND ${receivableAt(asOf)}`],
        ['totals', sql`SELECT count(*)::INTEGER AS total_n, coalesce(sum(outstanding), 0)::DOUBLE AS total_outstanding FROM items`],
        ['top', sql`SELECT i.*, t.total_n, t.total_outstanding
          FROM (SELECT * FROM items ORDER BY outstanding DESC, days_past_due DESC, payment_id LIMIT ${p.limit}) i CROSS JOIN totals t`]
      ],
      body: sql`SELECT i.payment_id, i.opportunity_id, o.name AS opportunity_name, i.customer_id, c.name AS customer_name,
          i.owner_id, u.name AS owner_name, strftime(i.due_date, '%Y-%m-%d') AS due_date, i.amount, i.paid, i.outstanding, i.days_past_due,
          CASE WHEN i.days_past_due <= 30 THEN '1_30' WHEN i.days_past_due <= 60 THEN '31_60' WHEN i.days_past_due <= 90 THEN '61_90' ELSE 'over_90' END AS bucket,
          1 AS n, i.total_n, i.total_outstanding
        FROM top i
        LEFT JOIN (SELECT opportunity_id, name FROM opportunities WHERE opportunity_id IN (SELECT opportunity_id FROM top)) o ON o.opportunity_id = i.opportunity_id
        LEFT JOIN (SELECT customer_id, name FROM customers WHERE customer_id IN (SELECT customer_id FROM top)) c ON c.customer_id = i.customer_id
        LEFT JOIN users u ON u.user_id = i.owner_id
        ORDER BY i.outstanding DESC, i.days_past_due DESC, i.payment_id`
    };
  },
  finalize(rows, p) {
    if (p.view === 'overdue') {
      const total = z.object({ total_n: z.number(), total_outstanding: z.number() }).partial().parse(rows[0] ?? {});
      const out = rows.map(({ total_n: _n, total_outstanding: _o, ...r }) => r) as z.input<typeof overdueRow>[];
      return { rows: out, n: total.total_n ?? 0, summary: { overdue: total.total_outstanding ?? 0, overdue_n: total.total_n ?? 0, listed: out.length } };
    }
    const typed = rows as { n: number }[];
    const summary = p.view === 'summary' ? { date_fields: SUMMARY_DATE_FIELDS } : { as_of_field: 'payments.due_date' };
    return { rows: typed as never, n: typed.reduce((s, r) => s + r.n, 0), summary };
  }
});
