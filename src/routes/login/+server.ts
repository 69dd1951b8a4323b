/**
 * GET /login?token=…&next=/cockpit — exchanges a login link (from `cockpit token`) for an
 * httpOnly, SameSite=Lax session cookie that lasts as long as the token, then redirects to
 * `next` (a local path only). An invalid token is a 401 that says why.
 */
import { error, redirect, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { auth, safeNext, SESSION_COOKIE } from '$lib/server/auth';

export const GET: RequestHandler = async ({ url, cookies }) => {
  const { config } = await app();
  const a = auth(config);
  const next = safeNext(url.searchParams.get('next'));
  if (!a.configured) redirect(303, next);
  const token = url.searchParams.get('token') ?? '';
  const r = await a.verifier!.verify(token);
  if (!r.ok) error(401, { message: `login link rejected: ${r.reason}` });
  cookies.set(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: url.protocol === 'https:',
    maxAge: Math.max(1, r.claims.exp - Math.floor(Date.now() / 1000))
  });
  redirect(303, next);
};
