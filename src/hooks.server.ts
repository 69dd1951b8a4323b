/**
 * Every request passes here: locale, then access.
 *
 * With neither COCKPIT_SECRET nor COCKPIT_JWKS the server runs the open local demo (every page
 * shows a banner, the log warns). Once either is set, every page and API call needs a token
 * (`Authorization: Bearer …`, or the session cookie set by /login); without a valid one the
 * scope is null, the API answers 401 with no data and pages show how to sign in.
 * /embed pages are shells without data: they receive their token from the host page (SDK
 * postMessage or a `?token=` moved to memory) and call the API with it.
 */
import type { Handle, HandleServerError } from '@sveltejs/kit';
import { negotiateLocale } from '$lib/i18n';
import { themeFor } from '$lib/theme';
import { app } from '$lib/server/app';
import { auth, lockedFilters, revocationsFor, scopeFromClaims, sessionId, SESSION_COOKIE } from '$lib/server/auth';
import { ALL_SCOPE } from '../models/common/scope';
import { paramsFromEntries } from '../models/common/params';
import { accessFor, checkCall, type Access } from '$lib/boards/access';
import { getBoard, getTile } from '$lib/boards/registry';
import { redirectFor } from '$lib/boards/landing';

let warned = false;

/** The calls a token's `boards`/`tiles` allow, per distinct pair of claims (derived once). */
const accessCache = new Map<string, Access | null>();
function accessOf(v: { boards?: string[]; tiles?: string[] }): Access | null {
  const key = JSON.stringify([v.boards ?? null, v.tiles ?? null]);
  if (!accessCache.has(key)) {
    if (accessCache.size > 1000) accessCache.clear();
    accessCache.set(key, accessFor(v));
  }
  return accessCache.get(key)!;
}

/** A path segment decoded, or null when its percent-encoding is malformed (`%E0`, `%`). */
function decodeSegment(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** Is `/embed/<board>[/<tile>]` (raw, percent-encoded segments) a board and tile we have? */
function embedTarget(rawBoard: string, rawTile: string | undefined): boolean {
  const boardId = decodeSegment(rawBoard);
  const tileId = rawTile === undefined ? undefined : decodeSegment(rawTile);
  if (boardId === null || tileId === null) return false;
  const board = getBoard(boardId);
  if (!board) return false;
  return tileId === undefined || !!getTile(board, tileId);
}

function tokenFrom(request: Request, cookie: string | undefined): string | null {
  const h = request.headers.get('authorization');
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  return cookie ?? null;
}

// /alerts/image/<128-bit id>.png: report charts that chat platforms fetch by URL (capability links).
const PUBLIC_PAGES = ['/login', '/logout', '/login-required', '/embed', '/embed.js', '/favicon.svg', '/_app/', '/api/status', '/alerts/image/', '/branding/'];
const isPublic = (path: string) => PUBLIC_PAGES.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers } });

/**
 * The last line of defence: whatever the hook or a route throws becomes a 500 (a 400 for a
 * malformed URI) for this one request. An error thrown out of `handle` is not caught by
 * SvelteKit or adapter-node and used to end the process (`GET /api/models/%E0`).
 */
export const handle: Handle = async (input) => {
  try {
    return await guarded(input);
  } catch (e) {
    const bad = e instanceof URIError;
    if (!bad) console.error(`error on ${input.event.request.method} ${input.event.url.pathname}:`, e);
    return input.event.url.pathname.startsWith('/api/')
      ? json(bad ? 400 : 500, { error: bad ? 'bad request: malformed URI' : 'internal error' })
      : new Response(bad ? 'bad request' : 'internal error', { status: bad ? 400 : 500, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
  }
};

const guarded: Handle = async ({ event, resolve }) => {
  const { config, db } = await app();
  const a = auth(config);
  const path = event.url.pathname;
  event.locals.demoMode = !a.configured;
  event.locals.viewer = null;
  event.locals.lockedFilters = {};
  event.locals.authError = null;

  if (!a.configured) {
    if (!warned) {
      console.warn('crm-cockpit: demo mode, no access control (set COCKPIT_SECRET or COCKPIT_JWKS to require tokens)');
      warned = true;
    }
    event.locals.scope = ALL_SCOPE;
  } else {
    event.locals.scope = null;
    const token = tokenFrom(event.request, event.cookies.get(SESSION_COOKIE));
    if (token) {
      const r = await a.verifier!.verify(token);
      const session = r.ok ? sessionId(r.claims, token) : null;
      if (r.ok && (await revocationsFor(db)).has(session!)) {
        event.locals.authError = 'token revoked';
      } else if (r.ok) {
        event.locals.viewer = r.claims;
        event.locals.scope = scopeFromClaims(r.claims);
        event.locals.lockedFilters = lockedFilters(r.claims);
        event.locals.token = token;
        event.locals.session = session!;
        event.locals.signer = r.signer;
      } else {
        event.locals.authError = r.reason;
      }
    } else {
      event.locals.authError = 'no token';
    }
  }

  const locale = negotiateLocale(
    event.url.searchParams.get('lang') ?? event.locals.viewer?.locale ?? null,
    event.request.headers.get('accept-language')
  );
  event.locals.locale = locale;
  const theme = themeFor(path, event.url.searchParams.get('theme'), event.locals.viewer?.theme);

  const isApi = path.startsWith('/api/');
  if (a.configured && !event.locals.scope && !isPublic(path)) {
    if (isApi) {
      return new Response(JSON.stringify({ error: `unauthorized: ${event.locals.authError}` }), {
        status: 401,
        headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer', 'cache-control': 'no-store' }
      });
    }
    // A page: send the browser to the sign-in explanation (the reason is one of ours, not input).
    const to = new URL('/login-required', event.url);
    to.searchParams.set('reason', event.locals.authError ?? 'no token');
    to.searchParams.set('next', path);
    return new Response(null, { status: 303, headers: { location: `${to.pathname}${to.search}`, 'cache-control': 'no-store' } });
  }

  // A token limited to some boards or tiles lands on a page it may open: a board or cockpit
  // page it may not open (its login link's `next=/cockpit`, say) goes to its landing instead of
  // showing every tile refused (src/lib/boards/landing.ts).
  if (!isApi && event.locals.viewer && (event.request.method === 'GET' || event.request.method === 'HEAD')) {
    const to = redirectFor(event.locals.viewer, event.url);
    if (to) return new Response(null, { status: 303, headers: { location: to, 'cache-control': 'no-store' } });
  }

  // Embed pages render in the browser only (ssr = false), so the server never ran their load
  // and answered 200 with the app shell for any name (`/embed/..%2f..%2fetc%2fpasswd`). Check
  // board and tile against the registry here: a name that is not one of ours is a plain 404.
  const embedPage = /^\/embed\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (embedPage && !embedTarget(embedPage[1], embedPage[2])) {
    return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
  }

  // A token limited to some boards or tiles may make only the calls those tiles make
  // (src/lib/boards/access.ts): their models, within the parameters the tiles fix.
  if (path.startsWith('/api/models/') && event.locals.viewer) {
    const modelCall = /^\/api\/models\/([^/]+)(\/export)?\/?$/.exec(path);
    const name = modelCall ? decodeSegment(modelCall[1]) : null;
    if (modelCall && name === null) return json(400, { error: 'bad request: malformed percent-encoding in the model name' });
    const access = accessOf(event.locals.viewer);
    if (access && !modelCall) return json(403, { error: 'forbidden: not a call this token’s tiles make' });
    const refused = access && checkCall(access, name!, paramsFromEntries(event.url.searchParams), { exporting: !!modelCall![2], locked: Object.keys(event.locals.lockedFilters) });
    if (refused) return json(403, { error: `forbidden: ${refused}` });
  }

  if (isApi && event.locals.viewer) {
    // Per session, not per token: a renewed token keeps its session's bucket (its `sid`).
    const wait = a.limiter.take(event.locals.session!);
    if (wait > 0) {
      return new Response(JSON.stringify({ error: `rate limit: retry in ${wait} s` }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': String(wait), 'cache-control': 'no-store' }
      });
    }
  }

  const response = await resolve(event, {
    transformPageChunk: ({ html }) => html.replace('%lang%', locale).replace('%theme%', theme)
  });
  const embed = path === '/embed' || path.startsWith('/embed/');
  const ancestors = embed ? ["'self'", ...a.frameAncestors].join(' ') : "'self'";
  response.headers.set('content-security-policy', `frame-ancestors ${ancestors}`);
  response.headers.set('x-content-type-options', 'nosniff');
  response.headers.set('referrer-policy', 'no-referrer');
  return response;
};

export const handleError: HandleServerError = ({ error, event }) => {
  // Never log query strings: they may carry a token.
  console.error(`error on ${event.request.method} ${event.url.pathname}:`, error);
  return { message: 'internal error' };
};
