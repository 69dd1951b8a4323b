/**
 * The DuckDB service: one database file, one instance per process.
 *
 * - Reads go through a small pool of connections. DuckDB is MVCC, so a query sees the last
 *   committed state and never waits for a sync in progress. (A model's `ensureFacts` does wait
 *   for the derived tables' rebuild that follows a sync's commit: warehouse/facts.ts.)
 * - Writes go through one writer connection, one transaction at a time (`write`, with an
 *   optional `prepare` step on the writer's temp tables first): a sync lands all of its rows or
 *   none, and a query sees the old data or the new, never half.
 * - Results come back as JSON-friendly rows or as an Arrow IPC stream (see arrow.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  BOOLEAN,
  DOUBLE,
  DuckDBConnection,
  DuckDBInstance,
  DuckDBTypeId,
  LIST,
  SQLNULL,
  VARCHAR,
  BIGINT,
  listValue,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  type DuckDBType,
  type DuckDBValue
} from '@duckdb/node-api';
import { jsonValueConverter, toJsonRows } from './convert';
import { LATEST_VERSION, MIGRATIONS } from './migrations';
import { compile, Sql, type SqlValue } from './sql';

/** `COCKPIT_TRACE_DB=1`: every read query's wait for a connection and run time on stderr. */
const TRACE = !!process.env.COCKPIT_TRACE_DB;

export type Row = Record<string, unknown>;

export interface ColumnInfo {
  name: string;
  /** DuckDB type as text, e.g. `DECIMAL(18,2)`. */
  type: string;
}

export interface QueryResult<R = Row> {
  columns: ColumnInfo[];
  rows: R[];
}

export interface WriteTx {
  /** Runs a statement inside the transaction. */
  run(query: Sql | string): Promise<void>;
  /** Runs a query inside the transaction and returns its rows. */
  query<R = Row>(query: Sql | string): Promise<QueryResult<R>>;
  /** The writer connection, for appenders; do not commit or roll back on it. */
  connection: DuckDBConnection;
}

export function bindTypes(params: SqlValue[]): { values: DuckDBValue[]; types: DuckDBType[] } {
  const values: DuckDBValue[] = [];
  const types: DuckDBType[] = [];
  for (const p of params) {
    if (p === null) {
      values.push(null);
      types.push(SQLNULL);
    } else if (Array.isArray(p)) {
      const numeric = p.length > 0 && typeof p[0] === 'number';
      values.push(listValue([...p] as DuckDBValue[]));
      types.push(LIST(numeric ? DOUBLE : VARCHAR));
    } else if (typeof p === 'string') {
      values.push(p);
      types.push(VARCHAR);
    } else if (typeof p === 'number') {
      values.push(p);
      types.push(DOUBLE);
    } else if (typeof p === 'bigint') {
      values.push(p);
      types.push(BIGINT);
    } else if (typeof p === 'boolean') {
      values.push(p);
      types.push(BOOLEAN);
    } else {
      throw new Error(`cannot bind a value of type ${typeof p}`);
    }
  }
  return { values, types };
}

async function runOn(conn: DuckDBConnection, query: Sql | string): Promise<DuckDBResultReader> {
  if (typeof query === 'string') return conn.runAndReadAll(query);
  const { text, params } = compile(query);
  if (params.length === 0) return conn.runAndReadAll(text);
  const { values, types } = bindTypes(params);
  return conn.runAndReadAll(text, values, types);
}

/**
 * Prepared statements kept per reader connection, by statement text, most recently used last.
 * A model's statement text depends only on the model and the shape of its parameters (values
 * are bound), so a board's repeated tiles skip DuckDB's parse and plan: at 1M deals that was
 * most of the small aggregates' time beside their hand-written SQL (issue 15.2,
 * docs/decisions.md). A statement is used by one query at a time (its connection is), DuckDB
 * rebinds it by itself when the tables it reads change, and one that fails is dropped and the
 * query prepared afresh, so a kept statement never changes an answer.
 */
const PREPARED_PER_CONNECTION = 64;
const preparedBy = new WeakMap<DuckDBConnection, Map<string, DuckDBPreparedStatement>>();

async function runPrepared(conn: DuckDBConnection, query: Sql): Promise<DuckDBResultReader> {
  const { text, params } = compile(query);
  const { values, types } = bindTypes(params);
  let kept = preparedBy.get(conn);
  if (!kept) preparedBy.set(conn, (kept = new Map()));
  let stmt = kept.get(text);
  if (stmt) {
    kept.delete(text);
    try {
      stmt.clearBindings();
      if (params.length) stmt.bind(values, types);
      const reader = await stmt.runAndReadAll();
      kept.set(text, stmt);
      return reader;
    } catch (e) {
      stmt.destroySync();
      // An interrupted query is not run again; any other failure (a table it read replaced by
      // one of other types) is retried prepared afresh, where a real error surfaces as usual.
      if (/interrupt/i.test(e instanceof Error ? e.message : String(e))) throw e;
    }
  }
  stmt = await conn.prepare(text);
  try {
    if (params.length) stmt.bind(values, types);
    const reader = await stmt.runAndReadAll();
    kept.set(text, stmt);
    if (kept.size > PREPARED_PER_CONNECTION) {
      const [oldest, s] = kept.entries().next().value!;
      kept.delete(oldest);
      s.destroySync();
    }
    return reader;
  } catch (e) {
    stmt.destroySync();
    throw e;
  }
}

function columnsOf(reader: DuckDBResultReader): ColumnInfo[] {
  return reader.columnNames().map((name, i) => {
    const t = reader.columnType(i);
    return { name, type: t.typeId === DuckDBTypeId.VARCHAR && t.alias === 'JSON' ? 'JSON' : String(t) };
  });
}

/** A tiny FIFO mutex, so only one write transaction runs at a time. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.then(
      () => undefined,
      () => undefined
    );
    return run;
  }
}

export class Database {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiting: ((c: DuckDBConnection) => void)[] = [];
  private readonly waitingFirst: ((c: DuckDBConnection) => void)[] = [];
  /** The priority lane's own connection (opened on first need), when idle. */
  private spare: DuckDBConnection | null = null;
  private spareOpened = false;
  private opening = 0;
  private readonly all: DuckDBConnection[] = [];
  private readonly writeLock = new Mutex();
  private closed = false;
  private writes = 0;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly maxReaders: number
  ) {}

  /** Opens (creating if needed) a database file and migrates it to the latest schema. */
  static async open(path: string, options: { readers?: number } = {}): Promise<Database> {
    const file = path === ':memory:' ? path : resolve(path);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(file);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/lock/i.test(msg)) {
        throw new Error(
          `database ${file} is in use by another process (${msg.split('\n')[0]}). ` +
            `Stop the running server, or send the command to it instead.`
        );
      }
      throw new Error(`cannot open database ${file}: ${msg}`);
    }
    const writer = await instance.connect();
    // Bookkeeping timestamps (sync runs) are UTC; CRM timestamps are naive business-local
    // times and unaffected by this setting.
    await writer.run(`SET GLOBAL TimeZone = 'UTC'`);
    const db = new Database(file, instance, writer, options.readers ?? 4);
    await db.migrate();
    return db;
  }

  /**
   * Applies every migration not yet applied, in version order, each in its own transaction.
   * Tracked per version (not "newer than the highest"), so migrations merged from parallel
   * branches with lower numbers still run on a database that already has higher ones.
   */
  async migrate(target: number = LATEST_VERSION): Promise<number[]> {
    const applied: number[] = [];
    await this.writeLock.lock(async () => {
      this.writes++;
      await this.writer.run(
        `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)`
      );
      const r = await this.writer.runAndReadAll(`SELECT version FROM schema_migrations`);
      const done = new Set(r.getRowObjectsJS().map((x) => x.version as number));
      const newest = Math.max(0, ...done);
      if (newest > LATEST_VERSION) {
        throw new Error(
          `database ${this.path} has schema version ${newest}, newer than this program's ${LATEST_VERSION}; upgrade crm-cockpit`
        );
      }
      for (const m of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version) || m.version > target) continue;
        await this.writer.run('BEGIN TRANSACTION');
        try {
          for (const st of m.statements) await this.writer.run(st);
          await this.writer.run(`INSERT INTO schema_migrations VALUES (${m.version}, '${m.name.replace(/'/g, "''")}', now()::TIMESTAMP)`);
          await this.writer.run('COMMIT');
          applied.push(m.version);
        } catch (e) {
          await this.writer.run('ROLLBACK');
          throw new Error(`migration ${m.version} (${m.name}) failed: ${e instanceof Error ? e.message : e}`);
        }
      }
    });
    return applied;
  }

  /**
   * Counts the write transactions (and migrations) this instance has run, committed or not.
   * DuckDB lets one process at a time open a file for writing, so while this instance is open
   * every change goes through it: an unchanged generation means unchanged data, which lets
   * callers cache checks in memory (warehouse/facts.ts, `ensureFacts`).
   */
  get writeGeneration(): number {
    return this.writes;
  }

  /**
   * Increases with every committed write transaction (persisted in `meta.data_version`), so
   * derived tables (warehouse/facts.ts) know when they are stale, across processes too.
   */
  async dataVersion(): Promise<number> {
    const r = await this.query<{ v: number | null }>(`SELECT (SELECT value FROM meta WHERE key = 'data_version')::BIGINT AS v`, { priority: true });
    return r.rows[0].v ?? 0;
  }

  /**
   * A reader connection. Waiters are served first come, first served, except `priority` ones
   * (small queries a page's first byte waits for: the filter options, the layout's data
   * version), which go ahead of every ordinary waiter and may open one connection beyond the
   * pool, kept for them: a board's tiles fill the pool with queries of seconds at 1M deals,
   * and the frame must not wait behind them (issue 15, part 3; docs/decisions.md).
   */
  private async acquire(priority = false): Promise<DuckDBConnection> {
    if (this.closed) throw new Error('database is closed');
    if (priority && this.spare) {
      const c = this.spare;
      this.spare = null;
      return c;
    }
    const conn = this.idle.pop();
    if (conn) return conn;
    // Counted before the await: a burst of calls (a board's tiles all at once) used to see the
    // pool not yet full and each open a connection, so every query ran at once.
    if (this.all.length + this.opening < this.maxReaders) {
      this.opening++;
      let c: DuckDBConnection;
      try {
        c = await this.instance.connect();
      } finally {
        this.opening--;
      }
      this.all.push(c);
      return c;
    }
    if (priority && !this.spareOpened) {
      this.spareOpened = true;
      return await this.instance.connect();
    }
    return new Promise((res) => (priority ? this.waitingFirst : this.waiting).push(res));
  }

  private release(conn: DuckDBConnection, priority = false) {
    // The connection opened beyond the pool goes back to the priority lane.
    if (priority && this.spareOpened && !this.all.includes(conn)) {
      const first = this.waitingFirst.shift();
      if (first) first(conn);
      else this.spare = conn;
      return;
    }
    const next = this.waitingFirst.shift() ?? this.waiting.shift();
    if (next) next(conn);
    else this.idle.push(conn);
  }

  /**
   * Runs a read query on a pooled connection and returns JSON-friendly rows. `prepared`: keep
   * the statement prepared on the connection for the next call with the same text (one
   * statement, no DDL; see `runPrepared`).
   */
  async query<R = Row>(query: Sql | string, options: { priority?: boolean; prepared?: boolean } = {}): Promise<QueryResult<R>> {
    const priority = options.priority ?? false;
    const t0 = TRACE ? performance.now() : 0;
    const conn = await this.acquire(priority);
    const t1 = TRACE ? performance.now() : 0;
    try {
      const reader = options.prepared && typeof query !== 'string' ? await runPrepared(conn, query) : await runOn(conn, query);
      return { columns: columnsOf(reader), rows: toJsonRows(reader) as R[] };
    } finally {
      this.release(conn, priority);
      if (TRACE) {
        const text = (typeof query === 'string' ? query : compile(query).text).replace(/\s+/g, ' ');
        console.error(`[db] ${priority ? 'priority ' : ''}waited ${(t1 - t0).toFixed(0)} ms, ran ${(performance.now() - t1).toFixed(0)} ms: ${text.slice(0, 90)}`);
      }
    }
  }

  /** Runs a read query and hands the raw reader to `fn` (for Arrow and streaming exports). */
  async read<T>(query: Sql | string, fn: (reader: DuckDBResultReader) => T | Promise<T>): Promise<T> {
    const conn = await this.acquire();
    try {
      return await fn(await runOn(conn, query));
    } finally {
      this.release(conn);
    }
  }

  /**
   * Runs a statement whose output goes elsewhere (`COPY … TO`, export/pipe.ts) on a reader
   * connection; aborting `signal` interrupts it (it then rejects).
   */
  async execute(query: Sql | string, signal?: AbortSignal): Promise<void> {
    const conn = await this.acquire();
    const stop = () => conn.interrupt();
    signal?.addEventListener('abort', stop);
    try {
      if (signal?.aborted) throw new Error('aborted');
      await runOn(conn, query);
    } finally {
      signal?.removeEventListener('abort', stop);
      this.release(conn);
    }
  }

  /**
   * Streams a read query: yields its columns first, then its rows (as JSON-friendly arrays)
   * one DuckDB chunk (≤ 2,048 rows) at a time, so a million-row result never sits in memory.
   * The pooled connection stays held until the generator finishes or is closed early
   * (`return()`), e.g. when an HTTP client aborts a download.
   */
  async *stream(query: Sql | string): AsyncGenerator<ColumnInfo[] | unknown[][], void, undefined> {
    const conn = await this.acquire();
    try {
      let result;
      if (typeof query === 'string') result = await conn.stream(query);
      else {
        const { text, params } = compile(query);
        const { values, types } = bindTypes(params);
        result = params.length ? await conn.stream(text, values, types) : await conn.stream(text);
      }
      yield result.columnNames().map((name, i) => {
        const t = result.columnType(i);
        return { name, type: t.typeId === DuckDBTypeId.VARCHAR && t.alias === 'JSON' ? 'JSON' : String(t) };
      });
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const cols = chunk.convertColumns(jsonValueConverter);
        const rows: unknown[][] = new Array(chunk.rowCount);
        for (let r = 0; r < chunk.rowCount; r++) rows[r] = cols.map((c) => c[r]);
        yield rows;
      }
    } finally {
      // An abandoned streaming result must be drained or dropped before the connection is reused.
      try {
        await conn.run('SELECT 1');
      } catch {
        // the connection is still usable for the next query
      }
      this.release(conn);
    }
  }

  /**
   * Runs `fn` in one write transaction on the writer connection. Commits when it resolves,
   * rolls back when it throws (and rethrows). Concurrent calls queue; readers never wait.
   * Every write bumps `meta.data_version` unless `derived` (a rebuild of derived tables).
   * `untracked`: a write to bookkeeping no model reads (revoked sessions) moves neither the
   * data version nor `writeGeneration`, so it does not empty the caches keyed by them.
   */
  write<T>(fn: (tx: WriteTx) => Promise<T>, options: { derived?: boolean; untracked?: boolean; prepare?: (tx: WriteTx) => Promise<void> } = {}): Promise<T> {
    const counted = options.untracked ? 0 : 1;
    return this.writeLock.lock(async () => {
      if (this.closed) throw new Error('database is closed');
      this.writes += counted;
      const conn = this.writer;
      const tx: WriteTx = {
        connection: conn,
        run: async (q) => {
          await runOn(conn, q);
        },
        query: async <R = Row>(q: Sql | string) => {
          const reader = await runOn(conn, q);
          return { columns: columnsOf(reader), rows: toJsonRows(reader) as R[] };
        }
      };
      // `prepare`: under the write lock, before the transaction, each statement committing on its
      // own — for work on the writer's own temp tables (a sync's reading and staging), which
      // DuckDB scans on one thread while they are uncommitted (docs/decisions.md, "Staging
      // committed before the landing"). It must not write the database's own tables: a failure
      // here has no transaction to roll back (the caller drops its temp tables).
      if (options.prepare) {
        try {
          await options.prepare(tx);
        } catch (e) {
          this.writes += counted;
          throw e;
        }
      }
      await conn.run('BEGIN TRANSACTION');
      try {
        // First, so derived tables rebuilt inside this transaction record the new version.
        if (!options.derived && !options.untracked) {
          await conn.run(
            `INSERT INTO meta VALUES ('data_version', '1') ON CONFLICT (key) DO UPDATE SET value = (meta.value::BIGINT + 1)::VARCHAR`
          );
        }
        const result = await fn(tx);
        await conn.run('COMMIT');
        this.writes += counted;
        return result;
      } catch (e) {
        try {
          await conn.run('ROLLBACK');
        } catch {
          // The transaction may already be aborted by DuckDB; the original error matters.
        }
        this.writes += counted;
        throw e;
      }
    });
  }

  /**
   * Closes every connection and the instance. Reads still running (a server stopped under load)
   * are let finish first — interrupted after `graceMs` — because closing a connection under a
   * running query left its pending call holding the process open after the server stopped.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + graceMs;
    let interrupted = false;
    const spareBusy = () => this.spareOpened && !this.spare;
    while ((this.idle.length < this.all.length || this.waiting.length > 0 || this.waitingFirst.length > 0 || spareBusy()) && Date.now() < deadline + 5_000) {
      if (!interrupted && Date.now() > deadline) {
        for (const c of this.all) if (!this.idle.includes(c)) c.interrupt();
        interrupted = true;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.writeLock.lock(async () => {
      this.closed = true;
      await this.writer.run('CHECKPOINT').catch(() => undefined);
      for (const c of [...this.all, ...(this.spare ? [this.spare] : []), this.writer]) c.closeSync();
      this.instance.closeSync();
    });
    forget(this.path);
  }
}

const REGISTRY = Symbol.for('crm-cockpit.databases');
type Registry = Map<string, Promise<Database>>;
function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  return (g[REGISTRY] ??= new Map());
}
function forget(path: string) {
  registry().delete(path);
}

/**
 * The process-wide database for a path: opened once, shared by the CLI, the server and the
 * scheduler (the registry lives on globalThis so bundled and unbundled copies of this module
 * share it).
 */
export function openDatabase(path: string): Promise<Database> {
  const key = path === ':memory:' ? path : resolve(path);
  const reg = registry();
  let db = reg.get(key);
  if (!db || key === ':memory:') {
    db = Database.open(key);
    if (key !== ':memory:') reg.set(key, db);
    db.catch(() => reg.delete(key));
  }
  return db;
}
