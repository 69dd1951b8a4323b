/**
 * One measured run for bench/suites/connectors-files.ts, in its own process so its peak RSS
 * is its own: `tsx bench/connectors-child.ts import FILE DB` (the connector path: reader →
 * pipeline → one-transaction load) or `… read_csv FILE DB` (DuckDB's own CSV reader into a
 * table: the floor), `… read FILE` / `… read_exceljs FILE` (an .xlsx through the reader alone:
 * the current one, or the former exceljs-based one it replaced, records counted and dropped), or
 * `… import_exceljs FILE DB` (the whole import with the former reader), or `… import_js FILE DB`
 * (the whole import through the row-by-row JS path, not the SQL path of csv-sql.ts/xlsx-sql.ts).
 * Prints one JSON line: rows, ms, CPU ms, peak RSS, and which path ran.
 */
import { dirname } from 'node:path';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { runSync } from '../connectors/load/sync';
import { sql } from '../src/lib/server/db/sql';

const [mode, file, dbPath] = process.argv.slice(2);
if (mode === 'read' || mode === 'read_exceljs') {
  const read = mode === 'read' ? (await import('../connectors/file/xlsx')).readXlsx : (await import('../connectors/file/xlsx-exceljs')).readXlsxExceljs;
  const r = parseConfig({}, null, dirname(file));
  if (!r.ok) throw new Error(r.issues.join('\n'));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const reader = await read({ name: 'bench', type: 'excel', entity: 'opportunities', path: file } as never, {
    config: r.config,
    baseDir: dirname(file),
    watermark: null,
    events: { warn: () => undefined, skip: () => undefined }
  });
  let rows = 0;
  for await (const b of reader.batches()) rows += b.length;
  const ms = performance.now() - t0;
  // CPU time too: on a shared machine it varies far less than the wall time.
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ rows, ms, cpu_ms: (cpu.user + cpu.system) / 1000, rss_mb: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}
if (mode === 'import_js') {
  process.env.COCKPIT_XLSX_PATH = 'js';
  process.env.COCKPIT_CSV_PATH = 'js';
}
if (mode === 'import_exceljs') {
  const { registerReader } = await import('../connectors/readers');
  const { readXlsxExceljs } = await import('../connectors/file/xlsx-exceljs');
  registerReader('excel', async () => readXlsxExceljs as never);
}
if (mode === 'incr' || mode === 'incr_before') {
  // The full import of FILE, then FILE2 (the same rows, 1% changed) imported into the same
  // database: incrementally (`incr`) or on the former full path (`incr_before`).
  const file2 = process.argv[5];
  const db = await Database.open(dbPath);
  const r = parseConfig({ sources: [{ name: 'bench', type: 'csv', entity: 'opportunities', path: file }] }, null, dirname(file));
  if (!r.ok) throw new Error(r.issues.join('\n'));
  const once = async (path: string, incremental: boolean) => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const config = { ...r.config, sources: [{ ...r.config.sources[0], path }] };
    const log: string[] = [];
    const report = await runSync(db, { config, baseDir: dirname(file), kind: 'import', incremental, log: (m) => log.push(m) });
    if (!report.ok) throw new Error(report.error ?? 'failed');
    const s = report.sources[0];
    if (s.rejected) throw new Error(`${s.rejected} rows rejected: ${JSON.stringify(s.rejections[0])}`);
    const cpu = process.cpuUsage(cpu0);
    return { rows: s.loaded + s.updated, ms: performance.now() - t0, cpu_ms: (cpu.user + cpu.system) / 1000, facts: log.find((m) => m.startsWith('derived tables:')) ?? '' };
  };
  const full = await once(file, mode === 'incr');
  const changed = await once(file2, mode === 'incr');
  const { rows: v } = await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM opportunity_versions`);
  await db.close();
  console.log(JSON.stringify({ full, changed, versions: v[0].n, rss_mb: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}
const db = await Database.open(dbPath);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
let rows = 0;
let path: string | undefined;
if (mode === 'read_csv') {
  await db.write((tx) => tx.run(sql`CREATE OR REPLACE TABLE raw_floor AS SELECT * FROM read_csv(${file}, header = true)`));
  rows = (await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM raw_floor`)).rows[0].n;
} else {
  const type = file.endsWith('.xlsx') ? 'excel' : 'csv';
  const r = parseConfig({ sources: [{ name: 'bench', type, entity: 'opportunities', path: file }] }, null, dirname(file));
  if (!r.ok) throw new Error(r.issues.join('\n'));
  const report = await runSync(db, { config: r.config, baseDir: dirname(file), kind: 'import' });
  if (!report.ok) throw new Error(report.error ?? 'failed');
  const s = report.sources[0];
  rows = s.loaded + s.updated;
  path = s.ingest?.path ?? 'js';
  if (s.rejected) throw new Error(`${s.rejected} rows rejected: ${JSON.stringify(s.rejections[0])}`);
}
const ms = performance.now() - t0;
// CPU time of the process (DuckDB's threads included): on a shared machine it varies far less than the wall time.
const cpu = process.cpuUsage(cpu0);
await db.close();
console.log(JSON.stringify({ rows, ms, cpu_ms: (cpu.user + cpu.system) / 1000, rss_mb: process.resourceUsage().maxRSS / 1024, path }));
