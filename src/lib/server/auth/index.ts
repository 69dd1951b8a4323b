/**
 * The server's access control, configured once per process from the environment
 * (COCKPIT_SECRET, COCKPIT_JWKS) and the config's `security` section.
 */
import type { CockpitConfig } from '../config/schema';
import { RateLimiter } from './rate-limit';
import { authConfigured, createVerifier, type Verifier } from './verify';

export * from './claims';
export { authConfigured, createVerifier, MAX_TTL_SECONDS } from './verify';

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

/** A relative path to return to after login; anything else (other hosts, `//x`) becomes `/`. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}
