/**
 * The baseline of bench/suites/export.ts in its own process, so its CPU time and peak RSS are
 * its own: `tsx bench/export-copy-child.ts DB AS_OF OUT` runs DuckDB's `COPY (<the deals
 * export statement>) TO OUT (HEADER)` — the same rows, columns and order the export writes —
 * and prints one JSON line: wall seconds, CPU seconds, peak RSS (MB), bytes written.
 */
import { statSync } from 'node:fs';
import { Database } from '../src/lib/server/db/database';
import { sql, unsafeRaw } from '../src/lib/server/db/sql';
import { parseConfig } from '../src/lib/server/config/load';
import { compileExport } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';
import { ALL_SCOPE } from '../models/common/scope';

const [file, asOf, out] = process.argv.slice(2);
const cfg = parseConfig({});
if (!cfg.ok) throw new Error(cfg.issues.join('; '));
const { statement, ctx } = compileExport(cfg.config, 'deals', { as_of: asOf }, ALL_SCOPE);
const db = await Database.open(file);
await ensureFacts(db, ctx.stages);
const u0 = process.cpuUsage();
const t0 = performance.now();
await db.execute(sql`COPY (${statement}) TO ${unsafeRaw(`'${out.replace(/'/g, "''")}'`)} (HEADER)`);
const s = (performance.now() - t0) / 1000;
const u = process.cpuUsage(u0);
await db.close();
console.log(JSON.stringify({ s, cpu: (u.user + u.system) / 1e6, rss: process.resourceUsage().maxRSS / 1024, bytes: statSync(out).size }));
