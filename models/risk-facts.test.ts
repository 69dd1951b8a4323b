/**
 * The risk flags (models/common/risk.ts) read each deal's history figures from `deal_facts`
 * (built at sync, warehouse/facts.ts) and recompute from the raw versions and activities only
 * the parts with events after the report date. Their first formulation — every figure recomputed
 * from `opportunity_versions` and `activities` on every call — is kept here verbatim as the
 * reference, and the two must give the same rows, every column, for every deal of the small demo
 * company (open and closed) at the report date and at past report dates (where many deals have
 * later versions, follow-ups or customer activities and take the raw path), with two idle
 * thresholds, and for a restricted viewer's scope.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase, type Database } from '../src/lib/server/db/database';
import { sql, type Sql } from '../src/lib/server/db/sql';
import { generateDemo } from '../src/lib/server/demo/generate';
import { buildContext, compileModel, getModel, parseParams } from '../src/lib/server/models/run';
import type { ModelContext } from './model';
import { ensureFacts } from '../warehouse/facts';
import { addDays } from './common/period';
import { DEFAULT_IDLE_DAYS, riskRelation, stageLimit } from './common/risk';
import { ALL_SCOPE, type Scope } from './common/scope';

/** The first formulation of `riskRelation`, verbatim: the reference. */
function riskRelationReference(ids: Sql, ctx: Pick<ModelContext, 'asOf' | 'stages' | 'stalledAfterDays'>, idleDays = DEFAULT_IDLE_DAYS): Sql {
  const D = ctx.asOf;
  const dayEnd = addDays(D, 1);
  return sql`(
    WITH rd AS (SELECT DISTINCT opportunity_id FROM (${ids}) WHERE opportunity_id IS NOT NULL),
    rv AS (
      SELECT v.opportunity_id, v.valid_from, v.stage, v.amount, v.expected_close_date,
             lag(v.stage) OVER w AS prev_stage,
             lag(v.expected_close_date IGNORE NULLS) OVER w AS prev_close
      FROM opportunity_versions v
      WHERE v.valid_from < ${dayEnd}::TIMESTAMP AND v.opportunity_id IN (SELECT opportunity_id FROM rd)
      WINDOW w AS (PARTITION BY v.opportunity_id ORDER BY v.valid_from)
    ),
    rh AS (
      SELECT opportunity_id,
             count(*) FILTER (WHERE expected_close_date > prev_close)::INTEGER AS pushes,
             max(amount) AS peak_amount,
             arg_max(amount, valid_from) AS last_amount,
             arg_max(expected_close_date, valid_from) AS last_close,
             max(valid_from) FILTER (WHERE prev_stage IS NULL OR prev_stage <> stage) AS stage_since
      FROM rv GROUP BY opportunity_id
    ),
    ra AS (
      SELECT opportunity_id, max(occurred_at) AS at FROM activities
      WHERE occurred_at < ${dayEnd}::TIMESTAMP AND opportunity_id IN (SELECT opportunity_id FROM rd)
      GROUP BY opportunity_id
    ),
    rc AS (
      SELECT a.customer_id, a.owner_id, max(a.occurred_at) AS at FROM activities a
      JOIN (SELECT DISTINCT customer_id, owner_id FROM opportunities WHERE opportunity_id IN (SELECT opportunity_id FROM rd)) k
        ON k.customer_id = a.customer_id AND k.owner_id = a.owner_id
      WHERE a.opportunity_id IS NULL AND a.occurred_at < ${dayEnd}::TIMESTAMP
      GROUP BY a.customer_id, a.owner_id
    ),
    base AS (
      SELECT o.opportunity_id, o.status, o.stage, o.created_at,
             coalesce(h.pushes, 0)::INTEGER AS pushes, h.peak_amount::DOUBLE AS peak_amount,
             coalesce(h.last_amount, o.amount)::DOUBLE AS risk_amount,
             coalesce(h.last_close, o.expected_close_date) AS risk_close,
             date_diff('day', coalesce(h.stage_since, o.created_at)::DATE, ${D}::DATE)::INTEGER AS days_in_stage,
             date_diff('day', greatest(coalesce(ra.at, o.created_at), coalesce(rc.at, o.created_at), o.created_at)::DATE, ${D}::DATE)::INTEGER AS days_no_activity
      FROM opportunities o
      LEFT JOIN rh h ON h.opportunity_id = o.opportunity_id
      LEFT JOIN ra ON ra.opportunity_id = o.opportunity_id
      LEFT JOIN rc ON rc.customer_id = o.customer_id AND rc.owner_id = o.owner_id
      WHERE o.opportunity_id IN (SELECT opportunity_id FROM rd)
    ),
    flagged AS (
      SELECT b.*, CASE WHEN b.status = 'open' THEN list_filter([
          CASE WHEN b.pushes >= 1 THEN 'pushed' END,
          CASE WHEN b.days_in_stage > ${stageLimit(sql`b.stage`, ctx)} THEN 'stalled_stage' END,
          CASE WHEN b.risk_amount < b.peak_amount THEN 'shrinking' END,
          CASE WHEN b.days_no_activity > ${idleDays}::INTEGER THEN 'no_activity' END,
          CASE WHEN b.risk_close < ${D}::DATE THEN 'past_close' END
        ], x -> x IS NOT NULL) ELSE []::VARCHAR[] END AS risk_flags
      FROM base b
    )
    SELECT opportunity_id, pushes, peak_amount, risk_amount, risk_close, days_in_stage, days_no_activity,
           risk_flags, len(risk_flags)::INTEGER AS risk_count
    FROM flagged
  )`;
}


const AS_OF = '2026-06-15';
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const config = parsed.config;
const tmp = mkdtempSync(join(tmpdir(), 'risk-facts-'));
let db: Database;

beforeAll(async () => {
  db = await openDatabase(join(tmp, 'demo.duckdb'));
  await generateDemo(db, { scale: 'small', seed: 5, asOf: AS_OF });
  const ctx = buildContext(getModel('deal_risk'), parseParams(getModel('deal_risk'), { as_of: AS_OF }), config);
  await ensureFacts(db, ctx.stages);
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

type RiskFn = (ids: Sql, ctx: Pick<ModelContext, 'asOf' | 'stages' | 'stalledAfterDays'>, idleDays?: number) => Sql;

/** Every deal's risk row through `risk`, run as a model runs it (scope and stages around it), as text in one order. */
async function riskRows(risk: RiskFn, asOf: string, idleDays: number, scope: Scope = ALL_SCOPE): Promise<string[]> {
  const base = getModel('deal_risk');
  const model = {
    ...base,
    query: (_p: unknown, ctx: ModelContext) => ({
      body: sql`SELECT k.opportunity_id, k.pushes, k.peak_amount, k.risk_amount, k.risk_close::VARCHAR AS risk_close,
          k.days_in_stage, k.days_no_activity, k.risk_flags, k.risk_count
        FROM ${risk(sql`SELECT opportunity_id FROM deal_facts`, ctx, idleDays)} k ORDER BY k.opportunity_id`
    })
  };
  const params = parseParams(model, { as_of: asOf });
  const st = compileModel(model, params, buildContext(model, params, config), scope);
  return (await db.query<Record<string, unknown>>(st)).rows.map((r) => JSON.stringify(r));
}

describe('risk flags from deal_facts = their first formulation from the raw history', () => {
  for (const asOf of [AS_OF, '2026-05-31', '2026-01-15', '2025-09-30', '2024-12-31']) {
    it(`the same rows for every deal as of ${asOf}`, async () => {
      const got = await riskRows(riskRelation, asOf, DEFAULT_IDLE_DAYS);
      const want = await riskRows(riskRelationReference, asOf, DEFAULT_IDLE_DAYS);
      expect(got.length).toBe(want.length);
      expect(got).toEqual(want);
      // Not vacuous: every deal is there, with pushes, shrinking amounts and idle days to compare
      // (flags themselves go to deals open today only).
      const deals = Number((await db.query<{ n: number }>('SELECT count(*)::INTEGER AS n FROM deal_facts')).rows[0].n);
      expect(want.length).toBe(deals);
      const rows = want.map((r) => JSON.parse(r));
      expect(rows.filter((r) => r.pushes > 0).length).toBeGreaterThan(50);
      expect(rows.filter((r) => r.peak_amount !== null && r.risk_amount < r.peak_amount).length).toBeGreaterThan(10);
      expect(new Set(rows.map((r) => r.days_no_activity)).size).toBeGreaterThan(50);
      if (asOf === AS_OF) expect(rows.filter((r) => r.risk_count > 0).length).toBeGreaterThan(50);
    }, 300_000);
  }

  // (The demo logs no follow-ups tied to a customer but no deal; models/risk.test.ts has them,
  // at the report date and an earlier one.)
  it('a past report date takes the raw path for many deals (later versions, later follow-ups)', async () => {
    const dayEnd = addDays('2026-01-15', 1);
    const r = await db.query<{ v: number; a: number; c: number }>(
      `SELECT count(*) FILTER (WHERE versions_last_from >= '${dayEnd}')::INTEGER AS v,
              count(*) FILTER (WHERE last_activity_at >= '${dayEnd}')::INTEGER AS a,
              count(*) FILTER (WHERE customer_activity_at >= '${dayEnd}')::INTEGER AS c FROM deal_facts`
    );
    expect(r.rows[0].v).toBeGreaterThan(100);
    expect(r.rows[0].a).toBeGreaterThan(100);
  });

  it('the same rows with another idle threshold, and for a viewer who sees one team', async () => {
    expect(await riskRows(riskRelation, '2026-03-31', 7)).toEqual(await riskRows(riskRelationReference, '2026-03-31', 7));
    const team = (await db.query<{ t: string }>('SELECT team_id AS t FROM teams WHERE parent_id IS NOT NULL ORDER BY team_id LIMIT 1')).rows[0].t;
    const scope: Scope = { team_ids: [team], owner_ids: [] };
    const got = await riskRows(riskRelation, '2026-02-28', DEFAULT_IDLE_DAYS, scope);
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(await riskRows(riskRelationReference, '2026-02-28', DEFAULT_IDLE_DAYS, scope));
  }, 300_000);
});
