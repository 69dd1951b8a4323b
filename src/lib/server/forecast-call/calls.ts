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

export const callInput = z
  .strictObject({
    period_from: dateString,
    period_to: dateString,
    level: z.enum(['rep', 'team']),
    subject: z.string().min(1).max(200),
    commit: money,
    best_case: money,
    note: z.string().max(2000).optional()
  })
  .superRefine((v, ctx) => {
    if (v.period_from >= v.period_to) ctx.addIssue({ code: 'custom', path: ['period_to'], message: 'period_to must be after period_from (exclusive end)' });
    if (v.best_case < v.commit) ctx.addIssue({ code: 'custom', path: ['best_case'], message: 'best case must be at least the commit (it includes it)' });
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

const who = (a: Actor) => (a.demo ? { actor: 'demo', role: 'demo' } : { actor: a.claims.sub, role: a.claims.role });

/** Validates, authorises and stores a call; every attempt is audited. */
export async function submitCall(
  db: Database,
  actor: Actor,
  raw: unknown,
  now = new Date()
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
  const callId = randomUUID();
  await db.write(
    async (tx) => {
      await tx.run(sql`INSERT INTO forecast_calls VALUES (${callId}, ${input.period_from}::DATE, ${input.period_to}::DATE, ${input.level}, ${input.subject},
        ${input.commit}::DECIMAL(18,2), ${input.best_case}::DECIMAL(18,2), ${input.note ?? null}, ${by}, ${role}, ${at}::TIMESTAMP)`);
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
  may_write: boolean;
}

/** The calls of a period for the reps and teams the viewer's scope covers, with what they may write: teams from the top down, then reps by team. */
export async function readCalls(db: Database, actor: Actor, period: { from: string; to: string }): Promise<CallRow[]> {
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
    latest AS (SELECT * FROM calls WHERE rn = 1)
    SELECT 'rep' AS level, u.user_id AS subject, u.name, u.team_id,
           c.commit_amount::DOUBLE AS commit, c.best_case_amount::DOUBLE AS best_case, c.note, c.submitted_by,
           strftime(c.submitted_at, '%Y-%m-%dT%H:%M:%S') AS submitted_at, coalesce(c.submissions, 0)::INTEGER AS submissions,
           NULL::DOUBLE AS rollup_commit, NULL::DOUBLE AS rollup_best_case, 99 AS depth
    FROM vis_users u LEFT JOIN latest c ON c.level = 'rep' AND c.subject = u.user_id
    UNION ALL
    SELECT 'team', t.team_id, t.name, t.team_id,
           c.commit_amount::DOUBLE, c.best_case_amount::DOUBLE, c.note, c.submitted_by,
           strftime(c.submitted_at, '%Y-%m-%dT%H:%M:%S'), coalesce(c.submissions, 0)::INTEGER,
           (SELECT sum(r.commit_amount) FROM latest r JOIN users m ON m.user_id = r.subject
              WHERE r.level = 'rep' AND m.team_id IN (SELECT team_id FROM tt WHERE ancestor = t.team_id))::DOUBLE,
           (SELECT sum(r.best_case_amount) FROM latest r JOIN users m ON m.user_id = r.subject
              WHERE r.level = 'rep' AND m.team_id IN (SELECT team_id FROM tt WHERE ancestor = t.team_id))::DOUBLE,
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
  return rows;
}
