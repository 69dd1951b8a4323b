/**
 * `customer_list` by LTV or name, segments all and with_revenue (customer-list.ts, fastQuery),
 * reads the historical LTV from customer_facts (less the events after the report date), the
 * page's other figures from the page's events, and the churned total from each customer's last
 * event. The reference is the listing's per-request aggregation of every customer's events
 * (listQuery, the ltv model's own CTEs, which read no customer_facts): the two must give the same
 * rows and totals on the small demo company, for report dates with and without events after
 * them, a period ending before the report date, both revenue bases, search, paging, both sort
 * directions, and viewers of every kind (customer_facts is the scoped recomputation for them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase, type Database } from '../src/lib/server/db/database';
import { generateDemo } from '../src/lib/server/demo/generate';
import { buildContext, compileModel, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { listQuery } from './customer-list';
import { customersComplete, positiveLtvCustomers, revenueHorizon } from '../warehouse/facts';
import { compile } from '../src/lib/server/db/sql';

const compileSql = (m: ReturnType<typeof getModel>, p: Record<string, unknown>, ctx: ReturnType<typeof buildContext>) =>
  compile(compileModel(m, p, ctx, ALL_SCOPE)).text;
import { ALL_SCOPE, type Scope } from './common/scope';

const AS_OF = '2026-06-15';
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const config = parsed.config;
const tmp = mkdtempSync(join(tmpdir(), 'customer-list-facts-'));
let db: Database;

beforeAll(async () => {
  db = await openDatabase(join(tmp, 'demo.duckdb'));
  await generateDemo(db, { scale: 'small', seed: 9, asOf: AS_OF });
  await runModel(db, config, 'customer_list', { as_of: AS_OF }, ALL_SCOPE);
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Money summed as DECIMAL (customer_facts) or DOUBLE (events) may differ in the last bit. */
const cents = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 100) / 100 : v]));

async function reference(params: Record<string, unknown>, scope: Scope) {
  const model = { ...getModel('customer_list'), query: (p: never, ctx: never) => listQuery(p, ctx, true) };
  const p = parseParams(model, params);
  const ctx = buildContext(model as never, p, config);
  const rows = (await db.query<Record<string, unknown>>(compileModel(model as never, p, ctx, scope))).rows;
  return model.finalize!(rows as never, p as never, ctx as never);
}

describe('customer_list from customer_facts = the per-request aggregation of the events', () => {
  it('for every viewer, report date, period, basis, search, sort and page', async () => {
    const teams = (await db.query<{ team_id: string }>('SELECT team_id FROM teams ORDER BY team_id')).rows.map((r) => r.team_id);
    const rep = (await db.query<{ u: string }>('SELECT owner_id AS u FROM deal_facts GROUP BY 1 ORDER BY count(*) DESC LIMIT 1')).rows[0].u;
    const scopes: Scope[] = [ALL_SCOPE, { team_ids: [teams[1]], owner_ids: [] }, { team_ids: [], owner_ids: [rep] }];
    // events after the report date: 2025-09-30 sees a year of later payments and wins (the LTV less them,
    // churn from the events); last_year ends before the report date (the year's end is 2026-01-01)
    const cases: Record<string, unknown>[] = [
      {},
      { segment: 'with_revenue' },
      { as_of: '2025-09-30' },
      { as_of: '2025-09-30', segment: 'with_revenue', dir: 'asc', offset: 30 },
      { period: 'last_year' },
      { period: 'all', basis: 'won_amount' },
      { basis: 'won_amount', as_of: '2025-09-30', segment: 'with_revenue' },
      { sort: 'customer_name', dir: 'asc', q: '科技' },
      { sort: 'owner_name', limit: 20, offset: 5 },
      { sort: 'region', dir: 'asc', segment: 'with_revenue', as_of: '2025-09-30' }
    ];
    let late = 0;
    for (const scope of scopes)
      for (const c of cases) {
        const params = { as_of: AS_OF, ...c };
        const got = await runModel(db, config, 'customer_list', params, scope);
        const want = await reference(params, scope);
        const where = `${JSON.stringify(scope)} ${JSON.stringify(c)}`;
        expect(cents(got.summary as Record<string, unknown>), where).toEqual(cents(want.summary as Record<string, unknown>));
        expect(got.n, where).toBe(want.n);
        expect(got.rows.map((r) => cents(r as Record<string, unknown>)), where).toEqual(want.rows.map((r) => cents(r as Record<string, unknown>)));
        // not vacuous: customers listed, and churned ones among the report dates with later events
        expect(want.n, where).toBeGreaterThan(0);
        if (!c.offset) expect(want.rows.length, where).toBeGreaterThan(0);
        if (c.as_of) late += (want.summary as { total_churned: number }).total_churned;
      }
    expect(late).toBeGreaterThan(0);
  }, 600_000);

  // The LTV segments of an unfiltered viewer who sees everything, with no revenue after the year's
  // end, come from customer_facts and the windows' events (ltv.ts, segmentFactsCtes); the reference
  // is the same model through the per-request aggregation of every event (a context without the
  // horizons and the customers check, as an export or an alert could build it).
  it('LTV segments from customer_facts = the per-request aggregation of the events', async () => {
    const model = getModel('ltv');
    const cases: Record<string, unknown>[] = [{}, { basis: 'won_amount' }, { basis: 'payments' }, { period: 'this_quarter' }, { period: 'all' }, { gross_margin: 0.35 }];
    let fromFacts = 0;
    const horizon = await revenueHorizon(db);
    for (const c of cases) {
      const params = { as_of: AS_OF, ...c };
      const got = await runModel(db, config, 'ltv', params, ALL_SCOPE);
      const p = parseParams(model, params);
      const ctx = buildContext(model, p, config);
      const rows = (await db.query<Record<string, unknown>>(compileModel(model, p, ctx, ALL_SCOPE))).rows;
      const want = model.finalize!(rows as never, p as never, ctx as never);
      expect(got.rows.map((r) => cents(r as Record<string, unknown>)), JSON.stringify(c)).toEqual(want.rows.map((r) => cents(r as Record<string, unknown>)));
      // not vacuous: revenue, last year's actives and churned customers are there to count
      const row = want.rows[0] as { historical_ltv: number; active_last_year: number; churned: number; won_deals: number };
      expect(row.historical_ltv, JSON.stringify(c)).toBeGreaterThan(0);
      expect(row.active_last_year, JSON.stringify(c)).toBeGreaterThan(0);
      expect(row.churned, JSON.stringify(c)).toBeGreaterThan(0);
      // the runner's context: everything listed (the demo's customers are complete), its revenue horizon
      if (/seg_facts/.test(compileSql(model, p, { ...ctx, everyCustomerListed: true, revenueHorizon: horizon }))) fromFacts++;
    }
    expect(fromFacts).toBeGreaterThanOrEqual(4);
  });

  // Ranked by LTV, highest first, the page is taken from customer_facts alone when it lies among
  // the customers with a positive LTV (ctx.positiveLtv); past them (the customers with no revenue
  // rank by id after them) the listing joins every customer as before. Both equal the reference.
  it('the listing page by LTV ranked within customer_facts, and past the customers with revenue', async () => {
    const model = getModel('customer_list');
    const { payments } = await positiveLtvCustomers(db);
    expect(payments).toBeGreaterThan(100);
    const horizon = await revenueHorizon(db);
    const cases = [{}, { offset: payments - 50 }, { offset: payments - 20 }, { offset: payments + 5, limit: 10 }, { basis: 'won_amount', limit: 100 }];
    const taken: boolean[] = [];
    for (const c of cases) {
      const params = { as_of: AS_OF, ...c };
      const got = await runModel(db, config, 'customer_list', params, ALL_SCOPE);
      const want = await reference(params, ALL_SCOPE);
      expect(cents(got.summary as Record<string, unknown>), JSON.stringify(c)).toEqual(cents(want.summary as Record<string, unknown>));
      expect(got.rows.map((r) => cents(r as Record<string, unknown>)), JSON.stringify(c)).toEqual(want.rows.map((r) => cents(r as Record<string, unknown>)));
      expect(want.rows.length, JSON.stringify(c)).toBeGreaterThan(0);
      const p = parseParams(model, params);
      const ctx = { ...buildContext(model, p, config), everyCustomerListed: true, revenueHorizon: horizon, positiveLtv: await positiveLtvCustomers(db) };
      taken.push(!/LEFT JOIN customer_facts cf ON cf.customer_id = r.customer_id/.test(compileSql(model, p, ctx)));
    }
    // from customer_facts while offset + limit stays within the customers with revenue
    expect(taken).toEqual([true, true, false, false, true]);
  });

  // An unfiltered viewer who sees everything skips the semi joins with every customer only while
  // every customer an event names is in `customers` (warehouse/facts.ts customersComplete). A won
  // deal and a payment of a customer the table lacks (written around the loader, which would have
  // added a stub customer) must still be left out, as the per-request aggregation leaves them out.
  it('an event of a customer missing from customers: still left out of the totals, the cohorts and the segments', async () => {
    expect(await customersComplete(db)).toBe(true);
    const owner = (await db.query<{ u: string }>('SELECT owner_id AS u FROM deal_facts LIMIT 1')).rows[0].u;
    await db.write(async (tx) => {
      await tx.run(`INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, created_at, closed_at, updated_at)
        VALUES ('GHOST-1', 'ghost', 'C-NOT-LISTED', '${owner}', '赢单', 'won', 777777, '2026-02-01 10:00:00', '2026-03-01 10:00:00', '2026-03-01 10:00:00')`);
      await tx.run(`INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, owner_id)
        VALUES ('GHOST-1', '2026-02-01 10:00:00', '2026-03-01 10:00:00', '初步接洽', 777777, '${owner}'),
               ('GHOST-1', '2026-03-01 10:00:00', NULL, '赢单', 777777, '${owner}')`);
      await tx.run(`INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount)
        VALUES ('GHOST-P1', 'C-NOT-LISTED', 'GHOST-1', 555555, '2026-04-01', '2026-04-02', 555555)`);
      await tx.run(`UPDATE meta SET value = (value::BIGINT + 1)::VARCHAR WHERE key = 'data_version'`);
    });
    await runModel(db, config, 'customer_list', { as_of: AS_OF }, ALL_SCOPE); // rebuilds the derived tables
    expect(await customersComplete(db)).toBe(false);
    for (const c of [{}, { basis: 'won_amount' }]) {
      const params = { as_of: AS_OF, ...c };
      const got = await runModel(db, config, 'customer_list', params, ALL_SCOPE);
      const want = await reference(params, ALL_SCOPE);
      expect(cents(got.summary as Record<string, unknown>), JSON.stringify(c)).toEqual(cents(want.summary as Record<string, unknown>));
    }
    // the cohorts: customers whose first win is this year, counted independently among the listed customers
    const cohorts = await runModel(db, config, 'ltv', { as_of: AS_OF, view: 'cohorts' }, ALL_SCOPE);
    const first = (cohorts.rows as { months_since: number; customers: number }[]).filter((r) => r.months_since === 0).reduce((n, r) => n + r.customers, 0);
    const independent = (await db.query<{ n: number }>(`
      SELECT count(*)::INTEGER AS n FROM (
        SELECT customer_id, min(closed_at) AS first_won FROM opportunities WHERE status = 'won' AND customer_id IS NOT NULL GROUP BY customer_id)
      WHERE first_won >= '2026-01-01' AND first_won < '2026-06-16' AND customer_id IN (SELECT customer_id FROM customers)`)).rows[0].n;
    expect(first).toBe(independent);
    expect(first).toBeGreaterThan(0);
    // the segments: revenue (payments received before the report date's end) and this year's wins
    // of the listed customers only, counted independently from the raw tables
    const seg = (await runModel(db, config, 'ltv', { as_of: AS_OF }, ALL_SCOPE)).rows[0] as { historical_ltv: number; won_deals: number; customers: number };
    const raw = (await db.query<{ ltv: number; won: number; customers: number }>(`
      SELECT (SELECT sum(coalesce(p.paid_amount, p.amount))::DOUBLE FROM payments p LEFT JOIN opportunities o ON o.opportunity_id = p.opportunity_id
              WHERE p.paid_at < '2026-06-16' AND coalesce(p.customer_id, o.customer_id) IN (SELECT customer_id FROM customers)) AS ltv,
             (SELECT count(*)::INTEGER FROM opportunities WHERE status = 'won' AND closed_at >= '2026-01-01' AND closed_at < '2026-06-16'
              AND customer_id IN (SELECT customer_id FROM customers)) AS won,
             (SELECT count(*)::INTEGER FROM customers) AS customers`)).rows[0];
    expect(seg.historical_ltv).toBeCloseTo(raw.ltv, 2);
    expect(seg.won_deals).toBe(raw.won);
    expect(seg.customers).toBe(raw.customers);
  }, 300_000);
});
