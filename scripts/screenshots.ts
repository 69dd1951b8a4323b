/**
 * Screenshots of every board, cockpit page and the other pages people use (a customer's 360
 * page, a deal's detail, the forecast call, the alerts admin and the upload page in the two
 * states that matter), in both languages, at a phone (390 px), a laptop (1366×768), 1080p and
 * 4K: docs/screenshots/<page>-<lang>-<width>.png, and a list of the text that does not fit its
 * box on each (tests/helpers/reads-well.ts). Look at them.
 *
 *   npx tsx scripts/screenshots.ts [--url http://host:port] [--pages pipeline,cockpit-overview] [--widths 390,1366]
 *
 * Without --url it generates the small demo company (seed 7, as of 2026-06-15) into a
 * temporary file and serves it with `cockpit serve` (build first: npm run build). The upload
 * pages get a server of their own on an empty database (the held-out South-China ledger of
 * tests/fixtures/heldout is imported there, as tests/browser/upload.test.ts does), so the
 * demo's figures stay the demo's.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launch } from '../tests/helpers/browser';
import { cockpit, DEMO_AS_OF, DEMO_SEED, ROOT, startServer } from '../tests/helpers/global-setup';
import { textProblems } from '../tests/helpers/reads-well';
import { BOARDS } from '../src/lib/boards/registry';

export const SIZES: Record<number, number> = { 390: 844, 1366: 768, 1920: 1080, 3840: 2160 };
export const PAGES: Record<string, string> = {
  ...Object.fromEntries(BOARDS.map((b) => [b.id, `/boards/${b.id}`])),
  'cockpit-overview': '/cockpit?pages=overview',
  'cockpit-forecast': '/cockpit?pages=forecast',
  'cockpit-movement': '/cockpit?pages=movement',
  'forecast-call': '/forecast-call',
  'alerts-admin': '/admin/alerts',
  // Resolved against the data once the server runs (see `resolve` below).
  customer: '/customers/<top customer>',
  deal: '/boards/pipeline?deal=<its biggest deal>',
  // The upload page with the held-out ledger chosen (sheets, header rows, mapping, preview) and after its import (rejected rows).
  'upload-preview': '/admin/import',
  'upload-result': '/admin/import'
};
const UPLOAD = new Set(['upload-preview', 'upload-result']);
const FIXTURE = join(ROOT, 'tests/fixtures/heldout');
const UPLOAD_AS_OF = '2025-06-30';
/** A screenshot larger than this is kept as a JPEG (quality 80) instead: a 4K page of charts runs to several MB as PNG. */
const MAX_PNG = 1_500_000;

const { values } = parseArgs({ options: { url: { type: 'string' }, pages: { type: 'string' }, widths: { type: 'string' }, langs: { type: 'string' } } });
const pages = values.pages ? values.pages.split(',') : Object.keys(PAGES);
const widths = values.widths ? values.widths.split(',').map(Number) : Object.keys(SIZES).map(Number);
const langs = values.langs ? values.langs.split(',') : ['zh-CN', 'en'];

let base = values.url;
let stop = async () => {};
let demoDb = '';
if (!base) {
  const dir = mkdtempSync(join(tmpdir(), 'screenshots-'));
  const db = join(dir, 'demo.duckdb');
  const gen = cockpit(['demo', '--scale', 'small', '--seed', String(DEMO_SEED), '--as-of', DEMO_AS_OF, '--db', db]);
  if (gen.status !== 0) throw new Error(gen.stderr);
  demoDb = db;
  const s = await startServer(['--db', db]);
  base = s.url;
  stop = async () => {
    s.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
}
/** A server of its own on a database in `dir`; stop() ends it and removes the directory. */
async function serveIn(dir: string, args: string[]) {
  const s = await startServer(args);
  return {
    url: s.url,
    stop: async () => {
      s.child.kill('SIGTERM');
      await new Promise((r) => s.child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
/** A server on an empty database with the fixture author's configuration (stages, time zone) without its sources, as the upload test runs it. */
async function uploadServer() {
  const dir = mkdtempSync(join(tmpdir(), 'screenshots-upload-'));
  const config = JSON.parse(readFileSync(join(FIXTURE, 'cockpit.config.json'), 'utf8'));
  delete config.sources;
  writeFileSync(join(dir, 'cockpit.config.json'), JSON.stringify(config));
  return serveIn(dir, ['--no-demo', '--db', join(dir, 'upload.duckdb'), '--config', join(dir, 'cockpit.config.json')]);
}

/**
 * /admin/alerts with something to show: a copy of the demo company under the example rules
 * (examples/alerts), two of them run once by `cockpit alerts run` against a local receiver
 * that takes the group-chat messages and refuses the ERP hook's signature, so the page lists
 * rules, evaluations, and deliveries both sent and failed.
 */
async function alertsServer() {
  if (!demoDb) throw new Error('alerts-admin needs the generated demo (run without --url)');
  const dir = mkdtempSync(join(tmpdir(), 'screenshots-alerts-'));
  const db = join(dir, 'alerts.duckdb');
  copyFileSync(demoDb, db);
  const config = join(ROOT, 'examples/alerts/cockpit.config.json');
  const rx = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/erp') res.writeHead(401).end('invalid signature');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok","code":0,"msg":"success"}');
    });
  });
  await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
  const at = `http://127.0.0.1:${(rx.address() as AddressInfo).port}`;
  const env = {
    ...process.env,
    COCKPIT_CONFIG: '',
    WECOM_EAST_WEBHOOK: `${at}/wecom`,
    DINGTALK_SALES_WEBHOOK: `${at}/dingtalk`,
    DINGTALK_SALES_SECRET: 'SEC-screenshots-0123456789',
    FEISHU_FINANCE_WEBHOOK: `${at}/feishu`,
    FEISHU_FINANCE_SECRET: 'screenshots-0123456789',
    ERP_HOOK_URL: `${at}/erp`,
    ERP_HOOK_SECRET: 'screenshots-0123456789-abcdefgh'
  };
  for (const rule of ['stalled-deals', 'overdue-large']) {
    const child = spawn(process.execPath, [join(ROOT, 'bin/cockpit.js'), 'alerts', 'run', rule, '--ignore-quiet-hours', '--config', config, '--db', db], { cwd: ROOT, env, stdio: 'ignore' });
    const code = await new Promise((r) => child.on('close', r));
    if (code !== 0 && code !== 1) throw new Error(`cockpit alerts run ${rule} exited with ${code}`);
  }
  rx.close();
  return serveIn(dir, ['--db', db, '--config', config]);
}
/** Servers of their own, started when a page needs one (the upload result gets a fresh, empty database per shot so it says 新增, not 更新). */
const own: Record<string, { url: string; stop: () => Promise<void> }> = {};
async function hostFor(name: string): Promise<string> {
  if (name === 'alerts-admin') return (own.alerts ??= await alertsServer()).url;
  if (name === 'upload-preview') return (own.upload ??= await uploadServer()).url;
  if (name === 'upload-result') {
    await own.result?.stop();
    return (own.result = await uploadServer()).url;
  }
  return base!;
}

/** The customer with value and potential (payments and open deals) who has the most, and that customer's biggest deal. */
async function resolve(name: string): Promise<string> {
  const get = async (q: string) => (await (await fetch(`${base}/api/models/${q}&as_of=${DEMO_AS_OF}`)).json()) as { rows: Record<string, unknown>[] };
  const top = (await get('customer_profile?view=grid_customers&quadrant=key_maintain&limit=1')).rows[0];
  const cid = String(top.customer_id);
  if (name === 'customer') return `/customers/${encodeURIComponent(cid)}`;
  const deal = (await get(`deals?customer=${encodeURIComponent(cid)}&period=all&sort=amount&limit=1`)).rows[0];
  return `/boards/pipeline?period=all&deal=${encodeURIComponent(String(deal.opportunity_id))}`;
}

/** Waits until the upload page is not waiting on the server (upload, preview, import). */
async function uploadIdle(page: Page) {
  for (let i = 0; i < 600 && (await page.getByTestId('import-page').getAttribute('data-busy')); i++) await page.waitForTimeout(200);
}
/** The upload page in the state worth a look: the ledger chosen and previewed, or imported. */
async function drive(page: Page, name: string) {
  await page.getByTestId('file-input').setInputFiles(join(FIXTURE, '华南销售台账2025.xlsx'));
  await page.getByTestId('upload').click();
  await page.getByTestId('preview-table').waitFor({ timeout: 120_000 });
  await uploadIdle(page);
  if (name === 'upload-result') {
    await page.getByTestId('import').click();
    await page.getByTestId('import-result').waitFor({ timeout: 120_000 });
    await uploadIdle(page);
    await page.getByTestId('import-result').scrollIntoViewIfNeeded();
  }
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
        const path = name === 'customer' || name === 'deal' ? await resolve(name) : PAGES[name];
        const host = await hostFor(name);
        const asOf = UPLOAD.has(name) ? UPLOAD_AS_OF : DEMO_AS_OF;
        await page.goto(`${host}${path}${path.includes('?') ? '&' : '?'}lang=${lang}&as_of=${asOf}`, { waitUntil: 'networkidle' });
        if (UPLOAD.has(name)) await drive(page, name);
        await page.evaluate(() => document.fonts.ready);
        // Tiles fade in and bars grow (CSS transitions): shoot the settled page, not a frame of it.
        await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null))));
        await page.waitForTimeout(800);
        let file = join(out, `${name}-${lang}-${width}.png`);
        const jpg = file.replace(/\.png$/, '.jpg');
        // A board is taller than the screen: shoot it whole at 1920 (at 4K it is the same layout
        // twice the size, so the screen's worth shows how it reads; the cockpit fits its screen).
        // On a phone the cockpit's tiles stack and the page scrolls: shoot it whole there.
        // The upload page is a form to read top to bottom: whole at 390 and 1920.
        const fullPage = name.startsWith('cockpit') ? width === 390 : UPLOAD.has(name) ? width === 390 || width === 1920 : width === 1920;
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
  for (const o of Object.values(own)) await o.stop();
}
console.log(bad ? `${bad} problems` : 'no text overflows its box');
