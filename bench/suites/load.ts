/**
 * Load: requests per second and latency of the HTTP API under concurrent load, on the 1M-deal
 * demo (`cockpit demo --scale large`), with access control on (COCKPIT_SECRET, a token on every
 * request), measured by wrk in a process of its own, beside static baselines in the same run:
 *
 * - `/favicon.svg` from the same server (its static-file path, no hooks, no token);
 * - the very kpis answer (same bytes) from a bare node:http server;
 * - the kpis tile, cached (`x-cockpit-cache: hit`): as fast as 8 connections get it answered
 *   (capacity), then paced at BENCH_LOAD_RATE (500 req/s) for BENCH_LOAD_SECONDS (default 300),
 *   the server's RSS sampled every 2 s (memory must stay flat) — p99 at the target rate, not at
 *   saturation, where latency is queueing;
 * - a mix: every tile call of the cockpit's two wall pages and of the pipeline board, for an
 *   executive, a regional manager and a rep (three scopes), round-robin;
 * - the kpis tile with the cache off (`server.result_cache_mb: 0`), for reference.
 *
 * The rate limit is raised in the server's config (it is per session, 600/min by default), so
 * that the server's own speed is measured. The machine is shared: the 1-minute load average is
 * recorded beside every case.
 *
 * BENCH_LOAD_DB (or BENCH_MODELS_DB) reuses a demo made with `cockpit demo --scale large
 * --seed 42 --as-of 2026-06-15`; BENCH_LOAD_SECONDS, BENCH_LOAD_BASELINE_SECONDS (20),
 * BENCH_LOAD_MIX_SECONDS (60), BENCH_LOAD_CONNECTIONS (8) change the runs. Needs wrk
 * (`apt-get install -y wrk`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import { parseConfig } from '../../src/lib/server/config/load';
import { stageInfos } from '../../src/lib/server/models/run';
import { signToken } from '../../src/lib/server/auth/sign';
import { getBoard } from '../../src/lib/boards/registry';
import { tileUrls } from '../../src/lib/boards/load';
import { buildOrg, type OptionRow } from '../../src/lib/boards/org';
import { emptyState } from '../../src/lib/boards/state';
import type { BenchRow } from '../run';
import { ROOT, serveCockpit } from '../serve';
import type { Suite } from './index';

const AS_OF = '2026-06-15';
const SECRET = 'bench-load-secret-0123456789-abcdefghijkl';
const num = (name: string, d: number) => {
  const v = Number(process.env[name] ?? d);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}: expected a positive number, got "${process.env[name]}"`);
  return v;
};

/** wrk's report, printed by the Lua `done` below as one JSON line. */
interface WrkResult {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  status: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const LUA = `
local reqs = nil
local i = 0
function init(args)
  local file = os.getenv("WRK_REQUESTS")
  if file and file ~= "" then
    reqs = {}
    for line in io.lines(file) do
      local path, token = line:match("^(.-)\\t(.*)$")
      table.insert(reqs, wrk.format("GET", path, { ["authorization"] = "Bearer " .. token }))
    end
  end
end
local pace = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pace then
  -- Paced: each connection waits this long after an answer before its next request.
  function delay()
    return pace
  end
end
function request()
  if reqs then
    i = i + 1
    return reqs[(i % #reqs) + 1]
  end
  return wrk.request()
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

function checkWrk() {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (r.error) {
    throw new Error('the load suite needs wrk, a load generator: apt-get install -y wrk (Debian/Ubuntu), brew install wrk (macOS)');
  }
}

/** Runs wrk against a URL (or the request list in `requestsFile`) in its own process. */
function wrk(url: string, seconds: number, opts: { token?: string; requestsFile?: string; luaFile: string; connections: number; delayMs?: number }): Promise<WrkResult> {
  const args = ['-t1', `-c${opts.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', opts.luaFile];
  if (opts.token) args.push('-H', `authorization: Bearer ${opts.token}`);
  args.push(url);
  return new Promise((res, rej) => {
    const env = { ...process.env, WRK_REQUESTS: opts.requestsFile ?? '', WRK_DELAY_MS: opts.delayMs ? String(opts.delayMs) : '' };
    const child = spawn('wrk', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const m = /WRK_JSON (\{.*\})/.exec(out);
      if (code !== 0 || !m) rej(new Error(`wrk exited with ${code}: ${out}`));
      else res(JSON.parse(m[1]));
    });
  });
}

/** `cockpit serve` with tokens required and a config of the run's own. */
const serve = (db: string, config: string) => serveCockpit(['--db', db, '--config', config], { COCKPIT_SECRET: SECRET, COCKPIT_JWKS: '' });

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The server's resident memory, MB (Linux). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const load1 = () => Math.round(loadavg()[0] * 100) / 100;
const rps = (w: WrkResult) => w.requests / (w.duration_us / 1e6);
const ms = (us: number) => Math.round(us / 100) / 10;
const errors = (w: WrkResult) => w.connect + w.read + w.write + w.timeout + w.status;

export const load: Suite = {
  name: 'load',
  description: 'requests/s and p50/p99 of cached API answers under load (1M deals, tokens on), beside static baselines, with memory over a long run',
  async run(log) {
    checkWrk();
    const seconds = num('BENCH_LOAD_SECONDS', 300);
    const baseSeconds = num('BENCH_LOAD_BASELINE_SECONDS', 20);
    const mixSeconds = num('BENCH_LOAD_MIX_SECONDS', 60);
    const connections = num('BENCH_LOAD_CONNECTIONS', 8);
    // The long run is paced: 16 connections, each waiting after every answer so that together
    // they ask ~25% more than the target rate (the answers' own time brings it down).
    const rate = num('BENCH_LOAD_RATE', 500);
    const paced = { connections: 16, delayMs: Math.round((1000 * 16) / (rate * 1.25)) };
    const dir = mkdtempSync(join(tmpdir(), 'bench-load-'));
    const luaFile = join(dir, 'report.lua');
    writeFileSync(luaFile, LUA);
    const reuse = process.env.BENCH_LOAD_DB ?? process.env.BENCH_MODELS_DB;
    const file = reuse ?? join(dir, 'large.duckdb');
    const children: ChildProcess[] = [];
    try {
      if (!reuse) {
        const cfg = parseConfig({});
        if (!cfg.ok) throw new Error(cfg.issues.join('; '));
        const db = await Database.open(file);
        const t0 = performance.now();
        const demo = await generateDemo(db, { scale: 'large', seed: 42, asOf: AS_OF, stages: stageInfos(cfg.config) });
        await db.close();
        log(`demo large generated in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${demo.counts.opportunities.toLocaleString()} opportunities`);
      }
      const config = (cacheMb: number) => {
        const p = join(dir, `cockpit-${cacheMb}.json`);
        writeFileSync(p, JSON.stringify({ security: { requests_per_minute: 100_000_000 }, server: { result_cache_mb: cacheMb } }));
        return p;
      };
      const token = (claims: Record<string, unknown>) =>
        signToken({ secret: SECRET, audience: 'crm-cockpit', issuer: 'crm-cockpit', ttlSeconds: 6 * 3600, claims: claims as never });
      const exec = await token({ sub: 'bench-exec', role: 'executive' });

      let server = await serve(file, config(64));
      children.push(server.child);
      const kpisPath = `/api/models/kpis?as_of=${AS_OF}`;
      const get = async (path: string, t = exec) => {
        const r = await fetch(server.url + path, { headers: { authorization: `Bearer ${t}` } });
        const body = await r.text();
        if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${body.slice(0, 200)}`);
        return { body, cache: r.headers.get('x-cockpit-cache') };
      };
      const first = await get(kpisPath);
      const again = await get(kpisPath);
      if (first.cache !== 'miss' || again.cache !== 'hit') throw new Error(`kpis: expected miss then hit, got ${first.cache}, ${again.cache}`);
      log(`server ${server.url}, kpis ${first.body.length.toLocaleString()} bytes, cached`);

      // Baseline 1: a static file from the same server.
      const rows: BenchRow[] = [];
      const l0 = load1();
      const fav = await wrk(`${server.url}/favicon.svg`, baseSeconds, { luaFile, connections });
      log(`favicon.svg: ${rps(fav).toFixed(0)} req/s, p50 ${ms(fav.p50)} ms, p99 ${ms(fav.p99)} ms (load ${l0})`);

      // Baseline 2: the same kpis bytes from a bare node:http server, in a process of its own.
      const bodyFile = join(dir, 'kpis.json');
      writeFileSync(bodyFile, again.body.replace(/^\{"cache":"hit",/, '{'));
      const bare = spawn(
        process.execPath,
        ['-e', `const b=require('fs').readFileSync(${JSON.stringify(bodyFile)});const s=require('http').createServer((q,r)=>{r.writeHead(200,{'content-type':'application/json','cache-control':'no-store'});r.end(b)});s.keepAliveTimeout=65000;s.listen(0,'127.0.0.1',()=>console.log('http://127.0.0.1:'+s.address().port))`],
        { stdio: ['ignore', 'pipe', 'inherit'] }
      );
      children.push(bare);
      const bareUrl = await new Promise<string>((res) => bare.stdout!.once('data', (d) => res(String(d).trim())));
      const l1 = load1();
      const plain = await wrk(bareUrl, baseSeconds, { luaFile, connections });
      await stop(bare);
      log(`bare node:http, same bytes: ${rps(plain).toFixed(0)} req/s, p50 ${ms(plain.p50)} ms, p99 ${ms(plain.p99)} ms (load ${l1})`);

      // The cached kpis tile: as fast as it goes (capacity), then paced at the target rate for
      // the long run, memory sampled.
      const lc = load1();
      const capacity = await wrk(`${server.url}${kpisPath}`, baseSeconds, { luaFile, connections, token: exec });
      log(`kpis cached, as fast as it goes: ${rps(capacity).toFixed(0)} req/s, p50 ${ms(capacity.p50)} ms, p99 ${ms(capacity.p99)} ms, errors ${errors(capacity)} (load ${lc})`);
      const samples: { t: number; mb: number }[] = [];
      const pid = server.child.pid!;
      const t0 = performance.now();
      const sampler = setInterval(() => samples.push({ t: (performance.now() - t0) / 1000, mb: rssMb(pid) }), 2000);
      samples.push({ t: 0, mb: rssMb(pid) });
      const l2 = load1();
      const kpis = await wrk(`${server.url}${kpisPath}`, seconds, { luaFile, ...paced, token: exec });
      clearInterval(sampler);
      samples.push({ t: (performance.now() - t0) / 1000, mb: rssMb(pid) });
      const l2end = load1();
      const mbs = samples.map((s) => s.mb);
      const tenth = Math.max(1, Math.floor(samples.length / 10));
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const early = avg(mbs.slice(1, 1 + tenth));
      const late = avg(mbs.slice(-tenth));
      log(
        `kpis cached, paced (${paced.connections} connections, ${paced.delayMs} ms between a connection's requests), ${seconds} s: ${rps(kpis).toFixed(0)} req/s, p50 ${ms(kpis.p50)} ms, p99 ${ms(kpis.p99)} ms, errors ${errors(kpis)}; ` +
          `RSS ${mbs[0].toFixed(0)} → ${early.toFixed(0)} (first tenth) → ${late.toFixed(0)} MB (last tenth), max ${Math.max(...mbs).toFixed(0)} (load ${l2} → ${l2end})`
      );
      writeFileSync(join(ROOT, 'bench/results/load-rss.json'), JSON.stringify({ seconds, samples }, null, 1) + '\n');

      // A mix of tile calls: both wall pages and the pipeline board, three scopes.
      const options = JSON.parse((await get(`/api/models/options?as_of=${AS_OF}`)).body).rows as OptionRow[];
      const region = options.find((r) => r.kind === 'team' && r.parent && !options.find((p) => p.key === r.parent)?.parent)?.key;
      const rep = options.find((r) => r.kind === 'owner' && r.n > 0)?.key;
      if (!region || !rep) throw new Error('no region or rep found in the demo');
      const viewers = [exec, await token({ sub: 'bench-mgr', role: 'manager', scope: { team_ids: [region] } }), await token({ sub: rep, role: 'rep' })];
      const urls = new Set<string>();
      for (const id of ['wall-overview', 'wall-forecast', 'pipeline']) {
        const board = getBoard(id)!;
        const tiles = tileUrls(board, { state: emptyState(AS_OF), org: buildOrg(options), period: board.defaultPeriod });
        for (const t of Object.values(tiles)) for (const u of Object.values(t)) urls.add(u);
      }
      const lines: string[] = [];
      for (const v of viewers) {
        for (const u of urls) {
          await get(u, v);
          lines.push(`${u}\t${v}`);
        }
      }
      const reqFile = join(dir, 'mix.tsv');
      writeFileSync(reqFile, lines.join('\n') + '\n');
      const l3 = load1();
      const mix = await wrk(server.url, mixSeconds, { luaFile, connections, requestsFile: reqFile });
      log(`mix of ${lines.length} tile calls (${urls.size} URLs × 3 scopes): ${rps(mix).toFixed(0)} req/s, p50 ${ms(mix.p50)} ms, p99 ${ms(mix.p99)} ms, errors ${errors(mix)} (load ${l3})`);
      await stop(server.child);

      // For reference: the same kpis tile with the cache off.
      server = await serve(file, config(0));
      children.push(server.child);
      await get(kpisPath);
      const l4 = load1();
      const cold = await wrk(`${server.url}${kpisPath}`, baseSeconds, { luaFile, connections, token: exec });
      log(`kpis, cache off: ${rps(cold).toFixed(1)} req/s, p50 ${ms(cold.p50)} ms, p99 ${ms(cold.p99)} ms (load ${l4})`);
      await stop(server.child);

      const note = (w: WrkResult, l: number | string, c = connections) => `p50 ${ms(w.p50)} ms, p99 ${ms(w.p99)} ms, ${c} connections, errors ${errors(w)}, load ${l}`;
      rows.push(
        { case: 'static /favicon.svg from the same server', value: rps(fav), unit: 'req/s', note: note(fav, l0) },
        { case: 'the kpis JSON from a bare node:http server', value: rps(plain), unit: 'req/s', note: note(plain, l1) },
        { case: 'kpis tile, cached, tokens on, as fast as it goes', value: rps(capacity), baseline: rps(fav), baseline_label: 'static favicon, same server', unit: 'req/s', note: note(capacity, lc) },
        {
          case: `kpis tile, cached, tokens on, paced at ~${rate} req/s for ${seconds} s`,
          value: rps(kpis),
          unit: 'req/s',
          note: `${note(kpis, `${l2}→${l2end}`, paced.connections)}; RSS ${early.toFixed(0)} MB (first tenth) → ${late.toFixed(0)} MB (last tenth), max ${Math.max(...mbs).toFixed(0)} MB`
        },
        { case: `mix: ${urls.size} tile calls of the cockpit and the pipeline board × 3 scopes, cached`, value: rps(mix), baseline: rps(fav), baseline_label: 'static favicon, same server', unit: 'req/s', note: note(mix, l3) },
        { case: 'kpis tile, cache off (each request runs the model)', value: rps(cold), baseline: rps(kpis), baseline_label: 'cached', unit: 'req/s', note: note(cold, l4) }
      );
      for (const w of [capacity, kpis, mix]) if (errors(w) > 0) log(`warning: ${errors(w)} errors or non-2xx answers in a run`);
      return rows;
    } finally {
      for (const c of children) await stop(c);
      rmSync(dir, { recursive: true, force: true });
    }
  }
};
