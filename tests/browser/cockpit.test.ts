/**
 * The cockpit in real Chromium against a real server: the numbers on the page are the API's,
 * it fits the screen at every size without scrollbars, and it refreshes and survives an
 * outage without reloading.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launch, screenshot, watchErrors } from '../helpers/browser';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

/** Written independently of src/lib/format.ts: 3 significant digits, 万/亿 for zh-CN, K/M/B for en. */
function expectedMoney(v: number, locale: 'zh-CN' | 'en'): string {
  const sig = (x: number) => {
    const digits = x >= 100 ? 0 : x >= 10 ? 1 : 2;
    return Number(x.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });
  };
  if (locale === 'zh-CN') {
    if (v >= 1e8) return `¥${sig(v / 1e8)}亿`;
    if (v >= 1e4) return `¥${sig(v / 1e4)}万`;
    return `¥${Math.round(v).toLocaleString('en-US')}`;
  }
  if (v >= 1e9) return `¥${sig(v / 1e9)}B`;
  if (v >= 1e6) return `¥${sig(v / 1e6)}M`;
  if (v >= 1e3) return `¥${sig(v / 1e3)}K`;
  return `¥${Math.round(v)}`;
}

const SIZES = [
  [1366, 768],
  [1920, 1080],
  [3840, 2160]
] as const;

describe('/cockpit', () => {
  for (const locale of ['zh-CN', 'en'] as const) {
    it(`shows the API's KPI values and funnel (${locale})`, async () => {
      const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
      const errors = watchErrors(page);
      await page.goto(`${base}/cockpit?lang=${locale}&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
      const kpis = await (await fetch(`${base}/api/models/kpis?period=this_quarter&as_of=${AS_OF}`)).json();
      for (const row of kpis.rows as { measure: string; value: number | null }[]) {
        const el = page.getByTestId(`kpi-value-${row.measure}`);
        const raw = await el.getAttribute('data-value');
        if (row.value === null) expect(raw, row.measure).toBe('');
        else expect(Number(raw), row.measure).toBeCloseTo(row.value, 6);
      }
      const won = kpis.rows.find((r: { measure: string }) => r.measure === 'won_amount').value;
      expect(won).toBeGreaterThan(0);
      expect(await page.getByTestId('kpi-value-won_amount').textContent()).toBe(expectedMoney(won, locale));

      const funnel = await (await fetch(`${base}/api/models/funnel?period=this_year&as_of=${AS_OF}`)).json();
      const onPage = await page.locator('[data-testid=funnel] [data-stage]').evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-stage'), Number(e.getAttribute('data-reached'))])
      );
      expect(onPage).toEqual(funnel.rows.map((r: { stage: string; reached: number }) => [r.stage, r.reached]));
      expect(await page.locator('html').getAttribute('lang')).toBe(locale);
      expect(errors).toEqual([]);
      await page.close();
    });
  }

  for (const [w, h] of SIZES) {
    for (const locale of ['zh-CN', 'en']) {
      it(`fits ${w}×${h} exactly, no scrollbars, no console errors (${locale})`, async () => {
        const page = await browser.newPage({ viewport: { width: w, height: h } });
        const errors = watchErrors(page);
        await page.goto(`${base}/cockpit?lang=${locale}&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
        const dims = await page.evaluate(() => ({
          sw: document.documentElement.scrollWidth,
          sh: document.documentElement.scrollHeight,
          fontPx: parseFloat(getComputedStyle(document.documentElement).fontSize),
          overflowing: [...document.querySelectorAll('[data-testid^=kpi-value-]')].filter((e) => e.scrollWidth > e.clientWidth + 1).length
        }));
        expect(dims.sw).toBeLessThanOrEqual(w);
        expect(dims.sh).toBeLessThanOrEqual(h);
        expect(dims.overflowing).toBe(0);
        // Body text at least 28px at 1080p, scaled with the screen
        if (w === 1920) expect(dims.fontPx).toBeGreaterThanOrEqual(27.9);
        if (w === 3840) expect(dims.fontPx).toBeGreaterThanOrEqual(55.9);
        await screenshot(page, `cockpit-${w}x${h}-${locale}`);
        expect(errors).toEqual([]);
        await page.close();
      });
    }
  }

  it('refreshes without reloading, keeps its numbers through an outage, and reconnects', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`${base}/cockpit?lang=en&as_of=${AS_OF}&refresh=1`, { waitUntil: 'networkidle' });
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const cockpit = page.getByTestId('cockpit');
    const refreshesNow = async () => Number(await cockpit.getAttribute('data-refreshes'));
    await expect.poll(refreshesNow, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const before = await page.getByTestId('kpi-value-won_amount').textContent();

    await page.route('**/api/**', (route) => route.abort('connectionrefused'));
    await expect.poll(() => page.getByTestId('offline').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByTestId('kpi-value-won_amount').textContent()).toBe(before);

    await page.unroute('**/api/**');
    await expect.poll(() => page.getByTestId('offline').count(), { timeout: 10_000 }).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    await page.close();
  });

  it('says on screen that the demo runs without access control', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/cockpit?lang=en`, { waitUntil: 'networkidle' });
    expect(await page.getByTestId('demo-banner').textContent()).toContain('no access control');
    await page.close();
  });
});
