/**
 * Iteration helper: profiles one catalog model's compiled SQL on a database and prints its
 * operators, heaviest first (DuckDB's JSON profile, flattened).
 *   npx tsx bench/explain-model.ts /tmp/large.duckdb <model> '<json params>'
 * BOUND=1 binds the parameters as the product does (src/lib/server/db/database.ts) instead of
 * inlining them as literals: the plans can differ (with literals DuckDB folds constants and
 * estimates other cardinalities), so measure a change that way too.
 */
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseConfig } from '../src/lib/server/config/load';
import { buildContext, compileModel, getModel, parseParams } from '../src/lib/server/models/run';
import { compile } from '../src/lib/server/db/sql';
import { bindTypes } from '../src/lib/server/db/database';
import { HORIZON_SQL, REVENUE_HORIZON_SQL, UNKNOWN_CUSTOMERS_SQL } from '../warehouse/facts';

const [path, name, json] = process.argv.slice(2);
const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const m = getModel(name);
const p = parseParams(m, { as_of: '2026-06-15', ...JSON.parse(json ?? '{}') });
const ctx = buildContext(m, p, cfg.config);
const inst = await DuckDBInstance.create(path);
const conn = await inst.connect();
// The facts horizon, as the runner sets it (src/lib/server/models/run.ts, warehouse/facts.ts
// factsHorizon, revenueHorizon): without them the models plan for events after the report date (the slower path).
ctx.factsHorizon = ((await conn.runAndReadAll(HORIZON_SQL)).getRowObjectsJson()[0].h ?? null) as string | null;
ctx.revenueHorizon = ((await conn.runAndReadAll(REVENUE_HORIZON_SQL)).getRowObjectsJson()[0].h ?? null) as string | null;
// as the runner sets it for a viewer who sees everything (PROFILE_SCOPE unset)
ctx.everyCustomerListed = !process.env.PROFILE_SCOPE && (await conn.runAndReadAll(UNKNOWN_CUSTOMERS_SQL)).getRowObjectsJson()[0].h === '0';
const st = compileModel(m, p, ctx, process.env.PROFILE_SCOPE ? { team_ids: [process.env.PROFILE_SCOPE], owner_ids: [] } : { all: true });
const { text, params } = compile(st);
if (process.env.PROFILE_SQL) console.log(text, JSON.stringify(params));
const bound = process.env.BOUND ? bindTypes(params) : null;
const run = () =>
  bound && params.length
    ? conn.runAndReadAll(text, bound.values, bound.types)
    : conn.runAndReadAll(text.replace(/\$(\d+)/g, (_, i) => lit(params[Number(i) - 1])));
function lit(v: unknown): string {
  if (v === null) return 'NULL';
  if (Array.isArray(v)) return `[${v.map(lit).join(', ')}]`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `'${String(v).replace(/'/g, "''")}'`;
}
await run();
await conn.run(`SET enable_profiling = 'json'`);
await conn.run(`SET profiling_output = '/tmp/perfwork/profile.json'`);
const t0 = performance.now();
await run();
console.log(`wall ${(performance.now() - t0).toFixed(0)} ms`);
await conn.run(`SET enable_profiling = 'no_output'`);
type Node = { operator_type?: string; operator_name?: string; operator_timing?: number; operator_cardinality?: number; extra_info?: Record<string, unknown>; children?: Node[] };
const root = JSON.parse(readFileSync('/tmp/perfwork/profile.json', 'utf8')) as Node & { latency?: number };
const flat: [number, string][] = [];
const walk = (n: Node, depth: number) => {
  const info = n.extra_info ? JSON.stringify(n.extra_info).slice(0, Number(process.env.INFO_CHARS ?? 140)) : '';
  flat.push([n.operator_timing ?? 0, `${'  '.repeat(depth)}${n.operator_name ?? n.operator_type ?? '?'} ${((n.operator_timing ?? 0) * 1000).toFixed(1)}ms rows=${n.operator_cardinality ?? ''} ${info}`]);
  for (const c of n.children ?? []) walk(c, depth + 1);
};
walk(root, 0);
console.log(`latency ${root.latency}`);
if (process.env.TREE) for (const [, s] of flat) console.log(s);
else for (const [, s] of [...flat].sort((a, b) => b[0] - a[0]).slice(0, 25)) console.log(s.trim());
conn.closeSync();
inst.closeSync();
