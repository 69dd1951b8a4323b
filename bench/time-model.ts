/**
 * Times one catalog model (and optionally a raw SQL) on an existing database, per call: wall and
 * CPU (process.cpuUsage: DuckDB's threads run in this process), after two warm-ups. For
 * comparing two checkouts alternately on the same copy of a database:
 *   npx tsx bench/time-model.ts /tmp/large.duckdb forecast '{"as_of":"2026-03-15"}' 15 ['<raw sql>']
 * TIME_CACHE=off times with the result cache off, as the models bench does: a relation models
 * share (the waterfall's, src/lib/server/models/shared.ts) is then built by every call.
 */
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase } from '../src/lib/server/db/database';
import { runModel, stageInfos } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';

const [path, name, json, runs, raw] = process.argv.slice(2);
const cfg = parseConfig(process.env.TIME_CACHE === 'off' ? { server: { result_cache_mb: 0 } } : {});
if (!cfg.ok) throw new Error('config');
const db = await openDatabase(path);
await ensureFacts(db, stageInfos(cfg.config));
const params = { as_of: '2026-06-15', ...JSON.parse(json ?? '{}') };
const time = async (f: () => Promise<unknown>) => {
  const c = process.cpuUsage();
  const t = performance.now();
  await f();
  const u = process.cpuUsage(c);
  return { wall: performance.now() - t, cpu: (u.user + u.system) / 1000 };
};
const model = () => runModel(db, cfg.config, name, params, { all: true });
const rawQ = raw ? () => db.query(raw) : null;
for (let i = 0; i < 2; i++) {
  await model();
  if (rawQ) await rawQ();
}
const m: { wall: number; cpu: number }[] = [];
const r: { wall: number; cpu: number }[] = [];
for (let i = 0; i < Number(runs ?? 9); i++) {
  m.push(await time(model));
  if (rawQ) r.push(await time(rawQ));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: { wall: number; cpu: number }[]) => `p50 ${med(xs.map((x) => x.wall)).toFixed(0)} ms wall, ${med(xs.map((x) => x.cpu)).toFixed(0)} ms CPU`;
console.log(`${name} ${json ?? ''}: ${fmt(m)}${rawQ ? `; raw ${fmt(r)}` : ''}`);
await db.close();
