/**
 * Stored XSS, in real Chromium: a database whose team, owner, customer and deal names, loss
 * reasons, products, competitors and sources are script payloads. Every board, the cockpit, a
 * deal's detail and embeds (a board and a single tile) are opened and their chart marks
 * hovered to show tooltips: no payload ever runs (`window.__xss` stays unset, no dialog) and
 * the payloads are on screen as text. Exports carry them as literal text.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, watchErrors } from '../helpers/browser';
import { AS_OF, qs, sign, startSecServer, type SecServer } from './helpers';

const P = {
  team: '<img src=x onerror=window.__xss=1>',
  owner: '<script>window.__xss=1</script>',
  customer: '"><svg onload=window.__xss=1>',
  deal: 'javascript:window.__xss=1//',
  loss: "'><img src=x onerror=window.__xss=1>",
  product: '<iframe src="javascript:window.__xss=1"></iframe>',
  competitor: '<a href="javascript:window.__xss=1">x</a>',
  source: '{@html "<img src=x onerror=window.__xss=1>"}'
};

let srv: SecServer;
let browser: Browser;
let token: string;
let dealId = '';
let dealName = '';

beforeAll(async () => {
  srv = await startSecServer(async (conn) => {
    // Payload + the original name: labels stay distinct, so every chart still has its groups.
    await conn.run(`UPDATE teams SET name = '${P.team}' || name`);
    await conn.run(`UPDATE users SET name = '${P.owner}' || name`);
    await conn.run(`UPDATE customers SET name = '${P.customer.replace(/'/g, "''")}' || name`);
    await conn.run(`UPDATE opportunities SET name = '${P.deal}' || name, product = '${P.product}' || product,
                    competitor = CASE WHEN competitor IS NULL THEN NULL ELSE '${P.competitor}' || competitor END,
                    source = '${P.source}' || source,
                    loss_reason = CASE WHEN loss_reason IS NULL THEN NULL ELSE '${P.loss.replace(/'/g, "''")}' || loss_reason END`);
    await conn.run(`UPDATE customers SET source = '${P.source}' || source WHERE source IS NOT NULL`);
    await conn.run(`UPDATE meta SET value = (value::INTEGER + 1)::VARCHAR WHERE key = 'data_version'`);
  });
  const [d] = await srv.oracle(`SELECT opportunity_id, name FROM opportunities WHERE status = 'lost' AND loss_reason IS NOT NULL AND competitor IS NOT NULL ORDER BY amount DESC LIMIT 1`);
  dealId = d.opportunity_id as string;
  dealName = d.name as string;
  token = await sign({ sub: 'ceo', role: 'executive' });
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

/** A signed-in page that records any dialog and sets `__dialog` if one opens. */
async function signedIn(): Promise<{ page: Page; dialogs: string[]; errors: string[] }> {
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 3000 } });
  const page = await ctx.newPage();
  // Playwright's 30 s navigation default was exceeded by /boards/forecast at a load of 25 on
  // two cores: what this suite checks is what renders, not how fast.
  page.setDefaultNavigationTimeout(120_000);
  page.setDefaultTimeout(90_000);
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const errors = watchErrors(page);
  const r = await page.goto(`${srv.base}/login?token=${token}&next=/boards`);
  expect(r?.status()).toBe(200);
  return { page, dialogs, errors };
}

/**
 * Moves the mouse over chart marks (column groups, donut slices, line plots, bar rows) so
 * their tooltips render; returns how many tooltips showed a payload.
 */
async function hoverMarks(page: Page, perChart = 3): Promise<number> {
  const points = await page.evaluate((per) => {
    const out: [number, number][] = [];
    for (const chart of document.querySelectorAll('[data-chart], [data-tile] ul')) {
      const marks = [...chart.querySelectorAll('[data-key], path, .plot, li')].filter((e) => (e as HTMLElement).getClientRects().length > 0);
      for (const m of marks.slice(0, per)) {
        const r = m.getBoundingClientRect();
        if (r.width > 0 && r.height > 0) out.push([r.left + r.width / 2 + window.scrollX, r.top + r.height / 2 + window.scrollY]);
      }
    }
    return out;
  }, perChart);
  let tips = 0;
  for (const [x, y] of points) {
    // A tall viewport holds every board without scrolling.
    await page.mouse.move(x, y);
    const tip = await page.locator('.tip, [role=status]').allInnerTexts();
    if (tip.some((t) => Object.values(P).some((v) => t.includes(v)))) tips++;
  }
  return tips;
}

async function settled(page: Page) {
  await page.waitForLoadState('networkidle');
  await expect.poll(() => page.locator('[data-state=loading]').count(), { timeout: 90_000 }).toBe(0);
}

async function noScriptRan(page: Page, dialogs: string[], where: string) {
  expect(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), where).toBeUndefined();
  expect(dialogs, where).toEqual([]);
  // No element the payloads would have created.
  expect(await page.locator('img[src=x], svg[onload], iframe[src^="javascript:"], a[href^="javascript:"]').count(), where).toBe(0);
}

describe('XSS payloads in names render as text', () => {
  it('every board, with tooltips shown: nothing runs, the payloads are visible text', async () => {
    const { page, dialogs } = await signedIn();
    const seen = new Set<string>();
    let tips = 0;
    for (const board of ['pipeline', 'forecast', 'win-loss', 'customers', 'payments', 'team']) {
      await page.goto(`${srv.base}/boards/${board}?${qs({ as_of: AS_OF, lang: 'en' })}`);
      await settled(page);
      tips += await hoverMarks(page);
      await noScriptRan(page, dialogs, board);
      const text = await page.locator('body').innerText();
      for (const [k, v] of Object.entries(P)) if (text.includes(v)) seen.add(k);
    }
    // Team, owner, customer, deal and product names all showed up somewhere, as text.
    for (const k of ['team', 'owner', 'customer', 'deal', 'product']) expect([...seen], k).toContain(k);
    // Some tooltips showed a payload (as text) while hovered.
    expect(tips).toBeGreaterThan(0);
  });

  it('the cockpit and a deal’s detail', async () => {
    const { page, dialogs } = await signedIn();
    await page.goto(`${srv.base}/cockpit?${qs({ as_of: AS_OF, lang: 'en' })}`);
    await settled(page);
    await hoverMarks(page);
    await noScriptRan(page, dialogs, 'cockpit');
    expect(await page.locator('body').innerText()).toContain(P.owner);

    await page.goto(`${srv.base}/boards/pipeline?${qs({ as_of: AS_OF, period: 'all', deal: dealId, lang: 'en' })}`);
    await settled(page);
    const drawer = page.getByTestId('deal-detail');
    await expect.poll(() => drawer.getAttribute('data-deal'), { timeout: 20_000 }).toBe(dealId);
    expect(await drawer.locator('#deal-title').textContent()).toBe(dealName);
    const text = await drawer.innerText();
    expect(text).toContain(P.customer);
    expect(text).toContain(P.owner);
    await noScriptRan(page, dialogs, 'deal detail');
  });

  it('embeds of a board and of a single tile', async () => {
    const { page, dialogs } = await signedIn();
    for (const path of ['/embed/team', '/embed/win-loss/loss_reasons']) {
      await page.goto(`${srv.base}${path}?${qs({ as_of: AS_OF, period: 'all', lang: 'en', token })}`);
      await settled(page);
      await hoverMarks(page);
      await noScriptRan(page, dialogs, path);
      expect(await page.locator('body').innerText(), path).toMatch(/<img src=x onerror=window.__xss=1>|<script>window.__xss=1<\/script>/);
    }
  });

  it('exports carry the payloads as literal text', async () => {
    const r = await fetch(`${srv.base}/api/models/deals/export?${qs({ format: 'csv', as_of: AS_OF, period: 'all', q: dealName })}`, {
      headers: { authorization: `Bearer ${token}` }
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(r.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const text = await r.text();
    expect(text).toContain(dealName);
    expect(text).toContain(P.owner);
    expect(text).not.toContain('&lt;');
  });
});
