/**
 * Sales funnel (销售漏斗), cohort method (metrics.md, `funnel`): the cohort is the deals
 * created in the period.
 *
 * - A deal reached open stage k when its history (opportunity_versions, and its current
 *   stage) shows it in k or any later open stage, or won. Skipped stages count as passed.
 *   A lost deal reached the furthest open stage its history shows.
 * - reached[k]: cohort deals that reached k, with their summed amount (a lost deal whose
 *   amount the source zeroed counts with its last amount while open); reached[won]: won deals.
 * - step_conversion[k] = reached[k+1] / reached[k] (the last open stage's next is won);
 *   overall_conversion = reached[won] / reached[first]; null on a zero denominator.
 * - open_now[k]: cohort deals open in k now; lost_at[k]: lost deals whose furthest stage is k.
 * - median_days_to_next[k]: median days from first entering k to first entering any later
 *   stage, among deals that did both.
 * With `group_by`, one funnel per group.
 *
 * Flow method (`method=flow`, Hongquan CRM 转化率 = 流出/流入): stage changes dated in the
 * period, whatever the deals' creation dates. A stage change is a version whose stage differs
 * from the deal's previous version (or its first version). For each open stage k and won:
 * - entries (流入): changes into k in the period, with the amount at entry;
 * - exits_forward (流出): changes from k to a later stage (won included) in the period;
 *   exits_lost: from k to a lost stage; exits_back: from k to an earlier stage;
 * - flow_conversion = exits_forward / entries; null when nothing entered. Entries and exits
 *   need not be the same deals, so it can exceed 1 (deals that entered before the period
 *   and left in it): it is a flow ratio, not a share.
 * - n: deals with a stage change in the period (in the group).
 * Skipped stages have no entries here (nothing flowed through them). `group_by` any deal
 * dimension except month and quarter.
 */
import { z } from 'zod';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { groupByParam, paramsSchema } from './common/params';
import { dealsRelation, dimensionKey, dimensionLabel, inPeriod, teamGroupCtes } from './common/relations';
import { join, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';
import { usToDays } from '../warehouse/durations';

const FUNNEL_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'product', 'grade', 'month', 'quarter'] as const;

export const FUNNEL_METHODS = ['cohort', 'flow'] as const;

const params = paramsSchema({
  /** cohort: deals created in the period (default); flow: stage changes in the period. */
  method: z.enum(FUNNEL_METHODS).default('cohort'),
  group_by: groupByParam(FUNNEL_DIMENSIONS).optional()
}).superRefine((p, ctx) => {
  if (p.method === 'flow' && (p.group_by === 'month' || p.group_by === 'quarter')) {
    ctx.addIssue({ code: 'custom', path: ['group_by'], message: `method=flow groups by deal dimensions only, not ${p.group_by}` });
  }
});

/** A row of the cohort funnel (`method=cohort`). */
export const funnelCohortRow = z.strictObject({
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  stage: z.string(),
  stage_index: z.number().int(),
  kind: z.enum(['open', 'won']),
  reached: z.number().int().nonnegative(),
  reached_amount: z.number(),
  step_conversion: z.number().min(0).max(1).nullable(),
  conversion_from_first: z.number().min(0).max(1).nullable(),
  open_now: z.number().int().nonnegative(),
  lost_at: z.number().int().nonnegative(),
  median_days_to_next: z.number().nullable(),
  n: z.number().int().nonnegative()
});

/** A row of the flow funnel (`method=flow`). */
export const funnelFlowRow = z.strictObject({
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  stage: z.string(),
  stage_index: z.number().int(),
  kind: z.enum(['open', 'won']),
  entries: z.number().int().nonnegative(),
  entered_amount: z.number(),
  exits_forward: z.number().int().nonnegative(),
  exits_lost: z.number().int().nonnegative(),
  exits_back: z.number().int().nonnegative(),
  /** exits_forward / entries: a flow ratio, may exceed 1. */
  flow_conversion: z.number().nonnegative().nullable(),
  n: z.number().int().nonnegative()
});

const row = z.union([funnelCohortRow, funnelFlowRow]);
export type FunnelCohortRow = z.infer<typeof funnelCohortRow>;
export type FunnelFlowRow = z.infer<typeof funnelFlowRow>;

export const funnel = defineModel({
  name: 'funnel',
  title: { 'zh-CN': '销售漏斗', en: 'Sales funnel' },
  definition: {
    'zh-CN':
      '按创建日期取本期新建商机为一组（队列法），统计到达每个阶段的商机数与金额；跳过的阶段视为已经过，输单商机按其历史中最远的阶段计。阶段转化率=到达下一阶段数/到达本阶段数，总转化率=赢单数/到达首阶段数。流量法（method=flow）：统计本期内进入各阶段（流入）与推进到后续阶段（流出）的次数，不论商机何时创建，转化率=流出/流入，可大于100%。',
    en: 'The cohort of deals created in the period: how many reached each stage (and their amount). Skipped stages count as passed; a lost deal counts up to the furthest stage its history shows. Step conversion = reached next / reached this; overall = won / reached first. Flow method (method=flow): entries into each stage and forward exits from it dated in the period, whatever the creation date; conversion = exits / entries, which can exceed 100%.'
  },
  dateField: (p) => (p.method === 'flow' ? 'opportunity_versions.valid_from' : 'opportunities.created_at'),
  defaultPeriod: 'this_year',
  params,
  row,
  query(p, ctx) {
    if (p.method === 'flow') return flowQuery(p, ctx);
    const grouped = !!p.group_by;
    const key = p.group_by ? dimensionKey(p.group_by, ctx, sql`r.created_at`) : sql`NULL::VARCHAR`;
    const label = p.group_by ? dimensionLabel(p.group_by, sql`a.group_key`, ctx) : sql`NULL::VARCHAR`;
    const funnelStages = ctx.stages.filter((s) => s.kind === 'open' || s.kind === 'won').sort((a, b) => a.index - b.index);
    // The counts and amounts come from the cohort grouped by (furthest stage, status, current
    // stage), a handful of rows folded per stage afterwards: twenty FILTER aggregates over every
    // deal of the cohort cost four times that GROUP BY (85 against 20 ms at 10M deals). The
    // medians of the time to the next stage need every value: one pass of their own over the
    // cohort, as exact microseconds (warehouse/durations.ts, deal_facts' `us_to_next_*`).
    const k = (s: { index: number }) => unsafeRaw(String(s.index));
    const perStage = funnelStages.map(
      (s) => sql`coalesce(sum(n) FILTER (WHERE furthest_idx >= ${s.index}::INTEGER), 0)::INTEGER AS reached_${k(s)},
        coalesce(sum(amount) FILTER (WHERE furthest_idx >= ${s.index}::INTEGER), 0)::DOUBLE AS amount_${k(s)},
        coalesce(sum(n) FILTER (WHERE status = 'open' AND stage_idx = ${s.index}::INTEGER), 0)::INTEGER AS open_${k(s)},
        coalesce(sum(n) FILTER (WHERE status = 'lost' AND furthest_idx = ${s.index}::INTEGER), 0)::INTEGER AS lost_${k(s)}`
    );
    // (none for won: the last stage of the funnel has no next one)
    const medians = funnelStages.map((s) =>
      s.kind === 'open' ? sql`${usToDays(sql`median(${unsafeRaw(`us_to_next_${s.index}`)})`)}::DOUBLE AS days_${k(s)}` : sql`NULL::DOUBLE AS days_${k(s)}`
    );
    const unpivot = funnelStages.map(
      (s) => sql`SELECT a.group_key, ${s.name} AS stage, ${s.index}::INTEGER AS stage_index, ${s.kind} AS kind,
          a.reached_${k(s)} AS reached, a.amount_${k(s)} AS reached_amount,
          a.open_${k(s)} AS open_now, a.lost_${k(s)} AS lost_at,
          m.days_${k(s)} AS median_days, a.n FROM agg a ${grouped ? sql`LEFT JOIN meds m ON m.group_key IS NOT DISTINCT FROM a.group_key` : sql`CROSS JOIN meds m`}`
    );
    return {
      ctes: [
        ...(p.group_by === 'team' ? teamGroupCtes(p) : []),
        // read twice (the shape, the medians), each reading only its columns: not materialized
        ['cohort', sql`SELECT r.*, ${key} AS group_key FROM ${dealsRelation(p)} r WHERE ${inPeriod(sql`r.created_at`, ctx.period)}`, { materialized: false }],
        [
          'shape',
          unsafeRaw(`SELECT group_key, furthest_idx, status, stage_idx, count(*) AS n, sum(effective_amount) AS amount FROM cohort GROUP BY ALL`)
        ],
        [
          'agg',
          // Ungrouped, the one funnel exists even for an empty cohort (all stages at zero).
          grouped
            ? sql`SELECT group_key, sum(n)::INTEGER AS n, ${join(perStage)} FROM shape GROUP BY group_key`
            : sql`SELECT NULL::VARCHAR AS group_key, coalesce(sum(n), 0)::INTEGER AS n, ${join(perStage)} FROM shape`
        ],
        [
          'meds',
          grouped
            ? sql`SELECT group_key, ${join(medians)} FROM cohort GROUP BY group_key`
            : sql`SELECT ${join(medians)} FROM cohort`
        ],
        ['per_stage', join(unpivot, ' UNION ALL ')]
      ],
      body: sql`SELECT a.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label, a.stage, a.stage_index, a.kind,
          a.reached, a.reached_amount,
          (lead(a.reached) OVER w)::DOUBLE / nullif(a.reached, 0) AS step_conversion,
          a.reached::DOUBLE / nullif(first_value(a.reached) OVER w, 0) AS conversion_from_first,
          a.open_now, a.lost_at,
          CASE WHEN a.kind = 'open' THEN round(a.median_days, 1) END AS median_days_to_next,
          a.n
        FROM per_stage a
        WINDOW w AS (PARTITION BY a.group_key ORDER BY a.stage_index ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ORDER BY ${grouped ? sql`a.n DESC, a.group_key NULLS LAST,` : sql``} a.stage_index`
    };
  },
  finalize(rows, p) {
    if (p.method === 'flow') {
      const firstOfGroup = new Map<string | null, number>();
      for (const r of rows) if (!firstOfGroup.has(r.group_key as string | null)) firstOfGroup.set(r.group_key as string | null, r.n as number);
      return { rows: rows as never, n: [...firstOfGroup.values()].reduce((a, b) => a + b, 0), summary: { method: 'flow' } };
    }
    const typed = rows as z.input<typeof funnelCohortRow>[];
    const byGroup = new Map<string | null, z.input<typeof funnelCohortRow>[]>();
    for (const r of typed) byGroup.set(r.group_key, [...(byGroup.get(r.group_key) ?? []), r]);
    const overall = (list: z.input<typeof funnelCohortRow>[]) => {
      const first = list.find((r) => r.kind === 'open');
      const won = list.find((r) => r.kind === 'won');
      return first && won && first.reached > 0 ? won.reached / first.reached : null;
    };
    let n = 0;
    for (const list of byGroup.values()) n += list[0]?.n ?? 0;
    const summary = p.group_by
      ? { overall_conversion_by_group: Object.fromEntries([...byGroup].map(([k, list]) => [k ?? '', overall(list)])) }
      : { overall_conversion: overall(typed) };
    return { rows: typed, n, summary };
  }
});

const FILTER_KEYS = ['team', 'owner', 'region', 'industry', 'source', 'product', 'grade'] as const;

/** The flow funnel (Hongquan 流出/流入): stage changes in the period. */
function flowQuery(p: z.output<typeof params>, ctx: ModelContext): ModelQuery {
  const grouped = !!p.group_by;
  const filtered = FILTER_KEYS.some((k) => (p[k]?.length ?? 0) > 0);
  const needDeals = grouped || filtered;
  const key = p.group_by ? dimensionKey(p.group_by, ctx) : sql`NULL::VARCHAR`;
  const label = p.group_by ? dimensionLabel(p.group_by, sql`f.group_key`, ctx) : sql`NULL::VARCHAR`;
  const openCount = ctx.stages.filter((s) => s.kind === 'open').length;
  const ctes: [string, Sql, { materialized?: boolean }?][] = [
    ...(p.group_by === 'team' ? teamGroupCtes(p) : []),
    ...(needDeals ? ([['flow_deals', sql`SELECT r.opportunity_id, ${key}::VARCHAR AS group_key FROM ${dealsRelation(p)} r`]] as [string, Sql][]) : []),
    // stage_facts has one row per stage change (warehouse/facts.ts): entries are the rows entered
    // in the period, exits the rows entered in it whose previous stint was an open stage. Both
    // are grouped by integer stage indexes first (a few dozen rows), then folded: the grouping
    // and the per-row comparisons over stage names cost three times as much at 10M deals. The
    // indexes are stageInfos' (warehouse/stages.ts): open stages 1..n, won n + 1, lost 0, so
    // "forward" is a higher index, "lost" is 0 and "back" a lower index of an open stage; a
    // stage the configuration does not know has none (and counts in neither, as before).
    [
      'flow_entries',
      sql`SELECT ${needDeals ? sql`fd.group_key` : sql`NULL::VARCHAR AS group_key`}, sf.stage_idx,
            -- the deal's first change in the period: counts the deal once in n
            (sf.previous_entered_at IS NULL OR sf.previous_entered_at < ${ctx.period.from}::TIMESTAMP) AS first_in_period,
            count(*) AS n, sum(sf.entered_amount) AS amount
          FROM stage_facts sf ${needDeals ? sql`JOIN flow_deals fd ON fd.opportunity_id = sf.opportunity_id` : sql``}
          WHERE ${inPeriod(sql`sf.entered_at`, ctx.period)}
          GROUP BY ALL`
    ],
    [
      'flow_exits',
      sql`SELECT ${needDeals ? sql`fd.group_key` : sql`NULL::VARCHAR AS group_key`}, sf.previous_idx AS stage_idx, sf.stage_idx AS next_idx, count(*) AS n
          FROM stage_facts sf ${needDeals ? sql`JOIN flow_deals fd ON fd.opportunity_id = sf.opportunity_id` : sql``}
          WHERE sf.previous_idx BETWEEN 1 AND ${openCount}::INTEGER AND ${inPeriod(sql`sf.entered_at`, ctx.period)}
          GROUP BY ALL`
    ],
    [
      'flow_groups',
      grouped
        ? unsafeRaw(`SELECT group_key, coalesce(sum(n) FILTER (WHERE first_in_period), 0)::INTEGER AS n FROM flow_entries GROUP BY group_key`)
        : unsafeRaw(`SELECT NULL::VARCHAR AS group_key, coalesce((SELECT sum(n) FILTER (WHERE first_in_period) FROM flow_entries), 0)::INTEGER AS n`)
    ],
    [
      'flow_in',
      unsafeRaw(`SELECT group_key, stage_idx, sum(n)::INTEGER AS entries, coalesce(sum(amount), 0)::DOUBLE AS entered_amount
        FROM flow_entries WHERE stage_idx >= 1 GROUP BY group_key, stage_idx`)
    ],
    [
      'flow_out',
      unsafeRaw(`SELECT group_key, stage_idx,
          coalesce(sum(n) FILTER (WHERE next_idx > stage_idx), 0)::INTEGER AS exits_forward,
          coalesce(sum(n) FILTER (WHERE next_idx = 0), 0)::INTEGER AS exits_lost,
          coalesce(sum(n) FILTER (WHERE next_idx >= 1 AND next_idx < stage_idx), 0)::INTEGER AS exits_back
        FROM flow_exits GROUP BY group_key, stage_idx`)
    ]
  ];
  return {
    ctes,
    body: sql`SELECT f.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label, s.name AS stage, s.idx AS stage_index, s.kind,
        coalesce(i.entries, 0) AS entries, coalesce(i.entered_amount, 0) AS entered_amount,
        coalesce(o.exits_forward, 0) AS exits_forward, coalesce(o.exits_lost, 0) AS exits_lost, coalesce(o.exits_back, 0) AS exits_back,
        CASE WHEN s.kind = 'open' THEN coalesce(o.exits_forward, 0)::DOUBLE / nullif(coalesce(i.entries, 0), 0) END AS flow_conversion,
        f.n
      FROM flow_groups f CROSS JOIN stages s
      LEFT JOIN flow_in i ON i.group_key IS NOT DISTINCT FROM f.group_key AND i.stage_idx = s.idx
      LEFT JOIN flow_out o ON o.group_key IS NOT DISTINCT FROM f.group_key AND o.stage_idx = s.idx
      WHERE s.kind IN ('open', 'won')
      ORDER BY ${grouped ? sql`f.n DESC, f.group_key NULLS LAST,` : sql``} s.idx`
  };
}
