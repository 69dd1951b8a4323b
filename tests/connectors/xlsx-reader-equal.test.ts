/**
 * The new .xlsx reader (connectors/file/xlsx.ts) gives exactly what the exceljs-based one gave
 * (connectors/file/xlsx-exceljs.ts): the same batches of records (rows, values, sheet meta),
 * the same headers, the same blank/summary skips and warnings in the same order, the same sheet
 * names and the same errors — on every .xlsx fixture and example, and on workbooks built here
 * with exceljs for each kind of cell. Where exceljs lost data (docs/decisions.md, "xlsx reader"),
 * the expected values are written by hand from the XML.
 */
import { readdirSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { readXlsx } from '../../connectors/file/xlsx';
import { readXlsxExceljs } from '../../connectors/file/xlsx-exceljs';
import { parseConfig } from '../../src/lib/server/config/load';
import { makeZip, workbookParts } from './zip-writer';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'xlsx-equal-'));
const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');

type Reader = typeof readXlsx;

/** Everything a reader gives for a file: batches (records and the headers then), events, sheet names, error. */
async function readAll(read: Reader, file: string, extra: Record<string, unknown> = {}) {
  const events: unknown[][] = [];
  const ctx = {
    config: cfg.ok ? cfg.config : (null as never),
    baseDir: dirname(file),
    watermark: null,
    events: { warn: (m: string) => void events.push(['warn', m]), skip: (...a: unknown[]) => void events.push(['skip', ...a]) }
  };
  const reader = await read({ name: 'x', type: 'excel', entity: 'opportunities', path: basename(file), ...extra } as never, ctx);
  const batches: unknown[] = [];
  let error: string | null = null;
  try {
    for await (const b of reader.batches()) {
      batches.push({ records: b, headers: await reader.headers() });
      events.push(['batch', b.length]);
    }
  } catch (e) {
    error = (e as Error).message;
  }
  return { batches, events, sheets: reader.sheetNames(), error };
}

async function expectSame(file: string, extra: Record<string, unknown> = {}, fixRef?: (values: Record<string, unknown>) => void) {
  const mine = await readAll(readXlsx, file, extra);
  let ref = await readAll(readXlsxExceljs, file, extra);
  if (fixRef) for (const r of records(ref)) fixRef(r.values);
  if (ref.batches.length === 0 && mine.batches.length > 0) {
    // The reference once read nothing from a workbook it reads whole otherwise (1 run in 5, under
    // a load of ~20, exceljs's streaming writer without shared strings): read it again.
    ref = await readAll(readXlsxExceljs, file, extra);
    if (fixRef) for (const r of records(ref)) fixRef(r.values);
  }
  expect(mine.error, `reference error: ${ref.error}`).toBe(ref.error);
  expect(mine).toEqual(ref);
  // toEqual treats undefined and missing alike and NaN as equal; compare the values' types too.
  const kinds = (r: typeof mine) => JSON.stringify(r, (_k, v) => (v instanceof Date ? `D${v.getTime()}` : typeof v === 'number' && !Number.isFinite(v) ? `N${v}` : v === undefined ? 'U' : v));
  expect(kinds(mine)).toBe(kinds(ref));
  return mine;
}

function fixtures(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.xlsx$/i.test(f)) out.push(p);
    }
  };
  walk(join(ROOT, 'tests/fixtures'));
  walk(join(ROOT, 'examples'));
  return out;
}

const records = (r: Awaited<ReturnType<typeof readAll>>) => r.batches.flatMap((b) => (b as { records: { row: number; values: Record<string, unknown> }[] }).records);

describe('the xlsx reader equals the exceljs reader', () => {
  const files = fixtures();
  it('finds the fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });
  for (const f of files) {
    it(`on ${f.slice(ROOT.length + 1)}`, async () => {
      const r = await expectSame(f);
      expect(records(r).length).toBeGreaterThan(0);
    });
  }

  it('on the held-out ledger, one sheet and two sheets by name, and a sheet that does not exist', async () => {
    const f = join(ROOT, 'tests/fixtures/heldout/华南销售台账2025.xlsx');
    expect((await expectSame(f, { sheet: '回款记录' })).error).toBeNull();
    await expectSame(f, { sheet: ['目标', '商机台账'] });
    expect((await expectSame(f, { sheet: '没有' })).error).toContain('no sheet named "没有"');
    await expectSame(f, { header_row: 3 });
  });

  it('on dates (built-in, custom and date-time formats), the 1900 leap-day serials, numbers with text formats, booleans, errors, hyperlinks', async () => {
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('日期');
    ws.addRow(['商机编号', '创建日期', '签约日期', '更新时间', '金额', '序号', '是否', '错误', '链接']);
    const rows: unknown[][] = [];
    for (let i = 0; i < 40; i++) {
      rows.push([
        `D-${i}`,
        new Date(Date.UTC(2020 + (i % 6), i % 12, 1 + (i % 28))),
        45000 + i * 37,
        new Date(Date.UTC(2024, 0, 1, i % 24, (i * 7) % 60, (i * 13) % 60)),
        i * 1234.5 - 3000,
        i,
        i % 3 === 0,
        i % 5 === 0 ? { error: '#N/A' } : i,
        { text: `官网${i}`, hyperlink: `https://example.com/${i}` }
      ]);
    }
    // Serials around Excel's phantom 29 Feb 1900, and a 0.
    rows.push(['D-leap', 59, 60, 61, 0, 1, false, { error: '#DIV/0!' }, null]);
    for (const r of rows) ws.addRow(r);
    ws.getColumn(3).numFmt = 'yyyy"年"m"月"d"日"';
    ws.getColumn(4).numFmt = 'yyyy-mm-dd hh:mm:ss';
    ws.getColumn(5).numFmt = '#,##0.00"元"';
    ws.getColumn(6).numFmt = '0"号"';
    for (let r = 2; r <= rows.length + 1; r++) {
      ws.getCell(r, 3).numFmt = 'yyyy"年"m"月"d"日"';
      ws.getCell(r, 4).numFmt = r === rows.length + 1 ? 'mm-dd-yy' : 'yyyy-mm-dd hh:mm:ss';
      ws.getCell(r, 5).numFmt = '#,##0.00"元"';
      ws.getCell(r, 6).numFmt = '[Red]0;"负"0';
    }
    ws.getCell(rows.length + 1, 2).numFmt = 'd-mmm-yy';
    const file = join(dir, 'dates.xlsx');
    await wb.xlsx.writeFile(file);
    const r = await expectSame(file);
    const recs = records(r);
    expect(recs[0].values['创建日期']).toEqual(new Date(Date.UTC(2020, 0, 1)));
    // 45000 is 2023-03-15 (45000 - 25569 days after 1970-01-01).
    expect(recs[0].values['签约日期']).toEqual(new Date(Date.UTC(2023, 2, 15)));
    const leap = recs[recs.length - 1].values;
    // exceljs's arithmetic, kept: serial 61 is 1 Mar 1900, 60 (Excel's 29 Feb 1900) lands on 28 Feb, 59 on 27 Feb.
    expect([leap['创建日期'], leap['签约日期'], leap['更新时间']]).toEqual([new Date(Date.UTC(1900, 1, 27)), new Date(Date.UTC(1900, 1, 28)), new Date(Date.UTC(1900, 2, 1))]);
    expect(recs[1].values['是否']).toBe(false);
    expect(recs[0].values['错误']).toBeNull();
    expect(recs[1].values['链接']).toBe('官网1');
  });

  it('on a 1904 workbook', async () => {
    const wb = new ExcelJS.Workbook();
    wb.properties.date1904 = true;
    const ws = wb.addWorksheet('Mac');
    ws.addRow(['商机编号', '创建日期', '金额']);
    for (let i = 0; i < 12; i++) ws.addRow([`M-${i}`, new Date(Date.UTC(2025, i, 15)), i * 10]);
    ws.addRow(['M-serial', 0, 1]);
    ws.getCell(14, 2).numFmt = 'yyyy-mm-dd';
    const file = join(dir, 'd1904.xlsx');
    await wb.xlsx.writeFile(file);
    const recs = records(await expectSame(file));
    expect(recs[0].values['创建日期']).toEqual(new Date(Date.UTC(2025, 0, 15)));
    // Serial 0 in the 1904 system is 1 Jan 1904.
    expect(recs[12].values['创建日期']).toEqual(new Date(Date.UTC(1904, 0, 1)));
  });

  for (const stream of [false, true]) {
    for (const shared of [false, true]) {
      if (!stream && !shared) continue; // exceljs's workbook writer always writes shared strings
      it(`on text: Chinese, full-width, rich text, entities, empty strings, sparse cells, merged cells, formulas, several sheets (${stream ? 'streaming writer' : 'workbook writer'}, ${shared ? 'shared' : 'inline'} strings)`, async () => {
        const file = join(dir, `text-${stream}-${shared}.xlsx`);
        const wb = stream ? new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: shared, useStyles: true }) : new ExcelJS.Workbook();
        const commit = (row: ExcelJS.Row) => (stream ? row.commit() : undefined);
        // Sheet 1: a title, a unit line, a merged two-level header, data with gaps.
        const a = wb.addWorksheet('商机台账');
        a.addRow(['华南区销售台账（2025）']);
        a.addRow(['单位：万元']);
        a.addRow(['商机编号', '客户名称', '金额', null, '负责人', '备注']);
        const top = a.addRow([null, null, '预计', '实际', null, null]);
        a.mergeCells('A1:F1');
        a.mergeCells('C3:D3');
        a.mergeCells('A3:A4');
        commit(top);
        for (let i = 1; i <= 2600; i++) {
          if (i % 97 === 0) continue; // a missing row
          const cells: unknown[] = [`ＨＮ－${String(i).padStart(4, '０')}`, `客户${i}号（上海）& Co <"甲">`, i * 1.5, i % 7 === 0 ? null : i * 2, i % 11 === 0 ? '' : `张伟${i % 9}`, i % 13 === 0 ? { richText: [{ text: '重要', font: { bold: true } }, { text: '：尽快跟进', font: { color: { argb: 'FFFF0000' } } }] } : null];
          if (i % 50 === 0) cells.length = 1; // only the first cell
          if (i % 51 === 0) cells.splice(1, 4, null, null, null, null); // first and last only
          const row = a.addRow(cells);
          if (i % 17 === 0) row.getCell(8).value = `第八列${i}`; // past the header
          commit(row);
        }
        commit(a.addRow(['合计', null, { formula: 'SUM(C5:C2604)', result: 5073450 }]));
        commit(a.addRow(['注：金额为含税价']));
        if (stream) (a as unknown as { commit(): void }).commit();
        // Sheet 2: formulas (cached results: number, text, shared formulas) and booleans.
        const b = wb.addWorksheet('回款');
        commit(b.addRow(['回款编号', '合同编号', '回款金额', '税额', '说明', '是否到账']));
        for (let i = 1; i <= 30; i++) {
          const row = b.addRow([
            `P-${i}`,
            `C-${i % 4}`,
            i * 100,
            { formula: `C${i + 1}*0.13`, result: i * 13 },
            { formula: `"第"&A${i + 1}`, result: `第P-${i}` },
            i % 2 === 1
          ]);
          commit(row);
        }
        if (stream) (b as unknown as { commit(): void }).commit();
        // Sheet 3: empty. Sheet 4: hidden, a header only.
        const c = wb.addWorksheet('空表');
        if (stream) (c as unknown as { commit(): void }).commit();
        const d = wb.addWorksheet('隐藏', { state: 'hidden' });
        commit(d.addRow(['目标月份', '目标金额']));
        if (stream) (d as unknown as { commit(): void }).commit();
        if (stream) await (wb as ExcelJS.stream.xlsx.WorkbookWriter).commit();
        else await (wb as ExcelJS.Workbook).xlsx.writeFile(file);
        // exceljs read an inline rich string (what its streaming writer writes without shared
        // strings) as its last run only; the new reader joins the runs, as Excel shows them.
        const fix = !shared ? (v: Record<string, unknown>) => void (v['备注'] === '：尽快跟进' && (v['备注'] = '重要：尽快跟进')) : undefined;
        const r = await expectSame(file, {}, fix);
        expect(r.sheets).toEqual(['商机台账', '回款', '空表', '隐藏']);
        expect(records(r).find((x) => x.row === 17)?.values['备注']).toBe('重要：尽快跟进');
        const recs = records(r);
        expect(recs.find((x) => x.row === 5)?.values['客户名称']).toBe('客户1号（上海）& Co <"甲">');
        expect(recs.filter((x) => x.values['回款编号']).length).toBe(30);
        expect(r.events).toContainEqual(['warn', `${file} [空表]: the sheet is empty`]);
        await expectSame(file, { sheet: '回款' }, fix);
        await expectSame(file, { sheet: ['隐藏', '商机台账'], header_row: 3 }, fix);
      });
    }
  }
});

describe('where exceljs lost data, the new reader keeps it (docs/decisions.md, "xlsx reader")', () => {
  it('formula results of 0, inline rich text, phonetic guides, text decoded once, typed ISO dates, CDATA, prefixed tags, sheets in tab order', async () => {
    const parts = workbookParts({
      sheets: [
        {
          name: '第一',
          rows:
            '<row r="1"><c r="A1" t="inlineStr"><is><t>编号</t></is></c><c r="B1" t="inlineStr"><is><t>金额</t></is></c><c r="C1" t="inlineStr"><is><t>客户</t></is></c><c r="D1" t="inlineStr"><is><t>日期</t></is></c></row>' +
            '<row r="2"><c r="A2" t="inlineStr"><is><t>X-1</t></is></c><c r="B2"><f>B3-B3</f><v>0</v></c><c r="C2" t="inlineStr"><is><r><t>上海</t></r><r><rPr><b/></rPr><t>某某公司</t></r></is></c><c r="D2" t="d"><v>2025-04-15T00:00:00</v></c></row>' +
            '<row r="3"><c r="A3" t="s"><v>0</v></c><c r="B3"><v>5</v></c><c r="C3" t="str"><v>R&amp;amp;D &amp;lt;1&amp;gt;</v></c><c r="D3" t="inlineStr"><is><t><![CDATA[<原样>]]></t></is></c></row>'
        },
        { name: '第二', rows: '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>编号</x:t></x:is></x:c></x:row><x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>Y-1</x:t></x:is></x:c></x:row>' }
      ],
      sharedStrings: ['<si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si>']
    });
    // Tab order puts 第二 first though its part is sheet2.xml.
    const book = parts.find((p) => p.name === 'xl/workbook.xml')!;
    book.data = String(book.data).replace(/<sheets>(<sheet [^>]*>)(<sheet [^>]*>)<\/sheets>/, '<sheets>$2$1</sheets>');
    const sheet2 = parts.find((p) => p.name === 'xl/worksheets/sheet2.xml')!;
    sheet2.data = String(sheet2.data).replace('<worksheet ', '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ').replace('</worksheet>', '</x:worksheet>').replace(/<(\/?)sheetData>/g, '<$1x:sheetData>');
    const file = join(dir, 'quirks.xlsx');
    writeFileSync(file, makeZip(parts));
    const r = await readAll(readXlsx, file);
    expect(r.error).toBeNull();
    expect(r.sheets).toEqual(['第二', '第一']);
    expect(records(r).map((x) => [x.row, x.values])).toEqual([
      [2, { 编号: 'Y-1' }],
      [2, { 编号: 'X-1', 金额: 0, 客户: '上海某某公司', 日期: new Date(Date.UTC(2025, 3, 15)) }],
      [3, { 编号: '東京', 金额: 5, 客户: 'R&amp;D &lt;1&gt;', 日期: '<原样>' }]
    ]);
  });
});
