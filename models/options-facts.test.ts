/**
 * The filter bar's options (models/options.ts) sum per-owner counts made at sync (`option_facts`,
 * warehouse/facts.ts) when no filter is locked. Their first formulation — every count taken
 * over `deal_facts` on each call — is kept here verbatim as the reference, and the two must give
 * the same rows (kind, key, label, parent, sort, n, in order) on the small demo company for every
 * viewer: everyone, each team (with its subtree), a rep alone, a rep and a team together.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase, type Database } from '../src/lib/server/db/database';
import { sql } from '../src/lib/server/db/sql';
import { generateDemo } from '../src/lib/server/demo/generate';
import { buildContext, compileModel, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { dealsRelation, hasFilters } from './common/relations';
import { ALL_SCOPE, type Scope } from './common/scope';
import type { ModelQuery } from './model';

/** The first formulation of the options query, verbatim: the reference. */
function optionsQueryReference(p: Record<string, unknown>): ModelQuery {
    const dim = (kind: string, col: string) =>
      sql`SELECT ${kind} AS kind, v AS key, v AS label, NULL::VARCHAR AS parent, 0 AS sort, count(*)::INTEGER AS n
          FROM (SELECT ${sql([col])} AS v FROM d) WHERE v IS NOT NULL AND v <> '' GROUP BY v`;
    return {
      ctes: [
        // Unfiltered (the boards' call), the scan of deal_facts each count did before.
        hasFilters(p) ? ['d', sql`SELECT * FROM ${dealsRelation(p)}`] : ['d', sql`SELECT * FROM deal_facts`, { materialized: false }],
        ['by_team', sql`SELECT owner_team AS team_id, count(*) AS n FROM d GROUP BY owner_team`, { materialized: true }],
        [
          'subtree',
          sql`SELECT tt.ancestor AS team_id, sum(b.n) AS n FROM by_team b JOIN team_tree tt ON tt.team_id = b.team_id GROUP BY tt.ancestor`
        ],
        ['by_owner', sql`SELECT owner_id, count(*) AS n FROM d GROUP BY owner_id`],
        ['by_stage', sql`SELECT stage, count(*) AS n FROM d GROUP BY stage`]
      ],
      body: sql`
        SELECT 'team' AS kind, t.team_id AS key, t.name AS label,
               CASE WHEN t.parent_id IN (SELECT team_id FROM teams) THEN t.parent_id END AS parent,
               0 AS sort, coalesce(s.n, 0)::INTEGER AS n
        FROM teams t LEFT JOIN subtree s ON s.team_id = t.team_id
        UNION ALL
        SELECT 'owner', u.user_id, u.name, u.team_id, CASE WHEN coalesce(u.active, true) THEN 0 ELSE 1 END, coalesce(b.n, 0)::INTEGER
        FROM users u LEFT JOIN by_owner b ON b.owner_id = u.user_id
        UNION ALL ${dim('region', 'customer_region')}
        UNION ALL ${dim('industry', 'customer_industry')}
        UNION ALL ${dim('source', 'source')}
        UNION ALL ${dim('product', 'product')}
        UNION ALL ${dim('grade', 'customer_grade')}
        UNION ALL ${dim('competitor', 'competitor')}
        UNION ALL ${dim('loss_reason', 'loss_reason')}
        UNION ALL
        SELECT 'stage', s.name, s.name, s.kind, CASE WHEN s.kind = 'lost' THEN 100 + s.idx ELSE s.idx END, coalesce(b.n, 0)::INTEGER
        FROM stages s LEFT JOIN by_stage b ON b.stage = s.name
        ORDER BY kind, sort, n DESC, label`
    };
  }

const AS_OF = '2026-06-15';
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const config = parsed.config;
const tmp = mkdtempSync(join(tmpdir(), 'options-facts-'));
let db: Database;

beforeAll(async () => {
  db = await openDatabase(join(tmp, 'demo.duckdb'));
  await generateDemo(db, { scale: 'small', seed: 9, asOf: AS_OF });
  // the model runner builds the derived tables (option_facts among them)
  await runModel(db, config, 'options', { as_of: AS_OF }, ALL_SCOPE);
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function reference(scope: Scope): Promise<unknown[]> {
  const model = { ...getModel('options'), query: optionsQueryReference };
  const params = parseParams(model, { as_of: AS_OF });
  const st = compileModel(model as never, params, buildContext(model as never, params, config), scope);
  return (await db.query<Record<string, unknown>>(st)).rows;
}

describe('options from option_facts = their first formulation over deal_facts', () => {
  it('for every viewer: everyone, each team, a rep alone, a rep and a team', async () => {
    const teams = (await db.query<{ team_id: string }>('SELECT team_id FROM teams ORDER BY team_id')).rows.map((r) => r.team_id);
    const reps = (await db.query<{ user_id: string }>('SELECT owner_id AS user_id FROM deal_facts GROUP BY 1 ORDER BY count(*) DESC LIMIT 2')).rows.map((r) => r.user_id);
    expect(teams.length).toBeGreaterThan(5);
    const scopes: Scope[] = [
      ALL_SCOPE,
      ...teams.map((t) => ({ team_ids: [t], owner_ids: [] })),
      { team_ids: [], owner_ids: [reps[0]] },
      { team_ids: [teams[teams.length - 1]], owner_ids: [reps[1]] }
    ];
    for (const scope of scopes) {
      const got = (await runModel(db, config, 'options', { as_of: AS_OF }, scope)).rows;
      const want = await reference(scope);
      expect(got, JSON.stringify(scope)).toEqual(want);
      // not vacuous: values of every kind, with counts
      expect(new Set(want.map((r) => (r as { kind: string }).kind)).size, JSON.stringify(scope)).toBeGreaterThanOrEqual(8);
      expect(want.some((r) => (r as { kind: string; n: number }).kind === 'region' && (r as { n: number }).n > 0)).toBe(true);
    }
    // the whole company's counts add up to its deals
    const all = (await runModel(db, config, 'options', { as_of: AS_OF }, ALL_SCOPE)).rows as { kind: string; n: number }[];
    const deals = Number((await db.query<{ n: number }>('SELECT count(*)::INTEGER AS n FROM deal_facts')).rows[0].n);
    expect(all.filter((r) => r.kind === 'stage').reduce((s, r) => s + r.n, 0)).toBe(deals);
  }, 300_000);

  it('a locked filter still counts the filtered deals (the same as the reference)', async () => {
    const product = (await db.query<{ p: string }>('SELECT product AS p FROM deal_facts WHERE product IS NOT NULL LIMIT 1')).rows[0].p;
    const got = (await runModel(db, config, 'options', { as_of: AS_OF, product }, ALL_SCOPE)).rows;
    const model = { ...getModel('options'), query: optionsQueryReference };
    const params = parseParams(model, { as_of: AS_OF, product });
    const want = (await db.query(compileModel(model as never, params, buildContext(model as never, params, config), ALL_SCOPE))).rows;
    expect(got).toEqual(want);
    expect((got as { kind: string; key: string }[]).filter((r) => r.kind === 'product').map((r) => r.key)).toEqual([product]);
  }, 300_000);
});
