/**
 * The server's access control, configured once per process from the environment
 * (COCKPIT_SECRET, COCKPIT_JWKS) and the config's `security` section.
 */
import type { CockpitConfig } from '../config/schema';
import { RateLimiter } from './rate-limit';
import { authConfigured, createVerifier, type Verifier } from './verify';

export * from './claims';
export { authConfigured, checkAuthSettings, createVerifier, MAX_TTL_SECONDS } from './verify';
export { revocationsFor, sessionId } from './revocations';

export interface Auth {
  /** False: the open local demo (no secret, no JWKS). */
  configured: boolean;
  verifier: Verifier | null;
  limiter: RateLimiter;
  frameAncestors: string[];
}

const KEY = Symbol.for('crm-cockpit.auth');

export function auth(config: CockpitConfig, env: NodeJS.ProcessEnv = process.env): Auth {
  const g = globalThis as unknown as Record<symbol, Auth | undefined>;
  if (g[KEY]) return g[KEY];
  const settings = {
    secret: env.COCKPIT_SECRET || undefined,
    jwksFile: env.COCKPIT_JWKS || undefined,
    audience: config.security.audience,
    issuer: config.security.issuer
  };
  const configured = authConfigured(settings);
  const a: Auth = {
    configured,
    verifier: configured ? createVerifier(settings) : null,
    limiter: new RateLimiter(config.security.requests_per_minute),
    frameAncestors: config.security.frame_ancestors
  };
  g[KEY] = a;
  return a;
}

export const SESSION_COOKIE = 'cockpit_session';

const NOWHERE = 'http://next.invalid';

/**
 * Where to go after login: a path on this site, else `/`. Browsers parse a Location header as
 * a WHATWG URL — tabs and newlines dropped, `\` read as `/`, dot segments resolved — so
 * `/\t/evil.example` or `/.//evil.example` would leave the site; the check resolves `next`
 * the same way (Node's URL is that parser) and keeps it only when it stays on the origin, and
 * rebuilds it from the parsed path so no such character survives.
 */
export function safeNext(next: string | null): string {
  if (!next || next[0] !== '/' || /[\\\u0000-\u001f\u007f]/.test(next)) return '/';
  let u: URL;
  try {
    u = new URL(next, NOWHERE);
  } catch {
    return '/';
  }
  const out = `${u.pathname}${u.search}${u.hash}`;
  if (u.origin !== NOWHERE || !out.startsWith('/') || out.startsWith('//') || out.startsWith('/\\')) return '/';
  return out;
}
