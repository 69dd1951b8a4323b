/**
 * The listings' bounded count (issue 15.3): `count=bounded` counts at most COUNT_CAP (10,000)
 * matching rows and says "at least 10,000" when there are more — never a wrong exact figure —
 * and is exact (with its sums) otherwise; the default `count=exact` counts and sums every row.
 *
 * The hand-built fixture (tests/helpers/fixture.ts, as of 2026-05-20: 8 deals worth 535,000;
 * 5 payments) plus 10,001 generated open deals X00001 … X10001 of 10 each (owner U3, customer
 * C2), X00001 … X10000 of product 'P' and X10001 of product 'Q', each with one unpaid payment
 * PX… of 10 due 2026-06-01:
 * - every deal: 8 + 10,001 = 10,009, worth 535,000 + 100,010 = 635,010;
 * - product P: exactly 10,000 deals (100,000) — at the cap, so still exact;
 * - search "x" (the X deals' ids; no other deal's id, name, customer or owner has an x): 10,001;
 * - team T11 (U1, U2): O1 O2 O4 O6 O7 O8 = 6 deals, 100,000 + 0 + 40,000 + 30,000 + 60,000 + 25,000 = 255,000.
 * Payments: 5 + 10,001 = 10,006; amount 215,000 + 100,010 = 315,010; outstanding on 05-20:
 * P2 40,000 + P4 25,000 + P5 6,000 (4,000 of 10,000 paid) + 100,010 = 171,010; received
 * P1 60,000 + P3 80,000 + P5 4,000 = 144,000; state=paid: P1, P3 (140,000 received).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb, FIXTURE_AS_OF } from '../tests/helpers/fixture';
import { runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import { COUNT_CAP } from './common/listing';

const cfg = parseConfig({});
let db: Database;
beforeAll(async () => {
  db = await fixtureDb();
  await db.write(async (tx) => {
    await tx.run(`INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, expected_close_date, created_at, product, source)
      SELECT 'X' || lpad(i::VARCHAR, 5, '0'), 'X' || lpad(i::VARCHAR, 5, '0'), 'C2', 'U3', '初步接洽', 'open', 10, DATE '2026-07-01',
             TIMESTAMP '2026-05-01', CASE WHEN i <= 10000 THEN 'P' ELSE 'Q' END, '展会'
      FROM range(1, 10002) t(i)`);
    await tx.run(`INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount)
      SELECT 'PX' || lpad(i::VARCHAR, 5, '0'), 'C2', 'X' || lpad(i::VARCHAR, 5, '0'), 10, DATE '2026-06-01', NULL, NULL
      FROM range(1, 10002) t(i)`);
  });
}, 120_000);
afterAll(() => db.close());

async function run(model: string, params: Record<string, unknown>) {
  if (!cfg.ok) throw new Error('config');
  return runModel(db, cfg.config, model, { as_of: FIXTURE_AS_OF, limit: '3', ...params }, { all: true });
}

describe('deals: count=bounded', () => {
  it('the cap is 10,000', () => {
    expect(COUNT_CAP).toBe(10_000);
  });

  it('by default every row is counted and summed: 10,009 deals, 635,010', async () => {
    const r = await run('deals', {});
    expect(r.summary).toMatchObject({ total: 10_009, total_capped: false, total_amount: 635_010 });
    expect(r.n).toBe(10_009);
  }, 60_000);

  it('bounded over more than 10,000 rows: "at least 10,000", no sums, the page unchanged', async () => {
    const r = await run('deals', { count: 'bounded' });
    expect(r.summary).toMatchObject({ total: 10_000, total_capped: true, total_amount: null, total_value: null, total_weighted: null });
    // amounts: O3 200,000, O1 100,000, O5 80,000 — the page is the same as with an exact count
    expect(r.rows.map((x) => x.opportunity_id)).toEqual(['O3', 'O1', 'O5']);
  }, 60_000);

  it('bounded at exactly 10,000 rows is exact (product P: 100,000); one more is capped (search "x": 10,001)', async () => {
    expect((await run('deals', { count: 'bounded', product: 'P' })).summary).toMatchObject({ total: 10_000, total_capped: false, total_amount: 100_000 });
    expect((await run('deals', { count: 'bounded', q: 'x' })).summary).toMatchObject({ total: 10_000, total_capped: true, total_amount: null });
    expect((await run('deals', { count: 'exact', q: 'x' })).summary).toMatchObject({ total: 10_001, total_capped: false, total_amount: 100_010 });
  }, 60_000);

  it('bounded under the cap is exact with its sums: team T11 has 6 deals, 255,000', async () => {
    const r = await run('deals', { count: 'bounded', team: 'T11' });
    expect(r.summary).toMatchObject({ total: 6, total_capped: false, total_amount: 255_000 });
    expect(r.rows.map((x) => x.opportunity_id)).toEqual(['O1', 'O7', 'O4']);
  }, 60_000);

  it('an unknown count mode is refused', async () => {
    await expect(run('deals', { count: 'some' })).rejects.toThrow(/count/);
  });
});

describe('payment_list: count=bounded', () => {
  it('by default every payment is counted and summed: 10,006 payments, 315,010 due, 171,010 outstanding, 144,000 received', async () => {
    const r = await run('payment_list', {});
    expect(r.summary).toMatchObject({ total: 10_006, total_capped: false, total_amount: 315_010, total_outstanding: 171_010, total_paid: 144_000 });
  }, 60_000);

  it('bounded: "at least 10,000" without sums over more; exact under the cap (state=paid: P1, P3, 140,000 received)', async () => {
    expect((await run('payment_list', { count: 'bounded' })).summary).toMatchObject({
      total: 10_000,
      total_capped: true,
      total_amount: null,
      total_outstanding: null,
      total_paid: null
    });
    const paid = await run('payment_list', { count: 'bounded', state: 'paid' });
    expect(paid.summary).toMatchObject({ total: 2, total_capped: false, total_amount: 140_000, total_outstanding: 0, total_paid: 140_000 });
    expect(paid.rows.map((x) => x.payment_id).sort()).toEqual(['P1', 'P3']);
  }, 60_000);
});
