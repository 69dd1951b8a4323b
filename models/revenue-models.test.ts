/**
 * What holds for every view of trend, leaderboard, payments and forecast: the query reads only
 * the scoped relations (never `main.`), every result carries n, a zh-CN/en definition and the
 * date it filtered on, and a scoped result never shows more than the unscoped one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revenueFixtureDb, REVENUE_AS_OF } from '../tests/helpers/revenue-fixture';
import { buildContext, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import { compile, sql } from '../src/lib/server/db/sql';
import type { Database } from '../src/lib/server/db/database';
import { SCOPED_RELATIONS, type Scope } from './common/scope';

const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const cfg = parsed.config;
let db: Database;
beforeAll(async () => (db = await revenueFixtureDb()));
afterAll(() => db.close());

/** One parameter set per view and grouping of each model. */
const CASES: [string, Record<string, unknown>][] = [
  ['trend', {}],
  ['trend', { measure: 'collected_amount', group_by: 'team' }],
  ['trend', { measure: 'new_customers', group_by: 'region', grain: 'quarter' }],
  ['trend', { measure: 'weighted_forecast', group_by: 'team_leaf', period: 'this_quarter' }],
  ['trend', { measure: 'win_rate', group_by: 'owner', team: 'T1' }],
  ['leaderboard', {}],
  ['leaderboard', { group_by: 'team', region: '上海' }],
  ['leaderboard', { group_by: 'team_leaf', rank_by: 'collected_amount', product: 'A' }],
  ['payments', {}],
  ['payments', { group_by: 'grade' }],
  ['payments', { view: 'aging', group_by: 'team' }],
  ['payments', { view: 'upcoming', grain: 'month', period: 'this_year', industry: '零售' }],
  ['payments', { view: 'overdue', source: '展会' }],
  ['forecast', {}],
  ['forecast', { group_by: 'team', probabilities: 'learned' }],
  ['forecast', { group_by: 'quarter', period: 'this_year' }],
  ['forecast', { view: 'stages' }],
  ['forecast', { view: 'accuracy', period: 'last_year', grain: 'quarter', group_by: 'owner' }],
  ['forecast', { view: 'accuracy', basis: 'snapshots', period: 'last_quarter', group_by: 'team' }]
];

const SCOPED = new Set<string>([...SCOPED_RELATIONS, 'stages', 'team_tree']);

describe('revenue models: every view', () => {
  it.each(CASES)('%s %j reads only the scoped relations', (name, raw) => {
    const model = getModel(name);
    const params = parseParams(model, { as_of: REVENUE_AS_OF, ...raw });
    const ctx = buildContext(model, params, cfg);
    const q = model.query(params as never, ctx);
    const text = compile(sql`${q.body} ${sql`${(q.ctes ?? []).map(([, b]) => b).reduce((a, b) => sql`${a} ${b}`, sql``)}`}`).text;
    // The model's own CTEs: the top-level list, and those a subquery defines in a WITH of its own
    // (the accuracy backtest nests each moment's chain in its branch of a union); their bodies
    // are in the text, so what they read is checked like the rest.
    const nested = [...text.matchAll(/\b([a-z_][a-z0-9_]*)\s+AS\s+(?:NOT\s+)?(?:MATERIALIZED\s+)?\(/gi)].map((m) => m[1].toLowerCase());
    const own = new Set([...(q.ctes ?? []).map(([n]) => n), ...nested]);
    expect(text).not.toMatch(/\bmain\./i);
    // every relation read FROM or JOINed is scoped or one of the model's own CTEs
    const read = [...text.matchAll(/(?<!DISTINCT\s+)\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)\b/gi)].map((m) => m[1].toLowerCase());
    const unknown = read.filter((r) => !SCOPED.has(r) && !own.has(r) && !['select', 'unnest', 'range', 'values', 'lateral'].includes(r));
    expect(unknown).toEqual([]);
  });

  it.each(CASES)('%s %j carries n, a zh-CN/en definition and its date field', async (name, raw) => {
    const r = await runModel(db, cfg, name, { as_of: REVENUE_AS_OF, ...raw }, { all: true });
    expect(Number.isInteger(r.n)).toBe(true);
    expect(r.definition['zh-CN'].length).toBeGreaterThan(20);
    expect(r.definition.en.length).toBeGreaterThan(20);
    expect(r.title['zh-CN']).toMatch(/[\u4e00-\u9fff]/);
    expect(r.date_field).toMatch(/^(opportunities|payments|activities)\.[a-z_]+$/);
    for (const row of r.rows) expect(Number.isInteger(row.n), JSON.stringify(row)).toBe(true);
  });

  it.each(CASES)('%s %j: no scope sees nothing, a restricted scope never more than all', async (name, raw) => {
    const run = (scope: Scope | null) => runModel(db, cfg, name, { as_of: REVENUE_AS_OF, ...raw }, scope);
    const all = await run({ all: true });
    const none = await run(null);
    expect(none.n).toBe(0);
    for (const scope of [{ team_ids: ['T1'], owner_ids: [] }, { team_ids: [], owner_ids: ['U3'] }, { team_ids: ['T12'], owner_ids: ['U3'] }] as Scope[]) {
      const part = await run(scope);
      expect(part.n, JSON.stringify(scope)).toBeLessThanOrEqual(all.n);
    }
  });
});
