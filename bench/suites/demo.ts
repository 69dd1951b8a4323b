/**
 * Demo generation time per scale, beside the floor of writing as many rows of plain random
 * numbers into a DuckDB file with one CREATE TABLE AS (the cost of the realism on top).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo, type Scale } from '../../src/lib/server/demo/generate';
import type { Suite } from './index';

export const demo: Suite = {
  name: 'demo',
  description: 'cockpit demo: generation time by scale (SQL inside DuckDB) vs a CTAS of as many random rows',
  async run(log) {
    const rows = [];
    for (const scale of ['small', 'medium', 'large'] as Scale[]) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-demo-'));
      const db = await Database.open(join(dir, 'demo.duckdb'));
      const t0 = performance.now();
      const r = await generateDemo(db, { scale, seed: 42, asOf: '2026-11-21' });
      const ms = performance.now() - t0;
      const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
      const b0 = performance.now();
      await db.write((tx) =>
        tx.run(`CREATE TABLE floor AS SELECT i, random() AS a, random() AS b, random()::VARCHAR AS c, now()::TIMESTAMP AS t FROM range(${total}) r(i)`)
      );
      const floor = performance.now() - b0;
      await db.close();
      rmSync(dir, { recursive: true, force: true });
      log(`${scale}: ${(ms / 1000).toFixed(1)} s for ${r.counts.opportunities.toLocaleString()} opportunities (${total.toLocaleString()} rows)`);
      rows.push({
        case: `${scale}: ${r.counts.opportunities.toLocaleString()} opportunities, ${total.toLocaleString()} rows in all`,
        value: ms / 1000,
        baseline: floor / 1000,
        baseline_label: 'CTAS of random rows',
        unit: 's'
      });
    }
    return rows;
  }
};
