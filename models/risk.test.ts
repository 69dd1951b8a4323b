/**
 * Deal risk flags (models/common/risk.ts) through the `deals` listing and the `deal` detail, on a
 * tiny history worked out by hand. Report date 2026-06-15; stalled limit 15 days (the default),
 * no-activity threshold 30 days (the default). Owner U1, customer C1; U1 logged a follow-up on C1
 * tied to no deal on 05-01 (it counts for every U1 deal with C1).
 *
 * R1 open 需求分析: 03-01 初步接洽 100 close 05-01; 04-01 需求分析 100 close 06-01; 05-01 需求分析 80 close 07-01;
 *    follow-up on R1 06-10. Pushes 2 (05-01→06-01→07-01); in stage since 04-01 = 75 days > 15; 80 < peak 100;
 *    last follow-up 06-10 = 5 days; close 07-01 not past → pushed, stalled_stage, shrinking.
 * R2 open 方案报价: 06-05 初步接洽 50 close 06-30; 06-10 方案报价 60 close 06-20 (moved earlier: no push; amount up).
 *    5 days in stage; idle since creation 06-05 (later than the 05-01 follow-up) = 10 days → no flags.
 * R3 open 初步接洽: 01-10 初步接洽 30 close 03-31. 156 days in stage; last follow-up 05-01 (on the customer)
 *    = 45 days > 30; close 03-31 < 06-15 → stalled_stage, no_activity, past_close.
 * R4 won: 02-01 商务谈判 200 close 03-01; 03-15 close 04-01 (a push); 04-01 赢单 150 → closed: no flags.
 * R5 open 需求分析: 03-01 初步接洽 10 close 05-01; 04-01 close unknown; 05-01 close 04-20 (earlier than the last
 *    known 05-01: no push); 06-01 需求分析 close 08-01 (later than 04-20: push) → pushes 1; 14 days in stage;
 *    its customer C2 has no follow-up: idle since 03-01 = 106 days → pushed, no_activity.
 * R6 open 初步接洽: 03-01 初步接洽 40 close 06-30; 06-20 close 09-30 (after the report date: not yet).
 *    No push as of 06-15; 106 days in stage; idle 106 days (C2) → stalled_stage, no_activity; close 06-30 not past.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { runModel } from '../src/lib/server/models/run';
import { DEFAULT_STAGES } from '../src/lib/server/config/schema';

type V = [from: string, stage: string, amount: number, close: string | null];
const DEALS: Record<string, { customer: string; versions: V[] }> = {
  R1: { customer: 'C1', versions: [['2026-03-01', '初步接洽', 100, '2026-05-01'], ['2026-04-01', '需求分析', 100, '2026-06-01'], ['2026-05-01', '需求分析', 80, '2026-07-01']] },
  R2: { customer: 'C1', versions: [['2026-06-05', '初步接洽', 50, '2026-06-30'], ['2026-06-10', '方案报价', 60, '2026-06-20']] },
  R3: { customer: 'C1', versions: [['2026-01-10', '初步接洽', 30, '2026-03-31']] },
  R4: { customer: 'C1', versions: [['2026-02-01', '商务谈判', 200, '2026-03-01'], ['2026-03-15', '商务谈判', 200, '2026-04-01'], ['2026-04-01', '赢单', 150, '2026-04-01']] },
  R5: { customer: 'C2', versions: [['2026-03-01', '初步接洽', 10, '2026-05-01'], ['2026-04-01', '初步接洽', 10, null], ['2026-05-01', '初步接洽', 10, '2026-04-20'], ['2026-06-01', '需求分析', 10, '2026-08-01']] },
  R6: { customer: 'C2', versions: [['2026-03-01', '初步接洽', 40, '2026-06-30'], ['2026-06-20', '初步接洽', 40, '2026-09-30']] }
};
const q = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`);

let db: Database;
beforeAll(async () => {
  db = await Database.open(':memory:');
  await db.write(async (tx) => {
    await tx.run(`INSERT INTO teams VALUES ('T1', '一组', NULL, 'U1')`);
    await tx.run(`INSERT INTO users (user_id, name, team_id) VALUES ('U1', '张伟', 'T1'), ('U2', '王芳', 'T1')`);
    await tx.run(`INSERT INTO customers (customer_id, name, owner_id) VALUES ('C1', '甲公司', 'U1'), ('C2', '乙公司', 'U1')`);
    for (const [id, d] of Object.entries(DEALS)) {
      const last = d.versions[d.versions.length - 1];
      const kind = last[1] === '赢单' ? 'won' : 'open';
      await tx.run(`INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, expected_close_date, created_at, closed_at)
        VALUES (${q(id)}, ${q(id)}, ${q(d.customer)}, 'U1', ${q(last[1])}, ${q(kind)}, ${last[2]}, ${q(last[3])}, ${q(d.versions[0][0])}, ${kind === 'won' ? q(last[0]) : 'NULL'})`);
      for (const [i, v] of d.versions.entries()) {
        const next = d.versions[i + 1];
        await tx.run(`INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, expected_close_date, owner_id, origin)
          VALUES (${q(id)}, ${q(v[0])}, ${next ? q(next[0]) : 'NULL'}, ${q(v[1])}, ${v[2]}, ${q(v[3])}, 'U1', 'source')`);
      }
    }
    await tx.run(`INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at) VALUES
      ('A1', 'C1', 'R1', 'U1', 'call', '2026-06-10'), ('A2', 'C1', NULL, 'U1', 'visit', '2026-05-01'),
      ('A3', 'C2', NULL, 'U2', 'call', '2026-06-14')`); // by another rep: does not count for U1's deals
  });
});
afterAll(() => db.close());

const run = (name: string, params: Record<string, unknown> = {}, config: Record<string, unknown> = {}) => {
  const cfg = parseConfig(config);
  if (!cfg.ok) throw new Error(cfg.issues.join('; '));
  return runModel(db, cfg.config, name, { as_of: '2026-06-15', ...params }, { all: true });
};
const flags = async (params: Record<string, unknown> = {}, config: Record<string, unknown> = {}) =>
  Object.fromEntries((await run('deals', { sort: 'opportunity_id', dir: 'asc', ...params }, config)).rows.map((r) => [r.opportunity_id, [r.risk_flags, r.pushes]]));

describe('deal risk flags', () => {
  it('each deal gets exactly the flags worked out by hand', async () => {
    expect(await flags()).toEqual({
      R1: [['pushed', 'stalled_stage', 'shrinking'], 2],
      R2: [[], 0],
      R3: [['stalled_stage', 'no_activity', 'past_close'], 0],
      R4: [[], 1],
      R5: [['pushed', 'no_activity'], 1],
      R6: [['stalled_stage', 'no_activity'], 0]
    });
  });

  it('the listing filters and sorts by risk', async () => {
    const ids = async (params: Record<string, unknown>) => (await run('deals', params)).rows.map((r) => r.opportunity_id);
    expect(await ids({ risk: 'pushed', sort: 'opportunity_id', dir: 'asc' })).toEqual(['R1', 'R5']);
    expect(await ids({ risk: 'any', sort: 'opportunity_id', dir: 'asc' })).toEqual(['R1', 'R3', 'R5', 'R6']);
    expect(await ids({ risk: ['past_close', 'shrinking'], sort: 'opportunity_id', dir: 'asc' })).toEqual(['R1', 'R3']);
    expect(await ids({ status: 'open', sort: 'risk_count', dir: 'desc' })).toEqual(['R1', 'R3', 'R5', 'R6', 'R2']);
    const r = await run('deals', { risk: 'any' });
    expect(r.summary).toMatchObject({ total: 4, total_amount: 80 + 30 + 10 + 40 });
    await expect(run('deals', { risk: 'sideways' })).rejects.toThrow();
  });

  it('thresholds: idle_days and per-stage stalled limits', async () => {
    // idle_days 100: R3 (45 days) no longer idle; R5 and R6 (106) still are.
    const f = await flags({ idle_days: 100 });
    expect(f.R3[0]).toEqual(['stalled_stage', 'past_close']);
    expect(f.R5[0]).toEqual(['pushed', 'no_activity']);
    // 初步接洽 allowed 200 days: R3 (156) and R6 (106) are not stalled; 需求分析 (R1, 75 days) keeps the default 15.
    const stages = DEFAULT_STAGES.map((s) => (s.name === '初步接洽' ? { ...s, stalled_after_days: 200 } : s));
    const g = await flags({}, { stages });
    expect(g.R3[0]).toEqual(['no_activity', 'past_close']);
    expect(g.R6[0]).toEqual(['no_activity']);
    expect(g.R1[0]).toEqual(['pushed', 'stalled_stage', 'shrinking']);
  });

  it('an earlier report date sees only the history up to it', async () => {
    // As of 2026-04-15: R1 pushed once (06-01), in 需求分析 since 04-01 = 14 days, no shrink yet, idle since 03-01
    // (its follow-ups come later) = 45 days, close 06-01 ahead → pushed, no_activity. R2 did not exist yet (no history).
    const f = await flags({ as_of: '2026-04-15' });
    expect(f.R1).toEqual([['pushed', 'no_activity'], 1]);
  });

  it('deal_risk counts each flag like the listing: R1 R5 pushed; R1 R3 R6 stalled; R1 shrinking; R3 R5 R6 idle; R3 past close', async () => {
    const r = await run('deal_risk');
    expect(r.rows.map((x) => [x.flag, x.deals, x.amount])).toEqual([
      ['pushed', 2, 80 + 10],
      ['stalled_stage', 3, 80 + 30 + 40],
      ['shrinking', 1, 80],
      ['no_activity', 3, 30 + 10 + 40],
      ['past_close', 1, 30],
      ['any', 4, 80 + 30 + 10 + 40]
    ]);
    expect(r.n).toBe(5); // open deals: R1, R2, R3, R5, R6
    expect(r.rows[5].share).toBeCloseTo(4 / 5, 12);
  });

  it('the deal detail shows the flags and the figures behind them', async () => {
    const r = await run('deal', { id: 'R1' });
    expect(r.summary?.deal).toMatchObject({ risk_flags: ['pushed', 'stalled_stage', 'shrinking'], pushes: 2, peak_amount: 100, days_in_stage: 75, days_no_activity: 5 });
    const won = await run('deal', { id: 'R4' });
    expect(won.summary?.deal).toMatchObject({ risk_flags: [], pushes: 1 });
  });
});
