import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';
import type { FunnelFlowRow } from './funnel';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const flow = async (params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) => {
  const r = await runOnFixture(db, 'funnel', { method: 'flow', period: 'this_quarter', ...params }, scope);
  return { ...r, rows: r.rows as FunnelFlowRow[] };
};

// Stage changes dated in Q2 2026 ([04-01, 07-01)), whatever the creation date:
//   W5 赢单 04-12 (from 商务谈判, entered in Q1); W6 初步接洽 04-01 (first), 方案报价 04-11 (skips 需求分析),
//   商务谈判 04-21, 赢单 05-01; W7 赢单 05-01 (first); L2 输单 05-10 (from 初步接洽); L3 初步接洽 04-20,
//   需求分析 05-01, 输单 06-01; L5 输单 06-05 (first); O1 方案报价 04-20 (from 需求分析; its 06-01 version only
//   changed the amount); O2 初步接洽 04-01, 需求分析 05-01; O3 初步接洽 06-01; O4 商务谈判 05-20 (from 初步接洽);
//   O5 初步接洽 05-25.
describe('funnel, flow method (Hongquan 转化率 = 流出/流入) on the history fixture', () => {
  it('entries (流入) and forward exits (流出) per stage inside the period', async () => {
    const r = await flow();
    expect(r.rows.map((x) => [x.stage, x.entries, x.exits_forward, x.exits_lost, x.exits_back])).toEqual([
      ['初步接洽', 5, 4, 1, 0], // in: W6 L3 O2 O3 O5; out: W6 L3 O2 O4; lost: L2
      ['需求分析', 2, 1, 1, 0], // in: L3 O2; out: O1; lost: L3
      ['方案报价', 2, 1, 0, 0], // in: W6 O1; out: W6
      ['商务谈判', 2, 2, 0, 0], // in: W6 O4; out: W5 (entered in Q1) W6
      ['赢单', 3, 0, 0, 0] // W5 W6 W7
    ]);
    expect(r.rows.map((x) => x.flow_conversion)).toEqual([4 / 5, 1 / 2, 1 / 2, 1, null]);
    expect(r.n).toBe(11); // W5 W6 W7 L2 L3 L5 O1 O2 O3 O4 O5
    expect(r.date_field).toBe('opportunity_versions.valid_from');
    expect(r.summary).toEqual({ method: 'flow' });
  });

  it('entered amounts are the amounts at entry (O1 entered 方案报价 at 100,000 before its change to 120,000)', async () => {
    const r = await flow();
    expect(r.rows.map((x) => x.entered_amount)).toEqual([
      20000 + 15000 + 70000 + 30000 + 10000,
      15000 + 70000,
      20000 + 100000,
      20000 + 90000,
      40000 + 20000 + 10000
    ]);
  });

  it('a re-entered stage flows in twice; a move back is a backward exit (Q1: W5 方案报价 → 需求分析 → 方案报价)', async () => {
    const r = await flow({ period: 'last_quarter' });
    const s3 = r.rows.find((x) => x.stage === '方案报价')!;
    // in: W4 02-05, W5 02-25 and 03-08; out forward: W4 02-15, W5 03-23; back: W5 03-03
    expect([s3.entries, s3.exits_forward, s3.exits_back]).toEqual([3, 2, 1]);
    const s4 = r.rows.find((x) => x.stage === '商务谈判')!;
    expect([s4.entries, s4.exits_forward]).toEqual([3, 2]); // in: W3 W4 W5; out: W3 W4 (W5 won in Q2)
    expect(s4.flow_conversion).toBeCloseTo(2 / 3, 12);
  });

  it('a flow ratio, not a share: more can leave than entered in a window', async () => {
    const r = await flow({ period: undefined, from: '2026-04-11', to: '2026-05-02' });
    const s4 = r.rows.find((x) => x.stage === '商务谈判')!;
    // in: W6 04-21; out: W5 04-12, W6 05-01
    expect([s4.entries, s4.exits_forward, s4.flow_conversion]).toEqual([1, 2, 2]);
  });

  it('group_by owner: each owner their flows, and the groups add up', async () => {
    const r = await flow({ group_by: 'owner' });
    const u5 = r.rows.filter((x) => x.group_key === 'U5');
    // U5: W6 and O4
    expect(u5.map((x) => [x.entries, x.exits_forward])).toEqual([[1, 2], [0, 0], [1, 1], [2, 1], [1, 0]]);
    expect(u5[0].group_label).toBe('陈静');
    const whole = await flow();
    for (const [i, stage] of whole.rows.entries()) {
      const parts = r.rows.filter((x) => x.stage === stage.stage);
      expect(parts.reduce((s, x) => s + x.entries, 0)).toBe(stage.entries);
      expect(parts.reduce((s, x) => s + x.exits_forward, 0)).toBe(whole.rows[i].exits_forward);
    }
    expect(r.n).toBe(whole.n);
  });

  it('filters: product B (W6 W7 L2 O2 O4)', async () => {
    const r = await flow({ product: 'B' });
    expect(r.rows.map((x) => x.entries)).toEqual([2, 1, 1, 2, 2]); // 初步接洽 W6 O2; 需求分析 O2; 方案报价 W6; 商务谈判 W6 O4; 赢单 W6 W7
    expect(r.n).toBe(5);
  });

  it('scope: U4 sees O2 only in Q2', async () => {
    const r = await flow({}, { team_ids: [], owner_ids: ['U4'] });
    expect(r.rows.map((x) => [x.entries, x.exits_forward])).toEqual([[1, 1], [1, 0], [0, 0], [0, 0], [0, 0]]);
    expect(r.n).toBe(1);
  });

  it('month and quarter groupings are refused for the flow method', async () => {
    await expect(flow({ group_by: 'month' })).rejects.toThrow(/method=flow groups by deal dimensions only/);
  });

  it('the cohort method stays the default', async () => {
    const r = await runOnFixture(db, 'funnel', { period: 'this_quarter' });
    expect(r.date_field).toBe('opportunities.created_at');
    expect(r.rows[0]).toHaveProperty('reached');
  });
});
