/**
 * Rejected rows back out, in their original columns (plus cockpit_source, cockpit_sheet,
 * cockpit_row, cockpit_column, cockpit_field, cockpit_reason and cockpit_reason_zh, the reason in
 * Chinese), as .xlsx or .csv: fix them and
 * import the file again (those columns are ignored on import).
 *
 * A run is one sync or import: every source it read (each has its own `run_id` in
 * `sync_runs`, all with the same start time). An .xlsx export has one sheet per source (and
 * workbook sheet), so each can be re-imported as it came; a .csv has them one after another.
 */
import { createWriteStream } from 'node:fs';
import ExcelJS from 'exceljs';
import type { Database } from '../../src/lib/server/db/database';
import { sql } from '../../src/lib/server/db/sql';
import { REJECT_EXPORT_COLUMNS } from '../pipeline/pipeline';
import type { ReasonCode, ReasonParams } from '../pipeline/reasons';
import { formatList, translator } from '../../src/lib/i18n';
import { columnLabel } from '../../src/lib/i18n/columns';
import { reasonLabel } from '../../src/lib/i18n/parts/reasons';

export interface RejectedRow {
  run_id: string;
  source: string;
  file: string | null;
  sheet: string | null;
  row_number: number;
  column_name: string | null;
  field: string | null;
  value: string | null;
  reason: string;
  /** The reason's code and parameters (../pipeline/reasons.ts); null for rows rejected before they were stored. */
  code: ReasonCode | null;
  params: ReasonParams | null;
  data: Record<string, unknown>;
}

export interface RejectedExport {
  /** The run ids (one per source of the sync) whose rejected rows these are. */
  run: string | null;
  runs: string[];
  source: string | null;
  sources: string[];
  rows: number;
  lines: string[];
  records: RejectedRow[];
}

const zh = translator('zh-CN');
/** The reason in Chinese (its code through the i18n catalog; the English text for rows stored without a code). */
function reasonZh(r: RejectedRow): string {
  return reasonLabel(zh, r, (f) => columnLabel(f, 'zh-CN'), (xs) => formatList('zh-CN', xs));
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The run ids of the sync a run id belongs to (same start), or of the latest sync with rejections. */
export async function syncRunIds(db: Database, run?: string): Promise<string[]> {
  const started = run
    ? (await db.query<{ t: string }>(sql`SELECT started_at::VARCHAR AS t FROM sync_runs WHERE run_id = ${run}`)).rows[0]?.t
    : (
        await db.query<{ t: string }>(
          `SELECT s.started_at::VARCHAR AS t FROM rejected_rows r JOIN sync_runs s USING (run_id) ORDER BY s.started_at DESC LIMIT 1`
        )
      ).rows[0]?.t;
  if (!started) return [];
  const { rows } = await db.query<{ run_id: string }>(sql`SELECT run_id FROM sync_runs WHERE started_at = ${started}::TIMESTAMP ORDER BY run_id`);
  return rows.map((r) => r.run_id);
}

/** Every rejected row of the given runs, in source, sheet and row order. */
export async function rejectedRows(db: Database, runs: string[]): Promise<RejectedRow[]> {
  if (runs.length === 0) return [];
  const { rows } = await db.query<Omit<RejectedRow, 'data' | 'params'> & { raw: string; params: string | null }>(
    sql`SELECT run_id, source, file, sheet, row_number::DOUBLE AS row_number, column_name, field, value, reason,
          reason_code AS code, reason_params::VARCHAR AS params, raw::VARCHAR AS raw
        FROM rejected_rows WHERE list_contains(${runs}::VARCHAR[], run_id) ORDER BY source, sheet NULLS FIRST, row_number`
  );
  return rows.map(({ raw, params, ...r }) => ({
    ...r,
    row_number: Number(r.row_number),
    params: params ? (JSON.parse(params) as ReasonParams) : null,
    data: JSON.parse(raw ?? '{}') as Record<string, unknown>
  }));
}

export function describeRejection(r: Pick<RejectedRow, 'sheet' | 'row_number' | 'column_name' | 'field' | 'value' | 'reason'>): string {
  return `${r.sheet ? `[${r.sheet}] ` : ''}row ${r.row_number}${r.column_name ? `, column "${r.column_name}"` : r.field ? ` ${r.field}` : ''}${r.value !== null ? `, value "${r.value}"` : ''}: ${r.reason}`;
}

/** The rejected rows as a workbook (one sheet per source and sheet) or CSV, re-importable. */
export async function writeRejected(records: RejectedRow[], out: string): Promise<void> {
  const groups = new Map<string, RejectedRow[]>();
  for (const r of records) {
    const k = r.sheet ? `${r.source} ${r.sheet}` : r.source;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const table = (rs: RejectedRow[]) => {
    const columns: string[] = [];
    for (const r of rs) for (const k of Object.keys(r.data)) if (!columns.includes(k) && !REJECT_EXPORT_COLUMNS.includes(k)) columns.push(k);
    const header = [...columns, ...REJECT_EXPORT_COLUMNS];
    const values = rs.map((r) => [...columns.map((c) => r.data[c] ?? null), r.source, r.sheet, r.row_number, r.column_name, r.field, r.reason, reasonZh(r)]);
    return { header, values };
  };
  if (out.toLowerCase().endsWith('.csv')) {
    const s = createWriteStream(out);
    let first = true;
    for (const rs of groups.values()) {
      const { header, values } = table(rs);
      if (!first) s.write('\r\n');
      s.write((first ? '\uFEFF' : '') + header.map(csvCell).join(',') + '\r\n');
      for (const v of values) s.write(v.map(csvCell).join(',') + '\r\n');
      first = false;
    }
    await new Promise<void>((res, rej) => s.end((e?: Error | null) => (e ? rej(e) : res())));
    return;
  }
  const wb = new ExcelJS.Workbook();
  const used = new Set<string>();
  for (const [k, rs] of groups) {
    // Sheet names: at most 31 characters, no []:*?/\ and unique.
    let name = k.replace(/[[\]:*?/\\]/g, '_').slice(0, 31) || 'rejected';
    for (let n = 2; used.has(name); n++) name = `${k.slice(0, 27)}_${n}`;
    used.add(name);
    const ws = wb.addWorksheet(name);
    const { header, values } = table(rs);
    ws.addRow(header);
    ws.getRow(1).font = { bold: true };
    for (const v of values) ws.addRow(v.map((x) => (x !== null && typeof x === 'object' && !(x instanceof Date) ? JSON.stringify(x) : x)));
  }
  if (groups.size === 0) wb.addWorksheet('rejected').addRow(REJECT_EXPORT_COLUMNS);
  await wb.xlsx.writeFile(out);
}

export async function exportRejected(db: Database, opts: { run?: string; out?: string }): Promise<RejectedExport> {
  const runs = await syncRunIds(db, opts.run);
  const records = await rejectedRows(db, runs);
  if (records.length === 0) return { run: null, runs: [], source: null, sources: [], rows: 0, lines: [], records: [] };
  const sources = [...new Set(records.map((r) => r.source))];
  if (opts.out) await writeRejected(records, opts.out);
  return {
    run: opts.run ?? records[0].run_id,
    runs,
    source: sources.join(', '),
    sources,
    rows: records.length,
    lines: records.map((r) => `${sources.length > 1 ? `${r.source} ` : ''}${describeRejection(r)}`),
    records
  };
}
