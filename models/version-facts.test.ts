/**
 * The point-in-time rebuild (models/common/pit.ts, `dealStatesAt`) reads the versions of the
 * deals not settled at the instant from `version_facts` — the versions stored in the order of
 * their deal's settled instant at sync (warehouse/facts.ts), so it reads only the row groups
 * of deals changed since — instead of scanning every version of `opportunity_versions` twice.
 * Its first formulation is kept here verbatim as the reference, and the two must give the same
 * rows, every column, for every deal of the small demo company (with irregular histories added:
 * two open-ended versions, an open-ended version that is not the last, versions starting
 * together, the copy without values: as arg_max ignores them, no tie is left to chance) at the report date and at past instants (where thousands of deals are rebuilt), under
 * both unknown-value rules, with and without the stage entry, with the pipeline flow's `among`
 * condition, and for a team's and a rep's scope.
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
import { dealStatesAt, type UnknownRule } from './common/pit';
import { ALL_SCOPE, type Scope } from './common/scope';

/** The first formulation of `dealStatesAt`, verbatim: the reference. */
function dealStatesAtReference(t: Sql, opts: { unknown: UnknownRule; stageEntered?: boolean; among?: Sql }): Sql {
  const carry = opts.unknown === 'carry';
  // `among`: a condition on deal_facts `f` narrowing the deals read (a caller's shortcut: the
  // deals it rules out must be ones whose state the caller would discard).
  const among = opts.among ?? sql`TRUE`;
  // Written so that DuckDB pushes them into the scan of deal_facts.
  const isSettled = sql`f.pit_settled_at < ${t}`;
  const notSettled = sql`(f.pit_settled_at IS NULL OR f.pit_settled_at >= ${t})`;
  // Each path's version columns under one set of names: v_from, v_stage, v_amount, v_ecd,
  // v_owner, v_category, v_probability, v_origin, and (carry) k_amount, k_ecd, k_owner: the last
  // ones known before t; (stageEntered) v_entered.
  const fCols = sql`f.opportunity_id, f.name, f.customer_id, f.product, f.source, f.competitor,
      f.customer_region, f.customer_industry, f.customer_grade, f.owner_id AS f_owner, f.owner_team AS f_owner_team,
      f.amount AS f_amount, f.expected_close_date AS f_ecd, f.status AS f_status, f.closed_at AS f_closed_at`;
  const settled = sql`SELECT ${fCols}, f.pit_valid_from AS v_from, f.pit_stage AS v_stage, f.pit_amount AS v_amount,
      f.pit_expected_close_date AS v_ecd, f.pit_owner_id AS v_owner, f.pit_forecast_category AS v_category,
      f.pit_probability AS v_probability, f.pit_origin AS v_origin
      ${carry ? sql`, f.pit_known_amount AS k_amount, f.pit_known_expected_close_date AS k_ecd, f.pit_known_owner_id AS k_owner` : sql``}
      ${opts.stageEntered ? sql`, f.pit_stage_entered_at AS v_entered` : sql``}
    FROM deal_facts f
    WHERE ${isSettled} AND f.pit_valid_from < ${t} AND (f.pit_valid_to IS NULL OR f.pit_valid_to >= ${t}) AND ${among}`;
  const rebuilt = sql`SELECT ${fCols}, v.valid_from AS v_from, v.stage AS v_stage, v.amount AS v_amount,
      v.expected_close_date AS v_ecd, v.owner_id AS v_owner, v.forecast_category AS v_category,
      v.probability AS v_probability, v.origin AS v_origin
      ${carry ? sql`, k.amount AS k_amount, k.ecd AS k_ecd, k.owner_id AS k_owner` : sql``}
      ${opts.stageEntered ? sql`, sf.entered_at AS v_entered` : sql``}
    FROM deal_facts f
    JOIN opportunity_versions v ON v.opportunity_id = f.opportunity_id
    ${carry
      ? sql`LEFT JOIN (SELECT kv.opportunity_id, arg_max(kv.amount, kv.valid_from) AS amount,
              arg_max(kv.expected_close_date, kv.valid_from) AS ecd, arg_max(kv.owner_id, kv.valid_from) AS owner_id
            FROM opportunity_versions kv WHERE kv.valid_from < ${t}
              AND kv.opportunity_id IN (SELECT f2.opportunity_id FROM deal_facts f2 WHERE f2.pit_settled_at IS NULL OR f2.pit_settled_at >= ${t})
            GROUP BY kv.opportunity_id) k ON k.opportunity_id = f.opportunity_id`
      : sql``}
    ${opts.stageEntered
      ? sql`LEFT JOIN stage_facts sf ON sf.opportunity_id = v.opportunity_id AND sf.entered_at < ${t} AND (sf.left_at IS NULL OR sf.left_at >= ${t})`
      : sql``}
    WHERE ${notSettled} AND v.valid_from < ${t} AND (v.valid_to IS NULL OR v.valid_to >= ${t}) AND ${among}`;
  const owner = carry ? sql`coalesce(x.k_owner, x.f_owner)` : sql`coalesce(x.v_owner, x.f_owner)`;
  const amount = carry
    ? sql`coalesce(x.k_amount, x.f_amount, 0)`
    : sql`CASE WHEN st.kind = 'open' AND x.v_origin = 'stage_dates' THEN NULL ELSE x.v_amount END`;
  return sql`(
    SELECT x.opportunity_id, x.name, x.customer_id, x.product, x.source, x.competitor,
      x.customer_region, x.customer_industry, x.customer_grade,
      ${owner} AS owner_id,
      CASE WHEN ${owner} IS NULL OR ${owner} = x.f_owner THEN x.f_owner_team ELSE u.team_id END AS owner_team,
      x.v_stage AS stage, st.kind AS stage_kind, st.idx AS stage_idx, st.kind AS status,
      (${amount})::DECIMAL(18,2) AS amount,
      ${carry ? sql`coalesce(x.k_ecd, x.f_ecd)` : sql`x.v_ecd`} AS expected_close_date,
      x.v_probability AS probability,
      coalesce(x.v_probability, st.probability) AS win_probability,
      coalesce(x.v_category, st.forecast_category) AS effective_forecast_category,
      CASE WHEN st.kind <> 'open' THEN
        CASE WHEN x.f_status = st.kind AND x.f_closed_at < ${t} THEN x.f_closed_at ELSE x.v_from END END AS closed_at
      ${opts.stageEntered ? sql`, coalesce(x.v_entered, x.v_from) AS stage_entered_at` : sql``}
    FROM (${settled} UNION ALL ${rebuilt}) x
    LEFT JOIN stages st ON st.name = x.v_stage
    LEFT JOIN users u ON u.user_id = ${owner}
  )`;
}


const AS_OF = '2026-06-15';
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const config = parsed.config;
const tmp = mkdtempSync(join(tmpdir(), 'version-facts-'));
let db: Database;
let stages: ModelContext['stages'];

const count = async (q: string) => Number((await db.query<{ n: number }>(q)).rows[0].n);

beforeAll(async () => {
  db = await openDatabase(join(tmp, 'demo.duckdb'));
  await generateDemo(db, { scale: 'small', seed: 7, asOf: AS_OF });
  stages = buildContext(getModel('pipeline_flow'), parseParams(getModel('pipeline_flow'), { as_of: AS_OF }), config).stages;
  // Irregular histories the demo does not make (a source's own history can): deals with two
  // open-ended versions, with an open-ended version that is not the last (both: pit_settled_at
  // null, always rebuilt), and with two versions starting at the same instant.
  await db.write(async (tx) => {
    const multi = `SELECT opportunity_id FROM opportunity_versions GROUP BY opportunity_id HAVING count(*) >= 3 ORDER BY opportunity_id`;
    await tx.run(`INSERT INTO opportunity_versions
      SELECT opportunity_id, valid_from + INTERVAL 3 DAY, NULL, stage, amount * 2, expected_close_date + 10, owner_id, forecast_category, probability, origin
      FROM opportunity_versions WHERE valid_to IS NULL AND opportunity_id IN (${multi} LIMIT 40)`);
    await tx.run(`UPDATE opportunity_versions SET valid_to = NULL
      WHERE opportunity_id IN (${multi} LIMIT 40 OFFSET 40)
        AND valid_from = (SELECT min(v2.valid_from) FROM opportunity_versions v2 WHERE v2.opportunity_id = opportunity_versions.opportunity_id)`);
    await tx.run(`INSERT INTO opportunity_versions
      SELECT opportunity_id, valid_from, valid_to, stage, NULL, NULL, NULL, forecast_category, probability, origin
      FROM opportunity_versions WHERE opportunity_id IN (${multi} LIMIT 40 OFFSET 80)
        AND valid_from = (SELECT max(v2.valid_from) FROM opportunity_versions v2 WHERE v2.opportunity_id = opportunity_versions.opportunity_id AND v2.valid_to IS NOT NULL)`);
    await tx.run(`DELETE FROM meta WHERE key = 'facts.signature'`);
  });
  await ensureFacts(db, stages);
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

type StatesFn = (t: Sql, opts: { unknown: UnknownRule; stageEntered?: boolean; among?: Sql }) => Sql;

/** Every deal's state at `t` through `states`, run as a model runs it (scope and stages around it), as text in one order. */
async function stateRows(states: StatesFn, t: string, opts: { unknown: UnknownRule; stageEntered?: boolean; among?: Sql }, scope: Scope = ALL_SCOPE): Promise<string[]> {
  const base = getModel('pipeline_flow');
  const model = {
    ...base,
    query: () => ({
      body: sql`SELECT s.*, s.amount::VARCHAR AS amount_text FROM ${states(sql`${t}::TIMESTAMP`, opts)} s`
    })
  };
  const params = parseParams(model, { as_of: AS_OF });
  const st = compileModel(model, params, buildContext(model, params, config), scope);
  // Sorted as text: a deal with two versions valid at once (an irregular history) has two rows.
  return (await db.query<Record<string, unknown>>(st)).rows.map((r) => JSON.stringify(r)).sort();
}

/** The pipeline flow's `among` (models/common/pipeline.ts): deals not closed and settled before `start`. */
const live = (start: string) => sql`(f.pit_settled_at IS NULL OR f.pit_settled_at >= ${start}::TIMESTAMP
    OR f.pit_stage IN (SELECT name FROM stages WHERE kind = 'open'))`;

// The report date's end, a quarter's and a year's start, older dates, and instants inside a day.
const INSTANTS = ['2026-06-16', '2026-04-01', '2025-07-01', '2024-10-01', '2026-03-14 13:37:00'];

describe('point-in-time states from version_facts = their first formulation over opportunity_versions', () => {
  it('version_facts holds every version of every deal, beside its deal\'s settled instant', async () => {
    const versions = await count(`SELECT count(*) AS n FROM opportunity_versions WHERE opportunity_id IN (SELECT opportunity_id FROM opportunities)`);
    expect(await count(`SELECT count(*) AS n FROM version_facts`)).toBe(versions);
    expect(await count(`SELECT count(*) AS n FROM (SELECT * EXCLUDE (deal_owner_id, settled_key) FROM version_facts EXCEPT ALL SELECT * FROM opportunity_versions)`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM version_facts v JOIN opportunities o USING (opportunity_id) WHERE v.deal_owner_id IS DISTINCT FROM o.owner_id`)).toBe(0);
    // The irregular histories are there, never settled.
    expect(await count(`SELECT count(*) AS n FROM deal_facts WHERE pit_settled_at IS NULL`)).toBeGreaterThanOrEqual(60);
    expect(await count(`SELECT count(DISTINCT opportunity_id) AS n FROM version_facts WHERE settled_key = 'infinity'::TIMESTAMP`)).toBe(
      await count(`SELECT count(*) AS n FROM deal_facts WHERE pit_settled_at IS NULL`)
    );
  });

  for (const t of INSTANTS) {
    it(`the same rows for every deal at ${t}, under both rules`, async () => {
      // carry: the pipeline flow's reading; as_recorded with and without the stage entry: the forecast's.
      for (const opts of [{ unknown: 'carry' }, { unknown: 'as_recorded', stageEntered: true }, { unknown: 'as_recorded' }] as const) {
        const got = await stateRows(dealStatesAt, t, opts);
        const want = await stateRows(dealStatesAtReference, t, opts);
        expect(got.length, JSON.stringify(opts)).toBe(want.length);
        expect(got, JSON.stringify(opts)).toEqual(want);
        expect(want.length).toBeGreaterThan(100);
      }
      // Not vacuous: deals take the rebuilt path at every past instant.
      const rebuilt = await count(`SELECT count(*) AS n FROM deal_facts WHERE pit_settled_at IS NULL OR pit_settled_at >= '${t}'::TIMESTAMP`);
      expect(rebuilt).toBeGreaterThanOrEqual(60);
      if (t < '2026-06') expect(rebuilt).toBeGreaterThan(500);
    }, 300_000);
  }

  it('the same rows with the pipeline flow\'s among condition, and for a team\'s and a rep\'s scope', async () => {
    const team = (await db.query<{ t: string }>('SELECT team_id AS t FROM teams WHERE parent_id IS NOT NULL ORDER BY team_id LIMIT 1')).rows[0].t;
    const rep = (await db.query<{ u: string }>(`SELECT owner_id AS u FROM opportunities GROUP BY owner_id ORDER BY count(*) DESC, owner_id LIMIT 1`)).rows[0].u;
    const scopes: Scope[] = [ALL_SCOPE, { team_ids: [team], owner_ids: [] }, { team_ids: [], owner_ids: [rep] }];
    for (const scope of scopes) {
      for (const t of ['2026-04-01', '2025-10-01']) {
        for (const opts of [{ unknown: 'carry', among: live(t) }, { unknown: 'as_recorded', stageEntered: true }] as const) {
          const got = await stateRows(dealStatesAt, t, opts, scope);
          expect(got.length).toBeGreaterThan(0);
          expect(got, `${JSON.stringify(scope)} at ${t}`).toEqual(await stateRows(dealStatesAtReference, t, opts, scope));
        }
      }
    }
  }, 300_000);
});
