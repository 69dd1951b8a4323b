/**
 * POST /api/session/renew — a wall screen's day-long session renews itself until the token's
 * `renew_until`: the server re-signs the same claims for another token lifetime (HS256 with
 * COCKPIT_SECRET only; a tenant's own tokens are renewed by the host page through the SDK).
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { SESSION_COOKIE } from '$lib/server/auth';
import { signToken } from '$lib/server/auth/sign';

export const POST: RequestHandler = async ({ locals, cookies, url }) => {
  const v = locals.viewer;
  if (locals.demoMode) return json({ renewed: false, reason: 'demo mode' });
  if (!v) return json({ error: 'unauthorized' }, { status: 401 });
  const secret = process.env.COCKPIT_SECRET;
  const now = Math.floor(Date.now() / 1000);
  if (!secret) return json({ error: 'renewal needs COCKPIT_SECRET; the host renews tenant-signed tokens' }, { status: 400 });
  if (!v.renew_until || v.renew_until <= now) return json({ error: 'this session cannot be renewed' }, { status: 403 });
  const { config } = await app();
  const ttl = Math.min(Math.max(60, v.exp - (v.iat ?? now)), v.renew_until - now);
  const { exp: _exp, iat: _iat, nbf: _nbf, jti: _jti, ...claims } = v;
  const token = await signToken({ secret, audience: config.security.audience, issuer: config.security.issuer, ttlSeconds: ttl, claims });
  cookies.set(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure: url.protocol === 'https:', maxAge: ttl });
  return json({ renewed: true, exp: now + ttl });
};
