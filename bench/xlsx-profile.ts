/**
 * Where an import's time goes, phase by phase (issue 15.1): `tsx bench/xlsx-profile.ts FILE DB`
 * imports FILE (an .xlsx or a .csv of deals) into the DuckDB file DB and prints each sync log
 * line with the wall and CPU seconds (user+sys, all threads) since the previous line, then one
 * JSON line: rows, ms, cpu_ms, rss_mb. `COCKPIT_XLSX_PATH=js` (or `COCKPIT_CSV_PATH=js`) forces the
 * row-by-row path, the baseline.
 */
import { dirname } from 'node:path';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { runSync } from '../connectors/load/sync';

const [file, dbPath] = process.argv.slice(2);
const db = await Database.open(dbPath);
const type = file.endsWith('.xlsx') ? 'excel' : 'csv';
const r = parseConfig({ sources: [{ name: 'bench', type, entity: 'opportunities', path: file }] }, null, dirname(file));
if (!r.ok) throw new Error(r.issues.join('\n'));
const t0 = performance.now();
const c0 = process.cpuUsage();
let tPrev = t0;
let cPrev = c0;
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const log = (m: string) => {
  const t = performance.now();
  const c = process.cpuUsage();
  console.log(`${((t - tPrev) / 1000).toFixed(2).padStart(6)} s ${((cpuMs(c) - cpuMs(cPrev)) / 1000).toFixed(2).padStart(6)} CPU-s | ${m}`);
  tPrev = t;
  cPrev = c;
};
const report = await runSync(db, { config: r.config, baseDir: dirname(file), kind: 'import', log });
log('done');
if (!report.ok) throw new Error(report.error ?? 'failed');
const s = report.sources[0];
const ms = performance.now() - t0;
const cpu = process.cpuUsage(c0);
await db.close();
console.log(JSON.stringify({ rows: s.loaded + s.updated, path: s.ingest?.path ?? 'js', why: s.ingest?.why, ms, cpu_ms: cpuMs(cpu), rss_mb: process.resourceUsage().maxRSS / 1024 }));
