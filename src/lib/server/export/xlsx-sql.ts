/**
 * XLSX rows formatted by DuckDB: one `<row>` of SpreadsheetML per result row, computed
 * column-wise in SQL and written by COPY into a pipe (pipe.ts), so a million-row workbook
 * costs DuckDB's text plus deflate, with no cell object in JavaScript (xlsx-zip.ts zips it).
 *
 * Cells as the exceljs export writes them (export.ts `xlsxCell`): numbers as numbers (non-finite
 * ones empty), booleans as booleans, dates and timestamps as Excel serial dates with a date
 * format (naive local times kept as they are), text and lists (`; `-joined) as inline strings
 * escaped against formula injection (cells.ts) and for XML (`& < >`; control characters XML
 * cannot carry are dropped; line breaks as `&#10;`). Cells carry no references, so a null is
 * an empty `<c/>` holding its column's place. Cell references are optional in SpreadsheetML (a row's cells are then its columns in
 * order; Excel, LibreOffice and this project's reader take them so), but exceljs's reader
 * needs them — so this path is opt-in (`COCKPIT_EXPORT_XLSX=sql`, docs/decisions.md, 7 Dec).
 */
import type { ColumnInfo } from '../db/database';
import { join, sql, unsafeRaw, type Sql } from '../db/sql';

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const FRACTIONAL = /^(DOUBLE|FLOAT|REAL|DECIMAL\(\d+,\d+\))$/;

/** Style indexes of xlsx-zip.ts's styles.xml. */
export const XLSX_STYLE = { date: 1, timestamp: 2, header: 3 } as const;

function col(name: string): Sql {
  return unsafeRaw(`"${name.replace(/"/g, '""')}"`);
}

/** An inline-string cell of non-null text: formula-escaped, XML-escaped; NULL for ''. */
function textCell(s: Sql): Sql {
  const safe = sql`(CASE WHEN left(${s}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ${s} ELSE ${s} END)`;
  // Line breaks as character references: COPY writes one row per line (xlsx-zip.ts numbers them).
  const xml = sql`(CASE WHEN regexp_matches(${safe}, '[&<>\\x00-\\x1F]')
      THEN regexp_replace(replace(replace(replace(replace(replace(${safe}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), chr(10), '&#10;'), chr(13), '&#13;'),
                          '[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]', '', 'g')
      ELSE ${safe} END)`;
  return sql`(CASE WHEN ${s} <> '' THEN '<c t="inlineStr"><is><t xml:space="preserve">' || ${xml} || '</t></is></c>' END)`;
}

/** One column's cell as a VARCHAR expression; NULL where the value is null. */
export function xlsxCellSql(c: ColumnInfo): Sql {
  const v = col(c.name);
  const t = c.type;
  if (INTEGER.test(t)) return sql`'<c><v>' || ${v}::VARCHAR || '</v></c>'`;
  if (FRACTIONAL.test(t)) return sql`(CASE WHEN isfinite(${v}::DOUBLE) THEN '<c><v>' || ${v}::DOUBLE::VARCHAR || '</v></c>' END)`;
  if (t === 'BOOLEAN') return sql`'<c t="b"><v>' || ${v}::INTEGER::VARCHAR || '</v></c>'`;
  if (t === 'DATE') return sql`'<c s="${unsafeRaw(String(XLSX_STYLE.date))}"><v>' || date_diff('day', DATE '1899-12-30', ${v})::VARCHAR || '</v></c>'`;
  if (t.startsWith('TIMESTAMP') && !t.includes('TIME ZONE')) {
    return sql`'<c s="${unsafeRaw(String(XLSX_STYLE.timestamp))}"><v>' || ((epoch_us(${v}::TIMESTAMP) - epoch_us(TIMESTAMP '1899-12-30')) / 86400000000.0)::VARCHAR || '</v></c>'`;
  }
  if (t === 'VARCHAR') return textCell(v);
  if (/^(VARCHAR|INTEGER|BIGINT|DOUBLE)\[\]$/.test(t)) return textCell(sql`array_to_string(${v}, '; ')`);
  return textCell(sql`to_json(${v})::VARCHAR`);
}

/**
 * The select list for `COPY … TO` with XLSX_COPY_OPTIONS: a row's cells and `</row>`, one row
 * per line, named `xml_row`; xlsx-zip.ts opens each line with `<row r="N">` (its number in
 * the sheet, which readers such as exceljs insist on, and which a sort cannot give cheaply).
 */
export function xlsxRowField(columns: ColumnInfo[]): Sql {
  return sql`concat(${join(columns.map((c) => sql`coalesce(${xlsxCellSql(c)}, '<c/>')`), ', ')}, '</row>') AS xml_row`;
}

/** COPY writes each row's text as it is (no quoting: the text is XML), one per line. */
export const XLSX_COPY_OPTIONS = `FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '|'`;
