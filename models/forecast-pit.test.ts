/**
 * A forecast never sees the future (issue 10): the forecast as of a past date T equals the
 * forecast computed on a copy of the data cut off at T — built here by plain SQL that does not
 * use the product's point-in-time code:
 * - Maven CRM (tests/fixtures/maven-crm) imported through its config (examples/maven): the copy
 *   is the raw CSV with the deals engaged after T dropped and the deals closed after T turned
 *   back into open Engaging deals without close date or value (what the CRM export showed on T);
 * - the demo company (full history): the copy is the database with every version that started
 *   after T deleted, versions running past T left open, each deal's row set to its version at T,
 *   and deals that did not exist yet deleted.
 * Both are compared for the configured, learned and statistical methods, grouped and not, and
 * the statistical band (seeded) too.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/lib/server/config/load';
import type { CockpitConfig } from '../src/lib/server/config/schema';
import { openDatabase, type Database } from '../src/lib/server/db/database';
import { runModel } from '../src/lib/server/models/run';
import { runSync } from '../connectors/load/sync';
import { generateDemo } from '../src/lib/server/demo/generate';
import { ALL_SCOPE } from './common/scope';

const ROOT = resolve(import.meta.dirname, '..');
const MAVEN = join(ROOT, 'tests/fixtures/maven-crm');
const tmp = mkdtempSync(join(tmpdir(), 'forecast-pit-'));

type Row = Record<string, unknown>;

/** Every numeric field equal within 1e-9 relative (sums in another order), the rest exactly. */
function expectSameRows(a: Row[], b: Row[]) {
  expect(a.map((r) => r.group_key)).toEqual(b.map((r) => r.group_key));
  a.forEach((r, i) => {
    for (const [k, v] of Object.entries(r)) {
      const w = b[i][k];
      if (typeof v === 'number' && typeof w === 'number') expect(Math.abs(v - w), `${String(r.group_key)} ${k}: ${v} vs ${w}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v)));
      else expect(w, `${String(r.group_key)} ${k}`).toEqual(v);
    }
  });
}

/** Deep equality with numbers equal within 1e-9 relative. */
function expectClose(a: unknown, b: unknown, path = 'summary') {
  if (typeof a === 'number' && typeof b === 'number') {
    expect(Math.abs(a - b), `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a)));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a as object).sort());
    for (const k of Object.keys(a as object)) expectClose((a as Row)[k], (b as Row)[k], `${path}.${k}`);
  } else expect(b, path).toEqual(a);
}

function mavenConfig(dir: string, db: string): CockpitConfig {
  const raw = JSON.parse(readFileSync(join(ROOT, 'examples/maven/cockpit.config.json'), 'utf8'));
  raw.database = db;
  raw.sync = { allow_dirs: [dir] };
  for (const s of raw.sources) s.path = join(dir, s.path.split('/').pop());
  const parsed = parseConfig(raw, null, dir);
  if (!parsed.ok) throw new Error(parsed.issues.join('\n'));
  return parsed.config;
}

async function mavenDb(dir: string): Promise<{ db: Database; config: CockpitConfig }> {
  const config = mavenConfig(dir, join(dir, 'maven.duckdb'));
  const db = await openDatabase(config.database);
  const report = await runSync(db, { config, baseDir: dir });
  for (const s of report.sources) expect(s.status, s.source).toBe('ok');
  return { db, config };
}

const CUT = '2017-06-30';
let full: { db: Database; config: CockpitConfig };
let cut: { db: Database; config: CockpitConfig };

beforeAll(async () => {
  const fullDir = mkdtempSync(join(tmp, 'full-'));
  const cutDir = mkdtempSync(join(tmp, 'cut-'));
  for (const f of ['sales_pipeline.csv', 'sales_teams.csv', 'accounts.csv']) copyFileSync(join(MAVEN, f), join(fullDir, f));
  for (const f of ['sales_teams.csv', 'accounts.csv']) copyFileSync(join(MAVEN, f), join(cutDir, f));
  // The export as it stood at the end of CUT, in plain SQL over the raw CSV.
  const raw = await (await DuckDBInstance.create(':memory:')).connect();
  await raw.run(`COPY (
      SELECT opportunity_id, sales_agent, product, account,
        CASE WHEN close_date > DATE '${CUT}' THEN 'Engaging' ELSE deal_stage END AS deal_stage,
        engage_date,
        CASE WHEN close_date > DATE '${CUT}' THEN NULL ELSE close_date END AS close_date,
        CASE WHEN close_date > DATE '${CUT}' THEN NULL ELSE close_value END AS close_value
      FROM read_csv('${join(MAVEN, 'sales_pipeline.csv')}', header = true)
      WHERE engage_date IS NULL OR engage_date <= DATE '${CUT}'
    ) TO '${join(cutDir, 'sales_pipeline.csv')}' (HEADER)`);
  writeFileSync(join(cutDir, 'README'), `Maven sales_pipeline.csv as exported at the end of ${CUT}\n`);
  full = await mavenDb(fullDir);
  cut = await mavenDb(cutDir);
}, 300_000);

afterAll(async () => {
  await full?.db.close();
  await cut?.db.close();
});

async function forecastOn(d: { db: Database; config: CockpitConfig }, params: Record<string, unknown>) {
  return runModel(d.db, d.config, 'forecast', { as_of: CUT, ...params }, ALL_SCOPE);
}

describe('Maven: a forecast as of a past date = the forecast on the export cut off at that date', () => {
  for (const [label, params] of [
    ['next month, configured', { from: '2017-07-01', to: '2017-08-01' }],
    ['next month, statistical, with its band', { from: '2017-07-01', to: '2017-08-01', probabilities: 'statistical' }],
    ['the quarter so far, learned, by owner', { from: '2017-04-01', to: '2017-07-01', probabilities: 'learned', group_by: 'owner' }],
    ['next quarter, statistical, by region', { from: '2017-07-01', to: '2017-10-01', probabilities: 'statistical', group_by: 'team' }]
  ] as const) {
    it(label, async () => {
      const a = await forecastOn(full, params);
      const b = await forecastOn(cut, params);
      expectSameRows(a.rows as Row[], b.rows as Row[]);
      expectClose(a.summary, b.summary);
      expect(a.n).toBe(b.n);
    }, 300_000);
  }

  it('the later wins are hidden: nothing won in July is known on 06-30, and June’s wins are those closed by then', async () => {
    const july = (await forecastOn(full, { from: '2017-07-01', to: '2017-08-01' })).rows[0] as Row;
    expect(july.closed_won).toBe(0);
    const june = (await forecastOn(full, { from: '2017-06-01', to: '2017-07-01' })).rows[0] as Row;
    const raw = await (await DuckDBInstance.create(':memory:')).connect();
    const [o] = (await raw.runAndReadAll(`SELECT sum(close_value)::DOUBLE AS won, count(*)::INTEGER AS n FROM read_csv('${join(MAVEN, 'sales_pipeline.csv')}', header = true)
      WHERE deal_stage = 'Won' AND close_date >= DATE '2017-06-01' AND close_date <= DATE '${CUT}'`)).getRowObjectsJson() as { won: number; n: number }[];
    expect(june).toMatchObject({ closed_won: o.won, closed_won_n: o.n });
  }, 300_000);

  it('open deals with no amount are valued at their product’s average won amount before the date, and counted', async () => {
    // Independent: Maven open deals on 06-30 (engaged by then, not closed by then) × the product's mean close value
    // of deals won by then (the amount rule), times the configured Engaging 0.4 — no close date, so the
    // configured method counts none of them in a period: it reports them as undated instead.
    const r = await forecastOn(full, { from: '2017-07-01', to: '2017-08-01' });
    const raw = await (await DuckDBInstance.create(':memory:')).connect();
    const [o] = (await raw.runAndReadAll(`SELECT count(*)::INTEGER AS open_n FROM read_csv('${join(MAVEN, 'sales_pipeline.csv')}', header = true)
      WHERE engage_date <= DATE '${CUT}' AND (close_date IS NULL OR close_date > DATE '${CUT}')`)).getRowObjectsJson() as { open_n: number }[];
    const row = r.rows[0] as Row;
    expect(row).toMatchObject({ undated_n: o.open_n, open_n: 0, weighted_pipeline: 0 });
    const stat = (await forecastOn(full, { from: '2017-07-01', to: '2017-08-01', probabilities: 'statistical' })).rows[0] as Row;
    expect(stat.amount_fallback_n).toBe(o.open_n);
    expect(stat.undated_n).toBe(o.open_n);
    expect(stat.weighted_pipeline as number).toBeGreaterThan(0);
    expect(stat.new_flow as number).toBeGreaterThan(0);
    expect(stat.p10 as number).toBeLessThanOrEqual(stat.p50 as number);
    expect(stat.p50 as number).toBeLessThanOrEqual(stat.p90 as number);
  }, 300_000);
});

describe('demo company: a forecast as of a past date = the forecast on the history cut off at that date', () => {
  const AS_OF = '2026-06-30';
  const T = '2026-03-15';
  let demoFull: Database;
  let demoCut: Database;
  const cfgParsed = parseConfig({});
  if (!cfgParsed.ok) throw new Error('default config invalid');
  const config = cfgParsed.config;

  beforeAll(async () => {
    demoFull = await openDatabase(join(tmp, 'demo-full.duckdb'));
    demoCut = await openDatabase(join(tmp, 'demo-cut.duckdb'));
    await generateDemo(demoFull, { scale: 'small', seed: 7, asOf: AS_OF });
    await generateDemo(demoCut, { scale: 'small', seed: 7, asOf: AS_OF });
    // The cut: what the CRM held at the end of T (everything stamped before T + 1 day).
    const end = `TIMESTAMP '${T}' + INTERVAL 1 DAY`;
    await demoCut.write(async (tx) => {
      await tx.run(`DELETE FROM opportunity_versions WHERE valid_from >= ${end}`);
      await tx.run(`UPDATE opportunity_versions SET valid_to = NULL WHERE valid_to >= ${end}`);
      await tx.run(`DELETE FROM opportunities WHERE opportunity_id NOT IN (SELECT opportunity_id FROM opportunity_versions)`);
      await tx.run(`UPDATE opportunities o SET stage = v.stage, amount = v.amount, expected_close_date = v.expected_close_date,
          owner_id = v.owner_id, forecast_category = v.forecast_category, probability = v.probability,
          status = CASE WHEN v.stage = '赢单' THEN 'won' WHEN v.stage = '输单' THEN 'lost' ELSE 'open' END,
          closed_at = CASE WHEN o.closed_at < ${end} THEN o.closed_at END
        FROM opportunity_versions v WHERE v.opportunity_id = o.opportunity_id AND v.valid_to IS NULL`);
      await tx.run(`DELETE FROM payments WHERE coalesce(paid_at, due_date) >= ${end}`);
      await tx.run(`DELETE FROM activities WHERE occurred_at >= ${end}`);
    });
  }, 600_000);

  afterAll(async () => {
    await demoFull?.close();
    await demoCut?.close();
  });

  for (const [label, params] of [
    ['this quarter, configured, by team', { period: 'this_quarter', group_by: 'team' }],
    ['next month, statistical', { from: '2026-04-01', to: '2026-05-01', probabilities: 'statistical' }],
    ['this quarter, learned', { period: 'this_quarter', probabilities: 'learned' }]
  ] as const) {
    it(label, async () => {
      const a = await runModel(demoFull, config, 'forecast', { as_of: T, ...params }, ALL_SCOPE);
      const b = await runModel(demoCut, config, 'forecast', { as_of: T, ...params }, ALL_SCOPE);
      expect((a.rows[0] as Row).forecast as number).toBeGreaterThan(0);
      expectSameRows(a.rows as Row[], b.rows as Row[]);
      expectClose(a.summary, b.summary);
    }, 300_000);
  }

  it('the configured forecast as of T, by plain SQL over the versions valid at the end of T', async () => {
    const a = await runModel(demoFull, config, 'forecast', { as_of: T, period: 'this_quarter' }, ALL_SCOPE);
    const end = `TIMESTAMP '${T}' + INTERVAL 1 DAY`;
    const [o] = (
      await demoFull.query<{ won: number; weighted: number }>(`SELECT
        (SELECT coalesce(sum(amount), 0)::DOUBLE FROM main.opportunities WHERE status = 'won' AND closed_at >= DATE '2026-01-01' AND closed_at < ${end}) AS won,
        (SELECT coalesce(sum(v.amount * coalesce(v.probability, CASE v.stage WHEN '初步接洽' THEN 0.1 WHEN '需求分析' THEN 0.25 WHEN '方案报价' THEN 0.5 WHEN '商务谈判' THEN 0.75 END)), 0)::DOUBLE
           FROM main.opportunity_versions v
           WHERE v.valid_from < ${end} AND (v.valid_to IS NULL OR v.valid_to >= ${end})
             AND v.stage IN ('初步接洽', '需求分析', '方案报价', '商务谈判')
             AND v.expected_close_date >= DATE '2026-01-01' AND v.expected_close_date < DATE '2026-04-01') AS weighted`)
    ).rows;
    const row = a.rows[0] as Row;
    expect(row.closed_won as number).toBeCloseTo(o.won, 4);
    expect(row.weighted_pipeline as number).toBeCloseTo(o.weighted, 4);
  }, 300_000);
});
