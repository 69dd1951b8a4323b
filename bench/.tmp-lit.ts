import { DuckDBInstance } from '@duckdb/node-api';
import { parseConfig } from '../src/lib/server/config/load';
import { buildContext, compileModel, getModel, parseParams } from '../src/lib/server/models/run';
import { compile } from '../src/lib/server/db/sql';
import { HORIZON_SQL } from '../warehouse/facts';
const [path, name, json] = process.argv.slice(2);
const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const m = getModel(name);
const p = parseParams(m, { as_of: '2026-06-15', ...JSON.parse(json ?? '{}') });
const ctx = buildContext(m, p, cfg.config);
const inst = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
const conn = await inst.connect();
ctx.factsHorizon = ((await conn.runAndReadAll(HORIZON_SQL)).getRowObjectsJson()[0].h ?? null) as string | null;
const st = compileModel(m, p, ctx, { all: true });
const { text, params } = compile(st);
function lit(v: unknown): string {
  if (v === null) return 'NULL';
  if (Array.isArray(v)) return `[${v.map(lit).join(', ')}]`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `'${String(v).replace(/'/g, "''")}'`;
}
console.log(text.replace(/\$(\d+)/g, (_, i) => lit(params[Number(i) - 1])));
