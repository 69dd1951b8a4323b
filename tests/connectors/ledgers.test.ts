/**
 * A sales ledger as Chinese teams keep it (issue 12), through `cockpit import`, `cockpit sync`
 * and `cockpit rejected` as a user runs them: a title row, a 单位：万元 line, a merged two-level
 * header, yyyymmdd numbers, 年月日 and short dates, Excel serials, 万 amounts, full-width digits,
 * 小计/合计 and blank rows, a 回款 sheet beside the deals and a notes sheet. Expected values are
 * worked out by hand from the cells written below. The first import and the sync run the real
 * binary; the other commands run the same main() in-process (`cockpitIn`, tests/helpers/cli.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { cockpit } from '../helpers/global-setup';
import { cockpitIn } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'ledgers-'));
const BOOK = join(dir, '华南销售台账2025.xlsx');

/** The deals sheet's table below its header (rows 5 …). */
const DEALS: unknown[][] = [
  // row 5: 120 in a 万元 sheet is ¥1,200,000; 20250115 a yyyymmdd number; 2025年4月15日.
  ['OPP-1', '广州云帆科技有限公司', '张伟', '方案报价', 120, 20250115, '2025年4月15日', null, '重点'],
  // row 6: 12万 names its own unit (¥120,000); 2025.2.3; 25/3/1 (ymd); 2025/3/10.
  ['OPP-2', '深圳数联', '李娜', '赢单', '12万', '2025.2.3', '25/3/1', '2025/3/10', null],
  // row 7: blank
  [],
  // row 8: full-width 1，200 (万) = ¥12,000,000; Excel serial 45672 = 2025-01-15.
  ['OPP-3', '佛山工业园', '王芳', '商务谈判', '１，２００', 45672, 20250630, null, null],
  // row 9: a subtotal
  [null, '华南一组小计', null, null, 1332, null, null, null, null],
  // row 10: 20250230 is no date → rejected with sheet, row, column and value.
  ['OPP-4', '东莞制造', '张伟', '初步接洽', '￥35.5万', 20250230, null, null, null],
  // row 11: a year 2205 expected close date is outside the plausible range → rejected.
  ['OPP-5', '珠海科技', '李娜', '需求分析', 80, 20250301, '2205-01-01', null, null],
  // row 12: the total
  ['合计', null, null, null, 1567.5, null, null, null, null]
];

async function writeBook() {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('商机台账');
  ws.addRow(['华南区销售台账（2025年）']);
  ws.mergeCells('A1:I1');
  ws.addRow(['单位：万元', null, null, null, null, null, null, null, '制表：销售运营部']);
  // A two-level header: 日期 spans 创建 / 预计成交 / 赢单/输单; the others are merged down.
  ws.addRow(['商机编号', '客户名称', '负责人', '销售阶段', '预计成交金额', '日期', null, null, '备注']);
  ws.addRow([null, null, null, null, null, '创建', '预计成交', '赢单/输单', null]);
  for (const c of ['A', 'B', 'C', 'D', 'E', 'I']) ws.mergeCells(`${c}3:${c}4`);
  ws.mergeCells('F3:H3');
  for (const r of DEALS) ws.addRow(r);
  const pay = wb.addWorksheet('回款');
  pay.addRow(['回款编号', '合同编号', '客户名称', '回款金额（元）', '实际回款日期']);
  pay.addRow(['P-1', 'OPP-2', '深圳数联科技', 50000, 20250320]);
  pay.addRow(['P-2', 'OPP-9', '未知客户', 1000, 20250321]);
  wb.addWorksheet('说明').addRow(['本表由销售运营部维护，金额单位万元']);
  await wb.xlsx.writeFile(BOOK);
}

async function query<R>(db: string, text: string): Promise<R[]> {
  const d = await Database.open(db);
  try {
    return (await d.query<R>(text)).rows;
  } finally {
    await d.close();
  }
}

type Deal = { id: string; amount: number; created: string | null; expected: string | null; closed: string | null; customer: string };
const DEALS_SQL = `SELECT o.opportunity_id AS id, o.amount::DOUBLE AS amount, o.created_at::VARCHAR AS created, o.expected_close_date::VARCHAR AS expected,
  o.closed_at::VARCHAR AS closed, c.name AS customer FROM opportunities o JOIN customers c USING (customer_id) ORDER BY 1`;

/** The values worked out by hand from DEALS. */
const EXPECTED: Deal[] = [
  { id: 'OPP-1', amount: 1_200_000, created: '2025-01-15 00:00:00', expected: '2025-04-15', closed: null, customer: '广州云帆科技有限公司' },
  { id: 'OPP-2', amount: 120_000, created: '2025-02-03 00:00:00', expected: '2025-03-01', closed: '2025-03-10 00:00:00', customer: '深圳数联' },
  { id: 'OPP-3', amount: 12_000_000, created: '2025-01-15 00:00:00', expected: '2025-06-30', closed: null, customer: '佛山工业园' }
];

beforeAll(async () => {
  await writeBook();
});

describe('cockpit import of a Chinese sales ledger', () => {
  const db = join(dir, 'import.duckdb');

  it('reads the deals sheet only, with units, dates and merged headers applied, and names the sheet of every rejected row', async () => {
    const r = cockpit(['import', BOOK, '--entity', 'opportunities', '--db', db, '--json']);
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    expect(r.stderr).toContain('sheets read as opportunities: "商机台账"');
    expect(r.stderr).toMatch(/not read: "回款" \(it looks like payments/);
    const rep = JSON.parse(r.stdout);
    const s = rep.sources[0];
    // The source keeps its Chinese name.
    expect(s.source).toBe('import-华南销售台账2025.xlsx');
    // Rows 5–12: 3 loaded, 2 rejected, blank + 小计 + 合计 skipped.
    expect([s.rows, s.loaded, s.rejected, s.skipped]).toEqual([8, 3, 2, 3]);
    expect(s.skipped_by).toMatchObject({ blank: 1, summary: 2 });
    const byField = Object.fromEntries(s.mapping.map((m: { field: string; column: string }) => [m.field, m.column]));
    expect(byField).toMatchObject({ created_at: '创建日期', expected_close_date: '预计成交日期', closed_at: '赢单/输单日期', amount: '预计成交金额' });
    expect(s.mapping.find((m: { field: string }) => m.field === 'amount')).toMatchObject({ unit: '万元', unit_from: 'unit line' });
    expect(s.rejections.map((j: Record<string, unknown>) => [j.sheet, j.row, j.column, j.value])).toEqual([
      ['商机台账', 10, '创建日期', '20250230'],
      ['商机台账', 11, '预计成交日期', '2205-01-01']
    ]);
    expect(await query<Deal>(db, DEALS_SQL)).toEqual(EXPECTED);
    const rej = await query<{ sheet: string; row_number: number; column_name: string; value: string }>(
      db,
      `SELECT sheet, row_number::INTEGER AS row_number, column_name, value FROM rejected_rows ORDER BY row_number`
    );
    expect(rej).toEqual([
      { sheet: '商机台账', row_number: 10, column_name: '创建日期', value: '20250230' },
      { sheet: '商机台账', row_number: 11, column_name: '预计成交日期', value: '2205-01-01' }
    ]);
  });

  it('payments: the 回款 sheet is picked, a payment of an unknown contract is rejected, not given an invented customer', async () => {
    const r = await cockpitIn(['import', BOOK, '--entity', 'payments', '--db', db, '--json']);
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    const s = JSON.parse(r.stdout).sources[0];
    expect([s.rows, s.loaded, s.rejected]).toEqual([2, 1, 1]);
    expect(s.rejections[0]).toMatchObject({ sheet: '回款', row: 3, column: '合同编号', value: 'OPP-9' });
    const pays = await query<{ payment_id: string; customer: string; amount: number; paid_at: string }>(
      db,
      `SELECT p.payment_id, c.name AS customer, p.amount::DOUBLE AS amount, p.paid_at::VARCHAR AS paid_at FROM payments p JOIN customers c USING (customer_id)`
    );
    // The payment belongs to OPP-2's customer (深圳数联), although the sheet spells it 深圳数联科技.
    expect(pays).toEqual([{ payment_id: 'P-1', customer: '深圳数联', amount: 50000, paid_at: '2025-03-20' }]);
    const names = await query<{ name: string }>(db, `SELECT name FROM customers ORDER BY name`);
    expect(names.map((n) => n.name)).not.toContain('未知客户');
    expect(names.map((n) => n.name)).not.toContain('深圳数联科技');
  });

  it('a workbook with no sheet for the entity is refused with the sheets listed', async () => {
    const r = await cockpitIn(['import', BOOK, '--entity', 'targets', '--db', db]);
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(2);
    expect(r.stderr).toContain('no sheet holds targets');
    expect(r.stderr).toContain('sheets: 商机台账, 回款, 说明');
  });

  it('the same table as a GBK CSV reads to the same values (one set of rules)', async () => {
    const lines = [
      '华南区销售台账（2025年）',
      '单位：万元',
      '商机编号,客户名称,负责人,销售阶段,预计成交金额,日期,,,备注',
      ',,,,,创建,预计成交,赢单/输单,',
      ...DEALS.map((r) => r.map((v) => (v === null || v === undefined ? '' : /[,"]/.test(String(v)) ? `"${v}"` : String(v))).join(','))
    ];
    // The serial 45672 stays a number in the CSV too.
    const csv = join(dir, '华南台账.csv');
    writeFileSync(csv, iconv.encode(lines.join('\r\n') + '\r\n', 'gbk'));
    const db2 = join(dir, 'csv.duckdb');
    const r = await cockpitIn(['import', csv, '--entity', 'opportunities', '--db', db2, '--json']);
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    const s = JSON.parse(r.stdout).sources[0];
    expect([s.loaded, s.rejected, s.skipped]).toEqual([3, 2, 3]);
    expect(s.rejections.map((j: Record<string, unknown>) => [j.row, j.column, j.value])).toEqual([
      [10, '创建日期', '20250230'],
      [11, '预计成交日期', '2205-01-01']
    ]);
    expect(await query<Deal>(db2, DEALS_SQL)).toEqual(EXPECTED);
  });
});

describe('cockpit sync of the ledger and cockpit rejected --out', () => {
  it('syncs both sheets as two sources, and exports every source’s rejected rows of the run', async () => {
    const cfg = join(dir, 'cockpit.config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        database: 'sync.duckdb',
        sources: [
          { name: '华南回款', type: 'excel', entity: 'payments', path: '华南销售台账2025.xlsx', sheet: '回款' },
          { name: '华南台账', type: 'excel', entity: 'opportunities', path: '华南销售台账2025.xlsx' }
        ]
      })
    );
    const r = cockpit(['sync', '--config', cfg, '--json']);
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.sources.map((s: { source: string; loaded: number; rejected: number }) => [s.source, s.loaded, s.rejected])).toEqual([
      ['华南回款', 1, 1],
      ['华南台账', 3, 2]
    ]);
    const out = join(dir, 'rejected.xlsx');
    const ex = await cockpitIn(['rejected', '--config', cfg, '--out', out]);
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stdout).toContain('3 rejected rows');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(out);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['华南台账 商机台账', '华南回款 回款']);
    const pay = wb.getWorksheet('华南回款 回款')!;
    // Headers as the sheet writes them.
    expect((pay.getRow(1).values as unknown[]).slice(1)).toEqual([
      '回款编号', '合同编号', '客户名称', '回款金额（元）', '实际回款日期',
      'cockpit_source', 'cockpit_sheet', 'cockpit_row', 'cockpit_column', 'cockpit_field', 'cockpit_reason', 'cockpit_reason_zh'
    ]);
    expect((pay.getRow(2).values as unknown[]).slice(1, 11)).toEqual(['P-2', 'OPP-9', '未知客户', 1000, 20250321, '华南回款', '回款', 3, '合同编号', 'opportunity_id']);
  });
});
