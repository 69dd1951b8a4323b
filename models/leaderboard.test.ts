/**
 * `leaderboard` on the revenue fixture (tests/helpers/revenue-fixture.ts), as of 2026-05-20,
 * this quarter = [2026-04-01, 2026-07-01). Every expected figure is worked out by hand from
 * the fixture's rows; the working is in the comments.
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

interface Row {
  rank: number;
  group_key: string | null;
  group_label: string | null;
  team_id: string | null;
  team_label: string | null;
  won_amount: number;
  won_count: number;
  lost_count: number;
  win_rate: number | null;
  win_rate_n: number;
  collected_amount: number;
  collected_n: number;
  new_customers: number;
  activities: number;
  target: number | null;
  attainment: number | null;
  n: number;
}

async function board(params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) {
  const r = await runModel(db, cfg, 'leaderboard', { as_of: REVENUE_AS_OF, ...params }, scope);
  return { ...r, rows: r.rows as unknown as Row[] };
}
const by = (rows: Row[], k: string) => rows.find((r) => r.group_key === k)!;

describe('leaderboard per owner, this quarter (metrics.md, Leaderboards)', () => {
  it('ranks owners by won amount: U1 100,000 (D1), U2 25,000 (D8), then U3, U4, U5 tied at 0', async () => {
    const r = await board();
    expect(r.rows.map((x) => [x.rank, x.group_key, x.won_amount])).toEqual([
      [1, 'U1', 100000],
      [2, 'U2', 25000],
      [3, 'U3', 0],
      [3, 'U4', 0],
      [3, 'U5', 0]
    ]);
    expect(by(r.rows, 'U1')).toMatchObject({ group_label: '张伟', team_id: 'T11', team_label: '上海组' });
    // the ranking measure's date; every column's in the summary
    expect(r.date_field).toBe('opportunities.closed_at');
    expect(r.summary?.date_fields).toMatchObject({ collected_amount: 'payments.paid_at', activities: 'activities.occurred_at', won_amount: 'opportunities.closed_at' });
    expect((await board({ rank_by: 'collected_amount' })).date_field).toBe('payments.paid_at');
    expect((await board({ rank_by: 'activities' })).date_field).toBe('activities.occurred_at');
    expect(r.definition.en).toMatch(/win rate = won \/ \(won \+ lost\)/);
  });

  it('win rate with its n: U1 1 won (D1) of 2 closed (D2 lost 04-28); U2 1 of 1 (D6 lost in Q1 is outside); U3 none closed → null', async () => {
    const r = await board();
    expect(by(r.rows, 'U1')).toMatchObject({ won_count: 1, lost_count: 1, win_rate: 0.5, win_rate_n: 2, n: 2 });
    expect(by(r.rows, 'U2')).toMatchObject({ won_count: 1, lost_count: 0, win_rate: 1, win_rate_n: 1 });
    expect(by(r.rows, 'U3')).toMatchObject({ win_rate: null, win_rate_n: 0 });
    expect(r.n).toBe(3);
  });

  it('collected by payment date, credited to the deal owner (a payment without a deal: the customer owner)', async () => {
    // U1: Y1 60,000 (05-18) + Y5 4,000 of 10,000 (05-05); U2: Y10 5,000, C3's receipt without a deal (C3 is U2's)
    const r = await board();
    expect(by(r.rows, 'U1')).toMatchObject({ collected_amount: 64000, collected_n: 2 });
    expect(by(r.rows, 'U2')).toMatchObject({ collected_amount: 5000, collected_n: 1 });
    expect(by(r.rows, 'U3')).toMatchObject({ collected_amount: 0, collected_n: 0 });
  });

  it('new customers = first won deal in the period: C1 (D1, U1) and C3 (D8, U2); C2’s first win was D13 in 2025', async () => {
    const r = await board();
    expect(r.rows.map((x) => [x.group_key, x.new_customers])).toEqual([
      ['U1', 1],
      ['U2', 1],
      ['U3', 0],
      ['U4', 0],
      ['U5', 0]
    ]);
  });

  it('activities in the period by the person who did them: U1 A1 A2 A3; U3 A5 and A9 on U1’s deal (A6 was in March); U4 A7 with no deal', async () => {
    const r = await board();
    expect(r.rows.map((x) => [x.group_key, x.activities])).toEqual([
      ['U1', 3],
      ['U2', 1],
      ['U3', 2],
      ['U4', 1],
      ['U5', 1]
    ]);
  });

  it('target and attainment = won / own target: U1 100,000/150,000; U2 25,000/60,000; U5 has no target → null', async () => {
    const r = await board();
    expect(by(r.rows, 'U1').target).toBe(150000);
    expect(by(r.rows, 'U1').attainment).toBeCloseTo(2 / 3, 12);
    expect(by(r.rows, 'U2').attainment).toBeCloseTo(25000 / 60000, 12);
    expect(by(r.rows, 'U3')).toMatchObject({ target: 100000, attainment: 0 });
    expect(by(r.rows, 'U4')).toMatchObject({ target: 50000, attainment: 0 });
    expect(by(r.rows, 'U5')).toMatchObject({ target: null, attainment: null });
  });

  it('ranked by a chosen measure, highest first, ties share a rank, a null ranks last', async () => {
    const rate = await board({ rank_by: 'win_rate' });
    expect(rate.rows.map((x) => [x.rank, x.group_key])).toEqual([
      [1, 'U2'],
      [2, 'U1'],
      [3, 'U3'],
      [3, 'U4'],
      [3, 'U5']
    ]);
    const att = await board({ rank_by: 'attainment' });
    // U1 0.667, U2 0.417, U3 0, U4 0, U5 null
    expect(att.rows.map((x) => [x.rank, x.group_key])).toEqual([
      [1, 'U1'],
      [2, 'U2'],
      [3, 'U3'],
      [3, 'U4'],
      [5, 'U5']
    ]);
    const acts = await board({ rank_by: 'activities' });
    expect(acts.rows[0]).toMatchObject({ rank: 1, group_key: 'U1', activities: 3 });
  });

  it('limit keeps the top of the ranking (a tie at the cut is kept)', async () => {
    const top2 = await board({ limit: '2' });
    expect(top2.rows.map((x) => x.group_key)).toEqual(['U1', 'U2']);
    expect(top2.n).toBe(3); // still every closed deal ranked: D1, D2, D8
    expect((await board({ limit: 3 })).rows.map((x) => x.group_key)).toEqual(['U1', 'U2', 'U3', 'U4', 'U5']);
    await expect(board({ limit: 0 })).rejects.toThrow(/limit/);
  });
});

describe('leaderboard per team (a team includes every team below it)', () => {
  it('group_by team under the company: 华东 (T1, T11, T12, U5) and 华北 (T2)', async () => {
    const r = await board({ group_by: 'team' });
    expect(r.rows.map((x) => [x.rank, x.group_key, x.group_label])).toEqual([
      [1, 'T1', '华东'],
      [2, 'T2', '华北']
    ]);
    // 华东: won D1 + D8 = 125,000, lost D2 → 2/3; collected 64,000 + 5,000; new C1, C3; activities U1 3 + U2 1 + U4 1 + U5 1
    expect(by(r.rows, 'T1')).toMatchObject({ won_amount: 125000, won_count: 2, lost_count: 1, win_rate_n: 3, collected_amount: 69000, new_customers: 2, activities: 6, target: 300000, team_id: null });
    expect(by(r.rows, 'T1').win_rate).toBeCloseTo(2 / 3, 12);
    expect(by(r.rows, 'T1').attainment).toBeCloseTo(125000 / 300000, 12);
    expect(by(r.rows, 'T2')).toMatchObject({ won_amount: 0, win_rate: null, activities: 2, target: 200000, attainment: 0 });
  });

  it('team=T1, group_by team: its children T11 and T12, and T1’s own member U5 as a group without a target', async () => {
    const r = await board({ group_by: 'team', team: 'T1' });
    expect(r.rows.map((x) => [x.group_key, x.won_amount, x.activities, x.target])).toEqual([
      ['T11', 125000, 4, 250000],
      ['T1', 0, 1, null],
      ['T12', 0, 1, 80000]
    ]);
  });

  it('group_by team_leaf: each owner’s own team; a team with teams below it has no target of its direct members', async () => {
    const r = await board({ group_by: 'team_leaf' });
    expect(r.rows.map((x) => [x.group_key, x.won_amount, x.target])).toEqual([
      ['T11', 125000, 250000],
      ['T1', 0, null],
      ['T12', 0, 80000],
      ['T2', 0, 200000]
    ]);
  });

  it('the teams’ rows add up to the owners’ for every additive measure', async () => {
    const owners = await board();
    const teams = await board({ group_by: 'team' });
    for (const m of ['won_amount', 'won_count', 'lost_count', 'collected_amount', 'new_customers', 'activities', 'n'] as const) {
      expect(teams.rows.reduce((s, x) => s + x[m], 0), m).toBe(owners.rows.reduce((s, x) => s + x[m], 0));
    }
  });

  it('filters apply to every measure: region 上海 keeps C1/C3 deals, payments and activities', async () => {
    const r = await board({ region: '上海' });
    // U1: D1 won, D2 lost (C1); Y1 + Y5; A1 A2 A3 (C1). U2: D8 (C3); Y10 (C3); A4 (C3). U3: C2 is 北京; only A9 (on C1's D1).
    // No target is set for 上海: a region's wins are never divided by a target for every region
    // (U3's 100,000 covers all of U3's customers), so no row has a target or an attainment.
    expect(by(r.rows, 'U1')).toMatchObject({ won_amount: 100000, lost_count: 1, collected_amount: 64000, activities: 3, target: null, attainment: null });
    expect(by(r.rows, 'U2')).toMatchObject({ won_amount: 25000, collected_amount: 5000, activities: 1 });
    expect(by(r.rows, 'U3')).toMatchObject({ won_amount: 0, activities: 1, target: null, attainment: null });
    const product = await board({ product: 'C' });
    // product C: D9 (open, U5) and D13 (2025): nothing closed this quarter; A8 is on D9
    expect(product.rows.filter((x) => x.activities > 0).map((x) => x.group_key)).toEqual(['U5']);
  });
});

describe('leaderboard under a viewer scope', () => {
  it('a T1 manager sees T1’s people only — not U3, though U3’s A9 on U1’s deal is visible to them', async () => {
    const r = await board({}, { team_ids: ['T1'], owner_ids: [] });
    expect(r.rows.map((x) => x.group_key)).toEqual(['U1', 'U2', 'U4', 'U5']);
    const teams = await board({ group_by: 'team' }, { team_ids: ['T1'], owner_ids: [] });
    expect(teams.rows.map((x) => [x.group_key, x.activities])).toEqual([
      ['T11', 4],
      ['T1', 1],
      ['T12', 1]
    ]);
    expect(by(r.rows, 'U1')).toMatchObject({ won_amount: 100000, collected_amount: 64000, target: 150000 });
  });

  it('a rep sees their own row only', async () => {
    const r = await board({}, { team_ids: [], owner_ids: ['U2'] });
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({ rank: 1, group_key: 'U2', won_amount: 25000, collected_amount: 5000, new_customers: 1, activities: 1, target: 60000 });
  });

  it('no scope sees nothing (fail closed)', async () => {
    for (const group_by of ['owner', 'team', 'team_leaf']) {
      const r = await board({ group_by }, null);
      expect(r.rows, group_by).toEqual([]);
      expect(r.n).toBe(0);
    }
  });
});
