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
 */
import { z } from 'zod';
import { defineModel } from './model';
import { groupByParam, paramsSchema } from './common/params';
import { dealsRelation, dimensionKey, dimensionLabel, inPeriod, teamGroupCtes } from './common/relations';
import { join, sql, unsafeRaw } from '../src/lib/server/db/sql';

const FUNNEL_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'product', 'grade', 'month', 'quarter'] as const;

const params = paramsSchema({
  group_by: groupByParam(FUNNEL_DIMENSIONS).optional()
});

const row = z.strictObject({
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

export const funnel = defineModel({
  name: 'funnel',
  title: { 'zh-CN': '销售漏斗', en: 'Sales funnel' },
  definition: {
    'zh-CN':
      '按创建日期取本期新建商机为一组（队列法），统计到达每个阶段的商机数与金额；跳过的阶段视为已经过，输单商机按其历史中最远的阶段计。阶段转化率=到达下一阶段数/到达本阶段数，总转化率=赢单数/到达首阶段数。',
    en: 'The cohort of deals created in the period: how many reached each stage (and their amount). Skipped stages count as passed; a lost deal counts up to the furthest stage its history shows. Step conversion = reached next / reached this; overall = won / reached first.'
  },
  dateField: () => 'opportunities.created_at',
  defaultPeriod: 'this_year',
  params,
  row,
  query(p, ctx) {
    const grouped = !!p.group_by;
    const key = p.group_by ? dimensionKey(p.group_by, ctx, sql`r.created_at`) : sql`NULL::VARCHAR`;
    const label = p.group_by ? dimensionLabel(p.group_by, sql`a.group_key`, ctx) : sql`NULL::VARCHAR`;
    const funnelStages = ctx.stages.filter((s) => s.kind === 'open' || s.kind === 'won').sort((a, b) => a.index - b.index);
    const maxIdx = Math.max(...funnelStages.map((s) => s.index));
    // Per stage k, one aggregate pass over the cohort (deal_facts has the history precomputed).
    const perStage = funnelStages.map((s) => {
      const k = s.index;
      const later = Array.from({ length: maxIdx - k }, (_, i) => k + i + 1).map(
        (j) => sql`CASE WHEN entered[${j}::INTEGER] >= entered[${k}::INTEGER] THEN entered[${j}::INTEGER] END`
      );
      const next = later.length ? sql`least(${join(later)})` : sql`NULL::TIMESTAMP`;
      return sql`count(*) FILTER (WHERE furthest_idx >= ${k}::INTEGER)::INTEGER AS reached_${unsafeRaw(String(k))},
        coalesce(sum(effective_amount) FILTER (WHERE furthest_idx >= ${k}::INTEGER), 0)::DOUBLE AS amount_${unsafeRaw(String(k))},
        count(*) FILTER (WHERE status = 'open' AND stage_idx = ${k}::INTEGER)::INTEGER AS open_${unsafeRaw(String(k))},
        count(*) FILTER (WHERE status = 'lost' AND furthest_idx = ${k}::INTEGER)::INTEGER AS lost_${unsafeRaw(String(k))},
        median((epoch(${next}) - epoch(entered[${k}::INTEGER])) / 86400.0)::DOUBLE AS days_${unsafeRaw(String(k))}`;
    });
    const unpivot = funnelStages.map(
      (s) => sql`SELECT a.group_key, ${s.name} AS stage, ${s.index}::INTEGER AS stage_index, ${s.kind} AS kind,
          a.reached_${unsafeRaw(String(s.index))} AS reached, a.amount_${unsafeRaw(String(s.index))} AS reached_amount,
          a.open_${unsafeRaw(String(s.index))} AS open_now, a.lost_${unsafeRaw(String(s.index))} AS lost_at,
          a.days_${unsafeRaw(String(s.index))} AS median_days, a.n FROM agg a`
    );
    return {
      ctes: [
        ...(p.group_by === 'team' ? teamGroupCtes(p) : []),
        ['cohort', sql`SELECT r.*, ${key} AS group_key FROM ${dealsRelation(p)} r WHERE ${inPeriod(sql`r.created_at`, ctx.period)}`],
        [
          'agg',
          // Ungrouped, the one funnel exists even for an empty cohort (all stages at zero).
          grouped
            ? sql`SELECT group_key, count(*)::INTEGER AS n, ${join(perStage)} FROM cohort GROUP BY group_key`
            : sql`SELECT NULL::VARCHAR AS group_key, count(*)::INTEGER AS n, ${join(perStage)} FROM cohort`
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
    const typed = rows as z.input<typeof row>[];
    const byGroup = new Map<string | null, z.input<typeof row>[]>();
    for (const r of typed) byGroup.set(r.group_key, [...(byGroup.get(r.group_key) ?? []), r]);
    const overall = (list: z.input<typeof row>[]) => {
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
