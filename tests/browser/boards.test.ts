/**
 * Every manager board in real Chromium at a laptop, a 1080p and a 4K screen, in both
 * languages (both at 1080p, English on the laptop, Chinese at 4K): it loads with no console errors, every tile shows data (no error state), the
 * page does not overflow sideways, and text scales with the screen. Screenshots are kept in
 * test-results/screenshots/ — look at them.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launch, screenshot, watchErrors } from '../helpers/browser';
import { BOARDS } from '../../src/lib/boards/registry';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

/** Every size; both languages at 1080p, one each on the laptop and the 4K screen (time). */
const SIZES = [
  [1366, 768, ['en']],
  [1920, 1080, ['zh-CN', 'en']],
  [3840, 2160, ['zh-CN']]
] as const;

describe('every board at every size, in both languages', () => {
  for (const board of BOARDS) {
    for (const [w, h, locales] of SIZES) {
      it(`${board.id} at ${w}×${h}`, async () => {
        for (const locale of locales) {
          const page = await browser.newPage({ viewport: { width: w, height: h } });
          const errors = watchErrors(page);
          await page.goto(`${base}/boards/${board.id}?lang=${locale}&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
          const tiles = await page.locator('[data-tile]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-tile'), e.getAttribute('data-state')]));
          expect(tiles.map((t) => t[0])).toEqual(board.tiles.map((t) => t.id));
          expect(tiles.filter((t) => t[1] === 'error'), `${board.id} ${locale}: tiles in error`).toEqual([]);
          const dims = await page.evaluate(() => ({
            sw: document.documentElement.scrollWidth,
            font: parseFloat(getComputedStyle(document.documentElement).fontSize),
            lang: document.documentElement.lang
          }));
          expect(dims.sw).toBeLessThanOrEqual(w);
          expect(dims.lang).toBe(locale);
          if (w === 3840) expect(dims.font).toBeGreaterThanOrEqual(30);
          else expect(dims.font).toBeGreaterThanOrEqual(14);
          await screenshot(page, `board-${board.id}-${w}x${h}-${locale}`);
          expect(errors, `${board.id} ${locale}`).toEqual([]);
          await page.close();
        }
      });
    }
  }
});
