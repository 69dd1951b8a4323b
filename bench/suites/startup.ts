/**
 * Cold start: from launching `cockpit serve` (built app, medium demo database present) to
 * the first cockpit page served, beside a bare Node HTTP server's launch to first response.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import type { Suite } from './index';

const ROOT = resolve(import.meta.dirname, '../..');

async function timeToFirstResponse(args: string[], path: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COCKPIT_CONFIG: '' } });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    const on = (d: Buffer) => {
      out += d;
      const m = /(http:\/\/localhost:\d+)/.exec(out);
      if (m) res(m[1]);
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', (c) => rej(new Error(`exited ${c}: ${out}`)));
  });
  const res = await fetch(url + path);
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const startup: Suite = {
  name: 'startup',
  description: 'cold start to the first /cockpit page (medium demo) vs a bare node:http server to its first response',
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-start-'));
    const file = join(dir, 'demo.duckdb');
    const db = await Database.open(file);
    await generateDemo(db, { scale: 'medium', seed: 42, asOf: '2026-11-21' });
    await db.close();
    const cockpit: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 5; i++) {
      cockpit.push(await timeToFirstResponse([join(ROOT, 'bin/cockpit.js'), 'serve', '--port', '0', '--db', file], '/cockpit'));
      bare.push(
        await timeToFirstResponse(
          ['-e', "const s=require('http').createServer((q,r)=>r.end('ok')).listen(0,()=>console.log('http://localhost:'+s.address().port))"],
          '/'
        )
      );
      log(`run ${i + 1}: cockpit ${cockpit[i].toFixed(0)} ms, bare ${bare[i].toFixed(0)} ms`);
    }
    rmSync(dir, { recursive: true, force: true });
    return [
      {
        case: 'launch → first /cockpit page (SSR with kpis + funnel), median of 5',
        value: median(cockpit),
        baseline: median(bare),
        baseline_label: 'bare node:http'
      }
    ];
  }
};
