/**
 * The cockpit as a wall screen sees it, on the demo `medium` scale (60,000 opportunities):
 * - first paint with data: Chromium's first-contentful-paint of /cockpit (server-rendered,
 *   so its first paint carries the numbers; the test checks the KPI is in the HTML), beside
 *   the same HTML served static by a bare node:http server (assets proxied): the difference
 *   is the cost of computing the page's ~15 model queries;
 * - client JS: the gzip size of every script /cockpit loads, beside the home page's (the
 *   SvelteKit runtime and layout every page pays for).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import { serveCockpit, staticTwin } from '../serve';
import type { Suite } from './index';

const AS_OF = '2026-11-21';


async function firstPaint(browser: Browser, url: string): Promise<number> {
  const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const page = await ctx.newPage();
  await page.goto(url, { waitUntil: 'load' });
  const fcp = await page.evaluate(
    () =>
      new Promise<number>((res) => {
        const e = performance.getEntriesByName('first-contentful-paint')[0];
        if (e) return res(e.startTime);
        new PerformanceObserver((l) => res(l.getEntries()[0].startTime)).observe({ type: 'paint', buffered: true });
      })
  );
  await ctx.close();
  return fcp;
}

async function scriptBytes(browser: Browser, url: string): Promise<{ raw: number; gzip: number; files: number }> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const bodies: Promise<Buffer>[] = [];
  page.on('response', (r) => {
    if (r.request().resourceType() === 'script' || /\.js(\?|$)/.test(r.url())) bodies.push(r.body());
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  const all = await Promise.all(bodies);
  await ctx.close();
  return { raw: all.reduce((s, b) => s + b.length, 0), gzip: all.reduce((s, b) => s + gzipSync(b, { level: 9 }).length, 0), files: all.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const cockpit: Suite = {
  name: 'cockpit',
  description: 'cockpit first paint with data (medium demo) vs the same HTML served static; cockpit client JS vs the home page',
  async run(log) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cockpit-'));
    const file = join(dir, 'demo.duckdb');
    const db = await Database.open(file);
    await generateDemo(db, { scale: 'medium', seed: 42, asOf: AS_OF });
    await db.close();
    const { url, child } = await serveCockpit(['--db', file]);
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = `${url}/cockpit?as_of=${AS_OF}&lang=zh-CN`;
      // The cockpit streams a tile that misses the first byte's budget; `wait=all` is the page
      // with every tile in its HTML, which is what the check below and the static twin need.
      const html = await (await fetch(`${page}&wait=all`)).text();
      if (!/data-testid="kpi-value-won_amount" data-value="\d/.test(html)) throw new Error('the cockpit HTML with every tile has no KPI value');
      const cold = await firstPaint(browser, page);
      const twin = await staticTwin(html, url);
      const cockpitRuns: number[] = [];
      const staticRuns: number[] = [];
      for (let i = 0; i < 7; i++) {
        cockpitRuns.push(await firstPaint(browser, page));
        staticRuns.push(await firstPaint(browser, `${twin.url}/`));
        log(`run ${i + 1}: cockpit ${cockpitRuns[i].toFixed(0)} ms, static ${staticRuns[i].toFixed(0)} ms`);
      }
      twin.server.close();
      const js = await scriptBytes(browser, page);
      const home = await scriptBytes(browser, `${url}/?lang=zh-CN`);
      log(`cockpit JS: ${js.files} files, ${(js.raw / 1024).toFixed(0)} KB raw, ${(js.gzip / 1024).toFixed(1)} KB gzip; home ${(home.gzip / 1024).toFixed(1)} KB gzip`);
      return [
        {
          case: 'first paint with data, /cockpit at 1920×1080, medium demo (median of 7)',
          value: median(cockpitRuns),
          baseline: median(staticRuns),
          baseline_label: 'same HTML served static',
          note: `first load after start ${cold.toFixed(0)} ms; target ≤ 1,500 ms`
        },
        {
          case: 'cockpit client JS (gzip)',
          value: js.gzip / 1024,
          baseline: home.gzip / 1024,
          baseline_label: 'home page JS',
          unit: 'KB',
          note: `${js.files} files, ${(js.raw / 1024).toFixed(0)} KB uncompressed; target ≤ 200 KB`
        }
      ];
    } finally {
      await browser.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
};
