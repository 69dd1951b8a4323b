/**
 * Every board and cockpit page reads well (issue 12) in real Chromium, on a phone (390 px), a
 * laptop (1366×768), 1080p and 4K, in both languages: no KPI number, KPI label or tile subtitle
 * is cut off or shown with an ellipsis, and no two labels of a chart axis are drawn over each
 * other (tests/helpers/reads-well.ts). Sizes and languages are spread over the pages so the
 * file stays near a minute: each page at a phone and at 4K in English (the longer labels;
 * the two reported failures), and the cockpit pages and the pipeline board also at a phone in
 * Chinese, on the laptop and at 1080p. scripts/screenshots.ts takes every combination and writes them to
 * docs/screenshots.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launch } from '../helpers/browser';
import { textProblems } from '../helpers/reads-well';
import { BOARDS } from '../../src/lib/boards/registry';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

const PAGES: [string, string][] = [...BOARDS.map((b) => [b.id, `/boards/${b.id}`] as [string, string]), ['cockpit-overview', '/cockpit?pages=overview'], ['cockpit-forecast', '/cockpit?pages=forecast']];
const HEIGHT: Record<number, number> = { 390: 844, 1366: 768, 1920: 1080, 3840: 2160 };
const runs: [string, string, number, string][] = [];
for (const [name, path] of PAGES) {
  runs.push([name, path, 390, 'en'], [name, path, 3840, 'en']);
  if (name.startsWith('cockpit') || name === 'pipeline') runs.push([name, path, 390, 'zh-CN'], [name, path, 1366, 'en'], [name, path, 1920, 'zh-CN']);
}

/** What must never be cut: KPI numbers and labels, tile subtitles. */
const MUST_FIT = '[data-testid^="kpi-value"], .kpi h2, [data-tile] header .sub';

describe('text fits its box', () => {
  for (const [name, path, width, lang] of runs) {
    it(`${name} at ${width} px (${lang})`, async () => {
      const page = await browser.newPage({ viewport: { width, height: HEIGHT[width] } });
      await page.goto(`${base}${path}${path.includes('?') ? '&' : '?'}lang=${lang}&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
      await page.evaluate(() => document.fonts.ready);
      const problems = await textProblems(page, MUST_FIT);
      await page.close();
      expect(problems.map((p) => `${p.kind} ${p.where}: ${p.text}`)).toEqual([]);
    });
  }
});
