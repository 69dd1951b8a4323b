import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';
import type { CycleSummaryRow, StalledRow, TimeInStageRow } from './cycle-time';
import { DEFAULT_STAGES } from '../src/lib/server/config/schema';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const run = (params: Record<string, unknown> = {}, scope: Scope | null = { all: true }, config: Record<string, unknown> = {}) =>
  runOnFixture(db, 'cycle_time', params, scope, config);

describe('cycle_time summary on the history fixture (won deals closed in 2026)', () => {
  // W3 01-05 → 02-04 = 30 days; W4 01-10 → 03-01 = 21 + 28 + 1 = 50; W5 02-01 → 04-12 = 27 + 31 + 12 = 70;
  // W6 04-01 → 05-01 = 30; W7 closed 05-01 before its creation 05-10: invalid.
  it('mean, median (headline), p75 and p90 of close − create in days; invalid rows counted apart', async () => {
    const r = await run();
    const [row] = r.rows as CycleSummaryRow[];
    expect(row).toMatchObject({ n: 4, invalid: 1 });
    expect(row.mean_days).toBeCloseTo((30 + 50 + 70 + 30) / 4, 10); // 45
    // sorted 30 30 50 70: median (30 + 50) / 2 = 40; p75 at position 0.75 × 3 = 2.25 → 50 + 0.25 × 20 = 55;
    // p90 at 2.7 → 50 + 0.7 × 20 = 64
    expect(row.median_days).toBeCloseTo(40, 10);
    expect(row.p75_days).toBeCloseTo(55, 10);
    expect(row.p90_days).toBeCloseTo(64, 10);
    expect(r.n).toBe(4);
    expect(r.date_field).toBe('opportunities.closed_at');
  });

  it('fractional days: a deal closed at noon is half a day longer', async () => {
    const db2 = await historyFixtureDb([
      `UPDATE opportunities SET closed_at = '2026-02-04 12:00:00' WHERE opportunity_id = 'W3'`
    ]);
    try {
      const [row] = (await runOnFixture(db2, 'cycle_time')).rows as CycleSummaryRow[];
      expect(row.mean_days).toBeCloseTo((30.5 + 50 + 70 + 30) / 4, 10);
    } finally {
      await db2.close();
    }
  });

  it('last year: W1 40 days and W2 30 days', async () => {
    const [row] = (await run({ period: 'last_year' })).rows as CycleSummaryRow[];
    expect(row).toMatchObject({ n: 2, invalid: 0 });
    expect(row.median_days).toBeCloseTo(35, 10);
  });

  it('group_by owner: groups add up, the invalid W7 leaves U3 with n 0 and null statistics', async () => {
    const rows = (await run({ group_by: 'owner' })).rows as CycleSummaryRow[];
    const by = Object.fromEntries(rows.map((r) => [r.group_key, r]));
    expect(by.U2).toMatchObject({ n: 1, median_days: 70 });
    expect(by.U3).toMatchObject({ n: 0, invalid: 1, median_days: null, mean_days: null });
    expect(rows.reduce((s, r) => s + r.n, 0)).toBe(4);
    expect(rows.reduce((s, r) => s + r.invalid, 0)).toBe(1);
  });

  it('an empty period gives n 0 and nulls', async () => {
    const [row] = (await run({ period: undefined, from: '2020-01-01', to: '2020-02-01' })).rows as CycleSummaryRow[];
    expect(row).toMatchObject({ n: 0, invalid: 0, median_days: null });
  });

  it('scope: U4 sees W4 only (50 days)', async () => {
    const [row] = (await run({}, { team_ids: [], owner_ids: ['U4'] })).rows as CycleSummaryRow[];
    expect(row).toMatchObject({ n: 1, median_days: 50 });
  });

  it('group_by needs view=summary', async () => {
    await expect(run({ view: 'stalled', group_by: 'owner' })).rejects.toThrow(/group_by works with view=summary only/);
  });
});

describe('cycle_time time in stage (deals that left a stage in 2026)', () => {
  // Stints ending in 2026 (days in the stage):
  //   初步接洽: W3 7, W4 10, W5 10, W6 10, L1 10, L2 70 (to lost), L3 11, L6 37 (02-01 → 03-10), O1 10, O2 30, O4 108
  //   需求分析: W3 8, W4 16, W5 14 then 5 (re-entered 03-03 → 03-08), L1 26 (to lost), L3 31, O1 26
  //   方案报价: W4 10, W5 6 then 15 (02-25 → 03-03, 03-08 → 03-23), W6 10; O1 has not left it (06-01 only changed the amount)
  //   商务谈判: W3 15, W4 14, W5 20, W6 10
  const stages = async (params: Record<string, unknown> = {}, scope?: Scope | null) =>
    (await run({ view: 'time_in_stage', ...params }, scope)).rows as TimeInStageRow[];

  it('exits per open stage', async () => {
    const rows = await stages();
    expect(rows.map((r) => [r.stage, r.n, r.reentered])).toEqual([
      ['初步接洽', 11, 0],
      ['需求分析', 6, 1],
      ['方案报价', 3, 1],
      ['商务谈判', 4, 0]
    ]);
  });

  it('latest stint vs cumulative when a deal re-entered the stage (W5)', async () => {
    const [s1, s2, s3, s4] = await stages();
    // 初步接洽 sorted 7 10 10 10 10 10 11 30 37 70 108: median the 6th = 10; p75 at 7.5 → 30 + 0.5 × 7 = 33.5
    expect([s1.median_days_latest, s1.p75_days_latest, s1.median_days_cumulative]).toEqual([10, 33.5, 10]);
    // 需求分析 latest 5 8 16 26 26 31 → median 21, p75 at 3.75 → 26; cumulative (W5 14 + 5 = 19) 8 16 19 26 26 31 → 22.5, 26
    expect([s2.median_days_latest, s2.p75_days_latest, s2.median_days_cumulative, s2.p75_days_cumulative]).toEqual([21, 26, 22.5, 26]);
    // 方案报价 latest 10 10 15 → 10, p75 at 1.5 → 12.5; cumulative (W5 6 + 15 = 21) 10 10 21 → 10, 15.5
    expect([s3.median_days_latest, s3.p75_days_latest, s3.median_days_cumulative, s3.p75_days_cumulative]).toEqual([10, 12.5, 10, 15.5]);
    // 商务谈判 10 14 15 20 → 14.5, p75 at 2.25 → 15 + 0.25 × 5 = 16.25
    expect([s4.median_days_latest, s4.p75_days_latest]).toEqual([14.5, 16.25]);
  });

  it('an earlier stint before the period still counts in the cumulative days', async () => {
    // From 2026-03-05: W5 left 需求分析 on 03-08 (latest 5 days); its first stint (02-11 → 02-25, 14 days) ended before.
    const rows = await stages({ period: undefined, from: '2026-03-05', to: '2026-03-09' });
    const s2 = rows.find((r) => r.stage === '需求分析')!;
    expect(s2).toMatchObject({ n: 1, median_days_latest: 5, median_days_cumulative: 19, reentered: 1 });
  });

  it('filters and scope: U5 (W6, O4) left 初步接洽 twice (W6 10, O4 108), 方案报价 and 商务谈判 once', async () => {
    const rows = await stages({}, { team_ids: [], owner_ids: ['U5'] });
    expect(rows.map((r) => r.n)).toEqual([2, 0, 1, 1]);
    expect(rows[0].median_days_latest).toBe(59);
    const filtered = await stages({ owner: 'U5' });
    expect(filtered.map((r) => r.n)).toEqual([2, 0, 1, 1]);
  });
});

describe('cycle_time stalled deals (as of 2026-06-15, stalled after 15 days)', () => {
  // O1 last stage change 04-20 (the 06-01 version only changed the amount), last activity 05-01 → 45 days idle
  // O2 stage change 05-01, activity 05-10 → 36; O3 created 06-01, nothing since → 14 (not stalled)
  // O4 stage change 05-20, activity 05-25 → 21; O5 created 05-25, but its customer C4 was called 06-12 → 3
  const stalledRows = async (params: Record<string, unknown> = {}, scope?: Scope | null, config?: Record<string, unknown>) =>
    run({ view: 'stalled', ...params }, scope, config);

  it('lists open deals idle for more than the limit, longest first, with days idle', async () => {
    const r = await stalledRows();
    const rows = r.rows as StalledRow[];
    expect(rows.map((x) => [x.opportunity_id, x.idle_days])).toEqual([['O1', 45], ['O2', 36], ['O4', 21]]);
    expect(rows[0]).toMatchObject({
      stage: '方案报价',
      stage_index: 3,
      amount: 120000,
      customer_name: '上海甲公司',
      owner_name: '张伟',
      last_stage_change_at: '2026-04-20T00:00:00',
      last_activity_at: '2026-05-01T00:00:00',
      stalled_after_days: 15
    });
    expect(r.n).toBe(3);
    expect(r.summary).toMatchObject({ stalled: 3, stalled_amount: 120000 + 70000 + 90000, listed: 3 });
    expect((r.summary?.by_stage as { stage: string; open: number; stalled: number }[]).map((s) => [s.stage, s.open, s.stalled])).toEqual([
      ['初步接洽', 2, 0], // O3, O5
      ['需求分析', 1, 1], // O2
      ['方案报价', 1, 1], // O1
      ['商务谈判', 1, 1] // O4
    ]);
  });

  it('per-stage limits: 商务谈判 allowed 30 days keeps O4 (21 days) off the list', async () => {
    const stagesCfg = DEFAULT_STAGES.map((s) => (s.name === '商务谈判' ? { ...s, stalled_after_days: 30 } : s));
    const rows = (await stalledRows({}, { all: true }, { stages: stagesCfg })).rows as StalledRow[];
    expect(rows.map((x) => x.opportunity_id)).toEqual(['O1', 'O2']);
  });

  it('the global stalled_after_days: 13 days adds O3 (14 idle), not O5 (3)', async () => {
    const rows = (await stalledRows({}, { all: true }, { stalled_after_days: 13 })).rows as StalledRow[];
    expect(rows.map((x) => [x.opportunity_id, x.stalled_after_days])).toEqual([['O1', 13], ['O2', 13], ['O4', 13], ['O3', 13]]);
  });

  it("another rep's follow-up on the customer does not touch the deal: O3 (U3) stays 14 days idle after U1 calls C5", async () => {
    const db2 = await historyFixtureDb([
      `INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at) VALUES ('A6', 'C5', NULL, 'U1', 'call', '2026-06-14')`
    ]);
    try {
      const r = await runOnFixture(db2, 'cycle_time', { view: 'stalled' }, { all: true }, { stalled_after_days: 13 });
      expect((r.rows as StalledRow[]).find((x) => x.opportunity_id === 'O3')?.idle_days).toBe(14);
    } finally {
      await db2.close();
    }
  });

  it('limit keeps the longest idle, the summary still counts all', async () => {
    const r = await stalledRows({ limit: '1' });
    expect((r.rows as StalledRow[]).map((x) => x.opportunity_id)).toEqual(['O1']);
    expect(r.summary).toMatchObject({ stalled: 3, listed: 1 });
    expect(r.n).toBe(3);
  });

  it('an earlier report date: as of 2026-05-20, O1 is 19 days idle, O2 10, O4 0 (its stage changed that day)', async () => {
    const rows = (await stalledRows({ as_of: '2026-05-20' })).rows as StalledRow[];
    // O3 and O5 did not exist yet; the 06-01 and 06-12 events are after the report date
    expect(rows.map((x) => [x.opportunity_id, x.idle_days])).toEqual([['O1', 19]]);
  });

  it('scope: U4 sees only O2', async () => {
    const r = await stalledRows({}, { team_ids: [], owner_ids: ['U4'] });
    expect((r.rows as StalledRow[]).map((x) => x.opportunity_id)).toEqual(['O2']);
  });

  it('nothing stalled: no rows, zero totals', async () => {
    const r = await stalledRows({}, { all: true }, { stalled_after_days: 100 });
    expect(r.rows).toEqual([]);
    expect(r.summary).toMatchObject({ stalled: 0, stalled_amount: 0 });
  });
});
