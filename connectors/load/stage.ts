/**
 * Staging: clean rows go into the writer connection's temp tables through DuckDB appenders (all
 * text, cast on upsert), before the sync's write transaction (committed temp tables are scanned
 * on every core); no other connection sees them, and a failed sync drops them (sync.ts), so
 * nothing of it survives.
 */
import { BIGINT, BOOLEAN, DuckDBDataChunk, INTEGER, VARCHAR, type DuckDBAppender, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import type { WriteTx } from '../../src/lib/server/db/database';
import { TABLES, type EntityName } from '../../src/lib/schema/tables';
import type { CleanRow, Rejection, RowResult } from '../pipeline/pipeline';
import { nameKey, phoneKey, toText } from '../pipeline/values';

export const STAGED: EntityName[] = ['teams', 'users', 'customers', 'opportunities', 'payments', 'activities', 'targets'];

/** Canonical columns of an entity (staged as text, in this order). */
export function columnsOf(entity: EntityName): string[] {
  return TABLES[entity].columns.map((c) => c.name);
}

/** Extra staging columns per entity. */
const EXTRA: Partial<Record<EntityName, string[]>> = {
  customers: ['_name_key', '_phone_key', '_orig_id'],
  opportunities: ['_entered']
};

export function stagingColumns(entity: EntityName): string[] {
  return [...columnsOf(entity), ...(EXTRA[entity] ?? [])];
}

export const stgName = (e: EntityName) => `stg_${e}`;

export async function createStaging(tx: WriteTx): Promise<void> {
  for (const e of STAGED) {
    const cols = stagingColumns(e)
      .map((c) => `"${c}" VARCHAR`)
      .join(', ');
    await tx.run(`CREATE OR REPLACE TEMP TABLE ${stgName(e)} (_src INTEGER, _seq BIGINT, _row BIGINT, _ref BOOLEAN, ${cols})`);
  }
  await tx.run(`CREATE OR REPLACE TEMP TABLE stg_stage_dates (_src INTEGER, _seq BIGINT, opportunity_id VARCHAR, stage VARCHAR, entered_at VARCHAR)`);
  await tx.run(
    `CREATE OR REPLACE TEMP TABLE stg_rejected (_src INTEGER, file VARCHAR, row_number BIGINT, field VARCHAR, value VARCHAR, reason VARCHAR, raw VARCHAR, sheet VARCHAR, column_name VARCHAR, reason_code VARCHAR, reason_params VARCHAR)`
  );
}

export async function dropStaging(tx: WriteTx): Promise<void> {
  for (const e of STAGED) await tx.run(`DROP TABLE IF EXISTS temp.${stgName(e)}`);
  await tx.run(`DROP TABLE IF EXISTS temp.stg_stage_dates`);
  await tx.run(`DROP TABLE IF EXISTS temp.stg_rejected`);
}

const text = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : toText(v);

const CHUNK = 2048;

/**
 * An appender fed whole data chunks (2,048 rows, column by column): far fewer native calls
 * than one call per value. A subclass may fill `cols` itself and call `rowDone()` (the xlsx
 * SQL path's raw cells, connectors/load/xlsx-sql.ts); `flushEachChunk: false` leaves DuckDB's
 * own flush to close().
 */
export class ChunkAppender {
  protected cols: DuckDBValue[][];
  private n = 0;
  constructor(
    private readonly appender: DuckDBAppender,
    private readonly types: DuckDBType[],
    private readonly flushEachChunk = true
  ) {
    this.cols = types.map(() => []);
  }
  row(values: DuckDBValue[]) {
    for (let i = 0; i < values.length; i++) this.cols[i].push(values[i]);
    this.rowDone();
  }
  /** Counts a row whose values are in `cols`; a full chunk is appended. */
  protected rowDone() {
    if (++this.n === CHUNK) this.flush();
  }
  flush() {
    if (this.n === 0) return;
    const chunk = DuckDBDataChunk.create(this.types, this.n);
    for (let i = 0; i < this.types.length; i++) chunk.setColumnValues(i, this.cols[i]);
    this.appender.appendDataChunk(chunk);
    if (this.flushEachChunk) this.appender.flushSync();
    this.cols = this.types.map(() => []);
    this.n = 0;
  }
  close() {
    this.appender.closeSync();
  }
}

const HEAD_TYPES = [INTEGER, BIGINT, BIGINT, BOOLEAN];

/** Appenders for every staging table, with a global sequence (later rows win). */
export class Stager {
  private seq = 0;
  private readonly appenders = new Map<string, ChunkAppender>();
  private constructor() {}

  static async open(tx: WriteTx): Promise<Stager> {
    const s = new Stager();
    for (const e of STAGED) {
      const types = [...HEAD_TYPES, ...stagingColumns(e).map(() => VARCHAR)];
      s.appenders.set(e, new ChunkAppender(await tx.connection.createAppender(stgName(e), 'main', 'temp'), types));
    }
    s.appenders.set('dates', new ChunkAppender(await tx.connection.createAppender('stg_stage_dates', 'main', 'temp'), [INTEGER, BIGINT, VARCHAR, VARCHAR, VARCHAR]));
    s.appenders.set('rejected', new ChunkAppender(await tx.connection.createAppender('stg_rejected', 'main', 'temp'), [INTEGER, VARCHAR, BIGINT, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR, VARCHAR]));
    return s;
  }

  /**
   * Reserves `n` sequence numbers (rows staged by SQL take them): returns the one before the
   * first. Rows added with `add(…, base)` take `base + 1` … `base + 3`.
   */
  reserve(n: number): number {
    const base = this.seq;
    this.seq += n;
    return base;
  }

  private row(entity: EntityName, src: number, row: number, ref: boolean, values: CleanRow, extra: Record<string, unknown> = {}, at?: number): number {
    const seq = at ?? ++this.seq;
    const out: DuckDBValue[] = [src, BigInt(seq), BigInt(row), ref];
    for (const c of columnsOf(entity)) out.push(text(values[c]));
    for (const c of EXTRA[entity] ?? []) out.push(text(extra[c]));
    this.appenders.get(entity)!.row(out);
    return seq;
  }

  private customerExtra(v: CleanRow) {
    return {
      _name_key: v.name != null ? nameKey(String(v.name)) : null,
      _phone_key: v.phone != null ? phoneKey(String(v.phone)) || null : null,
      _orig_id: v.customer_id
    };
  }

  /** Stages a row and its related rows; `base` (from `reserve`) places them at base + 1 … base + 3. */
  add(entity: EntityName, src: number, r: RowResult, base?: number): void {
    r.refs.forEach((ref, k) => {
      this.row(ref.entity, src, r.row, true, ref.row, ref.entity === 'customers' ? this.customerExtra(ref.row) : {}, base === undefined ? undefined : base + 1 + k);
    });
    const extra = entity === 'customers' ? this.customerExtra(r.main) : entity === 'opportunities' ? { _entered: r.enteredCurrent } : {};
    const seq = this.row(entity, src, r.row, false, r.main, extra, base === undefined ? undefined : base + 3);
    if (r.stageDates.length) {
      const a = this.appenders.get('dates')!;
      for (const d of r.stageDates) a.row([src, BigInt(seq), text(r.main.opportunity_id), d.stage, d.at]);
    }
  }

  reject(src: number, file: string, r: Rejection): void {
    this.appenders.get('rejected')!.row([
      src,
      file,
      BigInt(r.row),
      r.field,
      r.value,
      r.reason,
      JSON.stringify(r.raw, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
      r.sheet ?? null,
      r.column,
      r.code ?? null,
      r.params ? JSON.stringify(r.params) : null
    ]);
  }

  /** Flushes every appender so the rows are visible to queries in the transaction. */
  flush(): void {
    for (const a of this.appenders.values()) a.flush();
  }

  close(): void {
    for (const a of this.appenders.values()) {
      try {
        a.close();
      } catch {
        // already closed
      }
    }
    this.appenders.clear();
  }
}
