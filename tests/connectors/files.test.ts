/**
 * Excel and CSV sources through the whole path — reader, pipeline, one-transaction loader —
 * into a real DuckDB file. Fixtures are generated here (exceljs writes the workbook); the
 * expected figures are worked out by hand from the rows written below.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import type { CockpitConfig } from '../../src/lib/server/config/schema';
import { runSync, type SyncReport } from '../../connectors/load/sync';
import { readCsv } from '../../connectors/file/csv';
import type { ReaderFactory } from '../../connectors/types';

const dir = mkdtempSync(join(tmpdir(), 'connectors-files-'));
let db: Database;

const HEADER = ['商机编号', '商机名称', '客户名称', '行业', '所在地区', '负责人', '销售阶段', '预计成交金额', '创建日期', '报价日期', '赢单日期', '备注'];

/** A ledger as a sales team keeps it: a merged title row, a unit line, then the table. */
async function writeLedger(path: string, rows: unknown[][]) {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('商机台账');
  ws.addRow(['2024年销售商机台账']);
  ws.mergeCells('A1:L1');
  ws.addRow(['单位：元', null, null, null, null, null, null, null, null, null, '制表：销售运营部']);
  ws.addRow([]);
  ws.addRow(HEADER);
  for (const r of rows) ws.addRow(r);
  // A second sheet the source does not name must be ignored.
  wb.addWorksheet('说明').addRow(['本表由销售运营部维护']);
  await wb.xlsx.writeFile(path);
}

const d = (s: string) => new Date(`${s}T00:00:00Z`);

// Rows 5–13 of the sheet (row 4 is the header).
const FIRST = [
  ['OPP-001', '智慧工厂一期', '上海云帆科技有限公司', '制造', '上海市', '张伟', '方案报价', '¥1,200,000', d('2024-01-10'), '2024/3/5', null, '重点'],
  ['OPP-002', '数据中台', '杭州数联网络', '互联网', '浙江省', '李娜', '赢单', '35万', '2024.1.5', '2024年2月1日', 45356, null],
  [],
  ['OPP-003', '仓储改造', '苏州工业园', '制造', '江苏省', '王芳', '谈判中', 500000, '2024-02-01', null, null, null],
  ['OPP-004', '培训服务', '南京学院', '教育', '江苏省', '王芳', '需求分析', '约十万', '2024-02-03', null, null, null],
  ['OPP-001', '智慧工厂一期', '上海云帆科技有限公司', '制造', '上海市', '张伟', '方案报价', '1,300,000', d('2024-01-10'), '2024/3/5', null, '改价'],
  ['OPP-005', 'ＣＲＭ 实施', ' 上海云帆科技有限公司 ', null, null, '张伟', '初步接洽', '８０００', '2024-03-01', null, null, null],
  ['合计', null, null, null, null, null, null, 2043000, null, null, null, null],
  ['OPP-006', '无阶段', '某客户', null, null, '李娜', null, 1000, '2024-03-02', null, null, null]
];

function config(sources: unknown[]): CockpitConfig {
  const r = parseConfig({ database: join(dir, 'x.duckdb'), sources });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

const ledgerSource = (path: string) => ({
  name: 'ledger',
  type: 'excel',
  entity: 'opportunities',
  path,
  sheet: '商机台账',
  columns: { closed_at: '赢单日期' },
  stage_dates: { 方案报价: '报价日期' }
});

const q = async <R = Record<string, unknown>>(text: string) => (await db.query<R>(text)).rows;

let first: SyncReport;

beforeAll(async () => {
  db = await Database.open(join(dir, 'cockpit.duckdb'));
  await writeLedger(join(dir, 'ledger.xlsx'), FIRST);
  first = await runSync(db, { config: config([ledgerSource('ledger.xlsx')]), baseDir: dir });
});

afterAll(async () => {
  await db?.close();
});

describe('an Excel ledger with title rows, summary rows and bad rows', () => {
  it('finds the header below the title, and reports every row exactly once', () => {
    expect(first.error).toBeNull();
    expect(first.ok).toBe(true);
    const s = first.sources[0];
    // Rows 5–13: 3 distinct deals loaded; blank, summary and the superseded duplicate skipped;
    // unknown stage, bad amount and missing stage rejected.
    expect(s.rows).toBe(9);
    expect([s.loaded, s.updated, s.rejected, s.skipped]).toEqual([3, 0, 3, 3]);
    expect(s.skipped_by).toMatchObject({ blank: 1, summary: 1, duplicate: 1 });
    expect(s.loaded + s.updated + s.rejected + s.skipped).toBe(s.rows);
    expect(s.warnings).toContain('duplicate opportunity_id "OPP-001" in rows 5, 10: row 10 wins, 5 skipped');
    expect(s.warnings.some((w) => w.includes('row 12: summary row "合计" skipped'))).toBe(true);
  });

  it('rejects with row, column, value and reason, and keeps the raw row', async () => {
    const rej = await q<{ row_number: number; field: string; value: string; reason: string; raw: string }>(
      `SELECT row_number::INTEGER AS row_number, field, value, reason, raw::VARCHAR AS raw FROM rejected_rows ORDER BY row_number`
    );
    expect(rej.map((r) => [r.row_number, r.field, r.value])).toEqual([
      [8, 'stage', '谈判中'],
      [9, 'amount', '约十万'],
      [13, 'stage', null]
    ]);
    expect(rej[0].reason).toBe('unknown stage "谈判中"; configured stages: 初步接洽, 需求分析, 方案报价, 商务谈判, 赢单, 输单');
    expect(rej[1].reason).toMatch(/^amount: not an amount/);
    expect(rej[2].reason).toBe('stage is required but empty');
    expect(JSON.parse(rej[0].raw)).toMatchObject({ 商机编号: 'OPP-003', 销售阶段: '谈判中', 预计成交金额: 500000 });
    const runs = await q<{ status: string; rows_loaded: number; rows_rejected: number; rows_skipped: number }>(
      `SELECT status, rows_loaded::INTEGER AS rows_loaded, rows_rejected::INTEGER AS rows_rejected, rows_skipped::INTEGER AS rows_skipped FROM sync_runs`
    );
    expect(runs).toEqual([{ status: 'ok', rows_loaded: 3, rows_rejected: 3, rows_skipped: 3 }]);
  });

  // Columns no field maps are kept in attributes (a stage-date column is used by history).
  it('parses and cleans values, derives status, and keeps unmapped columns', async () => {
    const rows = await q(
      `SELECT opportunity_id, name, customer_id, owner_id, stage, status, amount::DOUBLE AS amount, created_at::VARCHAR AS created_at,
              closed_at::VARCHAR AS closed_at, attributes::VARCHAR AS attributes FROM opportunities ORDER BY 1`
    );
    expect(rows).toEqual([
      { opportunity_id: 'OPP-001', name: '智慧工厂一期', customer_id: '上海云帆科技有限公司', owner_id: '张伟', stage: '方案报价', status: 'open', amount: 1300000, created_at: '2024-01-10 00:00:00', closed_at: null, attributes: '{"备注":"改价"}' },
      { opportunity_id: 'OPP-002', name: '数据中台', customer_id: '杭州数联网络', owner_id: '李娜', stage: '赢单', status: 'won', amount: 350000, created_at: '2024-01-05 00:00:00', closed_at: '2024-03-05 00:00:00', attributes: null },
      { opportunity_id: 'OPP-005', name: 'CRM 实施', customer_id: '上海云帆科技有限公司', owner_id: '张伟', stage: '初步接洽', status: 'open', amount: 8000, created_at: '2024-03-01 00:00:00', closed_at: null, attributes: null }
    ]);
  });

  it('creates the customers and owners the rows describe, with regions normalised', async () => {
    expect(await q(`SELECT customer_id, name, industry, region FROM customers ORDER BY 1`)).toEqual([
      { customer_id: '上海云帆科技有限公司', name: '上海云帆科技有限公司', industry: '制造', region: '上海' },
      { customer_id: '杭州数联网络', name: '杭州数联网络', industry: '互联网', region: '浙江' }
    ]);
    expect(await q(`SELECT user_id, name FROM users ORDER BY 1`)).toEqual([
      { user_id: '张伟', name: '张伟' },
      { user_id: '李娜', name: '李娜' }
    ]);
  });

  it('writes history from the stage-date columns and the close date', async () => {
    const v = await q(
      `SELECT opportunity_id, stage, valid_from::VARCHAR AS valid_from, valid_to::VARCHAR AS valid_to, origin FROM opportunity_versions ORDER BY 1, valid_from`
    );
    expect(v).toEqual([
      { opportunity_id: 'OPP-001', stage: '方案报价', valid_from: '2024-03-05 00:00:00', valid_to: null, origin: 'sync' },
      { opportunity_id: 'OPP-002', stage: '方案报价', valid_from: '2024-02-01 00:00:00', valid_to: '2024-03-05 00:00:00', origin: 'stage_dates' },
      { opportunity_id: 'OPP-002', stage: '赢单', valid_from: '2024-03-05 00:00:00', valid_to: null, origin: 'sync' },
      { opportunity_id: 'OPP-005', stage: '初步接洽', valid_from: '2024-03-01 00:00:00', valid_to: null, origin: 'sync' }
    ]);
    // The derived facts were rebuilt in the same transaction.
    expect(await q(`SELECT count(*)::INTEGER AS n FROM deal_facts`)).toEqual([{ n: 3 }]);
  });
});

describe('a second sync', () => {
  let second: SyncReport;
  let firstSyncWall: string;
  beforeAll(async () => {
    firstSyncWall = (await q<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM opportunity_versions`))[0].n.toString();
    // OPP-001 moves on to 商务谈判 at a new amount; OPP-002 is unchanged; OPP-003 is fixed.
    await writeLedger(join(dir, 'ledger.xlsx'), [
      ['OPP-001', '智慧工厂一期', '上海云帆科技有限公司', '制造', '上海市', '张伟', '商务谈判', '1,250,000', d('2024-01-10'), '2024/3/5', null, null],
      FIRST[1],
      ['OPP-003', '仓储改造', '苏州工业园', '制造', '江苏省', '王芳', '商务谈判', 500000, '2024-02-01', null, null, null]
    ]);
    second = await runSync(db, { config: config([ledgerSource('ledger.xlsx')]), baseDir: dir });
  });

  it('counts new and known deals', () => {
    expect(second.ok).toBe(true);
    const s = second.sources[0];
    expect([s.rows, s.loaded, s.updated, s.rejected, s.skipped]).toEqual([3, 1, 2, 0, 0]);
    expect(firstSyncWall).toBe('4');
  });

  it('closes the changed deal’s version and opens a new one; leaves the unchanged deal alone', async () => {
    const v = await q<{ opportunity_id: string; stage: string; amount: number; valid_from: string; valid_to: string | null; origin: string }>(
      `SELECT opportunity_id, stage, amount::DOUBLE AS amount, valid_from::VARCHAR AS valid_from, valid_to::VARCHAR AS valid_to, origin
       FROM opportunity_versions WHERE opportunity_id IN ('OPP-001', 'OPP-002') ORDER BY 1, valid_from`
    );
    expect(v.filter((x) => x.opportunity_id === 'OPP-002')).toHaveLength(2);
    const o1 = v.filter((x) => x.opportunity_id === 'OPP-001');
    expect(o1).toHaveLength(2);
    expect(o1[0]).toMatchObject({ stage: '方案报价', amount: 1300000, valid_from: '2024-03-05 00:00:00' });
    expect(o1[1]).toMatchObject({ stage: '商务谈判', amount: 1250000, valid_to: null, origin: 'sync' });
    // The old version ends exactly where the new one starts: at this sync.
    expect(o1[0].valid_to).toBe(o1[1].valid_from);
    expect(o1[1].valid_from > '2026-01-01').toBe(true);
  });

  it('keeps deals the source no longer lists', async () => {
    expect(await q(`SELECT opportunity_id FROM opportunities ORDER BY 1`)).toEqual(
      ['OPP-001', 'OPP-002', 'OPP-003', 'OPP-005'].map((opportunity_id) => ({ opportunity_id }))
    );
  });
});

describe('a sync that fails halfway', () => {
  it('leaves the previous data and history intact, and records the error', async () => {
    const snapshot = async () => ({
      opps: await q(`SELECT * FROM opportunities ORDER BY opportunity_id`),
      versions: await q(`SELECT * FROM opportunity_versions ORDER BY opportunity_id, valid_from`),
      customers: await q(`SELECT * FROM customers ORDER BY customer_id`)
    });
    const before = await snapshot();
    const csv = join(dir, 'more.csv');
    writeFileSync(csv, ['商机编号,客户名称,销售阶段,预计成交金额', ...Array.from({ length: 5000 }, (_, i) => `NEW-${i},新客户${i % 50},初步接洽,${1000 + i}`)].join('\n'));
    // A real CSV reader whose source dies after its first batch (a dropped connection).
    const dying: ReaderFactory = async (source, ctx) => {
      const inner = await readCsv(source as never, ctx);
      return {
        ...inner,
        async *batches() {
          let n = 0;
          for await (const b of inner.batches()) {
            if (n++ === 1) throw new Error('connection reset by peer');
            yield b;
          }
        }
      };
    };
    const cfg = config([
      ledgerSource('ledger.xlsx'),
      { name: 'more', type: 'csv', entity: 'opportunities', path: 'more.csv' }
    ]);
    const r = await runSync(db, { config: cfg, baseDir: dir, readers: { csv: dying } });
    expect(r.ok).toBe(false);
    expect(r.error).toBe('connection reset by peer');
    expect(r.sources.map((s) => s.status)).toEqual(['rolled_back', 'failed']);
    expect(await snapshot()).toEqual(before);
    const runs = await q<{ source: string; status: string; error: string }>(
      `SELECT source, status, error FROM sync_runs WHERE status = 'failed' ORDER BY source`
    );
    expect(runs).toEqual([
      { source: 'ledger', status: 'failed', error: 'not loaded: the sync failed (source more) and was rolled back' },
      { source: 'more', status: 'failed', error: 'connection reset by peer' }
    ]);
    // No staging or half-written rows remain.
    expect(await q(`SELECT count(*)::INTEGER AS n FROM opportunities WHERE opportunity_id LIKE 'NEW-%'`)).toEqual([{ n: 0 }]);
  });
});

describe('customers', () => {
  it('merges customers sharing a normalised name or a phone within a sync, and reports it', async () => {
    writeFileSync(
      join(dir, 'customers.csv'),
      '\uFEFF客户编号,客户名称,联系电话,客户级别\n' +
        'C1,ACME Corp,13800000001,重点客户\n' +
        'C2,acme  corp.,13900000002,\n' +
        'C3,Beta Ltd,+86 138-0000-0003,\n' +
        'C4,Beta Limited,13800000003,普通客户\n'
    );
    const r = await runSync(db, {
      config: config([{ name: 'crm', type: 'csv', entity: 'customers', path: 'customers.csv' }]),
      baseDir: dir
    });
    expect(r.ok).toBe(true);
    expect(r.merges).toEqual([
      { from: 'C2', into: 'C1', by: 'name', key: 'acmecorp' },
      { from: 'C4', into: 'C3', by: 'phone', key: '13800000003' }
    ]);
    const s = r.sources[0];
    expect([s.rows, s.loaded, s.rejected, s.skipped, s.skipped_by.merged]).toEqual([4, 2, 0, 2, 2]);
    expect(await q(`SELECT customer_id, name, phone, grade FROM customers WHERE customer_id IN ('C1','C2','C3','C4') ORDER BY 1`)).toEqual([
      // The surviving customer keeps its own values; the merged one fills what it lacks.
      { customer_id: 'C1', name: 'ACME Corp', phone: '13800000001', grade: '重点客户' },
      { customer_id: 'C3', name: 'Beta Ltd', phone: '+86 138-0000-0003', grade: '普通客户' }
    ]);
  });

  it('matches a customer named on an opportunity row to an existing customer by its normalised name', async () => {
    writeFileSync(join(dir, 'deal.csv'), '商机编号,客户名称,销售阶段\nOPP-900,ＡＣＭＥ ＣＯＲＰ,初步接洽\n');
    const r = await runSync(db, { config: config([{ name: 'deal', type: 'csv', entity: 'opportunities', path: 'deal.csv' }]), baseDir: dir });
    expect(r.ok).toBe(true);
    expect(r.merges).toEqual([{ from: 'ACME CORP', into: 'C1', by: 'existing name', key: 'acmecorp' }]);
    expect(await q(`SELECT customer_id FROM opportunities WHERE opportunity_id = 'OPP-900'`)).toEqual([{ customer_id: 'C1' }]);
    expect(await q(`SELECT count(*)::INTEGER AS n FROM customers WHERE customer_id = 'ACME CORP'`)).toEqual([{ n: 0 }]);
  });

  it('lets a customer source with ids adopt a customer the ledger knew only by name', async () => {
    writeFileSync(join(dir, 'crm.csv'), '客户编号,客户名称,行业\nC9,上海云帆科技有限公司,制造业\n');
    const r = await runSync(db, { config: config([{ name: 'crm2', type: 'csv', entity: 'customers', path: 'crm.csv' }]), baseDir: dir });
    expect(r.ok).toBe(true);
    expect(r.merges).toEqual([{ from: '上海云帆科技有限公司', into: 'C9', by: 'existing name', key: '上海云帆科技有限公司' }]);
    expect(await q(`SELECT opportunity_id, customer_id FROM opportunities WHERE opportunity_id IN ('OPP-001', 'OPP-005') ORDER BY 1`)).toEqual([
      { opportunity_id: 'OPP-001', customer_id: 'C9' },
      { opportunity_id: 'OPP-005', customer_id: 'C9' }
    ]);
    expect(await q(`SELECT count(*)::INTEGER AS n FROM customers WHERE customer_id = '上海云帆科技有限公司'`)).toEqual([{ n: 0 }]);
  });
});

describe('a workbook read whole', () => {
  it('reads every sheet with a table and skips a notes sheet with a warning', async () => {
    const wb = new ExcelJS.Workbook();
    const notes = wb.addWorksheet('说明');
    notes.addRow(['本表由销售运营部维护，请勿修改表头']);
    notes.addRow(['金额单位：元']);
    const a = wb.addWorksheet('华东');
    a.addRow(['商机编号', '销售阶段', '预计成交金额']);
    a.addRow(['W-1', '初步接洽', 100]);
    const b = wb.addWorksheet('华南');
    b.addRow(['商机编号', '销售阶段', '预计成交金额']);
    b.addRow(['W-2', '需求分析', 200]);
    b.addRow(['W-3', '需求分析', 300]);
    await wb.xlsx.writeFile(join(dir, 'regions.xlsx'));
    const r = await runSync(db, { config: config([{ name: 'regions', type: 'excel', entity: 'opportunities', path: 'regions.xlsx' }]), baseDir: dir });
    expect(r.ok).toBe(true);
    const s = r.sources[0];
    expect([s.rows, s.loaded, s.rejected, s.skipped, s.skipped_by.unmapped]).toEqual([4, 3, 0, 1, 1]);
    expect(s.warnings[0]).toBe('sheet "说明" (columns 本表由销售运营部维护，请勿修改表头) was skipped: no column maps to a field');
    expect(await q(`SELECT opportunity_id, amount::DOUBLE AS amount FROM opportunities WHERE opportunity_id LIKE 'W-%' ORDER BY 1`)).toEqual([
      { opportunity_id: 'W-1', amount: 100 },
      { opportunity_id: 'W-2', amount: 200 },
      { opportunity_id: 'W-3', amount: 300 }
    ]);
  });
});

// The GBK fixture is a committed file: TextEncoder cannot write GBK.
describe('a GBK CSV as Chinese Excel saves it', () => {
  it('is decoded, mapped automatically, and its amounts and regions cleaned', async () => {
    copyFileSync(join(import.meta.dirname, '../fixtures/deals-gbk.csv'), join(dir, '商机.csv'));
    const r = await runSync(db, { config: config([{ name: 'gbk', type: 'csv', entity: 'opportunities', path: '商机.csv' }]), baseDir: dir });
    expect(r.ok).toBe(true);
    expect(r.sources[0]).toMatchObject({ rows: 2, loaded: 2, rejected: 0 });
    expect(Object.fromEntries(r.sources[0].mapping.map((m) => [m.field, m.column]))).toEqual({
      customer_name: '客户名称',
      stage: '销售阶段',
      amount: '预计成交金额',
      customer_region: '所在地区',
      owner_id: '负责人',
      opportunity_id: '商机编号'
    });
    expect(await q(`SELECT opportunity_id, amount::DOUBLE AS amount, o.customer_id, c.region FROM opportunities o JOIN customers c USING (customer_id) WHERE opportunity_id LIKE 'GBK-%' ORDER BY 1`)).toEqual([
      // ￥1,200,000 and 35万; the first customer was adopted by C9 above, matched by its name.
      { opportunity_id: 'GBK-001', amount: 1200000, customer_id: 'C9', region: '上海' },
      { opportunity_id: 'GBK-002', amount: 350000, customer_id: '杭州数联网络', region: '浙江' }
    ]);
  });
});

