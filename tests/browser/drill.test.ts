/**
 * A manager's drill-down in real Chromium against a real server, click by click: company →
 * region → team → rep → deal. Each level's bars are the API's groups; the rep's deals are
 * the API's; the deal detail shows exactly what the `deal` model returns; back and forward
 * walk the same path; a shared URL reproduces the view.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launch, screenshot, watchErrors } from '../helpers/browser';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

const api = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  expect(res.status, path).toBe(200);
  return res.json();
};
const q = (o: Record<string, string | string[]>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  return p.toString();
};
/** The bar list of a tile as [key, value] in page order. */
const bars = (page: Page, tile: string) =>
  page.locator(`[data-tile=${tile}] li[data-key]`).evaluateAll((els) => els.map((e) => [e.getAttribute('data-key'), Number(e.getAttribute('data-value'))]));
const crumbs = (page: Page) => page.getByTestId('breadcrumbs').locator('li').allTextContents();
/** Waits until the URL has the parameters and the page has settled (no tile loading). */
/** Waits until the URL passes `check` and the board has finished navigating to it. */
async function settle(page: Page, check: (u: URL) => boolean) {
  await expect.poll(() => check(new URL(page.url())), { timeout: 15_000 }).toBe(true);
  await expect
    .poll(async () => {
      const u = new URL(page.url());
      const board = page.getByTestId('board');
      return (await board.getAttribute('data-url')) === `${u.pathname}${u.search}` && (await board.getAttribute('data-busy')) === null;
    }, { timeout: 15_000 })
    .toBe(true);
  await page.waitForLoadState('networkidle');
  await expect.poll(() => page.locator('[data-state=loading]').count(), { timeout: 15_000 }).toBe(0);
}

describe('drill-down on the pipeline board', () => {
  it('company → region → team → rep → deal, back and forward, and the URL reproduces the view', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=zh-CN&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const options = (await api(`/api/models/options?as_of=${AS_OF}`)).rows as { kind: string; key: string; label: string; parent: string | null }[];
    const teams = options.filter((o) => o.kind === 'team');
    const root = teams.find((t) => t.parent === null)!;
    expect(await crumbs(page)).toEqual([root.label]);

    // Company: the bars are the regions, as the API groups them (new deals' amount this year).
    const funnelBy = async (params: Record<string, string | string[]>) =>
      (await api(`/api/models/funnel?${q({ period: 'this_year', as_of: AS_OF, ...params })}`)).rows.filter((r: { stage_index: number }) => r.stage_index === 1) as {
        group_key: string;
        reached_amount: number;
      }[];
    const regions = await funnelBy({ group_by: 'team' });
    const shown = await bars(page, 'new_by_org');
    expect(shown.map((b) => b[0]).sort()).toEqual(regions.map((r) => r.group_key).sort());
    for (const r of regions) expect(shown.find((b) => b[0] === r.group_key)![1]).toBeCloseTo(r.reached_amount, 2);
    const region = teams.find((t) => t.key === [...regions].sort((a, b) => b.reached_amount - a.reached_amount)[0].group_key)!;

    // → region: its teams.
    await page.locator(`[data-tile=new_by_org] li[data-key="${region.key}"] button`).click();
    await settle(page, (u) => u.searchParams.get('team') === region.key);
    expect(await crumbs(page)).toEqual([root.label, region.label]);
    const regionTeams = await funnelBy({ team: region.key, group_by: 'team' });
    expect((await bars(page, 'new_by_org')).map((b) => b[0]).sort()).toEqual(regionTeams.map((r) => r.group_key).sort());
    expect(regionTeams.every((r) => teams.find((t) => t.key === r.group_key)?.parent === region.key)).toBe(true);
    await screenshot(page, 'drill-1-region');

    // → team (a leaf): its reps.
    const teamKey = [...regionTeams].sort((a, b) => b.reached_amount - a.reached_amount)[0].group_key;
    const team = teams.find((t) => t.key === teamKey)!;
    await page.locator(`[data-tile=new_by_org] li[data-key="${team.key}"] button`).click();
    await settle(page, (u) => u.searchParams.get('team') === team.key);
    expect(await crumbs(page)).toEqual([root.label, region.label, team.label]);
    const reps = await funnelBy({ team: team.key, group_by: 'owner' });
    expect((await bars(page, 'new_by_org')).map((b) => b[0]).sort()).toEqual(reps.map((r) => r.group_key).sort());
    await screenshot(page, 'drill-2-team');

    // → rep: the deals table lists the rep's deals, as the deals model does.
    const rep = [...reps].sort((a, b) => b.reached_amount - a.reached_amount)[0].group_key;
    const repName = options.find((o) => o.kind === 'owner' && o.key === rep)!.label;
    await page.locator(`[data-tile=new_by_org] li[data-key="${rep}"] button`).click();
    await settle(page, (u) => u.searchParams.get('owner') === rep);
    expect(await crumbs(page)).toEqual([root.label, region.label, team.label, repName]);
    const repDeals = await api(
      `/api/models/deals?${q({ period: 'this_year', as_of: AS_OF, team: team.key, owner: rep, date_field: 'created_at', sort: 'amount', dir: 'desc', limit: '15' })}`
    );
    expect(Number(await page.locator('[data-table=deals]').getAttribute('data-total'))).toBe(repDeals.summary.total);
    const rowIds = await page.locator('[data-table=deals] tbody tr[data-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-row')));
    expect(rowIds).toEqual(repDeals.rows.map((r: { opportunity_id: string }) => r.opportunity_id));
    await screenshot(page, 'drill-3-rep');

    // → deal: the drawer shows the deal model's detail.
    const dealId = rowIds[0]!;
    await page.locator(`[data-table=deals] tr[data-row="${dealId}"] button[data-deal]`).click();
    await settle(page, (u) => u.searchParams.get('deal') === dealId);
    const detail = await api(`/api/models/deal?${q({ id: dealId, as_of: AS_OF, period: 'this_year', team: team.key, owner: rep })}`);
    const drawer = page.getByTestId('deal-detail');
    await expect.poll(() => drawer.getAttribute('data-deal')).toBe(dealId);
    expect(await drawer.locator('#deal-title').textContent()).toBe(detail.summary.deal.name);
    expect(Number(await drawer.locator('[data-field=amount]').getAttribute('data-value'))).toBe(detail.summary.deal.amount);
    expect((await drawer.locator('[data-field=customer_name]').textContent())?.trim()).toBe(detail.summary.deal.customer_name);
    const stages = await drawer.locator('[data-testid=deal-stages] li').evaluateAll((els) => els.map((e) => [e.getAttribute('data-stage'), e.getAttribute('data-days')]));
    expect(stages).toEqual(
      detail.rows.filter((r: { kind: string }) => r.kind === 'stage').map((r: { stage: string; days: number | null }) => [r.stage, r.days === null ? '' : String(r.days)])
    );
    const payments = detail.rows.filter((r: { kind: string }) => r.kind === 'payment').map((r: { ref: string }) => r.ref);
    expect(await drawer.locator('[data-payment]').evaluateAll((els) => els.map((e) => e.getAttribute('data-payment')))).toEqual(payments);
    expect((await crumbs(page)).slice(0, 4)).toEqual([root.label, region.label, team.label, repName]);
    await screenshot(page, 'drill-4-deal');

    // Back: the drawer closes, then the rep, the team …; forward comes back.
    await page.goBack();
    await settle(page, (u) => !u.searchParams.has('deal') && u.searchParams.get('owner') === rep);
    expect(await drawer.count()).toBe(0);
    await page.goBack();
    await settle(page, (u) => !u.searchParams.has('owner') && u.searchParams.get('team') === team.key);
    expect(await crumbs(page)).toEqual([root.label, region.label, team.label]);
    expect((await bars(page, 'new_by_org')).map((b) => b[0]).sort()).toEqual(reps.map((r) => r.group_key).sort());
    await page.goForward();
    await settle(page, (u) => u.searchParams.get('owner') === rep);
    expect(await crumbs(page)).toEqual([root.label, region.label, team.label, repName]);

    // A breadcrumb leads back up.
    await page.getByTestId('breadcrumbs').getByRole('button', { name: region.label }).click();
    await settle(page, (u) => u.searchParams.get('team') === region.key && !u.searchParams.has('owner'));

    // A shared link reproduces the deal view in a fresh page.
    const shared = `${base}/boards/pipeline?lang=zh-CN&as_of=${AS_OF}&team=${team.key}&owner=${rep}&deal=${dealId}`;
    const other = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await other.goto(shared, { waitUntil: 'networkidle' });
    expect(await other.getByTestId('deal-detail').getAttribute('data-deal')).toBe(dealId);
    expect(await other.getByTestId('breadcrumbs').locator('li').allTextContents()).toEqual([root.label, region.label, team.label, repName, detail.summary.deal.name]);
    await other.close();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the keyboard drills too: Tab to a bar, Enter; Escape closes a deal', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`${base}/boards/pipeline?lang=en&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const first = page.locator('[data-tile=new_by_org] li[data-key] button').first();
    const key = await first.locator('xpath=..').getAttribute('data-key');
    await first.focus();
    await page.keyboard.press('Enter');
    await settle(page, (u) => u.searchParams.get('team') === key);
    // Arrow keys move between the bars of a list.
    await page.locator('[data-tile=new_by_org] li[data-key] button').first().focus();
    await page.keyboard.press('ArrowDown');
    const focused = await page.evaluate(() => document.activeElement?.parentElement?.getAttribute('data-key'));
    expect(focused).toBe(await page.locator('[data-tile=new_by_org] li[data-key]').nth(1).getAttribute('data-key'));
    // Open a deal from the table with the keyboard, close it with Escape.
    const link = page.locator('[data-table=deals] button[data-deal]').first();
    const deal = await link.getAttribute('data-deal');
    await link.focus();
    await page.keyboard.press('Enter');
    await settle(page, (u) => u.searchParams.get('deal') === deal);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('deal-title');
    await page.keyboard.press('Escape');
    await settle(page, (u) => !u.searchParams.has('deal'));
    await page.close();
  });
});

describe('language and theme', () => {
  it('switch in place and keep the view (filters, drill, open deal) in the URL', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=zh-CN&as_of=${AS_OF}&team=R1&stage=${encodeURIComponent('方案报价')}`, { waitUntil: 'networkidle' });
    expect(await page.locator('h1').textContent()).toBe('商机与漏斗');
    expect(await page.locator('html').getAttribute('data-theme')).toBe('light');
    await page.getByTestId('lang-switch').click();
    await settle(page, (u) => u.searchParams.get('lang') === 'en');
    await expect.poll(() => page.locator('h1').textContent()).toBe('Pipeline');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    const u = new URL(page.url());
    expect([u.searchParams.get('team'), u.searchParams.get('stage')]).toEqual(['R1', '方案报价']);
    await page.getByTestId('theme-switch').click();
    await settle(page, (x) => x.searchParams.get('theme') === 'dark');
    await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe('dark');
    expect(await page.getByTestId('breadcrumbs').locator('li').count()).toBe(2);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('the funnel', () => {
  it('switches between the cohort and the flow method, kept in the URL', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/pipeline?lang=zh-CN&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    await page.locator('[data-tile=funnel] button[data-mode=flow]').click();
    await settle(page, (u) => u.searchParams.get('funnel.view') === 'flow');
    const flow = await (await fetch(`${base}/api/models/funnel?period=this_year&as_of=${AS_OF}&method=flow`)).json();
    const bars = await page.locator('[data-testid=funnel] [data-stage]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-stage'), Number(e.getAttribute('data-reached'))]));
    expect(bars).toEqual(flow.rows.map((r: { stage: string; entries: number }) => [r.stage, r.entries]));
    expect(await page.locator('[data-tile=funnel] button[data-mode=flow]').getAttribute('aria-pressed')).toBe('true');
    await page.goBack();
    await settle(page, (u) => !u.searchParams.has('funnel.view'));
    expect(await page.locator('[data-tile=funnel] button[data-mode=cohort]').getAttribute('aria-pressed')).toBe('true');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('cards lead to the rows behind them (回款明细, 客户明细)', () => {
  it('the payments board’s collected card brings the received payments into view: as many as the card counts', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/payments?lang=zh-CN&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const s = (await api(`/api/models/payments?${q({ period: 'this_quarter', as_of: AS_OF })}`)).rows[0] as { collected: number; collected_n: number };
    expect(Number(await page.getByTestId('kpi-value-collected_amount').getAttribute('data-value'))).toBeCloseTo(s.collected, 2);
    const tile = page.locator('[data-tile=received]');
    expect(await tile.evaluate((el) => el.getBoundingClientRect().top)).toBeGreaterThan(768);
    await page.getByTestId('kpi-value-collected_amount').click();
    await expect.poll(() => tile.evaluate((el) => el.getBoundingClientRect().top), { timeout: 10_000 }).toBeLessThan(200);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-tile'))).toBe('received');
    expect(Number(await page.locator('[data-table=received]').getAttribute('data-total'))).toBe(s.collected_n);
    const first = await api(`/api/models/payment_list?${q({ period: 'this_quarter', as_of: AS_OF, received: 'true', sort: 'paid_at', dir: 'desc', limit: '15' })}`);
    const ids = await page.locator('[data-table=received] tbody tr[data-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-row')));
    expect(ids).toEqual(first.rows.map((r: { payment_id: string }) => r.payment_id));
    expect(first.summary.total_paid).toBeCloseTo(s.collected, 2);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the payments board’s ratio cards open their parts: collection rate → 本期应收明细, DSO → 期末应收明细, contracted → 本期签约明细', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/payments?lang=zh-CN&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const s = (await api(`/api/models/payments?${q({ period: 'this_quarter', as_of: AS_OF })}`)).rows[0] as { due: number; due_n: number; contracted_n: number; receivables_n: number };
    expect(s.due_n).toBeGreaterThan(0);
    expect(s.receivables_n).toBeGreaterThan(0);
    // the rate's two parts are on the card (实收 … ÷ 本期应收 …)
    expect(await page.getByTestId('kpi-collection_rate').textContent()).toMatch(/实收 .+ ÷ 本期应收 /);
    expect(await page.getByTestId('kpi-dso').textContent()).toMatch(/期末应收 .+ ÷ 签约 .+ × \d+ 天/);
    for (const [card, tile, n] of [['collection_rate', 'due', s.due_n], ['dso', 'receivables_end', s.receivables_n], ['contracted', 'contracted', s.contracted_n]] as const) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.getByTestId(`kpi-value-${card}`).click();
      const el = page.locator(`[data-tile=${tile}]`);
      await expect.poll(() => el.evaluate((x) => x.getBoundingClientRect().top), { timeout: 10_000 }).toBeLessThan(200);
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-tile'))).toBe(tile);
      expect(Number(await page.locator(`[data-table=${tile}]`).getAttribute('data-total')), card).toBe(n);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the customers board’s cards open 客户明细 by segment; predicted LTV says it is not a sum', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/boards/customers?lang=en&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const ltv = (await api(`/api/models/ltv?${q({ period: 'this_year', as_of: AS_OF })}`)).rows[0] as { customers_with_revenue: number; active_last_year: number; churned: number };
    await page.getByTestId('kpi-value-avg_ltv').click();
    await settle(page, (u) => u.searchParams.get('segment') === 'with_revenue');
    expect(Number(await page.locator('[data-table=customer_list]').getAttribute('data-total'))).toBe(ltv.customers_with_revenue);
    await expect.poll(() => page.locator('[data-tile=customer_list]').evaluate((el) => el.getBoundingClientRect().top), { timeout: 10_000 }).toBeLessThan(200);
    await page.getByTestId('kpi-value-churn').click();
    await settle(page, (u) => u.searchParams.get('segment') === 'active_last_year');
    expect(Number(await page.locator('[data-table=customer_list]').getAttribute('data-total'))).toBe(ltv.active_last_year);
    expect(await page.locator('[data-tile=customer_list] .sub').textContent()).toContain(`${ltv.churned.toLocaleString('en')} churned`);
    expect(await page.getByTestId('kpi-predictive_ltv').textContent()).toContain('not a sum of rows');
    expect(errors).toEqual([]);
    await page.close();
  });
});
