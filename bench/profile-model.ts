/**
 * Iteration helper (not a suite): times one or more models on an existing large demo database.
 *   npx tsx bench/profile-model.ts /tmp/large.duckdb [iterations] [case-regex]
 * Prints p50/min per case, and with PROFILE_SQL=1 the compiled SQL of each case to stdout.
 */
import { loadavg } from 'node:os';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { buildContext, compileModel, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { compile } from '../src/lib/server/db/sql';

const CASES: [string, string, Record<string, unknown>][] = [
  ['funnel', 'funnel', {}],
  ['funnel flow', 'funnel', { method: 'flow' }],
  ['kpis', 'kpis', {}],
  ['trend', 'trend', {}],
  ['leaderboard', 'leaderboard', {}],
  ['payments', 'payments', {}],
  ['forecast', 'forecast', {}],
  ['win_loss', 'win_loss', {}],
  ['cycle_time', 'cycle_time', {}],
  ['time_in_stage', 'cycle_time', { view: 'time_in_stage' }],
  ['stalled', 'cycle_time', { view: 'stalled' }],
  ['ltv', 'ltv', {}],
  ['ltv cohorts', 'ltv', { view: 'cohorts' }],
  ['customer_profile', 'customer_profile', {}],
  ['grid', 'customer_profile', { view: 'grid' }]
];

const [path, itArg, re] = process.argv.slice(2);
const iterations = Number(itArg ?? 9);
const only = re ? new RegExp(re) : null;
const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const config = cfg.config;
const db = await Database.open(path);
for (const [name, model, extra] of CASES) {
  if (only && !only.test(name)) continue;
  const params = { as_of: '2026-06-15', ...extra };
  if (process.env.PROFILE_SQL) {
    const m = getModel(model);
    const p = parseParams(m, params);
    const ctx = buildContext(m, p, config);
    const { text, params: binds } = compile(compileModel(m, p, ctx, { all: true }));
    console.log(`-- ${name}\n${text}\n-- binds ${JSON.stringify(binds)}`);
    continue;
  }
  const scope = process.env.PROFILE_SCOPE ? { team_ids: [process.env.PROFILE_SCOPE], owner_ids: [] } : { all: true as const };
  await runModel(db, config, model, params, scope);
  const t: number[] = [];
  const q: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const s = performance.now();
    const c = process.cpuUsage();
    const r = await runModel(db, config, model, params, scope);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
    t.push(performance.now() - s);
    q.push(r.ms);
  }
  for (const a of [t, q, cpu]) a.sort((x, y) => x - y);
  // CPU time (all of the process's threads) is the work done, which the machine's load hardly changes.
  console.log(`${name.padEnd(18)} p50 ${t[t.length >> 1].toFixed(0).padStart(4)} ms  min ${t[0].toFixed(0).padStart(4)}  query p50 ${q[q.length >> 1].toFixed(0).padStart(4)}  cpu p50 ${cpu[cpu.length >> 1].toFixed(0).padStart(4)} ms  load ${loadavg()[0].toFixed(1)}`);
}
await db.close();
