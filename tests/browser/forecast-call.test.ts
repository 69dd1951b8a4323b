/**
 * The forecast call page in real Chromium against the shared demo server (no access control:
 * every row is writable, as in the demo; who may write what under tokens is tested in
 * tests/security/forecast-call.test.ts): typing a rep's commit and best case and submitting
 * stores them (the API reads them back), the page shows them with the submission counted, and
 * the rep's team rolls them up.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launch, screenshot, watchErrors } from '../helpers/browser';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
let browser: Browser;
beforeAll(async () => (browser = await launch()));
afterAll(() => browser?.close());

type Row = { level: string; subject: string; team_id: string | null; commit: number | null; best_case: number | null; submissions: number; rollup_commit: number | null };
const api = async () => (await (await fetch(`${base}/api/forecast-call?as_of=${AS_OF}`)).json()) as { period: { from: string; to: string }; rows: Row[] };

describe('/forecast-call', () => {
  it('a rep’s call round-trips through the page and the API, and rolls up into the team', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/forecast-call?lang=zh-CN&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const before = await api();
    expect(before.period).toEqual({ from: '2026-04-01', to: '2026-07-01' }); // this quarter as of the demo date
    const rep = before.rows.find((r) => r.level === 'rep' && r.team_id !== null)!;
    const team = before.rows.find((r) => r.level === 'team' && r.subject === rep.team_id)!;
    const row = page.locator(`tr[data-call="rep:${rep.subject}"]`);
    await row.locator('[data-field=commit]').fill('123000');
    await row.locator('[data-field=best_case]').fill('234000');
    await row.locator('[data-field=note]').fill('两单本月签约');
    await page.getByTestId(`submit-rep:${rep.subject}`).click();
    await expect.poll(() => row.getAttribute('data-commit'), { timeout: 15_000 }).toBe('123000');
    expect(await row.getAttribute('data-best-case')).toBe('234000');
    const after = await api();
    const mine = after.rows.find((r) => r.level === 'rep' && r.subject === rep.subject)!;
    expect(mine).toMatchObject({ commit: 123000, best_case: 234000, submissions: rep.submissions + 1 });
    expect(after.rows.find((r) => r.level === 'team' && r.subject === team.subject)!.rollup_commit).toBe((team.rollup_commit ?? 0) - (rep.commit ?? 0) + 123000);
    // A best case below the commit is refused with the server's reason, nothing stored.
    await row.locator('[data-field=best_case]').fill('1000');
    await page.getByTestId(`submit-rep:${rep.subject}`).click();
    await expect.poll(() => row.locator('.msg').textContent(), { timeout: 15_000 }).toMatch(/best case/);
    expect((await api()).rows.find((r) => r.subject === rep.subject)!.submissions).toBe(rep.submissions + 1);
    expect(errors.filter((e) => !/400/.test(e))).toEqual([]);
    await page.close();
  }, 120_000);

  it('a rep’s category override round-trips: chosen on the page, stored with the call, in the roll-up and the history', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const errors = watchErrors(page);
    await page.goto(`${base}/forecast-call?lang=en&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
    const before = await api();
    // A rep with an open pipeline deal this quarter (read through the API's deals list).
    let rep: Row | undefined;
    let deal: { opportunity_id: string; amount: number; system_category: string; override: string | null } | undefined;
    for (const r of before.rows.filter((x) => x.level === 'rep')) {
      const d = (await (await fetch(`${base}/api/forecast-call?as_of=${AS_OF}&deals=rep:${r.subject}`)).json()).deals as NonNullable<typeof deal>[];
      deal = d.find((x) => x.system_category === 'pipeline' && x.override === null && x.amount > 0);
      if (deal) {
        rep = r;
        break;
      }
    }
    expect(deal).toBeDefined();
    const k = `rep:${rep!.subject}`;
    const row = page.locator(`tr[data-call="${k}"]`);
    const commitBefore = Number(await page.getByTestId(`categories-${k}`).getAttribute('data-category-commit'));
    await page.getByTestId(`deals-${k}`).click();
    const dealRow = page.locator(`[data-testid=call-deals] tr[data-deal="${deal!.opportunity_id}"]`);
    await dealRow.locator('select[data-field=category]').selectOption('commit');
    await row.locator('[data-field=commit]').fill('200000');
    await row.locator('[data-field=best_case]').fill('300000');
    await page.getByTestId(`submit-${k}`).click();
    await expect.poll(() => page.getByTestId(`categories-${k}`).getAttribute('data-overrides'), { timeout: 15_000 }).toBe('1');
    // pipeline → commit: the commit roll-up grows by the deal's amount.
    expect(Number(await page.getByTestId(`categories-${k}`).getAttribute('data-category-commit'))).toBeCloseTo(commitBefore + deal!.amount, 2);
    await expect.poll(() => page.locator(`[data-testid=call-deals] tr[data-deal="${deal!.opportunity_id}"]`).getAttribute('data-override'), { timeout: 15_000 }).toBe('commit');
    expect(await page.getByTestId('call-history').locator('li').first().textContent()).toContain('1 overridden');
    const api2 = await (await fetch(`${base}/api/forecast-call?as_of=${AS_OF}&history=${k}`)).json();
    expect(api2.history[0].overrides).toEqual([{ opportunity_id: deal!.opportunity_id, system_category: 'pipeline', category: 'commit', amount: deal!.amount }]);
    await screenshot(page, 'forecast-call-override-1920x1080-en');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  for (const [w, h, locale] of [
    [1366, 768, 'zh-CN'],
    [1366, 768, 'en'],
    [1920, 1080, 'zh-CN'],
    [1920, 1080, 'en']
  ] as const) {
    it(`reads at ${w}×${h} (${locale})`, async () => {
      const page = await browser.newPage({ viewport: { width: w, height: h } });
      const errors = watchErrors(page);
      await page.goto(`${base}/forecast-call?lang=${locale}&as_of=${AS_OF}`, { waitUntil: 'networkidle' });
      expect(await page.getByTestId('calls').count()).toBe(1);
      await screenshot(page, `movement-forecast-call-${w}x${h}-${locale}`);
      expect(errors).toEqual([]);
      await page.close();
    }, 120_000);
  }
});
