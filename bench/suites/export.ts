/**
 * A million-row export: every deal of the demo `large` scale (1,000,000 opportunities) as CSV
 * and as XLSX through the HTTP export route, timed end to end (wall and the server's CPU
 * seconds), with the server's peak resident memory (VmHWM, reset before each download).
 *
 * Baseline: DuckDB writing the same rows and columns to a CSV file itself — `COPY (<the
 * export's own statement>) TO … (HEADER)`, the statement being the deals listing's export
 * query under the scope CTEs (run.ts `compileExport`), so the query's joins and sort are in
 * both and the ratio is what formatting, JavaScript and HTTP add. COPY runs in a process of its
 * own (bench/export-copy-child.ts: its CPU seconds and peak RSS are its own) and alternates with
 * the HTTP export, `BENCH_EXPORT_RUNS` rounds (default 2), so load from elsewhere hits both; the
 * machine is shared, so CPU seconds are reported beside wall time. `BENCH_EXPORT_VALUES=1` adds,
 * in each round, the export without a pipe (`COCKPIT_EXPORT_PIPE=0`: values formatted in JS).
 *
 * `BENCH_EXPORT_DB=<file>` uses an existing database (e.g. `cockpit demo --scale large --seed 42
 * --as-of 2026-06-15 --db …`) instead of generating one; `BENCH_EXPORT_AS_OF` is the report date
 * (default 2026-06-15 with an existing file, else the generated demo's 2026-11-21);
 * `BENCH_EXPORT_FORMATS=csv` skips XLSX (measured once, in the last round), by default through
 * the SQL rows and streaming zip (`COCKPIT_EXPORT_XLSX=sql`), `BENCH_EXPORT_XLSX=exceljs` through
 * exceljs (the route's default).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import type { BenchRow } from '../run';
import type { Suite } from './index';

const ROOT = resolve(import.meta.dirname, '../..');
const TICK = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

const peakRss = (pid: number) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
/** Resets a process's VmHWM to its current RSS (Linux ≥ 4.0, own processes). */
const resetPeak = (pid: number) => {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not permitted: the peak then covers the process's whole life
  }
};
/** user + system CPU seconds of a process so far. */
const cpuOf = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
};
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function download(url: string): Promise<{ s: number; bytes: number; lines: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  let bytes = 0;
  let lines = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
    for (let i = value.indexOf(10); i !== -1; i = value.indexOf(10, i + 1)) lines++;
  }
  return { s: (performance.now() - t0) / 1000, bytes, lines };
}

async function startServer(file: string, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cockpit.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--db', file], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, COCKPIT_CONFIG: '', ...extraEnv }
  });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    const on = (d: Buffer) => {
      out += d;
      const m = /running at (http:\/\/localhost:\d+)/.exec(out);
      if (m) res(m[1].replace('localhost', '127.0.0.1'));
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.on('exit', (c) => rej(new Error(`server exited ${c}: ${out}`)));
  });
  return { child, url };
}

async function stopServer(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Line feeds in a file, read a megabyte at a time. */
function countLines(path: string): number {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(1 << 20);
  let n = 0;
  try {
    for (let got; (got = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      const b = buf.subarray(0, got);
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
    }
  } finally {
    closeSync(fd);
  }
  return n;
}

const fmtS = (s: number) => s.toFixed(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

export const exportSuite: Suite = {
  name: 'export',
  description: 'streaming export of 1,000,000 deals (large demo) as CSV and XLSX over HTTP vs DuckDB COPY of the same statement to csv',
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-export-'));
    const given = process.env.BENCH_EXPORT_DB;
    const runs = Math.max(1, Number(process.env.BENCH_EXPORT_RUNS ?? 2));
    const formats = (process.env.BENCH_EXPORT_FORMATS ?? 'csv,xlsx').split(',');
    // XLSX through DuckDB's rows and the streaming zip (default here), or exceljs (the route's default).
    const xlsxMode = process.env.BENCH_EXPORT_XLSX === 'exceljs' ? 'exceljs' : 'sql';
    if (given && !existsSync(given)) throw new Error(`BENCH_EXPORT_DB: ${given} does not exist`);
    const file = given ? resolve(given) : join(dir, 'demo.duckdb');
    const asOf = process.env.BENCH_EXPORT_AS_OF ?? (given ? '2026-06-15' : '2026-11-21');
    if (!given) {
      const db = await Database.open(file);
      log('generating the large demo (1M opportunities)…');
      await generateDemo(db, { scale: 'large', seed: 42, asOf: '2026-11-21' });
      await db.close();
    }
    const copyFile = join(dir, 'copy.csv');
    const copies: { s: number; cpu: number; bytes: number; rss: number; lines: number }[] = [];
    const csvs: { s: number; cpu: number; bytes: number; lines: number; rss: number; idle: number }[] = [];
    const values: typeof csvs = [];
    let xlsx: { s: number; cpu: number; bytes: number; rss: number } | null = null;
    const loads: number[] = [];
    const serverCsv = async (env: Record<string, string>, label: string, into: typeof csvs, i: number, then?: (url: string, pid: number) => Promise<void>) => {
      const { child, url } = await startServer(file, env);
      try {
        const pid = child.pid!;
        const idle = peakRss(pid);
        resetPeak(pid);
        const cpu0 = cpuOf(pid);
        const d = await download(`${url}/api/models/deals/export?format=csv&as_of=${asOf}`);
        const r = { ...d, cpu: cpuOf(pid) - cpu0, rss: peakRss(pid), idle };
        if (r.lines - 1 !== copies[0].lines) throw new Error(`${label}: ${r.lines - 1} rows, COPY wrote ${copies[0].lines}`);
        into.push(r);
        log(`round ${i + 1}: ${label} ${(r.bytes / 1e6).toFixed(0)} MB, ${r.lines - 1} rows in ${fmtS(r.s)} s wall, server ${fmtS(r.cpu)} CPU-s, peak RSS ${r.rss.toFixed(0)} MB (idle ${idle.toFixed(0)}) (load ${loadavg()[0].toFixed(1)})`);
        await then?.(url, pid);
      } finally {
        await stopServer(child);
      }
    };
    try {
      for (let i = 0; i < runs; i++) {
        loads.push(loadavg()[0]);
        // Baseline: DuckDB COPY of the export's statement (same rows, columns and order), in its own process.
        const c = JSON.parse(
          execFileSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bench/export-copy-child.ts'), file, asOf, copyFile], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!
        ) as { s: number; cpu: number; bytes: number; rss: number };
        const lines = countLines(copyFile) - 1;
        copies.push({ ...c, lines });
        log(`round ${i + 1}: COPY ${(c.bytes / 1e6).toFixed(0)} MB, ${lines} rows in ${fmtS(c.s)} s wall, ${fmtS(c.cpu)} CPU-s, peak RSS ${c.rss.toFixed(0)} MB (load ${loadavg()[0].toFixed(1)})`);
        await serverCsv(xlsxMode === 'sql' ? { COCKPIT_EXPORT_XLSX: 'sql' } : {}, 'CSV', csvs, i, async (url, pid) => {
          if (i !== runs - 1 || !formats.includes('xlsx')) return;
          resetPeak(pid);
          const x0 = cpuOf(pid);
          const x = await download(`${url}/api/models/deals/export?format=xlsx&as_of=${asOf}`);
          xlsx = { s: x.s, bytes: x.bytes, cpu: cpuOf(pid) - x0, rss: peakRss(pid) };
          log(`XLSX ${(x.bytes / 1e6).toFixed(0)} MB in ${fmtS(x.s)} s wall, server ${fmtS(xlsx.cpu)} CPU-s, peak RSS ${xlsx.rss.toFixed(0)} MB (load ${loadavg()[0].toFixed(1)})`);
        });
        // The value path (rows converted and formatted in JS), where no pipe is to be had.
        if (process.env.BENCH_EXPORT_VALUES === '1') await serverCsv({ COCKPIT_EXPORT_PIPE: '0' }, 'CSV (values, no pipe)', values, i);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const copy = { s: median(copies.map((c) => c.s)), cpu: median(copies.map((c) => c.cpu)) };
    const csv = { s: median(csvs.map((c) => c.s)), cpu: median(csvs.map((c) => c.cpu)) };
    const load = `load ${Math.min(...loads).toFixed(0)}–${Math.max(...loads).toFixed(0)}`;
    const list = (xs: number[], f: (x: number) => string = fmtS) => xs.map(f).join(' / ');
    const mb = (x: number) => x.toFixed(0);
    const rows: BenchRow[] = [
      {
        case: `1,000,000 deals → CSV over HTTP (30 columns; DuckDB's COPY writer into a pipe), median of ${runs}`,
        value: csv.s,
        baseline: copy.s,
        baseline_label: 'DuckDB COPY of the same statement to a file',
        unit: 's',
        note: `wall ${list(csvs.map((c) => c.s))} s vs COPY ${list(copies.map((c) => c.s))} s, alternating; CPU ${list(csvs.map((c) => c.cpu))} s (server) vs ${list(copies.map((c) => c.cpu))} s (COPY's process): ${(csv.cpu / copy.cpu).toFixed(2)}× CPU; ${mb(csvs[0].bytes / 1e6)} MB (COPY ${mb(copies[0].bytes / 1e6)} MB); peak RSS ${list(csvs.map((c) => c.rss), mb)} MB server (idle ${mb(csvs[csvs.length - 1].idle)}) vs ${list(copies.map((c) => c.rss), mb)} MB COPY; ${load}`
      }
    ];
    if (values.length) {
      const v = { s: median(values.map((c) => c.s)), cpu: median(values.map((c) => c.cpu)) };
      rows.push({
        case: '… the same without a pipe (COCKPIT_EXPORT_PIPE=0: values streamed, lines formatted in JS)',
        value: v.s,
        baseline: copy.s,
        baseline_label: 'DuckDB COPY of the same statement to a file',
        unit: 's',
        note: `wall ${list(values.map((c) => c.s))} s; server CPU ${list(values.map((c) => c.cpu))} s (${(v.cpu / copy.cpu).toFixed(2)}× CPU); peak RSS ${list(values.map((c) => c.rss), mb)} MB`
      });
    }
    const x = xlsx as { s: number; cpu: number; bytes: number; rss: number } | null;
    if (x) {
      rows.push({
        case: `1,000,000 deals → XLSX over HTTP (${xlsxMode === 'sql' ? 'rows as SpreadsheetML from SQL, COPY into a pipe, zipped as they stream: COCKPIT_EXPORT_XLSX=sql' : 'exceljs streaming writer'})`,
        value: x.s,
        baseline: copy.s,
        baseline_label: 'DuckDB COPY of the same statement to a csv file',
        unit: 's',
        note: `server CPU ${fmtS(x.cpu)} s (${(x.cpu / copy.cpu).toFixed(2)}× COPY's CPU); ${mb(x.bytes / 1e6)} MB; server peak RSS ${mb(x.rss)} MB; ${load}`
      });
    }
    return rows;
  }
};
