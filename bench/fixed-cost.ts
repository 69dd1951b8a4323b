/**
 * Iteration helper (not a suite): where a model call's time goes besides DuckDB's execution
 * of its aggregate. For each case, step by step, many iterations, CPU ms of this process
 * (all threads: DuckDB's work counts) and wall ms:
 *   params    parseParams + buildContext
 *   compile   model.query + scope CTEs + compile() to text and binds
 *   run       db.query of the model's statement (prepare, plan, execute, convert)
 *   run-prep  the same with the statement kept prepared on the connection
 *   run-bare  the model's own statement without the scope CTE prefix (for the `all` scope
 *             the base tables are the same rows): what the prefix costs DuckDB to plan
 *   prepare   conn.prepare of the statement alone (parse, bind, plan; no execution)
 *   convert   reader → JS rows
 *   validate  zod parse of the finalized rows
 *   finalize  model.finalize
 *   total     runModel end to end
 *   raw       the bench's raw SQL (when given)
 *   npx tsx bench/fixed-cost.ts <db> [iterations] [case-regex]
 */
import { loadavg } from 'node:os';
import type { z } from 'zod';
import { Database, bindTypes } from '../src/lib/server/db/database';
import { toJsonRows } from '../src/lib/server/db/convert';
import { parseConfig } from '../src/lib/server/config/load';
import { buildContext, compileModel, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { compile } from '../src/lib/server/db/sql';
import { ensureFacts } from '../warehouse/facts';
import { stageInfos } from '../warehouse/stages';
import { DuckDBInstance } from '@duckdb/node-api';
import { CASES as BENCH_CASES } from './suites/models';

// The models bench's cases (bench/suites/models.ts), with their raw SQL.
const CASES = BENCH_CASES.map((c) => [c.name, c.model, c.params ?? {}, c.raw] as const);

const [path, itArg, re] = process.argv.slice(2);
const N = Number(itArg ?? 30);
const only = re ? new RegExp(re) : null;
const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const config = cfg.config;
const db = await Database.open(path);
await ensureFacts(db, stageInfos(config));
// A second instance would lock; a separate connection of the same instance is what we need
// for prepare timings: borrow one through `read`.
void DuckDBInstance;

function measure(label: string, fn: () => unknown | Promise<unknown>) {
  return Object.assign(async () => {
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < N; i++) {
      const c = process.cpuUsage();
      const s = performance.now();
      await fn();
      wall.push(performance.now() - s);
      const d = process.cpuUsage(c);
      cpu.push((d.user + d.system) / 1000);
    }
    wall.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    return `${label.padEnd(9)} wall p50 ${wall[N >> 1].toFixed(2).padStart(7)}  cpu p50 ${cpu[N >> 1].toFixed(2).padStart(7)} ms`;
  }, { label });
}

let own: import('@duckdb/node-api').DuckDBConnection | null = null;
const scope = { all: true as const };
for (const [name, modelName, extra, rawSql] of CASES) {
  if (only && !only.test(name)) continue;
  const model = getModel(modelName);
  const raw = { as_of: '2026-06-15', ...extra };
  const params = parseParams(model, raw);
  const ctx = buildContext(model, params, config);
  const statement = compileModel(model, params, ctx, scope);
  const q = model.query(params as never, ctx);
  // The model's own statement without the scope prefix: its CTEs and body, the stages relation kept.
  const bare = compileModel(model, params, ctx, scope);
  const { text, params: binds } = compile(statement);
  const noScope = compile(bare).text.replace(/^WITH RECURSIVE [\s\S]*?(?=stages AS \()/, 'WITH ');
  const result = await db.query(statement);
  const rowsOut = model.finalize ? model.finalize(result.rows, params as never, ctx).rows : result.rows;
  const lines: string[] = [`${name}: ${text.length} chars, ${binds.length} binds, ${result.rows.length} SQL rows → ${rowsOut.length}`];
  const steps: ((() => Promise<string>) & { label: string })[] = [
    measure('params', () => buildContext(model, parseParams(model, raw), config)),
    measure('compile', () => compile(compileModel(model, params, ctx, scope))),
    measure('run', () => db.query(statement)),
    measure('run-prep', () => db.query(statement, { prepared: true })),
    measure('run-bare', () => rawQuery(noScope, binds)),
    measure('prepare', () => prepareOnly(text, binds)),
    measure('exec-own', () => rawQuery(text, binds)),
    measure('convert', () => db.read(statement, (r) => toJsonRows(r))),
    measure('finalize', () => (model.finalize ? model.finalize(result.rows, params as never, ctx) : 0)),
    measure('validate', () => (model.row as z.ZodType).array().safeParse(rowsOut)),
    measure('total', () => runModel(db, config, modelName, raw, scope)),
    ...(rawSql ? [measure('raw', () => db.query(rawSql))] : [])
  ];
  void q;
  // FIXED_STEPS=total,raw: only those steps.
  const want = process.env.FIXED_STEPS?.split(',');
  for (const s of steps) if (!want || want.includes(s.label)) lines.push('  ' + (await s()));
  console.log(lines.join('\n') + `\n  load ${loadavg()[0].toFixed(1)}`);
}

async function rawQuery(text: string, binds: unknown[]) {
  return withConn(async (conn) => {
    const { values, types } = bindTypes(binds as never);
    const r = binds.length ? await conn.runAndReadAll(text, values, types) : await conn.runAndReadAll(text);
    return toJsonRows(r);
  });
}

async function prepareOnly(text: string, binds: unknown[]) {
  void binds;
  return withConn(async (conn) => {
    const p = await conn.prepare(text);
    p.destroySync?.();
  });
}

async function withConn<T>(fn: (c: import('@duckdb/node-api').DuckDBConnection) => Promise<T>): Promise<T> {
  // The Database keeps its instance private; a connection of the same instance through the writer path.
  if (!own) own = await (db as unknown as { instance: DuckDBInstance }).instance.connect();
  return fn(own);
}
await db.close();
