/**
 * Staging: clean rows go into temp tables through DuckDB appenders (all text, cast on
 * upsert), inside the sync's write transaction, so nothing of a failed sync survives.
 */
import type { DuckDBAppender } from '@duckdb/node-api';
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
    `CREATE OR REPLACE TEMP TABLE stg_rejected (_src INTEGER, file VARCHAR, row_number BIGINT, field VARCHAR, value VARCHAR, reason VARCHAR, raw VARCHAR)`
  );
}

export async function dropStaging(tx: WriteTx): Promise<void> {
  for (const e of STAGED) await tx.run(`DROP TABLE IF EXISTS temp.${stgName(e)}`);
  await tx.run(`DROP TABLE IF EXISTS temp.stg_stage_dates`);
  await tx.run(`DROP TABLE IF EXISTS temp.stg_rejected`);
}

function put(a: DuckDBAppender, v: unknown) {
  if (v === null || v === undefined) a.appendNull();
  else a.appendVarchar(typeof v === 'string' ? v : typeof v === 'number' ? String(v) : toText(v));
}

/** Appenders for every staging table, with a global sequence (later rows win). */
export class Stager {
  private seq = 0;
  private readonly appenders = new Map<string, DuckDBAppender>();
  private constructor(private readonly tx: WriteTx) {}

  static async open(tx: WriteTx): Promise<Stager> {
    const s = new Stager(tx);
    for (const e of STAGED) s.appenders.set(e, await tx.connection.createAppender(stgName(e), 'main', 'temp'));
    s.appenders.set('dates', await tx.connection.createAppender('stg_stage_dates', 'main', 'temp'));
    s.appenders.set('rejected', await tx.connection.createAppender('stg_rejected', 'main', 'temp'));
    return s;
  }

  private row(entity: EntityName, src: number, row: number, ref: boolean, values: CleanRow, extra: Record<string, unknown> = {}): number {
    const a = this.appenders.get(entity)!;
    const seq = ++this.seq;
    a.appendInteger(src);
    a.appendBigInt(BigInt(seq));
    a.appendBigInt(BigInt(row));
    a.appendBoolean(ref);
    for (const c of columnsOf(entity)) put(a, values[c]);
    for (const c of EXTRA[entity] ?? []) put(a, extra[c]);
    a.endRow();
    return seq;
  }

  private customerExtra(v: CleanRow) {
    return {
      _name_key: v.name != null ? nameKey(String(v.name)) : null,
      _phone_key: v.phone != null ? phoneKey(String(v.phone)) || null : null,
      _orig_id: v.customer_id
    };
  }

  add(entity: EntityName, src: number, r: RowResult): void {
    for (const ref of r.refs) {
      this.row(ref.entity, src, r.row, true, ref.row, ref.entity === 'customers' ? this.customerExtra(ref.row) : {});
    }
    const extra = entity === 'customers' ? this.customerExtra(r.main) : entity === 'opportunities' ? { _entered: r.enteredCurrent } : {};
    const seq = this.row(entity, src, r.row, false, r.main, extra);
    if (r.stageDates.length) {
      const a = this.appenders.get('dates')!;
      for (const d of r.stageDates) {
        a.appendInteger(src);
        a.appendBigInt(BigInt(seq));
        put(a, r.main.opportunity_id);
        put(a, d.stage);
        put(a, d.at);
        a.endRow();
      }
    }
  }

  reject(src: number, file: string, r: Rejection): void {
    const a = this.appenders.get('rejected')!;
    a.appendInteger(src);
    put(a, file);
    a.appendBigInt(BigInt(r.row));
    put(a, r.field);
    put(a, r.value);
    put(a, r.reason);
    put(a, JSON.stringify(r.raw, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    a.endRow();
  }

  /** Flushes every appender so the rows are visible to queries in the transaction. */
  flush(): void {
    for (const a of this.appenders.values()) a.flushSync();
  }

  close(): void {
    for (const a of this.appenders.values()) {
      try {
        a.closeSync();
      } catch {
        // already closed
      }
    }
    this.appenders.clear();
  }
}
