/**
 * A million-row export: every deal of the demo `large` scale (1,000,000 opportunities) as CSV
 * and as XLSX through the HTTP export route, timed end to end, with the server's peak resident
 * memory (VmHWM) — beside DuckDB writing the same rows to a CSV file itself (COPY … TO), the
 * floor for producing that much text.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import type { Suite } from './index';

const ROOT = resolve(import.meta.dirname, '../..');

const peakRss = (pid: number) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function download(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  let bytes = 0;
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.length;
  }
  return { ms: performance.now() - t0, bytes };
}

export const exportSuite: Suite = {
  name: 'export',
  description: 'streaming export of 1,000,000 deals (large demo) as CSV and XLSX over HTTP vs DuckDB COPY TO csv',
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-export-'));
    const file = join(dir, 'demo.duckdb');
    const db = await Database.open(file);
    log('generating the large demo (1M opportunities)…');
    await generateDemo(db, { scale: 'large', seed: 42, asOf: '2026-11-21' });
    const c0 = performance.now();
    await db.write((tx) => tx.run(`COPY (SELECT * FROM opportunities ORDER BY amount DESC, opportunity_id) TO '${join(dir, 'copy.csv')}' (HEADER)`));
    const copyMs = performance.now() - c0;
    await db.close();
    const child = spawn(process.execPath, [join(ROOT, 'bin/cockpit.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--db', file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, COCKPIT_CONFIG: '' }
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
    try {
      const idle = peakRss(child.pid!);
      const csv = await download(`${url}/api/models/deals/export?format=csv&as_of=2026-11-21`);
      const afterCsv = peakRss(child.pid!);
      log(`csv: ${(csv.bytes / 1e6).toFixed(0)} MB in ${(csv.ms / 1000).toFixed(1)} s; peak RSS ${idle.toFixed(0)} → ${afterCsv.toFixed(0)} MB`);
      const xlsx = await download(`${url}/api/models/deals/export?format=xlsx&as_of=2026-11-21`);
      const afterXlsx = peakRss(child.pid!);
      log(`xlsx: ${(xlsx.bytes / 1e6).toFixed(0)} MB in ${(xlsx.ms / 1000).toFixed(1)} s; peak RSS ${afterXlsx.toFixed(0)} MB`);
      return [
        {
          case: '1,000,000 deals → CSV over HTTP (all 28 columns)',
          value: csv.ms / 1000,
          baseline: copyMs / 1000,
          baseline_label: 'DuckDB COPY … TO csv',
          unit: 's',
          note: `${(csv.bytes / 1e6).toFixed(0)} MB; server peak RSS ${afterCsv.toFixed(0)} MB (${idle.toFixed(0)} MB before; ${(statSync(join(dir, 'copy.csv')).size / 1e6).toFixed(0)} MB file from COPY)`
        },
        {
          case: '1,000,000 deals → XLSX over HTTP',
          value: xlsx.ms / 1000,
          baseline: copyMs / 1000,
          baseline_label: 'DuckDB COPY … TO csv',
          unit: 's',
          note: `${(xlsx.bytes / 1e6).toFixed(0)} MB; server peak RSS ${afterXlsx.toFixed(0)} MB`
        }
      ];
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
};
