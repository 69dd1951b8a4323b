/**
 * Frozen forecasts: `freezeForecasts` keeps what the forecast model said, and the accuracy
 * view measures it once the period is over — against the frozen figures, not a recomputation
 * from later data. On the revenue fixture (tests/helpers/revenue-fixture.ts), real DuckDB.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { revenueFixtureDb, REVENUE_AS_OF } from '../../../../tests/helpers/revenue-fixture';
import { parseConfig } from '../config/load';
import type { Database } from '../db/database';
import { runModel } from './run';
import { freezeForecasts } from './snapshots';
import type { Scope } from '../../../../models/common/scope';

const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const cfg = parsed.config;
let db: Database;
beforeEach(async () => (db = await revenueFixtureDb()));
afterEach(() => db.close());

/** What a sync would do when D3 is won on 06-05 and D7 lost on 06-20. */
async function laterSync() {
  await db.write(async (tx) => {
    await tx.run(`UPDATE opportunities SET stage = '赢单', status = 'won', closed_at = '2026-06-05' WHERE opportunity_id = 'D3'`);
    await tx.run(`UPDATE opportunity_versions SET valid_to = '2026-06-05' WHERE opportunity_id = 'D3' AND valid_to IS NULL`);
    await tx.run(`INSERT INTO opportunity_versions (opportunity_id, valid_from, stage, amount, expected_close_date, owner_id, origin)
                  VALUES ('D3', '2026-06-05', '赢单', 200000, '2026-06-05', 'U3', 'sync')`);
    await tx.run(`UPDATE opportunities SET stage = '输单', status = 'lost', closed_at = '2026-06-20' WHERE opportunity_id = 'D7'`);
  });
}

async function accuracy(params: Record<string, unknown>, scope: Scope | null = { all: true }) {
  const r = await runModel(db, cfg, 'forecast', { view: 'accuracy', basis: 'snapshots', as_of: '2026-07-05', from: '2026-04-01', to: '2026-07-01', ...params }, scope);
  return { ...r, rows: r.rows as Record<string, number | string | null>[] };
}

describe('frozen forecasts', () => {
  it('freezing keeps, per owner, what the forecast model says on the day', async () => {
    const res = await freezeForecasts(db, cfg, { asOf: REVENUE_AS_OF, periods: ['this_quarter'], now: new Date('2026-05-20T10:00:00Z') });
    expect(res.periods).toMatchObject([{ preset: 'this_quarter', from: '2026-04-01', to: '2026-07-01', forecast: 364500 }]);
    const rows = (
      await db.query<Record<string, number | string>>(
        `SELECT owner_id, closed_won, forecast_configured, forecast_learned, commit_total, best_case_total, pipeline_total, open_pipeline, strftime(as_of, '%Y-%m-%d') AS as_of
         FROM forecast_snapshots ORDER BY owner_id`
      )
    ).rows;
    // U1: D1 100,000 won + D7 54,000; U2: D8 25,000 + D10 52,500 + D15 3,000; U3: D3 100,000; U5: D9 30,000; U4: a target only
    expect(rows.map((r) => [r.owner_id, r.closed_won, r.forecast_configured, r.commit_total, r.best_case_total, r.pipeline_total])).toEqual([
      ['U1', 100000, 154000, 160000, 160000, 160000],
      ['U2', 25000, 80500, 25000, 25000, 55000],
      ['U3', 0, 100000, 0, 200000, 200000],
      ['U4', 0, 0, 0, 0, 0],
      ['U5', 0, 30000, 120000, 120000, 120000]
    ]);
    // the learned forecast adds up to the model's (272,850 + 125,000)
    expect(rows.reduce((s, r) => s + (r.forecast_learned as number), 0)).toBeCloseTo(397850, 6);
    expect(rows.every((r) => r.as_of === REVENUE_AS_OF)).toBe(true);
  });

  it('freezing again the same day replaces that day’s rows', async () => {
    await freezeForecasts(db, cfg, { asOf: REVENUE_AS_OF, periods: ['this_quarter', 'this_month'] });
    await freezeForecasts(db, cfg, { asOf: REVENUE_AS_OF, periods: ['this_quarter'] });
    const n = await db.query<{ q: number; m: number }>(
      `SELECT count(*) FILTER (WHERE period_from = '2026-04-01')::INTEGER AS q, count(*) FILTER (WHERE period_from = '2026-05-01')::INTEGER AS m FROM forecast_snapshots`
    );
    // May: U1 (D1 won) and U2 (D8 won, D10 expected 05-31); no target is monthly; U3 and U5 only
    // in the statistical forecast (its past-due/undated treatment and new-deal flow), kept so rows add up
    expect(n.rows[0]).toEqual({ q: 5, m: 4 });
  });

  it('accuracy from the frozen forecast, against what was then won — not recomputed from later data', async () => {
    await freezeForecasts(db, cfg, { asOf: REVENUE_AS_OF, periods: ['this_quarter'] });
    await laterSync();
    // Actual Q2: D1 100,000 + D8 25,000 + D3 200,000 = 325,000
    const r = await accuracy({});
    const get = (m: string) => r.rows.find((x) => x.method === m)!;
    expect(get('weighted_configured')).toMatchObject({ frozen_at: '2026-05-20', forecast: 364500, actual: 325000, error: 39500 });
    expect(get('weighted_configured').accuracy).toBeCloseTo(1 - 39500 / 325000, 12);
    expect(get('weighted_configured').bias).toBeCloseTo(39500 / 325000, 12);
    expect(get('weighted_learned').forecast).toBeCloseTo(397850, 6);
    expect(get('commit')).toMatchObject({ forecast: 305000 });
    expect(get('commit').accuracy).toBeCloseTo(1 - 20000 / 325000, 12);
    expect(get('best_case').forecast).toBe(505000);
    expect(get('pipeline').forecast).toBe(535000);
    expect((r.summary?.wape as Record<string, number>).weighted_configured).toBeCloseTo(39500 / 325000, 12);
    expect(r.summary).toMatchObject({ basis: 'snapshots' });
    // the backtest of the same quarter rebuilds 04-01's pipeline instead: a different number
    const bt = await runModel(db, cfg, 'forecast', { view: 'accuracy', as_of: '2026-07-05', from: '2026-04-01', to: '2026-07-01', method: 'weighted_configured' }, { all: true });
    expect((bt.rows[0] as { forecast: number }).forecast).toBe(67500);
  });

  it('the first snapshot on or after frozen_at_day is used; a period without one has no forecast', async () => {
    await freezeForecasts(db, cfg, { asOf: REVENUE_AS_OF, periods: ['this_quarter'] });
    await laterSync();
    // a second snapshot on 06-10: D3 is won (200,000), D7 still open in the model's eyes until 06-20
    await freezeForecasts(db, cfg, { asOf: '2026-06-10', periods: ['this_quarter'] });
    const early = await accuracy({ method: 'weighted_configured' });
    expect(early.rows[0]).toMatchObject({ frozen_at: '2026-05-20', forecast: 364500 });
    // 60 days in = 05-31: the 06-10 snapshot, rebuilt as of the end of 06-10 (point in time): D7 is lost only on
    // 06-20, so it was still open then with its 0.9 override: won 325,000 + D7 54,000 + D9 30,000 + D10 52,500
    // + D15 3,000 = 464,500. (Was 410,500 when a snapshot read today's rows, seeing D7's later loss.)
    const late = await accuracy({ method: 'weighted_configured', frozen_at_day: 60 });
    expect(late.rows[0]).toMatchObject({ frozen_at: '2026-06-10', forecast: 464500 });
    const q1 = await accuracy({ from: '2026-01-01', to: '2026-04-01', method: 'weighted_configured' });
    expect(q1.rows[0]).toMatchObject({ forecast: null, accuracy: null, actual: 80000 });
    expect((q1.summary?.wape as Record<string, number | null>).weighted_configured).toBeNull();
  });

  it('grouped by team and filtered by owner, the frozen rows add up per group', async () => {
    await freezeForecasts(db, cfg, { asOf: REVENUE_AS_OF, periods: ['this_quarter'] });
    await laterSync();
    const r = await accuracy({ group_by: 'team', method: 'weighted_configured' });
    // 华东 U1 U2 U4 U5: 154,000 + 80,500 + 0 + 30,000 = 264,500 vs D1 + D8; 华北 U3: 100,000 vs D3 200,000
    expect(r.rows.map((x) => [x.group_key, x.forecast, x.actual, x.accuracy])).toEqual([
      ['T1', 264500, 125000, 0],
      ['T2', 100000, 200000, 0.5]
    ]);
    const u1 = await accuracy({ owner: 'U1', method: 'commit' });
    expect(u1.rows[0]).toMatchObject({ forecast: 160000, actual: 100000 });
  });

  it('scope: a rep sees only their own frozen rows; no scope sees none', async () => {
    await freezeForecasts(db, cfg, { asOf: REVENUE_AS_OF, periods: ['this_quarter'] });
    await laterSync();
    const u3 = await accuracy({ method: 'weighted_configured' }, { team_ids: [], owner_ids: ['U3'] });
    expect(u3.rows[0]).toMatchObject({ forecast: 100000, actual: 200000, accuracy: 0.5 });
    const none = await accuracy({ method: 'weighted_configured' }, null);
    expect(none.rows[0]).toMatchObject({ forecast: null, actual: 0 });
  });
});
