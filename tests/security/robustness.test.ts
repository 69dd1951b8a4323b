/**
 * The server survives every request: malformed percent-encoding in any part of any route, sent
 * with a valid token (the case that used to end the process), answers 4xx and the next request
 * is still served.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cockpit, startServer } from '../helpers/global-setup';

const SECRET = 'robustness-secret-0123456789-abcdefghij';
const dir = mkdtempSync(join(tmpdir(), 'robust-'));
const dbFile = join(dir, 'demo.duckdb');
let server: ChildProcess;
let base = '';
let token = '';

beforeAll(async () => {
  const gen = cockpit(['demo', '--scale', 'small', '--seed', '3', '--as-of', '2026-06-15', '--db', dbFile]);
  expect(gen.status, gen.stderr).toBe(0);
  const s = await startServer(['--db', dbFile], { COCKPIT_SECRET: SECRET });
  server = s.child;
  base = s.url;
  token = await new SignJWT({ sub: 'exec', role: 'executive' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setAudience('crm-cockpit')
    .setIssuer('crm-cockpit')
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(SECRET));
});
afterAll(() => server?.kill('SIGTERM'));

const alive = async () => (await fetch(`${base}/api/status`)).status;

describe('malformed percent-encoding never ends the process', () => {
  const bad = ['%E0', '%', '%E0%80', '%zz', '%C0%AF', '%ED%A0%80'];
  const routes = (b: string) => [
    `/api/models/${b}`,
    `/api/models/${b}/export`,
    `/api/models/kpis?period=${b}`,
    `/api/models/deals?q=${b}&team=${b}`,
    `/boards/${b}`,
    `/boards/pipeline?team=${b}&${b}=1`,
    `/cockpit/${b}`,
    `/cockpit?pages=${b}`,
    `/embed/${b}`,
    `/embed/pipeline/${b}`,
    `/${b}`,
    `/api/${b}`,
    `/login?token=${b}&next=${b}`,
    `/login-required?next=${b}`,
    `/api/session/renew/${b}`
  ];
  for (const b of bad) {
    it(`answers every route with ${b} in it, and keeps serving`, async () => {
      for (const path of routes(b)) {
        const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
        expect(r.status, path).toBeLessThan(500);
        await r.arrayBuffer();
        expect(await alive(), `server still up after ${path}`).toBe(200);
      }
    });
  }
});
