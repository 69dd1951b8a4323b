/**
 * Access control, end to end against real servers: every way a token can be wrong gets a 401
 * and no data; valid tokens see exactly their scope (checked with independent SQL on a copy
 * of the database); sessions, locked filters, rate limits, framing headers, the CLI, and that
 * tokens never reach the logs.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { DuckDBInstance } from '@duckdb/node-api';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cockpit, DEMO_AS_OF, startServer } from '../helpers/global-setup';

const SECRET = 'test-secret-0123456789-abcdefghijklmnop';
const AS_OF = DEMO_AS_OF;
const dir = mkdtempSync(join(tmpdir(), 'sec-'));
const dbFile = join(dir, 'demo.duckdb');
const servers: ChildProcess[] = [];
let base = '';
let output: () => string;
let oracle: (q: string) => Promise<Record<string, unknown>[]>;

const enc = new TextEncoder();
async function sign(payload: Record<string, unknown>, opts: { secret?: string; aud?: string; iss?: string; exp?: number | null; nbf?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const j = new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setAudience(opts.aud ?? 'crm-cockpit').setIssuer(opts.iss ?? 'crm-cockpit');
  if (opts.exp !== null) j.setExpirationTime(opts.exp ?? now + 600);
  if (opts.nbf) j.setNotBefore(opts.nbf);
  return j.sign(enc.encode(opts.secret ?? SECRET));
}
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const api = (path: string, token?: string) => fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const kpisN = async (token: string, q = '') => {
  const r = await api(`/api/models/funnel?period=all&as_of=${AS_OF}${q}`, token);
  expect(r.status).toBe(200);
  return (await r.json()).n as number;
};

beforeAll(async () => {
  copyFileSync(inject('demoTemplate'), dbFile);
  const copy = join(dir, 'oracle.duckdb');
  copyFileSync(dbFile, copy);
  const conn = await (await DuckDBInstance.create(copy, { access_mode: 'READ_ONLY' })).connect();
  oracle = async (q) => (await conn.runAndReadAll(q)).getRowObjectsJson() as Record<string, unknown>[];
  const s = await startServer(['--db', dbFile], { COCKPIT_SECRET: SECRET });
  servers.push(s.child);
  base = s.url;
  output = s.output;
});
afterAll(() => servers.forEach((c) => c.kill('SIGTERM')));

describe('tokens that must be refused (401, no data)', () => {
  const cases: [string, () => Promise<string | undefined>, RegExp][] = [
    ['no token', async () => undefined, /no token/],
    ['forged signature', () => sign({ sub: 'x', role: 'executive' }, { secret: 'another-secret-0123456789-abcdefghijkl' }), /invalid signature/],
    ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', role: 'executive', aud: 'crm-cockpit', iss: 'crm-cockpit', exp: Math.floor(Date.now() / 1000) + 600 })}.`, /algorithm|malformed|invalid/],
    ['expired', () => sign({ sub: 'x', role: 'executive' }, { exp: Math.floor(Date.now() / 1000) - 120 }), /expired/],
    ['not yet valid', () => sign({ sub: 'x', role: 'executive' }, { nbf: Math.floor(Date.now() / 1000) + 3600 }), /not yet valid/],
    ['wrong audience', () => sign({ sub: 'x', role: 'executive' }, { aud: 'other-app' }), /audience/],
    ['wrong issuer', () => sign({ sub: 'x', role: 'executive' }, { iss: 'someone-else' }), /issuer/],
    ['no exp', () => sign({ sub: 'x', role: 'executive' }, { exp: null }), /exp/],
    ['lifetime over 24 h', () => sign({ sub: 'x', role: 'executive' }, { exp: Math.floor(Date.now() / 1000) + 25 * 3600 }), /24 hours/],
    ['unknown role', () => sign({ sub: 'x', role: 'superuser' }), /role/],
    [
      'tampered scope',
      async () => {
        const t = await sign({ sub: 'm', role: 'manager', scope: { team_ids: ['T11'] } });
        const [h, p, s] = t.split('.');
        const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
        payload.role = 'executive';
        return `${h}.${b64(payload)}.${s}`;
      },
      /invalid signature/
    ],
    ['garbage', async () => 'not.a.jwt', /malformed|invalid/]
  ];
  for (const [name, make, reason] of cases) {
    it(name, async () => {
      const token = await make();
      for (const path of ['/api/models/kpis', '/api/models/funnel?period=all', '/api/models']) {
        const r = await api(path, token);
        expect(r.status, path).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
        const body = await r.json();
        expect(Object.keys(body)).toEqual(['error']);
        expect(body.error).toMatch(reason);
      }
    });
  }

  it('pages without a valid token go to the sign-in page, which says why, with no data', async () => {
    const r = await fetch(`${base}/cockpit`, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/login-required?reason=no+token&next=%2Fcockpit');
    const expired = await sign({ sub: 'x', role: 'executive' }, { exp: Math.floor(Date.now() / 1000) - 120 });
    const page = await fetch(`${base}/cockpit`, { headers: { cookie: `cockpit_session=${expired}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('sign-in-required');
    expect(html).toContain('token expired');
    expect(html).not.toContain('kpi-value-');
  });
});

describe('valid tokens see exactly their scope', () => {
  it('an executive sees every deal', async () => {
    const [{ n }] = await oracle(`SELECT count(*)::INTEGER AS n FROM opportunities`);
    expect(await kpisN(await sign({ sub: 'ceo', role: 'executive' }))).toBe(n);
  });

  it('a manager sees their team’s subtree (华东 = four teams)', async () => {
    const [{ n }] = await oracle(`SELECT count(*)::INTEGER AS n FROM opportunities o JOIN users u ON u.user_id = o.owner_id
                                  WHERE u.team_id IN ('T11','T12','T13','T14','R1')`);
    expect(await kpisN(await sign({ sub: 'east', role: 'manager', scope: { team_ids: ['R1'] } }))).toBe(n);
  });

  it('a rep sees only their own deals, and cannot widen them with a filter', async () => {
    const [{ n }] = await oracle(`SELECT count(*)::INTEGER AS n FROM opportunities WHERE owner_id = 'U006'`);
    const t = await sign({ sub: 'U006', role: 'rep' });
    expect(await kpisN(t)).toBe(n);
    expect(await kpisN(t, '&owner=U007')).toBe(0);
    expect(await kpisN(t, '&team=T00')).toBe(n);
  });

  it('a scope that matches nothing returns nothing, never everything', async () => {
    expect(await kpisN(await sign({ sub: 'ghost', role: 'manager', scope: { team_ids: ['NO-SUCH-TEAM'] } }))).toBe(0);
    expect(await kpisN(await sign({ sub: 'v', role: 'viewer' }))).toBe(0);
    expect(await kpisN(await sign({ sub: 'm', role: 'manager' }))).toBe(0);
  });

  it('locked filters apply to every call and override the request', async () => {
    const [{ n }] = await oracle(`SELECT count(*)::INTEGER AS n FROM opportunities WHERE product = 'CRM 旗舰版'`);
    const t = await sign({ sub: 'portal', role: 'executive', filters: { product: 'CRM 旗舰版' } });
    expect(await kpisN(t)).toBe(n);
    expect(await kpisN(t, `&product=${encodeURIComponent('CRM 标准版')}`)).toBe(n);
  });
});

describe('sessions', () => {
  it('a login link sets an httpOnly SameSite=Lax cookie that opens the pages, and logout drops it', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    const login = await fetch(`${base}/login?token=${t}&next=/cockpit`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/cockpit');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/cockpit_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    // wait=all: every tile rendered in the HTML (the default streams a tile that takes longer
    // than the first byte's budget, which under load is most of them).
    const page = await fetch(`${base}/cockpit?as_of=${AS_OF}&wait=all`, { headers: { cookie: cookie.split(';')[0] } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('kpi-value-won_amount');
    const out = await fetch(`${base}/logout`, { redirect: 'manual', headers: { cookie: cookie.split(';')[0] } });
    expect(out.headers.get('set-cookie')).toMatch(/cockpit_session=;|Max-Age=0|Expires=Thu, 01 Jan 1970/i);
  });

  it('a login link only redirects to a local path', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    const r = await fetch(`${base}/login?token=${t}&next=//evil.example.com/x`, { redirect: 'manual' });
    expect(r.headers.get('location')).toBe('/');
  });

  it('a rejected login link is a 401 that says why', async () => {
    const r = await fetch(`${base}/login?token=${await sign({ sub: 'x', role: 'executive' }, { exp: Math.floor(Date.now() / 1000) - 100 })}`, { redirect: 'manual' });
    expect(r.status).toBe(401);
    expect(await r.text()).toContain('expired');
  });

  it('a wall-screen session renews itself until renew_until, other sessions do not', async () => {
    const now = Math.floor(Date.now() / 1000);
    const renewable = await sign({ sub: 'tv', role: 'executive', renew_until: now + 30 * 86400 }, { exp: now + 3600 });
    const r = await fetch(`${base}/api/session/renew`, { method: 'POST', headers: { authorization: `Bearer ${renewable}` } });
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body.renewed).toBe(true);
    expect(body.exp).toBeGreaterThan(now + 3000);
    expect(r.headers.get('set-cookie')).toMatch(/cockpit_session=/);
    const plain = await fetch(`${base}/api/session/renew`, { method: 'POST', headers: { authorization: `Bearer ${await sign({ sub: 'x', role: 'executive' })}` } });
    expect(plain.status).toBe(403);
  });
});

describe('headers and logs', () => {
  it('pages may be framed only by the app itself; embeds by the allowlist', async () => {
    const r = await fetch(`${base}/login-required`);
    expect(r.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    expect(r.headers.get('x-frame-options')).toBeNull();
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('tokens never appear in the server output', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    await fetch(`${base}/login?token=${t}`, { redirect: 'manual' });
    await api('/api/models/nope', t);
    await api('/api/models/kpis?period=bad', t);
    await fetch(`${base}/login?token=${t}x`, { redirect: 'manual' });
    await new Promise((r) => setTimeout(r, 200));
    const sig = t.split('.')[2];
    expect(output()).not.toContain(sig);
  });
});

describe('per-token rate limit', () => {
  it('answers 429 with Retry-After past the limit, per token', async () => {
    const cfg = join(dir, 'limited.json');
    writeFileSync(cfg, JSON.stringify({ security: { requests_per_minute: 5 } }));
    // A copy of the small demo (an empty file would make the server generate the medium one).
    copyFileSync(join(dir, 'oracle.duckdb'), join(dir, 'limited.duckdb'));
    const s = await startServer(['--db', join(dir, 'limited.duckdb'), '--config', cfg], { COCKPIT_SECRET: SECRET });
    servers.push(s.child);
    const t = await sign({ sub: 'a', role: 'executive' });
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await fetch(`${s.url}/api/models`, { headers: { authorization: `Bearer ${t}` } })).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const limited = await fetch(`${s.url}/api/models`, { headers: { authorization: `Bearer ${t}` } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const other = await sign({ sub: 'b', role: 'executive' });
    expect((await fetch(`${s.url}/api/models`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(200);
  });
});

describe('tenant keys from a JWKS file', () => {
  it('accepts EdDSA and RS256 tokens signed by the tenant’s keys, refuses other keys and HS256', async () => {
    const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const rs = await generateKeyPair('RS256');
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwks = { keys: [{ ...(await exportJWK(ed.publicKey)), kid: 'ed', alg: 'EdDSA' }, { ...(await exportJWK(rs.publicKey)), kid: 'rs', alg: 'RS256' }] };
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify(jwks));
    copyFileSync(join(dir, 'oracle.duckdb'), join(dir, 'jwks.duckdb'));
    const s = await startServer(['--db', join(dir, 'jwks.duckdb')], { COCKPIT_JWKS: file, COCKPIT_SECRET: '' });
    servers.push(s.child);
    const mk = (alg: string, kid: string, key: CryptoKey) =>
      new SignJWT({ role: 'executive' }).setProtectedHeader({ alg, kid }).setSubject('tenant-user').setAudience('crm-cockpit').setIssuer('crm-cockpit').setIssuedAt().setExpirationTime('10m').sign(key);
    const call = async (t: string) => (await fetch(`${s.url}/api/models`, { headers: { authorization: `Bearer ${t}` } })).status;
    expect(await call(await mk('EdDSA', 'ed', ed.privateKey))).toBe(200);
    expect(await call(await mk('RS256', 'rs', rs.privateKey))).toBe(200);
    expect(await call(await mk('EdDSA', 'ed', stranger.privateKey))).toBe(401);
    expect(await call(await sign({ sub: 'x', role: 'executive' }))).toBe(401);
  });
});

describe('cockpit token', () => {
  it('prints a working token on its last line and a login link', async () => {
    const r = cockpit(['token', '--role', 'manager', '--team', 'R1', '--ttl', '2h', '--board', 'pipeline'], { COCKPIT_SECRET: SECRET });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const t = lines[lines.length - 1];
    expect(r.stderr).toContain('/login?token=');
    expect((await api('/api/models', t)).status).toBe(200);
    const payload = JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());
    expect(payload).toMatchObject({ role: 'manager', scope: { team_ids: ['R1'] }, boards: ['pipeline'], aud: 'crm-cockpit' });
    expect(payload.exp - payload.iat).toBe(7200);
  });

  it('refuses what would not work', () => {
    expect(cockpit(['token', '--role', 'manager'], { COCKPIT_SECRET: SECRET }).status).toBe(2);
    expect(cockpit(['token', '--role', 'executive', '--ttl', '48h'], { COCKPIT_SECRET: SECRET }).status).toBe(2);
    const noSecret = cockpit(['token', '--role', 'executive'], { COCKPIT_SECRET: '' });
    expect(noSecret.status).toBe(2);
    expect(noSecret.stderr).toContain('COCKPIT_SECRET');
  });
});
