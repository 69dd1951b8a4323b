/**
 * `cockpit import`, `cockpit rejected` and `cockpit sync` as a user runs them: real files, real
 * database files; and a sync handed to a running server. Each command runs as a real process
 * (`cockpit`) at least once; the other runs are in-process (`cockpitIn`, tests/helpers/cli.ts:
 * the same main(), ~1 CPU s less per run).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cockpit, ROOT, startServer } from '../helpers/global-setup';
import { cockpitIn } from '../helpers/cli';
import type { ChildProcess } from 'node:child_process';

const dir = mkdtempSync(join(tmpdir(), 'connectors-cli-'));

async function writeXlsx(path: string, rows: unknown[][]) {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Deals');
  for (const r of rows) ws.addRow(r);
  await wb.xlsx.writeFile(path);
}

async function readXlsx(path: string): Promise<unknown[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const out: unknown[][] = [];
  wb.worksheets[0].eachRow((row) => out.push((row.values as unknown[]).slice(1)));
  return out;
}

describe('cockpit import and cockpit rejected', () => {
  const db = join(dir, 'import.duckdb');

  it('imports a workbook by automatic mapping, prints the mapping, and reports rejected rows', async () => {
    await writeXlsx(join(dir, 'deals.xlsx'), [
      ['Opportunity ID', 'Account', 'Owner', 'Stage', 'Amount', 'Close Date', 'Notes'],
      ['D-1', 'Acme', 'Ann', '方案报价', 12000, '2024-05-01', 'ok'],
      ['D-2', 'Beta', 'Bob', 'Negotiation', 5000, '2024-05-02', 'stage from another CRM'],
      ['D-3', 'Gamma', 'Ann', '赢单', '12k?', '2024-05-03', 'typo in amount'],
      ['D-4', 'Delta', 'Bob', '初步接洽', 800, 'soon', 'bad date']
    ]);
    const r = cockpit(['import', join(dir, 'deals.xlsx'), '--entity', 'opportunities', '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('rows 4: loaded 1, updated 0, rejected 3, skipped 0');
    expect(r.stdout).toMatch(/customer_name\s+← Account {2}\(auto\)/);
    expect(r.stdout).toMatch(/expected_close_date\s+← Close Date {2}\(auto\)/);
    expect(r.stdout).toContain('kept in attributes: Notes');
    expect(r.stdout).toContain('rejected: sheet "Deals", row 3, column "Stage", value "Negotiation": unknown stage "Negotiation"; configured stages: 初步接洽, 需求分析, 方案报价, 商务谈判, 赢单, 输单');
    expect(r.stdout).toContain('rejected: sheet "Deals", row 4, column "Amount", value "12k?": amount: not an amount');
    expect(r.stdout).toContain('rejected: sheet "Deals", row 5, column "Close Date", value "soon": expected_close_date: not a date');
  });

  it('exports the rejected rows in their original columns; fixed, they import again', async () => {
    const out = join(dir, 'rejected.xlsx');
    const ex = cockpit(['rejected', '--out', out, '--db', db]);
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stdout).toContain('3 rejected rows');
    const rows = await readXlsx(out);
    expect(rows[0]).toEqual([
      'Opportunity ID', 'Account', 'Owner', 'Stage', 'Amount', 'Close Date', 'Notes',
      'cockpit_source', 'cockpit_sheet', 'cockpit_row', 'cockpit_column', 'cockpit_field', 'cockpit_reason', 'cockpit_reason_zh'
    ]);
    // ExcelJS reads an empty cell (no sheet: a single-sheet import names it) as undefined.
    expect(rows.slice(1).map((r) => r.slice(0, 12))).toEqual([
      ['D-2', 'Beta', 'Bob', 'Negotiation', 5000, '2024-05-02', 'stage from another CRM', 'import-deals.xlsx', 'Deals', 3, 'Stage', 'stage'],
      ['D-3', 'Gamma', 'Ann', '赢单', '12k?', '2024-05-03', 'typo in amount', 'import-deals.xlsx', 'Deals', 4, 'Amount', 'amount'],
      ['D-4', 'Delta', 'Bob', '初步接洽', 800, 'soon', 'bad date', 'import-deals.xlsx', 'Deals', 5, 'Close Date', 'expected_close_date']
    ]);
    // The user fixes the three cells and imports the file again.
    rows[1][3] = '商务谈判';
    rows[2][4] = 12000;
    rows[3][5] = '2024-06-30';
    await writeXlsx(join(dir, 'fixed.xlsx'), rows);
    const again = await cockpitIn(['import', join(dir, 'fixed.xlsx'), '--entity', 'opportunities', '--db', db, '--json']);
    expect(again.status, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.sources[0]).toMatchObject({ rows: 3, loaded: 3, updated: 0, rejected: 0, skipped: 0 });
    // The helper columns are not data.
    expect(report.sources[0].unmapped).toEqual(['Notes']);
  });

  it('a CSV export works the same way', async () => {
    writeFileSync(join(dir, 'bad.csv'), '商机编号,销售阶段,预计成交金额\nX-1,不存在的阶段,100\n');
    const imp = await cockpitIn(['import', join(dir, 'bad.csv'), '--entity', 'opportunities', '--db', db]);
    // Nothing could be loaded: the import fails.
    expect(imp.status).toBe(1);
    const out = join(dir, 'rejected.csv');
    expect((await cockpitIn(['rejected', '--out', out, '--db', db])).status).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(
      '\uFEFF商机编号,销售阶段,预计成交金额,cockpit_source,cockpit_sheet,cockpit_row,cockpit_column,cockpit_field,cockpit_reason,cockpit_reason_zh\r\n' +
        'X-1,不存在的阶段,100,import-bad.csv,,2,销售阶段,stage,"unknown stage ""不存在的阶段""; configured stages: 初步接洽, 需求分析, 方案报价, 商务谈判, 赢单, 输单","未知阶段""不存在的阶段""；已配置的阶段：初步接洽、需求分析、方案报价、商务谈判、赢单、输单"\r\n'
    );
  });

  it('explains wrong usage', async () => {
    const badMap = await cockpitIn(['import', join(dir, 'bad.csv'), '--entity', 'opportunities', '--map', 'amout=金额', '--db', db]);
    expect(badMap.status).toBe(2);
    expect(badMap.stderr).toContain('--map: unknown field "amout" for opportunities; did you mean "amount"?');
  });
});

/** The Maven CRM sample, counted independently of the connector: by splitting the CSV. */
function mavenCounts() {
  const lines = readFileSync(join(ROOT, 'tests/fixtures/maven-crm/sales_pipeline.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  const byStage: Record<string, number> = {};
  let wonValue = 0;
  let engaged = 0;
  for (const l of lines) {
    const [, , , , stage, engage, , value] = l.split(',');
    byStage[stage] = (byStage[stage] ?? 0) + 1;
    if (stage === 'Won') wonValue += Number(value);
    if (engage && (stage === 'Won' || stage === 'Lost')) engaged++;
  }
  return { total: lines.length, byStage, wonValue, engaged };
}

describe('cockpit sync with the Maven CRM example', () => {
  const db = join(dir, 'maven.duckdb');
  const config = join(ROOT, 'examples/maven/cockpit.config.json');
  let server: { url: string; child: ChildProcess; output: () => string } | null = null;

  afterAll(async () => {
    if (server) {
      server.child.kill('SIGTERM');
      await new Promise((r) => server!.child.once('exit', r));
    }
  });

  it('loads every opportunity, customer and rep, and builds their history', async () => {
    const r = cockpit(['sync', '--config', config, '--db', db, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const expected = mavenCounts();
    expect(report.sources.map((s: { source: string; loaded: number; rejected: number }) => [s.source, s.loaded, s.rejected])).toEqual([
      ['maven-teams', 35, 0],
      ['maven-accounts', 85, 0],
      ['maven-pipeline', expected.total, 0]
    ]);
    expect(expected.total).toBe(8800);
    // A read-only look at the file, as another tool would.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
    const c = await inst.connect();
    const rows = async (sqlText: string) => (await c.runAndReadAll(sqlText)).getRowObjectsJson();
    expect(await rows(`SELECT stage, count(*)::INTEGER AS n FROM opportunities GROUP BY 1 ORDER BY 1`)).toEqual(
      Object.entries(expected.byStage)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([stage, n]) => ({ stage, n }))
    );
    expect(await rows(`SELECT sum(amount)::DOUBLE AS v FROM opportunities WHERE status = 'won'`)).toEqual([{ v: expected.wonValue }]);
    // engage_date = entry into Engaging: one stage-date version per closed deal that was engaged.
    expect(await rows(`SELECT count(*)::INTEGER AS n FROM opportunity_versions WHERE origin = 'stage_dates' AND stage = 'Engaging'`)).toEqual([{ n: expected.engaged }]);
    // Teams: managers under their regional offices.
    expect(await rows(`SELECT team_id, parent_id FROM teams WHERE team_id = 'Dustin Brinkmann'`)).toEqual([{ team_id: 'Dustin Brinkmann', parent_id: 'Central' }]);
    c.closeSync();
    inst.closeSync();
  });

  it('names a misspelt source', async () => {
    const r = await cockpitIn(['sync', '--config', config, '--db', db, '--source', 'maven-pipelin']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no source named "maven-pipelin"; did you mean "maven-pipeline"?');
  });

  it('hands the sync to the server that holds the database, which requires an executive token', async () => {
    const secret = 'connectors-cli-test-secret-0123456789abcdef';
    server = await startServer(['--config', config, '--db', db, '--no-demo'], { COCKPIT_SECRET: secret });
    // Without the secret the CLI cannot sign a token: the server refuses and the CLI says why.
    const refused = await cockpitIn(['sync', '--config', config, '--db', db], { COCKPIT_SECRET: '' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('held by the running server');
    expect(refused.stderr).toContain('refused the sync (unauthorized');
    const res = await fetch(`${server.url}/api/sync`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    // With it, the server runs the sync and the CLI prints its report.
    const ok = cockpit(['sync', '--config', config, '--db', db, '--json'], { COCKPIT_SECRET: secret });
    expect(ok.status, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report.sources.map((s: { updated: number }) => s.updated)).toEqual([35, 85, 8800]);
    const status = await (await fetch(`${server.url}/api/status`)).json();
    expect(Date.parse(status.last_synced_at)).toBeGreaterThanOrEqual(Date.parse(report.started_at) - 1000);
  });

  it('runs one sync at a time: a request during a sync joins it', async () => {
    const { signToken } = await import('../../src/lib/server/auth/sign');
    const token = await signToken({
      secret: 'connectors-cli-test-secret-0123456789abcdef',
      audience: 'crm-cockpit',
      issuer: 'crm-cockpit',
      ttlSeconds: 600,
      claims: { sub: 'test', role: 'executive' }
    });
    const post = () => fetch(`${server!.url}/api/sync`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.json());
    const [a, b] = await Promise.all([post(), post()]);
    expect([a.joined, b.joined].sort()).toEqual([false, true]);
    expect(a.report.sources[0].run_id).toBe(b.report.sources[0].run_id);
  });
});
