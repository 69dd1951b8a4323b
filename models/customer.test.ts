/**
 * The `customer` model (客户360) on the history fixture (tests/helpers/fixture-history.ts), every
 * figure worked out by hand from the fixture's rows; report date 2026-06-15.
 *
 * C1 上海甲公司 (制造业, 上海, 展会, 重点客户, owner U1 张伟 of T11 上海组):
 *   deals W1 won 100,000 (closed 2025-02-19), W3 won 80,000 (2026-02-04), O1 open 120,000 → 3 deals,
 *   won 2 = 180,000, open 1 = 120,000, lost 0; first win 2025-02-19.
 *   payments P1 60,000 paid; P2 40,000 paid (paid_amount empty = the amount); P4 80,000 due 03-01 paid 50,000
 *   (30,000 outstanding, 106 days overdue: 03-01 → 06-15 = 31 + 30 + 31 + 14); P8 5,000 without a deal, paid
 *   → paid 155,000, outstanding 30,000, overdue 30,000 in 1 payment.
 *   follow-ups: A1 on O1 (2026-05-01).
 *   won by month: 2025-02 100,000 … 2026-02 80,000, every month from 2025-02 to 2026-06 (17 months), total 180,000.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const run = (params: Record<string, unknown>, scope: Scope | null = { all: true }) => runOnFixture(db, 'customer', params, scope);

describe('customer (客户360)', () => {
  it('profile, owner and totals of C1', async () => {
    const r = await run({ id: 'C1' });
    expect(r.summary?.customer).toEqual({
      customer_id: 'C1',
      name: '上海甲公司',
      industry: '制造业',
      region: '上海',
      source: '展会',
      grade: '重点客户',
      status: null,
      owner_id: 'U1',
      owner_name: '张伟',
      team_id: 'T11',
      team_name: '上海组',
      created_at: null,
      deals: 3,
      won_deals: 2,
      won_amount: 180000,
      open_deals: 1,
      open_amount: 120000,
      lost_deals: 0,
      first_won_at: '2025-02-19',
      paid_total: 155000,
      outstanding: 30000,
      overdue: 30000,
      overdue_payments: 1,
      last_activity_at: '2026-05-01T00:00:00'
    });
  });

  it('won value by month with the running total, payments with what is overdue, follow-ups', async () => {
    const r = await run({ id: 'C1' });
    const months = r.rows.filter((x) => x.kind === 'won_month');
    expect(months.length).toBe(17);
    expect(months[0]).toMatchObject({ at: '2025-02-01T00:00:00', amount: 100000, cumulative: 100000 });
    expect(months.find((m) => String(m.at).startsWith('2026-02'))).toMatchObject({ amount: 80000, cumulative: 180000 });
    expect(months.at(-1)).toMatchObject({ at: '2026-06-01T00:00:00', amount: 0, cumulative: 180000 });
    const pays = Object.fromEntries(r.rows.filter((x) => x.kind === 'payment').map((x) => [x.ref, [x.outstanding, x.days, x.deal]]));
    expect(pays).toEqual({ P1: [0, null, 'W1'], P2: [0, null, 'W1'], P4: [30000, 106, 'W3'], P8: [0, null, null] });
    expect(r.rows.filter((x) => x.kind === 'activity').map((x) => [x.ref, x.who, x.deal])).toEqual([['A1', '张伟', 'O1']]);
  });

  it('scoped: a rep sees only what the scope allows, an out-of-scope customer is not found', async () => {
    // U4 has no deal with C1 and does not own it: not found.
    const none = await run({ id: 'C1' }, { team_ids: [], owner_ids: ['U4'] });
    expect(none.summary?.customer).toBeNull();
    expect(none.rows).toEqual([]);
    // U1 sees C4 (上海丁, owned by U5) only through its lost deal L2: W6 (U5), O5 (U2), W6's payment P7 and U2's
    // follow-up A5 on C4 stay hidden.
    const c4 = await run({ id: 'C4' }, { team_ids: [], owner_ids: ['U1'] });
    expect(c4.summary?.customer).toMatchObject({ deals: 1, won_deals: 0, lost_deals: 1, open_deals: 0, paid_total: 0, last_activity_at: null });
    expect(c4.rows).toEqual([]);
    // Unscoped, C4 has W6, L2, O5, P7 and A5.
    const all = await run({ id: 'C4' });
    expect(all.summary?.customer).toMatchObject({ deals: 3, won_deals: 1, won_amount: 20000, open_deals: 1, lost_deals: 1, paid_total: 20000 });
    expect((await run({ id: 'nobody' })).summary?.customer).toBeNull();
    expect((await run({ id: 'C1' }, null)).summary?.customer).toBeNull();
  });

  it('the quadrant comes from customer_profile with the medians of all customers', async () => {
    const list = await runOnFixture(db, 'customer_profile', { view: 'grid_customers', limit: 1000 });
    const one = await runOnFixture(db, 'customer_profile', { view: 'grid_customers', customer: 'C1' });
    expect(one.rows).toHaveLength(1);
    expect(one.rows[0]).toEqual(list.rows.find((r) => r.customer_id === 'C1'));
  });

  it('a payment with neither a due date nor a paid date is listed, and its amount is in Outstanding (not overdue)', async () => {
    // P10: 7,000 on W3 for C1, no dates at all → C1 outstanding 30,000 + 7,000 = 37,000; overdue stays 30,000.
    const extra = await historyFixtureDb([`INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount) VALUES ('P10', 'C1', 'W3', 7000, NULL, NULL, NULL)`]);
    try {
      const r = await runOnFixture(extra, 'customer', { id: 'C1' }, { all: true });
      const pays = r.rows.filter((x) => x.kind === 'payment');
      expect(pays.map((x) => x.ref).sort()).toEqual(['P1', 'P10', 'P2', 'P4', 'P8']);
      expect(pays.find((x) => x.ref === 'P10')).toMatchObject({ at: null, due_date: null, paid_at: null, amount: 7000, outstanding: 7000, days: null });
      const h = r.summary?.customer as { outstanding: number; overdue: number; overdue_payments: number };
      expect(h).toMatchObject({ outstanding: 37000, overdue: 30000, overdue_payments: 1 });
      // The page's table and its Outstanding card agree: Σ of the listed rows' outstanding.
      expect(pays.reduce((s, x) => s + Math.max(0, x.outstanding as number), 0)).toBe(h.outstanding);
    } finally {
      await extra.close();
    }
  });
});
