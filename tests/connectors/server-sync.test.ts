/** The server's sync machinery in-process: single-flight and the schedule. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { scheduleSyncs, syncOnce } from '../../connectors/load/server-sync';
import { parseSizeMiB } from '../../connectors/load/sync';

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

  // DuckDB's own limit (its default is 80% of the machine's memory) is the ceiling: the sync's
  // raises for 230,000 deals (the derived tables want ~1 KB per deal above 200,000, from the
  // 400MB = 381.5 MiB start: 411 MiB) stop there instead of asking for more than the machine was
  // allowed to give.
  it('never raises DuckDB\'s memory limit above the limit it found', async () => {
    const big = mkdtempSync(join(tmpdir(), 'sync-ceiling-'));
    const lines = ['商机编号,客户名称,负责人,销售阶段,预计成交金额,创建日期'];
    const stages = ['初步接洽', '需求分析', '赢单', '输单'];
    for (let i = 1; i <= 230_000; i++) lines.push(`M-${i},客户${i % 5000},销售${i % 50},${stages[i % 4]},${1000 + (i % 977)},2025-${String(1 + (i % 12)).padStart(2, '0')}-15`);
    writeFileSync(join(big, 'deals.csv'), lines.join('\n') + '\n');
    const cfg = parseConfig({ sources: [{ name: 'deals', type: 'csv', entity: 'opportunities', path: 'deals.csv' }] }, null, big);
    if (!cfg.ok) throw new Error(cfg.issues.join('\n'));
    const small = await Database.open(join(big, 'c.duckdb'));
    try {
      // 420 MB is ~400.5 MiB: above the sync's 381.5 MiB start, below the 411 MiB its raise wants
      await small.query(`SET memory_limit = '420MB'`);
      const before = (await small.query<{ v: string }>(`SELECT current_setting('memory_limit') AS v`)).rows[0].v;
      const ceiling = Number(/^([\d.]+) MiB$/.exec(before)?.[1]);
      expect(ceiling).toBeGreaterThan(400);
      expect(ceiling).toBeLessThan(401);
      const logs: string[] = [];
      const { runSync } = await import('../../connectors/load/sync');
      const r = await runSync(small, { config: cfg.config, baseDir: big, log: (m) => logs.push(m) });
      expect(r.ok, r.error ?? '').toBe(true);
      const raised = logs.flatMap((l) => [...l.matchAll(/DuckDB memory limit (\d+)MiB/g)].map((m) => Number(m[1])));
      expect(raised.length, logs.join('\n')).toBeGreaterThan(0);
      expect(Math.max(...raised), logs.join('\n')).toBeLessThanOrEqual(ceiling);
      expect(logs.some((l) => /\(411MiB wanted; DuckDB's own limit is /.test(l)), logs.join('\n')).toBe(true);
      expect((await small.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM deal_facts`)).rows[0].n).toBe(230_000);
      // restored afterwards (DuckDB prints the same setting with a last digit that varies)
      const after = (await small.query<{ v: string }>(`SELECT current_setting('memory_limit') AS v`)).rows[0].v;
      expect(Math.abs(Number(/^([\d.]+) MiB$/.exec(after)?.[1]) - ceiling)).toBeLessThan(0.5);
    } finally {
      await small.close();
    }
  });

  // A sync started while another runs (an upload import beside a scheduled sync: the upload path
  // does not join the running sync) once read the other's lowered 400MB as DuckDB's own limit,
  // restored that, and every later sync took it for its ceiling.
  it("two syncs at once leave DuckDB's own limit in place, and the next sync still has it for ceiling", async () => {
    const own = await Database.open(join(mkdtempSync(join(tmpdir(), 'sync-race-')), 'c.duckdb'));
    try {
      const before = (await own.query<{ v: string }>(`SELECT current_setting('memory_limit') AS v`)).rows[0].v;
      const { runSync } = await import('../../connectors/load/sync');
      const first = runSync(own, { config, baseDir: dir });
      await new Promise((r) => setTimeout(r, 20));
      const second = runSync(own, { config, baseDir: dir });
      const [a, b] = await Promise.all([first, second]);
      expect([a.ok, b.ok], `${a.error} ${b.error}`).toEqual([true, true]);
      const after = (await own.query<{ v: string }>(`SELECT current_setting('memory_limit') AS v`)).rows[0].v;
      const mib = (v: string) => parseSizeMiB(v.replace(/\s+/g, ''));
      expect(Math.abs(mib(after) - mib(before)), `${before} → ${after}`).toBeLessThan(mib(before) * 0.01);
      const logs: string[] = [];
      await runSync(own, { config, baseDir: dir, log: (m) => logs.push(m) });
      expect(logs.filter((l) => /above DuckDB's own/.test(l))).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
