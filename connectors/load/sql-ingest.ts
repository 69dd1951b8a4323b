/**
 * The SQL half of a vectorised file ingest, shared by CSV (./csv-sql.ts: DuckDB's read_csv lands
 * the cells) and xlsx (./xlsx-sql.ts: our own reader's cells appended in data chunks); see
 * docs/decisions.md, "CSV import: DuckDB reads, SQL cleans, JS keeps the hard rows" and "xlsx
 * import through the same SQL".
 *
 * Input: a temp table `vc_raw` of one sheet's (or file's) data rows, every cell raw — for a CSV
 * `c<k>` VARCHAR; for a workbook `t<k>` (0 empty, 1 text, 2 number, 3 boolean, 4 date), `c<k>`
 * (the text, else '') and `n<k>` (the number; a boolean as 1/0; a date as milliseconds since
 * 1970; else 0) — and the header as
 * the JS reader found it. Mapping, cleaning, unit and date parsing and validation run as SQL
 * over whole columns:
 *
 * - the common value forms (plain text, `12000`/`-3.5` amounts and numeric cells times the
 *   column's unit, `2024-03-05[ 10:00:00]` dates, whole numbers in text columns) by DuckDB
 *   macros (`vc_*`, defined once per sync);
 * - every other distinct value of a column (`¥3.5万`, `2024年3月5日`, `20240305`, Excel serials,
 *   date cells, regions, stages, categories, currencies, name and phone keys …) once through the
 *   very JS function the row path uses (a dictionary joined back), so a value reads the same
 *   whichever way it went;
 * - a row the SQL cannot finish exactly — a candidate blank, summary (合计) or note row, a value
 *   that fails to parse, a negative amount, an unknown stage or category, a foreign currency, a
 *   missing required field, a cell JSON cannot quote simply, a boolean or non-finite cell, a row
 *   wider than the header — goes through the JS pipeline itself (RowShaper + Pipeline.process):
 *   rejections, their reasons, warnings and skips are the JS path's own.
 *
 * Accepted rows are inserted into the same staging tables (with sequence numbers reserved from
 * the Stager, in file order) and land exactly as before.
 */
import { BOOLEAN, DOUBLE, DuckDBDataChunk, VARCHAR } from '@duckdb/node-api';
import type { WriteTx } from '../../src/lib/server/db/database';
import { FORECAST_CATEGORIES, type CockpitConfig, type SourceConfig } from '../../src/lib/server/config/schema';
import { join, sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';
import { TABLES, type ColumnType } from '../../src/lib/schema/tables';
import { RowShaper } from '../file/header';
import type { FieldMapping, Pipeline, Rejection } from '../pipeline/pipeline';
import { DEFAULT_DATE_MAX, DEFAULT_DATE_MIN, nameKey, phoneKey, unitFactor, toText } from '../pipeline/values';
import type { ReaderEvents, RecordMeta } from '../types';
import type { Stager } from './stage';
import { columnsOf } from './stage';

/** JS `\s` (what cleanText collapses and trim() strips), as an RE2 class body. */
const WS = '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
/** The same characters as SQL string literals, for a cheap first-character test. */
const WS_CHARS = ['\t', '\n', '\u000b', '\f', '\r', ' ', '\u00a0', '\u1680', ...Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)), '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff']
  .map((c) => `'${c}'`)
  .join(', ');
const FULL = Array.from({ length: 0xff5e - 0xff01 + 1 }, (_, i) => String.fromCharCode(0xff01 + i)).join('') + '\u3000';
const HALF = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('') + ' ';
export const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The value macros: constants written here, no input in them. Each mirrors a function of
 * connectors/pipeline/values.ts on the forms it accepts; tests/connectors/csv-sql.test.ts
 * checks them against it value by value.
 */
export const MACROS = [
  // halfWidth: full-width ASCII and the ideographic space to half-width. (translate() with this
  // map costs ~11 µs a call; the test first, as halfWidth does, makes most cells ~0.1 µs.)
  `CREATE OR REPLACE TEMP MACRO vc_hw(s) AS CASE WHEN regexp_matches(s, '[\\x{FF01}-\\x{FF5E}\\x{3000}]') THEN translate(s, ${q(FULL)}, ${q(HALF)}) ELSE s END`,
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
  `CREATE OR REPLACE TEMP MACRO vc_json_odd(s) AS regexp_matches(s, '[\\x00-\\x07\\x0B\\x0E-\\x1F]')`,
  // A numeric cell that String(n) (toText) writes as its digits: a whole number below 10^15; its text, else NULL.
  `CREATE OR REPLACE TEMP MACRO vc_int_text(n) AS CASE WHEN n = trunc(n) AND abs(n) < 1e15 THEN CAST(CAST(n AS BIGINT) AS VARCHAR) END`
];

export async function defineMacros(tx: Pick<WriteTx, 'run'>): Promise<void> {
  for (const m of MACROS) await tx.run(m);
}

/**
 * `COCKPIT_CSV_PROFILE=1`: each statement's wall and CPU time on stdout (the SQL ingest paths,
 * landing and the derived tables); `=explain` also prints the `vc_v` statement's EXPLAIN ANALYZE
 * (which runs it once more).
 */
export function profiled(tx: WriteTx): WriteTx {
  if (!process.env.COCKPIT_CSV_PROFILE) return tx;
  const show = (q: Sql | string) => (typeof q === 'string' ? q : q.strings.join('?')).slice(0, 90).replace(/\s+/g, ' ');
  return {
    connection: tx.connection,
    run: async (q) => {
      const t = performance.now();
      const c = process.cpuUsage();
      if (process.env.COCKPIT_CSV_PROFILE === 'explain' && show(q).includes('vc_v AS')) {
        const r = await tx.query(typeof q === 'string' ? `EXPLAIN ANALYZE ${q}` : sql`EXPLAIN ANALYZE ${q}`);
        for (const row of r.rows as Record<string, string>[]) console.log(Object.values(row).join('\n'));
      }
      await tx.run(q);
      const d = process.cpuUsage(c);
      console.log(`    ${(performance.now() - t).toFixed(0)} ms (${((d.user + d.system) / 1000).toFixed(0)} CPU-ms) run ${show(q)}`);
    },
    query: async (q) => {
      const t = performance.now();
      const c = process.cpuUsage();
      const r = await tx.query(q);
      const d = process.cpuUsage(c);
      console.log(`    ${(performance.now() - t).toFixed(0)} ms (${((d.user + d.system) / 1000).toFixed(0)} CPU-ms) query ${show(q)}`);
      return r as never;
    }
  };
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

export interface IngestArgs {
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
  /** Use and prepare the source's memo of raw rows (a CSV source synced alone, incrementally: ./sync-memo.ts). */
  memo?: boolean;
  log: (m: string) => void;
}

/** The mapping the JS pipeline would use for this header, or why the SQL path cannot take it. */
export function sqlMapping(pipe: Pipeline, headers: string[], meta: RecordMeta): { mapping: FieldMapping[]; unmapped: string[] } | { why: string } {
  if (headers.includes('__proto__')) return { why: 'a column named __proto__' };
  let m: { mapping: FieldMapping[]; unmapped: string[] };
  try {
    m = pipe.mappingFor(headers, undefined, meta);
  } catch {
    return { why: 'the mapping is reported by the JS path' };
  }
  for (const f of m.mapping) if (!headers.includes(f.column)) return { why: `column ${f.column} is a path` };
  return m;
}

/** Kinds of cells other than text a workbook column holds (a CSV's hold text only). */
export interface CellKinds {
  num: boolean;
  date: boolean;
  bool: boolean;
}

export interface RawTable {
  headers: string[];
  meta: RecordMeta;
  mapping: FieldMapping[];
  unmapped: string[];
  /** Where, for the JS rows' warnings (RowShaper): the file, or `file [sheet]`. */
  where: string;
  /** Data rows in `vc_raw`. */
  n: number;
  /** Per column, the kinds of non-text cells (xlsx: columns `n<k>`, `t<k>` exist); absent for a CSV. */
  kinds?: CellKinds[];
  /** The 0-based position of a `vc_raw` row, in file order (`alias` names the table). */
  rawId: (alias: string) => string;
  /** The row number users see, over the middle select `m` (with `m._id`). */
  lineSql: string;
  /** `vc_raw` has a `_force` column: rows the JS pipeline must take (wider than the header). */
  force?: boolean;
  /** A JS row's cells as the reader gave them, from its `vc_raw` columns (and `_id`). */
  cells: (r: Record<string, unknown>) => unknown[];
  /** What the JS rows need of `vc_raw` (alias `r`), beside `_id` and `_line`: select-list expressions. */
  cellColumns: string[];
  /**
   * Sequence numbers already reserved for the whole file (`Stager.reserve`), when `vc_raw` holds
   * only some of its rows (`rawId` then gives each row's position in the whole file).
   */
  base?: number;
  /** Also appends the positions of the rows SQL staged to `temp.vc_sqlids (pos)` (the memo's candidates). */
  keepSqlIds?: boolean;
}

/** Temp tables of one ingest (dictionaries are `vc_d<i>`). */
export async function dropTemp(tx: WriteTx, dicts = 0): Promise<void> {
  for (const t of ['vc_raw', 'vc_v', 'vc_ok', ...Array.from({ length: dicts }, (_, i) => `vc_d${i}`)]) await tx.run(`DROP TABLE IF EXISTS temp.${t}`);
}

/**
 * Cleans `vc_raw` into the staging tables (see the file's comment); the JS rows go through
 * the pipeline. Returns the rows SQL staged, the rows JS took, and JS's rejections.
 */
export async function cleanRaw(a: IngestArgs, raw: RawTable): Promise<{ rows: number; jsRows: number; rejected: Rejection[] }> {
  const { source, config, pipe } = a;
  const tx = profiled(a.tx);
  const { headers, mapping, unmapped, n, kinds } = raw;
  const col = (h: string) => `c${headers.indexOf(h)}`;
  const cols = headers.map((_, k) => `c${k}`);
  let dn = 0;
  try {
    await defineMacros(tx);
    const lo = source.date_range?.[0] ?? DEFAULT_DATE_MIN;
    const hi = source.date_range?.[1] ?? DEFAULT_DATE_MAX;
    const prefix = source.id_prefix ?? '';

    // Per mapped field: the fast SQL value, and whether the value needs the JS parser (`u`).
    const fieldSql = new Map<string, { val: Sql; bad: Sql | null }>();
    const dictJoins: Sql[] = [];
    const dictionary = async (keySql: string, from: string, where: string, fn: (v: never) => { ok: boolean; val: string | null }, keyType: 'VARCHAR' | 'DOUBLE' = 'VARCHAR'): Promise<string> => {
      const name = `vc_d${dn++}`;
      const { rows } = await tx.query<{ v: string | number }>(`SELECT DISTINCT ${keySql} AS v FROM ${from} WHERE ${where}`);
      await tx.run(`CREATE OR REPLACE TEMP TABLE ${name} (v ${keyType}, ok BOOLEAN, val VARCHAR)`);
      if (rows.length) {
        // Appended in data chunks (a 20,000-value list bound as a parameter and unnested took 150 ms; this ~10).
        const app = await a.tx.connection.createAppender(name, 'main', 'temp');
        const types = [keyType === 'DOUBLE' ? DOUBLE : VARCHAR, BOOLEAN, VARCHAR];
        for (let i = 0; i < rows.length; i += 2048) {
          const part = rows.slice(i, i + 2048);
          const res = part.map((r) => fn(r.v as never));
          const chunk = DuckDBDataChunk.create(types, part.length);
          chunk.setColumnValues(0, part.map((r) => r.v));
          chunk.setColumnValues(1, res.map((r) => r.ok));
          chunk.setColumnValues(2, res.map((r) => r.val));
          app.appendDataChunk(chunk);
        }
        app.flushSync();
        app.closeSync();
      }
      return name;
    };
    const parsed = (field: string, unit?: string) => (v: unknown) => {
      const p = pipe.parseField(field, v, unit);
      return p.ok ? { ok: true, val: TEXT_OF(p.value) } : { ok: false, val: null };
    };
    // Three levels, so that each macro runs once per cell: (1) per cell, blank, placeholder and
    // the fast value; (2) per field, the value (fast, or the dictionary's) and whether JS must
    // take the row; (3) per row, defaults, the JS flag and attributes.
    const inner: string[] = cols.map((c, k) => (kinds ? `(t${k} = 0 OR (t${k} = 1 AND vc_blank(${c}))) AS b${k}` : `vc_blank(${c}) AS b${k}`));
    const middle: string[] = [];
    // Workbook cells JS must take wherever they are: booleans, non-finite numbers (NaN, ±Infinity).
    const oddCells: string[] = [];
    if (kinds) {
      kinds.forEach((kd, k) => {
        if (kd.bool || kd.num || kd.date) {
          inner.push(`(t${k} = 3 OR (t${k} IN (2, 4) AND NOT isfinite(n${k}))) AS o${k}`);
          oddCells.push(`m.o${k}`);
        }
      });
    }
    const isNum = (k: number) => `(r.t${k} = 2 AND isfinite(r.n${k}))`;
    const isDate = (k: number) => `(r.t${k} = 4 AND isfinite(r.n${k}))`;
    let j = 0;
    for (const m of mapping) {
      const c = col(m.column);
      const k = headers.indexOf(m.column);
      const kd = kinds?.[k];
      const t = typeOf(m.field);
      const factor = m.unit ? (unitFactor(m.unit) ?? 1) : 1;
      const region = m.field === 'region' || m.field === 'customer_region';
      const amount = t === 'decimal' || (t === 'double' && m.field !== 'probability');
      let fast: string | null;
      if (t === 'text') {
        if (region) fast = null;
        else fast = `vc_clean(${c})`;
      } else if (amount) fast = `CAST(vc_amount(${c}, ${factor}::DOUBLE) AS VARCHAR)`;
      else if (t === 'timestamp') fast = `vc_date(${c}, ${q(lo)}, ${q(hi)})`;
      else if (t === 'date') fast = `left(vc_date(${c}, ${q(lo)}, ${q(hi)}), 10)`;
      else fast = null;
      // Blank → NULL; a placeholder in a typed column → NULL; else the fast form, else the dictionary.
      const emptyRaw = t === 'text' ? `vc_blank(${c})` : `(vc_blank(${c}) OR vc_placeholder(${c}))`;
      const needJs = fast ? `NOT ${emptyRaw} AND ${fast} IS NULL` : `NOT ${emptyRaw}`;
      // vc_clean answers every non-blank cell: a text column needs no dictionary scan.
      const d = await dictionary(c, 'vc_raw', t === 'text' && fast ? 'FALSE' : needJs, parsed(m.field, m.unit));
      dictJoins.push(unsafeRaw(`LEFT JOIN ${d} ON ${d}.v = r.${c}`));
      if (t !== 'text') inner.push(kinds ? `coalesce(vc_placeholder(${c}), FALSE) AS p${j}` : `vc_placeholder(${c}) AS p${j}`);
      if (fast) inner.push(`${fast} AS f${j}`);
      const empty = t === 'text' ? `r.b${k}` : `(r.b${k} OR r.p${j})`;
      const idPrefix = (x: string) => (ID_FIELDS.has(m.field) && prefix ? `${q(prefix)} || ${x}` : x);
      let strVal = `${fast ? `CASE WHEN r.f${j} IS NOT NULL THEN r.f${j} ELSE ${d}.val END` : `${d}.val`}`;
      if (t === 'text' && fast && ID_FIELDS.has(m.field) && prefix) strVal = `CASE WHEN ${d}.v IS NOT NULL THEN ${d}.val ELSE ${q(prefix)} || r.f${j} END`;
      let bad = `(${d}.v IS NOT NULL AND NOT ${d}.ok)`;
      let val: string;
      if (!kd) val = `CASE WHEN ${empty} THEN NULL ELSE ${strVal} END`;
      else {
        // A workbook cell: text as above; a number or a date by SQL or its own dictionary.
        const branches = [`WHEN ${empty} THEN NULL`, `WHEN r.t${k} = 1 THEN ${strVal}`];
        if (kd.num) {
          let numFast: string | null = null;
          if (t === 'text' && !region) numFast = `vc_int_text(r.n${k})`;
          else if (amount) numFast = `CAST(vc_round2(r.n${k} * ${factor}::DOUBLE) AS VARCHAR)`;
          const dnum = await dictionary(`n${k}`, 'vc_raw', `t${k} = 2 AND isfinite(n${k})${numFast ? ` AND ${numFast.replace(/r\./g, '')} IS NULL` : ''}`, parsed(m.field, m.unit), 'DOUBLE');
          dictJoins.push(unsafeRaw(`LEFT JOIN ${dnum} ON ${dnum}.v = r.n${k} AND ${isNum(k)}`));
          branches.push(`WHEN ${isNum(k)} THEN ${numFast ? `coalesce(${idPrefix(numFast)}, ${dnum}.val)` : `${dnum}.val`}`);
          bad += ` OR (${dnum}.v IS NOT NULL AND NOT ${dnum}.ok)`;
        }
        if (kd.date) {
          const ddate = await dictionary(`n${k}`, 'vc_raw', `t${k} = 4 AND isfinite(n${k})`, (ms: number) => parsed(m.field, m.unit)(new Date(ms)), 'DOUBLE');
          dictJoins.push(unsafeRaw(`LEFT JOIN ${ddate} ON ${ddate}.v = r.n${k} AND ${isDate(k)}`));
          branches.push(`WHEN ${isDate(k)} THEN ${ddate}.val`);
          bad += ` OR (${ddate}.v IS NOT NULL AND NOT ${ddate}.ok)`;
        }
        val = `CASE ${branches.join(' ')} END`;
      }
      middle.push(`${val} AS v${j}`, `(${bad}) AS d${j}`);
      let rowBad = `m.d${j}`;
      if (NON_NEGATIVE.has(m.field)) rowBad = `(${rowBad} OR coalesce(TRY_CAST(m.v${j} AS DOUBLE) < 0, FALSE))`;
      fieldSql.set(m.field, { val: unsafeRaw(`m.v${j}`), bad: unsafeRaw(rowBad) });
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

    // Attributes: the unmapped columns' non-blank cells as JSON.stringify writes them (a
    // workbook's numbers and dates as the pipeline keeps them: numbers, dates as text).
    const attrCols = objectKeyOrder(unmapped);
    const attrOdd = attrCols.length ? attrCols.map((h) => `coalesce(vc_json_odd(m.${col(h)}), FALSE)`).join(' OR ') : 'FALSE';
    const attrValue = new Map<string, string>();
    for (const h of attrCols) {
      const k = headers.indexOf(h);
      const kd = kinds?.[k];
      if (!kd || (!kd.num && !kd.date)) continue;
      const branches = [`WHEN r.t${k} = 1 THEN vc_json(r.c${k})`];
      if (kd.num) {
        const dnum = await dictionary(`n${k}`, 'vc_raw', `t${k} = 2 AND isfinite(n${k}) AND vc_int_text(n${k}) IS NULL`, (x: number) => ({ ok: true, val: JSON.stringify(x) }), 'DOUBLE');
        dictJoins.push(unsafeRaw(`LEFT JOIN ${dnum} ON ${dnum}.v = r.n${k} AND ${isNum(k)}`));
        branches.push(`WHEN ${isNum(k)} THEN coalesce(vc_int_text(r.n${k}), ${dnum}.val)`);
      }
      if (kd.date) {
        const ddate = await dictionary(`n${k}`, 'vc_raw', `t${k} = 4 AND isfinite(n${k})`, (ms: number) => ({ ok: true, val: JSON.stringify(toText(new Date(ms))) }), 'DOUBLE');
        dictJoins.push(unsafeRaw(`LEFT JOIN ${ddate} ON ${ddate}.v = r.n${k} AND ${isDate(k)}`));
        branches.push(`WHEN ${isDate(k)} THEN ${ddate}.val`);
      }
      middle.push(`CASE ${branches.join(' ')} END AS a${k}`);
      attrValue.set(h, `m.a${k}`);
    }
    const attributes = attrCols.length
      ? sql`CASE WHEN ${unsafeRaw(attrCols.map((h) => `m.b${headers.indexOf(h)}`).join(' AND '))} THEN NULL ELSE '{' || concat_ws(',', ${join(
          attrCols.map((h) => sql`CASE WHEN NOT m.${unsafeRaw(`b${headers.indexOf(h)}`)} THEN ${JSON.stringify(h)} || ':' || ${unsafeRaw(attrValue.get(h) ?? `vc_json(m.${col(h)})`)} END`)
        )}) || '}' END`
      : unsafeRaw('NULL::VARCHAR');

    // Candidate skip rows (blank, note, summary): at most one filled cell, or a summary word in
    // the first filled text cell (a superset: the JS row shaper decides).
    const nb = cols.map((_, k) => `(NOT m.b${k})::INTEGER`).join(' + ');
    const fnb = `coalesce(${cols.map((c, k) => `CASE WHEN NOT m.b${k} THEN m.${c} END`).join(', ')})`;
    const forced = [...oddCells, ...(raw.force ? ['m._force'] : [])];
    await tx.run(sql`CREATE OR REPLACE TEMP TABLE vc_v AS SELECT m._id, ${unsafeRaw(raw.lineSql)} AS _line,
        coalesce((${unsafeRaw(nb)} <= 1 OR coalesce(vc_sumword(${unsafeRaw(fnb)}), FALSE)) ${bads.length ? sql`OR ${join(bads, ' OR ')}` : unsafeRaw('')} OR ${unsafeRaw(attrOdd)}${unsafeRaw(forced.length ? ' OR ' + forced.join(' OR ') : '')}, TRUE) AS _js,
        ${join(columnsOf('opportunities').filter((c) => c !== 'attributes').map((c) => sql`${v(c)} AS "${unsafeRaw(c)}"`))},
        ${v('customer_name')} AS customer_name, ${v('customer_industry')} AS customer_industry, ${v('customer_region')} AS customer_region,
        ${v('customer_phone')} AS customer_phone, ${v('customer_grade')} AS customer_grade, ${v('owner_name')} AS owner_name, ${v('owner_team')} AS owner_team,
        ${attributes} AS attributes
      FROM (SELECT r.*${unsafeRaw(middle.length ? ', ' + middle.join(', ') : '')}
            FROM (SELECT ${unsafeRaw(raw.rawId('vc_raw'))} AS _id, ${unsafeRaw([...cols, ...(kinds ? ['_line'] : []), ...(raw.force ? ['_force'] : []), ...(kinds ? headers.flatMap((_, k) => [`n${k}`, `t${k}`]) : []), ...inner].join(', '))} FROM vc_raw) r ${join(dictJoins, ' ')}) m`);

    // Stages, categories and currencies through the pipeline's own lookups.
    const stageD = await dictionary('stage', 'vc_v', 'NOT _js AND stage IS NOT NULL', (x: string) => {
      const st = pipe.stageOf(x);
      return st ? { ok: true, val: `${st.name}\u0001${st.outcome ?? 'open'}` } : { ok: false, val: null };
    });
    const fcList = FORECAST_CATEGORIES as readonly string[];
    const fcD = await dictionary('forecast_category', 'vc_v', 'NOT _js AND forecast_category IS NOT NULL', (x: string) => {
      const fc = x.toLowerCase().replace(/[\s-]+/g, '_');
      return fcList.includes(fc) ? { ok: true, val: fc } : { ok: false, val: null };
    });
    const curD = await dictionary('currency', 'vc_v', 'NOT _js AND currency IS NOT NULL AND amount IS NOT NULL', (x: string) => {
      const cur = x.toUpperCase();
      return cur === config.currency ? { ok: true, val: cur } : { ok: false, val: null };
    });
    const keyD = await dictionary('customer_name', 'vc_v', 'NOT _js AND customer_name IS NOT NULL', (x: string) => ({ ok: true, val: nameKey(x) }));
    const phoneD = await dictionary('customer_phone', 'vc_v', 'NOT _js AND customer_phone IS NOT NULL', (x: string) => ({ ok: true, val: phoneKey(x) || null }));

    // Rows the SQL cannot finish go to the JS pipeline.
    await tx.run(`UPDATE vc_v SET _js = TRUE FROM (
        SELECT x._id FROM vc_v x
        LEFT JOIN ${stageD} s ON s.v = x.stage LEFT JOIN ${fcD} f ON f.v = x.forecast_category LEFT JOIN ${curD} c ON c.v = x.currency
        WHERE NOT x._js AND (x.opportunity_id IS NULL OR x.stage IS NULL OR NOT coalesce(s.ok, FALSE)
          OR (x.forecast_category IS NOT NULL AND NOT coalesce(f.ok, FALSE))
          OR (x.amount IS NOT NULL AND x.currency IS NOT NULL AND NOT coalesce(c.ok, FALSE)))) j
      WHERE vc_v._id = j._id`);

    // The JS rows, in file order, through the reader's row shaper and the pipeline.
    const base = raw.base ?? a.stager.reserve(3 * n + 3);
    const shaper = new RowShaper(headers, a.events, raw.where, raw.meta);
    const rejected: Rejection[] = [];
    let jsRows = 0;
    const { rows: jsCount } = await tx.query<{ n: number }>(`SELECT count(*)::DOUBLE AS n FROM vc_v WHERE _js`);
    const { rows: jsList } = Number(jsCount[0].n)
      ? await tx.query<Record<string, unknown> & { _id: number; _line: number }>(
          `SELECT v._id::DOUBLE AS _id, v._line::DOUBLE AS _line, ${raw.cellColumns.join(', ')} FROM vc_v v JOIN vc_raw r ON ${raw.rawId('r')} = v._id WHERE v._js ORDER BY v._id`
        )
      : { rows: [] };
    for (const r of jsList) {
      jsRows++;
      const rec = shaper.shape(raw.cells(r), Number(r._line));
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
    // Straight from vc_v (a materialised copy of the accepted rows cost 3.5 CPU-s at 1M rows: it
    // spilled under the sync's memory limit). The staged count is measured around the INSERT.
    const stagedNow = async () => Number((await tx.query<{ n: number }>(`SELECT count(*)::DOUBLE AS n FROM stg_opportunities`)).rows[0].n);
    const before = await stagedNow();
    await tx.run(`INSERT INTO stg_opportunities (_src, _seq, _row, _ref, ${oppCols.map((c) => `"${c}"`).join(', ')}, _entered)
      SELECT ${a.src}, ${base} + 3 * x._id + 3, x._line, FALSE, ${mainSel.join(', ')},
        CASE WHEN split_part(s.val, chr(1), 2) <> 'open' AND x.closed_at IS NOT NULL THEN x.closed_at END ${fromSql}`);
    const custId = `coalesce(x.customer_id, CASE WHEN x.customer_name IS NOT NULL THEN ${q(prefix)} || x.customer_name END)`;
    await tx.run(`INSERT INTO stg_customers (_src, _seq, _row, _ref, customer_id, name, industry, region, phone, grade, _name_key, _phone_key, _orig_id)
      SELECT ${a.src}, ${base} + 3 * x._id + 1, x._line, TRUE, ${custId}, x.customer_name, x.customer_industry, x.customer_region, x.customer_phone, x.customer_grade, k.val, p.val, ${custId}
      FROM vc_v x LEFT JOIN ${keyD} k ON k.v = x.customer_name LEFT JOIN ${phoneD} p ON p.v = x.customer_phone
      WHERE NOT x._js AND ${custId} IS NOT NULL AND (x.customer_name IS NOT NULL OR x.customer_industry IS NOT NULL OR x.customer_region IS NOT NULL OR x.customer_phone IS NOT NULL OR x.customer_grade IS NOT NULL)`);
    await tx.run(`INSERT INTO stg_users (_src, _seq, _row, _ref, user_id, name, team_id)
      SELECT ${a.src}, ${base} + 3 * x._id + 2, x._line, TRUE, x.owner_id, x.owner_name, x.owner_team FROM vc_v x
      WHERE NOT x._js AND x.owner_id IS NOT NULL AND (x.owner_name IS NOT NULL OR x.owner_team IS NOT NULL)`);
    const staged = (await stagedNow()) - before;
    const sqlRows = n - jsRows;
    const { rows: vCount } = await tx.query<{ v: number }>(`SELECT count(*)::DOUBLE AS v FROM vc_v`);
    // Every row went one way: SQL or JS (a NULL flag, or a dictionary matching twice, would lose or double a row).
    if (staged !== sqlRows || Number(vCount[0].v) !== n) throw new Error(`SQL ingest: ${n} rows read, ${vCount[0].v} cleaned, ${sqlRows} expected through SQL, ${staged} staged`);
    if (raw.keepSqlIds) await tx.run(`INSERT INTO vc_sqlids SELECT _id FROM vc_v WHERE NOT _js`);
    // The report's mapping is the first record's (Pipeline.process sets it for a JS row); a
    // sheet or file without records sets none.
    if (!pipe.mappingUsed && sqlRows > 0) {
      pipe.mappingUsed = mapping;
      pipe.unmappedUsed = unmapped;
    }
    await dropTemp(tx, dn);
    return { rows: sqlRows, jsRows, rejected };
  } catch (e) {
    await dropTemp(tx, Math.max(dn, 64)).catch(() => undefined);
    throw e;
  }
}

