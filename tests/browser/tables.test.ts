/**
 * Tables as a manager uses them, in Chromium: sort by a header, page, search — all in the URL
 * — and export exactly the rows in view: the downloaded CSV and XLSX hold the same rows, in
 * the same order, as the JSON API returns page by page for the same filters.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import ExcelJS from 'exceljs';
import type { Browser, Page } from 'playwright-core';
import { launch, watchErrors } from '../helpers/browser';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

/** Waits until the URL passes `check` and the board has finished navigating to it. */
async function settle(page: Page, check: (u: URL) => boolean) {
  await expect.poll(() => check(new URL(page.url())), { timeout: 15_000 }).toBe(true);
  await expect
    .poll(async () => {
      const u = new URL(page.url());
      const board = page.getByTestId('board');
      return (await board.getAttribute('data-url')) === `${u.pathname}${u.search}` && (await board.getAttribute('data-busy')) === null;
    }, { timeout: 15_000 })
    .toBe(true);
  await page.waitForLoadState('networkidle');
  await expect.poll(() => page.locator('[data-state=loading]').count(), { timeout: 15_000 }).toBe(0);
}

/** Every row of a listing model for the params, through the JSON API, page by page. */
async function allRows(model: string, params: URLSearchParams) {
  const rows: Record<string, unknown>[] = [];
  let columns: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const p = new URLSearchParams(params);
    p.set('limit', '1000');
    p.set('offset', String(offset));
    const body = await (await fetch(`${base}/api/models/${model}?${p}`)).json();
    columns = body.columns.map((c: { name: string }) => c.name);
    rows.push(...body.rows);
    if (rows.length >= body.summary.total) break;
  }
  return { rows, columns };
}

/** RFC 4180 CSV → rows of strings (quoted fields may hold commas, quotes, line breaks). */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') (row.push(field), out.push(row), (row = []), (field = '')), i++;
    else field += c;
  }
  if (field || row.length) row.push(field), out.push(row);
  return out;
}

const asCsv = (v: unknown): string =>
  v === null || v === undefined ? '' : Array.isArray(v) ? asCsv(v.length ? v.join('; ') : null) : typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : String(v);

describe('the deals table', () => {
  it('sorts, pages and searches through the URL', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=en&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const table = page.locator('[data-table=deals]');
    await table.getByRole('button', { name: /^Created/ }).click();
    await settle(page, (u) => u.searchParams.get('deals.sort') === 'created_at');
    const asc = new URL(page.url()).searchParams.get('deals.dir');
    await table.getByRole('button', { name: /^Created/ }).click();
    await settle(page, (u) => u.searchParams.get('deals.dir') !== asc);
    const dir = new URL(page.url()).searchParams.get('deals.dir')!;
    const api = await (
      await fetch(`${base}/api/models/deals?period=this_year&as_of=${AS_OF}&date_field=created_at&sort=created_at&dir=${dir}&limit=15&offset=15`)
    ).json();
    await table.getByRole('button', { name: 'Next page' }).click();
    await settle(page, (u) => u.searchParams.get('deals.page') === '2');
    expect(await table.locator('tbody tr[data-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-row')))).toEqual(
      api.rows.map((r: { opportunity_id: string }) => r.opportunity_id)
    );
    await page.getByTestId('table-search-deals').fill('上海');
    await settle(page, (u) => u.searchParams.get('deals.q') === '上海' && !u.searchParams.has('deals.page'));
    const found = await (await fetch(`${base}/api/models/deals?period=this_year&as_of=${AS_OF}&date_field=created_at&q=${encodeURIComponent('上海')}&limit=1`)).json();
    expect(Number(await table.getAttribute('data-total'))).toBe(found.summary.total);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('exports exactly the rows in view as CSV and XLSX', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 }, acceptDownloads: true });
    // A view a manager would export: one region, lost deals for one reason, searched.
    const view = `team=R1&status=lost&date_field=closed_at&deals.q=${encodeURIComponent('CRM')}`;
    await page.goto(`${base}/boards/win-loss?lang=zh-CN&as_of=${AS_OF}&${view}`, { waitUntil: 'networkidle' });
    const total = Number(await page.locator('[data-table=deals]').getAttribute('data-total'));
    expect(total).toBeGreaterThan(15); // more than one page: the export is every page
    const params = new URLSearchParams({ period: 'this_year', as_of: AS_OF, team: 'R1', date_field: 'closed_at', q: 'CRM', sort: 'closed_at', dir: 'desc' });
    params.append('status', 'lost');
    const expected = await allRows('deals', params);
    expect(expected.rows.length).toBe(total);

    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv-deals').click()]);
    const csv = parseCsv(readFileSync((await csvDl.path())!, 'utf8').replace(/^\uFEFF/, ''));
    expect(csvDl.suggestedFilename()).toMatch(/\.csv$/);
    expect(csv[0][0]).toBe('商机编号');
    expect(csv.length - 1).toBe(expected.rows.length);
    csv.slice(1).forEach((line, i) => expect(line).toEqual(expected.columns.map((c) => asCsv(expected.rows[i][c]))));

    const [xlDl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-xlsx-deals').click()]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(readFileSync((await xlDl.path())!) as unknown as ArrayBuffer);
    const ws = wb.worksheets[0];
    expect(ws.rowCount - 1).toBe(expected.rows.length);
    for (let i = 0; i < expected.rows.length; i++) {
      const r = ws.getRow(i + 2);
      expect(r.getCell(1).value).toBe(expected.rows[i].opportunity_id);
      const amount = expected.columns.indexOf('amount') + 1;
      expect(r.getCell(amount).value ?? null).toBe(expected.rows[i].amount);
      const closed = expected.columns.indexOf('closed_at') + 1;
      expect((r.getCell(closed).value as Date).toISOString().slice(0, 19)).toBe(String(expected.rows[i].closed_at));
    }
    await page.close();
  });
});

describe('the filter bar', () => {
  it('applies a period, a custom range, a team and a multi-select filter to every tile, in the URL', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=en&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    await page.locator('select[data-filter=period]').selectOption('last_quarter');
    await settle(page, (u) => u.searchParams.get('period') === 'last_quarter');
    await page.locator('select[data-filter=team]').selectOption('R2');
    await settle(page, (u) => u.searchParams.get('team') === 'R2');
    await page.locator('[data-filter=industry] summary').click();
    await page.locator('[data-filter=industry] label', { hasText: '制造业' }).locator('input').check();
    await settle(page, (u) => u.searchParams.getAll('industry').join() === '制造业');
    // Every tile now answers for R2, 制造业, last quarter: the KPI card is the API's.
    const k = await (await fetch(`${base}/api/models/kpis?period=last_quarter&as_of=${AS_OF}&team=R2&industry=${encodeURIComponent('制造业')}`)).json();
    const newOpps = k.rows.find((r: { measure: string }) => r.measure === 'new_opportunities').value;
    expect(Number(await page.getByTestId('kpi-value-new_opportunities').getAttribute('data-value'))).toBe(newOpps);
    const funnel = await (await fetch(`${base}/api/models/funnel?period=last_quarter&as_of=${AS_OF}&team=R2&industry=${encodeURIComponent('制造业')}`)).json();
    expect(Number(await page.locator('[data-testid=funnel] [data-stage]').first().getAttribute('data-reached'))).toBe(funnel.rows[0].reached);
    // A custom range: the until date is inclusive on screen, exclusive in the URL.
    await page.locator('select[data-filter=period]').selectOption('custom');
    await page.locator('input[data-filter=from]').fill('2026-02-01');
    await page.locator('input[data-filter=until]').fill('2026-03-31');
    await page.locator('input[data-filter=until]').dispatchEvent('change');
    await settle(page, (u) => u.searchParams.get('from') === '2026-02-01' && u.searchParams.get('to') === '2026-04-01' && !u.searchParams.has('period'));
    await page.getByTestId('reset-filters').click();
    await settle(page, (u) => !u.searchParams.has('team') && !u.searchParams.has('industry'));
    expect(errors).toEqual([]);
    await page.close();
  });
});
