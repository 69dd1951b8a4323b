import fc from 'fast-check';
import { Database } from './src/lib/server/db/database';
import { parseConfig } from './src/lib/server/config/load';
import { getModel, parseParams, buildContext, compileModel } from './src/lib/server/models/run';
import { compile, Sql } from './src/lib/server/db/sql';
import { ensureFacts } from './models/common/facts';
import { crmArb, loadRandomCrm, RANDOM_AS_OF } from './tests/helpers/random-crm';
const db = await Database.open(':memory:');
const cfg = parseConfig({}); if (!cfg.ok) throw 1;
const [crm] = fc.sample(crmArb, { numRuns: 1, seed: 4242 });
await loadRandomCrm(db, crm);
const name = process.argv[2]; const p = JSON.parse(process.argv[3] ?? '{}');
const model = getModel(name); const params = parseParams(model, { as_of: RANDOM_AS_OF, period: 'all', ...p });
const ctx = buildContext(model, params, cfg.config);
const st = compileModel(model, params, ctx, { all: true });
await ensureFacts(db, ctx.stages);
console.log('sql chars', compile(st).text.length);
for (let i = 0; i < 3; i++) { const t = performance.now(); await db.query(st); console.log('run', Math.round(performance.now() - t)); }
const st2 = Object.assign(Object.create(Object.getPrototypeOf(st)), st, { strings: [st.strings[0].replace('WITH RECURSIVE', 'WITH'), ...st.strings.slice(1)] });
for (let i = 0; i < 3; i++) { const t = performance.now(); try { await db.query(st2); } catch (e) { console.log(String(e).slice(0,200)); break; } console.log('nonrec', Math.round(performance.now() - t)); }
const st3 = Object.assign(Object.create(Object.getPrototypeOf(st)), st, { strings: ['EXPLAIN ' + st.strings[0], ...st.strings.slice(1)] });
for (let i = 0; i < 2; i++) { const t = performance.now(); await db.query(st3); console.log('explain', Math.round(performance.now() - t)); }
db.close();
const db2 = await Database.open(':memory:');
await loadRandomCrm(db2, crm); await ensureFacts(db2, ctx.stages);
const { unsafeRaw } = await import('./src/lib/server/db/sql');
await db2.query(unsafeRaw("PRAGMA enable_profiling='json'"));
await db2.query(unsafeRaw("PRAGMA profiling_mode='detailed'"));
await db2.query(unsafeRaw("PRAGMA profiling_output='/tmp/prof.json'"));
await db2.query(st);
const j = JSON.parse((await import('node:fs')).readFileSync('/tmp/prof.json','utf8'));
const top = Object.entries(j).filter(([k,v]) => typeof v === 'number' && v > 0.005).sort((a,b)=>Number(b[1])-Number(a[1]));
console.log(top.slice(0,25));
