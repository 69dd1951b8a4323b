/**
 * The public Maven CRM dataset (8,800 opportunities; a copy of its CSVs is in
 * tests/fixtures/maven-crm) loaded as a user would — `cockpit sync` with the README's worked
 * example config (examples/maven/cockpit.config.json) — gives the same figures through
 * `cockpit metric` as plain SQL written here over the raw CSVs, without the product's code.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/server/config/load';
import { openDatabase } from '../../src/lib/server/db/database';
import { runModel } from '../../src/lib/server/models/run';
import { ALL_SCOPE } from '../../models/common/scope';

const ROOT = resolve(import.meta.dirname, '../..');
const CSV = join(ROOT, 'tests/fixtures/maven-crm');
const CONFIG = join(ROOT, 'examples/maven/cockpit.config.json');
const db = join(mkdtempSync(join(tmpdir(), 'maven-')), 'maven.duckdb');
const ALL = ['--param', 'period=all', '--param', 'as_of=2018-01-01'];

function cockpit(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/cockpit.js'), ...args, '--config', CONFIG, '--db', db], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, `cockpit ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}
type Result = { n: number; rows: Record<string, unknown>[] };
/** A model, run in-process as `cockpit metric` runs it (full access), on the synced file. */
let metric: (name: string, ...params: string[]) => Promise<Result>;

let raw: DuckDBConnection;
async function oracle<T = Record<string, unknown>>(q: string): Promise<T[]> {
  return (await raw.runAndReadAll(q)).getRowObjectsJson() as T[];
}

beforeAll(async () => {
  const report = cockpit(['sync']);
  expect(report).toMatch(/rows 8,800: loaded 8,800, updated 0, rejected 0, skipped 0/);
  // One CLI round trip shows the metric command works on this data; the rest run in-process.
  expect(cockpit(['metric', 'win_loss', ...ALL])).toMatch(/n = 6711/);
  const cfg = loadConfig(CONFIG);
  if (!cfg.ok) throw new Error(cfg.issues.join('\n'));
  cfg.config.database = db;
  const database = await openDatabase(db);
  metric = async (name, ...params) => {
    const q = Object.fromEntries([['period', 'all'], ['as_of', '2018-01-01'], ...params.map((p) => p.split('='))]);
    return (await runModel(database, cfg.config, name, q, ALL_SCOPE)) as unknown as Result;
  };
  raw = await (await DuckDBInstance.create(':memory:')).connect();
  await raw.run(`CREATE VIEW pipeline AS SELECT * FROM read_csv('${CSV}/sales_pipeline.csv', header = true)`);
  await raw.run(`CREATE VIEW agents AS SELECT * FROM read_csv('${CSV}/sales_teams.csv', header = true)`);
}, 180_000);

describe('Maven CRM through the connector and the models, against SQL over the raw CSVs', () => {
  it('every deal is loaded, with its account where it has one', async () => {
    const [o] = await oracle<{ n: string; with_account: string }>(`SELECT count(*) AS n, count(account) AS with_account FROM pipeline`);
    const loaded = (await metric('deals', 'limit=1')) as unknown as { summary: { total: number } };
    expect(loaded.summary.total).toBe(Number(o.n) - 0);
    expect(Number(o.n)).toBe(8800);
    expect(Number(o.with_account)).toBe(7375); // 1,425 deals (all still prospecting or engaging) name no account
  });

  it('win rate = won / (won + lost), all time', async () => {
    const [o] = await oracle<{ won: string; lost: string }>(
      `SELECT count(*) FILTER (deal_stage = 'Won') AS won, count(*) FILTER (deal_stage = 'Lost') AS lost FROM pipeline`
    );
    const r = await metric('win_loss');
    expect(r.rows[0]).toMatchObject({ won: Number(o.won), lost: Number(o.lost) });
    expect(r.rows[0].win_rate).toBeCloseTo(Number(o.won) / (Number(o.won) + Number(o.lost)), 12);
    expect(r.rows[0].win_rate).toBeCloseTo(0.6315, 4);
  });

  it('won amount by regional office (the teams above each manager)', async () => {
    const o = await oracle<{ region: string; won: string; amount: number }>(
      `SELECT a.regional_office AS region, count(*) AS won, sum(p.close_value)::DOUBLE AS amount
       FROM pipeline p JOIN agents a USING (sales_agent) WHERE p.deal_stage = 'Won' GROUP BY 1`
    );
    const r = await metric('win_loss', 'group_by=team');
    const byRegion = Object.fromEntries(r.rows.map((x) => [x.group_key, x]));
    expect(Object.keys(byRegion).sort()).toEqual(['Central', 'East', 'West']);
    for (const x of o) {
      expect(byRegion[x.region]).toMatchObject({ won: Number(x.won), won_amount: x.amount });
    }
    expect(o.reduce((s, x) => s + x.amount, 0)).toBe(10_005_534);
  });

  it('sales cycle of won deals: engage date to close date', async () => {
    const [o] = await oracle<{ n: string; mean: number; median: number; p75: number }>(
      `SELECT count(*) AS n, avg(close_date - engage_date) AS mean,
              quantile_cont(close_date - engage_date, 0.5) AS median, quantile_cont(close_date - engage_date, 0.75) AS p75
       FROM pipeline WHERE deal_stage = 'Won'`
    );
    const [r] = (await metric('cycle_time')).rows;
    expect(r.n).toBe(Number(o.n));
    expect(r.mean_days as number).toBeCloseTo(o.mean, 9);
    expect(r.median_days).toBe(o.median);
    expect(r.p75_days).toBe(o.p75);
    expect(o.median).toBe(57);
  });

  it('funnel: deals engaged (dated) reach Engaging; won ones reach Won', async () => {
    const [o] = await oracle<{ engaged: string; won: string; open_engaging: string }>(
      `SELECT count(*) FILTER (engage_date IS NOT NULL) AS engaged, count(*) FILTER (deal_stage = 'Won') AS won,
              count(*) FILTER (deal_stage = 'Engaging') AS open_engaging FROM pipeline`
    );
    const rows = (await metric('funnel')).rows;
    const at = (stage: string) => rows.find((x) => x.stage === stage)!;
    // Prospecting deals have no engage date, hence no created_at: no cohort by creation date holds them.
    expect(at('Engaging').reached).toBe(Number(o.engaged));
    expect(at('Engaging').open_now).toBe(Number(o.open_engaging));
    expect(at('Won').reached).toBe(Number(o.won));
  });

  it('leaderboard: the top reps by won amount', async () => {
    const o = await oracle<{ agent: string; amount: number; won: string }>(
      `SELECT sales_agent AS agent, sum(close_value)::DOUBLE AS amount, count(*) AS won FROM pipeline
       WHERE deal_stage = 'Won' GROUP BY 1 ORDER BY amount DESC LIMIT 5`
    );
    const rows = (await metric('leaderboard', 'limit=5')).rows;
    expect(rows.map((x) => [x.group_key, x.won_amount, x.won_count])).toEqual(o.map((x) => [x.agent, x.amount, Number(x.won)]));
  });
});
