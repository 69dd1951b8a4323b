/** The server's sync machinery in-process: single-flight and the schedule. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { scheduleSyncs, syncOnce } from '../../connectors/load/server-sync';

const dir = mkdtempSync(join(tmpdir(), 'server-sync-'));
writeFileSync(join(dir, 'deals.csv'), '商机编号,销售阶段,预计成交金额\nS-1,初步接洽,100\nS-2,赢单,200\n');
const parsed = parseConfig({ sync: { every: '1s' }, sources: [{ name: 'deals', type: 'csv', entity: 'opportunities', path: 'deals.csv' }] }, null, dir);
if (!parsed.ok) throw new Error(parsed.issues.join('\n'));
const config = parsed.config;
let db: Database;

afterAll(async () => {
  await db?.close();
});

describe('syncs in the server', () => {
  it('runs one sync at a time: a second request joins the running one', async () => {
    db = await Database.open(join(dir, 'c.duckdb'));
    const a = syncOnce(db, config, dir);
    const b = syncOnce(db, config, dir);
    expect([a.joined, b.joined]).toEqual([false, true]);
    const [ra, rb] = await Promise.all([a.report, b.report]);
    expect(ra).toBe(rb);
    expect(ra.sources[0]).toMatchObject({ loaded: 2, rejected: 0 });
    expect((await db.query(`SELECT count(*)::INTEGER AS n FROM sync_runs`)).rows).toEqual([{ n: 1 }]);
    // Once it finished, the next request starts a new sync.
    const c = syncOnce(db, config, dir);
    expect(c.joined).toBe(false);
    expect((await c.report).sources[0]).toMatchObject({ loaded: 0, updated: 2 });
  });

  it('syncs on the configured schedule', async () => {
    const logs: string[] = [];
    const stop = scheduleSyncs(db, config, dir, (m) => logs.push(m));
    try {
      // Wait (polling, no timing assertion) until the schedule has run a sync.
      while (logs.length === 0) await new Promise((r) => setTimeout(r, 100));
    } finally {
      stop();
    }
    expect(logs[0]).toBe('scheduled sync: ok (deals +0/~2/!0)');
    expect((await db.query(`SELECT count(*)::INTEGER AS n FROM sync_runs WHERE source = 'deals' AND status = 'ok'`)).rows[0]).toEqual({ n: 3 });
  });

  // Under a limit too low to stage anything, DuckDB either refuses the limit or runs out of
  // memory; either way the sync completes (the second by running again under DuckDB's own limit).
  it('completes a sync even when the sync memory limit is far too low', async () => {
    const logs: string[] = [];
    const r = await import('../../connectors/load/sync').then(({ runSync }) => runSync(db, { config, baseDir: dir, memoryLimit: '1MB', log: (m) => logs.push(m) }));
    expect(r.ok, r.error ?? '').toBe(true);
    expect(logs.some((l) => /^(DuckDB ran out of memory under the 1MB sync limit|cannot lower DuckDB's memory limit to 1MB)/.test(l))).toBe(true);
    // The limit is restored afterwards, and no failed run was recorded.
    expect((await db.query(`SELECT count(*)::INTEGER AS n FROM sync_runs WHERE status = 'failed'`)).rows).toEqual([{ n: 0 }]);
    expect((await db.query<{ v: string }>(`SELECT current_setting('memory_limit') AS v`)).rows[0].v).not.toBe('1.0 MiB');
  });
});

