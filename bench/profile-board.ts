/**
 * Iteration helper (not a suite): times every model call a board's first load makes, one at a
 * time, on an existing database (what a page's "ready" is made of).
 *   npx tsx bench/profile-board.ts /work/xl/large.duckdb pipeline [iterations] [url-regex]
 * `wall:<page>` times a cockpit page (wall:overview). PROFILE_SQL=1 prints each compiled query.
 * Each line: median wall (min), median CPU (user+sys of this process, DuckDB's threads included).
 */
import { loadavg } from 'node:os';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { buildContext, compileModel, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { compile } from '../src/lib/server/db/sql';
import { getBoard } from '../src/lib/boards/registry';
import { WALL_PAGES } from '../src/lib/boards/wall';
import { tileUrls } from '../src/lib/boards/load';
import { buildOrg, type OptionRow } from '../src/lib/boards/org';
import { parseState } from '../src/lib/boards/state';

const [path, boardId = 'pipeline', itArg, re] = process.argv.slice(2);
const iterations = Number(itArg ?? 3);
const only = re ? new RegExp(re) : null;
// Result cache off: each call computes what it reads (a relation shared between models lives
// only while calls that asked for it run: src/lib/server/models/shared.ts). TOGETHER=1 also
// runs the board's calls all at once, as a page load does, and prints their wall and CPU
// (TOGETHER=only: that alone).
const cfg = parseConfig({ server: { result_cache_mb: 0 } });
if (!cfg.ok) throw new Error('config');
const config = cfg.config;
const board = boardId.startsWith('wall:') ? WALL_PAGES[boardId.slice(5)] : getBoard(boardId);
if (!board) throw new Error(`unknown board ${boardId}`);
const db = await Database.open(path);
const state = parseState(new URLSearchParams({ as_of: '2026-06-15' }));
const opts = await runModel(db, config, 'options', { as_of: '2026-06-15' }, { all: true });
const org = buildOrg(opts.rows as unknown as OptionRow[]);
const urls = [...new Set(Object.values(tileUrls(board, { state, org, period: board.defaultPeriod })).flatMap((t) => Object.values(t)))];
urls.unshift('/api/models/options?as_of=2026-06-15');
for (const u of urls) {
  if ((only && !only.test(u)) || process.env.TOGETHER === 'only') continue;
  const url = new URL(u, 'http://x');
  const model = decodeURIComponent(url.pathname.split('/').pop()!);
  const params: Record<string, unknown> = {};
  for (const k of new Set(url.searchParams.keys())) {
    const v = url.searchParams.getAll(k);
    params[k] = v.length > 1 ? v : v[0];
  }
  if (process.env.PROFILE_SQL) {
    const m = getModel(model);
    const p = parseParams(m, params);
    const { text, params: binds } = compile(compileModel(m, p, buildContext(m, p, config), { all: true }));
    console.log(`-- ${u}\n${text}\n-- binds ${JSON.stringify(binds)}`);
    continue;
  }
  const t: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const c = process.cpuUsage();
    const s = performance.now();
    await runModel(db, config, model, params, { all: true });
    t.push(performance.now() - s);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  t.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  // CPU: this process's user+sys over the call (DuckDB's threads included), the figure a
  // shared machine's load distorts least.
  console.log(`${t[t.length >> 1].toFixed(0).padStart(6)} ms (min ${t[0].toFixed(0)})  cpu ${cpu[cpu.length >> 1].toFixed(0).padStart(5)} ms  load ${loadavg()[0].toFixed(1)}  ${u}`);
}
if (process.env.TOGETHER) {
  const calls = urls.filter((u) => !only || only.test(u)).map((u) => {
    const url = new URL(u, 'http://x');
    const params: Record<string, unknown> = {};
    for (const k of new Set(url.searchParams.keys())) {
      const v = url.searchParams.getAll(k);
      params[k] = v.length > 1 ? v : v[0];
    }
    return () => runModel(db, config, decodeURIComponent(url.pathname.split('/').pop()!), params, { all: true });
  });
  for (let i = 0; i < iterations; i++) {
    const c = process.cpuUsage();
    const s = performance.now();
    await Promise.all(calls.map((f) => f()));
    const d = process.cpuUsage(c);
    console.log(`together: ${(performance.now() - s).toFixed(0)} ms, cpu ${((d.user + d.system) / 1000).toFixed(0)} ms, load ${loadavg()[0].toFixed(1)} (${calls.length} calls at once)`);
  }
}
await db.close();
