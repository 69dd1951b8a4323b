import type { Handle, HandleServerError } from '@sveltejs/kit';
import { negotiateLocale } from '$lib/i18n';
import { ALL_SCOPE } from '../models/common/scope';

/**
 * Access: with neither COCKPIT_SECRET nor COCKPIT_JWKS configured the server runs open for the
 * local demo (every page says so). Once either is set, every request needs a token; until a
 * request presents a valid one its scope is null, which returns no rows (fail closed).
 */
const demoMode = !process.env.COCKPIT_SECRET && !process.env.COCKPIT_JWKS;
if (demoMode) {
  console.warn('crm-cockpit: demo mode, no access control (set COCKPIT_SECRET to require tokens)');
}

export const handle: Handle = async ({ event, resolve }) => {
  event.locals.demoMode = demoMode;
  event.locals.scope = demoMode ? ALL_SCOPE : null;
  const locale = negotiateLocale(event.url.searchParams.get('lang'), event.request.headers.get('accept-language'));
  event.locals.locale = locale;
  const theme = event.url.searchParams.get('theme') === 'light' ? 'light' : 'dark';
  return resolve(event, {
    transformPageChunk: ({ html }) => html.replace('%lang%', locale).replace('%theme%', theme)
  });
};

export const handleError: HandleServerError = ({ error, event }) => {
  console.error(`error on ${event.request.method} ${event.url.pathname}:`, error);
  return { message: 'internal error' };
};
