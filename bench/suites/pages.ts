/**
 * Board pages at 1M deals, as a browser gets them (issue 15, part 3): `/boards/pipeline` and
 * `/cockpit` in Chromium at 1920×1080, with the server's result cache off
 * (`server.result_cache_mb: 0`) so every load computes its tiles, as the first visitor after a
 * sync does.
 * - first byte: the navigation's responseStart (the frame and the tiles ready within the
 *   stream's first window arrive with it);
 * - ready: until no tile says it is still computing (`[data-tile][data-state=loading]`).
 * Baseline in the same run: the same page's fully rendered HTML (`?wait=all`) served static by
 * a bare node:http server (assets proxied to the cockpit), loaded the same way: what the page
 * would cost if its numbers were free.
 * The database: `BENCH_PAGES_DB` (or `BENCH_LOAD_DB`, `BENCH_MODELS_DB`) made by
 * `cockpit demo --scale large --seed 42 --as-of 2026-06-15`, else one generated into a temp file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import { serveCockpit, staticTwin } from '../serve';
import type { Suite } from './index';

const AS_OF = '2026-06-15';
const RUNS = Number(process.env.BENCH_PAGES_RUNS ?? 7);


/** One load in a fresh context: first byte and ready, in ms from the navigation's start. */
async function load(browser: Browser, url: string): Promise<{ ttfb: number; ready: number; tiles: number }> {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await ctx.newPage();
  try {
    await page.goto(url, { waitUntil: 'commit', timeout: 120_000 });
    await page.waitForFunction(
      () => document.readyState !== 'loading' && document.querySelectorAll('[data-tile]').length > 0 && document.querySelectorAll('[data-tile][data-state=loading]').length === 0,
      null,
      { timeout: 120_000, polling: 'raf' }
    );
    return await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return { ttfb: nav.responseStart, ready: performance.now(), tiles: document.querySelectorAll('[data-tile]').length };
    });
  } finally {
    await ctx.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const pages: Suite = {
  name: 'pages',
  description: 'board pages at 1M deals in Chromium (cache off): first byte and every tile ready, vs the same HTML served static',
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-pages-'));
    let file = process.env.BENCH_PAGES_DB ?? process.env.BENCH_LOAD_DB ?? process.env.BENCH_MODELS_DB;
    if (!file) {
      file = join(dir, 'large.duckdb');
      log('generating the large demo (1,000,000 opportunities): minutes');
      const db = await Database.open(file);
      await generateDemo(db, { scale: 'large', seed: 42, asOf: AS_OF });
      await db.close();
    }
    const config = join(dir, 'cockpit.json');
    writeFileSync(config, JSON.stringify({ server: { result_cache_mb: 0 } }));
    const { url, child } = await serveCockpit(['--db', file, '--config', config]);
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
    });
    const rows = [];
    try {
      for (const path of [`/boards/pipeline?lang=zh-CN&as_of=${AS_OF}`, `/cockpit?lang=zh-CN&as_of=${AS_OF}`]) {
        const page = `${url}${path}`;
        const full = await fetch(`${page}&wait=all`);
        if (full.status !== 200) throw new Error(`${path}: HTTP ${full.status}`);
        const html = await full.text();
        const twin = await staticTwin(html, url);
        const first = await load(browser, page);
        log(`${path}: first load after start: first byte ${first.ttfb.toFixed(0)} ms, ready ${first.ready.toFixed(0)} ms (${first.tiles} tiles)`);
        const runs: { ttfb: number; ready: number }[] = [];
        const base: { ttfb: number; ready: number }[] = [];
        const loads: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          runs.push(await load(browser, page));
          base.push(await load(browser, `${twin.url}/`));
          loads.push(loadavg()[0]);
          log(`  run ${i + 1}: first byte ${runs[i].ttfb.toFixed(0)} ms, ready ${runs[i].ready.toFixed(0)} ms; static ${base[i].ttfb.toFixed(0)} / ${base[i].ready.toFixed(0)} ms (load ${loads[i].toFixed(1)})`);
        }
        twin.server.close();
        const note = `1M deals, cache off, median of ${RUNS}; load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
        const name = path.split('?')[0];
        rows.push(
          { case: `${name}: first byte`, value: median(runs.map((r) => r.ttfb)), baseline: median(base.map((r) => r.ttfb)), baseline_label: 'same HTML served static', note: `${note}; target ≤ 300 ms` },
          { case: `${name}: every tile ready`, value: median(runs.map((r) => r.ready)), baseline: median(base.map((r) => r.ready)), baseline_label: 'same HTML served static', note: `${note}; target ≤ 1,500 ms` }
        );
      }
      return rows;
    } finally {
      await browser.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
};
