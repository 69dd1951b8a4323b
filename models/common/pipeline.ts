/**
 * The open pipeline as it stood at a moment, rebuilt from the deal history, and the flow
 * between two moments (pipeline waterfall: metrics.md, "Pipeline flow").
 *
 * Definitions (one place; the `pipeline_flow` and `pipeline_flow_deals` models and the risk
 * flags use them):
 * - A deal's state at time t is its state just before t: its version with the latest
 *   `valid_from` strictly before t (a version that ended before t — `valid_to` < t — with
 *   nothing after it means the deal no longer exists). "The pipeline at the start of 2026-06-01" is therefore the pipeline as it stood
 *   at the end of 31 May: a deal created on 1 June is new in June, not part of the start.
 *   A deal with no version starting before t did not exist yet.
 * - A version without an amount, an expected close date or an owner (histories that track
 *   stages only) takes the last one known before t, else the deal's current one: a deal whose
 *   history never records close dates is therefore never counted as pushed or pulled.
 * - Pipeline valuation: the version's amount, unweighted (`amount`, metrics.md forecast's
 *   `open_pipeline`), of deals in an open stage, whose owner at that moment matches the team
 *   and owner filters (so a deal handed to another team leaves this team's pipeline), whose
 *   customer matches the region, industry and grade filters and whose product and source
 *   match, and whose expected close date at that moment falls in the close window.
 * - The close window: the period itself by default (the pipeline for the period), all dates
 *   with `window=all`, or `close_from`/`close_to`.
 *
 * Per deal in either pipeline (`pipeline_flow_deals`), exactly one bucket and its signed
 * value, so start + Σ parts = end holds deal by deal:
 * - in both: `increased` (+ after − before) or `decreased` (the same, negative), else
 *   `unchanged` (0; listed in the start and end drills only);
 * - only at the start: `won` / `lost` when the deal's stage at the end is a won / lost one,
 *   `pushed_out` when it is still open for the same owner filter but its close date left the
 *   window, else `removed` (handed to an owner outside the filter, moved to a stage that is no
 *   longer configured, deleted history); each at − the start value (what left the pipeline);
 * - only at the end: `pulled_in` when it was open (for the filter) at the start with a close
 *   date outside the window, else `new` (created in the period, reopened, or handed in); each
 *   at + the end value.
 * Deals created and closed between the two moments are in neither pipeline: they are not in
 * the waterfall (their wins are in win/loss).
 */
import { sql, type Sql } from '../../src/lib/server/db/sql';
import type { ModelContext } from '../model';
import type { CommonParams } from './params';
import { addDays } from './period';
import { filterWhere } from './relations';
import { dealStatesAt } from './pit';
import { pitBoundaries } from '../../warehouse/pit-states';

import { FLOW_BUCKETS, type FlowBucket } from './flow-buckets';
export { FLOW_BUCKETS, FLOW_PARTS, type FlowBucket, type FlowPart } from './flow-buckets';

export interface FlowSpec {
  /** The first moment (start of this day). */
  start: string;
  /** The second moment (start of this day), ≥ start. */
  end: string;
  /** Close dates counted, [from, to); null = any (including none). */
  window: { from: string; to: string } | null;
  /**
   * The instants `pit_boundary_facts` holds the rebuilt states for (warehouse/pit-states.ts,
   * from the facts horizon): a moment among them reads them instead of rebuilding.
   * `COCKPIT_PIT_BOUNDARIES=0` leaves the table unread (a diagnostic, and the tests' reference).
   */
  boundaries: string[];
}

/**
 * The two moments of a period: its first day, and its end (exclusive) or the day after the
 * report date, whichever is earlier — the flow never looks past the report date.
 */
export function flowSpec(
  ctx: Pick<ModelContext, 'period' | 'asOf' | 'factsHorizon'>,
  opts: { window?: 'period' | 'all'; close_from?: string; close_to?: string } = {}
): FlowSpec {
  const start = ctx.period.from;
  const cut = addDays(ctx.asOf, 1);
  const end = ctx.period.to < cut ? ctx.period.to : cut < start ? start : cut;
  const window =
    opts.close_from && opts.close_to
      ? { from: opts.close_from, to: opts.close_to }
      : opts.window === 'all' || ctx.period.preset === 'all'
        ? null
        : { from: ctx.period.from, to: ctx.period.to };
  const boundaries = process.env.COCKPIT_PIT_BOUNDARIES === '0' ? [] : pitBoundaries(ctx.factsHorizon);
  return { start, end, window, boundaries };
}

/**
 * Every deal's state at the start of day `at` (see the definitions above): opportunity_id,
 * stage, kind (open/won/lost, null for a stage not configured), amount, close_date, owner_id,
 * and `counts`: whether the deal is in the pipeline at that moment for the filters and window.
 * Reads the scoped `deal_facts`, `opportunity_versions`, `users` and the `stages` relation
 * every model has (through `dealStatesAt`).
 */
export function pipelineStateAt(at: string, p: CommonParams, window: FlowSpec['window'], among?: Sql, boundary = false): Sql {
  const inWindow = window ? sql`(s.expected_close_date >= ${window.from}::DATE AND s.expected_close_date < ${window.to}::DATE)` : sql`TRUE`;
  const matches = filterWhere(p, {
    team: sql`s.owner_team`,
    owner: sql`s.owner_id`,
    region: sql`s.customer_region`,
    industry: sql`s.customer_industry`,
    source: sql`s.source`,
    product: sql`s.product`,
    grade: sql`s.customer_grade`
  });
  // The state at the moment: the one definition of models/common/pit.ts, carrying the last
  // known amount, close date and owner.
  return sql`(
    SELECT s.opportunity_id, s.stage, s.stage_kind AS kind, s.amount, s.expected_close_date AS close_date, s.owner_id,
           coalesce(${matches}, FALSE) AS matches,
           coalesce(${inWindow}, FALSE) AS in_window,
           coalesce(s.stage_kind = 'open' AND ${matches} AND ${inWindow}, FALSE) AS counts
    FROM ${dealStatesAt(sql`${at}::TIMESTAMP`, { unknown: 'carry', among, boundary })} s
  )`;
}

/**
 * `pipeline_flow_deals`: one row per deal in the start or the end pipeline, with its bucket,
 * its signed `value` in the waterfall, `start_value` (its amount in the start pipeline, else 0),
 * `end_value`, and the before/after stage, amount, close date and owner.
 */
export function pipelineFlowDealsCtes(p: CommonParams, spec: FlowSpec): [name: string, body: Sql, options?: { materialized?: boolean }][] {
  const bucket = sql`CASE
      WHEN a.counts AND b.counts THEN CASE WHEN b.amount > a.amount THEN 'increased' WHEN b.amount < a.amount THEN 'decreased' ELSE 'unchanged' END
      WHEN a.counts THEN CASE
        WHEN b.kind = 'won' THEN 'won'
        WHEN b.kind = 'lost' THEN 'lost'
        WHEN b.kind = 'open' AND b.matches AND NOT b.in_window THEN 'pushed_out'
        ELSE 'removed' END
      ELSE CASE WHEN a.kind = 'open' AND a.matches AND NOT a.in_window THEN 'pulled_in' ELSE 'new' END
    END`;
  // A deal whose history settled before the first moment (models/common/pit.ts) in a stage
  // that is not open is closed (or gone) at both moments: in neither pipeline, so it is not
  // read at all. At a million deals that is most of them (every deal closed before the period
  // and untouched since), and the two states and their full join shrink to the rest.
  // "Open, or not settled before t" is `pit_live_until >= t` (warehouse/facts.ts, built with the
  // configured stages): one range condition, which DuckDB applies in the scan and prunes the
  // close-date-ordered row groups with. Written as an OR of the settled instant and the stage,
  // it read every row (10M deals: every row twice, ~0.9 s of the waterfall's 2 s).
  const live = sql`f.pit_live_until >= ${spec.start}::TIMESTAMP`;
  // At the end, only the deals that may count then, and those that counted at the start, are
  // needed (a row is kept when either counts). A deal whose history settled before the end is
  // in its last version then, so it can count only if that version's stage is open: the deals
  // created and closed within the period (most of the live ones at a million deals: 180k of
  // 241k this year) are not carried into the join.
  const atEnd = sql`(${live} AND (f.pit_live_until >= ${spec.end}::TIMESTAMP
    OR f.opportunity_id IN (SELECT opportunity_id FROM flow_at_start WHERE counts)))`;
  return [
    ['flow_at_start', pipelineStateAt(spec.start, p, spec.window, live, spec.boundaries.includes(spec.start)), { materialized: true }],
    ['flow_at_end', pipelineStateAt(spec.end, p, spec.window, atEnd, spec.boundaries.includes(spec.end))],
    [
      'pipeline_flow_deals',
      sql`SELECT f.*,
            (CASE WHEN f.bucket IN ('new', 'pulled_in') THEN f.end_value
                  WHEN f.bucket IN ('won', 'lost', 'pushed_out', 'removed') THEN -f.start_value
                  ELSE f.end_value - f.start_value END)::DECIMAL(38,2) AS value
          FROM (
            SELECT coalesce(a.opportunity_id, b.opportunity_id) AS opportunity_id, ${bucket} AS bucket,
                   coalesce(a.counts, FALSE) AS in_start, coalesce(b.counts, FALSE) AS in_end,
                   CASE WHEN a.counts THEN a.amount ELSE 0 END::DECIMAL(38,2) AS start_value,
                   CASE WHEN b.counts THEN b.amount ELSE 0 END::DECIMAL(38,2) AS end_value,
                   a.stage AS before_stage, a.amount AS before_amount, a.close_date AS before_close_date, a.owner_id AS before_owner_id,
                   b.stage AS after_stage, b.amount AS after_amount, b.close_date AS after_close_date, b.owner_id AS after_owner_id
            FROM flow_at_start a FULL OUTER JOIN flow_at_end b ON b.opportunity_id = a.opportunity_id
            WHERE coalesce(a.counts, FALSE) OR coalesce(b.counts, FALSE)
          ) f`
    ]
  ];
}

/**
 * `pipeline_flow`: one row per bar — bucket, value (start and end positive totals, the parts
 * signed), deals (count). Built from `pipeline_flow_deals`, so every bar is the sum of its drill.
 */
export function pipelineFlowSelect(): Sql {
  return sql`SELECT b.bucket, b.ord,
      coalesce(CASE b.bucket WHEN 'start' THEN (SELECT sum(start_value) FROM pipeline_flow_deals WHERE in_start)
                             WHEN 'end' THEN (SELECT sum(end_value) FROM pipeline_flow_deals WHERE in_end)
                             ELSE (SELECT sum(value) FROM pipeline_flow_deals d WHERE d.bucket = b.bucket) END, 0)::DOUBLE AS value,
      (CASE b.bucket WHEN 'start' THEN (SELECT count(*) FROM pipeline_flow_deals WHERE in_start)
                     WHEN 'end' THEN (SELECT count(*) FROM pipeline_flow_deals WHERE in_end)
                     ELSE (SELECT count(*) FROM pipeline_flow_deals d WHERE d.bucket = b.bucket) END)::INTEGER AS deals
    FROM (SELECT unnest(${[...FLOW_BUCKETS]}::VARCHAR[]) AS bucket, unnest(range(${FLOW_BUCKETS.length}::BIGINT))::INTEGER AS ord) b
    ORDER BY b.ord`;
}

/** The condition selecting a bucket's drill rows in `pipeline_flow_deals` aliased `d`. */
export function flowBucketWhere(bucket: FlowBucket): Sql {
  if (bucket === 'start') return sql`d.in_start`;
  if (bucket === 'end') return sql`d.in_end`;
  return sql`d.bucket = ${bucket}`;
}

/** A drill row's value in a bucket: the start value in `start`, the end value in `end`, else its signed part. */
export function flowBucketValue(bucket: FlowBucket): Sql {
  if (bucket === 'start') return sql`d.start_value`;
  if (bucket === 'end') return sql`d.end_value`;
  return sql`d.value`;
}
