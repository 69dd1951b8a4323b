import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(process.argv[2], { access_mode: 'READ_ONLY' });
const conn = await inst.connect();
const qs = process.argv.slice(3);
for (const q of qs) {
  await conn.run(q);
  const t: number[] = [];
  for (let i = 0; i < 5; i++) { const t0 = performance.now(); await conn.runAndReadAll(q); t.push(performance.now() - t0); }
  t.sort((a, b) => a - b);
  console.log(`${t[2].toFixed(0)} ms  ${q.slice(0, 150)}`);
}
