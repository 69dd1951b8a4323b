/**
 * DuckDB values → JSON-friendly JS values: integers and decimals as numbers (counts and
 * money stay far below 2^53), dates as `YYYY-MM-DD`, timestamps as `YYYY-MM-DDTHH:MM:SS`,
 * JSON columns parsed, lists and structs recursively.
 */
import {
  createDuckDBValueConverter,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
  doubleFromDecimalValue,
  numberFromValue,
  stringFromValue,
  type DuckDBResultReader,
  type DuckDBValueConverter
} from '@duckdb/node-api';

const bigToNumber: DuckDBValueConverter<unknown> = (v) => Number(v as bigint);
const timestamp: DuckDBValueConverter<unknown> = (v) => stringFromValue(v).replace(' ', 'T');

const converters = {} as Record<DuckDBTypeId, DuckDBValueConverter<unknown> | undefined>;
for (const id of Object.values(DuckDBTypeId).filter((x): x is DuckDBTypeId => typeof x === 'number')) {
  converters[id] = (v, t, c) => JsonDuckDBValueConverter(v, t, c as never);
}
converters[DuckDBTypeId.BIGINT] = bigToNumber;
converters[DuckDBTypeId.UBIGINT] = bigToNumber;
converters[DuckDBTypeId.HUGEINT] = bigToNumber;
converters[DuckDBTypeId.UHUGEINT] = bigToNumber;
converters[DuckDBTypeId.DECIMAL] = (v) => doubleFromDecimalValue(v);
converters[DuckDBTypeId.INTEGER] = (v) => numberFromValue(v);
converters[DuckDBTypeId.TIMESTAMP] = timestamp;
converters[DuckDBTypeId.TIMESTAMP_S] = timestamp;
converters[DuckDBTypeId.TIMESTAMP_MS] = timestamp;
converters[DuckDBTypeId.TIMESTAMP_NS] = timestamp;
converters[DuckDBTypeId.DOUBLE] = (v) => (Number.isFinite(v as number) ? v : null);
converters[DuckDBTypeId.FLOAT] = (v) => (Number.isFinite(v as number) ? v : null);

/** The converter used for every JSON result of the API and CLI. */
export const jsonValueConverter = createDuckDBValueConverter<unknown>(converters);

export function toJsonRows(reader: DuckDBResultReader): Record<string, unknown>[] {
  const rows = reader.convertRowObjects(jsonValueConverter) as Record<string, unknown>[];
  // JSON columns arrive as text (the converter sees only the VARCHAR type, not its alias).
  const jsonCols = reader.columnNames().filter((_, i) => reader.columnType(i).alias === 'JSON');
  if (jsonCols.length) {
    for (const row of rows) {
      for (const c of jsonCols) {
        const v = row[c];
        if (typeof v === 'string') {
          try {
            row[c] = JSON.parse(v);
          } catch {
            // not valid JSON: leave the text as it is
          }
        }
      }
    }
  }
  return rows;
}
