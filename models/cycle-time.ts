/**
 * Sales cycle (销售周期), metrics.md `cycle_time`.
 *
 * `view=summary` (default): won deals closed in the period. cycle_days = closed_at −
 * created_at in days (fractional: timestamps differ by hours too). Mean, median, p75 and p90
 * (continuous quantiles, linear interpolation as Excel's PERCENTILE.INC); the median is the
 * headline. Rows where closed_at < created_at, or either is missing, are left out and counted
 * in `invalid`; n = the deals measured. Any deal dimension as `group_by`.
 *
 * `view=time_in_stage`: for each open stage k, the deals that left k in the period (their
 * history shows a change from k to any other stage, won and lost included, dated in the
 * period). A stint in k runs from a stage change into k to the next stage change; versions
 * that change only the amount or the close date do not end it. For each such deal:
 * latest = days of its last stint in k that ended in the period; cumulative = days of all
 * its stints in k that ended by then (they differ when the deal re-entered k). Median and p75
 * of both, and how many deals re-entered k.
 *
 * `view=stalled`: open deals with no stage change and no activity for more than the stage's
 * `stalled_after_days` (else the global `stalled_after_days`), as of the report date.
 * idle_days = whole days from the last touch (the latest of: the last stage change, the last
 * activity on the deal, the last activity of the deal's owner on its customer not tied to any
 * deal) to the report date; a deal with neither counts from its creation. (Another rep's
 * follow-up on the customer does not count: a rep could not see it, and a deal must not look
 * stalled to its owner and active to the manager.) Sorted by idle days, longest first, at
 * most `limit` rows; the summary has the totals and per-stage counts over all stalled deals.
 */
import { z } from 'zod';
import { dealIdentityShape } from './common/rows';
import { defineModel, type ModelContext, type ModelQuery } from './model';
import { groupByParam, paramsSchema } from './common/params';
import { addDays } from './common/period';
import { lateEventsPossible } from './common/risk';
import { lastStageChangeBefore } from './common/pit';
import { dealsRelation, dimensionKey, hasFilters, dimensionLabel, inPeriod, teamGroupCtes } from './common/relations';
import { sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';
import { durationUs, usToDays } from '../warehouse/durations';

const CYCLE_DIMENSIONS = ['team', 'team_leaf', 'owner', 'region', 'industry', 'source', 'product', 'grade', 'competitor', 'month', 'quarter'] as const;
export const CYCLE_VIEWS = ['summary', 'time_in_stage', 'stalled'] as const;

const params = paramsSchema({
  view: z.enum(CYCLE_VIEWS).default('summary'),
  group_by: groupByParam(CYCLE_DIMENSIONS).optional(),
  /** Most stalled deals listed (`view=stalled`); the summary counts them all. */
  limit: z.coerce.number().int().min(1).max(10000).default(100)
}).superRefine((p, ctx) => {
  if (p.group_by && p.view !== 'summary') {
    ctx.addIssue({ code: 'custom', path: ['group_by'], message: `group_by works with view=summary only (view is ${p.view})` });
  }
});

const days = z.number().nonnegative().nullable();
const count = z.number().int().nonnegative();

export const cycleSummaryRow = z.strictObject({
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  /** Won deals measured. */
  n: count,
  /** Won deals left out: closed before created, or a date missing. */
  invalid: count,
  mean_days: days,
  median_days: days,
  p75_days: days,
  p90_days: days
});

export const timeInStageRow = z.strictObject({
  stage: z.string(),
  stage_index: z.number().int().positive(),
  /** Deals that left the stage in the period. */
  n: count,
  median_days_latest: days,
  p75_days_latest: days,
  median_days_cumulative: days,
  p75_days_cumulative: days,
  /** Of those, deals that were in the stage more than once. */
  reentered: count
});

export const stalledRow = z.strictObject({
  ...dealIdentityShape,
  stage: z.string(),
  stage_index: z.number().int().nullable(),
  amount: z.number().nullable(),
  last_stage_change_at: z.string().nullable(),
  last_activity_at: z.string().nullable(),
  idle_days: z.number().int().nonnegative(),
  stalled_after_days: z.number().int().positive(),
  /** Always 1: one deal. */
  n: z.literal(1)
});

const row = z.union([cycleSummaryRow, timeInStageRow, stalledRow]);

export type CycleSummaryRow = z.infer<typeof cycleSummaryRow>;
export type TimeInStageRow = z.infer<typeof timeInStageRow>;
export type StalledRow = z.infer<typeof stalledRow>;

/** The SQL shape of the stalled view: one row per listed deal (or one empty row), with totals. */
const stalledSqlRow = z.object({
  opportunity_id: z.string().nullable(),
  total_stalled: z.number(),
  total_amount: z.number(),
  by_stage: z.array(
    z.object({ stage: z.string(), stage_index: z.number().nullable(), open: z.number(), stalled: z.number(), stalled_amount: z.number() })
  )
}).passthrough();


export const cycleTime = defineModel({
  name: 'cycle_time',
  title: { 'zh-CN': '销售周期', en: 'Sales cycle' },
  definition: {
    'zh-CN':
      '本期赢单商机的销售周期=赢单日期−创建日期（天），给出平均、中位数（主指标）、P75、P90；赢单早于创建的记录不计入并单独计数。阶段停留：本期离开某阶段的商机在该阶段停留的天数（最近一次与累计，重复进入时两者不同）。停滞商机：超过设定天数既无阶段变化也无跟进记录的在途商机。',
    en: 'Cycle of deals won in the period = close date − creation date in days: mean, median (the headline), p75, p90; rows closed before they were created are left out and counted. Time in stage: days spent in a stage by deals that left it in the period (latest stint and cumulative when a deal re-entered it). Stalled: open deals with no stage change and no activity for longer than the configured days.'
  },
  dateField: (p) =>
    // stalled: idle as of the report date, from the last stage change or activity
    p.view === 'stalled' ? 'deal_facts.last_stage_change_at' : p.view === 'time_in_stage' ? 'opportunity_versions.valid_from' : 'opportunities.closed_at',
  defaultPeriod: 'this_year',
  params,
  row,
  query(p, ctx) {
    if (p.view === 'time_in_stage') return timeInStage(p, ctx);
    if (p.view === 'stalled') return stalled(p, ctx);
    const key = p.group_by ? dimensionKey(p.group_by, ctx, sql`r.closed_at`) : sql`NULL::VARCHAR`;
    const label = p.group_by ? dimensionLabel(p.group_by, sql`c.group_key`, ctx) : sql`NULL::VARCHAR`;
    // Quantiles over exact microseconds (warehouse/durations.ts), one sort for the three, in days at the end.
    const measures = sql`count(c.us)::INTEGER AS n, (count(*) - count(c.us))::INTEGER AS invalid,
        ${usToDays(sql`avg(c.us)`)} AS mean_days, ${usToDays(sql`(quantile_cont(c.us, [0.5, 0.75, 0.9]))[1]`)} AS median_days,
        ${usToDays(sql`(quantile_cont(c.us, [0.5, 0.75, 0.9]))[2]`)} AS p75_days, ${usToDays(sql`(quantile_cont(c.us, [0.5, 0.75, 0.9]))[3]`)} AS p90_days`;
    return {
      ctes: [
        ...(p.group_by === 'team' ? teamGroupCtes(p) : []),
        [
          'cycles',
          sql`SELECT ${key}::VARCHAR AS group_key,
                CASE WHEN r.closed_at >= r.created_at THEN ${durationUs(sql`r.created_at`, sql`r.closed_at`)} END AS us
              FROM ${dealsRelation(p)} r
              WHERE r.status = 'won' AND ${inPeriod(sql`r.closed_at`, ctx.period)}`
        ]
      ],
      body: p.group_by
        ? sql`SELECT c.group_key, ${label}::VARCHAR AS group_label, ${measures} FROM cycles c GROUP BY c.group_key ORDER BY n DESC, c.group_key NULLS LAST`
        : sql`SELECT NULL::VARCHAR AS group_key, NULL::VARCHAR AS group_label, ${measures} FROM cycles c`
    };
  },
  finalize(rows, p) {
    if (p.view !== 'stalled') {
      return { rows: rows as never, n: rows.reduce((s, r) => s + (r.n as number), 0) };
    }
    const parsed = rows.map((r) => stalledSqlRow.parse(r));
    const first = parsed[0];
    const listed = rows.filter((r) => r.opportunity_id !== null).map((r) => {
      const { total_stalled: _t, total_amount: _a, by_stage: _b, ...deal } = r;
      return deal;
    });
    return {
      rows: listed as never,
      n: first?.total_stalled ?? 0,
      summary: {
        stalled: first?.total_stalled ?? 0,
        stalled_amount: first?.total_amount ?? 0,
        listed: listed.length,
        by_stage: first?.by_stage ?? []
      }
    };
  }
});

type CycleParams = z.output<typeof params>;

function timeInStage(p: CycleParams, ctx: ModelContext): ModelQuery {
  // stage_facts (warehouse/facts.ts) has one row per stint with its days, the days of all
  // the deal's stints in that stage so far, its number among them, and when the deal next
  // left the same stage: the last exit of the period is the one not followed by another in it.
  const filtered = hasFilters(p);
  return {
    ctes: [
      ...(filtered ? ([['tis_deals', sql`SELECT r.opportunity_id FROM ${dealsRelation(p)} r`]] as [string, Sql][]) : []),
      [
        'per_deal',
        // A stint's exit is recorded on the next stint (previous_*), entered when it was left:
        // one date filter on entered_at, which stage_facts' order makes cheap.
        sql`SELECT sf.previous_stage AS stage, sf.previous_us AS latest, sf.previous_cumulative_us AS cumulative,
              sf.previous_stint_no AS stint_no
            FROM stage_facts sf
            WHERE sf.previous_kind = 'open' AND ${inPeriod(sql`sf.entered_at`, ctx.period)}
              AND (sf.previous_next_same_left_at IS NULL OR sf.previous_next_same_left_at >= ${ctx.period.to}::TIMESTAMP)
              ${filtered ? unsafeRaw('AND sf.opportunity_id IN (SELECT opportunity_id FROM tis_deals)') : sql``}`
      ]
    ],
    // One sort per measure: both quantiles from one list-valued quantile_cont.
    // Quantiles over exact microseconds (warehouse/durations.ts), in days at the end.
    body: sql`SELECT stage, stage_index, n, ${usToDays(sql`ql[1]`)} AS median_days_latest, ${usToDays(sql`ql[2]`)} AS p75_days_latest,
          ${usToDays(sql`qc[1]`)} AS median_days_cumulative, ${usToDays(sql`qc[2]`)} AS p75_days_cumulative, reentered
        FROM (
          -- aggregated per stage first, then joined to the (few) stages: joining 450k stints
          -- to the stages before grouping cost more than the join saves
          SELECT s.name AS stage, s.idx AS stage_index, coalesce(a.n, 0)::INTEGER AS n, a.ql, a.qc,
            coalesce(a.reentered, 0)::INTEGER AS reentered
          FROM stages s
          LEFT JOIN (
            SELECT d.stage, count(*) AS n,
              quantile_cont(d.latest, [0.5, 0.75]) AS ql, quantile_cont(d.cumulative, [0.5, 0.75]) AS qc,
              count(*) FILTER (WHERE d.stint_no > 1) AS reentered
            FROM per_deal d GROUP BY d.stage
          ) a ON a.stage = s.name
          WHERE s.kind = 'open'
        )
        ORDER BY stage_index`
  };
}

function stalled(p: CycleParams, ctx: ModelContext): ModelQuery {
  const end = addDays(ctx.asOf, 1);
  // Whether a deal may have a stage change or activity after the report date (the facts horizon,
  // as the deals listing reads it). When none can, the facts' figures hold as they are and the
  // paths that recompute them are left out (at 10M deals the stalled view was 1.8× its raw SQL
  // with them).
  const late = lateEventsPossible(ctx);
  const recomputed: ModelQuery['ctes'] = [
    [
      'late_change',
      lastStageChangeBefore(sql`${end}::TIMESTAMP`, sql`SELECT opportunity_id FROM open_deals WHERE late`)
    ],
    [
      'late_activity',
      sql`SELECT a.opportunity_id, max(a.occurred_at) AS at FROM activities a
          WHERE a.occurred_at < ${end}::TIMESTAMP AND a.opportunity_id IN (SELECT opportunity_id FROM open_deals WHERE late)
          GROUP BY a.opportunity_id`
    ],
    [
      // deal_facts also has the owner's last activity on the deal's customer tied to no deal
      // (all history, which the scope cannot change: the activity is by the deal's visible
      // owner); an owner and customer with one after the report date are recomputed. It used
      // to be read from activities for every open deal's customer (2.2M rows at 1M deals).
      'late_customer_activity',
      sql`SELECT a.customer_id, a.owner_id, max(a.occurred_at) AS at FROM activities a
          JOIN (SELECT DISTINCT customer_id, owner_id FROM open_deals WHERE late_customer) l
            ON l.customer_id = a.customer_id AND l.owner_id = a.owner_id
          WHERE a.opportunity_id IS NULL AND a.occurred_at < ${end}::TIMESTAMP
          GROUP BY a.customer_id, a.owner_id`
    ],
    [
      'touched',
      unsafeRaw(`SELECT d.*,
          CASE WHEN d.late THEN coalesce(lc.at, d.created_at) ELSE d.fact_change_at END AS last_stage_change_at,
          greatest(CASE WHEN d.late THEN la.at ELSE d.fact_activity_at END,
                   CASE WHEN d.late_customer THEN ca.at ELSE d.fact_customer_activity_at END) AS last_activity_at
        FROM open_deals d
        LEFT JOIN late_change lc ON lc.opportunity_id = d.opportunity_id
        LEFT JOIN late_activity la ON la.opportunity_id = d.opportunity_id
        LEFT JOIN late_customer_activity ca ON ca.customer_id = d.customer_id AND ca.owner_id = d.owner_id`)
    ]
  ];
  const asStored: ModelQuery['ctes'] = [
    [
      'touched',
      unsafeRaw(`SELECT d.*, d.fact_change_at AS last_stage_change_at,
          greatest(d.fact_activity_at, d.fact_customer_activity_at) AS last_activity_at
        FROM open_deals d`)
    ]
  ];
  return {
    ctes: [
      [
        // deal_facts has each deal's last stage change and last activity (all history); a deal
        // with either after the report date (a report date in the past) is recomputed from the
        // history up to that date.
        'open_deals',
        // Narrow: the listed deals' names are read by their row id at the end (every open deal's
        // name and customer name carried through were most of the view at 10M deals).
        sql`SELECT r.fact_rowid, r.opportunity_id, r.customer_id, r.owner_id, r.stage, r.amount, r.created_at,
              r.last_stage_change_at AS fact_change_at, r.last_activity_at AS fact_activity_at,
              r.customer_activity_at AS fact_customer_activity_at,
              coalesce(r.customer_activity_at >= ${end}::TIMESTAMP, false) AS late_customer,
              coalesce(r.last_stage_change_at >= ${end}::TIMESTAMP OR r.last_activity_at >= ${end}::TIMESTAMP, false) AS late
            FROM ${dealsRelation(p, 'deal_facts_rows')} r
            WHERE r.status = 'open' AND (r.created_at IS NULL OR r.created_at < ${end}::TIMESTAMP)`,
        // read by four CTEs when late events are possible: inlined, each copy re-plans the
        // scoped deals relation; otherwise read once
        { materialized: late }
      ],
      ...(late ? recomputed : asStored),
      [
        'idle',
        sql`SELECT d.*, s.idx AS stage_index, coalesce(s.stalled_after_days, ${ctx.stalledAfterDays}::INTEGER) AS stalled_after_days,
              date_diff('day', coalesce(greatest(d.last_stage_change_at, d.last_activity_at), d.created_at)::DATE, ${ctx.asOf}::DATE) AS idle_days
            FROM touched d
            LEFT JOIN stages s ON s.name = d.stage`,
        // read by the totals (three times) and the listing
        { materialized: true }
      ],
      ['stalled_deals', unsafeRaw(`SELECT * FROM idle WHERE idle_days > stalled_after_days`)],
      [
        'totals',
        unsafeRaw(`SELECT
            (SELECT count(*) FROM stalled_deals)::INTEGER AS total_stalled,
            (SELECT coalesce(sum(amount), 0) FROM stalled_deals)::DOUBLE AS total_amount,
            (SELECT coalesce(list({'stage': s.name, 'stage_index': s.idx, 'open': x.open, 'stalled': x.stalled, 'stalled_amount': x.stalled_amount} ORDER BY s.idx), [])
               FROM stages s
               JOIN (SELECT stage, count(*)::INTEGER AS open, count(*) FILTER (WHERE idle_days > stalled_after_days)::INTEGER AS stalled,
                            coalesce(sum(amount) FILTER (WHERE idle_days > stalled_after_days), 0)::DOUBLE AS stalled_amount
                     FROM idle GROUP BY stage) x ON x.stage = s.name
               WHERE s.kind = 'open') AS by_stage`)
      ],
      [
        'listed',
        sql`SELECT * FROM stalled_deals ORDER BY idle_days DESC, amount DESC NULLS LAST, opportunity_id LIMIT ${p.limit}::INTEGER`
      ]
    ] as ModelQuery['ctes'],
    // The customer's name from deal_facts: the listed deal is visible, so its customer is.
    body: unsafeRaw(`SELECT l.opportunity_id, f.name, l.customer_id, f.customer_name, l.owner_id, u.name AS owner_name,
          l.stage, l.stage_index, l.amount::DOUBLE AS amount,
          strftime(l.last_stage_change_at, '%Y-%m-%dT%H:%M:%S') AS last_stage_change_at,
          strftime(l.last_activity_at, '%Y-%m-%dT%H:%M:%S') AS last_activity_at,
          l.idle_days::INTEGER AS idle_days, l.stalled_after_days::INTEGER AS stalled_after_days, 1 AS n,
          t.total_stalled, t.total_amount, t.by_stage
        FROM totals t
        LEFT JOIN listed l ON TRUE
        LEFT JOIN (SELECT fact_rowid, name, customer_name FROM deal_facts_rows WHERE fact_rowid IN (SELECT fact_rowid FROM listed)) f
          ON f.fact_rowid = l.fact_rowid
        LEFT JOIN users u ON u.user_id = l.owner_id
        ORDER BY l.idle_days DESC, l.amount DESC NULLS LAST, l.opportunity_id`)
  };
}
