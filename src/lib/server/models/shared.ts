/**
 * Relations several models compute alike, computed once (issue 15.3; docs/decisions.md,
 * "The waterfall and its drill compute the flow once"). The pipeline board's waterfall
 * (`pipeline_flow`) and its drill (`pipeline_flow_deals`) — and the cockpit's movement page,
 * three calls — each rebuilt the same per-deal movements of the period from the history, the
 * two largest calls of the board at a million deals. A model names such a CTE
 * (`ModelQuery.shared`); the runner compiles it, with the CTEs before it and under the viewer's
 * scope, into one statement, and every call whose statement is the same text with the same
 * bound values reads one table of its rows instead of computing it:
 *
 * - **Same answer.** The table is made by `CREATE TABLE … AS` of that very statement, and the
 *   query that reads it is the model's own with the CTE's body replaced by `SELECT * FROM` the
 *   table: the same rows, the same column types. The key is the compiled statement itself
 *   (text and bound values: the period's moments, the close window, the filters, the scope,
 *   the configured stages), so two calls share a table only when they would compute the same
 *   relation.
 * - **Data version.** A table belongs to one `Database.writeGeneration` (read before it is
 *   built, as the result cache does): after any write (a sync, the demo, a facts rebuild) the
 *   next call builds a new one and the old ones are dropped once no call reads them.
 * - **Single flight.** A call for a relation being built waits for that build, holding no
 *   connection meanwhile; a failed build is not kept (the next call tries again).
 * - **Lifetime.** With the result cache on, the last `MAX_KEPT` relations stay (a click on
 *   another bar of the waterfall then lists its deals from the kept table); with it off
 *   (`server.result_cache_mb: 0`, as the pages bench runs) a table lives only while calls that
 *   asked for it are running: the board's waterfall and drill, started together, share one
 *   build, and the next page load builds it again, as the first visitor after a sync would.
 *
 * The tables live in an in-memory database attached to the instance (`cockpit_shared`), never
 * in the data file, so they are not writes: they move neither the data version nor the write
 * generation, and they vanish with the process.
 */
import type { Database } from '../db/database';
import { sql, unsafeRaw, type Sql } from '../db/sql';

/** Relations kept after their calls finish when the result cache is on. */
export const MAX_KEPT = 4;
const SCHEMA = 'cockpit_shared';

interface Entry {
  table: string;
  generation: number;
  ready: Promise<void>;
  users: number;
  lastUsed: number;
}

class SharedRelations {
  private readonly entries = new Map<string, Entry>();
  /** Entries of an older data version still being read. */
  private readonly retired = new Set<Entry>();
  private attached: Promise<void> | null = null;
  private seq = 0;
  private clock = 0;
  /** Tables built so far (for tests and the bench). */
  builds = 0;

  constructor(private readonly db: Database) {}

  private attach(): Promise<void> {
    if (!this.attached) {
      this.attached = this.db.query(`ATTACH IF NOT EXISTS ':memory:' AS ${SCHEMA}`).then(() => undefined);
      this.attached.catch(() => (this.attached = null));
    }
    return this.attached;
  }

  /**
   * Runs `fn` with the table holding `statement`'s rows (a `cockpit_shared.r_<n>` reference),
   * built now or shared with another call of the same data version. `keep`: leave it for later
   * calls (bounded by MAX_KEPT) instead of dropping it when the last reader finishes.
   */
  async use<T>(key: string, statement: Sql, keep: boolean, fn: (table: Sql) => Promise<T>): Promise<T> {
    const generation = this.db.writeGeneration;
    let e = this.entries.get(key);
    if (e && e.generation !== generation) {
      // Built before a write: never read again, dropped once its readers finish.
      this.entries.delete(key);
      if (e.users === 0) void this.drop(e);
      else this.retired.add(e);
      e = undefined;
    }
    if (!e) {
      const table = `r_${++this.seq}`;
      const entry: Entry = { table, generation, users: 0, lastUsed: 0, ready: Promise.resolve() };
      entry.ready = this.attach().then(async () => {
        await this.db.query(sql`CREATE TABLE ${unsafeRaw(`${SCHEMA}.${table}`)} AS ${statement}`);
        this.builds++;
      });
      this.entries.set(key, entry);
      entry.ready.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
      e = entry;
    }
    const entry = e;
    entry.users++;
    entry.lastUsed = ++this.clock;
    try {
      await entry.ready;
      return await fn(unsafeRaw(`${SCHEMA}.${entry.table}`));
    } finally {
      entry.users--;
      this.settle(keep);
    }
  }

  /** Drops what no call reads and nothing should keep: stale or (cache off) finished relations, the least recently used beyond MAX_KEPT. */
  private settle(keep: boolean) {
    const generation = this.db.writeGeneration;
    const idle = [...this.entries].filter(([, e]) => e.users === 0);
    const kept = keep ? idle.filter(([, e]) => e.generation === generation).sort((a, b) => b[1].lastUsed - a[1].lastUsed).slice(0, MAX_KEPT) : [];
    for (const [key, e] of idle) {
      if (kept.some(([k]) => k === key)) continue;
      this.entries.delete(key);
      void this.drop(e);
    }
    for (const e of this.retired) {
      if (e.users > 0) continue;
      this.retired.delete(e);
      void this.drop(e);
    }
  }

  private async drop(e: Entry) {
    try {
      await e.ready;
    } catch {
      return; // never built
    }
    await this.db.query(`DROP TABLE IF EXISTS ${SCHEMA}.${e.table}`).catch(() => undefined);
  }

  /** How many tables exist now (built or being built). */
  get size(): number {
    return this.entries.size;
  }
}

const byDb = new WeakMap<Database, SharedRelations>();

/** The shared relations of a database (one set per open instance). */
export function sharedRelations(db: Database): SharedRelations {
  let s = byDb.get(db);
  if (!s) byDb.set(db, (s = new SharedRelations(db)));
  return s;
}
