/**
 * GET /api/models/<name>/export against a real server: files carry every row the view
 * matches (paging ignored), in the API's order, with localized headers and a download name;
 * bad requests say what is wrong.
 */
import { describe, expect, inject, it } from 'vitest';
import ExcelJS from 'exceljs';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');

function csvRows(text: string): string[][] {
  // The demo data has no quotes or commas inside fields except in quoted names; parse simply.
  return text
    .replace(/^\uFEFF/, '')
    .split('\r\n')
    .filter(Boolean)
    .map((line) => line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.slice(0, -1).map((f) => f.replace(/,$/, '').replace(/^"|"$/g, '').replace(/""/g, '"')));
}

describe('exports', () => {
  it('a CSV of the deals in view: every page, in order, paging ignored, Chinese headers, a file name', async () => {
    const q = `period=this_quarter&as_of=${AS_OF}&status=won&date_field=closed_at&sort=amount&dir=desc`;
    const res = await fetch(`${base}/api/models/deals/export?format=csv&lang=zh-CN&limit=5&offset=5&${q}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain(`filename="deals-${AS_OF}.csv"`);
    expect(res.headers.get('content-disposition')).toContain(`filename*=UTF-8''${encodeURIComponent('商机明细')}`);
    const rows = csvRows(await res.text());
    const api = await (await fetch(`${base}/api/models/deals?${q}&limit=1000`)).json();
    expect(rows[0]).toEqual(['商机编号', '商机名称', '客户编号', '客户名称', '负责人编号', '负责人', '团队编号', '团队', '销售阶段', '阶段序号', '状态', '金额', '赢率', '加权金额', '预测类别', '预计成交日期', '创建时间', '成交/输单时间', '产品', '来源', '竞争对手', '输单原因', '地区', '行业', '客户级别', '最后跟进', '停滞天数', '是否停滞', '风险', '推迟次数']);
    expect(rows.length - 1).toBe(api.summary.total);
    expect(rows.slice(1).map((r) => r[0])).toEqual(api.rows.map((r: { opportunity_id: string }) => r.opportunity_id));
    expect(rows.slice(1).map((r) => Number(r[11]))).toEqual(api.rows.map((r: { amount: number }) => r.amount));
  });

  it('any model exports its rows (kpis), and the English headers are English', async () => {
    const res = await fetch(`${base}/api/models/payment_list/export?format=csv&lang=en&state=overdue&as_of=${AS_OF}`);
    const rows = csvRows(await res.text());
    expect(rows[0].slice(0, 3)).toEqual(['Payment ID', 'Deal ID', 'Deal']);
    const k = await fetch(`${base}/api/models/kpis/export?format=csv&period=this_quarter&as_of=${AS_OF}`);
    const kr = csvRows(await k.text());
    const api = await (await fetch(`${base}/api/models/kpis?period=this_quarter&as_of=${AS_OF}`)).json();
    expect(kr.slice(1).map((r) => r[0])).toEqual(api.rows.map((r: { measure: string }) => r.measure));
  });

  it('XLSX: a real workbook with the same rows', async () => {
    const q = `period=this_quarter&as_of=${AS_OF}&status=won&date_field=closed_at`;
    const res = await fetch(`${base}/api/models/deals/export?format=xlsx&${q}`);
    expect(res.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await res.arrayBuffer()) as ArrayBuffer);
    const api = await (await fetch(`${base}/api/models/deals?${q}&limit=1000`)).json();
    const ws = wb.worksheets[0];
    expect(ws.rowCount - 1).toBe(api.summary.total);
    expect(ws.getRow(2).getCell(1).value).toBe(api.rows[0].opportunity_id);
  });

  it('says what is wrong: a bad format, a bad parameter, an unknown model', async () => {
    const bad = await fetch(`${base}/api/models/deals/export?format=pdf`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toContain('csv, xlsx');
    const param = await fetch(`${base}/api/models/deals/export?format=csv&sort=amount;drop`);
    expect(param.status).toBe(400);
    expect((await param.json()).issues.some((i: string) => i.startsWith('sort:'))).toBe(true);
    expect((await fetch(`${base}/api/models/nope/export?format=csv`)).status).toBe(404);
  });
});
