/**
 * CSV fields prepared in SQL for DuckDB's own CSV writer (`COPY … TO` into a pipe,
 * ./pipe.ts), so a million-row export costs what COPY costs plus moving the bytes. The text is
 * the same as ./cells.ts writes (the tests compare the two):
 * - null → empty field; text and JSON escaped against formula injection (a leading `=`, `+`,
 *   `-`, `@`, tab or carriage return gets a `'`), then quoted by the writer (RFC 4180) when it
 *   holds a comma, a quote, a line break or `#`;
 * - numbers (integers, decimals, doubles) as JavaScript prints them: integral values without a
 *   decimal point, non-finite values empty; booleans `true`/`false`;
 * - dates `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS` (the API's form);
 * - a list of text or numbers (a deal's risk flags) as its items joined by `; ` (empty for
 *   none), which reads in a spreadsheet; other nested values as JSON.
 * Every line ends with CRLF (what Excel writes). An earlier version built whole lines in SQL
 * (one string per row to JavaScript): 3× COPY's CPU before any JS (docs/decisions.md, "Exports:
 * DuckDB writes the text").
 */
import type { ColumnInfo } from '../db/database';
import { join, sql, unsafeRaw, type Sql } from '../db/sql';

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const FRACTIONAL = /^(DOUBLE|FLOAT|REAL|DECIMAL\(\d+,\d+\))$/;

/** A quoted identifier for a column name taken from DuckDB's own result. */
function col(name: string): Sql {
  return unsafeRaw(`"${name.replace(/"/g, '""')}"`);
}

/** Text made safe for a spreadsheet, unquoted (DuckDB's CSV writer quotes); '' becomes NULL. */
function safeText(s: Sql): Sql {
  return sql`(CASE WHEN ${s} = '' THEN NULL WHEN left(${s}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ${s} ELSE ${s} END)`;
}

/**
 * One column's value for DuckDB's own CSV writer (`COPY … TO` with CSV_COPY_OPTIONS), which
 * then quotes a field holding a comma, a
 * quote, a line break or `#` (cells.ts quotes `#` too) and writes NULL as an empty field, so
 * empty text is sent as NULL (the writer would write ""). Integers, booleans and dates are left
 * to the writer, which prints them as JavaScript does.
 */
export function csvCopyFieldSql(c: ColumnInfo): Sql {
  const v = col(c.name);
  const t = c.type;
  if (INTEGER.test(t) || t === 'BOOLEAN' || t === 'DATE') return v;
  if (t.startsWith('TIMESTAMP') && !t.includes('TIME ZONE')) return sql`replace(${v}::VARCHAR, ' ', 'T')`;
  if (FRACTIONAL.test(t)) {
    const x = sql`${v}::DOUBLE`;
    return sql`(CASE WHEN NOT isfinite(${x}) THEN NULL WHEN ${x} = trunc(${x}) AND abs(${x}) < 1e15 THEN ${x}::BIGINT::VARCHAR ELSE ${x}::VARCHAR END)`;
  }
  if (t === 'VARCHAR') return safeText(v);
  if (/^(VARCHAR|INTEGER|BIGINT|DOUBLE)\[\]$/.test(t)) return sql`(CASE WHEN len(${v}) = 0 THEN NULL ELSE ${safeText(sql`array_to_string(${v}, '; ')`)} END)`;
  return safeText(sql`to_json(${v})::VARCHAR`);
}

/** The select list for `COPY … TO` with CSV_COPY_OPTIONS: one field per column, named c0, c1, … (so an ORDER BY beside it still sorts by the row's own columns). */
export function csvCopyFields(columns: ColumnInfo[]): Sql {
  return join(
    columns.map((c, i) => sql`${csvCopyFieldSql(c)} AS ${unsafeRaw(`c${i}`)}`),
    ', '
  );
}

/** DuckDB CSV writer options giving cells.ts's text: RFC 4180 quoting, CRLF, no header (the route writes the translated one). */
export const CSV_COPY_OPTIONS = `FORMAT csv, HEADER false, DELIMITER ',', QUOTE '"', ESCAPE '"', NEW_LINE '\\r\\n'`;
