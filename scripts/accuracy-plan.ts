/**
 * Planning cost of the forecast accuracy backtest (docs/decisions.md, 7 Dec, acc): EXPLAIN (not
 * ANALYZE) of the compiled `forecast view=accuracy` statement, CPU (process user+sys: DuckDB's
 * threads run in this process) and wall, per period and per DuckDB setting.
 * Usage: npx tsx scripts/accuracy-plan.ts <db-file> [period ...] [--set "SQL" ...] [--run]
 *   <db-file>  migrated on open (a new file: an empty database); report date 2026-06-15
 *   --set      a statement run first, e.g. --set "SET disabled_optimizers='statistics_propagation'"
 *   --run      run the statement instead of EXPLAIN
 *   env ACC_LAST=n (backtest periods), ACC_METHOD=a,b (methods)
 */
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase } from '../src/lib/server/db/database';
import { compile, sql } from '../src/lib/server/db/sql';
import { buildContext, compileModel, getModel, parseParams } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';
import { ALL_SCOPE } from '../models/common/scope';

const args = process.argv.slice(2);
const file = args[0];
const periods: string[] = [];
const sets: string[] = [];
let run = false;
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--set') sets.push(args[++i]);
  else if (args[i] === '--run') run = true;
  else periods.push(args[i]);
}
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('config');
const config = parsed.config;
const db = await openDatabase(file);
const model = getModel('forecast');
for (const s of sets) await db.query(s);
for (const period of periods.length ? periods : ['this_year', 'all']) {
  const params = parseParams(model, { as_of: '2026-06-15', view: 'accuracy', period, ...(process.env.ACC_LAST ? { last: Number(process.env.ACC_LAST) } : {}), ...(process.env.ACC_METHOD ? { method: process.env.ACC_METHOD.split(',') } : {}) });
  const ctx = buildContext(model, params, config);
  await ensureFacts(db, ctx.stages);
  const st = compileModel(model, params, ctx, ALL_SCOPE);
  const bytes = compile(st).text.length;
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const r = await db.query(run ? st : sql`EXPLAIN ${st}`);
  const cpu = process.cpuUsage(c0);
  const wall = performance.now() - w0;
  console.log(JSON.stringify({ period, sets, run, bytes, rows: r.rows.length, cpu_s: +((cpu.user + cpu.system) / 1e6).toFixed(2), wall_s: +(wall / 1000).toFixed(2), ...(run ? { digest: JSON.stringify(r.rows).length } : {}) }));
}
await db.close();
