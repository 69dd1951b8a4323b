import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';
import type { WinLossOutcomeRow, WinLossReasonRow } from './win-loss';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const run = (params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) => runOnFixture(db, 'win_loss', params, scope);
const outcomes = async (params: Record<string, unknown> = {}, scope?: Scope | null) => (await run(params, scope)).rows as WinLossOutcomeRow[];
const reasons = async (params: Record<string, unknown> = {}, scope?: Scope | null) =>
  (await run({ view: 'loss_reasons', ...params }, scope)).rows as WinLossReasonRow[];

// Closed in 2026 (this_year, by closed_at):
//   won  W3 80,000 (02-04, U1), W4 60,000 (03-01, U4), W5 40,000 (04-12, U2), W6 20,000 (05-01, U5, 对手甲),
//        W7 10,000 (05-01, U3; closed before created, still a win)
//   lost L1 0→35,000 from history (02-20, U4, 价格过高, 对手甲), L6 20,000 (03-10, U4, 价格过高),
//        L2 25,000 (05-10, U1, 选择竞品, 对手乙), L3 15,000 (06-01, U2, no reason), L5 0 (06-05, U3, 需求取消; no open history)
// Open deals O1–O5 and the 2025 deals never count.
describe('win_loss on the history fixture (as of 2026-06-15, this year)', () => {
  it('counts only won and lost deals closed in the period; win rate by count', async () => {
    const [r] = await outcomes();
    expect(r).toMatchObject({ won: 5, lost: 5, n: 10, bucket: null, group_key: null });
    expect(r.win_rate).toBeCloseTo(5 / 10, 12);
  });

  it('a lost deal zeroed by the source counts with its last amount while open (L1: 35,000, not the first 30,000)', async () => {
    const [r] = await outcomes();
    expect(r.won_amount).toBe(80000 + 60000 + 40000 + 20000 + 10000); // 210,000
    expect(r.lost_amount).toBe(35000 + 20000 + 25000 + 15000 + 0); // 95,000: L5 has no open version, stays 0
    expect(r.lost_valued_from_history).toBe(1);
    expect(r.win_rate_value).toBeCloseTo(210000 / (210000 + 95000), 12);
  });

  it('the period filters on the close date: 2025 has W1, W2 won and L4 lost', async () => {
    const [r] = await outcomes({ period: 'last_year' });
    expect(r).toMatchObject({ won: 2, lost: 1, won_amount: 150000, lost_amount: 12000 });
    expect(r.win_rate).toBeCloseTo(2 / 3, 12);
  });

  it('an empty period: zero counts and null rates, never NaN', async () => {
    const [r] = await outcomes({ period: undefined, from: '2020-01-01', to: '2020-02-01' });
    expect(r).toMatchObject({ won: 0, lost: 0, n: 0, win_rate: null, win_rate_value: null });
  });

  it('group_by owner: each owner its rate, the groups add up to the whole', async () => {
    const rows = await outcomes({ group_by: 'owner' });
    const by = Object.fromEntries(rows.map((r) => [r.group_key, r]));
    // U1 W3 / L2; U2 W5 / L3; U3 W7 / L5; U4 W4 / L1 L6; U5 W6
    expect(by.U1).toMatchObject({ won: 1, lost: 1, won_amount: 80000, lost_amount: 25000, group_label: '张伟' });
    expect(by.U4).toMatchObject({ won: 1, lost: 2, won_amount: 60000, lost_amount: 55000 });
    expect(by.U4.win_rate).toBeCloseTo(1 / 3, 12);
    expect(by.U5).toMatchObject({ won: 1, lost: 0, win_rate: 1 });
    expect(rows.reduce((s, r) => s + r.won, 0)).toBe(5);
    expect(rows.reduce((s, r) => s + r.lost_amount, 0)).toBe(95000);
  });

  it('group_by team under a team: its child teams, and its own members as a group of their own', async () => {
    const rows = await outcomes({ team: 'T1', group_by: 'team' });
    const by = Object.fromEntries(rows.map((r) => [r.group_label, [r.won, r.lost]]));
    // T11 上海组 = U1, U2: W3 W5 / L2 L3; T12 杭州组 = U3: W7 / L5; T1 itself = U5: W6. 华北 (U4) is filtered out.
    expect(by).toEqual({ 上海组: [2, 2], 杭州组: [1, 1], 华东: [1, 0] });
  });

  it('group_by competitor: win rate against each competitor', async () => {
    const rows = await outcomes({ group_by: 'competitor' });
    const by = Object.fromEntries(rows.map((r) => [r.group_key ?? '(none)', [r.won, r.lost]]));
    // 对手甲: W6 won, L1 lost; 对手乙: L2 lost; none: W3 W4 W5 W7 / L3 L5 L6
    expect(by).toEqual({ 对手甲: [1, 1], 对手乙: [0, 1], '(none)': [4, 3] });
  });

  it('group_by region uses the customer region (C1 上海, C2 浙江, C3 北京, C4 上海, C5 北京, C6 浙江)', async () => {
    const rows = await outcomes({ group_by: 'region' });
    const by = Object.fromEntries(rows.map((r) => [r.group_key, [r.won, r.lost]]));
    // 上海: W3 (C1), W6 (C4) / L2 (C4); 浙江: W5 (C2) / L3 (C6); 北京: W4 (C3), W7 (C5) / L1 L6 (C3), L5 (C5)
    expect(by).toEqual({ 上海: [2, 1], 浙江: [1, 1], 北京: [2, 3] });
  });

  it('filters combine: product A deals of team T11 (U1 W3 / U2 W5, L3)', async () => {
    const [r] = await outcomes({ team: 'T11', product: 'A' });
    expect(r).toMatchObject({ won: 2, lost: 1, won_amount: 120000, lost_amount: 15000 });
  });

  it('series by close month: every month of the year, empty ones with null rates', async () => {
    const rows = await outcomes({ view: 'series' });
    expect(rows.map((r) => r.bucket_label)).toEqual(['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10', '2026-11', '2026-12']);
    // Feb W3 / L1; Mar W4 / L6; Apr W5; May W6 W7 / L2; Jun L3 L5
    expect(rows.slice(0, 6).map((r) => [r.won, r.lost])).toEqual([[0, 0], [1, 1], [1, 1], [1, 0], [2, 1], [0, 2]]);
    expect(rows.map((r) => r.win_rate)).toEqual([null, 0.5, 0.5, 1, 2 / 3, 0, null, null, null, null, null, null]);
    expect(rows[1].lost_amount).toBe(35000); // L1 from history
    expect(rows[0].bucket).toBe('2026-01-01');
  });

  it('series by quarter with a fiscal year starting in April: FY2027 Q1 = Apr–Jun 2026', async () => {
    const rows = (await runOnFixture(db, 'win_loss', { view: 'series', grain: 'quarter', period: 'this_year' }, { all: true }, { fiscal_year_start_month: 4 })).rows as WinLossOutcomeRow[];
    // this fiscal year = 2026-04-01..2027-04-01: Apr–Jun W5 W6 W7 / L2 L3 L5
    expect(rows.map((r) => [r.bucket, r.bucket_label, r.won, r.lost])).toEqual([
      ['2026-04-01', '2027-Q1', 3, 3],
      ['2026-07-01', '2027-Q2', 0, 0],
      ['2026-10-01', '2027-Q3', 0, 0],
      ['2027-01-01', '2027-Q4', 0, 0]
    ]);
  });

  it('series over all time spans the first to the last close, and grouped series add up per bucket', async () => {
    const rows = await outcomes({ view: 'series', period: 'all', grain: 'year' });
    // closes from W8 2024-10-01 to L5 2026-06-05: 2024 W8; 2025 W1 W2 / L4; 2026 5 / 5
    expect(rows.map((r) => [r.bucket_label, r.won, r.lost])).toEqual([['2024', 1, 0], ['2025', 2, 1], ['2026', 5, 5]]);
    const grouped = await outcomes({ view: 'series', period: 'all', grain: 'year', group_by: 'owner' });
    for (const b of rows) {
      const parts = grouped.filter((g) => g.bucket === b.bucket);
      expect(parts.reduce((s, g) => s + g.won, 0)).toBe(b.won);
      expect(parts.reduce((s, g) => s + g.lost, 0)).toBe(b.lost);
    }
  });

  it('loss reasons: count, amount and share of lost, most frequent first', async () => {
    const rows = await reasons();
    expect(rows.map((r) => [r.reason, r.lost, r.lost_amount])).toEqual([
      ['价格过高', 2, 55000], // L1 35,000 (history) + L6 20,000
      ['选择竞品', 1, 25000],
      [null, 1, 15000], // L3 gives no reason
      ['需求取消', 1, 0]
    ]);
    expect(rows.map((r) => r.share)).toEqual([2 / 5, 1 / 5, 1 / 5, 1 / 5]);
    expect(rows[0].share_amount).toBeCloseTo(55000 / 95000, 12);
    expect(rows[3].share_amount).toBe(0);
  });

  it('loss reasons by competitor: shares within each group', async () => {
    const rows = await reasons({ group_by: 'competitor' });
    const jia = rows.filter((r) => r.group_key === '对手甲');
    expect(jia.map((r) => [r.reason, r.lost, r.share])).toEqual([['价格过高', 1, 1]]);
    const none = rows.filter((r) => r.group_key === null);
    // L3 (none), L5 需求取消, L6 价格过高
    expect(none.reduce((s, r) => s + (r.share ?? 0), 0)).toBeCloseTo(1, 12);
    expect(none).toHaveLength(3);
  });

  it('scope: a rep sees only their own deals (U4: W4 / L1 L6)', async () => {
    const [r] = await outcomes({}, { team_ids: [], owner_ids: ['U4'] });
    expect(r).toMatchObject({ won: 1, lost: 2, won_amount: 60000, lost_amount: 55000 });
  });

  it('scope: a team manager sees the team and the teams below (T1 华东: U1 U2 U3 U5)', async () => {
    const [r] = await outcomes({}, { team_ids: ['T1'], owner_ids: [] });
    expect(r).toMatchObject({ won: 4, lost: 3 }); // W3 W5 W6 W7 / L2 L3 L5
  });

  it('no scope, no rows: every count is zero', async () => {
    const [r] = await outcomes({}, null);
    expect(r).toMatchObject({ won: 0, lost: 0, n: 0 });
  });

  it('says which date it filters on and how it is defined', async () => {
    const r = await run();
    expect(r.date_field).toBe('opportunities.closed_at');
    expect(r.definition['zh-CN']).toContain('赢单率');
    expect(r.n).toBe(10);
  });
});
