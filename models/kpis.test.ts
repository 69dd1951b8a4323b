import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb, FIXTURE_AS_OF } from '../tests/helpers/fixture';
import { runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

const cfg = parseConfig({});
if (!cfg.ok) throw new Error('default config invalid');
let db: Database;
beforeAll(async () => (db = await fixtureDb()));
afterAll(() => db.close());

async function kpis(params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) {
  const r = await runModel(db, cfg.ok ? cfg.config : (null as never), 'kpis', { as_of: FIXTURE_AS_OF, ...params }, scope);
  return Object.fromEntries(r.rows.map((row) => [row.measure, row])) as Record<string, { value: number | null; previous: number | null; change: number | null; n: number; n_previous: number | null }>;
}

describe('kpis on the hand-built fixture (as of 2026-05-20, this quarter, vs 2026-01-01..02-20)', () => {
  it('won amount: O1 100,000 + O8 25,000; previous O5 80,000; change 45,000 / 80,000', async () => {
    const k = await kpis();
    expect(k.won_amount).toMatchObject({ value: 125000, previous: 80000, n: 2, n_previous: 1 });
    expect(k.won_amount.change).toBeCloseTo(0.5625, 10);
  });

  it('collected: P1 60,000 (05-18) + P5 4,000 partial (05-05); previous none paid before 02-20 → change null', async () => {
    const k = await kpis();
    expect(k.collected_amount).toMatchObject({ value: 64000, previous: 0, n: 2, change: null });
  });

  it('new customers: C1 (first win 05-10) and C3 (05-15); previous C2 (02-10)', async () => {
    const k = await kpis();
    expect(k.new_customers).toMatchObject({ value: 2, previous: 1, change: 1 });
  });

  it('new opportunities: O1 O2 O3 O4 O8 created this quarter; O5 O6 in the previous window', async () => {
    const k = await kpis();
    expect(k.new_opportunities).toMatchObject({ value: 5, previous: 2, change: 1.5 });
  });

  it('win rate: 2 won / 3 closed (O2 lost); previous 1/1 (O6 lost 03-15 is after the window); change in points', async () => {
    const k = await kpis();
    expect(k.win_rate.value).toBeCloseTo(2 / 3, 10);
    expect(k.win_rate.previous).toBe(1);
    expect(k.win_rate.change).toBeCloseTo(2 / 3 - 1, 10);
    expect(k.win_rate.n).toBe(3);
  });

  it('weighted forecast: 125,000 won + O3 200,000×0.5 + O7 60,000×0.9 (override); O4 expected in August is out', async () => {
    const k = await kpis();
    expect(k.weighted_forecast.value).toBeCloseTo(125000 + 100000 + 54000, 6);
    expect(k.weighted_forecast.previous).toBeNull();
  });

  it('target attainment: 125,000 / company Q2 target 500,000; previous 80,000 / Q1 target 400,000', async () => {
    const k = await kpis();
    expect(k.target_attainment.value).toBeCloseTo(0.25, 10);
    expect(k.target_attainment.previous).toBeCloseTo(0.2, 10);
    expect(k.target_attainment.change).toBeCloseTo(0.05, 10);
  });

  it('overdue as of 05-20: P2 40,000 + P5 remainder 6,000; as of 02-19: P3 80,000 (paid only 03-01)', async () => {
    const k = await kpis();
    expect(k.overdue_amount).toMatchObject({ value: 46000, previous: 80000, n: 2, n_previous: 1 });
    expect(k.overdue_amount.change).toBeCloseTo(-0.425, 10);
  });

  it('compare=full compares with the whole previous quarter: O5 won, O6 lost → win rate 1/2', async () => {
    const k = await kpis({ compare: 'full' });
    expect(k.win_rate.previous).toBe(0.5);
    expect(k.won_amount.previous).toBe(80000);
  });

  it('a team filter takes that team’s target: T1 300,000; new opportunities O1 O2 O4 O8', async () => {
    const k = await kpis({ team: 'T1' });
    expect(k.new_opportunities.value).toBe(4);
    expect(k.target_attainment.value).toBeCloseTo(125000 / 300000, 10);
  });
});

describe('whose target a filtered figure is divided by', () => {
  it('an owner with her team (the team board after a click on a rep) takes her own target: O1 100,000 / U1 150,000', async () => {
    const k = await kpis({ team: 'T11', owner: 'U1' });
    expect(k.won_amount.value).toBe(100000);
    expect(k.target_attainment.value).toBeCloseTo(100000 / 150000, 10);
  });

  it('a region without a target of its own has no attainment (never its wins over the company target)', async () => {
    const k = await kpis({ region: '上海' });
    expect(k.won_amount.value).toBe(125000); // O1 (C1) + O8 (C3), both 上海
    expect(k.target_attainment.value).toBeNull();
  });

  it('a region with its own target: 上海 125,000 / 200,000', async () => {
    await db.write(async (tx) => {
      await tx.run(`INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount, region)
        VALUES ('t-sh', NULL, 'T0', 'won_amount', '2026-04-01', '2026-07-01', 200000, '上海')`);
    });
    try {
      const k = await kpis({ region: '上海' });
      expect(k.target_attainment.value).toBeCloseTo(125000 / 200000, 10);
      // Without the region filter the company's own 500,000 still applies, not 700,000.
      expect((await kpis()).target_attainment.value).toBeCloseTo(125000 / 500000, 10);
    } finally {
      await db.write(async (tx) => {
        await tx.run(`DELETE FROM targets WHERE target_id = 't-sh'`);
      });
    }
  });

  it('a product filter has no attainment: no target is set by product', async () => {
    const k = await kpis({ product: 'A' });
    expect(k.won_amount.value).toBe(100000);
    expect(k.target_attainment.value).toBeNull();
  });
});

describe('kpis under a viewer scope', () => {
  it('a manager of T1 sees T1’s subtree and its target as the top visible team', async () => {
    const k = await kpis({}, { team_ids: ['T1'], owner_ids: [] });
    expect(k.new_opportunities.value).toBe(4);
    expect(k.target_attainment.value).toBeCloseTo(125000 / 300000, 10);
  });

  it('a rep (U3) sees only their deals: no wins this quarter, O3 in the forecast, no target', async () => {
    const k = await kpis({}, { team_ids: [], owner_ids: ['U3'] });
    expect(k.won_amount.value).toBe(0);
    expect(k.weighted_forecast.value).toBeCloseTo(100000, 6);
    expect(k.target_attainment.value).toBeNull();
    expect(k.new_opportunities.value).toBe(1);
  });

  it('no scope sees nothing (fail closed)', async () => {
    const k = await kpis({}, null);
    for (const m of Object.values(k)) expect(m.n).toBe(0);
    expect(k.won_amount.value).toBe(0);
    expect(k.target_attainment.value).toBeNull();
    expect(k.overdue_amount.value).toBe(0);
  });

  it('a filter cannot widen the scope: U3 asking for team T1 gets nothing', async () => {
    const k = await kpis({ team: 'T1' }, { team_ids: [], owner_ids: ['U3'] });
    expect(k.new_opportunities.value).toBe(0);
  });
});
