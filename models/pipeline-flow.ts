/**
 * Pipeline flow (管道变动 / pipeline waterfall) — `pipeline_flow`: what changed in the open
 * pipeline between the start of the period and its end (or the report date, if earlier):
 * starting pipeline, + new, + pulled in, − pushed out, + increased, − decreased, − won, − lost,
 * − removed = ending pipeline. `pipeline_flow_deals` lists the deals behind any bar with their
 * before/after amount, stage, close date and owner. Definitions: models/common/pipeline.ts and
 * metrics.md ("Pipeline flow"). Every bar is the sum of its drill; start + Σ parts = end exactly.
 */
import { z } from 'zod';
import { dealIdentityShape } from './common/rows';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { dateString, paramsSchema } from './common/params';
import { pagingShape, searchParam } from './common/listing';
import { FLOW_BUCKETS, FLOW_PARTS, flowBucketValue, flowBucketWhere, flowSpec, pipelineFlowDealsCtes, pipelineFlowSelect } from './common/pipeline';
import { and, sql, type Sql } from '../src/lib/server/db/sql';

const windowShape = {
  /** `period` (default): close dates in the period; `all`: any close date. */
  window: z.enum(['period', 'all']).default('period'),
  /** A close window of its own, [close_from, close_to). */
  close_from: dateString.optional(),
  close_to: dateString.optional()
};

const checkWindow = (p: { close_from?: string; close_to?: string }, ctx: z.RefinementCtx) => {
  if (!!p.close_from !== !!p.close_to) ctx.addIssue({ code: 'custom', path: ['close_to'], message: 'close_from and close_to go together (close_to is exclusive)' });
  if (p.close_from && p.close_to && p.close_from >= p.close_to) ctx.addIssue({ code: 'custom', path: ['close_to'], message: 'close_to must be after close_from' });
};

const flowParams = paramsSchema(windowShape).superRefine(checkWindow);

export const flowRow = z.strictObject({
  bucket: z.enum(FLOW_BUCKETS),
  value: z.number(),
  deals: z.number().int()
});
export type FlowRow = z.infer<typeof flowRow>;

const definition = {
  'zh-CN':
    '期初管道 = 期初（前一日结束时）处于进行中阶段、预计成交日期落在本期内的商机金额（不加权），按当时的阶段、金额、预计成交日期和负责人从历史版本重建；期末同理（截至报告日）。期间变动逐单归类：新增（期内创建、重新打开或转入）、提前拉入（原预计日期在本期外）、推迟移出（预计日期移出本期）、金额增加、金额减少、赢单、输单、移除（转给筛选范围外的负责人等），以期初金额计出、期末金额计入。期初 + 各项变动 = 期末，每根柱都等于其明细之和。',
  en: 'Starting pipeline = the unweighted amount of deals in an open stage with an expected close date in the period, as they stood at the end of the day before the period starts, rebuilt from the deal history (stage, amount, close date and owner then); the ending pipeline likewise at the period end or the report date. Each deal in either is put in one bar: new (created, reopened or handed in), pulled in (close date moved into the period), pushed out (moved out), increased, decreased, won, lost, removed (handed to an owner outside the filter …); exits count at their start amount, entries at their end amount. Start + Σ changes = end, and every bar is the sum of its deals.'
};

export const pipelineFlow = defineModel({
  name: 'pipeline_flow',
  title: { 'zh-CN': '管道变动', en: 'Pipeline flow' },
  definition,
  dateField: () => 'opportunity_versions.valid_from',
  defaultPeriod: 'this_quarter',
  params: flowParams,
  row: flowRow,
  // The per-deal movements are the drill's too: computed once for both (ModelQuery.shared).
  query: (p, ctx): ModelQuery => ({
    ctes: pipelineFlowDealsCtes(p, flowSpec(ctx, p)),
    shared: 'pipeline_flow_deals',
    body: pipelineFlowSelect()
  }),
  finalize(rows, p, ctx) {
    const out = rows.map((r) => ({ bucket: r.bucket as FlowRow['bucket'], value: Number(r.value), deals: Number(r.deals) }));
    const get = (b: string) => out.find((r) => r.bucket === b);
    const spec = flowSpec(ctx, p);
    const start = get('start')?.value ?? 0;
    const end = get('end')?.value ?? 0;
    const parts = Object.fromEntries(FLOW_PARTS.map((b) => [b, get(b)?.value ?? 0]));
    return {
      rows: out,
      n: (get('start')?.deals ?? 0) + FLOW_PARTS.filter((b) => ['new', 'pulled_in'].includes(b)).reduce((s, b) => s + (get(b)?.deals ?? 0), 0),
      summary: { start, end, change: end - start, ...parts, start_at: spec.start, end_at: spec.end, window: spec.window }
    };
  }
});

export const FLOW_DEAL_SORTS = ['change_value', 'abs_value', 'before_amount', 'after_amount', 'name', 'customer_name', 'owner_name', 'after_close_date', 'before_close_date'] as const;

const dealsParams = paramsSchema({
  ...windowShape,
  bucket: z.enum(FLOW_BUCKETS).default('start'),
  q: searchParam.optional(),
  sort: z.enum(FLOW_DEAL_SORTS).default('abs_value'),
  ...pagingShape
}).superRefine(checkWindow);

export const flowDealRow = z.strictObject({
  ...dealIdentityShape,
  bucket: z.enum(FLOW_BUCKETS),
  /** The deal's part of the bar: its start value in `start`, its end value in `end`, else its signed change. */
  change_value: z.number(),
  before_stage: z.string().nullable(),
  after_stage: z.string().nullable(),
  before_amount: z.number().nullable(),
  after_amount: z.number().nullable(),
  before_close_date: z.string().nullable(),
  after_close_date: z.string().nullable(),
  before_owner_name: z.string().nullable(),
  after_owner_name: z.string().nullable()
});

type DealsP = z.output<typeof dealsParams>;

function flowDealsQuery(p: DealsP, ctx: ModelContext, paged: boolean): ModelQuery {
  const value = flowBucketValue(p.bucket);
  const needle = p.q ? p.q.toLowerCase() : '';
  const hit = (c: Sql) => sql`contains(lower(coalesce(${c}, '')), ${needle})`;
  const sortExpr: Record<(typeof FLOW_DEAL_SORTS)[number], Sql> = {
    change_value: value,
    abs_value: sql`abs(${value})`,
    before_amount: sql`d.before_amount`,
    after_amount: sql`d.after_amount`,
    name: sql`o.name`,
    customer_name: sql`c.name`,
    owner_name: sql`u.name`,
    after_close_date: sql`d.after_close_date`,
    before_close_date: sql`d.before_close_date`
  };
  const dir = p.dir === 'asc' ? sql`ASC` : sql`DESC`;
  // Every flow deal is a deal of the scoped deal_facts, so of `opportunities`: the names are
  // joined to the page's rows only, unless the search or the sort needs them on every row
  // (joining a million opportunities and customers to every drill row cost seconds at 1M deals).
  const nameJoins = sql`JOIN opportunities o ON o.opportunity_id = d.opportunity_id
      LEFT JOIN customers c ON c.customer_id = o.customer_id
      LEFT JOIN users u ON u.user_id = o.owner_id`;
  const needNames = !!needle || p.sort === 'name' || p.sort === 'customer_name' || p.sort === 'owner_name';
  const matching = sql`SELECT d.*, (${value})::DOUBLE AS change_value, ${sortExpr[p.sort]} AS sort_key
      FROM pipeline_flow_deals d
      ${needNames ? nameJoins : sql``}
      WHERE ${and([
        flowBucketWhere(p.bucket),
        !!needle && sql`(${hit(sql`d.opportunity_id`)} OR ${hit(sql`o.name`)} OR ${hit(sql`c.name`)} OR ${hit(sql`u.name`)})`
      ])}`;
  const shown = (rows: Sql) => sql`SELECT d.opportunity_id, o.name, o.customer_id, c.name AS customer_name, o.owner_id, u.name AS owner_name,
        ${p.bucket} AS bucket, d.change_value, d.before_stage, d.after_stage,
        d.before_amount::DOUBLE AS before_amount, d.after_amount::DOUBLE AS after_amount, d.before_close_date, d.after_close_date,
        ub.name AS before_owner_name, ua.name AS after_owner_name, d.sort_key
      FROM (${rows}) d
      ${nameJoins}
      LEFT JOIN users ub ON ub.user_id = d.before_owner_id
      LEFT JOIN users ua ON ua.user_id = d.after_owner_id`;
  const ctes = pipelineFlowDealsCtes(p, flowSpec(ctx, p));
  const order = sql`ORDER BY sort_key ${dir} NULLS LAST, opportunity_id ASC`;
  if (!paged) return { ctes, body: sql`SELECT * EXCLUDE (sort_key) FROM (${shown(matching)}) ${order}` };
  return {
    ctes: [...ctes, ['flow_drill', matching]],
    shared: 'pipeline_flow_deals',
    body: sql`SELECT pg.*, t.total_count, t.total_value
      FROM (SELECT count(*)::INTEGER AS total_count, coalesce(sum(change_value), 0)::DOUBLE AS total_value FROM flow_drill) t
      LEFT JOIN (${shown(sql`SELECT * FROM flow_drill ${order} LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT`)}) pg ON TRUE
      ${sql`ORDER BY pg.sort_key ${dir} NULLS LAST, pg.opportunity_id ASC`}`
  };
}

const pageRow = flowDealRow.extend({ total_count: z.number(), total_value: z.number(), sort_key: z.unknown() });

export const pipelineFlowDeals = defineModel({
  name: 'pipeline_flow_deals',
  title: { 'zh-CN': '管道变动明细', en: 'Pipeline flow deals' },
  definition,
  dateField: () => 'opportunity_versions.valid_from',
  defaultPeriod: 'this_quarter',
  params: dealsParams,
  row: flowDealRow,
  query: (p, ctx) => flowDealsQuery(p, ctx, true),
  exportQuery: (p, ctx) => flowDealsQuery(p, ctx, false),
  finalize(rows, p) {
    const first = rows[0] ?? {};
    const out = pageRow
      .array()
      .parse(rows.filter((r) => r.opportunity_id !== null))
      .map(({ total_count: _c, total_value: _v, sort_key: _k, ...r }) => r);
    const total = Number(first.total_count ?? 0);
    return { rows: out, n: total, summary: { total, total_amount: Number(first.total_value ?? 0), total_value: Number(first.total_value ?? 0), limit: p.limit, offset: p.offset } };
  }
});
