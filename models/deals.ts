/**
 * The deals behind a number (商机明细) — `deals`: one row per opportunity, with every common
 * filter, the list refinements a drill-down adds, search, sort and paging.
 *
 * Definitions:
 * - The period filters on `date_field` (created_at by default; closed_at for won/lost
 *   figures, expected_close_date for pipeline and forecast figures; `forecast_date` — the
 *   close date of a closed deal, the expected close date of an open one — lists exactly the
 *   deals of the weighted forecast: won in the period plus open deals expected to close in
 *   it, whatever a won deal's stale expected date says); the default period is `all`, so
 *   without one every deal is listed.
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
 * - `risk_flags`, `pushes` (open deals, as of the report date): pushed close date, stalled in its
 *   stage, shrinking amount, no activity for `idle_days` (default 30), past its expected close —
 *   models/common/risk.ts; `risk` lists the deals with any of the given flags (`any`: at least
 *   one); sort `risk_count` (or `risk_flags`) ranks by how many flags a deal has.
 * - `q`: case-insensitive search in the deal id, name, customer name and owner name.
 * Rows are ordered by `sort` (`dir`), ties broken by opportunity_id, then paged by
 * `limit`/`offset`; `summary.total` and `summary.total_amount` count every matching row
 * (`summary.total_weighted` sums their weighted amounts); `summary.total_value` values
 * them as the funnel does (a lost deal the source zeroed at its last open amount; `valued_from_history`
 * says how many).
 */
import { z } from 'zod';
import { dealIdentityShape } from './common/rows';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { filterList, paramsSchema } from './common/params';
import { addDays } from './common/period';
import { boolParam, boundedTotals, COUNT_CAP, countedTotals, countParam, pagingShape, rowIdPage, searchParam } from './common/listing';
import { dealDaysRelation, dealsRelation, inDays, inPeriod, rollupServes } from './common/relations';
import { DEFAULT_IDLE_DAYS, lateEventsPossible, RISK_FLAGS, riskFromFacts, riskWhere } from './common/risk';
import { lastStageChangeBefore } from './common/pit';
import { and, ident, join, sql, type Sql } from '../src/lib/server/db/sql';

export const DEAL_DATE_FIELDS = ['created_at', 'closed_at', 'expected_close_date', 'forecast_date'] as const;

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
  'industry',
  'risk_count',
  'risk_flags'
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
  /** Deals with any of these risk flags (models/common/risk.ts); `any`: at least one. */
  risk: filterList.pipe(z.array(z.enum([...RISK_FLAGS, 'any']))).optional(),
  /** The no-activity risk's threshold in days. */
  idle_days: z.coerce.number().int().min(1).max(3650).default(DEFAULT_IDLE_DAYS),
  q: searchParam.optional(),
  sort: z.enum(DEAL_SORTS).default('amount'),
  count: countParam,
  ...pagingShape
});

export const dealRow = z.strictObject({
  ...dealIdentityShape,
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
  stalled: z.boolean(),
  /** Risk flags of an open deal as of the report date (models/common/risk.ts); empty when closed. */
  risk_flags: z.array(z.enum(RISK_FLAGS)),
  /** How many times its expected close date was moved later. */
  pushes: z.number().int()
});

type DealParams = z.output<typeof params>;

const has = (v: string[] | undefined): v is string[] => !!v && v.length > 0;

/** Sort keys that need the idle figures (activities as of the report date) for every candidate row. */
const IDLE_SORTS = new Set(['days_idle', 'last_activity_at']);

/**
 * The listing's totals from the rollup by owner and day (warehouse/facts.ts, deal_day_facts),
 * when its filters are all the rollup's keys: team and owner (rollupServes), status, and the
 * period on the creation or close date (or every deal: role `any`; open deals by expected close
 * date: role `expected`). The same count, sums and "valued from history" count as over the
 * matching deals; `count=bounded` reports at most COUNT_CAP + 1 as the scan would. Null when
 * any other filter is set (stage, reached, search, stalled, risk …): the totals scan the deals.
 */
function rollupTotals(p: DealParams, ctx: ModelContext): Sql | null {
  if (!rollupServes(p)) return null;
  if (has(p.stage) || has(p.competitor) || has(p.loss_reason) || has(p.customer) || has(p.category) || has(p.risk)) return null;
  if (p.reached !== undefined || p.q || p.stalled !== undefined) return null;
  const all = ctx.period.preset === 'all';
  const onlyOpen = has(p.status) && p.status.every((x) => x === 'open');
  const role = all ? 'any' : p.date_field === 'created_at' ? 'created' : p.date_field === 'closed_at' ? 'closed' : p.date_field === 'expected_close_date' && onlyOpen ? 'expected' : null;
  if (!role) return null;
  const count = sql`coalesce(sum(r.n), 0)`;
  return sql`SELECT ${p.count === 'bounded' ? sql`least(${count}, ${COUNT_CAP + 1}::BIGINT)` : count}::INTEGER AS total_count,
      coalesce(sum(r.amount), 0)::DOUBLE AS total_amount, coalesce(sum(r.effective_amount), 0)::DOUBLE AS total_value,
      coalesce(sum(r.revalued), 0)::INTEGER AS valued_from_history, coalesce(sum(r.listing_weighted), 0)::DOUBLE AS total_weighted
    FROM ${dealDaysRelation(p, role)} r
    WHERE ${and([!all && inDays(sql`r.day`, ctx.period), has(p.status) && sql`list_contains(${p.status}::VARCHAR[], r.status)`])}`;
}

/**
 * The listing query. Filters, search and the sort key are evaluated on `deal_facts` alone (its
 * denormalised names and activity dates), so DuckDB scans one table and keeps only the page's
 * rows in a top-N heap; names, teams and the idle figures are joined to those rows only. The
 * totals are one more scan of the same filter (count and sum, no sort). `paged` adds totals
 * and LIMIT/OFFSET; the export leaves both out.
 */
function dealsQuery(p: DealParams, ctx: ModelContext, paged: boolean): ModelQuery {
  // Activities and stage changes up to the end of the report date count towards "idle".
  const dayEnd = addDays(ctx.asOf, 1);
  // forecast_date: when a closed deal closed, when an open one is expected to (the kpis model's
  // weighted forecast counts won deals by close date and open ones by expected close date).
  const dateCol =
    p.date_field === 'forecast_date'
      ? sql`(CASE WHEN r.status = 'open' THEN r.expected_close_date::TIMESTAMP ELSE r.closed_at::TIMESTAMP END)`
      : sql`r.${ident(p.date_field, DEAL_DATE_FIELDS)}`;
  // An unknown (or lost) stage is reached by no deal: it must list nothing, not everything.
  const reachedIdx = p.reached ? (ctx.stages.find((s) => s.name === p.reached && s.kind !== 'lost')?.index ?? Number.MAX_SAFE_INTEGER) : null;
  const needle = p.q ? p.q.toLowerCase() : '';
  const hit = (c: Sql) => sql`contains(lower(coalesce(${c}, '')), ${needle})`;
  // The stage's own stalled limit, else the configured one (cycle_time's stalled rule).
  const limits = ctx.stages.filter((s) => s.stalled_after_days !== null);
  const stallLimit = limits.length
    ? sql`CASE r.stage ${join(limits.map((s) => sql`WHEN ${s.name} THEN ${s.stalled_after_days}::INTEGER`), ' ')} ELSE ${ctx.stalledAfterDays}::INTEGER END`
    : sql`${ctx.stalledAfterDays}::INTEGER`;
  // deal_facts carries the last stage change and activities over all time; for a report date in
  // the past, the deals with later events get theirs recomputed up to that date (none when the
  // report date is today: each late CTE is then empty and costs a scan of one facts column).
  // When no deal has an event after the report date (ctx.factsHorizon), they are all empty and
  // left out of the statement, with the joins and CASEs that read them (planning cost more than running).
  const late = lateEventsPossible(ctx);
  const lateCtes: [string, Sql][] = !late ? [] : [
    [
      'late_activity',
      sql`SELECT opportunity_id, max(occurred_at) AS at FROM activities
          WHERE occurred_at < ${dayEnd}::TIMESTAMP
            AND opportunity_id IN (SELECT opportunity_id FROM deal_facts WHERE last_activity_at >= ${dayEnd}::TIMESTAMP)
          GROUP BY opportunity_id`
    ],
    [
      'late_stage_change',
      lastStageChangeBefore(sql`${dayEnd}::TIMESTAMP`, sql`SELECT opportunity_id FROM deal_facts WHERE last_stage_change_at >= ${dayEnd}::TIMESTAMP`)
    ],
    [
      // Follow-ups logged on the customer but on no deal count for each open deal of the same
      // owner with that customer (cycle_time's stalled rule).
      'late_customer_activity',
      sql`SELECT a.customer_id, a.owner_id, max(a.occurred_at) AS at FROM activities a
          JOIN (SELECT DISTINCT customer_id, owner_id FROM deal_facts WHERE customer_activity_at >= ${dayEnd}::TIMESTAMP) l
            ON l.customer_id = a.customer_id AND l.owner_id = a.owner_id
          WHERE a.opportunity_id IS NULL AND a.occurred_at < ${dayEnd}::TIMESTAMP
          GROUP BY a.customer_id, a.owner_id`
    ]
  ];
  const lateJoins = !late ? sql`` : sql`LEFT JOIN late_activity la ON la.opportunity_id = r.opportunity_id
        LEFT JOIN late_stage_change ls ON ls.opportunity_id = r.opportunity_id
        LEFT JOIN late_customer_activity lca ON lca.customer_id = r.customer_id AND lca.owner_id = r.owner_id`;
  const activityAt = !late ? sql`r.last_activity_at` : sql`CASE WHEN r.last_activity_at >= ${dayEnd}::TIMESTAMP THEN la.at ELSE r.last_activity_at END`;
  const customerActivityAt = !late
    ? sql`r.customer_activity_at`
    : sql`CASE WHEN r.customer_activity_at >= ${dayEnd}::TIMESTAMP THEN lca.at ELSE r.customer_activity_at END`;
  const stageChangeAt = !late
    ? sql`r.last_stage_change_at`
    : sql`CASE WHEN r.last_stage_change_at >= ${dayEnd}::TIMESTAMP THEN ls.at ELSE r.last_stage_change_at END`;
  const needIdle = p.stalled !== undefined || IDLE_SORTS.has(p.sort);
  const needNames = p.sort === 'owner_name' || p.sort === 'team_name';
  // amount × probability for open deals, amount for won, 0 for lost: precomputed in deal_facts
  // (a per-row product over every matching deal cost the totals more than the rest together).
  const weighted = sql`r.weighted_amount`;
  const daysIdle = sql`CASE WHEN r.status = 'open' THEN date_diff('day', greatest(
               coalesce(${activityAt}, r.created_at), coalesce(${customerActivityAt}, r.created_at),
               coalesce(${stageChangeAt}, r.created_at), r.created_at)::DATE, ${ctx.asOf}::DATE)::INTEGER END`;
  const sortExpr: Record<(typeof DEAL_SORTS)[number], Sql> = {
    opportunity_id: sql`r.opportunity_id`,
    name: sql`r.name`,
    customer_name: sql`r.customer_name`,
    owner_name: sql`u.name`,
    team_name: sql`t.name`,
    stage: sql`r.stage_idx`,
    status: sql`r.status`,
    amount: sql`r.amount`,
    weighted_amount: weighted,
    probability: sql`r.win_probability::DOUBLE`,
    expected_close_date: sql`r.expected_close_date`,
    created_at: sql`r.created_at`,
    closed_at: sql`r.closed_at`,
    days_idle: daysIdle,
    last_activity_at: sql`greatest(${activityAt}, ${customerActivityAt})`,
    product: sql`r.product`,
    source: sql`r.source`,
    region: sql`r.customer_region`,
    industry: sql`r.customer_industry`,
    risk_count: sql`rk.risk_count`,
    risk_flags: sql`rk.risk_count`
  };
  const stalledExpr = sql`coalesce(r.status = 'open' AND ${daysIdle} > ${stallLimit}, false)`;
  const nameJoins = sql`LEFT JOIN users u ON u.user_id = r.owner_id LEFT JOIN teams t ON t.team_id = r.dim_team_leaf`;
  // The matching deals: one scan of deal_facts with every filter pushed into it (the late
  // activities and the names joined only when the stalled filter or the sort needs them).
  const needRisk = has(p.risk) || p.sort === 'risk_count' || p.sort === 'risk_flags';
  const matching = (cols: Sql, joins: { late: boolean; names: boolean; risk?: boolean }, rows: 'deal_facts' | 'deal_facts_rows' = 'deal_facts') => sql`SELECT ${cols}
      FROM ${dealsRelation(p, rows)} r
      ${joins.late ? lateJoins : sql``}
      ${joins.names ? nameJoins : sql``}
      ${joins.risk ? sql`LEFT JOIN deal_risk rk ON rk.opportunity_id = r.opportunity_id` : sql``}
      WHERE ${and([
        ctx.period.preset !== 'all' && inPeriod(dateCol, ctx.period),
        has(p.status) && sql`list_contains(${p.status}::VARCHAR[], r.status)`,
        has(p.stage) && sql`list_contains(${p.stage}::VARCHAR[], r.stage)`,
        has(p.competitor) && sql`list_contains(${p.competitor}::VARCHAR[], r.competitor)`,
        has(p.loss_reason) && sql`list_contains(${p.loss_reason}::VARCHAR[], r.loss_reason)`,
        has(p.customer) && sql`list_contains(${p.customer}::VARCHAR[], r.customer_id)`,
        has(p.category) && sql`list_contains(${p.category}::VARCHAR[], r.effective_forecast_category)`,
        reachedIdx !== null && sql`r.furthest_idx >= ${reachedIdx}::BIGINT`,
        !!needle &&
          sql`(${hit(sql`r.opportunity_id`)} OR ${hit(sql`r.name`)} OR ${hit(sql`r.customer_name`)}
               OR r.owner_id IN (SELECT user_id FROM users WHERE ${hit(sql`name`)}))`,
        p.stalled === true && stalledExpr,
        p.stalled === false && sql`NOT ${stalledExpr}`,
        has(p.risk) && riskWhere(sql`coalesce(rk.risk_flags, []::VARCHAR[])`, p.risk)
      ])}`;
  const dir = p.dir === 'asc' ? sql`ASC` : sql`DESC`;
  // The fact columns the rows show; everything else is joined to them afterwards.
  const factCols = sql`r.opportunity_id, r.name, r.customer_id, r.customer_name, r.owner_id, r.dim_team_leaf, r.stage, r.stage_idx,
      r.status, r.amount, r.win_probability, r.effective_forecast_category, r.expected_close_date, r.created_at, r.closed_at,
      r.product, r.source, r.competitor, r.loss_reason, r.dim_region, r.dim_industry, r.dim_grade,
      r.last_activity_at, r.activity_times, r.customer_activity_at, r.last_stage_change_at, r.weighted_amount,
      r.risk_pushes, r.risk_peak_amount, r.pit_known_amount, r.pit_known_expected_close_date, r.versions_last_from`;
  const shown = (rows: Sql) => sql`SELECT r.opportunity_id, r.name, r.customer_id, r.customer_name, r.owner_id, u.name AS owner_name,
          r.dim_team_leaf AS team_id, t.name AS team_name, r.stage, r.stage_idx AS stage_index, r.status,
          r.amount::DOUBLE AS amount, r.win_probability::DOUBLE AS probability, ${weighted} AS weighted_amount,
          r.effective_forecast_category AS forecast_category, r.expected_close_date, r.created_at, r.closed_at, r.product, r.source, r.competitor,
          r.loss_reason, r.dim_region AS region, r.dim_industry AS industry, r.dim_grade AS grade,
          greatest(${activityAt}, ${customerActivityAt}) AS last_activity_at, ${daysIdle} AS days_idle, ${stalledExpr} AS stalled,
          coalesce(sk.risk_flags, []::VARCHAR[]) AS risk_flags, coalesce(sk.pushes, 0)::INTEGER AS pushes, r.sort_key
        FROM (${rows}) r
        ${nameJoins}
        ${lateJoins}
        LEFT JOIN ${riskFromFacts(rows, ctx, p.idle_days)} sk ON sk.opportunity_id = r.opportunity_id`;
  const columns = sql`opportunity_id, name, customer_id, customer_name, owner_id, owner_name, team_id, team_name, stage,
      stage_index, status, amount, probability, weighted_amount, forecast_category, expected_close_date, created_at,
      closed_at, product, source, competitor, loss_reason, region, industry, grade, last_activity_at, days_idle, stalled, risk_flags, pushes`;
  // Risk flags of every candidate deal, only when the risk filter or sort needs them.
  const riskCtes: [string, Sql][] = needRisk
    ? [['deal_risk', sql`SELECT * FROM ${riskFromFacts(sql`SELECT * FROM ${dealsRelation(p)} dr WHERE dr.status = 'open'`, ctx, p.idle_days)}`]]
    : [];
  if (!paged) {
    // Every matching row in the pages' order (the export sorts by `order` over these rows).
    return {
      ctes: [...lateCtes, ...riskCtes],
      body: shown(matching(sql`${factCols}, ${sortExpr[p.sort]} AS sort_key`, { late: needIdle, names: needNames, risk: needRisk })),
      order: sql`sort_key ${dir} NULLS LAST, opportunity_id ASC`
    };
  }
  return {
    ctes: [
      ...lateCtes,
      ...riskCtes,
      // The page: a top-N of the matching rows' row ids and sort keys, then those rows (listing.ts).
      ...rowIdPage(
        sql`${matching(sql`r.fact_rowid, ${sortExpr[p.sort]} AS sort_key`, { late: needIdle, names: needNames, risk: needRisk }, 'deal_facts_rows')}
            ORDER BY sort_key ${dir} NULLS LAST, r.opportunity_id ASC LIMIT ${p.limit}::BIGINT OFFSET ${p.offset}::BIGINT`,
        dealsRelation(p, 'deal_facts_rows'),
        factCols
      ),
      // Totals: count and sum over the same filter, no sort.
      // total_value values the rows as the funnel and value win rate do (a lost deal whose amount
      // the source zeroed at its last open amount), so a drill can show both and say why they differ.
      // count=bounded counts (and sums) at most COUNT_CAP + 1 rows: listing/boundedTotals.
      ['totals', rollupTotals(p, ctx) ?? sql`SELECT count(*)::INTEGER AS total_count, coalesce(sum(amount), 0)::DOUBLE AS total_amount,
            coalesce(sum(effective_amount), 0)::DOUBLE AS total_value,
            count(*) FILTER (WHERE effective_amount IS DISTINCT FROM amount)::INTEGER AS valued_from_history,
            coalesce(sum(weighted_amount), 0)::DOUBLE AS total_weighted
          FROM (${boundedTotals(
            matching(sql`r.amount, r.effective_amount, ${weighted} AS weighted_amount`, { late: p.stalled !== undefined, names: false, risk: has(p.risk) }),
            p.count
          )})`]
    ],
    // The totals row always exists, so a page past the end still reports how many rows match.
    body: sql`SELECT pg.*, t.total_count, t.total_amount, t.total_value, t.valued_from_history, t.total_weighted
      FROM totals t LEFT JOIN (SELECT ${columns}, sort_key FROM (${shown(sql`SELECT * FROM page`)})) pg ON TRUE
      ORDER BY pg.sort_key ${dir} NULLS LAST, pg.opportunity_id ASC`
  };
}

const pageRow = dealRow.extend({ total_count: z.number(), total_amount: z.number().nullable(), total_value: z.number().nullable(), valued_from_history: z.number(), total_weighted: z.number().nullable(), sort_key: z.unknown() });

export const deals = defineModel({
  name: 'deals',
  title: { 'zh-CN': '商机明细', en: 'Deals' },
  definition: {
    'zh-CN':
      '构成某个数字的商机清单。期间按所选日期字段筛选（创建、成交或预计成交日期）；"到达阶段"与漏斗口径一致（跳过的阶段视为已经过）；加权金额=在途商机金额×赢率（赢单计全额、输单计 0）；停滞=在途商机在阶段停滞天数内既无阶段变化也无跟进。',
    en: 'The deals behind a number. The period filters on the chosen date (created, closed or expected close); "reached" follows the funnel (skipped stages count as passed); weighted amount = open amount × probability (won in full, lost 0); stalled = open with no stage change and no activity for longer than the stage allows.'
  },
  dateField: (p) => (p.date_field === 'forecast_date' ? 'opportunities.closed_at (closed) / expected_close_date (open)' : `opportunities.${p.date_field}`),
  defaultPeriod: 'all',
  params,
  row: dealRow,
  query: (p, ctx) => dealsQuery(p, ctx, true),
  exportQuery: (p, ctx) => dealsQuery(p, ctx, false),
  finalize(rows, p) {
    const first = rows[0] ?? {};
    const out = pageRow
      .array()
      .parse(rows.filter((r) => r.opportunity_id !== null))
      .map(({ total_count: _t, total_amount: _a, total_value: _v, valued_from_history: _h, total_weighted: _w, sort_key: _k, ...r }) => r);
    const totals = countedTotals(
      Number(first.total_count ?? 0),
      {
        total_amount: Number(first.total_amount ?? 0),
        total_value: Number(first.total_value ?? 0),
        valued_from_history: Number(first.valued_from_history ?? 0),
        total_weighted: Number(first.total_weighted ?? 0)
      },
      p.count
    );
    return { rows: out, n: totals.total, summary: { ...totals, limit: p.limit, offset: p.offset } };
  }
});
