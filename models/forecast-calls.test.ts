/**
 * The forecast calls in the accuracy ledger (`forecast`, view=accuracy, method=call_commit /
 * call_best_case) on the revenue fixture (tests/helpers/revenue-fixture.ts), as of 2026-05-20.
 *
 * Won per quarter (the fixture's comments): 2025-Q3 D13 150,000 (U3); 2025-Q4 D16 50,000 (U1);
 * 2026-Q1 D5 80,000 (U3). The calls below are written straight into `forecast_calls`; per
 * period the ledger takes the last call for exactly that period submitted before the period's
 * forecast moment (its first day with frozen_at_day=0).
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

const CALLS: [string, string, string, string, string, number, number, string][] = [
  // id, period_from, period_to, level, subject, commit, best case, submitted_at
  ['c1', '2025-10-01', '2026-01-01', 'team', 'T0', 40000, 70000, '2025-09-28 09:00:00'],
  ['c2', '2025-10-01', '2026-01-01', 'team', 'T0', 999, 999, '2025-10-03 09:00:00'], // after the moment: not in the ledger
  ['c3', '2026-01-01', '2026-04-01', 'team', 'T0', 90000, 110000, '2025-12-20 09:00:00'], // superseded by c4
  ['c4', '2026-01-01', '2026-04-01', 'team', 'T0', 100000, 120000, '2025-12-30 09:00:00'],
  ['c5', '2026-01-01', '2026-02-01', 'team', 'T0', 1, 1, '2025-12-30 09:00:00'], // a month's call: not a quarter's
  ['c6', '2026-01-01', '2026-04-01', 'rep', 'U3', 60000, 90000, '2025-12-31 18:00:00']
];

beforeAll(async () => {
  db = await revenueFixtureDb();
  await db.write(async (tx) => {
    for (const [id, from, to, level, subject, c, b, at] of CALLS) {
      await tx.run(`INSERT INTO forecast_calls VALUES ('${id}', '${from}', '${to}', '${level}', '${subject}', ${c}, ${b}, NULL, 'test', 'executive', '${at}')`);
    }
  });
});
afterAll(() => db.close());

type Row = { bucket: string; method: string; forecast: number | null; actual: number; frozen_at: string | null; bias: number | null; group_key: string | null };
async function ledger(params: Record<string, unknown>, scope: Scope | null = { all: true }) {
  const r = await runModel(db, cfg, 'forecast', { as_of: REVENUE_AS_OF, view: 'accuracy', grain: 'quarter', period: 'all', last: 3, ...params }, scope);
  return { rows: r.rows as Row[], summary: r.summary as { wape: Record<string, number | null>; bias: Record<string, number | null>; periods: Record<string, number> } };
}
const cell = (rows: Row[], bucket: string, method: string, group: string | null = null) => rows.find((r) => r.bucket === bucket && r.method === method && r.group_key === group);

describe('forecast calls in the accuracy ledger', () => {
  it('per quarter, the last company call submitted before the quarter began, scored with the same WAPE and bias', async () => {
    const { rows, summary } = await ledger({ method: ['call_commit', 'call_best_case'] });
    expect([...new Set(rows.map((r) => r.bucket))]).toEqual(['2025-07-01', '2025-10-01', '2026-01-01']); // the last three quarters ended by 05-20
    expect(cell(rows, '2025-07-01', 'call_commit')).toMatchObject({ forecast: null, actual: 150000 }); // nobody called 2025-Q3
    expect(cell(rows, '2025-10-01', 'call_commit')).toMatchObject({ forecast: 40000, actual: 50000, frozen_at: '2025-09-28' });
    expect(cell(rows, '2026-01-01', 'call_commit')).toMatchObject({ forecast: 100000, actual: 80000, frozen_at: '2025-12-30' });
    expect(cell(rows, '2026-01-01', 'call_best_case')).toMatchObject({ forecast: 120000 });
    expect(cell(rows, '2025-10-01', 'call_commit')!.bias).toBeCloseTo(-10000 / 50000, 12);
    // WAPE over the called quarters: (|40,000 − 50,000| + |100,000 − 80,000|) / (50,000 + 80,000)
    expect(summary.wape.call_commit).toBeCloseTo(30000 / 130000, 12);
    expect(summary.bias.call_commit).toBeCloseTo(10000 / 130000, 12);
    // best case: (|70,000 − 50,000| + |120,000 − 80,000|) / 130,000, both over
    expect(summary.wape.call_best_case).toBeCloseTo(60000 / 130000, 12);
    expect(summary.bias.call_best_case).toBeCloseTo(60000 / 130000, 12);
    expect(summary.periods).toMatchObject({ call_commit: 2, call_best_case: 2 });
  });

  it('sits beside the system’s methods without changing them', async () => {
    const alone = await ledger({ method: 'weighted_configured' });
    const beside = await ledger({ method: ['weighted_configured', 'call_commit'] });
    expect(beside.summary.wape.weighted_configured).toBe(alone.summary.wape.weighted_configured);
    expect(beside.rows.filter((r) => r.method === 'weighted_configured')).toEqual(alone.rows);
    expect(beside.rows.filter((r) => r.method === 'call_commit').map((r) => r.forecast)).toEqual([null, 40000, 100000]);
    // The calls are asked for by name: the default set is the system's methods only.
    expect((await ledger({})).rows.some((r) => r.method.startsWith('call_'))).toBe(false);
  });

  it('by owner, each rep’s own call; under a region filter, none (a call covers a whole book)', async () => {
    const { rows } = await ledger({ method: 'call_commit', group_by: 'owner' });
    expect(cell(rows, '2026-01-01', 'call_commit', 'U3')).toMatchObject({ forecast: 60000, actual: 80000 });
    expect(cell(rows, '2025-07-01', 'call_commit', 'U3')).toMatchObject({ forecast: null, actual: 150000 });
    const region = await ledger({ method: 'call_commit', region: '上海' });
    expect(region.rows.every((r) => r.forecast === null)).toBe(true);
  });

  it('reads the calls its viewer may read: a rep their own, not the company’s', async () => {
    const rep = await ledger({ method: 'call_commit', group_by: 'owner' }, { team_ids: [], owner_ids: ['U3'] });
    expect(cell(rep.rows, '2026-01-01', 'call_commit', 'U3')).toMatchObject({ forecast: 60000 });
    const repTotal = await ledger({ method: 'call_commit' }, { team_ids: [], owner_ids: ['U3'] });
    expect(repTotal.rows.every((r) => r.forecast === null)).toBe(true);
    // A manager of 华东 (T1): the company's call is not theirs; an owner filter takes the rep's call.
    const mgr = await ledger({ method: 'call_commit' }, { team_ids: ['T1'], owner_ids: [] });
    expect(mgr.rows.every((r) => r.forecast === null)).toBe(true);
    const exec = await ledger({ method: 'call_commit', owner: 'U3' });
    expect(cell(exec.rows, '2026-01-01', 'call_commit')).toMatchObject({ forecast: 60000, actual: 80000 });
  });
});
