/**
 * The SQL path for xlsx files (connectors/load/xlsx-sql.ts: our reader's raw cells appended to
 * DuckDB, cleaned by the SQL part shared with CSV) against the JS path it replaces: each
 * workbook imported both ways into two DuckDB files; every canonical table, the history, the
 * rejected rows and the report must be identical, and the path expected must have run.
 *
 * The workbooks: the held-out South-China ledger (two-level merged header, 万元 header units,
 * yyyymmdd numbers, Excel date cells, summary and footnote rows, several sheets, a notes and a
 * pivot sheet), read by its own config's sheet and whole; and ledgers written here with every
 * kind of cell the reader gives (text, numbers — whole, fractional, negative, serials, yyyymmdd
 * —, dates, booleans) in every kind of column, title and unit lines, blank rows the sheet does
 * not have, rows wider than the header, and sheets a workbook read whole skips.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../warehouse/prng';
import { expectSameImport, importOnce, type Imported } from '../helpers/both-paths';

const ROOT = resolve(import.meta.dirname, '../..');
const HELDOUT_DIR = join(ROOT, 'tests/fixtures/heldout');
const dir = mkdtempSync(join(tmpdir(), 'xlsx-sql-'));

/** Deterministic pseudo-random numbers (the demo's and the forecast's mulberry32). */
const rng = mulberry32;

const HEAD = ['商机编号', '商机名称', '客户名称', '负责人', '销售阶段', '预计成交金额', '币种', '赢率', '预测类别', '创建日期', '预计成交日期', '赢单/输单日期', '所在地区', '备注', '2024', '折扣', '最近跟进'];
const d = (y: number, m: number, day: number) => new Date(Date.UTC(y, m - 1, day));

/** A messy deals sheet: every cell kind in every kind of column, skips, rejections, gaps. */
function messyRows(n: number, seed: number): { row: number; cells: unknown[] }[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const stages = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单', ' 赢单 ', '签约', '未知阶段', '', 3];
  const amounts: unknown[] = [12, 3.5, -2, 0, 1234.565, 0.005, 1e-7, '12', '1,200.50', '¥3.5万', '120000元', '１２', '(5)', '-', 'N/A', '', 'abc', '2亿', ' 8 ', true, d(2024, 3, 5)];
  const dates: unknown[] = [d(2024, 3, 5), d(2023, 12, 31), new Date(Date.UTC(2024, 2, 5, 10, 20, 30)), d(1960, 1, 1), d(2150, 1, 1), 45000, 45000.5, 20240305, 20241345, 12, -3, '2024-03-05', '2024/3/5', '2024年3月5日', '20240305', '45000', '', '-', '2024-03-05 10:20:30', false];
  const names: unknown[] = ['上海某某科技有限公司', ' 杭州 云端 ', 'ＡＢＣ公司', "O'Brien & Co", '客户"引号"', '多行\n客户', '', '北京（集团）', 12345, 1.5, d(2024, 1, 2)];
  const owners: unknown[] = ['张伟', '李娜', ' 王 芳 ', '', 'u1', 7, true];
  const regions: unknown[] = ['上海市', '浙江省', '广东', '新疆维吾尔自治区', '', '　', 310000];
  const fcs: unknown[] = ['pipeline', 'Best Case', 'commit', 'omitted', '', 'maybe', 1];
  const probs: unknown[] = ['30%', 0.4, 55, '', 120, 'x', -0.1, 1];
  const currencies: unknown[] = ['', '', 'CNY', 'cny', 'USD', 'ß', 0];
  const notes: unknown[] = ['', '', 'VIP', 'tab\there', 'bell\u0007', '"quoted"', 'a\\b', '第二行\n第三行', 1.25, 3, -0.5, 1e21, 123456789.125, d(2024, 5, 6), true, false];
  const out: { row: number; cells: unknown[] }[] = [];
  let row = 3;
  for (let i = 1; i <= n; i++) {
    row++;
    const k = r();
    if (k < 0.01) {
      row++; // a row the sheet does not have: blank
      continue;
    }
    if (k < 0.015) {
      out.push({ row, cells: ['  ', null, '\u3000'] });
      continue;
    }
    if (k < 0.025) {
      out.push({ row, cells: ['合计', null, null, null, null, Math.floor(r() * 1000)] });
      continue;
    }
    if (k < 0.03) {
      out.push({ row, cells: ['注：金额单位为万元'] });
      continue;
    }
    if (k < 0.035) {
      out.push({ row, cells: [null, '华南区小计', null, null, null, 99] });
      continue;
    }
    const id = r() < 0.01 ? null : r() < 0.05 ? `D-${Math.floor(r() * n)}` : r() < 0.05 ? 100000 + i : `D-${i}`;
    const cells: unknown[] = [id, `商机${i}`, pick(names), pick(owners), pick(stages), pick(amounts), pick(currencies), pick(probs), pick(fcs), pick(dates), pick(dates), pick(dates), pick(regions), pick(notes), r() < 0.5 ? i : r() < 0.5 ? i + 0.25 : null, pick(notes), pick(dates)];
    // A cell right of the header: the JS row shaper keeps it as column_N.
    if (r() < 0.01) cells[HEAD.length + 2] = r() < 0.5 ? 'extra' : 42;
    out.push({ row, cells });
  }
  out.push({ row: row + 1, cells: ['总计', null, null, null, null, 9999] });
  return out;
}

/** Writes rows at their row numbers (null cells left empty; dates with a date format). */
function fill(ws: ExcelJS.Worksheet, rows: { row: number; cells: unknown[] }[]) {
  for (const { row, cells } of rows) {
    const x = ws.getRow(row);
    cells.forEach((v, c) => {
      if (v === null || v === undefined) return;
      const cell = x.getCell(c + 1);
      cell.value = v as ExcelJS.CellValue;
      if (v instanceof Date) cell.numFmt = 'yyyy-mm-dd';
    });
    x.commit();
  }
}

function clean(n: number): { row: number; cells: unknown[] }[] {
  const stages = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
  const out: { row: number; cells: unknown[] }[] = [{ row: 1, cells: ['商机编号', '客户名称', '负责人', '销售阶段', '预计成交金额', '创建日期', '所在地区'] }];
  for (let i = 1; i <= n; i++) out.push({ row: i + 1, cells: [`OPP-${i}`, `客户${i % 200}`, `销售${i % 30}`, stages[i % 6], 1000 + ((i * 7919) % 900000), `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`, ['上海市', '浙江省'][i % 2]] });
  return out;
}

async function writeBook(file: string, sheets: { name: string; rows: { row: number; cells: unknown[] }[]; merges?: string[] }[]) {
  const wb = new ExcelJS.Workbook();
  for (const s of sheets) {
    const ws = wb.addWorksheet(s.name);
    fill(ws, s.rows);
    for (const m of s.merges ?? []) ws.mergeCells(m);
  }
  await wb.xlsx.writeFile(join(dir, file));
}

interface Case {
  name: string;
  file: string;
  source: Record<string, unknown>;
  extra?: Record<string, unknown>;
  path: 'sql' | 'js';
}

const heldoutConfig = JSON.parse(readFileSync(join(HELDOUT_DIR, 'cockpit.config.json'), 'utf8'));
const heldoutDeals = heldoutConfig.sources.find((s: { name: string }) => s.name === 'ledger-opportunities');
const HELDOUT_FILE = join(HELDOUT_DIR, '华南销售台账2025.xlsx');

const CASES: Case[] = [
  { name: 'clean', file: 'clean.xlsx', source: {}, path: 'sql' },
  { name: 'messy, title and unit lines', file: 'messy.xlsx', source: { stage_map: { 签约: '赢单' } }, path: 'sql' },
  {
    name: 'messy with options',
    file: 'messy2.xlsx',
    source: { id_prefix: 'x:', date_order: 'dmy', date_range: ['2000-01-01', '2030-12-31'], defaults: { currency: 'CNY', probability: '0.5' }, units: { amount: '元' } },
    extra: { fx: { USD: { default: 7.1 } } },
    path: 'sql'
  },
  { name: 'held-out ledger, its sheet', file: HELDOUT_FILE, source: { ...heldoutDeals, path: HELDOUT_FILE }, extra: { stages: heldoutConfig.stages }, path: 'sql' },
  { name: 'held-out ledger read whole (notes, payments, targets and pivot sheets skipped)', file: HELDOUT_FILE, source: { ...heldoutDeals, sheet: undefined, path: HELDOUT_FILE }, extra: { stages: heldoutConfig.stages }, path: 'sql' },
  { name: 'held-out ledger read whole by aliases', file: HELDOUT_FILE, source: { path: HELDOUT_FILE, stage_map: { 需求确认: '需求分析' } }, path: 'sql' },
  { name: 'several sheets: notes, two deal sheets, a summary and a payments sheet', file: 'sheets.xlsx', source: {}, path: 'sql' },
  { name: 'several sheets, named', file: 'sheets.xlsx', source: { sheet: ['商机二', '商机'] }, path: 'sql' },
  { name: 'several sheets, the first without records (the report names the second sheet\'s mapping)', file: 'first-empty.xlsx', source: {}, path: 'sql' },
  { name: 'stage dates (JS path)', file: 'clean.xlsx', source: { stage_dates: { 赢单: '创建日期' } }, path: 'js' },
  { name: 'an empty sheet (JS path)', file: 'empty.xlsx', source: {}, path: 'js' }
];


beforeAll(async () => {
  await writeBook('clean.xlsx', [{ name: '商机', rows: clean(3000) }]);
  const title = [
    { row: 1, cells: ['2024年商机台账'] },
    { row: 2, cells: ['单位：万元'] },
    { row: 3, cells: HEAD }
  ];
  await writeBook('messy.xlsx', [{ name: '商机台账', rows: [...title, ...messyRows(3000, 7)], merges: ['A1:F1'] }]);
  await writeBook('messy2.xlsx', [{ name: '商机台账', rows: [...title, ...messyRows(2000, 11)] }]);
  const notes = [
    { row: 1, cells: ['填写说明'] },
    { row: 2, cells: ['1. 金额单位为万元'] },
    { row: 3, cells: ['2. 每月5日前更新'] }
  ];
  const summary = [
    { row: 1, cells: ['负责人', '商机数', '预计成交金额'] },
    { row: 2, cells: ['张伟', 3, 120] },
    { row: 3, cells: ['李娜', 2, 80] },
    { row: 4, cells: ['总计', 5, 200] }
  ];
  const payments = [
    { row: 1, cells: ['回款编号', '合同编号', '客户名称', '回款金额', '回款日期'] },
    { row: 2, cells: ['P-1', 'D-1', '上海某某科技有限公司', 100, d(2024, 4, 1)] },
    { row: 3, cells: ['P-2', 'D-2', '杭州云端', 50, d(2024, 5, 1)] }
  ];
  const second = messyRows(400, 23).map((x) => ({ row: x.row - 2, cells: x.cells.map((v, c) => (c === 0 && typeof v === 'string' ? `B${v}` : v)) }));
  await writeBook('sheets.xlsx', [
    { name: '说明', rows: notes },
    { name: '商机', rows: [{ row: 1, cells: HEAD }, ...messyRows(600, 17).map((x) => ({ row: x.row - 2, cells: x.cells }))] },
    { name: '汇总', rows: summary },
    { name: '回款', rows: payments },
    { name: '商机二', rows: [{ row: 1, cells: HEAD }, ...second] }
  ]);
  await writeBook('first-empty.xlsx', [
    { name: '商机', rows: [{ row: 1, cells: ['商机编号', '客户名称', '销售阶段', '预计成交金额'] }, { row: 3, cells: ['合计', null, null, 0] }] },
    { name: '商机二', rows: clean(50) }
  ]);
  const wb = new ExcelJS.Workbook();
  wb.addWorksheet('空');
  await wb.xlsx.writeFile(join(dir, 'empty.xlsx'));
});

function importWith(c: Case, path: 'sql' | 'js', tag: string): Promise<Imported> {
  const file = c.file.startsWith('/') ? c.file : join(dir, c.file);
  const src = { name: 'deals', type: 'excel', entity: 'opportunities', ...c.source, path: file };
  const config = { database: join(dir, 'x.duckdb'), sync: { allow_dirs: [join(ROOT, 'tests/fixtures')] }, ...(c.extra ?? {}), sources: [JSON.parse(JSON.stringify(src))] };
  return importOnce({ config, dbFile: join(dir, `${tag}-${path}.duckdb`), baseDir: dir, envVar: 'COCKPIT_XLSX_PATH', path });
}

describe('an xlsx import through the SQL path equals the JS path', () => {
  CASES.forEach((c, k) => {
    it(`${c.name}: same tables, history, rejected rows and report (${c.path} path)`, { timeout: 240_000 }, async () => {
      const a = await importWith(c, 'js', `x${k}`);
      const b = await importWith(c, 'sql', `x${k}`);
      expectSameImport(a, b, c.path);
      const s = a.report.sources[0];
      if (c.name.startsWith('messy')) {
        // The ledger exercised what it is meant to: loads, rejections, skipped summary and blank rows.
        expect(s.loaded).toBeGreaterThan(100);
        expect(s.rejected).toBeGreaterThan(100);
        expect(s.skipped_by.summary).toBeGreaterThan(10);
        expect(s.skipped_by.blank).toBeGreaterThan(5);
      }
      if (c.name === 'held-out ledger, its sheet') {
        // tests/fixtures/heldout/NOTES.md: 112 data rows, 98 loaded, 7 rejected, 7 skipped.
        expect([s.rows, s.loaded, s.rejected, s.skipped]).toEqual([112, 98, 7, 7]);
      }
      if (c.name.startsWith('several sheets, the first')) {
        expect(s.mapping.map((m) => m.column)).toContain('所在地区');
        expect(s.loaded).toBe(50);
      }
      if (c.name.startsWith('several sheets:')) {
        // Both deal sheets load; the notes, summary and payments sheets are skipped with a warning each.
        expect(s.warnings.filter((w) => /sheet/i.test(w)).length).toBeGreaterThanOrEqual(3);
        expect(s.skipped_by.unmapped).toBeGreaterThan(0);
        expect(b.tables.opportunities.some((o) => String((o as { opportunity_id: string }).opportunity_id).startsWith('BD-'))).toBe(true);
      }
    });
  });
});
