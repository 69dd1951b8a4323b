/**
 * File connectors at scale: an .xlsx of 200,000 and 1,000,000 deals and a CSV of 10,000,000,
 * each imported through the whole connector path (streaming reader → mapping/cleaning/
 * validation → staging → one-transaction upsert with history and derived facts), in its own
 * process for an honest peak RSS — beside DuckDB's own `read_csv` of the same rows as CSV
 * into a table, the floor for getting that data into DuckDB at all. For an .xlsx also the
 * reader alone (records counted, nothing loaded) beside the former exceljs-based reader on the
 * same file, and with `BENCH_XLSX_BEFORE=1` the whole import with the former reader. With
 * `BENCH_IMPORT_JS=1`, the import through the row-by-row JS path too (the SQL path's baseline).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ExcelJS from 'exceljs';
import type { BenchRow } from '../run';
import type { Suite } from './index';

const ROOT = resolve(import.meta.dirname, '../..');
const HEADER = ['商机编号', '客户名称', '负责人', '销售阶段', '预计成交金额', '创建日期', '所在地区'];
const STAGES = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
const REGIONS = ['上海市', '浙江省', '江苏省', '广东省', '北京市'];

function row(i: number): (string | number)[] {
  const day = 1 + (i % 28);
  return [`OPP-${i}`, `客户${i % 20000}`, `销售${i % 300}`, STAGES[i % 6], 1000 + ((i * 7919) % 900000), `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(day).padStart(2, '0')}`, REGIONS[i % 5]];
}

export async function writeCsv(path: string, n: number) {
  const out = createWriteStream(path);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(HEADER.join(',') + '\n');
  let buf = '';
  for (let i = 1; i <= n; i++) {
    buf += row(i).join(',') + '\n';
    if (buf.length > 1 << 20) {
      await write(buf);
      buf = '';
    }
  }
  await write(buf);
  await new Promise<void>((r) => out.end(() => r()));
}

async function writeXlsx(path: string, n: number) {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: path, useSharedStrings: false, useStyles: false });
  const ws = wb.addWorksheet('商机');
  ws.addRow(HEADER).commit();
  for (let i = 1; i <= n; i++) ws.addRow(row(i)).commit();
  ws.commit();
  await wb.commit();
}

/** The bench file with 1% of its rows changed: every 100th deal moves to the next stage (some into won or lost, so their close dates are derived) and its amount grows by 500. */
export async function writeChangedCsv(path: string, n: number) {
  const out = createWriteStream(path);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(HEADER.join(',') + '\n');
  let buf = '';
  for (let i = 1; i <= n; i++) {
    const r = row(i);
    if (i % 100 === 7) {
      r[3] = STAGES[(i + 1) % 6];
      r[4] = Number(r[4]) + 500;
    }
    buf += r.join(',') + '\n';
    if (buf.length > 1 << 20) {
      await write(buf);
      buf = '';
    }
  }
  await write(buf);
  await new Promise<void>((r) => out.end(() => r()));
}

type Run = { rows: number; ms: number; cpu_ms: number; facts: string };
function measureIncr(mode: 'incr' | 'incr_before', file: string, file2: string, dir: string): { full: Run; changed: Run; versions: number; rss_mb: number } {
  const db = join(dir, `${mode}-${Date.now()}.duckdb`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/connectors-child.ts'), mode, file, db, file2], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${mode} ${file} failed:\n${r.stderr}`);
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/**
 * `incr:N`: a full import of the N-row bench CSV, then the same file with 1% of its rows changed
 * into the same database (docs/decisions.md, "Incremental sync"): CPU and wall time of each, in
 * one process. With BENCH_INCR_BEFORE=1 also the same two imports on the former full path.
 */
async function incrCase(n: number, dir: string, log: (m: string) => void): Promise<BenchRow[]> {
  const csv = join(dir, `deals-${n}.csv`);
  const changed = join(dir, `deals-${n}-changed.csv`);
  log(`writing ${n.toLocaleString()} rows as CSV, and a copy with 1% of the rows changed…`);
  await writeCsv(csv, n);
  await writeChangedCsv(changed, n);
  const rows: BenchRow[] = [];
  const m = measureIncr('incr', csv, changed, dir);
  if (m.full.rows !== n || m.changed.rows !== n) throw new Error(`row counts: ${m.full.rows}, ${m.changed.rows}, expected ${n}`);
  const s = (x: number) => (x / 1000).toFixed(1);
  log(`  full import ${s(m.full.ms)} s (${s(m.full.cpu_ms)} CPU-s); 1% changed ${s(m.changed.ms)} s (${s(m.changed.cpu_ms)} CPU-s); ${m.changed.facts}; ${m.versions} versions`);
  const label = 'the full import of the same file, same process';
  const k = `csv ${n.toLocaleString()} rows, 1% changed, re-imported`;
  rows.push({ case: `${k}: CPU time`, value: m.changed.cpu_ms, baseline: m.full.cpu_ms, baseline_label: label, note: 'whole process, all threads; target < 0.10×' });
  rows.push({ case: `${k}: time`, value: m.changed.ms, baseline: m.full.ms, baseline_label: label, note: m.changed.facts });
  if (process.env.BENCH_INCR_BEFORE === '1') {
    const b = measureIncr('incr_before', csv, changed, dir);
    if (b.versions !== m.versions) throw new Error(`versions: ${m.versions} incremental, ${b.versions} on the full path`);
    log(`  former full path: full import ${s(b.full.ms)} s (${s(b.full.cpu_ms)} CPU-s); 1% changed ${s(b.changed.ms)} s (${s(b.changed.cpu_ms)} CPU-s)`);
    const bl = 'the same re-import on the former full path (every row upserted, every derived table rebuilt)';
    rows.push({ case: `${k}: CPU time vs the former path`, value: m.changed.cpu_ms, baseline: b.changed.cpu_ms, baseline_label: bl, note: 'whole process, all threads' });
    rows.push({ case: `${k}: time vs the former path`, value: m.changed.ms, baseline: b.changed.ms, baseline_label: bl });
  }
  rmSync(csv, { force: true });
  rmSync(changed, { force: true });
  return rows;
}

function measure(mode: 'import' | 'import_js' | 'read_csv' | 'read' | 'read_exceljs' | 'import_exceljs', file: string, dir: string): { rows: number; ms: number; cpu_ms?: number; rss_mb: number; path?: string } {
  const db = join(dir, `${mode}-${Date.now()}.duckdb`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/connectors-child.ts'), mode, file, db], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 1 << 26
  });
  if (r.status !== 0) throw new Error(`${mode} ${file} failed:\n${r.stderr}`);
  rmSync(db, { force: true });
  rmSync(`${db}.wal`, { force: true });
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

export const connectorsFiles: Suite = {
  name: 'connectors-files',
  description:
    'xlsx 200k / 1M and CSV 10M deals through the connector path vs DuckDB read_csv of the same rows; the xlsx reader alone vs the former exceljs reader; a 1M CSV re-imported with 1% of its rows changed vs its full import',
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-connectors-'));
    const rows: BenchRow[] = [];
    const sizes = (process.env.BENCH_CONNECTORS_SIZES ?? 'xlsx:200000,xlsx:1000000,csv:10000000,incr:1000000').split(',');
    try {
      for (const spec of sizes) {
        const [kind, nText] = spec.split(':');
        const n = Number(nText);
        if (kind === 'incr') {
          rows.push(...(await incrCase(n, dir, log)));
          continue;
        }
        const csv = join(dir, `deals-${n}.csv`);
        log(`writing ${n.toLocaleString()} rows as CSV${kind === 'xlsx' ? ' and xlsx' : ''}…`);
        await writeCsv(csv, n);
        let file = csv;
        if (kind === 'xlsx') {
          file = join(dir, `deals-${n}.xlsx`);
          await writeXlsx(file, n);
        }
        log(`importing ${file}…`);
        const imp = measure('import', file, dir);
        const floor = measure('read_csv', csv, dir);
        if (imp.rows !== n || floor.rows !== n) throw new Error(`row counts: import ${imp.rows}, read_csv ${floor.rows}, expected ${n}`);
        log(`  import (${imp.path} path) ${(imp.ms / 1000).toFixed(1)} s (${((imp.cpu_ms ?? 0) / 1000).toFixed(1)} CPU-s), ${Math.round(imp.rss_mb)} MB; read_csv ${(floor.ms / 1000).toFixed(1)} s (${((floor.cpu_ms ?? 0) / 1000).toFixed(1)} CPU-s), ${Math.round(floor.rss_mb)} MB`);
        const label = `DuckDB read_csv of the same rows`;
        rows.push({ case: `${kind} ${n.toLocaleString()} rows: rows/s`, value: n / (imp.ms / 1000), baseline: n / (floor.ms / 1000), baseline_label: label, unit: 'rows/s', note: 'higher is better' });
        rows.push({ case: `${kind} ${n.toLocaleString()} rows: time`, value: imp.ms, baseline: floor.ms, baseline_label: label });
        if (imp.cpu_ms !== undefined && floor.cpu_ms !== undefined) {
          rows.push({ case: `${kind} ${n.toLocaleString()} rows: CPU time`, value: imp.cpu_ms, baseline: floor.cpu_ms, baseline_label: label, note: 'whole process, all threads' });
        }
        rows.push({ case: `${kind} ${n.toLocaleString()} rows: peak RSS`, value: imp.rss_mb, baseline: floor.rss_mb, baseline_label: label, unit: 'MB', note: 'whole process' });
        if (process.env.BENCH_IMPORT_JS === '1') {
          // The SQL path (csv-sql.ts / xlsx-sql.ts) against the row-by-row JS path, alternating, two runs each.
          const sqlRuns = [imp];
          const jsRuns: typeof imp[] = [];
          for (let k = 0; k < 2; k++) {
            const b = measure('import_js', file, dir);
            if (b.rows !== n) throw new Error(`import through the JS path: ${b.rows} rows, expected ${n}`);
            jsRuns.push(b);
            if (k === 0) sqlRuns.push(measure('import', file, dir));
          }
          const best = (xs: typeof imp[], f: (x: typeof imp) => number) => Math.min(...xs.map(f));
          const lj = 'the same import through the row-by-row JS path (best of 2, alternating)';
          log(`  SQL path: ${sqlRuns.map((x) => `${(x.ms / 1000).toFixed(1)} s / ${((x.cpu_ms ?? 0) / 1000).toFixed(1)} CPU-s (${x.path})`).join(', ')}; JS path: ${jsRuns.map((x) => `${(x.ms / 1000).toFixed(1)} s / ${((x.cpu_ms ?? 0) / 1000).toFixed(1)} CPU-s (${x.path})`).join(', ')}`);
          rows.push({ case: `${kind} ${n.toLocaleString()} rows: SQL path vs JS path, rows/s`, value: n / (best(sqlRuns, (x) => x.ms) / 1000), baseline: n / (best(jsRuns, (x) => x.ms) / 1000), baseline_label: lj, unit: 'rows/s', note: 'higher is better' });
          rows.push({ case: `${kind} ${n.toLocaleString()} rows: SQL path vs JS path, rows per CPU-s`, value: n / (best(sqlRuns, (x) => x.cpu_ms ?? Infinity) / 1000), baseline: n / (best(jsRuns, (x) => x.cpu_ms ?? Infinity) / 1000), baseline_label: lj, unit: 'rows/CPU-s', note: 'higher is better; whole process, all threads' });
          rows.push({ case: `${kind} ${n.toLocaleString()} rows: SQL path vs JS path, peak RSS`, value: Math.max(...sqlRuns.map((x) => x.rss_mb)), baseline: Math.max(...jsRuns.map((x) => x.rss_mb)), baseline_label: lj, unit: 'MB', note: 'whole process' });
        }
        if (kind === 'xlsx') {
          // The reader alone, alternating with the exceljs-based reader it replaced (two runs each).
          const mine: number[] = [];
          const before: number[] = [];
          let rss = [0, 0];
          for (let k = 0; k < 2; k++) {
            const a = measure('read', file, dir);
            const b = measure('read_exceljs', file, dir);
            if (a.rows !== n || b.rows !== n) throw new Error(`reader row counts: ${a.rows}, exceljs ${b.rows}, expected ${n}`);
            mine.push(a.ms);
            before.push(b.ms);
            rss = [Math.max(rss[0], a.rss_mb), Math.max(rss[1], b.rss_mb)];
          }
          const best = (xs: number[]) => Math.min(...xs);
          log(`  reader alone ${(best(mine) / 1000).toFixed(1)} s, exceljs reader ${(best(before) / 1000).toFixed(1)} s`);
          const rl = 'the former exceljs-based reader (best of 2)';
          rows.push({ case: `xlsx ${n.toLocaleString()} rows: reader alone, rows/s`, value: n / (best(mine) / 1000), baseline: n / (best(before) / 1000), baseline_label: rl, unit: 'rows/s', note: 'higher is better' });
          rows.push({ case: `xlsx ${n.toLocaleString()} rows: reader alone, peak RSS`, value: rss[0], baseline: rss[1], baseline_label: rl, unit: 'MB', note: 'whole process' });
          if (process.env.BENCH_XLSX_BEFORE === '1') {
            const old = measure('import_exceljs', file, dir);
            if (old.rows !== n) throw new Error(`import with the exceljs reader: ${old.rows} rows, expected ${n}`);
            log(`  import with the exceljs reader ${(old.ms / 1000).toFixed(1)} s, ${Math.round(old.rss_mb)} MB`);
            const il = 'the same import with the former exceljs-based reader';
            rows.push({ case: `xlsx ${n.toLocaleString()} rows: import rows/s vs before`, value: n / (imp.ms / 1000), baseline: n / (old.ms / 1000), baseline_label: il, unit: 'rows/s', note: 'higher is better' });
            rows.push({ case: `xlsx ${n.toLocaleString()} rows: import peak RSS vs before`, value: imp.rss_mb, baseline: old.rss_mb, baseline_label: il, unit: 'MB', note: 'whole process' });
          }
        }
        rmSync(csv, { force: true });
        if (file !== csv) rmSync(file, { force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  }
};
