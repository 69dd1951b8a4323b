/**
 * The PostgreSQL and MySQL readers against the servers on this machine, on a CRM schema of the
 * test's own (deals with stage, owner, account and lost-reason ids joined in by the source's
 * query). Expected values come from the rows the test inserted (tests/connectors/crm-db.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type mysql from 'mysql2/promise';
import { configSchema } from '../../src/lib/server/config/schema';
import type { RawRecord, ReaderFactory } from '../types';
import { postgresReader } from './postgres';
import { mysqlReader } from './mysql';
import { CsvRowParser } from './csv-stream';
import {
  ACCOUNTS, REASONS, STAGES, USERS, createMysqlCrm, createPgCrm, dealsQuery, makeDeals, unique, type Deal
} from '../../tests/connectors/crm-db';

const config = configSchema.parse({});

async function read(factory: ReaderFactory, source: Record<string, unknown>, watermark: string | null = null) {
  const reader = await factory({ name: 'crm', entity: 'opportunities', ...source } as never, {
    config,
    baseDir: '.',
    watermark,
    events: { warn: () => {}, skip: () => {} }
  });
  const headers = await reader.headers();
  const records: RawRecord[] = [];
  const batches: number[] = [];
  for await (const b of reader.batches()) {
    batches.push(b.length);
    records.push(...b);
  }
  return { headers, records, batches, watermark: reader.watermark?.() ?? null, location: reader.location };
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a failure');
}

const byNo = (rs: RawRecord[]) => [...rs].sort((a, b) => String(a.values.deal_no).localeCompare(String(b.values.deal_no)));

/** What the query returns for a deal, as text (the pipeline parses values). */
function expected(d: Deal, timeSuffix = '') {
  return {
    deal_no: d.code,
    title: d.title,
    account: ACCOUNTS[d.account - 1],
    owner: USERS[d.owner - 1],
    stage: STAGES[d.stage - 1],
    amount: d.amount,
    expected_close: d.close,
    lost_reason: d.reason ? REASONS[d.reason - 1] : null,
    created_at: d.created + timeSuffix,
    updated_at: d.updated + timeSuffix
  };
}

const COLUMNS = ['deal_no', 'title', 'account', 'owner', 'stage', 'amount', 'expected_close', 'lost_reason', 'created_at', 'updated_at'];

describe('PostgreSQL', () => {
  const schema = unique();
  const deals = makeDeals(40);
  let c: pg.Client;
  const source = () => ({ type: 'postgres', url_env: 'TEST_CRM_PG_URL', query: dealsQuery(`${schema}.`), incremental: { column: 'updated_at' } });
  beforeAll(async () => {
    process.env.TEST_CRM_PG_URL = process.env.COCKPIT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    c = await createPgCrm(schema, deals);
  });
  afterAll(async () => {
    await c?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c?.end();
  });

  it('streams a joined query through COPY: names for ids, NULL apart from empty text, quotes and newlines intact', async () => {
    const r = await read(postgresReader, { ...source(), batch_size: 16 });
    expect(r.headers).toEqual(COLUMNS);
    expect(r.batches).toEqual([16, 16, 8]);
    expect(r.records.map((x) => x.row)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(byNo(r.records).map((x) => x.values)).toEqual(deals.map((d) => expected(d)));
    expect(byNo(r.records)[5].values.amount).toBeNull();
    expect(byNo(r.records)[7].values.title).toBe('');
    // timestamptz comes out as the business's wall time (written at +08:00, read in Asia/Shanghai).
    expect(r.watermark).toBe('2024-02-03 01:00:00');
    expect(r.location).toBe(`${process.env.TEST_CRM_PG_URL} query`);
  });

  it('reads only rows changed at or after the watermark, and moves it', async () => {
    await c.query(`UPDATE "${schema}".crm_deals SET stage_id = 4, updated_at = '2024-03-01 12:00:00+08' WHERE code = 'D-1002'`);
    await c.query(`UPDATE "${schema}".crm_deals SET amount = 99999.99, updated_at = '2024-03-01 12:30:00+08' WHERE code = 'D-1010'`);
    const r = await read(postgresReader, source(), '2024-02-03 01:00:00');
    // The last sync's newest row (at the watermark) and the two changed ones.
    expect(byNo(r.records).map((x) => [x.values.deal_no, x.values.stage, x.values.amount, x.values.updated_at])).toEqual([
      ['D-1002', '商务谈判', deals[2].amount, '2024-03-01 12:00:00'],
      ['D-1010', STAGES[deals[10].stage - 1], '99999.99', '2024-03-01 12:30:00'],
      ['D-1039', STAGES[deals[39].stage - 1], deals[39].amount, '2024-02-03 01:00:00']
    ]);
    expect(r.watermark).toBe('2024-03-01 12:30:00');
  });

  it('renders a hostile watermark as a literal: the query fails, it does not widen', async () => {
    const msg = await failure(read(postgresReader, source(), "2024-01-01' OR '1'='1"));
    expect(msg).toContain('source "crm": reading the query failed after 0 rows: invalid input syntax for type timestamp with time zone');
  });

  it('fails with the rows read so far when the query breaks midway', async () => {
    const msg = await failure(
      read(postgresReader, { type: 'postgres', url_env: 'TEST_CRM_PG_URL', query: 'SELECT g, 1 / (150000 - g) AS x FROM generate_series(1, 200000) g', batch_size: 1000 })
    );
    expect(msg).toMatch(/^source "crm": reading the query failed after \d+ rows: division by zero$/);
  });

  it('stops reading when the sync is cancelled', async () => {
    const abort = new AbortController();
    const reader = await postgresReader(
      { name: 'crm', entity: 'opportunities', type: 'postgres', url_env: 'TEST_CRM_PG_URL', query: 'SELECT g FROM generate_series(1, 2000000) g', batch_size: 1000 } as never,
      { config, baseDir: '.', watermark: null, signal: abort.signal, events: { warn: () => {}, skip: () => {} } }
    );
    let rows = 0;
    const msg = await failure(
      (async () => {
        for await (const b of reader.batches()) {
          rows += b.length;
          abort.abort();
        }
      })()
    );
    expect(msg).toMatch(/^source "crm": reading the query failed after \d+ rows: the sync was cancelled$/);
    expect(rows).toBeLessThan(2_000_000);
  });

  it('reads a table by name', async () => {
    const r = await read(postgresReader, { type: 'postgres', url_env: 'TEST_CRM_PG_URL', table: `${schema}.crm_stages` });
    expect(r.headers).toEqual(['id', 'name', 'sort']);
    expect(r.records.map((x) => x.values.name)).toEqual(STAGES);
    expect(r.watermark).toBeNull();
  });

  it('names a missing incremental column, a broken query, and an unreachable server without its password', async () => {
    expect(await failure(read(postgresReader, { ...source(), incremental: { column: 'modified' } }))).toBe(
      `source "crm": incremental.column "modified" is not a column of the query (columns: ${COLUMNS.join(', ')})`
    );
    expect(await failure(read(postgresReader, { ...source(), query: `select * from "${schema}".crm_dealz` }))).toMatch(
      /^source "crm": the query failed: relation ".*crm_dealz" does not exist$/
    );
    process.env.TEST_CRM_PG_BAD = 'postgres://postgres:hunter2secret@127.0.0.1:1/test';
    const msg = await failure(read(postgresReader, { ...source(), url_env: 'TEST_CRM_PG_BAD' }));
    expect(msg).toMatch(/^source "crm": cannot connect to PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test: .*ECONNREFUSED/);
    expect(msg).not.toContain('hunter2secret');
    expect(await failure(read(postgresReader, { ...source(), url_env: 'NO_SUCH_PG_VAR' }))).toBe(
      'source "crm": environment variable NO_SUCH_PG_VAR (named by url_env) is not set'
    );
  });
});

describe('MySQL / MariaDB', () => {
  const db = unique();
  const deals = makeDeals(40);
  let c: mysql.Connection;
  const source = () => ({ type: 'mysql', url_env: 'TEST_CRM_MYSQL_URL', query: dealsQuery(''), incremental: { column: 'updated_at' } });
  beforeAll(async () => {
    const made = await createMysqlCrm(db, deals);
    c = made.c;
    process.env.TEST_CRM_MYSQL_URL = made.url;
  });
  afterAll(async () => {
    await c?.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await c?.end();
  });

  it('streams a joined query in batches, dates and decimals as text', async () => {
    const r = await read(mysqlReader, { ...source(), batch_size: 16 });
    expect(r.headers).toEqual(COLUMNS);
    expect(r.batches).toEqual([16, 16, 8]);
    expect(byNo(r.records).map((x) => x.values)).toEqual(deals.map((d) => expected(d)));
    expect(r.watermark).toBe('2024-02-03 01:00:00');
  });

  it('binds the watermark and reads only rows changed since', async () => {
    await c.query("UPDATE crm_deals SET stage_id = 5, updated_at = '2024-03-01 12:00:00' WHERE code = 'D-1002'");
    const r = await read(mysqlReader, source(), '2024-02-03 01:00:00');
    expect(byNo(r.records).map((x) => [x.values.deal_no, x.values.stage])).toEqual([
      ['D-1002', '赢单'],
      ['D-1039', STAGES[deals[39].stage - 1]]
    ]);
    expect(r.watermark).toBe('2024-03-01 12:00:00');
    // Bound, not spliced: a hostile value is compared as a value and matches nothing.
    const hostile = await read(mysqlReader, source(), "2099-01-01' OR '1'='1");
    expect(hostile.records).toHaveLength(0);
  });

  it('reads a table and names an unreachable server without its password', async () => {
    const r = await read(mysqlReader, { type: 'mysql', url_env: 'TEST_CRM_MYSQL_URL', table: 'crm_users' });
    expect(r.records.map((x) => x.values.name)).toEqual(USERS);
    process.env.TEST_CRM_MYSQL_BAD = 'mysql://root:hunter2secret@127.0.0.1:1/test';
    const msg = await failure(read(mysqlReader, { ...source(), url_env: 'TEST_CRM_MYSQL_BAD' }));
    expect(msg).toMatch(/^source "crm": cannot connect to MySQL at mysql:\/\/root:\*\*\*@127\.0\.0\.1:1\/test: .*ECONNREFUSED/);
    expect(msg).not.toContain('hunter2secret');
  });
});

describe('COPY csv parsing', () => {
  it('keeps rows whole across any chunk boundary', () => {
    const text = 'a,b,c\n1,"x ""q"", y",\n2,"",z\r\n3,"multi\nline",\n';
    const want = [['a', 'b', 'c'], ['1', 'x "q", y', null], ['2', '', 'z'], ['3', 'multi\nline', null]];
    for (let cut = 0; cut <= text.length; cut++) {
      const p = new CsvRowParser();
      const rows = [...p.push(Buffer.from(text.slice(0, cut))), ...p.push(Buffer.from(text.slice(cut))), ...p.end()];
      expect(rows, `cut at ${cut}`).toEqual(want);
    }
    // A multi-byte character split between chunks.
    const bytes = Buffer.from('名称\n上海\n');
    const p = new CsvRowParser();
    expect([...p.push(bytes.subarray(0, 4)), ...p.push(bytes.subarray(4)), ...p.end()]).toEqual([['名称'], ['上海']]);
  });
});
