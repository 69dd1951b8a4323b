/**
 * Landing takes two paths (connectors/load/sync.ts): keys already stored are upserted, new keys
 * are plainly inserted. One sync mixing both, with two sources of the same entity (the later
 * source wins for an id, also for an id the earlier source added in this very sync) and a
 * source that maps fewer columns (the columns it does not map keep their stored values).
 * Expected values are the rows written below.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { runSync, type SyncReport } from '../../connectors/load/sync';

const dir = mkdtempSync(join(tmpdir(), 'upsert-paths-'));
let db: Database;
let second: SyncReport;

function config(sources: { name: string; path: string }[]) {
  const r = parseConfig({ database: join(dir, 'x.duckdb'), sources: sources.map((s) => ({ ...s, type: 'csv', entity: 'opportunities' })) }, null, dir);
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

function csv(name: string, text: string) {
  writeFileSync(join(dir, name), text);
  return { name: name.replace('.csv', ''), path: join(dir, name) };
}

beforeAll(async () => {
  db = await Database.open(join(dir, 'x.duckdb'));
  const a = csv('a.csv', '商机编号,客户名称,销售阶段,预计成交金额,负责人,产品\nK1,甲公司,初步接洽,100,张三,P1\nK2,乙公司,初步接洽,200,张三,P2\n');
  const first = await runSync(db, { config: config([a]), baseDir: dir });
  expect(first.ok, first.error ?? '').toBe(true);
  // b: K2 known (changed), K3 new. c (no product column): K3 again (added by b in this sync) and K1 known.
  const b = csv('b.csv', '商机编号,客户名称,销售阶段,预计成交金额,负责人,产品\nK2,乙公司,方案报价,250,张三,P2b\nK3,丙公司,初步接洽,300,李四,P3\n');
  const c = csv('c.csv', '商机编号,客户名称,销售阶段,预计成交金额,负责人\nK3,丙公司,商务谈判,350,李四\nK1,甲公司,需求分析,150,张三\n');
  second = await runSync(db, { config: config([b, c]), baseDir: dir });
}, 60_000);

afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('new keys inserted, known keys upserted, in one sync', () => {
  it('reports new and known ids per source, judged before the sync wrote anything', () => {
    expect(second.ok, second.error ?? '').toBe(true);
    expect(second.sources.map((s) => [s.source, s.loaded, s.updated])).toEqual([
      ['b', 1, 1],
      ['c', 1, 1]
    ]);
  });

  it('stores each id once with the later source’s values and keeps columns a source does not map', async () => {
    const { rows } = await db.query(`SELECT opportunity_id, stage, amount::DOUBLE AS amount, product FROM opportunities ORDER BY 1`);
    expect(rows).toEqual([
      { opportunity_id: 'K1', stage: '需求分析', amount: 150, product: 'P1' },
      { opportunity_id: 'K2', stage: '方案报价', amount: 250, product: 'P2b' },
      { opportunity_id: 'K3', stage: '商务谈判', amount: 350, product: 'P3' }
    ]);
  });
});
