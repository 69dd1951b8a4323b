/**
 * `trend` on the revenue fixture (tests/helpers/revenue-fixture.ts), as of 2026-05-20. Every
 * expected figure is worked out by hand from the fixture's rows; the working is in the
 * comments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revenueFixtureDb, REVENUE_AS_OF } from '../tests/helpers/revenue-fixture';
import { runModel, ModelError } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { CockpitConfig } from '../src/lib/server/config/schema';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

function config(raw: object = {}): CockpitConfig {
  const r = parseConfig(raw);
  if (!r.ok) throw new Error(r.issues.join('; '));
  return r.config;
}
const cfg = config();
let db: Database;
beforeAll(async () => (db = await revenueFixtureDb()));
afterAll(() => db.close());

type Row = { group_key: string | null; group_label: string | null; bucket: string; label: string; from: string; to: string; value: number | null; cumulative: number | null; target: number | null; n: number };

async function trend(params: Record<string, unknown> = {}, scope: Scope | null = { all: true }, c: CockpitConfig = cfg) {
  const r = await runModel(db, c, 'trend', { as_of: REVENUE_AS_OF, ...params }, scope);
  return { ...r, rows: r.rows as Row[] };
}
const values = (rows: Row[]) => rows.map((r) => r.value);
const ZEROS = (k: number) => Array<number>(k).fill(0);

describe('trend: one measure by grain over the period, every bucket listed (metrics.md, KPIs and trends)', () => {
  it('won_amount by month this year, by close date: D5 80,000 in Feb; D1 100,000 + D8 25,000 in May; empty months are 0', async () => {
    const r = await trend();
    expect(r.date_field).toBe('opportunities.closed_at');
    expect(r.period).toMatchObject({ from: '2026-01-01', to: '2027-01-01' });
    expect(r.rows.map((x) => x.label)).toEqual(['2026-01', '2026-02', '2026-03', '2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10', '2026-11', '2026-12']);
    expect(values(r.rows)).toEqual([0, 80000, 0, 0, 125000, ...ZEROS(7)]);
    expect(r.rows.map((x) => x.n)).toEqual([0, 1, 0, 0, 2, ...ZEROS(7)]);
    // running total within the period
    expect(r.rows.map((x) => x.cumulative)).toEqual([0, 80000, 80000, 80000, 205000, ...Array(7).fill(205000)]);
    expect(r.n).toBe(3);
    expect(r.summary).toMatchObject({ measure: 'won_amount', unit: 'currency', grain: 'month', total: 205000 });
    expect(r.definition['zh-CN']).toContain('赢单金额');
    expect(r.definition.en).toContain('close date');
  });

  it('by quarter, with the targets lying inside each quarter: T0 Q1 400,000 and Q2 500,000 (company, the top team)', async () => {
    const r = await trend({ grain: 'quarter' });
    expect(r.rows.map((x) => [x.label, x.value, x.target])).toEqual([
      ['2026-Q1', 80000, 400000],
      ['2026-Q2', 125000, 500000],
      ['2026-Q3', 0, null],
      ['2026-Q4', 0, null]
    ]);
  });

  it('a quarterly target lies inside no month: monthly targets are null', async () => {
    const r = await trend({ period: 'this_quarter' });
    expect(r.rows.map((x) => x.target)).toEqual([null, null, null]);
  });

  it('win_rate = won / (won + lost) per close month; a month with nothing closed is null, not 0', async () => {
    // Jan D12 lost; Feb D5 won; Mar D6 lost; Apr D2 lost; May D1, D8 won
    const r = await trend({ measure: 'win_rate' });
    expect(values(r.rows)).toEqual([0, 1, 0, 0, 1, null, null, null, null, null, null, null]);
    expect(r.rows.map((x) => x.n)).toEqual([1, 1, 1, 1, 2, ...ZEROS(7)]);
    expect(r.rows.every((x) => x.cumulative === null && x.target === null)).toBe(true);
    // the year: 3 won of 6 closed
    expect(r.summary?.total).toBe(0.5);
    expect(r.summary?.unit).toBe('ratio');
  });

  it('new_opportunities by creation month: Jan D5 D6, Feb D10, Mar D7, Apr D1 D2 D3 D8, May D4 D9 D15', async () => {
    const r = await trend({ measure: 'new_opportunities' });
    expect(r.date_field).toBe('opportunities.created_at');
    expect(values(r.rows)).toEqual([2, 1, 1, 4, 3, ...ZEROS(7)]);
    expect(r.n).toBe(11);
  });

  it('collected_amount by payment date: Apr Y10 5,000 (a receipt without a deal); May Y1 60,000 + Y5 4,000 (partly paid)', async () => {
    const r = await trend({ measure: 'collected_amount', period: 'this_quarter' });
    expect(r.date_field).toBe('payments.paid_at');
    expect(values(r.rows)).toEqual([5000, 64000, 0]);
    expect(r.rows.map((x) => x.n)).toEqual([1, 2, 0]);
  });

  it('new_customers by first win: C2 (D13, 2025-08), C5 (D16, 2025-11), C1 and C3 (May 2026); later wins of C2 (D5) are not new', async () => {
    // period all: the buckets span the data, from the first to the last first-win
    const r = await trend({ measure: 'new_customers', period: 'all', grain: 'quarter' });
    expect(r.rows.map((x) => [x.label, x.value])).toEqual([
      ['2025-Q3', 1],
      ['2025-Q4', 1],
      ['2026-Q1', 0],
      ['2026-Q2', 2]
    ]);
    expect(r.period.preset).toBe('all');
  });

  it('weighted_forecast per month: won + open deals expected in it × p; the months add up to the forecast model', async () => {
    // May: won 125,000 + D10 70,000 × 0.75 (商务谈判) = 177,500
    // June: D3 200,000 × 0.5 + D7 60,000 × 0.9 (its override) + D9 120,000 × 0.25 + D15 30,000 × 0.1 = 187,000
    const r = await trend({ measure: 'weighted_forecast', period: 'this_quarter' });
    expect(values(r.rows)).toEqual([0, 177500, 187000]);
    expect(r.rows.map((x) => x.n)).toEqual([0, 3, 4]);
    const f = await runModel(db, cfg, 'forecast', { as_of: REVENUE_AS_OF, period: 'this_quarter' }, { all: true });
    expect((f.rows[0] as { forecast: number }).forecast).toBe(177500 + 187000);
  });

  it('weeks start on Monday; the first and last buckets are clipped to the period', async () => {
    const r = await trend({ measure: 'new_opportunities', period: 'this_quarter', grain: 'week' });
    expect(r.rows[0]).toMatchObject({ bucket: '2026-03-30', from: '2026-04-01', to: '2026-04-06', value: 2 }); // D1 04-02, D2 04-03
    expect(r.rows.at(-1)).toMatchObject({ bucket: '2026-06-29', from: '2026-06-29', to: '2026-07-01', value: 0 });
    expect(r.rows).toHaveLength(14);
    expect(r.rows.map((x) => x.value).reduce((a, b) => (a ?? 0) + (b ?? 0), 0)).toBe(7);
  });

  it('days: the quarter has 91 daily buckets', async () => {
    const r = await trend({ period: 'this_quarter', grain: 'day' });
    expect(r.rows).toHaveLength(91);
    expect(r.rows.find((x) => x.bucket === '2026-05-08')?.value).toBe(100000);
  });

  it('years: this year is one bucket labelled 2026', async () => {
    const r = await trend({ grain: 'year' });
    expect(r.rows.map((x) => [x.label, x.value, x.target])).toEqual([['2026', 205000, 900000]]);
  });

  it('quarters and years follow fiscal_year_start_month (April): FY2027 starts 2026-04-01 and its Q1 is Apr–Jun', async () => {
    const fy = config({ fiscal_year_start_month: 4 });
    const r = await trend({ grain: 'quarter' }, { all: true }, fy);
    expect(r.period).toMatchObject({ from: '2026-04-01', to: '2027-04-01' });
    expect(r.rows.map((x) => [x.bucket, x.label, x.value])).toEqual([
      ['2026-04-01', '2027-Q1', 125000],
      ['2026-07-01', '2027-Q2', 0],
      ['2026-10-01', '2027-Q3', 0],
      ['2027-01-01', '2027-Q4', 0]
    ]);
    const y = await trend({ grain: 'year', period: 'last_year' }, { all: true }, fy);
    // FY2026 = [2025-04-01, 2026-04-01): D13 150,000 + D16 50,000 + D5 80,000
    expect(y.rows.map((x) => [x.label, x.value])).toEqual([['FY2026', 280000]]);
  });
});

describe('trend: common parameters', () => {
  it('from/to (to exclusive) instead of a preset', async () => {
    const r = await trend({ from: '2026-02-01', to: '2026-05-09' });
    // Feb D5 80,000; May 1–8: D1 (05-08) 100,000; D8 (05-15) is after `to`
    expect(r.rows.map((x) => [x.label, x.value, x.from, x.to])).toEqual([
      ['2026-02', 80000, '2026-02-01', '2026-03-01'],
      ['2026-03', 0, '2026-03-01', '2026-04-01'],
      ['2026-04', 0, '2026-04-01', '2026-05-01'],
      ['2026-05', 100000, '2026-05-01', '2026-05-09']
    ]);
  });

  it('filters: owner, team (with every team below), region, product, source, industry, grade', async () => {
    const sum = async (f: Record<string, unknown>) => (await trend({ grain: 'year', ...f })).rows[0].value;
    expect(await sum({ owner: 'U3' })).toBe(80000); // D5
    expect(await sum({ team: 'T1' })).toBe(125000); // D1 (T11) + D8 (T11)
    expect(await sum({ team: 'T0' })).toBe(205000);
    expect(await sum({ region: '北京' })).toBe(80000); // C2
    expect(await sum({ product: 'B' })).toBe(25000); // D8
    expect(await sum({ source: ['展会', '官网咨询'] })).toBe(205000);
    expect(await sum({ industry: '零售' })).toBe(25000); // C3
    expect(await sum({ grade: '重点客户' })).toBe(100000); // C1
  });

  it('group_by owner: one series per owner, every bucket, and the series add up to the total', async () => {
    const r = await trend({ grain: 'quarter', group_by: 'owner' });
    const series = (k: string) => r.rows.filter((x) => x.group_key === k).map((x) => x.value);
    expect(series('U1')).toEqual([0, 100000, 0, 0]);
    expect(series('U2')).toEqual([0, 25000, 0, 0]);
    expect(series('U3')).toEqual([80000, 0, 0, 0]);
    expect(r.rows.find((x) => x.group_key === 'U3')?.group_label).toBe('李娜');
    // owners' own targets inside each quarter: U1 Q2 150,000
    expect(r.rows.find((x) => x.group_key === 'U1' && x.label === '2026-Q2')?.target).toBe(150000);
    // U4 has only a target (Q2 50,000) and is listed with zeros
    expect(series('U4')).toEqual([0, 0, 0, 0]);
    const total = await trend({ grain: 'quarter' });
    for (let i = 0; i < 4; i++) {
      const sumI = r.rows.filter((x) => x.bucket === total.rows[i].bucket).reduce((s, x) => s + (x.value ?? 0), 0);
      expect(sumI).toBe(total.rows[i].value);
    }
  });

  it('group_by team = the direct children of the filtered team; its own members form their own group (no target)', async () => {
    const r = await trend({ grain: 'quarter', group_by: 'team', team: 'T1', measure: 'new_opportunities' });
    const q2 = r.rows.filter((x) => x.label === '2026-Q2').map((x) => [x.group_key, x.group_label, x.value, x.target]);
    // T11: D1 D2 D4 D8 D15 (+ D10 in Q1); T1 itself: U5's D9; T12 (U4) nothing, listed? only with data or a target
    expect(q2).toEqual([
      ['T1', '华东', 1, null],
      ['T11', '上海组', 5, null]
    ]);
    const won = await trend({ grain: 'quarter', group_by: 'team', team: 'T1' });
    // won_amount targets: T11 Q2 250,000, T12 Q2 80,000 (listed for its target), T1's own row covers the whole region
    expect(won.rows.filter((x) => x.label === '2026-Q2').map((x) => [x.group_key, x.value, x.target])).toEqual([
      ['T11', 125000, 250000],
      ['T12', 0, 80000]
    ]);
  });

  it('group_by team_leaf = each owner’s own team; region, industry, source, product, grade by their values', async () => {
    const r = await trend({ grain: 'year', group_by: 'team_leaf', measure: 'new_opportunities' });
    // T11: D1 D2 D4 D6 D7 D8 D10 D15 = 8; T2: D3 D5 = 2; T1: D9 = 1
    expect(r.rows.map((x) => [x.group_key, x.value])).toEqual([
      ['T1', 1],
      ['T11', 8],
      ['T2', 2]
    ]);
    const byRegion = await trend({ grain: 'year', group_by: 'region' });
    expect(byRegion.rows.map((x) => [x.group_key, x.value])).toEqual([
      ['上海', 125000],
      ['北京', 80000]
    ]);
  });

  it('a bad measure or grain is a 400 that names it', async () => {
    await expect(trend({ measure: 'revenue' })).rejects.toThrow(/measure/);
    await expect(trend({ grain: 'weekly' })).rejects.toSatisfy((e: unknown) => e instanceof ModelError && e.status === 400 && /grain/.test(e.message));
    await expect(trend({ group_by: 'stage' })).rejects.toThrow(/group_by/);
  });
});

describe('trend under a viewer scope', () => {
  it('a rep (U3) sees only their deals, and their own target as the fallback', async () => {
    const r = await trend({ grain: 'quarter' }, { team_ids: [], owner_ids: ['U3'] });
    expect(r.rows.map((x) => [x.value, x.target])).toEqual([
      [80000, null],
      [0, 100000],
      [0, null],
      [0, null]
    ]);
  });

  it('a T1 manager sees T1’s subtree, and T1’s target as the top visible team', async () => {
    const r = await trend({ grain: 'quarter' }, { team_ids: ['T1'], owner_ids: [] });
    expect(r.rows.map((x) => [x.value, x.target])).toEqual([
      [0, null],
      [125000, 300000],
      [0, null],
      [0, null]
    ]);
  });

  it('a filter cannot widen the scope: U3 asking for T1 gets zeros', async () => {
    const r = await trend({ grain: 'year', team: 'T1' }, { team_ids: [], owner_ids: ['U3'] });
    expect(r.rows[0].value).toBe(0);
  });

  it('no scope sees nothing (fail closed): buckets listed, all zero, n 0, no target', async () => {
    for (const measure of ['won_amount', 'collected_amount', 'new_customers', 'new_opportunities', 'win_rate', 'weighted_forecast']) {
      const r = await trend({ grain: 'quarter', measure }, null);
      expect(r.n, measure).toBe(0);
      expect(r.rows, measure).toHaveLength(4);
      expect(r.rows.every((x) => (measure === 'win_rate' ? x.value === null : x.value === 0) && x.target === null), measure).toBe(true);
    }
  });
});
