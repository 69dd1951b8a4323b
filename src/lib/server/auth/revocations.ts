/**
 * Sessions ended by /logout. A session is what `sessionId` names: the `sid` a renewed token
 * carries, else the token's `jti`, else a hash of the token itself; every token of a revoked
 * session is refused (401 `token revoked`) until the latest moment one of them could still be
 * valid (its `exp`, or `renew_until` for a renewable session).
 *
 * Kept in memory for the per-request check and in the database (`revoked_sessions`,
 * migration 6) so a restart does not bring a logged-out token back; rows past their time are
 * dropped as new ones are written. The write is `untracked`: it changes nothing a model reads,
 * so it leaves the result cache alone.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../db/database';
import { sql } from '../db/sql';
import type { Claims } from './claims';

/**
 * The session a verified token belongs to (rate limits and revocations are per session): its
 * `sid` (set on renewal to the first token's id), else its `jti`, else a hash of the token.
 * A renewal puts this value in the new token's `sid`, so both name the same session.
 */
export function sessionId(claims: Pick<Claims, 'sid' | 'jti'>, token: string): string {
  return claims.sid ?? claims.jti ?? `h:${createHash('sha256').update(token).digest('base64url').slice(0, 32)}`;
}

const utc = (unix: number) => new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 19);

export class Revocations {
  private readonly until = new Map<string, number>();

  private constructor(private readonly db: Database) {}

  static async load(db: Database): Promise<Revocations> {
    const r = new Revocations(db);
    const { rows } = await db.query<{ session: string; until: number }>(
      `SELECT session, epoch(until)::BIGINT AS until FROM revoked_sessions WHERE until > now()::TIMESTAMP`
    );
    for (const row of rows) r.until.set(row.session, Number(row.until));
    return r;
  }

  has(session: string, now = Math.floor(Date.now() / 1000)): boolean {
    const t = this.until.get(session);
    if (t === undefined) return false;
    if (t > now) return true;
    this.until.delete(session);
    return false;
  }

  /** Ends a session until `until` (unix seconds). */
  async revoke(session: string, until: number, now = Math.floor(Date.now() / 1000)): Promise<void> {
    this.until.set(session, Math.max(until, this.until.get(session) ?? 0));
    for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
    await this.db.write(
      async (tx) => {
        await tx.run(sql`DELETE FROM revoked_sessions WHERE until <= ${utc(now)}::TIMESTAMP OR session = ${session}`);
        await tx.run(sql`INSERT INTO revoked_sessions VALUES (${session}, ${utc(this.until.get(session)!)}::TIMESTAMP, ${utc(now)}::TIMESTAMP)`);
      },
      { untracked: true }
    );
  }
}

const loaded = new WeakMap<Database, Promise<Revocations>>();

/** The revocation list of a database, read from it once per process. */
export function revocationsFor(db: Database): Promise<Revocations> {
  let p = loaded.get(db);
  if (!p) {
    p = Revocations.load(db);
    loaded.set(db, p);
    p.catch(() => loaded.delete(db));
  }
  return p;
}
