/**
 * A source `query` cannot change the CRM's database (issue 11.8), against the real PostgreSQL
 * and MariaDB servers: statements smuggled after the query (`…) AS x; DELETE …`), a function
 * that writes, a data-modifying CTE, switching the transaction to read-write — each makes the
 * sync fail with an error naming the source, records the failed run, leaves the cockpit's data
 * as it was, and leaves every row at the source where it was.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { runSync } from '../../connectors/load/sync';
import { createMysqlCrm, createPgCrm, dealsQuery, makeDeals, unique, PG_URL } from './crm-db';

const COLUMNS = { opportunity_id: 'deal_no', name: 'title', customer_name: 'account', owner_id: 'owner', stage: 'stage', amount: 'amount', created_at: 'created_at' };
const dir = mkdtempSync(join(tmpdir(), 'sql-readonly-'));
let db: Database;

async function sync(type: 'postgres' | 'mysql', query: string) {
  const r = parseConfig({ sources: [{ name: 'crm', type, entity: 'opportunities', url_env: 'READONLY_TEST_URL', query, columns: COLUMNS }] });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return runSync(db, { config: r.config, baseDir: dir });
}
const cockpitDeals = async () => (await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM opportunities`)).rows[0].n;
const lastRun = async () => (await db.query<{ status: string; error: string }>(`SELECT status, error FROM sync_runs ORDER BY finished_at DESC LIMIT 1`)).rows[0];

/** Each attack fails the sync, is recorded, and leaves the source's rows and ours as they were. */
async function refused(type: 'postgres' | 'mysql', attacks: string[][], atSource: () => Promise<Record<string, number>>) {
  for (const [what, query] of attacks) {
    const r = await sync(type, query);
    expect(r.ok, what).toBe(false);
    expect(r.error, what).toMatch(/^source "crm": /);
    expect(await lastRun(), what).toMatchObject({ status: 'failed' });
    expect(await atSource(), what).toEqual({ deals: 40, users: 3, canary: 1 });
    expect(await cockpitDeals(), what).toBe(40);
  }
}

beforeAll(async () => {
  db = await Database.open(join(dir, 'cockpit.duckdb'));
});
afterAll(() => db?.close());

describe('PostgreSQL', () => {
  const schema = unique();
  const s = pg.escapeIdentifier(schema);
  let c: pg.Client;
  const counts = async () =>
    (await c.query(`SELECT (SELECT count(*) FROM ${s}.crm_deals)::int AS deals, (SELECT count(*) FROM ${s}.crm_users)::int AS users, (SELECT count(*) FROM ${s}.canary)::int AS canary`)).rows[0];

  beforeAll(async () => {
    c = await createPgCrm(schema, makeDeals(40));
    await c.query(`CREATE TABLE ${s}.canary (n int); INSERT INTO ${s}.canary VALUES (1)`);
    await c.query(`CREATE FUNCTION ${s}.wipe() RETURNS int LANGUAGE sql VOLATILE AS $$ DELETE FROM ${s}.canary; SELECT 1 $$`);
    process.env.READONLY_TEST_URL = PG_URL;
    const ok = await sync('postgres', dealsQuery(`${schema}.`));
    expect(ok.ok, ok.error ?? '').toBe(true);
    expect(await cockpitDeals()).toBe(40);
  });
  afterAll(async () => {
    await c?.query(`DROP SCHEMA ${s} CASCADE`);
    await c?.end();
  });

  const attacks = () => [
    ['statements after the query', `SELECT * FROM ${schema}.crm_deals) AS x; DELETE FROM ${schema}.crm_deals; INSERT INTO ${schema}.crm_users VALUES (99, 'x', 'y'); SELECT * FROM (SELECT * FROM ${schema}.crm_deals`],
    ['a trailing statement', `SELECT d.code AS deal_no FROM ${schema}.crm_deals d; DELETE FROM ${schema}.crm_deals`],
    ['a function that writes', `SELECT q.*, ${schema}.wipe() AS w FROM (${dealsQuery(`${schema}.`)}) q`],
    ['a data-modifying CTE', `WITH gone AS (DELETE FROM ${schema}.crm_deals RETURNING code) SELECT code AS deal_no FROM gone`],
    ['switching to read-write first', `SELECT q.*, set_config('transaction_read_only', 'off', false) AS a, ${schema}.wipe() AS b FROM (${dealsQuery(`${schema}.`)}) q`]
  ];

  it('every smuggled write fails the sync and changes nothing, at the source or here', async () => {
    await refused('postgres', attacks(), counts);
  });

  it('a plain query still reads, in one read-only transaction', async () => {
    const r = await sync('postgres', dealsQuery(`${schema}.`));
    expect(r.ok, r.error ?? '').toBe(true);
    expect(r.sources[0].rows).toBe(40);
  });
});

describe('MySQL / MariaDB', () => {
  const name = unique();
  let c: mysql.Connection;
  const counts = async () => {
    const [rows] = await c.query(`SELECT (SELECT count(*) FROM crm_deals) AS deals, (SELECT count(*) FROM crm_users) AS users, (SELECT count(*) FROM canary) AS canary`);
    const r = (rows as { deals: number; users: number; canary: number }[])[0];
    return { deals: Number(r.deals), users: Number(r.users), canary: Number(r.canary) };
  };

  beforeAll(async () => {
    const made = await createMysqlCrm(name, makeDeals(40));
    c = made.c;
    await c.query(`CREATE TABLE canary (n int)`);
    await c.query(`INSERT INTO canary VALUES (1)`);
    await c.query(`CREATE FUNCTION wipe() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM canary; RETURN 1; END`);
    process.env.READONLY_TEST_URL = made.url;
    const ok = await sync('mysql', dealsQuery(''));
    expect(ok.ok, ok.error ?? '').toBe(true);
  });
  afterAll(async () => {
    await c?.query(`DROP DATABASE \`${name}\``);
    await c?.end();
  });

  it('every smuggled write fails the sync and changes nothing, at the source or here', async () => {
    await refused(
      'mysql',
      [
        ['statements after the query', `SELECT * FROM crm_deals) AS x; DELETE FROM crm_deals; SELECT * FROM (SELECT * FROM crm_deals`],
        ['a trailing statement', `SELECT d.code AS deal_no FROM crm_deals d; DELETE FROM crm_deals`],
        ['a stored function that writes', `SELECT q.*, wipe() AS w FROM (${dealsQuery('')}) q`]
      ],
      counts
    );
  });

  it('a plain query still reads', async () => {
    const r = await sync('mysql', dealsQuery(''));
    expect(r.ok, r.error ?? '').toBe(true);
    expect(r.sources[0].rows).toBe(40);
  });
});
