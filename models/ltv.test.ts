import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';
import type { LtvCohortRow, LtvSegmentRow } from './ltv';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const run = (params: Record<string, unknown> = {}, scope: Scope | null = { all: true }, on: Database = db) => runOnFixture(on, 'ltv', params, scope);
const segments = async (params: Record<string, unknown> = {}, scope?: Scope | null, on?: Database) => (await run(params, scope, on)).rows as LtvSegmentRow[];
const cohorts = async (params: Record<string, unknown> = {}, scope?: Scope | null) => (await run({ view: 'cohorts', ...params }, scope)).rows as LtvCohortRow[];

// Received payments up to 2026-06-15 (paid_amount, or amount when only a paid date is given):
//   C1: P1 60,000 (2025-03-05) + P2 40,000 (2025-06-20) + P4 50,000 of 80,000 (2026-03-10) + P8 5,000 (2025-09-15, no deal) = 155,000
//   C2: P3 50,000 (2025-05-10; P6 is unpaid); C3: P5 60,000 (2026-04-05); C4: P7 20,000 (2026-06-02); C8: P9 30,000 (2024-11-01)
//   C5, C6, C7: nothing received.
// The year for predictive LTV: the period (2026) ends after the report date, so [2025-06-16, 2026-06-16); last year
// [2024-06-16, 2025-06-16).
//   active this year (payment received or deal won): C1 (P2 P8 P4, W3), C2 (W5), C3 (W4, P5), C4 (W6, P7), C5 (W7) = 5
//   active last year: C1 (W1, P1), C2 (W2, P3), C8 (W8, P9) = 3; churned: C8 → churn 1/3
//   revenue this year: P2 40,000 + P8 5,000 + P4 50,000 + P5 60,000 + P7 20,000 = 175,000 → ARPA 175,000 / 5 = 35,000
describe('ltv segments on the history fixture (as of 2026-06-15, this year)', () => {
  it('historical LTV from received payments, and which basis was used', async () => {
    const r = await run();
    const [s] = r.rows as LtvSegmentRow[];
    expect(s).toMatchObject({ basis: 'payments', customers: 8, customers_with_revenue: 5, historical_ltv: 315000 });
    expect(s.avg_historical_ltv).toBeCloseTo(315000 / 5, 8);
    expect(r.summary).toMatchObject({ basis: 'payments', this_year: { from: '2025-06-16', to: '2026-06-16' }, last_year: { from: '2024-06-16', to: '2025-06-16' } });
  });

  it('acv = won amount / won deals in the period (W3 W4 W5 W6 W7: 210,000 / 5)', async () => {
    const [s] = await segments();
    expect(s).toMatchObject({ won_amount: 210000, won_deals: 5, acv: 42000 });
  });

  it('predictive LTV = ARPA × gross margin / churn: 35,000 × 1 × 3 years', async () => {
    const [s] = await segments();
    expect(s).toMatchObject({ active_customers: 5, active_last_year: 3, churned: 1 });
    expect(s.churn).toBeCloseTo(1 / 3, 12);
    expect(s.arpa).toBeCloseTo(35000, 8);
    expect(s.lifetime_years).toBeCloseTo(3, 12);
    expect(s.predictive_ltv).toBeCloseTo(105000, 6);
  });

  it('gross_margin scales the predictive LTV (0.4 → 42,000) and nothing else', async () => {
    const [s] = await segments({ gross_margin: '0.4' });
    expect(s.predictive_ltv).toBeCloseTo(42000, 6);
    expect(s.historical_ltv).toBe(315000);
    expect(s.gross_margin).toBe(0.4);
  });

  it('a bad gross margin is refused', async () => {
    await expect(run({ gross_margin: '0' })).rejects.toThrow(/gross_margin/);
    await expect(run({ gross_margin: '1.5' })).rejects.toThrow(/gross_margin/);
  });

  it('by region: churn 0 caps the lifetime at 10 years; no active customers last year or this year gives nulls', async () => {
    const rows = await segments({ group_by: 'region' });
    const by = Object.fromEntries(rows.map((r) => [r.group_key, r]));
    expect(rows.map((r) => r.group_key)).toEqual(['上海', '北京', '浙江', '江苏']); // by historical LTV
    // 上海 C1 C4: 155,000 + 20,000; both active this year, C1 last year, none churned → 10 years;
    // ARPA (C1 40,000 + 5,000 + 50,000, C4 20,000) / 2 = 57,500 → 575,000; acv (W3 80,000 + W6 20,000) / 2
    expect(by['上海']).toMatchObject({ customers: 2, historical_ltv: 175000, churn: 0, lifetime_years: 10, arpa: 57500, predictive_ltv: 575000, acv: 50000 });
    // 浙江 C2 C6: C2 won W5 this year but paid nothing in it (P6 unpaid) → ARPA 0, churn 0
    expect(by['浙江']).toMatchObject({ historical_ltv: 50000, active_customers: 1, churn: 0, arpa: 0, predictive_ltv: 0 });
    // 北京 C3 C5: nobody active last year → churn null → no predictive LTV; ARPA 60,000 / 2
    expect(by['北京']).toMatchObject({ active_last_year: 0, churn: null, lifetime_years: null, predictive_ltv: null, arpa: 30000, acv: 35000 });
    // 江苏 C7 C8: C8 churned (1 / 1), nobody active this year → ARPA null; no win in 2026 → acv null
    expect(by['江苏']).toMatchObject({ churn: 1, lifetime_years: 1, arpa: null, predictive_ltv: null, acv: null, won_deals: 0 });
    expect(rows.reduce((s, r) => s + r.customers, 0)).toBe(8);
    expect(rows.reduce((s, r) => s + r.historical_ltv, 0)).toBe(315000);
  });

  it('a churn below 10% is capped too: the lifetime never exceeds 10 years', async () => {
    // 11 more customers active in both years (a won deal each, 2025-01-01 and 2026-01-01): churn 1 / 14 → 14 years, capped at 10
    const extra: string[] = [];
    for (let i = 1; i <= 11; i++) {
      extra.push(`INSERT INTO customers (customer_id, name, region) VALUES ('X${i}', 'X${i}', '上海')`);
      extra.push(`INSERT INTO opportunities (opportunity_id, customer_id, owner_id, stage, status, amount, created_at, closed_at)
                  VALUES ('XA${i}', 'X${i}', 'U1', '赢单', 'won', 1000, '2024-12-01', '2025-01-01'), ('XB${i}', 'X${i}', 'U1', '赢单', 'won', 1000, '2025-12-01', '2026-01-01')`);
    }
    const db2 = await historyFixtureDb(extra);
    try {
      const [s] = await segments({}, { all: true }, db2);
      expect(s).toMatchObject({ active_last_year: 14, churned: 1 });
      expect(s.lifetime_years).toBe(10);
      expect(s.predictive_ltv).toBeCloseTo((s.arpa ?? NaN) * 10, 6);
    } finally {
      await db2.close();
    }
  });

  it('without any payments, historical LTV is the won amount, and the result says so', async () => {
    const db2 = await historyFixtureDb([`DELETE FROM payments`]);
    try {
      const r = await run({}, { all: true }, db2);
      const [s] = r.rows as LtvSegmentRow[];
      // C1 W1 + W3 180,000; C2 W2 + W5 90,000; C3 W4 60,000; C4 W6 20,000; C5 W7 10,000; C8 W8 30,000
      expect(s).toMatchObject({ basis: 'won_amount', historical_ltv: 390000, customers_with_revenue: 6 });
      // revenue this year = the wins W3..W7 = 210,000 over the same 5 active customers
      expect(s.arpa).toBeCloseTo(42000, 8);
      expect(s.predictive_ltv).toBeCloseTo(126000, 6);
      expect(r.summary?.basis).toBe('won_amount');
    } finally {
      await db2.close();
    }
  });

  it('basis=won_amount forces won amounts even when payments exist', async () => {
    const [s] = await segments({ basis: 'won_amount' });
    expect(s).toMatchObject({ basis: 'won_amount', historical_ltv: 390000 });
  });

  it('the report date bounds history: as of 2025-12-31 C1 has P1 P2 P8 only', async () => {
    const rows = await segments({ as_of: '2025-12-31', period: 'this_year', group_by: 'owner' });
    // owners are the customers' owners: U1 owns C1 and C7
    expect(rows.find((r) => r.group_key === 'U1')?.historical_ltv).toBe(105000);
  });

  it('filters are the customer\'s: industry 制造业 = C1 C4 C7; product A counts only product A deals and their payments', async () => {
    const [m] = await segments({ industry: '制造业' });
    expect(m).toMatchObject({ customers: 3, historical_ltv: 175000 });
    const [a] = await segments({ product: 'A' });
    // customers with a product A deal: C1 (W1 W3 O1), C2 (W5), C3 (L1), C4 (O5), C5 (L5 O3), C6 (L3), C8 (W8)
    // their payments on product A deals: P1 P2 (W1) + P4 (W3) + P9 (W8); P6 (W5) unpaid; P8 has no deal
    expect(a).toMatchObject({ customers: 7, historical_ltv: 60000 + 40000 + 50000 + 30000 });
  });

  it('scope: U4 sees C3 and C8 and the payments of its own deals (P5, P9)', async () => {
    const [s] = await segments({}, { team_ids: [], owner_ids: ['U4'] });
    expect(s).toMatchObject({ customers: 2, historical_ltv: 90000 });
  });

  it('no scope: nothing', async () => {
    const [s] = await segments({}, null);
    expect(s).toMatchObject({ customers: 0, historical_ltv: 0, churn: null, predictive_ltv: null });
  });
});

describe('ltv cohorts by first won month', () => {
  it('2026 cohorts: 2026-03 (C3) and 2026-05 (C4, C5), every month since up to June', async () => {
    const r = await run({ view: 'cohorts' });
    const rows = r.rows as LtvCohortRow[];
    expect(rows.map((x) => [x.cohort, x.months_since, x.customers, x.retained, x.retained_share, x.revenue, x.cumulative_revenue_per_customer])).toEqual([
      // C3: won W4 in March (month 0), paid P5 60,000 in April (month 1), nothing since
      ['2026-03', 0, 1, 1, 1, 0, 0],
      ['2026-03', 1, 1, 1, 1, 60000, 60000],
      ['2026-03', 2, 1, 0, 0, 0, 60000],
      ['2026-03', 3, 1, 0, 0, 0, 60000],
      // C4 and C5 won W6, W7 in May; in June only C4 was active (P7 20,000)
      ['2026-05', 0, 2, 2, 1, 0, 0],
      ['2026-05', 1, 2, 1, 0.5, 20000, 10000]
    ]);
    expect(r.n).toBe(3);
  });

  it('all time: C8\'s 2024-10 cohort runs 21 months to June 2026; C1 keeps buying', async () => {
    const rows = await cohorts({ period: 'all' });
    const c8 = rows.filter((x) => x.cohort === '2024-10');
    expect(c8).toHaveLength(21);
    expect(c8[1]).toMatchObject({ retained: 1, revenue: 30000, cumulative_revenue_per_customer: 30000 }); // P9 in November
    const c1 = rows.filter((x) => x.cohort === '2025-02');
    // W1 2025-02 (0), P1 2025-03 (1), P2 2025-06 (4), P8 2025-09 (7), W3 2026-02 (12), P4 2026-03 (13)
    expect(c1.filter((x) => x.retained > 0).map((x) => x.months_since)).toEqual([0, 1, 4, 7, 12, 13]);
    expect(c1[13].cumulative_revenue_per_customer).toBe(155000);
    expect(rows.map((x) => x.cohort).filter((v, i, a) => a.indexOf(v) === i)).toEqual(['2024-10', '2025-02', '2025-03', '2026-03', '2026-05']);
  });

  it('scope: U3 sees C2 (W2 2025-03, via its deal) and C5 (W7)', async () => {
    const rows = await cohorts({ period: 'all' }, { team_ids: [], owner_ids: ['U3'] });
    // U3's deals: W2 (C2), W7 (C5), L4 L5 O3; C2's W5 belongs to U2 and is not visible
    expect(rows.filter((x) => x.months_since === 0).map((x) => [x.cohort, x.customers])).toEqual([['2025-03', 1], ['2026-05', 1]]);
  });
});
