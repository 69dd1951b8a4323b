/**
 * Arrow IPC output. @duckdb/node-api has no Arrow export, so results are built into Arrow
 * vectors here, one typed vector per column, from the same rows the JSON API returns (after
 * a model's `finalize`), so both formats always carry identical data.
 */
import {
  Bool,
  DateDay,
  Float64,
  Int32,
  Int64,
  Table,
  TimestampMillisecond,
  Utf8,
  tableToIPC,
  vectorFromArray,
  type DataType,
  type Vector
} from 'apache-arrow';
import type { ColumnInfo } from './database';

export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

/** Arrow type for a DuckDB type name (`DECIMAL(18,2)`, `BIGINT`, `DATE`, …). */
export function arrowTypeFor(duckdbType: string): DataType {
  const t = duckdbType.toUpperCase();
  if (t === 'BOOLEAN') return new Bool();
  if (['TINYINT', 'SMALLINT', 'INTEGER', 'UTINYINT', 'USMALLINT'].includes(t)) return new Int32();
  if (['BIGINT', 'HUGEINT', 'UINTEGER', 'UBIGINT'].includes(t)) return new Int64();
  if (t === 'DOUBLE' || t === 'FLOAT' || t.startsWith('DECIMAL')) return new Float64();
  if (t === 'DATE') return new DateDay();
  if (t.startsWith('TIMESTAMP')) return new TimestampMillisecond();
  return new Utf8();
}

function toArrowValue(type: DataType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type instanceof Int64) return BigInt(Math.trunc(Number(v)));
  if (type instanceof Int32 || type instanceof Float64) return Number(v);
  if (type instanceof DateDay) return new Date(`${String(v).slice(0, 10)}T00:00:00Z`);
  if (type instanceof TimestampMillisecond) return new Date(`${String(v).replace(' ', 'T')}Z`);
  if (type instanceof Bool) return Boolean(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Builds an Arrow table from typed columns and JSON rows; `metadata` goes into the schema. */
export function rowsToArrowTable(
  columns: ColumnInfo[],
  rows: Record<string, unknown>[],
  metadata: Record<string, string> = {}
): Table {
  const vectors: Record<string, Vector> = {};
  for (const col of columns) {
    const type = arrowTypeFor(col.type);
    vectors[col.name] = vectorFromArray(
      rows.map((r) => toArrowValue(type, r[col.name])),
      type
    );
  }
  const table = new Table(vectors);
  for (const [k, v] of Object.entries(metadata)) table.schema.metadata.set(k, v);
  return table;
}

/** Serialises as an Arrow IPC stream. */
export function toArrowIPC(table: Table): Uint8Array {
  return tableToIPC(table, 'stream');
}
