/**
 * Vectorised xlsx ingest (issue 15.1; docs/decisions.md, "xlsx import through the same SQL").
 *
 * Our own reader (connectors/file/xlsx.ts, xlsx-parts.ts) streams a workbook's cells; here they
 * are not shaped into records but appended raw, column by column in DuckDB data chunks, into a
 * temp table per sheet (`c<k>` text cells, `n<k>` numbers — booleans as 1/0, dates as
 * milliseconds —, `t<k>` 3 boolean / 4 date), and the SQL part the CSV path uses
 * (./sql-ingest.ts) maps, cleans and validates them; the rows SQL cannot finish exactly go
 * through the JS row shaper and pipeline. Header detection (title rows, merged and two-level
 * headers, unit rows and `单位：万元` lines) is the reader's own `layoutHeader` on the same first
 * rows, so a sheet's header, units, row numbers and skipped rows are the JS path's.
 *
 * Every sheet is read (and checked) before anything is staged: a sheet the SQL path does not
 * cover sends the whole file to the JS reader, `{ path: 'js', why }`. A workbook read whole
 * skips sheets by the JS path's rules (sheetSkipWhy, shared with sync.ts): those sheets' rows
 * are shaped and counted in JS, as the JS path does.
 */
import { BOOLEAN, DOUBLE, INTEGER, UTINYINT, VARCHAR } from '@duckdb/node-api';
import type { WriteTx } from '../../src/lib/server/db/database';
import type { CockpitConfig, SourceConfig } from '../../src/lib/server/config/schema';
import { confinedPath, DEFAULT_MAX_ROW_CHARS } from '../file/guard';
import { layoutHeader, RowShaper, SCAN_ROWS } from '../file/header';
import { openWorkbook, type Workbook, type WorkbookSheet } from '../file/xlsx';
import { sheetMismatchWhy, summarySheetWhy } from '../pipeline/guess';
import { SourceError, type FieldMapping, type Pipeline, type Rejection } from '../pipeline/pipeline';
import { warning, type Warning } from '../pipeline/reasons';
import type { RecordMeta } from '../types';
import { ChunkAppender } from './stage';
import { cleanRaw, dropTemp, profiled, sqlMapping, type CellKinds, type IngestArgs } from './sql-ingest';

export type XlsxSqlOutcome =
  | { path: 'sql'; location: string; rows: number; jsRows: number; rejected: Rejection[]; /** Records of sheets skipped by rule. */ unmappedRows: number }
  | { path: 'js'; why: string };

const js = (why: string): XlsxSqlOutcome => ({ path: 'js', why });

/**
 * Why a sheet of a workbook read whole (no `sheet` in the source) is skipped, or null: a notes
 * sheet (its header maps nothing), a summary or pivot sheet, one that fits another entity
 * better, or one whose header the mapping refuses (the rules of inspect.ts sheetsFor).
 */
export function sheetSkipWhy(s: SourceConfig, config: CockpitConfig, pipe: Pipeline, headers: string[] | null, sample: Record<string, unknown> | undefined, meta: RecordMeta | undefined): Warning | null {
  try {
    const name = meta?.sheet ?? '';
    const stageNames = [...config.stages.map((st) => st.name), ...Object.keys(('stage_map' in s && s.stage_map) || {})];
    const mapped = pipe.mappingFor(headers, sample, meta).mapping.map((m) => m.field);
    return summarySheetWhy(s.entity, headers ?? [], name, stageNames, mapped) ?? (mapped.length === 0 ? warning('sheet_unmapped') : sheetMismatchWhy(s.entity, headers ?? [], name));
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    return warning('source_error', { message: e.message });
  }
}

/** The reader's batch size (xlsx.ts): a skipped sheet's warning follows its first batch's rows. */
const BATCH = 2048;
/** Rows per data chunk appended to `vc_raw`. */
/** A sheet skipped by rule is shaped in JS from memory: a larger one sends the file to the JS path. */
const MAX_SKIPPED_ROWS = 200_000;

interface DataSheet {
  kind: 'data';
  table: string;
  name: string;
  headers: string[];
  meta: RecordMeta;
  mapping: FieldMapping[];
  unmapped: string[];
  n: number;
  kinds: CellKinds[];
  /** Rows the sheet does not have (entirely empty) between its data rows: blank rows. */
  gaps: number[];
  /** Rows wider than the header, by `_id`: the JS pipeline takes them with all their cells. */
  wide: Map<number, unknown[]>;
  /** A sheet a rule skips: its data rows as read (at most MAX_SKIPPED_ROWS), shaped in JS; null for a data sheet. */
  kept: { cells: unknown[]; row: number }[] | null;
  /** The last header row's number. */
  headerEnd: number;
}

interface SkippedSheet {
  kind: 'skipped';
  name: string;
  headers: string[];
  meta: RecordMeta;
  rows: { cells: unknown[]; row: number }[];
  headerEnd: number;
  /** The warning, or null for a sheet skipped because an earlier one with its header was. */
  why: Warning | null;
}

/**
 * Appends a sheet's data rows to a temp table, a data chunk per 2,048 rows (ChunkAppender). No cell is NULL:
 * `t<k>` says what the cell is (0 empty, 1 text, 2 number, 3 boolean, 4 date), `c<k>` is ''
 * and `n<k>` 0 where they do not apply — a chunk column with a NULL makes the client library set
 * each row's validity bit with BigInt arithmetic (1 of the 2.6 CPU-s of appending 200,000 rows).
 */
class RawAppender extends ChunkAppender {
  constructor(
    appender: Awaited<ReturnType<WriteTx['connection']['createAppender']>>,
    readonly width: number
  ) {
    super(appender, [INTEGER, INTEGER, BOOLEAN, ...Array.from({ length: width }, () => [VARCHAR, DOUBLE, UTINYINT]).flat()], false);
  }
  cells(id: number, line: number, force: boolean, cells: unknown[], kinds: CellKinds[]) {
    const c = this.cols;
    c[0].push(id);
    c[1].push(line);
    c[2].push(force);
    for (let k = 0; k < this.width; k++) {
      const v = cells[k];
      const s = c[3 + 3 * k];
      const num = c[4 + 3 * k];
      const t = c[5 + 3 * k];
      if (typeof v === 'string') {
        s.push(v);
        num.push(0);
        t.push(1);
      } else if (typeof v === 'number') {
        s.push('');
        num.push(v);
        t.push(2);
        kinds[k].num = true;
      } else if (v instanceof Date) {
        s.push('');
        num.push(v.getTime());
        t.push(4);
        kinds[k].date = true;
      } else if (typeof v === 'boolean') {
        s.push('');
        num.push(v ? 1 : 0);
        t.push(3);
        kinds[k].bool = true;
      } else {
        // null/undefined (the reader gives nothing else)
        s.push('');
        num.push(0);
        t.push(0);
      }
    }
    this.rowDone();
  }
  close() {
    this.flush();
    super.close();
  }
}

/**
 * Reads one excel source through our reader into DuckDB and SQL into the staging tables, or
 * says why it cannot (then nothing was staged and no event was reported).
 */
export async function ingestXlsxSql(a: IngestArgs): Promise<XlsxSqlOutcome> {
  const { source, config, pipe } = a;
  const tx = profiled(a.tx);
  if (source.type !== 'excel') return js('not an excel source');
  if (source.entity !== 'opportunities') return js(`the SQL path covers deals (opportunities) only, not ${source.entity}`);
  if (source.stage_dates && Object.keys(source.stage_dates).length) return js('stage_dates are read by the JS path');
  const s = source as SourceConfig & { path: string; sheet?: string | string[]; header_row?: number; max_row_chars?: number };
  let path: string;
  try {
    path = confinedPath(s, { baseDir: a.baseDir, config });
  } catch {
    return js('the path is checked by the JS reader');
  }
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const sheets: (DataSheet | SkippedSheet)[] = [];
  const wanted = s.sheet === undefined ? null : Array.isArray(s.sheet) ? s.sheet : [s.sheet];
  const wholeWorkbook = !wanted;
  let wb: Workbook;
  try {
    wb = await openWorkbook(path, { maxRowChars: s.max_row_chars ?? DEFAULT_MAX_ROW_CHARS });
  } catch {
    return js('the JS reader reports this file');
  }
  const drop = async () => {
    for (let i = 0; i < sheets.length; i++) await tx.run(`DROP TABLE IF EXISTS temp.vx_raw${i}`);
    await dropTemp(tx);
  };
  // Header keys of sheets skipped so far (sync.ts skipHeaders): later sheets with the same header are skipped too.
  const skipKeys = new Set<string>();
  let total = 0;
  try {
    const found = new Set<string>();
    for (const sheet of wb.sheets) {
      if (wanted && !wanted.includes(sheet.name)) continue;
      found.add(sheet.name);
      const table = `vx_raw${sheets.length}`;
      // The JS path's rule (sync.ts), decided once the header is known: a sheet with a header
      // skipped before, or one its rules skip, is kept in memory to be shaped in JS, not appended.
      const rule: { why: Warning | null } = { why: null };
      const skipped = (headers: string[], meta: RecordMeta) => {
        if (!wholeWorkbook) return false;
        const key = headers.join('\u0001');
        rule.why = skipKeys.has(key) ? null : sheetSkipWhy(s, config, pipe, headers, undefined, meta);
        return rule.why !== null || skipKeys.has(key);
      };
      const out = await readSheet(tx, wb, sheet, table, s, path, skipped);
      if (typeof out === 'string') {
        await drop();
        return js(out);
      }
      if (out.kept) {
        const sk: SkippedSheet = { kind: 'skipped', name: sheet.name, headers: out.headers, meta: out.meta, rows: out.kept, headerEnd: out.headerEnd, why: rule.why };
        // The rule is remembered once the sheet gave a record (sync.ts checks a batch's first record).
        if (rule.why && countRecords(sk) > 0) skipKeys.add(out.headers.join('\u0001'));
        sheets.push(sk);
        continue;
      }
      const mapped = sqlMapping(pipe, out.headers, out.meta);
      if ('why' in mapped) {
        await drop();
        return js(mapped.why);
      }
      out.mapping = mapped.mapping;
      out.unmapped = mapped.unmapped;
      total += out.n;
      sheets.push(out);
    }
    const missing = (wanted ?? []).filter((w) => !found.has(w));
    if (missing.length) {
      await drop();
      return js('a sheet named in the source is missing (the JS reader reports it)');
    }
    if (!sheets.some((x) => x.kind === 'data')) {
      await drop();
      return js('no sheet with data for the SQL path');
    }
  } catch (e) {
    await drop().catch(() => undefined);
    return js(`the JS reader reports this file (${(e as Error).message.split('\n')[0].slice(0, 120)})`);
  } finally {
    await wb.close();
  }
  if (process.env.COCKPIT_CSV_PROFILE) {
    const c = process.cpuUsage(c0);
    console.log(`    ${(performance.now() - t0).toFixed(0)} ms (${((c.user + c.system) / 1000).toFixed(0)} CPU-ms) xlsx read and appended: ${total} rows`);
  }

  // --- Every sheet is covered: clean each, in tab order.
  let rows = 0;
  let jsRows = 0;
  let unmappedRows = 0;
  const rejected: Rejection[] = [];
  try {
    for (let i = 0; i < sheets.length; i++) {
      const sh = sheets[i];
      const where = `${path} [${sh.name}]`;
      if (sh.kind === 'skipped') {
        unmappedRows += replaySkipped(a, sh, where);
        continue;
      }
      for (const r of sh.gaps) a.events.skip(r, 'blank');
      await tx.run(`ALTER TABLE temp.vx_raw${i} RENAME TO vc_raw`);
      const width = sh.headers.length;
      const out = await cleanRaw(a, {
        headers: sh.headers,
        meta: sh.meta,
        mapping: sh.mapping,
        unmapped: sh.unmapped,
        where,
        n: sh.n,
        kinds: sh.kinds,
        rawId: (alias) => `${alias}._id`,
        lineSql: 'm._line',
        force: sh.wide.size > 0,
        cellColumns: Array.from({ length: width }, (_, k) => [`r.c${k}`, `r.n${k}`, `r.t${k}`, `CASE WHEN NOT isfinite(r.n${k}) THEN CAST(r.n${k} AS VARCHAR) END AS x${k}`]).flat(),
        cells: (r) => sh.wide.get(Number(r._id)) ?? Array.from({ length: width }, (_, k) => cellOf(r, k))
      });
      rows += out.rows;
      jsRows += out.jsRows;
      rejected.push(...out.rejected);
      a.log(`  ${source.name} [${sh.name}]: read into DuckDB (SQL path): ${sh.n.toLocaleString()} rows, ${out.jsRows.toLocaleString()} through the JS pipeline`);
    }
  } catch (e) {
    await drop().catch(() => undefined);
    throw e;
  }
  await drop();
  return { path: 'sql', location: path, rows, jsRows, rejected, unmappedRows };
}

/** A cell of a JS row as the reader gave it (text, number, boolean, Date, or null). */
function cellOf(r: Record<string, unknown>, k: number): unknown {
  const t = Number(r[`t${k}`]);
  if (t === 1) return r[`c${k}`];
  if (t === 0) return null;
  const x = r[`x${k}`] as string | null;
  const n = x ? (x === 'inf' ? Infinity : x === '-inf' ? -Infinity : NaN) : (r[`n${k}`] as number);
  if (t === 4) return new Date(n);
  if (t === 3) return n !== 0;
  return n;
}

const silent = { warn: () => undefined, skip: () => undefined };

/** Records a skipped sheet gives (its rows through a silent row shaper). */
function countRecords(sh: SkippedSheet): number {
  const shaper = new RowShaper(sh.headers, silent, '', sh.meta);
  let n = 0;
  for (const r of sh.rows) if (shaper.shape(r.cells, r.row)) n++;
  return n;
}

/**
 * A sheet skipped by rule, reported as sync.ts reports it: its rows shaped (blank and summary
 * rows skipped, with their warnings), the sheet's warning after its first batch of records;
 * returns its records (counted as skipped, unmapped).
 */
function replaySkipped(a: IngestArgs, sh: SkippedSheet, where: string): number {
  const shaper = new RowShaper(sh.headers, a.events, where, sh.meta);
  let lastRow = sh.headerEnd;
  let records = 0;
  let warned = false;
  const warnOnce = () => {
    if (warned || !sh.why) return;
    warned = true;
    const whyRef = { code: sh.why.code, params: sh.why.params };
    const columns = sh.headers.join(', ');
    const w = sh.name ? warning('sheet_skipped', { sheet: sh.name, columns, why: whyRef }) : warning('unnamed_sheet_skipped', { columns, why: whyRef });
    a.events.warn(w.text, { code: w.code, params: w.params });
  };
  for (const r of sh.rows) {
    for (let x = lastRow + 1; x < r.row; x++) a.events.skip(x, 'blank');
    lastRow = r.row;
    if (shaper.shape(r.cells, r.row) && ++records % BATCH === 0) warnOnce();
  }
  if (records > 0) warnOnce();
  return records;
}

/**
 * One sheet: its header found as the reader finds it, then (a data sheet) its rows appended to
 * `table`, or (a small sheet that may be skipped by rule) kept in memory. A string says why the
 * SQL path cannot take the file.
 */
async function readSheet(
  tx: WriteTx,
  wb: Workbook,
  sheet: WorkbookSheet,
  table: string,
  s: { header_row?: number },
  path: string,
  skipped: (headers: string[], meta: RecordMeta) => boolean
): Promise<DataSheet | string> {
  const first: { cells: unknown[]; row: number }[] = [];
  const need = SCAN_ROWS + (s.header_row ?? 0);
  let layout: ReturnType<typeof layoutHeader> = null;
  let app: RawAppender | null = null;
  let kinds: CellKinds[] = [];
  const wide = new Map<number, unknown[]>();
  const gaps: number[] = [];
  let id = 0;
  let lastRow = 0;
  let width = 0;
  let kept: { cells: unknown[]; row: number }[] | null = null;
  let meta: RecordMeta = {};
  const start = async (): Promise<string | null> => {
    layout = layoutHeader(first, s.header_row);
    if (!layout) return `${path} [${sheet.name}]: header row not found (the JS reader reports it)`;
    width = layout.names.length;
    meta = { sheet: sheet.name, unit: layout.unit, headerRows: layout.rows.map((i) => first[i].row) };
    lastRow = first[layout.dataStart - 1].row;
    if (skipped(layout.names, meta)) kept = [];
    else {
      kinds = Array.from({ length: width }, () => ({ num: false, date: false, bool: false }));
      const cols = Array.from({ length: width }, (_, k) => `c${k} VARCHAR, n${k} DOUBLE, t${k} UTINYINT`).join(', ');
      await tx.run(`CREATE OR REPLACE TEMP TABLE ${table} (_id INTEGER, _line INTEGER, _force BOOLEAN${cols ? ', ' + cols : ''})`);
      app = new RawAppender(await tx.connection.createAppender(table, 'main', 'temp'), width);
    }
    for (const r of first.slice(layout.dataStart)) if (!emit(r.cells, r.row)) return tooBig;
    return null;
  };
  const tooBig = `sheet ${sheet.name} is skipped by rule and too large to shape from memory`;
  /** False when a kept sheet grew too large. */
  const emit = (cells: unknown[], row: number): boolean => {
    if (kept) {
      kept.push({ cells, row });
      return kept.length <= MAX_SKIPPED_ROWS;
    }
    for (let r = lastRow + 1; r < row; r++) gaps.push(r);
    lastRow = row;
    const force = cells.length > width;
    if (force) wide.set(id, cells);
    app!.cells(id++, row, force, cells, kinds);
    return true;
  };
  try {
    for await (const rows of wb.rows(sheet)) {
      for (const row of rows) {
        if (!layout) {
          first.push({ cells: row.cells, row: row.number });
          if (first.length >= need) {
            const why = await start();
            if (why) return why;
          }
        } else if (!emit(row.cells, row.number)) return tooBig;
      }
    }
    if (!layout) {
      if (first.length === 0) return `sheet ${sheet.name} is empty (the JS reader warns)`;
      const why = await start();
      if (why) return why;
    }
  } finally {
    (app as RawAppender | null)?.close();
  }
  const lay = layout as unknown as NonNullable<ReturnType<typeof layoutHeader>>;
  return { kind: 'data', table, name: sheet.name, headers: lay.names, meta, mapping: [], unmapped: [], n: id, kinds, gaps, wide, kept, headerEnd: first[lay.dataStart - 1].row };
}
