import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb, FIXTURE_AS_OF } from '../tests/helpers/fixture';
import { runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

const cfg = parseConfig({});
let db: Database;
beforeAll(async () => (db = await fixtureDb()));
afterAll(() => db.close());

async function funnel(params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) {
  if (!cfg.ok) throw new Error('config');
  return runModel(db, cfg.config, 'funnel', { as_of: FIXTURE_AS_OF, period: 'this_quarter', ...params }, scope);
}

describe('funnel (cohort) on the fixture: deals created 2026-04-01..07-01 = O1 O2 O3 O4 O8', () => {
  it('reached per stage, skipped stages passed, lost at its furthest stage', async () => {
    const r = await funnel();
    // furthest: O1 won, O2 需求分析 (lost), O3 方案报价 (skipped 需求分析), O4 初步接洽, O8 won
    expect(r.rows.map((x) => [x.stage, x.reached])).toEqual([
      ['初步接洽', 5],
      ['需求分析', 4], // O1 O2 O3 (skipped, counts as passed) O8
      ['方案报价', 3], // O1 O3 O8
      ['商务谈判', 2], // O1 O8
      ['赢单', 2]
    ]);
    expect(r.n).toBe(5);
  });

  it('amounts: a lost deal zeroed by the source counts with its last open amount (O2: 50,000)', async () => {
    const r = await funnel();
    expect(r.rows.map((x) => x.reached_amount)).toEqual([
      100000 + 50000 + 200000 + 40000 + 25000,
      100000 + 50000 + 200000 + 25000,
      100000 + 200000 + 25000,
      125000,
      125000
    ]);
  });

  it('step conversion reached[k+1]/reached[k]; overall won/first = 2/5', async () => {
    const r = await funnel();
    const steps = r.rows.map((x) => x.step_conversion as number | null);
    expect(steps[0]).toBeCloseTo(4 / 5, 10);
    expect(steps[1]).toBeCloseTo(3 / 4, 10);
    expect(steps[2]).toBeCloseTo(2 / 3, 10);
    expect(steps[3]).toBeCloseTo(1, 10);
    expect(steps[4]).toBeNull();
    expect(r.summary?.overall_conversion).toBeCloseTo(0.4, 10);
  });

  it('open now and lost at: O4 open in 初步接洽, O3 in 方案报价; O2 lost at 需求分析', async () => {
    const r = await funnel();
    expect(r.rows.map((x) => x.open_now)).toEqual([1, 0, 1, 0, 0]);
    expect(r.rows.map((x) => x.lost_at)).toEqual([0, 1, 0, 0, 0]);
  });

  it('median days to the next stage reached', async () => {
    const r = await funnel();
    // 初步接洽: O1 3, O2 7, O3 10 (to 方案报价), O8 2 → median 5; 需求分析: O1 7, O8 6 (O2 never advanced) → 6.5
    // 方案报价: O1 8, O8 4 → 6; 商务谈判: O1 20 (to 赢单), O8 13 → 16.5
    expect(r.rows.map((x) => x.median_days_to_next)).toEqual([5, 6.5, 6, 16.5, null]);
  });

  it('grouped by owner, each group is its own funnel and the groups add up to the whole', async () => {
    const r = await funnel({ group_by: 'owner' });
    const byOwner = (o: string) => r.rows.filter((x) => x.group_key === o).map((x) => x.reached as number);
    expect(byOwner('U1')).toEqual([2, 2, 1, 1, 1]); // O1, O2
    expect(byOwner('U2')).toEqual([2, 1, 1, 1, 1]); // O4, O8
    expect(byOwner('U3')).toEqual([1, 1, 1, 0, 0]); // O3
    expect(r.rows.find((x) => x.group_key === 'U1')?.group_label).toBe('张伟');
    const total = [0, 1, 2, 3, 4].map((i) => ['U1', 'U2', 'U3'].reduce((s, o) => s + byOwner(o)[i], 0));
    expect(total).toEqual([5, 4, 3, 2, 2]);
  });

  it("grouped, each group's median days are its own deals' (U1: O1 O2, U2: O4 O8, U3: O3)", async () => {
    const r = await funnel({ group_by: 'owner' });
    const days = (o: string) => r.rows.filter((x) => x.group_key === o).map((x) => x.median_days_to_next);
    // U1 初步接洽 O1 3, O2 7 → 5; 需求分析 O1 7; 方案报价 O1 8; 商务谈判 O1 20
    expect(days('U1')).toEqual([5, 7, 8, 20, null]);
    // U2: O4 still open in 初步接洽; O8 2, 6, 4, 13
    expect(days('U2')).toEqual([2, 6, 4, 13, null]);
    // U3: O3 10 days to 方案报价 (skipping 需求分析), open there since
    expect(days('U3')).toEqual([10, null, null, null, null]);
  });

  it('group_by team under the company groups by its regions: 华东 (O1 O2 O4 O8) and 华北 (O3)', async () => {
    const r = await funnel({ group_by: 'team' });
    const first = r.rows.filter((x) => x.stage_index === 1).map((x) => [x.group_label, x.reached]);
    expect(first).toEqual([
      ['华东', 4],
      ['华北', 1]
    ]);
  });

  it('an empty cohort still lists every stage at zero with null conversions', async () => {
    const r = await funnel({ period: undefined, from: '2020-01-01', to: '2020-02-01' });
    expect(r.rows).toHaveLength(5);
    expect(r.rows.every((x) => x.reached === 0 && x.step_conversion === null)).toBe(true);
    expect(r.summary?.overall_conversion).toBeNull();
  });

  it('scope: a rep sees only their cohort deals', async () => {
    const r = await funnel({}, { team_ids: [], owner_ids: ['U2'] });
    expect(r.rows.map((x) => x.reached)).toEqual([2, 1, 1, 1, 1]);
  });
});
