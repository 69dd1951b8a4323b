/**
 * Screenshots of every board and cockpit page, in both languages, at a phone (390 px), a
 * laptop (1366×768), 1080p and 4K: docs/screenshots/<page>-<lang>-<width>.png, and a list of
 * the text that does not fit its box on each (tests/helpers/reads-well.ts). Look at them.
 *
 *   npx tsx scripts/screenshots.ts [--url http://host:port] [--pages pipeline,cockpit-overview] [--widths 390,1366]
 *
 * Without --url it generates the small demo company (seed 7, as of 2026-06-15) into a
 * temporary file and serves it with `cockpit serve` (build first: npm run build).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launch } from '../tests/helpers/browser';
import { cockpit, DEMO_AS_OF, DEMO_SEED, ROOT, startServer } from '../tests/helpers/global-setup';
import { textProblems } from '../tests/helpers/reads-well';
import { BOARDS } from '../src/lib/boards/registry';

export const SIZES: Record<number, number> = { 390: 844, 1366: 768, 1920: 1080, 3840: 2160 };
export const PAGES: Record<string, string> = {
  ...Object.fromEntries(BOARDS.map((b) => [b.id, `/boards/${b.id}`])),
  'cockpit-overview': '/cockpit?pages=overview',
  'cockpit-forecast': '/cockpit?pages=forecast',
  'cockpit-movement': '/cockpit?pages=movement'
};
/** A screenshot larger than this is kept as a JPEG (quality 80) instead: a 4K page of charts runs to several MB as PNG. */
const MAX_PNG = 1_500_000;

const { values } = parseArgs({ options: { url: { type: 'string' }, pages: { type: 'string' }, widths: { type: 'string' }, langs: { type: 'string' } } });
const pages = values.pages ? values.pages.split(',') : Object.keys(PAGES);
const widths = values.widths ? values.widths.split(',').map(Number) : Object.keys(SIZES).map(Number);
const langs = values.langs ? values.langs.split(',') : ['zh-CN', 'en'];

let base = values.url;
let stop = async () => {};
if (!base) {
  const dir = mkdtempSync(join(tmpdir(), 'screenshots-'));
  const db = join(dir, 'demo.duckdb');
  const gen = cockpit(['demo', '--scale', 'small', '--seed', String(DEMO_SEED), '--as-of', DEMO_AS_OF, '--db', db]);
  if (gen.status !== 0) throw new Error(gen.stderr);
  const s = await startServer(['--db', db]);
  base = s.url;
  stop = async () => {
    s.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
}
const out = join(ROOT, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const browser = await launch();
let bad = 0;
try {
  for (const name of pages) {
    for (const width of widths) {
      for (const lang of langs) {
        const page = await browser.newPage({ viewport: { width, height: SIZES[width] ?? 1080 } });
        const path = PAGES[name];
        await page.goto(`${base}${path}${path.includes('?') ? '&' : '?'}lang=${lang}&as_of=${DEMO_AS_OF}`, { waitUntil: 'networkidle' });
        await page.evaluate(() => document.fonts.ready);
        // Tiles fade in and bars grow (CSS transitions): shoot the settled page, not a frame of it.
        await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null))));
        await page.waitForTimeout(800);
        let file = join(out, `${name}-${lang}-${width}.png`);
        const jpg = file.replace(/\.png$/, '.jpg');
        // A board is taller than the screen: shoot it whole at 1920 (at 4K it is the same layout
        // twice the size, so the screen's worth shows how it reads; the cockpit fits its screen).
        // On a phone the cockpit's tiles stack and the page scrolls: shoot it whole there.
        const fullPage = name.startsWith('cockpit') ? width === 390 : width === 1920;
        const png = await page.screenshot({ path: file, fullPage });
        if (png.length > MAX_PNG) {
          rmSync(file);
          await page.screenshot({ path: jpg, type: 'jpeg', quality: 80, fullPage });
          file = jpg;
        } else if (existsSync(jpg)) rmSync(jpg);
        const problems = await textProblems(page);
        bad += problems.length;
        console.log(`${file.replace(`${ROOT}/`, '')}${problems.length ? `: ${problems.length} problems` : ''}`);
        // One line per kind of element (a table's cut names are one finding, not forty).
        const groups = new Map<string, string[]>();
        for (const p of problems) groups.set(`${p.kind} ${p.where}`, [...(groups.get(`${p.kind} ${p.where}`) ?? []), p.text]);
        for (const [k, texts] of groups) console.log(`  ${k} ×${texts.length}: ${texts.slice(0, 3).join(' | ')}`);
        await page.close();
      }
    }
  }
} finally {
  await browser.close();
  await stop();
}
console.log(bad ? `${bad} problems` : 'no text overflows its box');
