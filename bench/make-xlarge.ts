/**
 * Builds the demo `xlarge` database (10,000,000 opportunities) once into a file, under a DuckDB
 * memory limit (default 6 GB, `BENCH_MEMORY_LIMIT`) so a shared machine keeps its memory:
 *   nice -n 10 npx tsx bench/make-xlarge.ts /tmp/xlarge.duckdb
 * then `BENCH_MODELS_DB=/tmp/xlarge.duckdb npm run bench -- models`.
 */
import { Database } from '../src/lib/server/db/database';
import { generateDemo, type Scale } from '../src/lib/server/demo/generate';
import { parseConfig } from '../src/lib/server/config/load';
import { stageInfos } from '../src/lib/server/models/run';

const file = process.argv[2];
if (!file) throw new Error('usage: tsx bench/make-xlarge.ts <file.duckdb> [scale]');
const scale = (process.argv[3] ?? 'xlarge') as Scale;
const cfg = parseConfig({});
if (!cfg.ok) throw new Error(cfg.issues.join('; '));
const db = await Database.open(file);
await db.write((tx) => tx.run(`SET memory_limit = '${process.env.BENCH_MEMORY_LIMIT ?? '6GB'}'`), { derived: true });
const t0 = performance.now();
const r = await generateDemo(db, { scale, seed: 42, asOf: '2026-06-15', stages: stageInfos(cfg.config), sliceRows: Number(process.env.BENCH_SLICE_ROWS ?? 1_000_000), log: (m) => console.error(`  ${m}`) });
console.error(`demo ${scale} with its derived tables in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${JSON.stringify(r.counts)}`);
await db.close();
