/**
 * The rollups by owner and day (warehouse/facts.ts: `deal_day_facts`, `payment_day_facts`) and
 * the models that sum them instead of the deals and payments (kpis, win_loss, trend, leaderboard, the deals listing's totals):
 * - the tables equal a GROUP BY over the raw `opportunities`, `payments` and `activities` (not deal_facts);
 * - every such model answers exactly as it does with the rollups off (`COCKPIT_ROLLUPS=0`, the
 *   path over deal_facts and payment_facts), for viewers who see everything, one owner, a team
 *   and a region, with and without team and owner filters, over several periods; and it did
 *   read the rollup (its statement names it) where it should, and not where a filter it cannot
 *   answer is set.
 * On a demo whose customers have deals of several owners, some deals without an owner and some
 * payments tied to no deal (owned through their customer).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/lib/server/db/database';
import { generateDemo } from '../src/lib/server/demo/generate';
import { parseConfig } from '../src/lib/server/config/load';
import { buildContext, compileModel, getModel, parseParams, runModel, stageInfos } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';
import { compile } from '../src/lib/server/db/sql';
import type { Scope } from './common/scope';

const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const config = cfg.config;
const stages = stageInfos(config);
const AS_OF = '2026-06-15';
let db: Database;
let owners: string[];
let leafTeam: string;
let region: string;

beforeAll(async () => {
  db = await Database.open(':memory:');
  await generateDemo(db, { scale: 'small', seed: 11, asOf: AS_OF, stages });
  await db.write(async (tx) => {
    await tx.run(`UPDATE opportunities SET owner_id = (
        SELECT u2.user_id FROM users u2 WHERE u2.user_id > opportunities.owner_id ORDER BY u2.user_id LIMIT 1)
      WHERE hash(opportunity_id) % 3 = 0 AND owner_id < (SELECT max(user_id) FROM users)`);
    await tx.run(`UPDATE opportunities SET owner_id = NULL WHERE hash(opportunity_id) % 41 = 7`);
    await tx.run(`UPDATE payments SET opportunity_id = NULL WHERE hash(payment_id) % 5 = 0 AND customer_id IS NOT NULL`);
  });
  await ensureFacts(db, stages);
  owners = (await db.query(`SELECT owner_id FROM opportunities WHERE owner_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1`)).rows.map((r) => r.owner_id as string);
  leafTeam = (await db.query(`SELECT team_id FROM users GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`)).rows[0].team_id as string;
  region = (await db.query(`SELECT team_id FROM teams WHERE parent_id IS NOT NULL AND team_id IN (SELECT parent_id FROM teams) ORDER BY 1 LIMIT 1`)).rows[0].team_id as string;
}, 180_000);
afterAll(() => db.close());
afterEach(() => {
  delete process.env.COCKPIT_ROLLUPS;
});

const one = async (q: string) => (await db.query(q)).rows[0];

describe('deal_day_facts, payment_day_facts and activity_day_facts', () => {
  it('equal a GROUP BY over the raw opportunities and payments, by owner and day', async () => {
    // Independent of deal_facts: the raw tables, the configured probabilities, the demo's stage kinds.
    const probs = stages.map((s) => `('${s.name}', ${s.probability ?? 'NULL'}::DOUBLE)`).join(', ');
    const r = await one(`
      WITH st AS (SELECT * FROM (VALUES ${probs}) t(name, p)),
      o AS (SELECT o.*, u.team_id AS team, coalesce(o.probability, st.p) AS prob FROM opportunities o
            LEFT JOIN users u ON u.user_id = o.owner_id LEFT JOIN st ON st.name = o.stage),
      raw AS (
        SELECT 'closed' AS role, closed_at::DATE AS day, owner_id, team, status, count(*) AS n, sum(amount) AS amount
        FROM o WHERE closed_at IS NOT NULL GROUP BY ALL
        UNION ALL SELECT 'created', created_at::DATE, owner_id, team, status, count(*), sum(amount) FROM o WHERE created_at IS NOT NULL GROUP BY ALL
        UNION ALL SELECT 'expected', expected_close_date, owner_id, team, status, count(*), sum(amount)
        FROM o WHERE status = 'open' AND expected_close_date IS NOT NULL GROUP BY ALL
        UNION ALL SELECT 'any', NULL::DATE, owner_id, team, status, count(*), sum(amount) FROM o GROUP BY ALL),
      w AS (SELECT expected_close_date AS day, owner_id, sum(amount::DOUBLE * prob) AS weighted FROM o
            WHERE status = 'open' AND expected_close_date IS NOT NULL GROUP BY ALL),
      pay AS (SELECT pm.paid_at AS day, CASE WHEN pm.opportunity_id IS NOT NULL THEN op.owner_id ELSE c.owner_id END AS owner_id,
                     count(*) AS n, sum(coalesce(pm.paid_amount, pm.amount)) AS collected
              FROM payments pm LEFT JOIN opportunities op ON op.opportunity_id = pm.opportunity_id
              LEFT JOIN customers c ON c.customer_id = coalesce(pm.customer_id, op.customer_id)
              WHERE pm.paid_at IS NOT NULL GROUP BY ALL)
      SELECT
        (SELECT count(*) FROM raw) AS raw_rows,
        (SELECT count(*) FROM (SELECT role, day, owner_id, owner_team, status, n, amount FROM deal_day_facts
                               EXCEPT ALL SELECT * FROM raw)) AS extra,
        (SELECT count(*) FROM (SELECT * FROM raw EXCEPT ALL
                               SELECT role, day, owner_id, owner_team, status, n, amount FROM deal_day_facts)) AS missing,
        (SELECT count(*) FROM w FULL JOIN (SELECT day, owner_id, sum(weighted)::DOUBLE AS weighted FROM deal_day_facts WHERE role = 'expected' GROUP BY ALL) d
           ON d.day = w.day AND d.owner_id IS NOT DISTINCT FROM w.owner_id WHERE abs(coalesce(w.weighted, 0) - coalesce(d.weighted, 0)) > 1e-3) AS bad_weighted,
        (SELECT count(*) FROM pay) AS pay_rows,
        (SELECT count(*) FROM (SELECT day, owner_id, n, collected FROM payment_day_facts EXCEPT ALL SELECT * FROM pay)) AS pay_extra,
        (SELECT count(*) FROM (SELECT * FROM pay EXCEPT ALL SELECT day, owner_id, n, collected FROM payment_day_facts)) AS pay_missing,
        (SELECT count(*) FROM deal_day_facts WHERE owner_id IS NULL) AS ownerless_rows,
        (SELECT count(*) FROM (SELECT day, owner_id, owner_team, n FROM activity_day_facts EXCEPT ALL
           SELECT a.occurred_at::DATE, a.owner_id, u.team_id, count(*) FROM activities a LEFT JOIN users u ON u.user_id = a.owner_id GROUP BY ALL)) AS act_extra,
        (SELECT count(*) FROM (SELECT a.occurred_at::DATE, a.owner_id, u.team_id, count(*) FROM activities a LEFT JOIN users u ON u.user_id = a.owner_id GROUP BY ALL
           EXCEPT ALL SELECT day, owner_id, owner_team, n FROM activity_day_facts)) AS act_missing,
        (SELECT count(*) FROM payments WHERE opportunity_id IS NULL AND paid_at IS NOT NULL) AS dealless_paid`);
    expect(Number(r.raw_rows)).toBeGreaterThan(1000);
    expect(Number(r.pay_rows)).toBeGreaterThan(100);
    expect(Number(r.ownerless_rows)).toBeGreaterThan(0);
    expect(Number(r.dealless_paid)).toBeGreaterThan(0);
    expect([r.extra, r.missing, r.bad_weighted, r.pay_extra, r.pay_missing, r.act_extra, r.act_missing].map(Number)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});

type Case = [model: string, params: Record<string, unknown>];
const CASES: Case[] = [
  ['kpis', {}],
  ['kpis', { period: 'this_year', compare: 'full' }],
  ['kpis', { period: 'all' }],
  ['kpis', { from: '2025-11-03', to: '2026-02-17' }],
  ['win_loss', {}],
  ['win_loss', { period: 'all' }],
  ['win_loss', { group_by: 'owner' }],
  ['win_loss', { group_by: 'team', period: 'last_year' }],
  ['win_loss', { view: 'series' }],
  ['win_loss', { view: 'series', grain: 'week', period: 'this_quarter' }],
  ['win_loss', { view: 'series', group_by: 'team_leaf' }],
  ['win_loss', { view: 'series', group_by: 'quarter', period: 'all' }],
  ['win_loss', { group_by: 'month', period: 'last_year' }],
  ['trend', {}],
  ['trend', { measure: 'collected_amount', grain: 'week', period: 'this_quarter' }],
  ['trend', { measure: 'new_opportunities', group_by: 'team', period: 'all', grain: 'quarter' }],
  ['trend', { measure: 'win_rate', group_by: 'owner' }],
  ['trend', { measure: 'weighted_forecast', period: 'this_year', grain: 'month' }],
  ['trend', { measure: 'weighted_forecast', group_by: 'team_leaf', from: '2026-06-01', to: '2026-09-30', grain: 'day' }],
  ['deals', {}],
  ['deals', { period: 'this_year', date_field: 'created_at', sort: 'amount' }],
  ['deals', { period: 'this_quarter', date_field: 'closed_at', status: ['won'] }],
  ['deals', { period: 'last_year', date_field: 'closed_at', status: ['won', 'lost'], count: 'bounded' }],
  ['deals', { period: 'this_quarter', date_field: 'expected_close_date', status: 'open', limit: 5 }],
  ['deals', { period: 'all', status: 'lost', count: 'bounded', sort: 'closed_at' }],
  ['leaderboard', {}],
  ['leaderboard', { group_by: 'team', period: 'this_year' }],
  ['leaderboard', { group_by: 'team_leaf', rank_by: 'collected_amount' }],
  ['leaderboard', { period: 'all', rank_by: 'win_rate' }],
  ['leaderboard', { rank_by: 'activities', period: 'last_quarter' }]
];

/** Numbers equal to 1e-9 of their size (the weighted sums: each deal's product rounded to 6 decimals), everything else exactly. */
function close(a: unknown, b: unknown, path = ''): void {
  if (typeof a === 'number' && typeof b === 'number') {
    expect(Math.abs(a - b), `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(Math.max(1e-3, Math.abs(b) * 1e-9));
  } else if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, `${path}.length`).toBe(b.length);
    a.forEach((x, i) => close(x, b[i], `${path}[${i}]`));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(a).sort(), path).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(a)) close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  } else expect(a, path).toEqual(b);
}

/** The model's statement as the runner compiles it (scope, context and all). */
const statement = (model: string, params: Record<string, unknown>, scope: Scope = { all: true }) => {
  const m = getModel(model);
  const p = parseParams(m, { as_of: AS_OF, ...params });
  return compile(compileModel(m, p, buildContext(m, p, config), scope)).text;
};
/** The rollup read as a model's relation (not merely named by the scope's CTEs, which every statement defines). */
const ROLLUP_READ = /FROM \(\s*SELECT d\.\*, d\.owner_team AS dim_team_leaf, d\.owner_id AS dim_owner\s+FROM (deal|payment)_day_facts/;

describe('models summing the rollups answer as they do over the deals', () => {
  it('for every scope, team and owner filter and period, and read the rollups only without other filters', async () => {
    const scopes: [string, Scope][] = [
      ['all', { all: true }],
      ['one owner', { team_ids: [], owner_ids: [owners[2]] }],
      ['a team', { team_ids: [leafTeam], owner_ids: [] }],
      ['a region', { team_ids: [region], owner_ids: [] }]
    ];
    const filters: Record<string, unknown>[] = [{}, { team: [leafTeam] }, { owner: [owners[0], owners[5]] }];
    let compared = 0;
    let nonEmpty = 0;
    for (const [model, params] of CASES) {
      for (const [scopeName, scope] of scopes) {
        for (const f of filters) {
          const p = { as_of: AS_OF, ...params, ...f };
          process.env.COCKPIT_ROLLUPS = '0';
          const base = await runModel(db, config, model, p, scope);
          delete process.env.COCKPIT_ROLLUPS;
          const rolled = await runModel(db, config, model, p, scope);
          close(rolled.rows, base.rows, `${model} ${JSON.stringify(p)} ${scopeName}`);
          close(rolled.n, base.n, `${model} n`);
          close(rolled.summary ?? null, base.summary ?? null, `${model} summary`);
          compared++;
          if (base.rows.length > 0 && base.n > 0) nonEmpty++;
        }
      }
    }
    expect(compared).toBe(CASES.length * 12);
    expect(nonEmpty).toBeGreaterThan(compared / 2);
  });

  it('read the rollups where they may, and the deals where a filter or a grouping needs them', () => {
    for (const [model, params] of [['kpis', {}], ['kpis', { team: [leafTeam] }], ['win_loss', { view: 'series', group_by: 'owner' }], ['leaderboard', {}], ['leaderboard', { owner: ['U001'] }], ['trend', { measure: 'weighted_forecast' }], ['deals', {}], ['deals', { status: 'won', date_field: 'closed_at' }]] as const) {
      expect(statement(model, params), `${model} ${JSON.stringify(params)}`).toMatch(ROLLUP_READ);
    }
    for (const [model, params] of [['kpis', { region: ['华东'] }], ['win_loss', { product: ['x'] }], ['win_loss', { group_by: 'product' }], ['win_loss', { view: 'loss_reasons' }], ['leaderboard', { grade: ['A'] }], ['trend', { measure: 'new_customers' }], ['trend', { group_by: 'region' }], ['deals', { stage: ['方案报价'] }], ['deals', { q: 'OPP' }], ['deals', { date_field: 'forecast_date', period: 'this_year' }], ['deals', { date_field: 'expected_close_date', period: 'this_year' }]] as const) {
      expect(statement(model, params), `${model} ${JSON.stringify(params)}`).not.toMatch(ROLLUP_READ);
    }
    process.env.COCKPIT_ROLLUPS = '0';
    expect(statement('kpis', {})).not.toMatch(ROLLUP_READ);
  });
});
