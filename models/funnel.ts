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
import { sql, unsafeRaw } from '../src/lib/server/db/sql';

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
    const label = p.group_by ? dimensionLabel(p.group_by, sql`f.group_key`, ctx) : sql`NULL::VARCHAR`;
    return {
      ctes: [
        ...(p.group_by === 'team' ? teamGroupCtes(p) : []),
        ['cohort', sql`SELECT r.*, ${key} AS group_key FROM ${dealsRelation(p)} r WHERE ${inPeriod(sql`r.created_at`, ctx.period)}`],
        [
          'hist',
          unsafeRaw(`SELECT v.opportunity_id, s.idx, s.kind, min(v.valid_from) AS first_entered
            FROM opportunity_versions v JOIN stages s ON s.name = v.stage
            WHERE v.opportunity_id IN (SELECT opportunity_id FROM cohort)
            GROUP BY ALL`)
        ],
        [
          'last_open_amount',
          unsafeRaw(`SELECT v.opportunity_id, arg_max(v.amount, v.valid_from) AS amount
            FROM opportunity_versions v JOIN stages s ON s.name = v.stage AND s.kind = 'open'
            WHERE v.opportunity_id IN (SELECT opportunity_id FROM cohort WHERE status = 'lost')
            GROUP BY v.opportunity_id`)
        ],
        [
          'deal',
          unsafeRaw(`SELECT c.opportunity_id, c.group_key, c.status, cur.idx AS current_idx,
              greatest(coalesce(max(h.idx) FILTER (WHERE h.kind IN ('open', 'won')), 0),
                       CASE WHEN cur.kind IN ('open', 'won') THEN cur.idx ELSE 0 END) AS furthest,
              CASE WHEN c.status = 'lost' AND coalesce(c.amount, 0) = 0 THEN coalesce(any_value(loa.amount), c.amount)
                   ELSE c.amount END AS funnel_amount
            FROM cohort c
            LEFT JOIN stages cur ON cur.name = c.stage
            LEFT JOIN hist h ON h.opportunity_id = c.opportunity_id
            LEFT JOIN last_open_amount loa ON loa.opportunity_id = c.opportunity_id
            GROUP BY c.opportunity_id, c.group_key, c.status, cur.idx, cur.kind, c.amount`)
        ],
        [
          'to_next',
          unsafeRaw(`SELECT h.opportunity_id, h.idx,
              (epoch(min(n.first_entered)) - epoch(h.first_entered)) / 86400.0 AS days
            FROM hist h JOIN hist n ON n.opportunity_id = h.opportunity_id AND n.idx > h.idx
                               AND n.kind IN ('open', 'won') AND n.first_entered >= h.first_entered
            WHERE h.kind = 'open'
            GROUP BY h.opportunity_id, h.idx, h.first_entered`)
        ],
        [
          'groups',
          // Ungrouped, the one funnel exists even for an empty cohort (all stages at zero).
          grouped
            ? unsafeRaw(`SELECT group_key, count(*)::INTEGER AS n FROM deal GROUP BY group_key`)
            : unsafeRaw(`SELECT NULL::VARCHAR AS group_key, (SELECT count(*) FROM deal)::INTEGER AS n`)
        ],
        [
          'per_stage',
          unsafeRaw(`SELECT g.group_key, g.n, s.name AS stage, s.idx AS stage_index, s.kind,
              count(d.opportunity_id) FILTER (WHERE d.furthest >= s.idx)::INTEGER AS reached,
              coalesce(sum(d.funnel_amount) FILTER (WHERE d.furthest >= s.idx), 0)::DOUBLE AS reached_amount,
              count(d.opportunity_id) FILTER (WHERE d.status = 'open' AND d.current_idx = s.idx)::INTEGER AS open_now,
              count(d.opportunity_id) FILTER (WHERE d.status = 'lost' AND d.furthest = s.idx)::INTEGER AS lost_at,
              (SELECT median(tn.days) FROM to_next tn JOIN deal d2 ON d2.opportunity_id = tn.opportunity_id
                 WHERE tn.idx = s.idx AND d2.group_key IS NOT DISTINCT FROM g.group_key)::DOUBLE AS median_days_to_next
            FROM groups g CROSS JOIN stages s
            LEFT JOIN deal d ON d.group_key IS NOT DISTINCT FROM g.group_key
            WHERE s.kind IN ('open', 'won')
            GROUP BY g.group_key, g.n, s.name, s.idx, s.kind`)
        ]
      ],
      body: sql`SELECT f.group_key::VARCHAR AS group_key, ${label}::VARCHAR AS group_label, f.stage, f.stage_index, f.kind,
          f.reached, f.reached_amount,
          (lead(f.reached) OVER w)::DOUBLE / nullif(f.reached, 0) AS step_conversion,
          f.reached::DOUBLE / nullif(first_value(f.reached) OVER w, 0) AS conversion_from_first,
          f.open_now, f.lost_at,
          CASE WHEN f.kind = 'open' THEN round(f.median_days_to_next, 1) END AS median_days_to_next,
          f.n
        FROM per_stage f
        WINDOW w AS (PARTITION BY f.group_key ORDER BY f.stage_index ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        ORDER BY ${grouped ? sql`f.n DESC, f.group_key NULLS LAST,` : sql``} f.stage_index`
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
