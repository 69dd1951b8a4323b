/**
 * Pipeline movement in real Chromium against the shared demo server: the waterfall on the
 * pipeline board draws the API's bars, a click on a bar opens its deals (the table's total is
 * the bar), and the cockpit's movement page fits the screen. Screenshots (movement-*.png) are
 * kept in test-results/screenshots and copied to docs/screenshots.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launch, screenshot, watchErrors } from '../helpers/browser';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

type Bar = { bucket: string; value: number; deals: number };
const flow = async (q = '') => (await (await fetch(`${base}/api/models/pipeline_flow?period=this_quarter&as_of=${AS_OF}${q}`)).json()) as { rows: Bar[] };

describe('pipeline movement', () => {
  it('the waterfall draws the API bars and each bar opens its deals', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=zh-CN&as_of=${AS_OF}&period=this_quarter`, { waitUntil: 'networkidle' });
    const api = await flow();
    const drawn = await page.locator('[data-tile=movement] [data-chart=waterfall] [data-key]').evaluateAll((els) =>
      els.map((e) => [e.getAttribute('data-key'), Number(e.getAttribute('data-value'))])
    );
    expect(drawn).toEqual(api.rows.filter((r) => r.bucket !== 'unchanged').map((r) => [r.bucket, r.value]));
    const won = api.rows.find((r) => r.bucket === 'won')!;
    expect(won.deals).toBeGreaterThan(0);

    await page.locator('[data-tile=movement] button[data-key=won]').click();
    await page.waitForURL(/flow=won/);
    await page.waitForLoadState('networkidle');
    const drill = await (await fetch(`${base}/api/models/pipeline_flow_deals?period=this_quarter&as_of=${AS_OF}&bucket=won&limit=1000`)).json();
    expect(drill.summary.total).toBe(won.deals);
    expect(drill.summary.total_value).toBe(won.value);
    const rows = page.locator('[data-tile=movement_deals] tbody tr[data-row]');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(Math.min(10, won.deals));
    const first = await rows.first().getAttribute('data-row');
    expect(first).toBe(drill.rows[0].opportunity_id);
    expect(await page.locator('[data-tile][data-state=error]').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('risk: the at-risk tile and the filter list the flagged deals, the deal detail shows why', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=en&as_of=${AS_OF}&period=this_quarter`, { waitUntil: 'networkidle' });
    const risk = await (await fetch(`${base}/api/models/deal_risk?as_of=${AS_OF}`)).json();
    const pushed = risk.rows.find((r: { flag: string }) => r.flag === 'pushed');
    expect(pushed.deals).toBeGreaterThan(0);
    await page.locator('[data-tile=at_risk] [data-key=pushed] button, [data-tile=at_risk] button[data-key=pushed]').first().click();
    await page.waitForURL(/risk=pushed/);
    await page.waitForLoadState('networkidle');
    const table = page.locator('[data-table=deals]');
    await expect.poll(() => table.getAttribute('data-total'), { timeout: 15_000 }).toBe(String(pushed.deals));
    const pills = await table.locator('tbody tr[data-row]').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('[data-risk]')].map((e) => e.getAttribute('data-risk'))));
    expect(pills.length).toBeGreaterThan(0);
    for (const p of pills) expect(p).toContain('pushed');
    // The filter above the table: past expected close.
    await page.getByTestId('risk-filter-deals').selectOption('past_close');
    await page.waitForURL(/risk=past_close/);
    const past = risk.rows.find((r: { flag: string }) => r.flag === 'past_close');
    await expect.poll(() => table.getAttribute('data-total'), { timeout: 15_000 }).toBe(String(past.deals));
    // A row opens the deal with its flags.
    const first = table.locator('tbody tr[data-row] button[data-deal]').first();
    const id = await first.getAttribute('data-deal');
    await first.click();
    const detail = page.getByTestId('deal-detail');
    await expect.poll(() => detail.getAttribute('data-deal'), { timeout: 15_000 }).toBe(id);
    const flags = (await page.getByTestId('deal-risk').getAttribute('data-flags'))!.split(',');
    expect(flags).toContain('past_close');
    await screenshot(page, 'movement-deal-risk-1920x1080-en');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('customer 360: a customer name in the deals table opens the page, whose figures are the API’s', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=zh-CN&as_of=${AS_OF}&period=this_quarter`, { waitUntil: 'networkidle' });
    const link = page.locator('[data-table=deals] tbody tr[data-row] a[data-href^="/customers/"]').first();
    const href = (await link.getAttribute('data-href'))!;
    const id = decodeURIComponent(href.split('/').pop()!);
    await link.click();
    await page.waitForURL(/\/customers\//);
    await page.waitForLoadState('networkidle');
    expect(new URL(page.url()).searchParams.get('as_of')).toBe(AS_OF);
    expect(await page.getByTestId('customer-head').getAttribute('data-customer')).toBe(id);
    const api = await (await fetch(`${base}/api/models/customer?id=${encodeURIComponent(id)}&as_of=${AS_OF}`)).json();
    const c = api.summary.customer;
    for (const k of ['won_amount', 'open_amount', 'paid_total', 'outstanding', 'overdue']) {
      expect(Number(await page.getByTestId(`kpi-value-${k}`).getAttribute('data-value')), k).toBeCloseTo(c[k], 6);
    }
    await expect.poll(() => page.locator('[data-table=customer_deals]').getAttribute('data-total'), { timeout: 15_000 }).toBe(String(c.deals));
    expect(await page.locator('[data-tile][data-state=error]').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  for (const [w, h] of [
    [1366, 768],
    [1920, 1080]
  ] as const) {
    for (const locale of ['zh-CN', 'en'] as const) {
      it(`the board tile, its drill and the cockpit page at ${w}×${h} (${locale})`, async () => {
        const page = await browser.newPage({ viewport: { width: w, height: h } });
        const errors = watchErrors(page);
        await page.goto(`${base}/boards/pipeline?lang=${locale}&as_of=${AS_OF}&period=this_quarter&flow=pushed_out`, { waitUntil: 'networkidle' });
        await page.locator('[data-tile=movement]').scrollIntoViewIfNeeded();
        await page.evaluate(() => document.querySelector('[data-tile=movement]')!.scrollIntoView({ block: 'start' }));
        await screenshot(page, `movement-board-${w}x${h}-${locale}`);

        await page.goto(`${base}/cockpit?lang=${locale}&as_of=${AS_OF}&pages=movement`, { waitUntil: 'networkidle' });
        const dims = await page.evaluate(() => ({
          sw: document.documentElement.scrollWidth,
          sh: document.documentElement.scrollHeight,
          outside: [...document.querySelectorAll('[data-tile]')].filter((e) => {
            const r = e.getBoundingClientRect();
            return r.bottom > window.innerHeight + 1 || r.right > window.innerWidth + 1;
          }).length
        }));
        expect(dims.sw).toBeLessThanOrEqual(w);
        expect(dims.sh).toBeLessThanOrEqual(h);
        expect(dims.outside).toBe(0);
        expect(await page.locator('[data-tile=movement] [data-chart=waterfall]').count()).toBe(1);
        expect(await page.locator('[data-tile][data-state=error]').count()).toBe(0);
        await screenshot(page, `movement-cockpit-${w}x${h}-${locale}`);

        // The customer 360 page of the customer with the most deals.
        const top = await (await fetch(`${base}/api/models/customer_profile?view=grid_customers&limit=1&as_of=${AS_OF}`)).json();
        const cid = top.rows[0].customer_id as string;
        const res = await page.goto(`${base}/customers/${encodeURIComponent(cid)}?lang=${locale}&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
        expect(res?.status()).toBe(200);
        expect(await page.locator('[data-tile][data-state=error]').count()).toBe(0);
        await screenshot(page, `movement-customer-${w}x${h}-${locale}`);
        expect(errors).toEqual([]);
        await page.close();
      }, 120_000);
    }
  }
});
