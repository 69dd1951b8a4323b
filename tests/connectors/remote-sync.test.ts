/**
 * REST, PostgreSQL and MySQL sources end to end, through `cockpit sync --config` as a user runs
 * it: a full sync, changes at the source, an incremental sync (updated rows, new opportunity
 * versions), a rate-limited API, and a source failing halfway (the sync fails, the previous data
 * stays, the error is recorded and names no secret). Each first sync is a child process; the
 * later ones run the same main() in-process (`inProcess`, tests/helpers/cli.ts: ~1 CPU s less).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type mysql from 'mysql2/promise';
import { startMockCrm, type MockCrm } from '../../examples/rest-mock-crm/server';
import { cockpitIn } from '../helpers/cli';
import { ACCOUNTS, STAGES, USERS, createMysqlCrm, createPgCrm, dealsQuery, makeDeals, unique, PG_URL } from './crm-db';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/cockpit.js');
const TOKEN = 'hs-secret-5d1e0c7b9a';

async function cockpit(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 90_000 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: (x.stdout ?? '') + (x.stderr ?? '') };
  }
}

/** The same command in this process, its output and exit code shaped as `cockpit` gives them. */
async function inProcess(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  const r = await cockpitIn(args, env);
  return { code: r.status, out: r.stdout + r.stderr };
}

async function query(dbPath: string, text: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(dbPath, { access_mode: 'READ_ONLY' });
  try {
    const c = await inst.connect();
    const r = await c.runAndReadAll(text);
    const rows = r.getRowObjectsJson() as Record<string, unknown>[];
    c.closeSync();
    return rows;
  } finally {
    inst.closeSync();
  }
}

describe('REST (HubSpot preset) through cockpit sync', () => {
  const dir = mkdtempSync(join(tmpdir(), 'remote-rest-'));
  const cfgPath = join(dir, 'cockpit.config.json');
  const dbPath = join(dir, 'cockpit.duckdb');
  let crm: MockCrm;
  const env = { HUBSPOT_TOKEN: TOKEN };
  const sync = (run = inProcess) => run(['sync', '--config', cfgPath], env);

  beforeAll(async () => {
    crm = await startMockCrm({ deals: 250, token: TOKEN, unknownStageEvery: 50 });
    writeFileSync(
      cfgPath,
      JSON.stringify({
        database: 'cockpit.duckdb',
        sources: [
          {
            name: 'hubspot', type: 'rest', entity: 'opportunities', preset: 'hubspot-deals', base_url: crm.url,
            auth: { type: 'bearer', token_env: 'HUBSPOT_TOKEN' }, retry: { max_attempts: 3, base_ms: 10, cap_ms: 50, timeout_ms: 5000 }
          }
        ]
      })
    );
  });
  afterAll(() => crm?.close());

  it('loads every deal, rejects the ones with an unknown stage, then syncs changes incrementally with history', async () => {
    const first = await sync(cockpit);
    expect(first.code, first.out).toBe(0);
    // Every 50th deal has a stage the cockpit does not know: 5 of 250 rejected.
    expect(first.out).toContain('rows 250: loaded 245, updated 0, rejected 5');
    const known = crm.deals.filter((d) => d.stage >= 0);
    const [totals] = await query(dbPath, 'SELECT count(*) AS n, sum(amount)::VARCHAR AS total FROM opportunities');
    const cents = known.reduce((sum, d) => sum + Math.round(Number(d.amount) * 100), 0);
    expect(totals).toEqual({ n: '245', total: (cents / 100).toFixed(2) });
    const [d7] = await query(dbPath, "SELECT stage, amount::VARCHAR AS amount, name FROM opportunities WHERE opportunity_id = '1006'");
    expect(d7).toEqual({ stage: '赢单', amount: crm.deals[5].amount, name: crm.deals[5].name }); // closedwon → 赢单 (preset stage map)
    const [rej] = await query(dbPath, "SELECT count(*) AS n, min(reason) AS reason FROM rejected_rows WHERE source = 'hubspot'");
    expect(rej.n).toBe('5');
    expect(rej.reason).toContain('unknown stage "mystery_stage"');

    const amount1003 = crm.deals[2].amount;
    crm.touch(['1002'], { stage: 3 }); // qualifiedtobuy → decisionmakerboughtin (需求分析 → 商务谈判)
    crm.touch(['1003'], { amount: '123456.78' });
    crm.log.length = 0;
    const second = await sync();
    expect(second.code, second.out).toBe(0);
    // The two changed deals and the newest deal of the last sync (read again at the watermark; its stage is unknown).
    expect(second.out).toContain('rows 3: loaded 0, updated 2, rejected 1');
    expect(crm.log.map((l) => `${l.method} ${l.url}`)).toEqual(['POST /crm/v3/objects/deals/search']);
    const versions = await query(
      dbPath,
      "SELECT opportunity_id, stage, amount::VARCHAR AS amount, valid_to IS NULL AS current FROM opportunity_versions WHERE opportunity_id IN ('1002', '1003') ORDER BY opportunity_id, valid_from"
    );
    expect(versions).toEqual([
      { opportunity_id: '1002', stage: '需求分析', amount: crm.deals[1].amount, current: false },
      { opportunity_id: '1002', stage: '商务谈判', amount: crm.deals[1].amount, current: true },
      { opportunity_id: '1003', stage: '方案报价', amount: amount1003, current: false },
      { opportunity_id: '1003', stage: '方案报价', amount: '123456.78', current: true }
    ]);
  });

  it('waits out a rate limit and completes', async () => {
    crm.touch(['1004']);
    crm.faults.push({ kind: '429', retryAfter: '1' });
    const r = await sync();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/warning: POST .*\/crm\/v3\/objects\/deals\/search: HTTP 429 Too Many Requests \(Retry-After\); retrying in 1\.0 s/);
    // The touched deal and the last sync's newest one (read again at the watermark).
    expect(r.out).toContain('rows 2: loaded 0, updated 2, rejected 0');
  });

  it('fails cleanly when the API breaks halfway: previous data intact, error recorded, no token anywhere', async () => {
    const before = await query(dbPath, 'SELECT opportunity_id, stage, amount::VARCHAR AS a FROM opportunities ORDER BY 1');
    crm.touch(crm.deals.map((d) => d.id)); // every deal changed: the incremental read spans three pages
    crm.faults.push({ kind: '500', times: Infinity, match: (_u, req) => req.method === 'POST' && crm.log.filter((l) => l.method === 'POST').length > 2 });
    try {
      const r = await sync();
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('sync FAILED');
      expect(r.out).toContain(`POST ${crm.url}/crm/v3/objects/deals/search failed after 3 attempts: HTTP 500 Internal Server Error`);
      expect(r.out).not.toContain(TOKEN);
      expect(await query(dbPath, 'SELECT opportunity_id, stage, amount::VARCHAR AS a FROM opportunities ORDER BY 1')).toEqual(before);
      const runs = await query(dbPath, "SELECT status, error FROM sync_runs WHERE source = 'hubspot' ORDER BY started_at DESC LIMIT 1");
      expect(runs[0].status).toBe('failed');
      expect(String(runs[0].error)).toContain('HTTP 500');
      const leaks = await query(dbPath, `SELECT count(*) AS n FROM sync_runs WHERE CAST(error AS VARCHAR) LIKE '%${TOKEN}%' OR CAST(warnings AS VARCHAR) LIKE '%${TOKEN}%'`);
      expect(leaks[0].n).toBe('0');
    } finally {
      crm.faults.length = 0;
    }
  });
});

describe('PostgreSQL and MySQL through cockpit sync', () => {
  const dir = mkdtempSync(join(tmpdir(), 'remote-sql-'));
  const cfgPath = join(dir, 'cockpit.config.json');
  const dbPath = join(dir, 'cockpit.duckdb');
  const schema = unique();
  const mydb = unique();
  const deals = makeDeals(40);
  let pgc: pg.Client;
  let my: mysql.Connection;
  let env: Record<string, string>;
  const columns = {
    opportunity_id: 'deal_no', name: 'title', customer_name: 'account', owner_id: 'owner', stage: 'stage', amount: 'amount',
    expected_close_date: 'expected_close', loss_reason: 'lost_reason', created_at: 'created_at', updated_at: 'updated_at'
  };

  beforeAll(async () => {
    pgc = await createPgCrm(schema, deals);
    const m = await createMysqlCrm(mydb, deals);
    my = m.c;
    env = { CRM_PG_URL: PG_URL, CRM_MYSQL_URL: m.url };
    writeFileSync(
      cfgPath,
      JSON.stringify({
        database: 'cockpit.duckdb',
        sources: [
          { name: 'pg-crm', type: 'postgres', entity: 'opportunities', url_env: 'CRM_PG_URL', query: dealsQuery(`${schema}.`), incremental: { column: 'updated_at' }, columns },
          { name: 'erp', type: 'mysql', entity: 'opportunities', url_env: 'CRM_MYSQL_URL', query: dealsQuery(''), incremental: { column: 'updated_at' }, columns, id_prefix: 'ERP-' }
        ]
      })
    );
  });
  afterAll(async () => {
    await pgc?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pgc?.end();
    await my?.query(`DROP DATABASE IF EXISTS \`${mydb}\``);
    await my?.end();
  });

  it('loads both databases, then only what changed, with history', async () => {
    const first = await cockpit(['sync', '--config', cfgPath], env);
    expect(first.code, first.out).toBe(0);
    expect(first.out.match(/rows 40: loaded 40, updated 0, rejected 0/g)).toHaveLength(2);
    const rows = await query(dbPath, "SELECT o.opportunity_id, o.stage, o.amount::VARCHAR AS amount, o.loss_reason, c.name AS customer, u.name AS owner, o.created_at::VARCHAR AS created FROM opportunities o LEFT JOIN customers c USING (customer_id) LEFT JOIN users u ON u.user_id = o.owner_id WHERE o.opportunity_id IN ('D-1005', 'ERP-D-1005')");
    const d = deals[5]; // stage 输单, no amount, a lost reason
    const want = { stage: STAGES[d.stage - 1], amount: null, loss_reason: '选择了竞争对手', customer: ACCOUNTS[d.account - 1], owner: USERS[d.owner - 1], created: d.created };
    // id_prefix keeps the second source's ids apart, its owners' ids (stub users named by id) included.
    expect(rows).toEqual([{ opportunity_id: 'D-1005', ...want }, { opportunity_id: 'ERP-D-1005', ...want, owner: `ERP-${want.owner}` }]);

    await pgc.query(`UPDATE "${schema}".crm_deals SET stage_id = 5, updated_at = '2024-03-01 12:00:00+08' WHERE code = 'D-1001'`);
    await my.query("UPDATE crm_deals SET amount = 88888.00, updated_at = '2024-03-01 12:00:00' WHERE code = 'D-1001'");
    const second = await inProcess(['sync', '--config', cfgPath], env);
    expect(second.code, second.out).toBe(0);
    // The changed deal and the last sync's newest row (read again at the watermark; counted as updated), in each database.
    expect(second.out.match(/rows 2: loaded 0, updated 2, rejected 0/g), second.out).toHaveLength(2);
    const versions = await query(dbPath, "SELECT opportunity_id, stage, amount::VARCHAR AS amount, valid_to IS NULL AS current FROM opportunity_versions WHERE opportunity_id IN ('D-1001', 'ERP-D-1001') ORDER BY opportunity_id, valid_from");
    const d1 = deals[1];
    expect(versions).toEqual([
      { opportunity_id: 'D-1001', stage: STAGES[d1.stage - 1], amount: d1.amount, current: false },
      { opportunity_id: 'D-1001', stage: '赢单', amount: d1.amount, current: true },
      { opportunity_id: 'ERP-D-1001', stage: STAGES[d1.stage - 1], amount: d1.amount, current: false },
      { opportunity_id: 'ERP-D-1001', stage: STAGES[d1.stage - 1], amount: '88888.00', current: true }
    ]);
    const state = await query(dbPath, 'SELECT source, watermark FROM sync_state ORDER BY source');
    expect(state).toEqual([
      { source: 'erp', watermark: '2024-03-01 12:00:00' },
      { source: 'pg-crm', watermark: '2024-03-01 12:00:00' }
    ]);
  });

  it('fails with the server named (no password) when a database is down, keeping the data', async () => {
    const r = await inProcess(['sync', '--config', cfgPath], { ...env, CRM_MYSQL_URL: 'mysql://root:dbpass-93c1@127.0.0.1:1/x' });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('cannot connect to MySQL at mysql://root:***@127.0.0.1:1/x');
    expect(r.out).not.toContain('dbpass-93c1');
    expect((await query(dbPath, 'SELECT count(*) AS n FROM opportunities'))[0].n).toBe('80');
  });
});
