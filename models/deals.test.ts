/**
 * `deals` on the hand-built fixture (tests/helpers/fixture.ts, as of 2026-05-20). Every
 * expected list is read off the fixture's table by hand; the working is beside each assertion.
 * Activities are added here for the idle/stalled rules: O7 on 05-10 (resets its idle days),
 * O3 on 05-25 (after the report date, so it must not count), a call by U2 on customer C3 on
 * 05-12 tied to no deal (counts for U2's open deal O4 with C3), and a call by U1 on C2 on
 * 05-19 tied to no deal (U1 owns no deal with C2: it counts for nothing), and a visit by U2 on
 * C3 on 05-28 tied to no deal (after the report date: O4 keeps its 05-12 call).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb, FIXTURE_AS_OF } from '../tests/helpers/fixture';
import { ModelError, runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

const cfg = parseConfig({});
let db: Database;
beforeAll(async () => {
  db = await fixtureDb();
  await db.write((tx) =>
    tx.run(`INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary) VALUES
      ('A1', 'C1', 'O7', 'U1', 'call', '2026-05-10 10:00:00', '电话'),
      ('A2', 'C2', 'O3', 'U3', 'visit', '2026-05-25 09:00:00', '拜访'),
      ('A3', 'C3', NULL, 'U2', 'call', '2026-05-12 09:00:00', '客户回访'),
      ('A4', 'C2', NULL, 'U1', 'call', '2026-05-19 09:00:00', '别人的客户'),
      ('A5', 'C3', NULL, 'U2', 'visit', '2026-05-28 09:00:00', '报告日之后的客户拜访')`)
  );
});
afterAll(() => db.close());

async function deals(params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) {
  if (!cfg.ok) throw new Error('config');
  return runModel(db, cfg.config, 'deals', { as_of: FIXTURE_AS_OF, ...params }, scope);
}
const ids = (r: { rows: Record<string, unknown>[] }) => r.rows.map((x) => x.opportunity_id);

describe('deals: the rows behind a number', () => {
  it('lists every deal by amount, largest first, ties by id; totals count every row', async () => {
    const r = await deals();
    // amounts: O3 200k, O1 100k, O5 80k, O7 60k, O4 40k, O6 30k, O8 25k, O2 0
    expect(ids(r)).toEqual(['O3', 'O1', 'O5', 'O7', 'O4', 'O6', 'O8', 'O2']);
    expect(r.n).toBe(8);
    expect(r.summary).toMatchObject({ total: 8, total_amount: 535000 });
  });

  it('pages without overlap, and a page past the end still reports the total', async () => {
    expect(ids(await deals({ limit: '3', offset: '3' }))).toEqual(['O7', 'O4', 'O6']);
    const past = await deals({ limit: '3', offset: '30' });
    expect(past.rows).toEqual([]);
    expect(past.summary?.total).toBe(8);
  });

  it('won this quarter by close date = the deals behind the kpis won amount (O1, O8: 125,000)', async () => {
    const r = await deals({ status: 'won', date_field: 'closed_at', period: 'this_quarter' });
    expect(ids(r).sort()).toEqual(['O1', 'O8']);
    expect(r.summary?.total_amount).toBe(125000);
    if (!cfg.ok) throw new Error('config');
    const k = await runModel(db, cfg.config, 'kpis', { as_of: FIXTURE_AS_OF }, { all: true });
    const won = k.rows.find((x) => x.measure === 'won_amount')!;
    expect(r.n).toBe(won.n);
    expect(r.summary?.total_amount).toBe(won.value);
  });

  it('reached 需求分析 in this quarter’s cohort = the funnel’s bar: O1 O2 O3 (skipped it) O8', async () => {
    const r = await deals({ reached: '需求分析', period: 'this_quarter' });
    expect(ids(r).sort()).toEqual(['O1', 'O2', 'O3', 'O8']);
    expect(await deals({ reached: '赢单', period: 'this_quarter' }).then(ids)).toEqual(['O1', 'O8']);
    // An unknown stage matches nothing rather than everything.
    expect((await deals({ reached: '不存在' })).n).toBe(0);
  });

  it('probability and weighted amount: stage default, the deal’s override, won in full, lost 0', async () => {
    const r = await deals();
    const by = Object.fromEntries(r.rows.map((x) => [x.opportunity_id, x]));
    expect(by.O3).toMatchObject({ probability: 0.5, weighted_amount: 100000 }); // 方案报价 0.5 × 200,000
    expect(by.O7).toMatchObject({ probability: 0.9, weighted_amount: 54000 }); // override 0.9 × 60,000
    expect(by.O4).toMatchObject({ probability: 0.1, weighted_amount: 4000 }); // 初步接洽 0.1 × 40,000
    expect(by.O1.weighted_amount).toBe(100000);
    expect(by.O6.weighted_amount).toBe(0);
  });

  it('idle days and stalled (> 15 days): O3 25 days since 04-25 (the 05-25 visit is after the report date, U1’s call on C2 is not O3’s owner’s), O4 8 since U2’s 05-12 call on C3, O7 10 since the 05-10 call', async () => {
    const r = await deals({ status: 'open' });
    const idle = Object.fromEntries(r.rows.map((x) => [x.opportunity_id, [x.days_idle, x.stalled]]));
    expect(idle).toEqual({ O3: [25, true], O4: [8, false], O7: [10, false] });
    // U2's 05-28 visit on C3 is after the report date: O4's last activity stays the 05-12 call
    expect(r.rows.find((x) => x.opportunity_id === 'O4')?.last_activity_at).toBe('2026-05-12T09:00:00');
    expect(ids(await deals({ stalled: 'true' }))).toEqual(['O3']);
    expect((await deals({ stalled: 'false' })).n).toBe(7);
    const closed = (await deals({ status: 'won' })).rows;
    expect(closed.every((x) => x.days_idle === null && x.stalled === false)).toBe(true);
  });

  it('searches id, name, customer and owner, case-insensitively', async () => {
    expect(ids(await deals({ q: '上海甲' })).sort()).toEqual(['O1', 'O2', 'O7']); // C1 上海甲公司
    expect(ids(await deals({ q: 'o3' }))).toEqual(['O3']);
    expect(ids(await deals({ q: '李娜' })).sort()).toEqual(['O3', 'O5']); // U3
    expect((await deals({ q: "%' OR 1=1 --" })).n).toBe(0);
  });

  it('sorts by stage in pipeline order (lost first ascending), and by any whitelisted column', async () => {
    expect(ids(await deals({ sort: 'stage', dir: 'asc' }))).toEqual(['O2', 'O6', 'O4', 'O3', 'O7', 'O1', 'O5', 'O8']);
    expect(ids(await deals({ sort: 'created_at', dir: 'asc', limit: 2 }))).toEqual(['O5', 'O6']);
    await expect(deals({ sort: 'amount; DROP TABLE opportunities' })).rejects.toBeInstanceOf(ModelError);
  });

  it('filters: team subtree, stage, loss reason, customer', async () => {
    expect(ids(await deals({ team: 'T11' })).sort()).toEqual(['O1', 'O2', 'O4', 'O6', 'O7', 'O8']); // U1, U2
    expect(ids(await deals({ stage: ['商务谈判', '方案报价'] })).sort()).toEqual(['O3', 'O7']);
    expect(ids(await deals({ loss_reason: '选择竞品' }))).toEqual(['O6']);
    expect(ids(await deals({ customer: 'C2' })).sort()).toEqual(['O3', 'O5']);
    // categories from the stages: 方案报价 best_case (O3), 商务谈判 commit (O7), 初步接洽 pipeline (O4)
    expect(ids(await deals({ status: 'open', category: 'commit' }))).toEqual(['O7']);
    expect(ids(await deals({ status: 'open', category: ['best_case', 'pipeline'] })).sort()).toEqual(['O3', 'O4']);
  });

  it('scope: a rep sees only their deals, whatever the filters say; no scope sees nothing', async () => {
    expect(ids(await deals({}, { team_ids: [], owner_ids: ['U3'] })).sort()).toEqual(['O3', 'O5']);
    expect((await deals({ team: 'T11' }, { team_ids: [], owner_ids: ['U3'] })).n).toBe(0);
    expect((await deals({}, null)).n).toBe(0);
  });
});

describe('deals export (streamed, no paging)', () => {
  it('streams every matching row in the page order, under the same scope', async () => {
    if (!cfg.ok) throw new Error('config');
    const { openExport } = await import('../src/lib/server/models/run');
    const read = async (params: Record<string, unknown>, scope: Scope | null) => {
      const src = await openExport(db, cfg.config, 'deals', { as_of: FIXTURE_AS_OF, ...params }, scope);
      const rows: unknown[][] = [];
      for await (const chunk of src.chunks) rows.push(...chunk);
      return { columns: src.columns.map((c) => c.name), ids: rows.map((r) => r[0]) };
    };
    const all = await read({ limit: 2, offset: 2 }, { all: true });
    expect(all.columns).toEqual(Object.keys((await deals({ limit: 1 })).rows[0]));
    expect(all.ids).toEqual(['O3', 'O1', 'O5', 'O7', 'O4', 'O6', 'O8', 'O2']); // paging ignored, same order as the pages
    expect((await read({}, { team_ids: [], owner_ids: ['U3'] })).ids).toEqual(['O3', 'O5']);
    expect((await read({}, null)).ids).toEqual([]);
  });
});

describe('deals: the weighted forecast’s deals (date_field=forecast_date)', () => {
  it('lists won deals by close date and open ones by expected close, whatever a won deal’s stale expected date says', async () => {
    // O8 won 05-15 but its expected close date still says 03-31 (last quarter).
    const setExpected = (d: string) =>
      db.write(async (tx) => {
        // the source row and its precomputed fact row (models read deal_facts)
        await tx.run(`UPDATE opportunities SET expected_close_date = DATE '${d}' WHERE opportunity_id = 'O8'`);
        await tx.run(`UPDATE deal_facts SET expected_close_date = DATE '${d}' WHERE opportunity_id = 'O8'`);
      });
    await setExpected('2026-03-31');
    try {
      // This quarter (04-01 … 06-30): won O1 (05-10), O8 (05-15); open O3 (expected 06-10), O7 (06-30).
      const r = await deals({ status: ['open', 'won'], date_field: 'forecast_date', period: 'this_quarter' });
      expect(ids(r).sort()).toEqual(['O1', 'O3', 'O7', 'O8']);
      // weighted: O1 100,000 + O8 25,000 (won in full) + O3 0.5 × 200,000 + O7 0.9 × 60,000 = 279,000
      expect(r.summary?.total_weighted).toBeCloseTo(279000, 6);
      if (!cfg.ok) throw new Error('config');
      const k = await runModel(db, cfg.config, 'kpis', { as_of: FIXTURE_AS_OF, period: 'this_quarter' }, { all: true });
      const wf = k.rows.find((x) => x.measure === 'weighted_forecast')!;
      expect(wf.value).toBeCloseTo(279000, 6);
      expect(wf.n).toBe(r.n);
      // By expected close date alone, O8 falls out (the drill the card used to open).
      expect(ids(await deals({ status: ['open', 'won'], date_field: 'expected_close_date', period: 'this_quarter' })).sort()).toEqual(['O1', 'O3', 'O7']);
    } finally {
      await setExpected('2026-05-15');
    }
  });
});
