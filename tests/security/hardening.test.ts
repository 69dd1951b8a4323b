/**
 * Issue 11's findings, each attacked the way the independent attack run did, against real
 * servers: the login redirect (tab, backslash and encoded variants), session renewal (a
 * tenant's token is never re-signed by the server, `renew_until` is capped, the rate-limit
 * bucket survives renewal), logout revoking the token on the server (also after a restart),
 * tokens limited to tiles (only the calls those tiles make, within their own parameters),
 * `options` under locked filters, extreme dates, a broken JWKS stopping `cockpit serve`, and
 * the result cache (hit / miss / coalesced, never across scopes, invalidated by a write).
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cockpit, startServer } from '../helpers/global-setup';
import { AS_OF, SECRET, lit, qs, sign, startSecServer, type CatalogEntry, type SecServer } from './helpers';

let srv: SecServer;
/** A second server: 6 requests a minute per session, for the rate-limit and restart cases. */
let slow: SecServer;
let exec: string;
let catalog: CatalogEntry[];
let tenant: CryptoKey;
let jwksFile = '';

/** One extra deal a sync adds (the cache must forget everything it knew). */
const EXTRA_CSV = '商机编号,商机名称,客户名称,负责人,销售阶段,预计成交金额,创建日期\nHARD-1,缓存失效测试,缓存测试客户,U006,初步接洽,12345,2026-06-01\n';

beforeAll(async () => {
  const rs = await generateKeyPair('RS256');
  tenant = rs.privateKey as CryptoKey;
  const jwks = { keys: [{ ...(await exportJWK(rs.publicKey)), kid: 'tenant', alg: 'RS256' }] };
  // The main server trusts both its secret and a tenant's keys, as in the report.
  jwksFile = join(mkdtempSync(join(tmpdir(), 'sec-jwks-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(jwks));
  [srv, slow] = await Promise.all([
    startSecServer(undefined, {
      files: { 'extra.csv': EXTRA_CSV },
      config: { sources: [{ name: 'extra', type: 'csv', entity: 'opportunities', path: 'extra.csv' }] },
      env: { COCKPIT_JWKS: jwksFile }
    }),
    startSecServer(undefined, { config: { security: { requests_per_minute: 6 } } })
  ]);
  exec = await sign({ sub: 'ceo', role: 'executive' });
  catalog = (await (await get(srv, '/api/models', exec)).json()).models;
});
afterAll(async () => {
  await Promise.all([srv?.stop(), slow?.stop()]);
});

const get = (s: SecServer, path: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(`${s.base}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, redirect: 'manual' });
const post = (s: SecServer, path: string, token: string) => fetch(`${s.base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
const now = () => Math.floor(Date.now() / 1000);
const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
const cookieToken = (r: Response) => /cockpit_session=([^;]*)/.exec(r.headers.get('set-cookie') ?? '')?.[1] ?? null;

function tenantToken(claims: Record<string, unknown>, ttl = 600) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'tenant' })
    .setSubject('tenant-user')
    .setAudience('crm-cockpit')
    .setIssuer('crm-cockpit')
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(now() + ttl)
    .sign(tenant);
}

describe('the login redirect stays on this site (11.3)', () => {
  // What browsers do with a Location header: WHATWG URL parsing, which Node's URL implements
  // (tabs and newlines removed, backslashes read as slashes).
  const hostile = [
    '/\t/evil.example/x',
    '/\n/evil.example/x',
    '/\r\n/evil.example',
    '//evil.example/x',
    '///evil.example',
    '/\\evil.example/x',
    '\\\\evil.example',
    '/\\/evil.example',
    '\\/evil.example',
    '\t//evil.example',
    ' //evil.example',
    '/.//evil.example',
    '/..//evil.example',
    '/./\\evil.example',
    'https://evil.example/x',
    'http:evil.example',
    'javascript:alert(1)',
    '/%09/evil.example',
    '/%5Cevil.example',
    '/%2F%2Fevil.example'
  ];
  it('every tab, newline, backslash and dot-segment variant lands on this origin', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    const origin = new URL(srv.base).origin;
    for (const next of hostile) {
      const r = await get(srv, `/login?token=${t}&next=${encodeURIComponent(next)}`);
      expect(r.status, JSON.stringify(next)).toBe(303);
      const location = r.headers.get('location')!;
      expect(new URL(location, srv.base).origin, `${JSON.stringify(next)} → ${JSON.stringify(location)}`).toBe(origin);
      expect(location, JSON.stringify(next)).toMatch(/^\/(?![/\\])/);
    }
    // The report's own link, exactly as sent.
    const r = await get(srv, `/login?token=${t}&next=%2F%09%2Fevil.example%2Fx`);
    expect(new URL(r.headers.get('location')!, srv.base).origin).toBe(origin);
  });

  it('a local path with its query and fragment is kept', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    for (const next of ['/cockpit?team=R1&pages=overview', '/boards/pipeline?period=this_year#deals', '/boards/%E5%AE%A2']) {
      const r = await get(srv, `/login?token=${t}&next=${encodeURIComponent(next)}`);
      expect(r.headers.get('location')).toBe(next);
    }
  });
});

describe('session renewal (11.4)', () => {
  it('never re-signs a tenant’s RS256 token as a server HS256 one', async () => {
    const t = await tenantToken({ role: 'executive', renew_until: now() + 7 * 86400 });
    expect((await get(srv, '/api/models', t)).status).toBe(200);
    const r = await post(srv, '/api/session/renew', t);
    expect(r.status).toBe(403);
    expect((await r.json()).error).toMatch(/tenant|host/i);
    expect(cookieToken(r)).toBeNull();
  });

  it('refuses a renew_until further than security.max_renew_days (90) from the session’s start', async () => {
    for (const until of [now() + 100 * 365 * 86400, now() + 91 * 86400]) {
      const t = await sign({ sub: 'tv', role: 'executive', renew_until: until });
      const r = await post(srv, '/api/session/renew', t);
      expect(r.status).toBe(403);
      expect((await r.json()).error).toMatch(/90 days/);
      expect(cookieToken(r)).toBeNull();
    }
    const r = cockpit(['token', '--role', 'executive', '--renew-until', new Date(Date.now() + 120 * 86400_000).toISOString().slice(0, 10)], { COCKPIT_SECRET: SECRET });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/90 days/);
  });

  it('renews an HS256 session within the cap, keeping its session identity', async () => {
    const t = await sign({ sub: 'tv', role: 'executive', renew_until: now() + 30 * 86400 });
    const r = await post(srv, '/api/session/renew', t);
    expect(r.status).toBe(200);
    const renewed = cookieToken(r)!;
    expect(headerOf(renewed).alg).toBe('HS256');
    expect(payloadOf(renewed).sid).toBe(payloadOf(t).jti);
    expect(payloadOf(renewed).renew_until).toBe(payloadOf(t).renew_until);
    expect((await get(srv, '/api/models', renewed)).status).toBe(200);
  });

  it('keeps the rate-limit bucket across renewals (6 a minute: the 7th request is refused)', async () => {
    const t1 = await sign({ sub: 'tv', role: 'executive', renew_until: now() + 30 * 86400 });
    for (let i = 0; i < 4; i++) expect((await get(slow, '/api/models', t1)).status).toBe(200);
    const r = await post(slow, '/api/session/renew', t1);
    expect(r.status).toBe(200);
    const t2 = cookieToken(r)!;
    expect((await get(slow, '/api/models', t2)).status).toBe(200);
    const limited = await get(slow, '/api/models', t2);
    expect(limited.status).toBe(429);
    const t3 = (await (async () => cookieToken(await post(slow, '/api/session/renew', t2)))()) ?? t2;
    expect((await get(slow, '/api/models', t3)).status).toBe(429);
  });
});

describe('logout revokes the token on the server', () => {
  it('the cookie’s token is refused after logout, as a cookie and as a bearer token', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    const login = await get(srv, `/login?token=${t}&next=/cockpit`);
    const cookie = `cockpit_session=${cookieToken(login)}`;
    expect((await get(srv, `/api/models/kpis?as_of=${AS_OF}`, undefined, { cookie })).status).toBe(200);
    const out = await get(srv, '/logout', undefined, { cookie });
    expect(out.status).toBe(303);
    const after = await get(srv, `/api/models/kpis?as_of=${AS_OF}`, undefined, { cookie });
    expect(after.status).toBe(401);
    expect((await after.json()).error).toMatch(/revoked/);
    expect((await get(srv, `/api/models/kpis?as_of=${AS_OF}`, t)).status).toBe(401);
    const page = await get(srv, '/cockpit', undefined, { cookie });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toMatch(/reason=token\+revoked/);
    // Another token of the same person is not affected.
    expect((await get(srv, `/api/models/kpis?as_of=${AS_OF}`, await sign({ sub: 'ceo', role: 'executive' }))).status).toBe(200);
  });

  it('logging out of a renewed session also revokes the token it was renewed from', async () => {
    const t1 = await sign({ sub: 'tv', role: 'executive', renew_until: now() + 30 * 86400 });
    const t2 = cookieToken(await post(srv, '/api/session/renew', t1))!;
    await get(srv, '/logout', undefined, { cookie: `cockpit_session=${t2}` });
    expect((await get(srv, '/api/models', t2)).status).toBe(401);
    expect((await get(srv, '/api/models', t1)).status).toBe(401);
  });

  it('a revoked token stays revoked after the server restarts', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    expect((await get(slow, '/api/models', t)).status).toBe(200);
    await get(slow, '/logout', t);
    expect((await get(slow, '/api/models', t)).status).toBe(401);
    await slow.restart();
    const r = await get(slow, '/api/models', t);
    expect(r.status).toBe(401);
    expect((await r.json()).error).toMatch(/revoked/);
  });
});

describe('a token limited to tiles may make only the calls those tiles make (11.6)', () => {
  const status = async (token: string, path: string) => (await get(srv, path, token)).status;
  it('a chart tile: its own model, options; no deal lists, deal detail, payments or exports', async () => {
    const t = await sign({ sub: 'p', role: 'manager', scope: { team_ids: ['R1'] }, tiles: ['pipeline/funnel'] });
    expect(await status(t, `/api/models/funnel?period=this_year&as_of=${AS_OF}`)).toBe(200);
    expect(await status(t, `/api/models/funnel?method=flow&period=this_year&team=T11&as_of=${AS_OF}`)).toBe(200);
    expect(await status(t, `/api/models/options?as_of=${AS_OF}`)).toBe(200);
    expect(await status(t, `/api/models/deals?period=all&as_of=${AS_OF}`)).toBe(403);
    expect(await status(t, `/api/models/deals?period=all&limit=15&as_of=${AS_OF}`)).toBe(403);
    expect(await status(t, `/api/models/deal?id=OPP-0000001&as_of=${AS_OF}`)).toBe(403);
    expect(await status(t, `/api/models/payment_list?as_of=${AS_OF}`)).toBe(403);
    expect(await status(t, `/api/models/deals/export?format=csv&period=all`)).toBe(403);
    expect(await status(t, `/api/models/kpis?as_of=${AS_OF}`)).toBe(403);
  });

  it('a tile that counts deals may ask for that count only (status, period and limit as the tile has them)', async () => {
    const t = await sign({ sub: 'p', role: 'executive', tiles: ['pipeline/summary'] });
    const open = `/api/models/deals?period=all&status=open&limit=1&as_of=${AS_OF}`;
    expect(await status(t, open)).toBe(200);
    expect(await status(t, `${open}&stalled=true`)).toBe(200);
    expect(await status(t, `${open}&team=R1&owner=U006`)).toBe(200);
    expect(await status(t, open.replace('limit=1', 'limit=1000'))).toBe(403);
    expect(await status(t, open.replace('status=open', 'status=won'))).toBe(403);
    expect(await status(t, `${open}&sort=amount&dir=desc`)).toBe(403);
    expect(await status(t, `${open}&offset=10`)).toBe(403);
    expect(await status(t, `/api/models/deals/export?format=csv&period=all&status=open`)).toBe(403);
    expect(await status(t, `/api/models/deal?id=OPP-0000001`)).toBe(403);
  });

  it('a cockpit tile listing three overdue payments: only that list', async () => {
    const t = await sign({ sub: 'p', role: 'executive', tiles: ['wall-overview/overdue'] });
    const list = `/api/models/payment_list?dir=desc&limit=3&period=all&sort=outstanding&state=overdue&as_of=${AS_OF}`;
    expect(await status(t, list)).toBe(200);
    expect(await status(t, list.replace('state=overdue', 'state=paid'))).toBe(403);
    expect(await status(t, list.replace('limit=3', 'limit=500'))).toBe(403);
    expect(await status(t, `/api/models/payment_list/export?format=xlsx&state=overdue&period=all&sort=outstanding&dir=desc`)).toBe(403);
  });

  it('a table tile: its listing with any sort, page and search, its export and the deal detail; not a bigger page', async () => {
    const t = await sign({ sub: 'p', role: 'manager', scope: { team_ids: ['R1'] }, tiles: ['pipeline/deals'] });
    const rows = `/api/models/deals?period=this_year&limit=15&sort=amount&dir=asc&offset=30&q=${encodeURIComponent('上海')}&as_of=${AS_OF}`;
    expect(await status(t, rows)).toBe(200);
    expect(await status(t, `${rows}&status=won&reached=${encodeURIComponent('方案报价')}`)).toBe(200);
    expect(await status(t, rows.replace('limit=15', 'limit=1000'))).toBe(403);
    expect(await status(t, `/api/models/deals/export?format=csv&period=this_year&sort=amount&dir=asc`)).toBe(200);
    const [{ id }] = await srv.oracle(`SELECT min(o.opportunity_id) AS id FROM opportunities o JOIN users u ON u.user_id = o.owner_id WHERE u.team_id IN ('T11','T12','T13','T14','R1')`);
    expect(await status(t, `/api/models/deal?id=${id}&as_of=${AS_OF}`)).toBe(200);
    expect(await status(t, `/api/models/funnel?as_of=${AS_OF}`)).toBe(403);
  });

  it('a whole board: every call its pages make, still within its tiles’ parameters', async () => {
    const t = await sign({ sub: 'p', role: 'manager', scope: { team_ids: ['R1'] }, boards: ['payments'] });
    expect(await status(t, `/api/models/payments?view=aging&as_of=${AS_OF}`)).toBe(200);
    expect(await status(t, `/api/models/payment_list?period=all&state=overdue&limit=15&sort=days_overdue&dir=desc&as_of=${AS_OF}`)).toBe(200);
    expect(await status(t, `/api/models/payment_list/export?format=csv&period=all&state=overdue`)).toBe(200);
    expect(await status(t, `/api/models/payment_list?period=this_year&state=overdue&limit=15&as_of=${AS_OF}`)).toBe(403);
    expect(await status(t, `/api/models/funnel?as_of=${AS_OF}`)).toBe(403);
    expect(await status(t, `/api/models/deals?as_of=${AS_OF}`)).toBe(403);
  });
});

describe('options obeys locked filters (11.7)', () => {
  it('lists and counts only the locked product’s deals', async () => {
    const product = 'CRM 旗舰版';
    const t = await sign({ sub: 'portal', role: 'executive', filters: { product } });
    const r = await get(srv, `/api/models/options?as_of=${AS_OF}`, t);
    expect(r.status).toBe(200);
    const rows = (await r.json()).rows as { kind: string; key: string; n: number }[];
    expect(rows.filter((x) => x.kind === 'product').map((x) => x.key)).toEqual([product]);
    const [{ n }] = await srv.oracle(`SELECT count(*)::INTEGER AS n FROM opportunities WHERE product = ${lit(product)}`);
    const stageTotal = rows.filter((x) => x.kind === 'stage').reduce((s, x) => s + x.n, 0);
    expect(stageTotal).toBe(n);
    const root = rows.find((x) => x.kind === 'team' && x.key === 'T00')!;
    expect(root.n).toBe(n);
    const industries = await srv.oracle(
      `SELECT c.industry AS k, count(*)::INTEGER AS n FROM opportunities o JOIN customers c ON c.customer_id = o.customer_id
       WHERE o.product = ${lit(product)} AND c.industry IS NOT NULL GROUP BY 1 ORDER BY 1`
    );
    const got = rows.filter((x) => x.kind === 'industry').map((x) => ({ k: x.key, n: x.n })).sort((a, b) => (a.k < b.k ? -1 : 1));
    expect(got).toEqual(industries);
  });
});

describe('extreme dates are a 400 naming the parameter (11.9)', () => {
  const cases: [string, Record<string, string>][] = [
    ['as_of', { as_of: '9999-12-31' }],
    ['as_of', { as_of: '0001-01-01' }],
    ['from', { from: '0001-01-01', to: '5000-01-01' }],
    ['to', { from: '2000-01-01', to: '2200-01-02' }],
    ['from', { from: '1899-12-31', to: '2000-01-01' }]
  ];
  it('every model, every extreme', async () => {
    for (const m of catalog) {
      for (const [param, q] of cases) {
        const r = await get(srv, `/api/models/${m.name}?${qs({ ...q, ...(m.name === 'deal' ? { id: 'x' } : {}) })}`, exec);
        const body = await r.json();
        expect(r.status, `${m.name} ${JSON.stringify(q)}: ${body.error}`).toBe(400);
        expect(body.error, m.name).toContain(param);
        expect(body.error).toMatch(/1900-01-01.*2200-01-01/);
      }
    }
  });

  it('the widest range allowed is answered (trend by day over three centuries included)', async () => {
    for (const m of catalog) {
      const r = await get(srv, `/api/models/${m.name}?${qs({ from: '1900-01-01', to: '2200-01-01', ...(m.name === 'deal' ? { id: 'x' } : {}) })}`, exec);
      expect(r.status, m.name).toBeLessThan(500);
    }
    expect((await get(srv, `/api/models/trend?from=1900-01-01&to=2200-01-01&grain=day&as_of=2200-01-01`, exec)).status).toBe(200);
  });
});

describe('a broken JWKS stops cockpit serve at start (11.9)', () => {
  it('a missing file, bad JSON, no keys, a private key or a malformed key: exits with a message naming COCKPIT_JWKS', async () => {
    const db = join(srv.dir, 'jwks-check.duckdb');
    copyFileSync(join(srv.dir, 'oracle.duckdb'), db);
    const rs = await generateKeyPair('RS256', { extractable: true });
    const priv = await exportJWK(rs.privateKey);
    const cases: [string, string | null][] = [
      ['missing', null],
      ['bad-json', '{"keys": ['],
      ['no-keys', '{"keys": []}'],
      ['private', JSON.stringify({ keys: [{ ...priv, kid: 'k' }] })],
      ['malformed', JSON.stringify({ keys: [{ kty: 'RSA', kid: 'k', n: '!!!', e: 'AQAB' }] })]
    ];
    for (const [name, text] of cases) {
      const file = join(srv.dir, `jwks-${name}.json`);
      if (text !== null) writeFileSync(file, text);
      let started: Awaited<ReturnType<typeof startServer>> | null = null;
      const outcome = await startServer(['--db', db], { COCKPIT_JWKS: file, COCKPIT_SECRET: '' }).then(
        (s) => ((started = s), 'started'),
        (e: Error) => e.message
      );
      if (started) (started as { child: { kill: () => void } }).child.kill();
      expect(outcome, name).toMatch(/exited with 2/);
      expect(outcome, name).toContain('COCKPIT_JWKS');
      expect(outcome, name).toContain(file);
    }
  });
});

describe('the result cache', () => {
  const cacheOf = (r: Response) => r.headers.get('x-cockpit-cache');
  it('answers a repeated call from the cache, and says so in a header and in the body', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    const path = `/api/models/kpis?period=this_year&as_of=${AS_OF}`;
    const a = await get(srv, path, t);
    const b = await get(srv, path, t);
    expect(cacheOf(a)).toBe('miss');
    expect(cacheOf(b)).toBe('hit');
    const [ja, jb] = [await a.json(), await b.json()];
    expect(ja.cache).toBe('miss');
    expect(jb.cache).toBe('hit');
    expect({ ...jb, cache: 'miss' }).toEqual(ja);
  });

  it('never serves one scope’s answer to another: two regions, the same URL', async () => {
    const path = `/api/models/funnel?period=all&as_of=${AS_OF}&team=T11`;
    const east = await sign({ sub: 'm1', role: 'manager', scope: { team_ids: ['R1'] } });
    const north = await sign({ sub: 'm2', role: 'manager', scope: { team_ids: ['R2'] } });
    const eastAgain = await sign({ sub: 'm3', role: 'manager', scope: { team_ids: ['R1'] } });
    const r1 = await get(srv, path, east);
    const r2 = await get(srv, path, north);
    const r3 = await get(srv, path, eastAgain);
    expect([cacheOf(r1), cacheOf(r2), cacheOf(r3)]).toEqual(['miss', 'miss', 'hit']);
    const [b1, b2, b3] = [await r1.json(), await r2.json(), await r3.json()];
    const [{ n }] = await srv.oracle(`SELECT count(*)::INTEGER AS n FROM opportunities o JOIN users u ON u.user_id = o.owner_id WHERE u.team_id = 'T11'`);
    expect(b1.n).toBe(n);
    expect(b3.n).toBe(n);
    expect(b2.n).toBe(0); // T11 is not in R2's scope: nothing, never R1's answer
    // Locked filters are part of the key too.
    const locked = await sign({ sub: 'm4', role: 'manager', scope: { team_ids: ['R1'] }, filters: { product: 'CRM 标准版' } });
    const r4 = await get(srv, path, locked);
    expect(cacheOf(r4)).toBe('miss');
    expect((await r4.json()).n).toBeLessThan(n as number);
  });

  it('identical calls in flight run once: one miss, the rest coalesced or hits', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    const path = `/api/models/customer_profile?view=grid&period=all&as_of=${AS_OF}`;
    const all = await Promise.all(Array.from({ length: 8 }, () => get(srv, path, t)));
    const states = all.map(cacheOf);
    expect(states.filter((s) => s === 'miss')).toHaveLength(1);
    expect(states.every((s) => s === 'miss' || s === 'coalesced' || s === 'hit')).toBe(true);
    const bodies = await Promise.all(all.map((r) => r.json()));
    for (const b of bodies) expect(b.rows).toEqual(bodies[0].rows);
  });

  it('a write (a sync) empties it: the next answer is computed again and sees the new deal', async () => {
    const path = `/api/models/deals?period=all&q=${encodeURIComponent('缓存失效测试')}&as_of=${AS_OF}`;
    const before = await get(srv, path, exec);
    await get(srv, path, exec);
    expect((await before.json()).summary.total).toBe(0);
    const sync = await post(srv, '/api/sync', exec);
    expect(sync.status, await sync.clone().text()).toBe(200);
    const after = await get(srv, path, exec);
    expect(cacheOf(after)).toBe('miss');
    expect((await after.json()).summary.total).toBe(1);
  });
});
