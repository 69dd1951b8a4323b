/**
 * The company on screen comes from the configuration (issue 12): `branding.company` (per
 * language), `branding.logo` served at /branding/logo, and the wall pages' titles — not the
 * demo company's name. A bad branding entry is refused with the key named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/lib/server/config/load';
import { AS_OF, sign, startSecServer, type SecServer } from './helpers';

const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#0a7"/></svg>';
let srv: SecServer;
let token = '';
beforeAll(async () => {
  srv = await startSecServer(undefined, {
    config: {
      database: 'demo.duckdb',
      branding: { company: { 'zh-CN': '星河医疗器械', en: 'Xinghe Medical' }, logo: 'logo.svg', wall_titles: { overview: { 'zh-CN': '销售作战室', en: 'Sales war room' } } }
    },
    files: { 'logo.svg': LOGO }
  });
  token = await sign({ sub: 'ceo', role: 'executive' });
});
afterAll(async () => {
  await srv?.stop();
});

const page = async (path: string) => (await fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${token}` } })).text();
/** The wall screen's title line and the document title. */
const titles = (html: string) => `${/<title>([^<]*)<\/title>/.exec(html)?.[1] ?? ''} | ${/data-testid="cockpit-title"[^>]*>([^<]*)</.exec(html)?.[1] ?? ''}`;

describe('branding from cockpit.config.json', () => {
  it('the cockpit shows the configured company, logo and wall title, in each language', async () => {
    const zh = await page(`/cockpit?pages=overview&as_of=${AS_OF}&lang=zh-CN`);
    expect(titles(zh)).toBe('销售驾驶舱 · 星河医疗器械 | 星河医疗器械 · 销售作战室');
    expect(zh.includes('data-testid="brand-logo"'), 'logo').toBe(true);
    const en = await page(`/cockpit?pages=overview&as_of=${AS_OF}&lang=en`);
    expect(titles(en)).toBe('Sales Cockpit · Xinghe Medical | Xinghe Medical · Sales war room');
  });

  it('serves the logo at /branding/logo as an image that cannot run script', async () => {
    const r = await fetch(`${srv.base}/branding/logo`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/svg+xml');
    expect(r.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await r.text()).toBe(LOGO);
  });

  it('refuses a bad branding entry, naming the key', () => {
    const r = parseConfig({ branding: { logo: 'logo.exe' } });
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).toMatch(/branding\.logo/);
    const r2 = parseConfig({ branding: { company: { 'zh-CN': '星河' } } });
    expect(r2.ok).toBe(false);
  });
});
