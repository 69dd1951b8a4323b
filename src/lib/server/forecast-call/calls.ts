/**
 * The forecast call (预测提报): reps submit their commit and best case for a period, managers
 * theirs for a team beside the team's roll-up, executives see the submissions against the
 * system's forecast and the target. Stored in `forecast_calls` (one row per submission, never
 * updated: the latest per period, level and subject is the call, the rest its history) and
 * audited in `forecast_call_audit` (every attempt, allowed or refused). No sync touches these
 * tables; writes are bookkeeping (`derived`: they do not bump data_version).
 *
 * Who may write what (from the token, never from the request):
 * - `level=rep`: a rep their own call only (subject = one of their scope's owner ids, which is
 *   their `sub` unless the token says otherwise); a manager or executive may not write a rep's
 *   number for them;
 * - `level=team`: a manager for a team inside their scope (a team of `scope.team_ids` or below),
 *   an executive (or admin) for any team; a rep or viewer never;
 * - demo mode (no access control): anything, recorded as `demo`.
 * The viewer reads the calls of the reps and teams their scope covers (the board's read).
 *
 * Category overrides: a call may carry `overrides` (a deal's forecast category as the caller
 * calls it: commit / best_case / pipeline / omitted), stored in `forecast_call_overrides` with
 * the call they came with (migration 14: the overrides of a subject's latest call are the
 * current ones, earlier calls keep theirs as history). Only the subject's own open deals: a
 * rep's call overrides deals the rep owns, a team's call deals of the team's members (and the
 * teams below). A call that omits `overrides` carries the previous call's over; `[]` clears them.
 * They change the category roll-up beside each call (commit and best case with the overrides
 * applied), never the system's forecast.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Database } from '../db/database';
import { sql } from '../db/sql';
import type { Claims } from '../auth/claims';
import type { Scope } from '../../../../models/common/scope';
import { isAll } from '../../../../models/common/scope';
import { dateString } from '../../../../models/common/params';

const money = z.coerce.number().finite().min(0).max(1e15);

export const CALL_CATEGORIES = ['commit', 'best_case', 'pipeline', 'omitted'] as const;
export type CallCategory = (typeof CALL_CATEGORIES)[number];

export const callInput = z
  .strictObject({
    period_from: dateString,
    period_to: dateString,
    level: z.enum(['rep', 'team']),
    subject: z.string().min(1).max(200),
    commit: money,
    best_case: money,
    note: z.string().max(2000).optional(),
    overrides: z
      .array(z.strictObject({ opportunity_id: z.string().min(1).max(200), category: z.enum(CALL_CATEGORIES) }))
      .max(1000)
      .optional()
  })
  .superRefine((v, ctx) => {
    if (v.period_from >= v.period_to) ctx.addIssue({ code: 'custom', path: ['period_to'], message: 'period_to must be after period_from (exclusive end)' });
    if (v.best_case < v.commit) ctx.addIssue({ code: 'custom', path: ['best_case'], message: 'best case must be at least the commit (it includes it)' });
    const ids = (v.overrides ?? []).map((o) => o.opportunity_id);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', path: ['overrides'], message: 'a deal may be overridden once per call' });
  });
export type CallInput = z.infer<typeof callInput>;

export type Actor = { demo: true } | { demo: false; claims: Claims; scope: Scope | null };

/** Teams at or below the given ones (all teams for `null`). */
async function teamsBelow(db: Database, roots: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ team_id: string }>(sql`WITH RECURSIVE tt(team_id, depth) AS (
      SELECT team_id, 0 FROM teams WHERE list_contains(${roots}::VARCHAR[], team_id)
      UNION ALL SELECT t.team_id, tt.depth + 1 FROM teams t JOIN tt ON t.parent_id = tt.team_id WHERE tt.depth < 32
    ) SELECT DISTINCT team_id FROM tt`);
  return new Set(rows.map((r) => r.team_id));
}

/** Whether the actor may write this call; the reason when not. */
export async function mayWrite(db: Database, actor: Actor, input: Pick<CallInput, 'level' | 'subject'>): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (actor.demo) return { ok: true };
  const { claims, scope } = actor;
  if (!scope) return { ok: false, reason: 'no scope' };
  if (input.level === 'rep') {
    if (claims.role !== 'rep') return { ok: false, reason: `a ${claims.role} may not submit a rep's call; each rep submits their own` };
    const own = 'owner_ids' in scope ? scope.owner_ids : [];
    return own.includes(input.subject) ? { ok: true } : { ok: false, reason: `a rep may submit only their own call (${own.join(', ') || claims.sub}), not ${input.subject}'s` };
  }
  if (claims.role === 'executive' || claims.role === 'admin') return { ok: true };
  if (claims.role !== 'manager') return { ok: false, reason: `a ${claims.role} may not submit a team's call` };
  if (isAll(scope)) return { ok: true };
  const teams = await teamsBelow(db, scope.team_ids);
  return teams.has(input.subject) ? { ok: true } : { ok: false, reason: `team ${input.subject} is outside this manager's teams` };
}

/**
 * Which of the deals are not the call subject's own open deals (a rep's: owned by the rep; a
 * team's: owned by a member of the team or a team below it), with why. Empty: all may be overridden.
 */
async function foreignDeals(db: Database, input: Pick<CallInput, 'level' | 'subject'>, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const owners =
    input.level === 'rep'
      ? [input.subject]
      : (await db.query<{ user_id: string }>(sql`SELECT user_id FROM users WHERE list_contains(${[...(await teamsBelow(db, [input.subject]))]}::VARCHAR[], team_id)`)).rows.map((r) => r.user_id);
  const { rows } = await db.query<{ opportunity_id: string; owner_id: string | null; status: string | null }>(
    sql`SELECT opportunity_id, owner_id, status FROM opportunities WHERE list_contains(${ids}::VARCHAR[], opportunity_id)`
  );
  const found = new Map(rows.map((r) => [r.opportunity_id, r]));
  const bad: string[] = [];
  for (const id of ids) {
    const r = found.get(id);
    if (!r) bad.push(`${id} (no such deal)`);
    else if (!r.owner_id || !owners.includes(r.owner_id)) bad.push(`${id} (not ${input.level === 'rep' ? `${input.subject}'s` : `a deal of team ${input.subject}`})`);
    else if (r.status !== 'open') bad.push(`${id} (${r.status ?? 'not open'})`);
  }
  return bad;
}

/** A stage's default forecast category (the configuration's, models' `StageInfo`). */
export type StageCategory = { name: string; forecast_category: string };

/** A deal's category as the system has it (its own, else its stage's) for `opportunities op`: the forecast model's rule. */
const systemCategory = (stages: StageCategory[]) =>
  sql`coalesce(op.forecast_category, (${stages.map((s) => s.forecast_category)}::VARCHAR[])[list_position(${stages.map((s) => s.name)}::VARCHAR[], op.stage)])`;

const who = (a: Actor) => (a.demo ? { actor: 'demo', role: 'demo' } : { actor: a.claims.sub, role: a.claims.role });

/** Validates, authorises and stores a call; every attempt is audited. */
export async function submitCall(
  db: Database,
  actor: Actor,
  raw: unknown,
  now = new Date(),
  stages: StageCategory[] = []
): Promise<{ status: 200; call_id: string } | { status: 400 | 403; error: string; issues?: string[] }> {
  const at = now.toISOString().replace('T', ' ').replace('Z', '');
  const { actor: by, role } = who(actor);
  const audit = (outcome: string, reason: string | null, callId: string | null) =>
    db.write(
      (tx) =>
        tx.run(sql`INSERT INTO forecast_call_audit VALUES (${randomUUID()}, ${at}::TIMESTAMP, ${by}, ${role}, 'submit', ${outcome}, ${reason}, ${callId},
          ${JSON.stringify(raw ?? null).slice(0, 4000)}::JSON)`),
      { derived: true }
    );
  const parsed = callInput.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    await audit('invalid', issues.join('; ').slice(0, 1000), null);
    return { status: 400, error: `invalid call: ${issues.join('; ')}`, issues };
  }
  const input = parsed.data;
  const allowed = await mayWrite(db, actor, input);
  if (!allowed.ok) {
    await audit('refused', allowed.reason, null);
    return { status: 403, error: `forbidden: ${allowed.reason}` };
  }
  if (input.overrides?.length) {
    const bad = await foreignDeals(db, input, input.overrides.map((o) => o.opportunity_id));
    if (bad.length) {
      const reason = `a call may override only its own open deals: ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? ` and ${bad.length - 10} more` : ''}`;
      await audit('refused', reason.slice(0, 1000), null);
      return { status: 403, error: `forbidden: ${reason}` };
    }
  }
  const callId = randomUUID();
  await db.write(
    async (tx) => {
      // The previous call of the same period and subject (its overrides carry over when this one says none).
      const prev = input.overrides
        ? null
        : ((await tx.query<{ call_id: string }>(sql`SELECT call_id FROM forecast_calls
            WHERE period_from = ${input.period_from}::DATE AND period_to = ${input.period_to}::DATE AND level = ${input.level} AND subject = ${input.subject}
            ORDER BY submitted_at DESC, rowid DESC LIMIT 1`)).rows[0]?.call_id ?? null);
      await tx.run(sql`INSERT INTO forecast_calls VALUES (${callId}, ${input.period_from}::DATE, ${input.period_to}::DATE, ${input.level}, ${input.subject},
        ${input.commit}::DECIMAL(18,2), ${input.best_case}::DECIMAL(18,2), ${input.note ?? null}, ${by}, ${role}, ${at}::TIMESTAMP)`);
      if (input.overrides?.length) {
        const ids = input.overrides.map((o) => o.opportunity_id);
        const cats = input.overrides.map((o) => o.category);
        // With the deal's category and amount as the system had them when the call was made (history).
        await tx.run(sql`INSERT INTO forecast_call_overrides
          SELECT ${callId}, o.id, ${systemCategory(stages)}, o.category, op.amount
          FROM (SELECT unnest(${ids}::VARCHAR[]) AS id, unnest(${cats}::VARCHAR[]) AS category) o
          LEFT JOIN opportunities op ON op.opportunity_id = o.id`);
      } else if (prev) {
        await tx.run(sql`INSERT INTO forecast_call_overrides SELECT ${callId}, opportunity_id, system_category, category, amount FROM forecast_call_overrides WHERE call_id = ${prev}`);
      }
      await tx.run(sql`INSERT INTO forecast_call_audit VALUES (${randomUUID()}, ${at}::TIMESTAMP, ${by}, ${role}, 'submit', 'stored', NULL, ${callId},
        ${JSON.stringify(input)}::JSON)`);
    },
    { derived: true }
  );
  return { status: 200, call_id: callId };
}

export interface CallRow {
  level: 'rep' | 'team';
  subject: string;
  name: string | null;
  team_id: string | null;
  commit: number | null;
  best_case: number | null;
  note: string | null;
  submitted_by: string | null;
  submitted_at: string | null;
  submissions: number;
  /** Team rows: Σ of the latest rep calls of the team's members (and below). */
  rollup_commit: number | null;
  rollup_best_case: number | null;
  /** Category overrides in force for the row (a rep's: their latest call's; a team's: its own call's, else its reps'), on open deals of the period. */
  overrides_n: number;
  /** What those overrides add to the commit and best-case roll-ups of the deals' categories (negative: they take away). */
  override_commit_delta: number;
  override_best_case_delta: number;
  may_write: boolean;
}

/** The calls of a period for the reps and teams the viewer's scope covers, with what they may write: teams from the top down, then reps by team. */
export async function readCalls(db: Database, actor: Actor, period: { from: string; to: string }, stages: StageCategory[] = []): Promise<CallRow[]> {
  const scope: Scope | null = actor.demo ? { all: true } : actor.scope;
  if (!scope) return [];
  const all = isAll(scope);
  const teamIds = all ? null : [...(await teamsBelow(db, scope.team_ids))];
  const owners = all ? [] : scope.owner_ids;
  const { rows } = await db.query<Omit<CallRow, 'may_write'>>(sql`WITH RECURSIVE
    tt(ancestor, team_id, depth) AS (
      SELECT team_id, team_id, 0 FROM teams
      UNION ALL SELECT tt.ancestor, t.team_id, tt.depth + 1 FROM tt JOIN teams t ON t.parent_id = tt.team_id WHERE tt.depth < 32
    ),
    vis_users AS (
      SELECT user_id, name, team_id FROM users
      WHERE ${all} OR list_contains(${teamIds ?? []}::VARCHAR[], team_id) OR list_contains(${owners}::VARCHAR[], user_id)
    ),
    vis_teams AS (SELECT team_id, name FROM teams WHERE ${all} OR list_contains(${teamIds ?? []}::VARCHAR[], team_id)),
    calls AS (
      SELECT *, row_number() OVER (PARTITION BY level, subject ORDER BY submitted_at DESC, rowid DESC) AS rn,
             count(*) OVER (PARTITION BY level, subject) AS submissions
      FROM forecast_calls WHERE period_from = ${period.from}::DATE AND period_to = ${period.to}::DATE
    ),
    latest AS (SELECT * FROM calls WHERE rn = 1),
    -- The overrides of the latest calls on deals still open and expected to close in the period.
    ov AS (
      SELECT c.level, c.subject, o.opportunity_id, o.category, op.owner_id, coalesce(op.amount, 0)::DOUBLE AS amount,
             ${systemCategory(stages)} AS sys
      FROM latest c JOIN forecast_call_overrides o ON o.call_id = c.call_id
      JOIN opportunities op ON op.opportunity_id = o.opportunity_id
      WHERE op.status = 'open' AND op.expected_close_date >= ${period.from}::DATE AND op.expected_close_date < ${period.to}::DATE
    ),
    ovd AS (
      SELECT *, amount * ((category = 'commit')::INTEGER - coalesce(sys = 'commit', false)::INTEGER) AS d_commit,
             amount * ((category IN ('commit', 'best_case'))::INTEGER - coalesce(sys IN ('commit', 'best_case'), false)::INTEGER) AS d_best
      FROM ov
    ),
    -- A rep's call overrides their own deals only.
    rep_ov AS (SELECT * FROM ovd WHERE level = 'rep' AND subject = owner_id),
    -- A team's deals: its own call's override, else the owner's.
    team_ov AS (
      SELECT t.team_id, x.* FROM teams t, LATERAL (
        SELECT opportunity_id, d_commit, d_best FROM ovd WHERE level = 'team' AND subject = t.team_id
        UNION ALL
        SELECT r.opportunity_id, r.d_commit, r.d_best FROM rep_ov r JOIN users m ON m.user_id = r.owner_id
        WHERE m.team_id IN (SELECT team_id FROM tt WHERE ancestor = t.team_id)
          AND r.opportunity_id NOT IN (SELECT opportunity_id FROM ovd WHERE level = 'team' AND subject = t.team_id)
      ) x
    )
    SELECT 'rep' AS level, u.user_id AS subject, u.name, u.team_id,
           c.commit_amount::DOUBLE AS commit, c.best_case_amount::DOUBLE AS best_case, c.note, c.submitted_by,
           strftime(c.submitted_at, '%Y-%m-%dT%H:%M:%S') AS submitted_at, coalesce(c.submissions, 0)::INTEGER AS submissions,
           NULL::DOUBLE AS rollup_commit, NULL::DOUBLE AS rollup_best_case,
           (SELECT count(*) FROM rep_ov r WHERE r.subject = u.user_id)::INTEGER AS overrides_n,
           coalesce((SELECT sum(d_commit) FROM rep_ov r WHERE r.subject = u.user_id), 0)::DOUBLE AS override_commit_delta,
           coalesce((SELECT sum(d_best) FROM rep_ov r WHERE r.subject = u.user_id), 0)::DOUBLE AS override_best_case_delta,
           99 AS depth
    FROM vis_users u LEFT JOIN latest c ON c.level = 'rep' AND c.subject = u.user_id
    UNION ALL
    SELECT 'team', t.team_id, t.name, t.team_id,
           c.commit_amount::DOUBLE, c.best_case_amount::DOUBLE, c.note, c.submitted_by,
           strftime(c.submitted_at, '%Y-%m-%dT%H:%M:%S'), coalesce(c.submissions, 0)::INTEGER,
           (SELECT sum(r.commit_amount) FROM latest r JOIN users m ON m.user_id = r.subject
              WHERE r.level = 'rep' AND m.team_id IN (SELECT team_id FROM tt WHERE ancestor = t.team_id))::DOUBLE,
           (SELECT sum(r.best_case_amount) FROM latest r JOIN users m ON m.user_id = r.subject
              WHERE r.level = 'rep' AND m.team_id IN (SELECT team_id FROM tt WHERE ancestor = t.team_id))::DOUBLE,
           (SELECT count(*) FROM team_ov o WHERE o.team_id = t.team_id)::INTEGER,
           coalesce((SELECT sum(d_commit) FROM team_ov o WHERE o.team_id = t.team_id), 0)::DOUBLE,
           coalesce((SELECT sum(d_best) FROM team_ov o WHERE o.team_id = t.team_id), 0)::DOUBLE,
           (SELECT max(depth) FROM tt WHERE tt.team_id = t.team_id)
    FROM vis_teams t LEFT JOIN latest c ON c.level = 'team' AND c.subject = t.team_id
    ORDER BY level DESC, depth, team_id, subject`);
  const out: CallRow[] = [];
  for (const { depth: _d, ...r } of rows as (Omit<CallRow, 'may_write'> & { depth: number })[]) {
    out.push({ ...r, may_write: (await mayWrite(db, actor, { level: r.level, subject: r.subject })).ok });
  }
  return out;
}

/** A call's history (who, when, what), newest first. */
export async function callHistory(db: Database, actor: Actor, period: { from: string; to: string }, level: 'rep' | 'team', subject: string) {
  const visible = (await readCalls(db, actor, period)).some((r) => r.level === level && r.subject === subject);
  if (!visible) return [];
  // Newest first by the stored timestamp (not the seconds-only text of the same name) and, within
  // one millisecond, by insertion (the table is append-only): two calls a second apart were
  // listed in random order.
  const { rows } = await db.query(sql`SELECT call_id, commit_amount::DOUBLE AS commit, best_case_amount::DOUBLE AS best_case, note, submitted_by, submitted_role,
      strftime(submitted_at, '%Y-%m-%dT%H:%M:%S') AS submitted_at
    FROM forecast_calls WHERE period_from = ${period.from}::DATE AND period_to = ${period.to}::DATE AND level = ${level} AND subject = ${subject}
    ORDER BY forecast_calls.submitted_at DESC, forecast_calls.rowid DESC`);
  // Each submission with the category overrides it carried.
  const ov = await callOverrides(db, rows.map((r) => String(r.call_id)));
  return rows.map((r) => ({ ...r, overrides: ov[String(r.call_id)] ?? [] }));
}

export interface CallDeal {
  opportunity_id: string;
  name: string | null;
  owner_id: string | null;
  owner_name: string | null;
  stage: string;
  amount: number | null;
  expected_close_date: string | null;
  /** The deal's category as the system has it (its own, else its stage's). */
  system_category: string | null;
  /** The category in force from a call (null: none), and whose call it came with. */
  override: CallCategory | null;
  override_by: 'rep' | 'team' | null;
}

/**
 * The open deals of a call's subject expected to close in the period (a rep's own; a team's
 * members' and the teams' below), largest first (at most 300), each with its system category and
 * the override in force: for a rep, their latest call's; for a team, its own latest call's, else
 * the owner's. Empty when the viewer does not see the call.
 */
export async function callDeals(db: Database, actor: Actor, period: { from: string; to: string }, level: 'rep' | 'team', subject: string, stages: StageCategory[] = []): Promise<CallDeal[]> {
  const visible = (await readCalls(db, actor, period, stages)).some((r) => r.level === level && r.subject === subject);
  if (!visible) return [];
  const owners =
    level === 'rep'
      ? [subject]
      : (await db.query<{ user_id: string }>(sql`SELECT user_id FROM users WHERE list_contains(${[...(await teamsBelow(db, [subject]))]}::VARCHAR[], team_id)`)).rows.map((r) => r.user_id);
  const { rows } = await db.query<CallDeal>(sql`WITH latest AS (
      SELECT call_id, level, subject FROM forecast_calls
      WHERE period_from = ${period.from}::DATE AND period_to = ${period.to}::DATE
      QUALIFY row_number() OVER (PARTITION BY level, subject ORDER BY submitted_at DESC, rowid DESC) = 1
    ),
    ovr AS (SELECT c.level, c.subject, o.opportunity_id, o.category FROM latest c JOIN forecast_call_overrides o ON o.call_id = c.call_id)
    SELECT op.opportunity_id, op.name, op.owner_id, u.name AS owner_name, op.stage, op.amount::DOUBLE AS amount,
           strftime(op.expected_close_date, '%Y-%m-%d') AS expected_close_date, ${systemCategory(stages)} AS system_category,
           coalesce(tv.category, rv.category) AS override,
           CASE WHEN tv.category IS NOT NULL THEN 'team' WHEN rv.category IS NOT NULL THEN 'rep' END AS override_by
    FROM opportunities op
    LEFT JOIN users u ON u.user_id = op.owner_id
    LEFT JOIN ovr rv ON rv.level = 'rep' AND rv.subject = op.owner_id AND rv.opportunity_id = op.opportunity_id
    LEFT JOIN ovr tv ON ${level === 'team'} AND tv.level = 'team' AND tv.subject = ${subject} AND tv.opportunity_id = op.opportunity_id
    WHERE op.status = 'open' AND list_contains(${owners}::VARCHAR[], op.owner_id)
      AND op.expected_close_date >= ${period.from}::DATE AND op.expected_close_date < ${period.to}::DATE
    ORDER BY op.amount DESC NULLS LAST, op.opportunity_id
    LIMIT 300`);
  return rows;
}

/** The overrides a call was submitted with (history), by call id. */
export async function callOverrides(db: Database, callIds: string[]): Promise<Record<string, { opportunity_id: string; system_category: string | null; category: string; amount: number | null }[]>> {
  if (callIds.length === 0) return {};
  const { rows } = await db.query<{ call_id: string; opportunity_id: string; system_category: string | null; category: string; amount: number | null }>(
    sql`SELECT call_id, opportunity_id, system_category, category, amount::DOUBLE AS amount FROM forecast_call_overrides
      WHERE list_contains(${callIds}::VARCHAR[], call_id) ORDER BY call_id, opportunity_id`
  );
  const out: Record<string, { opportunity_id: string; system_category: string | null; category: string; amount: number | null }[]> = {};
  for (const { call_id, ...r } of rows) (out[call_id] ??= []).push(r);
  return out;
}
