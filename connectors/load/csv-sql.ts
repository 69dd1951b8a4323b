/**
 * Vectorised CSV ingest (issue 15, part 1; docs/connectors.md, "The SQL path for CSV files").
 *
 * A UTF-8 CSV file of deals is read raw by DuckDB's `read_csv` (every cell VARCHAR, the header
 * and the rows above it skipped as our own header detection decides) into a temp table, and
 * mapping, cleaning, unit and date parsing and validation run as SQL over whole columns:
 *
 * - the common value forms (plain text, `12000`/`-3.5` amounts times the column's unit,
 *   `2024-03-05[ 10:00:00]` dates) by DuckDB macros (`vc_*`, defined once per sync);
 * - every other distinct value of a column (`¥3.5万`, `2024年3月5日`, `20240305`, regions, stages,
 *   categories, currencies, name and phone keys …) once through the very JS function the row
 *   path uses (a dictionary joined back), so a value reads the same whichever way it went;
 * - a row the SQL cannot finish exactly — a candidate blank, summary (合计) or note row, a value
 *   that fails to parse, a negative amount, an unknown stage or category, a foreign currency, a
 *   missing required field, a cell JSON cannot quote simply — goes through the JS pipeline
 *   itself (RowShaper + Pipeline.process): rejections, their reasons, warnings and skips are
 *   the JS path's own.
 *
 * Accepted rows are inserted into the same staging tables (with sequence numbers reserved from
 * the Stager, in file order) and land exactly as before. Anything this path does not cover
 * (another encoding, entity or reader feature, a layout DuckDB reads differently — blank lines,
 * lone CRs, quotes inside unquoted fields …) returns `{ path: 'js', why }` before anything is
 * staged, and the caller reads the file with the JS reader.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { extname } from 'node:path';
import type { WriteTx } from '../../src/lib/server/db/database';
import { FORECAST_CATEGORIES, type CockpitConfig, type SourceConfig } from '../../src/lib/server/config/schema';
import { join, sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';
import { TABLES, type ColumnType } from '../../src/lib/schema/tables';
import { CsvParser, sniffDelimiter, sniffEncoding } from '../file/csv';
import { confinedPath, DEFAULT_MAX_ROW_CHARS } from '../file/guard';
import { layoutHeader, RowShaper, SCAN_ROWS } from '../file/header';
import type { FieldMapping, Pipeline, Rejection } from '../pipeline/pipeline';
import { DEFAULT_DATE_MAX, DEFAULT_DATE_MIN, nameKey, phoneKey, unitFactor, toText } from '../pipeline/values';
import type { ReaderEvents, RecordMeta } from '../types';
import type { Stager } from './stage';
import { columnsOf } from './stage';

export type CsvSqlOutcome = { path: 'sql'; location: string; rows: number; jsRows: number; rejected: Rejection[] } | { path: 'js'; why: string };

/** JS `\s` (what cleanText collapses and trim() strips), as an RE2 class body. */
const WS = '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
/** The same characters as SQL string literals, for a cheap first-character test. */
const WS_CHARS = ['\t', '\n', '\u000b', '\f', '\r', ' ', '\u00a0', '\u1680', ...Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)), '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff']
  .map((c) => `'${c}'`)
  .join(', ');
const FULL = Array.from({ length: 0xff5e - 0xff01 + 1 }, (_, i) => String.fromCharCode(0xff01 + i)).join('') + '\u3000';
const HALF = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('') + ' ';
const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The value macros: constants written here, no input in them. Each mirrors a function of
 * connectors/pipeline/values.ts on the forms it accepts; tests/connectors/csv-sql.test.ts
 * checks them against it value by value.
 */
export const MACROS = [
  // halfWidth: full-width ASCII and the ideographic space to half-width.
  `CREATE OR REPLACE TEMP MACRO vc_hw(s) AS translate(s, ${q(FULL)}, ${q(HALF)})`,
  // cleanText: half-width, runs of white space to one space, trimmed.
  `CREATE OR REPLACE TEMP MACRO vc_clean(s) AS CASE WHEN regexp_matches(s, '[${WS}\\x{FF01}-\\x{FF5E}]') THEN trim(regexp_replace(vc_hw(s), '[${WS}]+', ' ', 'g'), ' ') ELSE s END`,
  // isBlank: null, or white space only.
  // (The regular expressions run only when the first character allows a match: most cells start with neither.)
  `CREATE OR REPLACE TEMP MACRO vc_blank(s) AS s IS NULL OR s = '' OR (left(s, 1) IN (${WS_CHARS}) AND regexp_full_match(s, '[${WS}]*'))`,
  // PLACEHOLDER.test(v.trim()): -, —, /, n/a, null, 无, 暂无 in a typed column.
  `CREATE OR REPLACE TEMP MACRO vc_placeholder(s) AS (left(s, 1) IN (${WS_CHARS}, '-', '—', '－', '/', 'n', 'N', '无', '暂')) AND regexp_full_match(regexp_replace(s, '^[${WS}]+|[${WS}]+$', '', 'g'), '(?i)-+|—+|－+|/|n/?a|null|无|暂无')`,
  // Math.round(x * 100) / 100 (half up, towards +∞, as Math.round).
  `CREATE OR REPLACE TEMP MACRO vc_round2(x) AS CASE WHEN x * 100 >= -0.5 AND x * 100 < 0 THEN -(0.0::DOUBLE)
     ELSE (CASE WHEN x * 100 - floor(x * 100) >= 0.5 THEN floor(x * 100) + 1 ELSE floor(x * 100) END) / 100 END`,
  // parseAmount on a plain number (`12000`, `-3.50`): the value times the column's unit; NULL for any other form.
  `CREATE OR REPLACE TEMP MACRO vc_amount(s, unit) AS CASE WHEN regexp_full_match(s, '-?[0-9]{1,15}(\\.[0-9]{1,6})?')
     THEN vc_round2(CASE WHEN starts_with(s, '-') THEN -(CAST(substr(s, 2) AS DOUBLE) * unit) ELSE CAST(s AS DOUBLE) * unit END) END`,
  // parseDate on `YYYY-MM-DD` and `YYYY-MM-DD HH:MM:SS` inside the plausible range: the timestamp text; NULL otherwise.
  `CREATE OR REPLACE TEMP MACRO vc_date(s, lo, hi) AS CASE WHEN regexp_full_match(s, '[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?')
       AND TRY_CAST(left(s, 10) AS DATE) IS NOT NULL AND left(s, 10) >= lo AND left(s, 10) <= hi
       AND (length(s) = 10 OR (substr(s, 12, 2) <= '23' AND substr(s, 15, 2) <= '59' AND substr(s, 18, 2) <= '59'))
     THEN CASE WHEN length(s) = 10 THEN s || ' 00:00:00' ELSE s END END`,
  // A cell that might be a summary label (合计, 小计, Total …) once half-width, lower case and without spaces; a superset of summaryLabel's words.
  `CREATE OR REPLACE TEMP MACRO vc_sumword(s) AS regexp_matches(lower(vc_hw(s)), '合|总|小|共|累|计|t[${WS}]*o[${WS}]*t[${WS}]*a[${WS}]*l|s[${WS}]*u[${WS}]*m|注|说明|note')`,
  // JSON.stringify of a string without control characters other than \\b \\t \\n \\f \\r.
  `CREATE OR REPLACE TEMP MACRO vc_json(s) AS '"' || replace(replace(replace(replace(replace(replace(replace(s, '\\', '\\\\'), '"', '\\"'), chr(10), '\\n'), chr(13), '\\r'), chr(9), '\\t'), chr(8), '\\b'), chr(12), '\\f') || '"'`,
  // Characters vc_json does not quote as JSON.stringify does.
  `CREATE OR REPLACE TEMP MACRO vc_json_odd(s) AS regexp_matches(s, '[\\x00-\\x07\\x0B\\x0E-\\x1F]')`
];

export async function defineMacros(tx: Pick<WriteTx, 'run'>): Promise<void> {
  for (const m of MACROS) await tx.run(m);
}

const TEXT_OF = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : toText(v));

/** Money columns the pipeline rejects when negative (pipeline.ts NON_NEGATIVE, opportunities). */
const NON_NEGATIVE = new Set(['amount', 'amount_original']);
const ID_FIELDS = new Set(['customer_id', 'owner_id', 'opportunity_id', 'owner_team']);

function typeOf(field: string): ColumnType {
  return TABLES.opportunities.columns.find((c) => c.name === field)?.type ?? 'text';
}

/** JS object key order: array-index keys first, ascending, then the rest in insertion order. */
function objectKeyOrder(keys: string[]): string[] {
  const isIndex = (k: string) => /^(0|[1-9]\d*)$/.test(k) && Number(k) < 2 ** 32 - 1;
  return [...keys.filter(isIndex).sort((a, b) => Number(a) - Number(b)), ...keys.filter((k) => !isIndex(k))];
}

interface Args {
  tx: WriteTx;
  source: SourceConfig;
  src: number;
  config: CockpitConfig;
  baseDir: string;
  pipe: Pipeline;
  stager: Stager;
  events: ReaderEvents;
  /** Rows the JS pipeline processed (counted into the report as the JS path counts them). */
  onRow: () => void;
  log: (m: string) => void;
}

const js = (why: string): CsvSqlOutcome => ({ path: 'js', why });

/**
 * Reads one CSV source through DuckDB into the staging tables, or says why it cannot (then
 * nothing was staged). `onRow` is called per record the JS pipeline processes.
 */
export async function ingestCsvSql(a: Args): Promise<CsvSqlOutcome> {
  const { source, config, pipe } = a;
  const prof = process.env.COCKPIT_CSV_PROFILE; // each statement's time on stdout (measuring this path)
  const tx: WriteTx = prof
    ? {
        connection: a.tx.connection,
        run: async (q) => {
          const t = performance.now();
          await a.tx.run(q);
          console.log(`    ${(performance.now() - t).toFixed(0)} ms run ${(typeof q === 'string' ? q : q.strings.join('?')).slice(0, 90).replace(/\s+/g, ' ')}`);
        },
        query: async (q) => {
          const t = performance.now();
          const r = await a.tx.query(q);
          console.log(`    ${(performance.now() - t).toFixed(0)} ms query ${(typeof q === 'string' ? q : q.strings.join('?')).slice(0, 90).replace(/\s+/g, ' ')}`);
          return r as never;
        }
      }
    : a.tx;
  if (source.type !== 'csv') return js('not a CSV source');
  if (source.entity !== 'opportunities') return js(`the SQL path covers deals (opportunities) only, not ${source.entity}`);
  if (source.stage_dates && Object.keys(source.stage_dates).length) return js('stage_dates are read by the JS path');
  const s = source as SourceConfig & { path: string; encoding?: string; delimiter?: string; header_row?: number; max_row_chars?: number };
  if (s.encoding && !['auto', 'utf8', 'utf-8'].includes(s.encoding)) return js(`encoding ${s.encoding}`);
  let path: string;
  try {
    path = confinedPath(s, { baseDir: a.baseDir, config });
  } catch {
    return js('the path is checked by the JS reader');
  }

  // --- The header, exactly as the JS reader finds it (1 MiB chunks, SCAN_ROWS rows at least).
  const fd = openSync(path, 'r');
  let size: number;
  const CHUNK = 1 << 20;
  const buf = Buffer.alloc(CHUNK);
  const headRows: { cells: string[]; line: number }[] = [];
  let delim: string;
  try {
    size = fstatSync(fd).size;
    const n0 = readSync(fd, buf, 0, Math.min(65536, CHUNK), 0);
    const sample = buf.subarray(0, n0);
    const enc = s.encoding && s.encoding !== 'auto' ? { encoding: 'utf-8' } : sniffEncoding(sample);
    if (enc.encoding !== 'utf-8') return js(`encoding ${enc.encoding}`);
    const sampleText = new TextDecoder('utf-8').decode(sample);
    delim = s.delimiter ?? sniffDelimiter(sampleText, extname(path).toLowerCase() === '.tsv' ? '\t' : ',');
    if (delim.length !== 1 || delim === '"' || delim === '\n' || delim === '\r') return js(`delimiter ${JSON.stringify(delim)}`);
    const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
    const parser = new CsvParser(delim, s.max_row_chars ?? DEFAULT_MAX_ROW_CHARS, path);
    const need = SCAN_ROWS + (s.header_row ?? 0);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      pos += n;
      const out: { cells: string[]; line: number }[] = [];
      parser.push(decoder.decode(buf.subarray(0, n), { stream: true }), out);
      headRows.push(...out);
      if (headRows.length >= need) break;
    }
    if (headRows.length < need) {
      const out: { cells: string[]; line: number }[] = [];
      parser.push(decoder.decode(), out);
      parser.end(out);
      headRows.push(...out);
    }
  } catch {
    return js('the JS reader reports this file');
  } finally {
    closeSync(fd);
  }
  if (headRows.length === 0) return js('empty file');
  const layout = layoutHeader(
    headRows.map((r) => ({ cells: r.cells, row: r.line })),
    s.header_row
  );
  if (!layout) return js('no header row');
  const headers = layout.names;
  const width = headers.length;
  const first = headRows[layout.dataStart];
  if (!first) return js('no data rows');
  // DuckDB skips physical lines: the rows above the data must be one line each. (Reading errors
  // are skipped by DuckDB, ignore_errors, so that the transaction survives; the line count
  // below then differs and the file goes to the JS reader.)
  for (let k = 0; k <= layout.dataStart; k++) if (headRows[k].line !== k + 1) return js('line breaks inside the header rows');
  const skip = first.line - 1;
  if (headers.includes('__proto__')) return js('a column named __proto__');

  // --- Physical lines, CRs and quotes of the whole file (DuckDB must read exactly the JS rows).
  let lf = 0;
  let cr = 0;
  let crlf = 0;
  let quotes = false;
  let last = -1;
  {
    const fd2 = openSync(path, 'r');
    const big = Buffer.alloc(4 << 20);
    try {
      let pos = 0;
      let prevCr = false;
      for (;;) {
        const n = readSync(fd2, big, 0, big.length, pos);
        if (n === 0) break;
        pos += n;
        const b = big.subarray(0, n);
        if (!quotes && b.indexOf(0x22) >= 0) quotes = true;
        let i = b.indexOf(0x0a);
        while (i >= 0) {
          lf++;
          if ((i > 0 ? b[i - 1] === 0x0d : prevCr)) crlf++;
          i = b.indexOf(0x0a, i + 1);
        }
        let j = b.indexOf(0x0d);
        while (j >= 0) {
          cr++;
          j = b.indexOf(0x0d, j + 1);
        }
        prevCr = b[n - 1] === 0x0d;
        last = b[n - 1];
      }
    } finally {
      closeSync(fd2);
    }
  }
  if (cr !== crlf) return js('carriage returns without a line feed');
  const lines = lf + (size > 0 && last !== 0x0a ? 1 : 0);

  // --- The mapping (the JS pipeline's own), and what the SQL path needs of it.
  const meta: RecordMeta = { unit: layout.unit, headerRows: layout.rows.map((i) => headRows[i].line) };
  let mapping: FieldMapping[];
  let unmapped: string[];
  try {
    ({ mapping, unmapped } = pipe.mappingFor(headers, undefined, meta));
  } catch {
    return js('the mapping is reported by the JS path');
  }
  for (const m of mapping) if (!headers.includes(m.column)) return js(`column ${m.column} is a path`);
  const col = (h: string) => `c${headers.indexOf(h)}`;

  const cols = headers.map((_, k) => `c${k}`);
  const nullstr = '\u0001vcsv-null\u0002';
  try {
    await tx.run(sql`CREATE OR REPLACE TEMP TABLE vc_raw AS SELECT * FROM read_csv(${path}, delim = ${delim}, quote = '"', escape = '"', header = false,
      skip = ${skip}, auto_detect = false, columns = {${unsafeRaw([...cols, 'cx'].map((c) => `'${c}': 'VARCHAR'`).join(', '))}}, null_padding = true,
      nullstr = ${nullstr}, allow_quoted_nulls = false, ignore_errors = true)`);
  } catch (e) {
    await drop(tx);
    return js(`DuckDB's reader: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    const nl = quotes ? cols.map((c) => `coalesce(length(${c}) - length(replace(${c}, chr(10), '')), 0)`).join(' + ') : '0';
    const len = cols.map((c) => `coalesce(length(${c}), 0)`).join(' + ');
    // Row ids inside a transaction do not start at 0: rows are numbered from the first one's.
    const { rows: stats } = await tx.query<{ n: number; nl: number; maxlen: number; rid0: string; wider: number }>(
      `SELECT count(*)::BIGINT::DOUBLE AS n, coalesce(sum(${nl}), 0)::DOUBLE AS nl, coalesce(max(${len}), 0)::DOUBLE AS maxlen, coalesce(min(rowid), 0)::VARCHAR AS rid0, count(cx)::DOUBLE AS wider FROM vc_raw`
    );
    const rid0 = BigInt(stats[0].rid0).toString();
    const n = Number(stats[0].n);
    // One column more than the header: a wider row (the JS reader keeps its extra cells as column_N) goes to JS.
    if (Number(stats[0].wider) > 0) return await fail(tx, 'rows wider than the header');
    if (skip + n + Number(stats[0].nl) !== lines) return await fail(tx, 'DuckDB read other rows than the JS reader (blank lines?)');
    if (Number(stats[0].maxlen) + width > (s.max_row_chars ?? DEFAULT_MAX_ROW_CHARS) / 2) return await fail(tx, 'a row near max_row_chars');
    // The first data row must be the one our header detection saw.
    const { rows: firstRow } = await tx.query<Record<string, string | null>>(`SELECT ${cols.join(', ')} FROM vc_raw WHERE rowid = ${rid0}`);
    for (let k = 0; k < width; k++) {
      const v = firstRow[0]?.[`c${k}`] ?? null;
      if ((v ?? undefined) !== first.cells[k] && !(v === null && first.cells[k] === undefined)) return await fail(tx, 'the first data row differs');
    }

    await defineMacros(tx);
    const lo = source.date_range?.[0] ?? DEFAULT_DATE_MIN;
    const hi = source.date_range?.[1] ?? DEFAULT_DATE_MAX;
    const prefix = source.id_prefix ?? '';

    // Per mapped field: the fast SQL value, and whether the value needs the JS parser (`u`).
    const fieldSql = new Map<string, { val: Sql; bad: Sql | null }>();
    const dictJoins: Sql[] = [];
    let dn = 0;
    const dictionary = async (keySql: string, from: string, where: string, fn: (v: string) => { ok: boolean; val: string | null }): Promise<string> => {
      const name = `vc_d${dn++}`;
      const { rows } = await tx.query<{ v: string }>(`SELECT DISTINCT ${keySql} AS v FROM ${from} WHERE ${where}`);
      await tx.run(`CREATE OR REPLACE TEMP TABLE ${name} (v VARCHAR, ok BOOLEAN, val VARCHAR)`);
      for (let i = 0; i < rows.length; i += 50_000) {
        const part = rows.slice(i, i + 50_000);
        const res = part.map((r) => fn(r.v));
        await tx.run(sql`INSERT INTO ${unsafeRaw(name)} SELECT unnest(${part.map((r) => r.v)}::VARCHAR[]), unnest(${res.map((r) => (r.ok ? '1' : '0'))}::VARCHAR[]) = '1', unnest(${res.map((r) => r.val ?? '\u0000')}::VARCHAR[])`);
      }
      await tx.run(`UPDATE ${name} SET val = NULL WHERE val = chr(0)`);
      return name;
    };
    const parsed = (field: string, unit?: string) => (v: string) => {
      const p = pipe.parseField(field, v, unit);
      return p.ok ? { ok: true, val: TEXT_OF(p.value) } : { ok: false, val: null };
    };
    // Three levels, so that each macro runs once per cell: (1) per cell, blank, placeholder and
    // the fast value; (2) per field, the value (fast, or the dictionary's) and whether JS must
    // take the row; (3) per row, defaults, the JS flag and attributes.
    const inner: string[] = cols.map((c, k) => `vc_blank(${c}) AS b${k}`);
    const middle: string[] = [];
    let j = 0;
    for (const m of mapping) {
      const c = col(m.column);
      const k = headers.indexOf(m.column);
      const t = typeOf(m.field);
      const factor = m.unit ? (unitFactor(m.unit) ?? 1) : 1;
      let fast: string | null;
      if (t === 'text') {
        if (m.field === 'region' || m.field === 'customer_region') fast = null;
        else fast = `vc_clean(${c})`;
      } else if (t === 'decimal' || (t === 'double' && m.field !== 'probability')) fast = `CAST(vc_amount(${c}, ${factor}::DOUBLE) AS VARCHAR)`;
      else if (t === 'timestamp') fast = `vc_date(${c}, ${q(lo)}, ${q(hi)})`;
      else if (t === 'date') fast = `left(vc_date(${c}, ${q(lo)}, ${q(hi)}), 10)`;
      else fast = null;
      // Blank → NULL; a placeholder in a typed column → NULL; else the fast form, else the dictionary.
      const emptyRaw = t === 'text' ? `vc_blank(${c})` : `(vc_blank(${c}) OR vc_placeholder(${c}))`;
      const needJs = fast ? `NOT ${emptyRaw} AND ${fast} IS NULL` : `NOT ${emptyRaw}`;
      // vc_clean answers every non-blank cell: a text column needs no dictionary scan.
      const d = await dictionary(c, 'vc_raw', t === 'text' && fast ? 'FALSE' : needJs, parsed(m.field, m.unit));
      dictJoins.push(unsafeRaw(`LEFT JOIN ${d} ON ${d}.v = r.${c}`));
      if (t !== 'text') inner.push(`vc_placeholder(${c}) AS p${j}`);
      if (fast) inner.push(`${fast} AS f${j}`);
      const empty = t === 'text' ? `r.b${k}` : `(r.b${k} OR r.p${j})`;
      let val = `CASE WHEN ${empty} THEN NULL ${fast ? `WHEN r.f${j} IS NOT NULL THEN r.f${j}` : ''} ELSE ${d}.val END`;
      if (t === 'text' && fast && ID_FIELDS.has(m.field) && prefix) val = `CASE WHEN ${empty} THEN NULL WHEN ${d}.v IS NOT NULL THEN ${d}.val ELSE ${q(prefix)} || r.f${j} END`;
      middle.push(`${val} AS v${j}`, `(${d}.v IS NOT NULL AND NOT ${d}.ok) AS d${j}`);
      let bad = `m.d${j}`;
      if (NON_NEGATIVE.has(m.field)) bad = `(${bad} OR coalesce(TRY_CAST(m.v${j} AS DOUBLE) < 0, FALSE))`;
      fieldSql.set(m.field, { val: unsafeRaw(`m.v${j}`), bad: unsafeRaw(bad) });
      j++;
    }
    // Defaults: parsed once (a default that fails rejects the rows that need it, in JS).
    for (const [field, value] of Object.entries(source.defaults ?? {})) {
      const p = pipe.parseField(field, value);
      const cur = fieldSql.get(field);
      const curVal = cur?.val ?? unsafeRaw('NULL::VARCHAR');
      if (p.ok) fieldSql.set(field, { val: sql`coalesce(${curVal}, ${TEXT_OF(p.value)}::VARCHAR)`, bad: cur?.bad ?? null });
      else fieldSql.set(field, { val: curVal, bad: sql`(${cur?.bad ?? unsafeRaw('FALSE')} OR ${curVal} IS NULL)` });
    }
    const v = (f: string): Sql => fieldSql.get(f)?.val ?? unsafeRaw('NULL::VARCHAR');
    const bads = [...fieldSql.values()].map((x) => x.bad).filter((x): x is Sql => x !== null);

    // Attributes: the unmapped columns' non-blank cells as JSON.stringify writes them.
    const attrCols = objectKeyOrder(unmapped);
    const attrOdd = attrCols.length ? attrCols.map((h) => `coalesce(vc_json_odd(m.${col(h)}), FALSE)`).join(' OR ') : 'FALSE';
    const attributes = attrCols.length
      ? sql`CASE WHEN ${unsafeRaw(attrCols.map((h) => `m.b${headers.indexOf(h)}`).join(' AND '))} THEN NULL ELSE '{' || concat_ws(',', ${join(
          attrCols.map((h) => sql`CASE WHEN NOT m.${unsafeRaw(`b${headers.indexOf(h)}`)} THEN ${JSON.stringify(h)} || ':' || vc_json(m.${unsafeRaw(col(h))}) END`)
        )}) || '}' END`
      : unsafeRaw('NULL::VARCHAR');

    // Candidate skip rows (blank, note, summary): at most one filled cell, or a summary word in the first filled one.
    const nb = cols.map((_, k) => `(NOT m.b${k})::INTEGER`).join(' + ');
    const fnb = `coalesce(${cols.map((c, k) => `CASE WHEN NOT m.b${k} THEN m.${c} END`).join(', ')})`;
    const lineExpr = quotes
      ? `${skip + 1} + m._id + coalesce(sum(${cols.map((c) => `coalesce(length(m.${c}) - length(replace(m.${c}, chr(10), '')), 0)`).join(' + ')}) OVER (ORDER BY m._id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)`
      : `${skip + 1} + m._id`;
    await tx.run(sql`CREATE OR REPLACE TEMP TABLE vc_v AS SELECT m._id, ${unsafeRaw(lineExpr)} AS _line,
        coalesce((${unsafeRaw(nb)} <= 1 OR coalesce(vc_sumword(${unsafeRaw(fnb)}), FALSE)) ${bads.length ? sql`OR ${join(bads, ' OR ')}` : unsafeRaw('')} OR ${unsafeRaw(attrOdd)}, TRUE) AS _js,
        ${join(columnsOf('opportunities').filter((c) => c !== 'attributes').map((c) => sql`${v(c)} AS "${unsafeRaw(c)}"`))},
        ${v('customer_name')} AS customer_name, ${v('customer_industry')} AS customer_industry, ${v('customer_region')} AS customer_region,
        ${v('customer_phone')} AS customer_phone, ${v('customer_grade')} AS customer_grade, ${v('owner_name')} AS owner_name, ${v('owner_team')} AS owner_team,
        ${attributes} AS attributes
      FROM (SELECT r.*${unsafeRaw(middle.length ? ', ' + middle.join(', ') : '')}
            FROM (SELECT rowid - ${unsafeRaw(rid0)} AS _id, ${unsafeRaw([...cols, ...inner].join(', '))} FROM vc_raw) r ${join(dictJoins, ' ')}) m`);

    // Stages, categories and currencies through the pipeline's own lookups.
    const stageD = await dictionary('stage', 'vc_v', 'NOT _js AND stage IS NOT NULL', (x) => {
      const st = pipe.stageOf(x);
      return st ? { ok: true, val: `${st.name}\u0001${st.outcome ?? 'open'}` } : { ok: false, val: null };
    });
    const fcList = FORECAST_CATEGORIES as readonly string[];
    const fcD = await dictionary('forecast_category', 'vc_v', 'NOT _js AND forecast_category IS NOT NULL', (x) => {
      const fc = x.toLowerCase().replace(/[\s-]+/g, '_');
      return fcList.includes(fc) ? { ok: true, val: fc } : { ok: false, val: null };
    });
    const curD = await dictionary('currency', 'vc_v', 'NOT _js AND currency IS NOT NULL AND amount IS NOT NULL', (x) => {
      const cur = x.toUpperCase();
      return cur === config.currency ? { ok: true, val: cur } : { ok: false, val: null };
    });
    const keyD = await dictionary('customer_name', 'vc_v', 'NOT _js AND customer_name IS NOT NULL', (x) => ({ ok: true, val: nameKey(x) }));
    const phoneD = await dictionary('customer_phone', 'vc_v', 'NOT _js AND customer_phone IS NOT NULL', (x) => ({ ok: true, val: phoneKey(x) || null }));

    // Rows the SQL cannot finish go to the JS pipeline.
    await tx.run(`UPDATE vc_v SET _js = TRUE FROM (
        SELECT x._id FROM vc_v x
        LEFT JOIN ${stageD} s ON s.v = x.stage LEFT JOIN ${fcD} f ON f.v = x.forecast_category LEFT JOIN ${curD} c ON c.v = x.currency
        WHERE NOT x._js AND (x.opportunity_id IS NULL OR x.stage IS NULL OR NOT coalesce(s.ok, FALSE)
          OR (x.forecast_category IS NOT NULL AND NOT coalesce(f.ok, FALSE))
          OR (x.amount IS NOT NULL AND x.currency IS NOT NULL AND NOT coalesce(c.ok, FALSE)))) j
      WHERE vc_v._id = j._id`);

    // The JS rows, in file order, through the reader's row shaper and the pipeline.
    const base = a.stager.reserve(3 * n + 3);
    const shaper = new RowShaper(headers, a.events, path, meta);
    const rejected: Rejection[] = [];
    let jsRows = 0;
    const { rows: jsList } = await tx.query<Record<string, string | null> & { _id: number | bigint; _line: number | bigint }>(
      `SELECT v._id::DOUBLE AS _id, v._line::DOUBLE AS _line, ${cols.map((c) => `r.${c}`).join(', ')} FROM vc_v v JOIN vc_raw r ON r.rowid = v._id + ${rid0} WHERE v._js ORDER BY v._id`
    );
    for (const r of jsList) {
      jsRows++;
      const cells = cols.map((c) => r[c] ?? null) as unknown[];
      const rec = shaper.shape(cells, Number(r._line));
      if (!rec) continue;
      a.onRow();
      const out = pipe.process(rec, headers);
      if (out.ok) a.stager.add('opportunities', a.src, out.result, base + 3 * Number(r._id));
      else rejected.push(out.rejection);
    }

    // The accepted rows, set-based.
    const oppCols = columnsOf('opportunities');
    const mainSel = oppCols.map((c) => {
      if (c === 'stage') return `split_part(s.val, chr(1), 1)`;
      if (c === 'status') return `split_part(s.val, chr(1), 2)`;
      if (c === 'forecast_category') return `f.val`;
      if (c === 'currency') return `CASE WHEN x.amount IS NOT NULL THEN coalesce(c.val, ${q(config.currency)}) ELSE x.currency END`;
      if (c === 'amount_original') return `x.amount`;
      if (c === 'customer_id') return `coalesce(x.customer_id, CASE WHEN x.customer_name IS NOT NULL THEN ${q(prefix)} || x.customer_name END)`;
      return `x."${c}"`;
    });
    const fromSql = `FROM vc_v x LEFT JOIN ${stageD} s ON s.v = x.stage LEFT JOIN ${fcD} f ON f.v = x.forecast_category LEFT JOIN ${curD} c ON c.v = x.currency WHERE NOT x._js`;
    await tx.run(`CREATE OR REPLACE TEMP TABLE vc_ok AS SELECT x._id, x._line, ${mainSel.map((e, k) => `${e} AS "${oppCols[k]}"`).join(', ')},
        CASE WHEN split_part(s.val, chr(1), 2) <> 'open' AND x.closed_at IS NOT NULL THEN x.closed_at END AS _entered,
        x.customer_name, x.customer_industry, x.customer_region, x.customer_phone, x.customer_grade, x.owner_name, x.owner_team ${fromSql}`);
    await tx.run(`INSERT INTO stg_opportunities (_src, _seq, _row, _ref, ${oppCols.map((c) => `"${c}"`).join(', ')}, _entered)
      SELECT ${a.src}, ${base} + 3 * _id + 3, _line, FALSE, ${oppCols.map((c) => `"${c}"`).join(', ')}, _entered FROM vc_ok`);
    await tx.run(`INSERT INTO stg_customers (_src, _seq, _row, _ref, customer_id, name, industry, region, phone, grade, _name_key, _phone_key, _orig_id)
      SELECT ${a.src}, ${base} + 3 * _id + 1, _line, TRUE, customer_id, customer_name, customer_industry, customer_region, customer_phone, customer_grade, k.val, p.val, customer_id
      FROM vc_ok LEFT JOIN ${keyD} k ON k.v = customer_name LEFT JOIN ${phoneD} p ON p.v = customer_phone
      WHERE customer_id IS NOT NULL AND (customer_name IS NOT NULL OR customer_industry IS NOT NULL OR customer_region IS NOT NULL OR customer_phone IS NOT NULL OR customer_grade IS NOT NULL)`);
    await tx.run(`INSERT INTO stg_users (_src, _seq, _row, _ref, user_id, name, team_id)
      SELECT ${a.src}, ${base} + 3 * _id + 2, _line, TRUE, owner_id, owner_name, owner_team FROM vc_ok
      WHERE owner_id IS NOT NULL AND (owner_name IS NOT NULL OR owner_team IS NOT NULL)`);
    const sqlRows = n - jsRows;
    const { rows: okCount } = await tx.query<{ n: number }>(`SELECT count(*)::DOUBLE AS n FROM vc_ok`);
    // Every row went one way: SQL or JS (a NULL flag would lose a row silently).
    if (Number(okCount[0].n) !== sqlRows) throw new Error(`CSV SQL path: ${sqlRows} rows expected through SQL, ${okCount[0].n} staged`);
    if (!pipe.mappingUsed) {
      pipe.mappingUsed = mapping;
      pipe.unmappedUsed = unmapped;
    }
    await drop(tx, dn);
    a.log(`  ${source.name}: read by DuckDB (SQL path): ${n.toLocaleString()} rows, ${jsRows.toLocaleString()} through the JS pipeline`);
    return { path: 'sql', location: path, rows: sqlRows, jsRows, rejected };
  } catch (e) {
    await drop(tx, 64).catch(() => undefined);
    throw e;
  }
}

async function fail(tx: WriteTx, why: string): Promise<CsvSqlOutcome> {
  await drop(tx);
  return js(why);
}

async function drop(tx: WriteTx, dicts = 0): Promise<void> {
  for (const t of ['vc_raw', 'vc_v', 'vc_ok', ...Array.from({ length: dicts }, (_, i) => `vc_d${i}`)]) await tx.run(`DROP TABLE IF EXISTS temp.${t}`);
}
