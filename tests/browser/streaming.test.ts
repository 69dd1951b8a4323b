/**
 * Boards stream (issue 15): the server sends the frame at once and each tile's result as it
 * finishes, in the same response. `?wait=none` streams every tile, so a small fast database
 * shows what a slow one does: the first HTML has the board and every tile "computing", the
 * results follow, and Chromium fills every tile in with no reload. Without JavaScript the
 * page stays readable: each tile still computing links to the fully rendered page
 * (`?wait=all`), which has every tile's data in its HTML.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launch, watchErrors } from '../helpers/browser';
import { getBoard } from '../../src/lib/boards/registry';
import { WALL_PAGES } from '../../src/lib/boards/wall';

const base = inject('baseUrl');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

const board = getBoard('pipeline')!;
const states = (html: string) => [...html.matchAll(/data-tile="([^"]+)"[^>]*?data-state="([^"]+)"/g)].map((m) => [m[1], m[2]]);

describe('a board streams its tiles', () => {
  it('sends the frame with the tiles computing first, then the results in the same response', async () => {
    // A report date no other test asks for: the server's result cache has none of its tiles.
    const res = await fetch(`${base}/boards/pipeline?as_of=2026-06-11&lang=en&wait=none`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-board="pipeline"');
    const tiles = states(html);
    expect(tiles.map((t) => t[0])).toEqual(board.tiles.map((t) => t.id));
    expect(tiles.filter((t) => t[1] === 'loading').length).toBeGreaterThan(0);
    expect(tiles.filter((t) => t[1] === 'error')).toEqual([]);
    expect(html).toContain('Computing…');
    expect(html).toContain('wait=all');
    // each streamed result is a script after the page resolving one promise of its data
    expect(html.match(/__sveltekit_\w+\.resolve\(/g)?.length ?? 0).toBeGreaterThan(0);
  });

  it('Chromium fills in every tile from the stream', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?as_of=2026-06-10&lang=en&wait=none`);
    await expect
      .poll(async () => page.locator('[data-tile]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))), { timeout: 30_000 })
      .toEqual(board.tiles.map(() => expect.stringMatching(/^(ready|empty)$/)));
    expect(await page.getByTestId('board').getAttribute('data-busy')).toBeNull();
    // the deals table's count is the API's
    const api = await (await fetch(`${base}/api/models/deals?as_of=2026-06-10&period=this_year&date_field=created_at&limit=1`)).json();
    expect(api.summary.total).toBeGreaterThan(0);
    expect(await page.locator('[data-tile=deals]').textContent()).toContain(api.summary.total.toLocaleString('en'));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('without JavaScript, a tile still computing links to the page with every tile rendered', async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1366, height: 768 } });
    const page = await ctx.newPage();
    await page.goto(`${base}/boards/pipeline?as_of=2026-06-09&lang=en&wait=none`);
    const link = page.locator('[data-state=loading] a[href*="wait=all"]').first();
    await link.click();
    await page.waitForURL(/wait=all/);
    const tiles = await page.locator('[data-tile]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-tile'), e.getAttribute('data-state')]));
    expect(tiles.map((t) => t[0])).toEqual(board.tiles.map((t) => t.id));
    expect(tiles.filter((t) => t[1] !== 'ready' && t[1] !== 'empty')).toEqual([]);
    await ctx.close();
  });
});

describe('the cockpit streams its tiles like a board', () => {
  const wall = WALL_PAGES.overview;

  it('sends the wall frame with the tiles computing first, then the results in the same response', async () => {
    const res = await fetch(`${base}/cockpit?as_of=2026-06-08&lang=en&wait=none`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-testid="cockpit"');
    const tiles = states(html);
    expect(tiles.map((t) => t[0])).toEqual(wall.tiles.map((t) => t.id));
    expect(tiles.filter((t) => t[1] === 'loading').length).toBeGreaterThan(0);
    expect(tiles.filter((t) => t[1] === 'error')).toEqual([]);
    // no "offline"/error banner while nothing has arrived yet
    expect(html).not.toContain('role="alert"');
    expect(html.match(/__sveltekit_\w+\.resolve\(/g)?.length ?? 0).toBeGreaterThan(0);
  });

  it('Chromium fills in every wall tile from the stream, and a refresh still swaps them in place', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/cockpit?as_of=2026-06-07&lang=en&wait=none`);
    const tileStates = () => page.locator('[data-tile]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
    await expect.poll(tileStates, { timeout: 30_000 }).toEqual(wall.tiles.map(() => expect.stringMatching(/^(ready|empty)$/)));
    // the won amount shown is the API's
    const kpis = await (await fetch(`${base}/api/models/kpis?period=this_quarter&as_of=2026-06-07`)).json();
    const won = kpis.rows.find((r: { measure: string }) => r.measure === 'won_amount').value;
    expect(Number(await page.getByTestId('kpi-value-won_amount').getAttribute('data-value'))).toBeCloseTo(won, 6);
    // the refresh fetches every streamed tile too (none is taken for a lazy one and skipped)
    const urls: string[] = await page.evaluate(() => (window as unknown as { __cockpit: { urls: () => string[] } }).__cockpit.urls());
    expect(urls.length).toBeGreaterThan(wall.tiles.length);
    expect(await page.evaluate(() => (window as unknown as { __cockpit: { refresh: () => Promise<boolean> } }).__cockpit.refresh())).toBe(true);
    expect(await tileStates()).toEqual(wall.tiles.map(() => expect.stringMatching(/^(ready|empty)$/)));
    expect(errors).toEqual([]);
    await page.close();
  });
});
