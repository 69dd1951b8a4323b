/**
 * Rejected rows back out, in their original columns (plus cockpit_row, cockpit_field,
 * cockpit_reason), as .xlsx or .csv: fix them and import the file again.
 */
import { createWriteStream } from 'node:fs';
import ExcelJS from 'exceljs';
import type { Database } from '../../src/lib/server/db/database';
import { sql } from '../../src/lib/server/db/sql';
import { REJECT_EXPORT_COLUMNS } from '../pipeline/pipeline';

export interface RejectedExport {
  run: string | null;
  source: string | null;
  rows: number;
  lines: string[];
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function exportRejected(db: Database, opts: { run?: string; out?: string }): Promise<RejectedExport> {
  const run =
    opts.run ??
    (
      await db.query<{ run_id: string }>(
        `SELECT r.run_id FROM rejected_rows r JOIN sync_runs s USING (run_id) GROUP BY r.run_id, s.started_at ORDER BY s.started_at DESC, r.run_id LIMIT 1`
      )
    ).rows[0]?.run_id;
  if (!run) return { run: null, source: null, rows: 0, lines: [] };
  const { rows } = await db.query<{ source: string; file: string | null; row_number: number; field: string | null; value: string | null; reason: string; raw: string }>(
    sql`SELECT source, file, row_number::DOUBLE AS row_number, field, value, reason, raw::VARCHAR AS raw FROM rejected_rows WHERE run_id = ${run} ORDER BY row_number`
  );
  if (rows.length === 0) return { run: null, source: null, rows: 0, lines: [] };
  const records = rows.map((r) => ({ ...r, data: JSON.parse(r.raw ?? '{}') as Record<string, unknown> }));
  const columns: string[] = [];
  for (const r of records) for (const k of Object.keys(r.data)) if (!columns.includes(k) && !REJECT_EXPORT_COLUMNS.includes(k)) columns.push(k);
  const header = [...columns, ...REJECT_EXPORT_COLUMNS];
  const lines = records.map((r) => `row ${r.row_number}${r.field ? ` ${r.field}` : ''}${r.value !== null ? ` "${r.value}"` : ''}: ${r.reason}`);
  if (opts.out) {
    const values = records.map((r) => [...columns.map((c) => r.data[c] ?? null), r.row_number, r.field, r.reason]);
    if (opts.out.toLowerCase().endsWith('.csv')) {
      const out = createWriteStream(opts.out);
      out.write('\uFEFF' + header.map(csvCell).join(',') + '\r\n');
      for (const v of values) out.write(v.map(csvCell).join(',') + '\r\n');
      await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    } else {
      const wb = new ExcelJS.Workbook();
      const ws = wb.addWorksheet('rejected');
      ws.addRow(header);
      ws.getRow(1).font = { bold: true };
      for (const v of values) ws.addRow(v.map((x) => (x !== null && typeof x === 'object' ? JSON.stringify(x) : x)));
      await wb.xlsx.writeFile(opts.out);
    }
  }
  return { run, source: rows[0].source, rows: rows.length, lines };
}
