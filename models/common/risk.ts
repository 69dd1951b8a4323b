/**
 * Deal risk flags (商机风险), one definition for the deals listing, the deal detail and the
 * at-risk tile (metrics.md, "Deal risk"). For each open deal, as of the report date D (its
 * history, activities and dates up to the end of D):
 * - `pushed`: its expected close date was moved later at least once; `pushes` counts the moves
 *   to a later date between consecutive known close dates in its history (a move earlier is not
 *   a push; an unknown close date in between is skipped);
 * - `stalled_stage`: days since it entered its current stage > the stage's `stalled_after_days`
 *   (else the configured `stalled_after_days`) — stuck in its stage, whatever else happened;
 * - `shrinking`: its amount now is below the highest amount its history shows (`peak_amount`);
 * - `no_activity`: no follow-up on the deal (nor by its owner on its customer tied to no deal)
 *   for more than `idle_days` days (default 30), counted from its creation when there was none;
 * - `past_close`: its expected close date is before D.
 * Amount and close date are the deal's as of D: its last version starting on or before D (its
 * current values when its history does not record them). Closed deals have no flags.
 */
import { join, sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';
import type { ModelContext } from '../model';
import { addDays } from './period';
import { RISK_FLAGS } from './risk-flags';
import { lastActivityBefore } from './pit';
import { horizonReaches } from '../../warehouse/horizon';
export { RISK_FLAGS, type RiskFlag } from './risk-flags';

export const DEFAULT_IDLE_DAYS = 30;

/** The stage's stalled limit (its own, else the configured one) for a stage name expression. */
export function stageLimit(stage: Sql, ctx: Pick<ModelContext, 'stages' | 'stalledAfterDays'>): Sql {
  const limits = ctx.stages.filter((s) => s.stalled_after_days !== null);
  return limits.length
    ? sql`CASE ${stage} ${join(limits.map((s) => sql`WHEN ${s.name} THEN ${s.stalled_after_days}::INTEGER`), ' ')} ELSE ${ctx.stalledAfterDays}::INTEGER END`
    : sql`${ctx.stalledAfterDays}::INTEGER`;
}

/**
 * Risk facts of the deals whose ids `ids` selects (a one-column SELECT over the scoped
 * relations): `opportunity_id`, `pushes`, `peak_amount`, `risk_amount` and `risk_close` (as of D),
 * `days_in_stage`, `days_no_activity`, `risk_flags` (VARCHAR[] in RISK_FLAGS order; empty for
 * closed deals) and `risk_count`.
 */
export function riskRelation(ids: Sql, ctx: Pick<ModelContext, 'asOf' | 'stages' | 'stalledAfterDays' | 'factsHorizon'>, idleDays = DEFAULT_IDLE_DAYS): Sql {
  return riskFromFacts(
    sql`SELECT f.* FROM deal_facts f WHERE f.opportunity_id IN (SELECT opportunity_id FROM (${ids}) WHERE opportunity_id IS NOT NULL)`,
    ctx,
    idleDays
  );
}

/**
 * Whether some deal may have a version, stage change or activity after the end of the report
 * date: always, unless `ctx.factsHorizon` (the latest such instant over every deal, looked up
 * by the model runner) is known and earlier. When not, every `deal_facts` history figure holds
 * as of the report date and no path that recomputes them from the raw tables is needed.
 */
export function lateEventsPossible(ctx: Pick<ModelContext, 'asOf' | 'factsHorizon'>): boolean {
  return horizonReaches(ctx.factsHorizon, addDays(ctx.asOf, 1));
}

/** The `deal_facts` columns `riskFromFacts` reads from its rows. */
export const RISK_FACT_COLUMNS = [
  'opportunity_id', 'customer_id', 'owner_id', 'status', 'stage', 'created_at', 'amount', 'expected_close_date',
  'risk_pushes', 'risk_peak_amount', 'pit_known_amount', 'pit_known_expected_close_date', 'last_stage_change_at',
  'last_activity_at', 'activity_times', 'customer_activity_at', 'versions_last_from'
] as const;

/**
 * `riskRelation` over rows the caller already read from `deal_facts` (a SELECT with at least
 * RISK_FACT_COLUMNS, one row per deal): a listing that has its page's rows in hand computes
 * their flags from them instead of looking the same deals up in `deal_facts` again — a scan of
 * the whole table for a page of 50 ids (issue 15.3).
 */
export function riskFromFacts(
  factRows: Sql,
  ctx: Pick<ModelContext, 'asOf' | 'stages' | 'stalledAfterDays' | 'factsHorizon'>,
  idleDays = DEFAULT_IDLE_DAYS
): Sql {
  const D = ctx.asOf;
  const dayEnd = addDays(D, 1);
  // Two paths, one answer (like models/common/pit.ts): `deal_facts` carries each deal's history
  // figures over all time (pushes, peak and last known amount, last close date, last stage
  // change, last activities: warehouse/facts.ts). A deal whose history, activities and
  // customer follow-ups all lie before the end of D reads them from there; only the parts that
  // have events after D (a past report date) are recomputed from the raw tables, for those
  // deals alone — except the deal's own follow-ups, whose times its row lists
  // (`lastActivityBefore`). At the report date nearly every deal takes the first path, and the at-risk
  // tile no longer scans every version and activity (8 s at 1M deals under load).
  const late = (col: string) => sql`coalesce(f.${unsafeRaw(col)} >= ${dayEnd}::TIMESTAMP, FALSE)`;
  // When no deal has any event after the end of D (ctx.factsHorizon), the second path is empty
  // for every deal: the statement leaves it out (planning it cost more than running it).
  const head = lateEventsPossible(ctx)
    ? sql`    WITH rf AS MATERIALIZED (
      SELECT f.opportunity_id, f.customer_id, f.owner_id, f.status, f.stage, f.created_at, f.amount, f.expected_close_date,
             f.risk_pushes, f.risk_peak_amount, f.pit_known_amount, f.pit_known_expected_close_date, f.last_stage_change_at,
             f.customer_activity_at,
             -- the last follow-up on the deal before the end of D, from its row (models/common/pit.ts)
             ${lastActivityBefore(sql`f`, sql`${dayEnd}::TIMESTAMP`)} AS activity_at,
             ${late('versions_last_from')} AS v_late, ${late('customer_activity_at')} AS c_late
      FROM (${factRows}) f
    ),
    rv AS (
      SELECT v.opportunity_id, v.valid_from, v.stage, v.amount, v.expected_close_date,
             lag(v.stage) OVER w AS prev_stage,
             lag(v.expected_close_date IGNORE NULLS) OVER w AS prev_close
      -- version_facts: the same versions, scoped by the deal's owner (no working out of every
      -- visible deal, as opportunity_versions needs for a restricted scope) and stored by the
      -- deal's settled instant, which for a deal with versions after D is after D too.
      FROM version_facts v
      WHERE v.valid_from < ${dayEnd}::TIMESTAMP AND v.settled_key >= ${dayEnd}::TIMESTAMP
        AND v.opportunity_id IN (SELECT opportunity_id FROM rf WHERE v_late)
      WINDOW w AS (PARTITION BY v.opportunity_id ORDER BY v.valid_from)
    ),
    rh AS (
      SELECT opportunity_id,
             count(*) FILTER (WHERE expected_close_date > prev_close)::INTEGER AS pushes,
             max(amount) AS peak_amount,
             arg_max(amount, valid_from) AS last_amount,
             arg_max(expected_close_date, valid_from) AS last_close,
             max(valid_from) FILTER (WHERE prev_stage IS NULL OR prev_stage <> stage) AS stage_since
      FROM rv GROUP BY opportunity_id
    ),
    rc AS (
      SELECT a.customer_id, a.owner_id, max(a.occurred_at) AS at FROM activities a
      JOIN (SELECT DISTINCT customer_id, owner_id FROM rf WHERE c_late) k
        ON k.customer_id = a.customer_id AND k.owner_id = a.owner_id
      WHERE a.opportunity_id IS NULL AND a.occurred_at < ${dayEnd}::TIMESTAMP
      GROUP BY a.customer_id, a.owner_id
    ),
    base AS (
      SELECT o.opportunity_id, o.status, o.stage, o.created_at, o.amount AS deal_amount,
             (CASE WHEN o.v_late THEN coalesce(h.pushes, 0) ELSE coalesce(o.risk_pushes, 0) END)::INTEGER AS pushes,
             (CASE WHEN o.v_late THEN h.peak_amount ELSE o.risk_peak_amount END)::DOUBLE AS peak_amount,
             coalesce(CASE WHEN o.v_late THEN h.last_amount ELSE o.pit_known_amount END, o.amount)::DOUBLE AS risk_amount,
             coalesce(CASE WHEN o.v_late THEN h.last_close ELSE o.pit_known_expected_close_date END, o.expected_close_date) AS risk_close,
             date_diff('day', coalesce(CASE WHEN o.v_late THEN h.stage_since ELSE o.last_stage_change_at END, o.created_at)::DATE, ${D}::DATE)::INTEGER AS days_in_stage,
             date_diff('day', greatest(coalesce(o.activity_at, o.created_at),
                                       coalesce(CASE WHEN o.c_late THEN rc.at ELSE o.customer_activity_at END, o.created_at),
                                       o.created_at)::DATE, ${D}::DATE)::INTEGER AS days_no_activity
      FROM rf o
      LEFT JOIN rh h ON h.opportunity_id = o.opportunity_id
      LEFT JOIN rc ON rc.customer_id = o.customer_id AND rc.owner_id = o.owner_id
    ),
`
    : sql`    WITH base AS (
      SELECT f.opportunity_id, f.status, f.stage, f.created_at, f.amount AS deal_amount,
             coalesce(f.risk_pushes, 0)::INTEGER AS pushes,
             f.risk_peak_amount::DOUBLE AS peak_amount,
             coalesce(f.pit_known_amount, f.amount)::DOUBLE AS risk_amount,
             coalesce(f.pit_known_expected_close_date, f.expected_close_date) AS risk_close,
             date_diff('day', coalesce(f.last_stage_change_at, f.created_at)::DATE, ${D}::DATE)::INTEGER AS days_in_stage,
             date_diff('day', greatest(coalesce(f.last_activity_at, f.created_at), coalesce(f.customer_activity_at, f.created_at),
                                       f.created_at)::DATE, ${D}::DATE)::INTEGER AS days_no_activity
      FROM (${factRows}) f
    ),
`;
  return sql`(
    ${head}
    flagged AS (
      SELECT b.*, CASE WHEN b.status = 'open' THEN list_filter([
          CASE WHEN b.pushes >= 1 THEN 'pushed' END,
          CASE WHEN b.days_in_stage > ${stageLimit(sql`b.stage`, ctx)} THEN 'stalled_stage' END,
          CASE WHEN b.risk_amount < b.peak_amount THEN 'shrinking' END,
          CASE WHEN b.days_no_activity > ${idleDays}::INTEGER THEN 'no_activity' END,
          CASE WHEN b.risk_close < ${D}::DATE THEN 'past_close' END
        ], x -> x IS NOT NULL) ELSE []::VARCHAR[] END AS risk_flags
      FROM base b
    )
    SELECT opportunity_id, pushes, peak_amount, risk_amount, risk_close, days_in_stage, days_no_activity,
           risk_flags, len(risk_flags)::INTEGER AS risk_count, deal_amount
    FROM flagged
  )`;
}

/** Whether a `risk_flags` list expression has any of the asked flags (`any`: at least one flag). */
export function riskWhere(flags: Sql, wanted: readonly string[]): Sql {
  if (wanted.includes('any')) return sql`len(${flags}) > 0`;
  const known = wanted.filter((w) => (RISK_FLAGS as readonly string[]).includes(w));
  return sql`list_has_any(${flags}, ${known}::VARCHAR[])`;
}
