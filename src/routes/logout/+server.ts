/**
 * GET or POST /logout — ends the session: the token (cookie or bearer) is revoked on the server
 * until it would have expired (a renewable session: until its `renew_until`), so a copy of it
 * is refused from now on, also after a restart (src/lib/server/auth/revocations.ts); then the
 * cookie is dropped.
 */
import { redirect, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { revocationsFor, SESSION_COOKIE } from '$lib/server/auth';

const logout: RequestHandler = async ({ cookies, locals }) => {
  const v = locals.viewer;
  if (v && locals.session) {
    const { db, config } = await app();
    const now = Math.floor(Date.now() / 1000);
    // The latest a token of this session can be valid: its exp, or the renewals' end (capped).
    const renewEnd = v.renew_until ? Math.min(v.renew_until, (v.iat ?? now) + config.security.max_renew_days * 86400) : 0;
    await (await revocationsFor(db)).revoke(locals.session, Math.max(v.exp, renewEnd));
  }
  cookies.delete(SESSION_COOKIE, { path: '/' });
  redirect(303, '/login-required');
};

export const GET = logout;
export const POST = logout;
