/**
 * POST /api/session/renew — a wall screen's day-long session renews itself until the token's
 * `renew_until`: the server re-signs the same claims for another token lifetime. Only tokens
 * the server signed itself (HS256 with COCKPIT_SECRET) are renewed: a tenant's RS256/EdDSA
 * token is never turned into a server-signed one (the host page renews those through the SDK).
 * `renew_until` may be at most `security.max_renew_days` (90) after the session's first token
 * was issued. The new token carries the session's id (`sid`), so the rate limit and a logout
 * apply to the whole session, not to each token.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { SESSION_COOKIE } from '$lib/server/auth';
import { signToken } from '$lib/server/auth/sign';

export const POST: RequestHandler = async ({ locals, cookies, url }) => {
  const v = locals.viewer;
  if (locals.demoMode) return json({ renewed: false, reason: 'demo mode' });
  if (!v || !locals.session) return json({ error: 'unauthorized' }, { status: 401 });
  const secret = process.env.COCKPIT_SECRET;
  const now = Math.floor(Date.now() / 1000);
  if (locals.signer !== 'secret' || !secret) {
    return json({ error: "this token was signed by a tenant's key: the server never re-signs it; the host page renews it (the SDK's onTokenExpiring)" }, { status: 403 });
  }
  if (!v.renew_until || v.renew_until <= now) return json({ error: 'this session cannot be renewed' }, { status: 403 });
  const { config } = await app();
  const days = config.security.max_renew_days;
  if (v.renew_until > (v.iat ?? now) + days * 86400) {
    return json({ error: `renew_until is more than ${days} days after the session began (security.max_renew_days): not renewed` }, { status: 403 });
  }
  const ttl = Math.min(Math.max(60, v.exp - (v.iat ?? now)), v.renew_until - now);
  const { exp: _exp, iat: _iat, nbf: _nbf, jti: _jti, ...claims } = v;
  const token = await signToken({
    secret,
    audience: config.security.audience,
    issuer: config.security.issuer,
    ttlSeconds: ttl,
    claims: { ...claims, sid: locals.session }
  });
  cookies.set(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure: url.protocol === 'https:', maxAge: ttl });
  return json({ renewed: true, exp: now + ttl });
};
