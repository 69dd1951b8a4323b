/**
 * `pitOpenStates` (models/common/pit.ts) is written for DuckDB's range join: the version valid
 * at an instant c is `valid_from < c AND coalesce(valid_to, infinity) >= c`, the versions are
 * narrowed to open stages before the join, and the stage stint likewise (docs/decisions.md).
 * Its first formulation — `valid_to IS NULL OR valid_to >= c`, which DuckDB could only run as a
 * nested loop — is kept here verbatim as the reference, and the two must give the same rows:
 * - on the small demo company, for 25 random sets of past instants (midnights, instants taken
 *   from the versions' own boundaries so `valid_from = c` and `valid_to = c` are hit, times of
 *   day, repeated instants under different ids), row for row;
 * - for the whole statistical forecast, at the report date and in the accuracy backtest: the
 *   model's compiled SQL with the reference put back in place of the new relation (and the
 *   engine's MATERIALIZED hints taken out) gives the same SQL rows and, through the model's own
 *   finalize, the same result (forecast, band, learning figures, WAPE, coverage).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase, type Database } from '../src/lib/server/db/database';
import { compile, sql, unsafeRaw, type Sql, type SqlValue } from '../src/lib/server/db/sql';
import { generateDemo } from '../src/lib/server/demo/generate';
import { buildContext, compileModel, getModel, parseParams } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';
import { pitOpenStates } from './common/pit';
import { ALL_SCOPE } from './common/scope';

/** The first formulation of `pitOpenStates`, verbatim: the reference. */
function pitOpenStatesReference(cuts: Sql): Sql {
  return sql`(
    SELECT k.cid, k.c, v.opportunity_id, v.stage, st.idx AS stage_idx,
      (CASE WHEN v.origin = 'stage_dates' THEN NULL ELSE v.amount END)::DOUBLE AS amount,
      v.expected_close_date, f.product, f.status AS final_status, f.closed_at AS final_closed_at, f.amount::DOUBLE AS final_amount,
      coalesce(sf.entered_at, v.valid_from) AS stage_entered_at
    FROM ${cuts} k
    JOIN opportunity_versions v ON v.valid_from < k.c AND (v.valid_to IS NULL OR v.valid_to >= k.c)
    JOIN stages st ON st.name = v.stage AND st.kind = 'open'
    JOIN deal_facts f ON f.opportunity_id = v.opportunity_id
    LEFT JOIN stage_facts sf ON sf.opportunity_id = v.opportunity_id AND sf.entered_at < k.c AND (sf.left_at IS NULL OR sf.left_at >= k.c)
  )`;
}

const AS_OF = '2026-06-15';
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const config = parsed.config;
const tmp = mkdtempSync(join(tmpdir(), 'pit-open-states-'));
let db: Database;

beforeAll(async () => {
  db = await openDatabase(join(tmp, 'demo.duckdb'));
  await generateDemo(db, { scale: 'small', seed: 5, asOf: AS_OF });
  const ctx = buildContext(getModel('forecast'), parseParams(getModel('forecast'), { as_of: AS_OF }), config);
  await ensureFacts(db, ctx.stages);
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * The open states at the instants `cuts` ([cid, 'YYYY-MM-DD HH:MM:SS']) through `states`, run
 * as a model would run it (the scope's relations and the configured stages around it), every
 * column as text, in one order.
 */
async function openStates(states: (cuts: Sql) => Sql, cuts: [number, string][]): Promise<string[]> {
  const values = cuts.map(([cid, c]) => `(${cid}, TIMESTAMP '${c}')`).join(', ');
  const model = {
    ...getModel('forecast'),
    query: () => ({
      ctes: [['t_cuts', unsafeRaw(`SELECT * FROM (VALUES ${values}) v(cid, c)`)]] as [string, Sql][],
      body: sql`SELECT s.cid, s.c::VARCHAR AS c, s.opportunity_id, s.stage, s.stage_idx, s.amount, s.expected_close_date::VARCHAR AS ecd,
          s.product, s.final_status, s.final_closed_at::VARCHAR AS fca, s.final_amount, s.stage_entered_at::VARCHAR AS entered
        FROM ${states(unsafeRaw('t_cuts'))} s ORDER BY ALL`
    })
  };
  const params = parseParams(model, { as_of: AS_OF });
  const st = compileModel(model, params, buildContext(model, params, config), ALL_SCOPE);
  return (await db.query<Record<string, unknown>>(st)).rows.map((r) => JSON.stringify(r));
}

const DAY = 86_400_000;
const T0 = Date.UTC(2023, 0, 1);
const T1 = Date.UTC(2026, 6, 1);
const ts = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

describe('pitOpenStates (range join) = its first formulation (nested loop)', () => {
  let boundaries: string[] = [];
  beforeAll(async () => {
    // Instants the versions and stints start and end at: where `<` and `>=` matter.
    const r = await db.query<{ b: string }>(`SELECT DISTINCT b::VARCHAR AS b FROM (
        SELECT valid_from AS b FROM opportunity_versions UNION ALL SELECT valid_to FROM opportunity_versions
        UNION ALL SELECT left_at FROM stage_facts) WHERE b IS NOT NULL ORDER BY 1`);
    boundaries = r.rows.map((x) => x.b.slice(0, 19));
    expect(boundaries.length).toBeGreaterThan(1000);
  }, 60_000);

  it('the same rows for 25 random sets of past instants', async () => {
    const instant = fc.oneof(
      // a midnight between 2023 and mid-2026 (the demo's history)
      fc.integer({ min: 0, max: Math.floor((T1 - T0) / DAY) }).map((d) => ts(T0 + d * DAY)),
      // any second in that span
      fc.integer({ min: 0, max: Math.floor((T1 - T0) / 1000) }).map((s) => ts(T0 + s * 1000)),
      // exactly a version's or a stint's start or end
      fc.nat().map((i) => boundaries[i % boundaries.length])
    );
    let rows = 0;
    let stillOpen = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(instant, { minLength: 1, maxLength: 30 }), fc.boolean(), async (instants, repeat) => {
        const cuts: [number, string][] = instants.map((c, i) => [i + 1, c]);
        // The same instant twice, under two ids.
        if (repeat) cuts.push([cuts.length + 1, cuts[0][1]]);
        const got = await openStates(pitOpenStates, cuts);
        const want = await openStates(pitOpenStatesReference, cuts);
        expect(got.length).toBe(want.length);
        expect(got).toEqual(want);
        rows += want.length;
        stillOpen += want.filter((r) => JSON.parse(r).final_status === 'open').length;
      }),
      { numRuns: 25, seed: 20261206, endOnFailure: true }
    );
    // Not a vacuous comparison: many open states, including deals still open today (their last version has no end).
    expect(rows).toBeGreaterThan(10_000);
    expect(stillOpen).toBeGreaterThan(100);
  }, 600_000);

  it('an instant on a boundary: a version starting at c is not yet valid, one ending at c still is', async () => {
    const r = await db.query<{ id: string; vf: string; vt: string; stage: string }>(`SELECT v.opportunity_id AS id, v.valid_from::VARCHAR AS vf, v.valid_to::VARCHAR AS vt, v.stage
      FROM opportunity_versions v JOIN opportunity_versions w ON w.opportunity_id = v.opportunity_id AND w.valid_from = v.valid_to
      WHERE v.stage IN ('初步接洽', '需求分析', '方案报价', '商务谈判') AND w.stage <> v.stage AND w.stage IN ('初步接洽', '需求分析', '方案报价', '商务谈判')
      ORDER BY 1 LIMIT 1`);
    const [v] = r.rows;
    expect(v).toBeDefined();
    const got = (await openStates(pitOpenStates, [[1, v.vt.slice(0, 19)]])).map((x) => JSON.parse(x)).filter((x) => x.opportunity_id === v.id);
    // At c = valid_to of v (= valid_from of the next version), the deal is in v's stage.
    expect(got.map((x) => x.stage)).toEqual([v.stage]);
  }, 60_000);
});

/**
 * Deep equality with numbers equal within 1e-9 relative: DuckDB adds up DOUBLEs in parallel, in
 * an order that differs from run to run (the same query twice differs in the 15th digit).
 */
function expectClose(a: unknown, b: unknown, path = 'result') {
  if (typeof a === 'number' && typeof b === 'number') {
    expect(Math.abs(a - b), `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a)));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a as object).sort());
    for (const k of Object.keys(a as object)) expectClose((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
  } else expect(b, path).toEqual(a);
}

/** Compiled SQL as text with its parameters inlined back into an `Sql` (renumbered in the same order). */
function fromText(text: string, params: SqlValue[]): Sql {
  const parts = text.split(/\$\d+/);
  const order = [...text.matchAll(/\$(\d+)/g)].map((m) => params[Number(m[1]) - 1]);
  return sql(parts, ...order);
}

/**
 * The forecast's result twice: as the product computes it, and with the reference formulation
 * of the open states put back into the same compiled SQL (without the MATERIALIZED hints).
 */
async function bothWays(raw: Record<string, unknown>) {
  const model = getModel('forecast');
  const params = parseParams(model, { as_of: AS_OF, ...raw });
  const ctx = buildContext(model, params, config);
  const { text, params: values } = compile(compileModel(model, params, ctx, ALL_SCOPE));
  let old = text;
  let swaps = 0;
  for (const prefix of ['m_', ...Array.from({ length: 12 }, (_, i) => `b${i}_`)]) {
    const cuts = unsafeRaw(`${prefix}cuts`);
    const now = compile(pitOpenStates(cuts)).text;
    if (!old.includes(now)) continue;
    swaps++;
    old = old.split(now).join(compile(pitOpenStatesReference(cuts)).text);
    for (const cte of ['states0', 'states']) {
      const hint = `${prefix}${cte} AS MATERIALIZED (`;
      expect(old, hint).toContain(hint);
      old = old.split(hint).join(`${prefix}${cte} AS (`);
    }
  }
  expect(swaps).toBeGreaterThan(0);
  expect(old).not.toContain('MATERIALIZED (SELECT s.*');
  const a = await db.query(fromText(text, values));
  const b = await db.query(fromText(old, values));
  expect(a.rows.length).toBeGreaterThan(0);
  expectClose(a.rows, b.rows, 'sql rows');
  const fa = model.finalize!(a.rows, params as never, ctx);
  const fb = model.finalize!(b.rows, params as never, ctx);
  expectClose(fa, fb, 'finalized');
  return { swaps, out: fa };
}

describe('the statistical forecast is the same with either formulation', () => {
  it('this quarter as of the report date, with its band and learning figures', async () => {
    const { swaps, out } = await bothWays({ probabilities: 'statistical' });
    expect(swaps).toBe(1);
    const row = out.rows[0] as Record<string, unknown>;
    expect(row.forecast as number).toBeGreaterThan(0);
    expect(row.p10 as number).toBeLessThanOrEqual(row.p90 as number);
  }, 300_000);

  it('by team, next month', async () => {
    await bothWays({ probabilities: 'statistical', group_by: 'team', from: '2026-07-01', to: '2026-08-01' });
  }, 300_000);

  it('the monthly accuracy backtest (4 periods): WAPE, bias and coverage', async () => {
    const { swaps, out } = await bothWays({ view: 'accuracy', grain: 'month', from: '2026-02-01', to: '2026-06-01', method: 'statistical' });
    expect(swaps).toBe(4);
    const s = out.summary as { wape: Record<string, number | null> };
    expect(s.wape.statistical).not.toBeNull();
  }, 600_000);
});
