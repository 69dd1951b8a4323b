/**
 * Iteration helper (not a suite): every models-bench case run for a viewer who sees everything
 * and for a restricted viewer (a region's teams), alternately, on an existing demo database, to
 * find what a restricted scope costs (its relations are semi joins over the visible deals).
 *   npx tsx bench/scope-cost.ts /tmp/xlarge.duckdb [runs] [team] [case-regex]
 */
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { runModel, stageInfos } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';
import { CASES } from './suites/models';

const [path, runsArg, team = 'R1', re] = process.argv.slice(2);
const runs = Number(runsArg ?? 5);
const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const db = await Database.open(path);
await ensureFacts(db, stageInfos(cfg.config));
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const c of CASES) {
  if (re && !new RegExp(re).test(c.name)) continue;
  const params = { as_of: '2026-06-15', ...(c.params ?? {}) };
  const times: Record<'all' | 'team', number[]> = { all: [], team: [] };
  for (let i = 0; i < runs + 1; i++) {
    for (const k of ['all', 'team'] as const) {
      const t = performance.now();
      await runModel(db, cfg.config, c.model, params, k === 'all' ? { all: true } : { team_ids: [team], owner_ids: [] });
      if (i > 0) times[k].push(performance.now() - t);
    }
  }
  console.log(`${c.name.padEnd(70)} all ${p50(times.all).toFixed(0).padStart(6)} ms   ${team} ${p50(times.team).toFixed(0).padStart(6)} ms`);
}
await db.close();
