/**
 * `customer_list` on the history fixture (as of 2026-06-15, this year), against the figures worked
 * out by hand in ltv.test.ts: each customer-board card is a sum or ratio of these rows.
 *   LTV: C1 155,000, C2 50,000, C3 60,000, C4 20,000, C8 30,000 (= 315,000 over 5 customers with revenue)
 *   won this year: W3 W4 W5 W6 W7 = 210,000 over 5 deals; active this year C1–C5, last year C1 C2 C8; churned C8.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const run = (params: Record<string, unknown> = {}) => runOnFixture(db, 'customer_list', { sort: 'customer_name', dir: 'asc', ...params }, { all: true });
const ids = (r: { rows: Record<string, unknown>[] }) => r.rows.map((x) => x.customer_id).sort();

describe('customer_list', () => {
  it('every customer, with its historical LTV', async () => {
    const r = await run();
    expect(r.summary).toMatchObject({ total: 8, total_ltv: 315000, basis: 'payments' });
    const ltv = Object.fromEntries(r.rows.map((x) => [x.customer_id, x.ltv]));
    expect(ltv).toMatchObject({ C1: 155000, C2: 50000, C3: 60000, C4: 20000, C8: 30000, C5: 0, C6: 0, C7: 0 });
  });

  it('with_revenue: the 5 customers the average LTV divides by (315,000 / 5)', async () => {
    const r = await run({ segment: 'with_revenue' });
    expect(ids(r)).toEqual(['C1', 'C2', 'C3', 'C4', 'C8']);
    expect(r.summary).toMatchObject({ total: 5, total_ltv: 315000 });
  });

  it('won: the customers with a deal won this year; ACV = 210,000 / 5', async () => {
    const r = await run({ segment: 'won' });
    expect(r.summary).toMatchObject({ total_won_amount: 210000, total_won_deals: 5 });
  });

  it('active, active last year and churned: ARPA 175,000 / 5, churn 1 / 3', async () => {
    const active = await run({ segment: 'active' });
    expect(ids(active)).toEqual(['C1', 'C2', 'C3', 'C4', 'C5']);
    expect(active.summary).toMatchObject({ total: 5, total_revenue_year: 175000 });
    const last = await run({ segment: 'active_last_year' });
    expect(ids(last)).toEqual(['C1', 'C2', 'C8']);
    expect(last.summary).toMatchObject({ total: 3, total_churned: 1 });
    expect(ids(await run({ segment: 'churned' }))).toEqual(['C8']);
  });

  it('pages, sorts and searches with a stable order', async () => {
    const p1 = await run({ sort: 'ltv', dir: 'desc', limit: 2 });
    expect(p1.rows.map((x) => x.customer_id)).toEqual(['C1', 'C3']);
    expect(p1.summary).toMatchObject({ total: 8 });
    const p2 = await run({ sort: 'ltv', dir: 'desc', limit: 2, offset: 2 });
    expect(p2.rows.map((x) => x.customer_id)).toEqual(['C2', 'C8']);
    expect((await run({ q: 'c8' })).rows.map((x) => x.customer_id)).toEqual(['C8']);
  });
});
