/**
 * `payments` on the revenue fixture (tests/helpers/revenue-fixture.ts), as of 2026-05-20
 * (a Wednesday), this quarter = [2026-04-01, 2026-07-01). Every expected figure is worked
 * out by hand from the fixture's payments Y1–Y12; the working is in the comments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revenueFixtureDb, REVENUE_AS_OF } from '../tests/helpers/revenue-fixture';
import { runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const cfg = parsed.config;
let db: Database;
beforeAll(async () => (db = await revenueFixtureDb()));
afterAll(() => db.close());

type Row = Record<string, unknown> & { n: number };
async function payments(params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) {
  const r = await runModel(db, cfg, 'payments', { as_of: REVENUE_AS_OF, ...params }, scope);
  return { ...r, rows: r.rows as Row[] };
}

describe('payments summary (metrics.md, Payments and receivables)', () => {
  it('contracted = won amount in the period: D1 100,000 + D8 25,000', async () => {
    const [s] = (await payments()).rows;
    expect(s).toMatchObject({ contracted: 125000, contracted_n: 2 });
  });

  it('collected = Σ paid_amount with paid_at in the period: Y1 60,000 + Y5 4,000 (partly paid) + Y10 5,000 (no paid_amount: its amount)', async () => {
    const [s] = (await payments()).rows;
    expect(s).toMatchObject({ collected: 69000, collected_n: 3 });
  });

  it('collection_rate = collected / due in the period; due = Y1 60,000 + Y2 30,000 + Y4 15,000 + Y5 10,000 + Y9 30,000 + Y11 10,000', async () => {
    const [s] = (await payments()).rows;
    expect(s).toMatchObject({ due: 155000, due_n: 6 });
    expect(s.collection_rate).toBeCloseTo(69000 / 155000, 12);
  });

  it('collection_rate can pass 100% when arrears are collected, and is null when nothing was due', async () => {
    // 2025-10-01..2026-01-01: Y6 100,000 and Y12 50,000 paid; due only Y12 50,000 (12-25) → 3.0
    const [q4] = (await payments({ from: '2025-10-01', to: '2026-01-01' })).rows;
    expect(q4).toMatchObject({ collected: 150000, due: 50000, collection_rate: 3 });
    const [none] = (await payments({ from: '2024-01-01', to: '2024-02-01' })).rows;
    expect(none).toMatchObject({ due: 0, collection_rate: null, contracted: 0, dso: null });
  });

  it('overdue = unpaid amount past due as of the report date: Y2 30,000 + Y5 6,000 + Y7 50,000 + Y8 20,000 + Y9 30,000', async () => {
    const [s] = (await payments()).rows;
    expect(s).toMatchObject({ overdue: 136000, overdue_n: 5 });
    // Y1 is due on the report date itself (and paid): not overdue. Outstanding adds what is not yet due: Y4 15,000 + Y11 10,000
    expect(s.outstanding).toBe(161000);
  });

  it('overdue agrees with the kpis card for the same report date', async () => {
    const k = await runModel(db, cfg, 'kpis', { as_of: REVENUE_AS_OF }, { all: true });
    const od = k.rows.find((r) => r.measure === 'overdue_amount') as { value: number };
    const [s] = (await payments()).rows;
    expect(s.overdue).toBe(od.value);
  });

  it('dso = receivables at period end / won in the period × days; under way, the period ends on the report date', async () => {
    // receivables on 05-20: 161,000; days 04-01..05-20 = 50; 161,000 / 125,000 × 50 = 64.4
    const [s] = (await payments()).rows;
    expect(s).toMatchObject({ receivables: 161000, receivables_at: '2026-05-20' });
    expect(s.dso).toBeCloseTo(64.4, 10);
  });

  it('dso of last quarter: receivables on 03-31 exclude contracts signed later (D1, D8) and receipts without a due date (Y10)', async () => {
    // on 03-31: Y7 50,000 + Y8 20,000 + Y9 30,000 (Y3 was paid 03-01); won in Q1: D5 80,000; 90 days
    const r = await payments({ period: 'last_quarter' });
    expect(r.rows[0]).toMatchObject({ contracted: 80000, collected: 50000, due: 120000, receivables: 100000, receivables_at: '2026-03-31' });
    expect(r.rows[0].dso).toBeCloseTo((100000 / 80000) * 90, 10);
    expect(r.date_field).toBe('payments.paid_at');
    expect(r.summary?.date_fields).toMatchObject({ contracted: 'opportunities.closed_at', collected: 'payments.paid_at', due: 'payments.due_date' });
  });

  it('期末应收明细 (payment_list at_period_end=true) lists the receivables DSO divides, as they stood on its day', async () => {
    const list = async (params: Record<string, unknown>) => {
      const r = await runModel(db, cfg, 'payment_list', { as_of: REVENUE_AS_OF, at_period_end: true, limit: 100, ...params }, { all: true });
      return { ...r, ids: (r.rows as { payment_id: string }[]).map((x) => x.payment_id).sort(), rows: r.rows as { payment_id: string; outstanding: number; state: string }[] };
    };
    // last quarter, on 03-31: Y7 50,000 + Y8 20,000 + Y9 30,000 = 100,000 (the card's receivables);
    // Y3 was paid 03-01, D1/D8's instalments were not owed yet, Y10 has no due date
    const q1 = await list({ period: 'last_quarter' });
    expect(q1.ids).toEqual(['Y7', 'Y8', 'Y9']);
    expect(Object.fromEntries(q1.rows.map((r) => [r.payment_id, r.outstanding]))).toEqual({ Y7: 50000, Y8: 20000, Y9: 30000 });
    expect(q1.summary).toMatchObject({ total: 3, total_outstanding: 100000, outstanding_at: '2026-03-31' });
    const [s1] = (await payments({ period: 'last_quarter' })).rows;
    expect(s1).toMatchObject({ receivables: 100000, receivables_n: 3 });
    // this quarter, under way (on the report date 05-20): overdue Y2 30,000 + Y5 6,000 + Y7 + Y8 + Y9
    // 30,000, and not yet due Y4 15,000 + Y11 10,000 = 161,000
    const q2 = await list({ period: 'this_quarter' });
    expect(q2.ids).toEqual(['Y11', 'Y2', 'Y4', 'Y5', 'Y7', 'Y8', 'Y9']);
    expect(q2.summary).toMatchObject({ total: 7, total_outstanding: 161000, outstanding_at: REVENUE_AS_OF });
    expect((await payments()).rows[0]).toMatchObject({ receivables: 161000, receivables_n: 7 });
    // received and at_period_end are two different listings
    await expect(runModel(db, cfg, 'payment_list', { as_of: REVENUE_AS_OF, at_period_end: true, received: true }, { all: true })).rejects.toThrow(/at_period_end/);
  });

  it('group_by owner: payments credited to the deal owner; the groups add up to the whole', async () => {
    const r = await payments({ group_by: 'owner' });
    const o = (k: string) => r.rows.find((x) => x.group_key === k)!;
    // U1: due Y1 Y2 Y5 = 100,000, overdue Y2 + Y5 rest = 36,000; U2: Y10 collected, due Y4 + Y11; U3: Y7 Y8 (customer C2's) Y9 overdue
    expect(o('U1')).toMatchObject({ contracted: 100000, collected: 64000, due: 100000, overdue: 36000, outstanding: 36000 });
    expect(o('U2')).toMatchObject({ contracted: 25000, collected: 5000, due: 25000, overdue: 0, outstanding: 25000, dso: 50 });
    expect(o('U3')).toMatchObject({ contracted: 0, due: 30000, overdue: 100000, overdue_n: 3, dso: null });
    expect(o('U3').group_label).toBe('李娜');
    const [total] = (await payments()).rows;
    for (const m of ['contracted', 'collected', 'due', 'overdue', 'outstanding', 'receivables', 'n'])
      expect(r.rows.reduce((s, x) => s + (x[m] as number), 0), m).toBe(total[m]);
  });

  it('group_by region and team; filters', async () => {
    const region = await payments({ group_by: 'region' });
    expect(region.rows.map((x) => [x.group_key, x.contracted, x.overdue])).toEqual([
      ['上海', 125000, 36000],
      ['北京', 0, 100000]
    ]);
    const team = await payments({ group_by: 'team' });
    expect(team.rows.map((x) => [x.group_key, x.overdue])).toEqual([
      ['T1', 36000],
      ['T2', 100000]
    ]);
    const [u3] = (await payments({ owner: 'U3' })).rows;
    expect(u3).toMatchObject({ overdue: 100000, contracted: 0 });
  });
});

describe('payments aging and upcoming dues', () => {
  it('aging by days past due on the report date: current, 1–30, 31–60, 61–90, >90', async () => {
    // current: Y4 15,000 (06-15) + Y11 10,000 (05-25); 1–30: Y2 5 days 30,000 + Y5 19 days 6,000;
    // 31–60: Y9 40 days 30,000; 61–90: Y8 71 days 20,000; >90: Y7 99 days 50,000
    const r = await payments({ view: 'aging' });
    expect(r.rows.map((x) => [x.bucket, x.min_days, x.max_days, x.amount, x.n, x.customers])).toEqual([
      ['current', null, 0, 25000, 2, 1],
      ['1_30', 1, 30, 36000, 2, 1],
      ['31_60', 31, 60, 30000, 1, 1],
      ['61_90', 61, 90, 20000, 1, 1],
      ['over_90', 91, null, 50000, 1, 1]
    ]);
    expect(r.n).toBe(7);
    // the buckets add up to the summary's outstanding, the past-due ones to its overdue
    expect(r.rows.reduce((s, x) => s + (x.amount as number), 0)).toBe(161000);
    expect(r.rows.slice(1).reduce((s, x) => s + (x.amount as number), 0)).toBe(136000);
  });

  it('aging as of another report date moves every bucket: on 2026-06-20 Y4 is 5 days late and Y11 26', async () => {
    // on 06-20: Y2 36 days, Y5 50, Y9 71, Y8 102, Y7 130; Y4 5, Y11 26
    const r = await payments({ view: 'aging', as_of: '2026-06-20' });
    expect(r.rows.map((x) => [x.bucket, x.amount])).toEqual([
      ['current', 0],
      ['1_30', 25000],
      ['31_60', 36000],
      ['61_90', 30000],
      ['over_90', 70000]
    ]);
  });

  it('bucket edges: Y7 (due 02-10) is 30 days past due on 03-12, 31 on 03-13, 60/61 on 04-11/12, 90/91 on 05-11/12', async () => {
    const edges: [string, number, string][] = [
      ['2026-03-12', 30, '1_30'],
      ['2026-03-13', 31, '31_60'],
      ['2026-04-11', 60, '31_60'],
      ['2026-04-12', 61, '61_90'],
      ['2026-05-11', 90, '61_90'],
      ['2026-05-12', 91, 'over_90']
    ];
    for (const [asOf, days, bucket] of edges) {
      const list = await payments({ view: 'overdue', as_of: asOf });
      expect(list.rows.find((x) => x.payment_id === 'Y7'), asOf).toMatchObject({ days_past_due: days, bucket });
      const aging = await payments({ view: 'aging', as_of: asOf });
      // Y7 is the only 50,000 item: its bucket holds it
      expect((aging.rows.find((x) => x.bucket === bucket)!.amount as number) >= 50000, asOf).toBe(true);
    }
    // on 03-12, before D1/D8 were won: current Y9 30,000 (D5's, due 04-10); 1–30 Y7 50,000 + Y8 20,000 (2 days)
    const mar12 = await payments({ view: 'aging', as_of: '2026-03-12' });
    expect(mar12.rows.map((x) => x.amount)).toEqual([30000, 70000, 0, 0, 0]);
  });

  it('aging grouped by team: every bucket for every group', async () => {
    const r = await payments({ view: 'aging', group_by: 'team' });
    expect(r.rows.filter((x) => x.group_key === 'T2').map((x) => x.amount)).toEqual([0, 0, 30000, 20000, 50000]);
    expect(r.rows.filter((x) => x.group_key === 'T1').map((x) => x.amount)).toEqual([25000, 36000, 0, 0, 0]);
  });

  it('upcoming dues by week from the report date to the period end, every week listed', async () => {
    // weeks from Monday 05-18 (clipped to 05-20) to 06-29 (clipped to 07-01): Y11 05-25, Y4 06-15
    const r = await payments({ view: 'upcoming' });
    expect(r.rows.map((x) => [x.bucket, x.from, x.to, x.amount])).toEqual([
      ['2026-05-18', '2026-05-20', '2026-05-25', 0],
      ['2026-05-25', '2026-05-25', '2026-06-01', 10000],
      ['2026-06-01', '2026-06-01', '2026-06-08', 0],
      ['2026-06-08', '2026-06-08', '2026-06-15', 0],
      ['2026-06-15', '2026-06-15', '2026-06-22', 15000],
      ['2026-06-22', '2026-06-22', '2026-06-29', 0],
      ['2026-06-29', '2026-06-29', '2026-07-01', 0]
    ]);
    expect(r.date_field).toContain('payments.due_date');
  });

  it('upcoming dues by month over the year', async () => {
    const r = await payments({ view: 'upcoming', grain: 'month', period: 'this_year' });
    expect(r.rows.map((x) => [x.label, x.amount])).toEqual([
      ['2026-05', 10000],
      ['2026-06', 15000],
      ['2026-07', 0],
      ['2026-08', 0],
      ['2026-09', 0],
      ['2026-10', 0],
      ['2026-11', 0],
      ['2026-12', 0]
    ]);
  });

  it('the overdue instalments, largest first, with days past due and their bucket', async () => {
    const r = await payments({ view: 'overdue' });
    expect(r.rows.map((x) => [x.payment_id, x.outstanding, x.days_past_due, x.bucket, x.owner_id])).toEqual([
      ['Y7', 50000, 99, 'over_90', 'U3'],
      ['Y9', 30000, 40, '31_60', 'U3'],
      ['Y2', 30000, 5, '1_30', 'U1'],
      ['Y8', 20000, 71, '61_90', 'U3'],
      ['Y5', 6000, 19, '1_30', 'U1']
    ]);
    expect(r.rows[4]).toMatchObject({ amount: 10000, paid: 4000, customer_name: '上海甲公司', owner_name: '张伟', due_date: '2026-05-01' });
    expect(r.summary).toMatchObject({ overdue: 136000, overdue_n: 5, listed: 5 });
    const top2 = await payments({ view: 'overdue', limit: 2 });
    expect(top2.rows).toHaveLength(2);
    expect(top2.n).toBe(5);
    await expect(payments({ view: 'overdue', group_by: 'owner' })).rejects.toThrow(/group_by/);
  });
});

describe('payments under a viewer scope', () => {
  it('a rep (U3) sees their deals’ payments and their customers’ payments without a deal', async () => {
    const [s] = (await payments({}, { team_ids: [], owner_ids: ['U3'] })).rows;
    // Y7 (D13), Y8 (C2, no deal), Y9 (D5): all overdue; Y3 Y6 paid
    expect(s).toMatchObject({ overdue: 100000, outstanding: 100000, contracted: 0, collected: 0 });
  });

  it('a T1 manager sees T1’s payments', async () => {
    const aging = await payments({ view: 'aging' }, { team_ids: ['T1'], owner_ids: [] });
    expect(aging.rows.map((x) => x.amount)).toEqual([25000, 36000, 0, 0, 0]);
  });

  it('no scope sees nothing (fail closed)', async () => {
    const [s] = (await payments({}, null)).rows;
    expect(s).toMatchObject({ contracted: 0, collected: 0, due: 0, overdue: 0, outstanding: 0, receivables: 0, n: 0, collection_rate: null, dso: null });
    expect((await payments({ view: 'aging' }, null)).rows.every((x) => x.amount === 0)).toBe(true);
    expect((await payments({ view: 'upcoming' }, null)).rows.every((x) => x.amount === 0)).toBe(true);
    expect((await payments({ view: 'overdue' }, null)).rows).toEqual([]);
  });
});
