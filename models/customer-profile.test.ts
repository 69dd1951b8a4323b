import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';
import type { GridCustomerRow, GridRow, ProfileRow } from './customer-profile';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const run = (params: Record<string, unknown> = {}, scope: Scope | null = { all: true }, on: Database = db) =>
  runOnFixture(on, 'customer_profile', params, scope);

// Customers: C1 制造业 上海 展会 重点客户; C2 信息技术 浙江 官网咨询 普通客户; C3 零售 北京 老客户推荐 战略客户;
// C4 制造业 上海 官网咨询 普通客户; C5 信息技术 北京 展会 普通客户; C6 零售 浙江 展会 重点客户;
// C7 制造业 江苏 官网咨询 普通客户; C8 零售 江苏 展会 普通客户.
// Won in 2026: C1 W3 80,000; C3 W4 60,000; C2 W5 40,000; C4 W6 20,000; C5 W7 10,000 (210,000 in all).
describe('customer_profile by attribute (this year)', () => {
  it('industry: customers, their share, customers with a win, won deals and amount', async () => {
    const r = await run({ by: 'industry' });
    const rows = r.rows as ProfileRow[];
    expect(rows.map((x) => [x.value, x.customers, x.won_customers, x.won_deals, x.won_amount])).toEqual([
      ['制造业', 3, 2, 2, 100000], // C1 C4 C7: W3 + W6
      ['零售', 3, 1, 1, 60000], // C3 C6 C8: W4
      ['信息技术', 2, 2, 2, 50000] // C2 C5: W5 + W7
    ]);
    expect(rows.map((x) => x.share_customers)).toEqual([3 / 8, 3 / 8, 2 / 8]);
    expect(rows[0].share_won_amount).toBeCloseTo(100000 / 210000, 12);
    expect(r.n).toBe(8);
  });

  it('all four dimensions by default, each covering every customer once', async () => {
    const rows = (await run()).rows as ProfileRow[];
    const of = (d: string) => rows.filter((x) => x.dimension === d).map((x) => [x.value, x.customers, x.won_amount]);
    expect(of('region')).toEqual([['上海', 2, 100000], ['北京', 2, 70000], ['浙江', 2, 40000], ['江苏', 2, 0]]);
    expect(of('source')).toEqual([['展会', 4, 90000], ['官网咨询', 3, 60000], ['老客户推荐', 1, 60000]]);
    expect(of('grade')).toEqual([['普通客户', 5, 70000], ['重点客户', 2, 80000], ['战略客户', 1, 60000]]);
    for (const d of ['industry', 'region', 'source', 'grade']) {
      expect(rows.filter((x) => x.dimension === d).reduce((s, x) => s + x.customers, 0)).toBe(8);
    }
  });

  it('the period filters the won amount by close date (2025: W1 C1 100,000, W2 C2 50,000)', async () => {
    const rows = (await run({ by: 'industry', period: 'last_year' })).rows as ProfileRow[];
    expect(rows.map((x) => [x.value, x.won_amount])).toEqual([['制造业', 100000], ['零售', 0], ['信息技术', 50000]]);
  });

  it('customers created after the period are not in it', async () => {
    const db2 = await historyFixtureDb([`UPDATE customers SET created_at = '2026-03-01' WHERE customer_id = 'C7'`]);
    try {
      const rows = (await run({ by: 'industry', period: 'last_year' }, { all: true }, db2)).rows as ProfileRow[];
      expect(rows.find((x) => x.value === '制造业')?.customers).toBe(2);
    } finally {
      await db2.close();
    }
  });

  it('a missing attribute is its own row (value null)', async () => {
    const db2 = await historyFixtureDb([`UPDATE customers SET industry = NULL WHERE customer_id = 'C5'`]);
    try {
      const rows = (await run({ by: 'industry' }, { all: true }, db2)).rows as ProfileRow[];
      expect(rows.map((x) => [x.value, x.customers])).toEqual([['制造业', 3], ['零售', 3], ['信息技术', 1], [null, 1]]);
    } finally {
      await db2.close();
    }
  });

  it('scope: U4 sees C3 and C8', async () => {
    const rows = (await run({ by: 'region' }, { team_ids: [], owner_ids: ['U4'] })).rows as ProfileRow[];
    expect(rows.map((x) => [x.value, x.customers, x.won_amount])).toEqual([['北京', 1, 60000], ['江苏', 1, 0]]);
  });
});

// Value = received payments: C1 155,000, C2 50,000, C3 60,000, C4 20,000, C8 30,000; C5 C6 C7 0.
//   median of the positive ones (20, 30, 50, 60, 155 thousand) = 50,000; high when ≥ it: C1, C2, C3.
// Potential = open pipeline: C1 O1 120,000, C3 O2 70,000, C5 O3 30,000, C6 O4 90,000, C4 O5 10,000.
//   median of the positive ones (10, 30, 70, 90, 120 thousand) = 70,000; high: C1, C3, C6.
describe('customer_profile value × potential grid', () => {
  it('four quadrants split at the medians of the positive values', async () => {
    const r = await run({ view: 'grid' });
    const rows = r.rows as GridRow[];
    expect(rows.map((x) => [x.quadrant, x.label['zh-CN'], x.customers, x.value, x.potential])).toEqual([
      ['key_maintain', '重点维护', 2, 155000 + 60000, 120000 + 70000], // C1, C3
      ['key_develop', '重点培育', 1, 0, 90000], // C6
      ['standard', '标准服务', 1, 50000, 0], // C2 (exactly at the value median: high)
      ['activate', '待激活', 4, 20000 + 30000, 10000 + 30000] // C4, C5, C7, C8
    ]);
    expect(rows.map((x) => x.share)).toEqual([2 / 8, 1 / 8, 1 / 8, 4 / 8]);
    expect(r.summary).toMatchObject({ value_median: 50000, potential_median: 70000, basis: 'payments', potential: 'open_pipeline_amount', customers: 8 });
    expect(r.n).toBe(8);
  });

  it('the customers behind the grid, largest first, and one quadrant at a time', async () => {
    const rows = (await run({ view: 'grid_customers' })).rows as GridCustomerRow[];
    expect(rows.map((x) => [x.customer_id, x.quadrant])).toEqual([
      ['C1', 'key_maintain'], // 275,000
      ['C3', 'key_maintain'], // 130,000
      ['C6', 'key_develop'], // 90,000
      ['C2', 'standard'], // 50,000
      ['C4', 'activate'], // 30,000 (ties by id)
      ['C5', 'activate'],
      ['C8', 'activate'],
      ['C7', 'activate'] // 0
    ]);
    expect(rows[0]).toMatchObject({ name: '上海甲公司', owner_name: '张伟', value: 155000, potential: 120000 });
    const act = (await run({ view: 'grid_customers', quadrant: 'activate', limit: '2' })).rows as GridCustomerRow[];
    expect(act.map((x) => x.customer_id)).toEqual(['C4', 'C5']);
  });

  it('potential from a mapped customer attribute instead of the pipeline', async () => {
    const db2 = await historyFixtureDb([
      `UPDATE customers SET attributes = '{"预计采购额": 500000}' WHERE customer_id = 'C7'`,
      `UPDATE customers SET attributes = '{"预计采购额": "80000"}' WHERE customer_id = 'C2'`
    ]);
    try {
      const r = await run({ view: 'grid', potential_field: '预计采购额' }, { all: true }, db2);
      // potential: C7 500,000, C2 80,000 → median 290,000: only C7 high; value as before
      expect((r.rows as GridRow[]).map((x) => [x.quadrant, x.customers])).toEqual([
        ['key_maintain', 0],
        ['key_develop', 1], // C7
        ['standard', 3], // C1 C2 C3
        ['activate', 4]
      ]);
      expect(r.summary).toMatchObject({ potential_median: 290000, potential: 'attributes.预计采购额' });
    } finally {
      await db2.close();
    }
  });

  it('a potential_field that could be an injection is refused', async () => {
    await expect(run({ view: 'grid', potential_field: `x') OR 1=1 --` })).rejects.toThrow(/potential_field/);
  });

  it('scope: U4 sees C3 (60,000 / O2 70,000) and C8 (30,000 / none)', async () => {
    const rows = (await run({ view: 'grid' }, { team_ids: [], owner_ids: ['U4'] })).rows as GridRow[];
    // value median (30, 60) = 45,000 → C3 high; potential median (70) = 70,000 → C3 high
    expect(rows.map((x) => x.customers)).toEqual([1, 0, 0, 1]);
  });

  it('an empty view: four empty quadrants, null medians', async () => {
    const r = await run({ view: 'grid' }, null);
    expect((r.rows as GridRow[]).map((x) => [x.customers, x.share])).toEqual([[0, null], [0, null], [0, null], [0, null]]);
    expect(r.summary).toMatchObject({ value_median: null, potential_median: null });
  });
});
