/**
 * The deals behind a number (商机明细) — `deals`: one row per opportunity, with every common
 * filter, the list refinements a drill-down adds, search, sort and paging.
 *
 * Definitions:
 * - The period filters on `date_field` (created_at by default; closed_at for won/lost
 *   figures, expected_close_date for pipeline and forecast figures); the default period is
 *   `all`, so without one every deal is listed.
 * - `status`, `stage`, `product`, `competitor`, `loss_reason`, `customer`: the deal's own
 *   fields, values within one parameter OR-ed; `category`: its forecast category (its own,
 *   else its stage's — the `forecast` model's), also the `forecast_category` column.
 * - `reached`: deals whose history shows them in that open stage or any later open stage,
 *   or won — the funnel's "reached" (metrics.md, funnel); combine with
 *   `date_field=created_at` and the funnel's period to list exactly the deals behind a
 *   funnel bar.
 * - `probability`: the deal's own, else its stage's; `weighted_amount` = amount × probability
 *   for open deals, amount for won, 0 for lost.
 * - `days_idle` (open deals): days from the later of the last stage change, the last activity
 *   on the deal, the last activity by its owner on its customer tied to no deal, and the
 *   creation date, to the report date (`last_activity_at` is the later of the two activities). `stalled` = open and idle for more than the
 *   stage's `stalled_after_days` (else the configured `stalled_after_days`) — cycle_time's
 *   stalled definition (metrics.md).
 * - `q`: case-insensitive search in the deal id, name, customer name and owner name.
 * Rows are ordered by `sort` (`dir`), ties broken by opportunity_id, then paged by
 * `limit`/`offset`; `summary.total` and `summary.total_amount` count every matching row.
 */
import { z } from 'zod';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { filterList, paramsSchema } from './common/params';
import { addDays } from './common/period';
import { boolParam, orderBy, pagingShape, searchParam, searchWhere } from './common/listing';
import { dealsRelation, inPeriod } from './common/relations';
import { and, ident, sql, type Sql } from '../src/lib/server/db/sql';

export const DEAL_DATE_FIELDS = ['created_at', 'closed_at', 'expected_close_date'] as const;

export const DEAL_SORTS = [
  'opportunity_id',
  'name',
  'customer_name',
  'owner_name',
  'team_name',
  'stage',
  'status',
  'amount',
  'weighted_amount',
  'probability',
  'expected_close_date',
  'created_at',
  'closed_at',
  'days_idle',
  'last_activity_at',
  'product',
  'source',
  'region',
  'industry'
] as const;

const params = paramsSchema({
  status: filterList.pipe(z.array(z.enum(['open', 'won', 'lost']))).optional(),
  stage: filterList.optional(),
  reached: z.string().min(1).max(200).optional(),
  competitor: filterList.optional(),
  loss_reason: filterList.optional(),
  customer: filterList.optional(),
  /** The deal's forecast category (its own, else its stage's): pipeline, best_case, commit, omitted. */
  category: filterList.optional(),
  date_field: z.enum(DEAL_DATE_FIELDS).default('created_at'),
  stalled: boolParam.optional(),
  q: searchParam.optional(),
  sort: z.enum(DEAL_SORTS).default('amount'),
  ...pagingShape
});

export const dealRow = z.strictObject({
  opportunity_id: z.string(),
  name: z.string().nullable(),
  customer_id: z.string().nullable(),
  customer_name: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  team_id: z.string().nullable(),
  team_name: z.string().nullable(),
  stage: z.string(),
  stage_index: z.number().int().nullable(),
  status: z.string().nullable(),
  amount: z.number().nullable(),
  probability: z.number().nullable(),
  weighted_amount: z.number().nullable(),
  forecast_category: z.string().nullable(),
  expected_close_date: z.string().nullable(),
  created_at: z.string().nullable(),
  closed_at: z.string().nullable(),
  product: z.string().nullable(),
  source: z.string().nullable(),
  competitor: z.string().nullable(),
  loss_reason: z.string().nullable(),
  region: z.string().nullable(),
  industry: z.string().nullable(),
  grade: z.string().nullable(),
  last_activity_at: z.string().nullable(),
  days_idle: z.number().int().nullable(),
  stalled: z.boolean()
});

type DealParams = z.output<typeof params>;

const has = (v: string[] | undefined): v is string[] => !!v && v.length > 0;

/** The listing query; `paged` adds totals (window) and LIMIT/OFFSET, the export leaves both out. */
function dealsQuery(p: DealParams, ctx: ModelContext, paged: boolean): ModelQuery {
  // Activities and stage changes up to the end of the report date count towards "idle".
  const dayEnd = addDays(ctx.asOf, 1);
  const dateCol = sql`r.${ident(p.date_field, DEAL_DATE_FIELDS)}`;
  // An unknown (or lost) stage is reached by no deal: it must list nothing, not everything.
  const reachedIdx = p.reached ? (ctx.stages.find((s) => s.name === p.reached && s.kind !== 'lost')?.index ?? Number.MAX_SAFE_INTEGER) : null;
  const sortCol = p.sort === 'stage' ? 'stage_index' : p.sort;
  // deal_facts carries the last stage change and activity over all time; for a report date in
  // the past, the deals with later events get theirs recomputed up to that date.
  const ctes: [string, Sql][] = [
    [
      'late_activity',
      sql`SELECT opportunity_id, max(occurred_at) AS at FROM activities
          WHERE occurred_at < ${dayEnd}::TIMESTAMP
            AND opportunity_id IN (SELECT opportunity_id FROM deal_facts WHERE last_activity_at >= ${dayEnd}::TIMESTAMP)
          GROUP BY opportunity_id`
    ],
    [
      'late_stage_change',
      sql`SELECT opportunity_id, max(entered_at) AS at FROM stage_events
          WHERE entered_at < ${dayEnd}::TIMESTAMP
            AND opportunity_id IN (SELECT opportunity_id FROM deal_facts WHERE last_stage_change_at >= ${dayEnd}::TIMESTAMP)
          GROUP BY opportunity_id`
    ],
    [
      // Follow-ups logged on the customer but on no deal count for each open deal of the same
      // owner with that customer (cycle_time's stalled rule).
      'customer_activity',
      sql`SELECT customer_id, owner_id, max(occurred_at) AS at FROM activities
          WHERE opportunity_id IS NULL AND occurred_at < ${dayEnd}::TIMESTAMP GROUP BY customer_id, owner_id`
    ],
    [
      'deal_rows',
      sql`SELECT r.opportunity_id, r.name, r.customer_id, c.name AS customer_name, r.owner_id, u.name AS owner_name,
          r.dim_team_leaf AS team_id, t.name AS team_name, r.stage, r.stage_idx AS stage_index, r.status,
          r.amount::DOUBLE AS amount,
          r.win_probability::DOUBLE AS probability,
          (CASE WHEN r.status = 'won' THEN r.amount WHEN r.status = 'lost' THEN 0
                ELSE r.amount * r.win_probability END)::DOUBLE AS weighted_amount,
          r.effective_forecast_category AS forecast_category, r.expected_close_date, r.created_at, r.closed_at, r.product, r.source, r.competitor,
          r.loss_reason, r.dim_region AS region, r.dim_industry AS industry, r.dim_grade AS grade,
          greatest(CASE WHEN r.last_activity_at >= ${dayEnd}::TIMESTAMP THEN la.at ELSE r.last_activity_at END, ca.at) AS last_activity_at,
          CASE WHEN r.status = 'open' THEN date_diff('day', greatest(
                 coalesce(CASE WHEN r.last_activity_at >= ${dayEnd}::TIMESTAMP THEN la.at ELSE r.last_activity_at END, r.created_at),
                 coalesce(ca.at, r.created_at),
                 coalesce(CASE WHEN r.last_stage_change_at >= ${dayEnd}::TIMESTAMP THEN ls.at ELSE r.last_stage_change_at END, r.created_at),
                 r.created_at)::DATE, ${ctx.asOf}::DATE)::INTEGER
          END AS days_idle,
          coalesce(s.stalled_after_days, ${ctx.stalledAfterDays}::INTEGER) AS stall_limit
        FROM ${dealsRelation(p)} r
        LEFT JOIN customers c ON c.customer_id = r.customer_id
        LEFT JOIN users u ON u.user_id = r.owner_id
        LEFT JOIN teams t ON t.team_id = r.dim_team_leaf
        LEFT JOIN stages s ON s.name = r.stage
        LEFT JOIN late_activity la ON la.opportunity_id = r.opportunity_id
        LEFT JOIN late_stage_change ls ON ls.opportunity_id = r.opportunity_id
        LEFT JOIN customer_activity ca ON ca.customer_id = r.customer_id AND ca.owner_id = r.owner_id
        WHERE ${and([
          ctx.period.preset !== 'all' && inPeriod(dateCol, ctx.period),
          has(p.status) && sql`list_contains(${p.status}::VARCHAR[], r.status)`,
          has(p.stage) && sql`list_contains(${p.stage}::VARCHAR[], r.stage)`,
          has(p.competitor) && sql`list_contains(${p.competitor}::VARCHAR[], r.competitor)`,
          has(p.loss_reason) && sql`list_contains(${p.loss_reason}::VARCHAR[], r.loss_reason)`,
          has(p.customer) && sql`list_contains(${p.customer}::VARCHAR[], r.customer_id)`,
          has(p.category) && sql`list_contains(${p.category}::VARCHAR[], r.effective_forecast_category)`,
          reachedIdx !== null && sql`r.furthest_idx >= ${reachedIdx}::BIGINT`,
          searchWhere(p.q, [sql`r.opportunity_id`, sql`r.name`, sql`c.name`, sql`u.name`])
        ])}`
    ]
  ];
  const stalledCond =
    p.stalled === undefined ? sql`TRUE` : p.stalled ? sql`status = 'open' AND days_idle > stall_limit` : sql`NOT (status = 'open' AND days_idle > stall_limit)`;
  const columns = sql`opportunity_id, name, customer_id, customer_name, owner_id, owner_name, team_id, team_name, stage,
      stage_index, status, amount, probability, weighted_amount, forecast_category, expected_close_date, created_at,
      closed_at, product, source, competitor, loss_reason, region, industry, grade, last_activity_at, days_idle,
      coalesce(status = 'open' AND days_idle > stall_limit, false) AS stalled`;
  const order = orderBy(sortCol, [...DEAL_SORTS, 'stage_index'], p.dir, 'opportunity_id');
  if (!paged) return { ctes, body: sql`SELECT ${columns} FROM deal_rows WHERE ${stalledCond} ${order}` };
  ctes.push(['filtered', sql`SELECT ${columns} FROM deal_rows WHERE ${stalledCond}`]);
  // The totals row always exists, so a page past the end still reports how many rows match.
  return {
    ctes,
    body: sql`SELECT pg.*, t.total_count, t.total_amount
      FROM (SELECT count(*)::INTEGER AS total_count, coalesce(sum(amount), 0)::DOUBLE AS total_amount FROM filtered) t
      LEFT JOIN (SELECT * FROM filtered ${order} LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT) pg ON TRUE
      ${order}`
  };
}

const pageRow = dealRow.extend({ total_count: z.number(), total_amount: z.number().nullable() });

export const deals = defineModel({
  name: 'deals',
  title: { 'zh-CN': '商机明细', en: 'Deals' },
  definition: {
    'zh-CN':
      '构成某个数字的商机清单。期间按所选日期字段筛选（创建、成交或预计成交日期）；"到达阶段"与漏斗口径一致（跳过的阶段视为已经过）；加权金额=在途商机金额×赢率（赢单计全额、输单计 0）；停滞=在途商机在阶段停滞天数内既无阶段变化也无跟进。',
    en: 'The deals behind a number. The period filters on the chosen date (created, closed or expected close); "reached" follows the funnel (skipped stages count as passed); weighted amount = open amount × probability (won in full, lost 0); stalled = open with no stage change and no activity for longer than the stage allows.'
  },
  dateField: (p) => `opportunities.${p.date_field}`,
  defaultPeriod: 'all',
  params,
  row: dealRow,
  query: (p, ctx) => dealsQuery(p, ctx, true),
  exportQuery: (p, ctx) => dealsQuery(p, ctx, false),
  finalize(rows, p) {
    const total = Number(rows[0]?.total_count ?? 0);
    const totalAmount = Number(rows[0]?.total_amount ?? 0);
    const out = pageRow
      .array()
      .parse(rows.filter((r) => r.opportunity_id !== null))
      .map(({ total_count: _t, total_amount: _a, ...r }) => r);
    return { rows: out, n: total, summary: { total, total_amount: totalAmount, limit: p.limit, offset: p.offset } };
  }
});
