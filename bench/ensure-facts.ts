/**
 * Rebuilds a database's derived tables when they are stale for this checkout (FACTS_VERSION,
 * stages), e.g. a copy of the 1M demo before bench/explain-model.ts, which does not:
 *   npx tsx bench/ensure-facts.ts /tmp/large.duckdb
 * `BENCH_MEMORY_LIMIT=12GB` sets DuckDB's memory limit first (the 10M demo's facts).
 */
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase } from '../src/lib/server/db/database';
import { stageInfos } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';

const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const db = await openDatabase(process.argv[2]);
if (process.env.BENCH_MEMORY_LIMIT) await db.write((tx) => tx.run(`SET memory_limit = '${process.env.BENCH_MEMORY_LIMIT}'`), { derived: true });
const t0 = performance.now();
const c0 = process.cpuUsage();
await ensureFacts(db, stageInfos(cfg.config));
const c = process.cpuUsage(c0);
console.log(`facts fresh after ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${((c.user + c.system) / 1e6).toFixed(1)} CPU-s`);
await db.close();
