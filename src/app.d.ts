// See https://svelte.dev/docs/kit/types#app.d.ts
import type { Scope } from '../models/common/scope';
import type { Locale } from '$lib/i18n';
import type { Claims } from '$lib/server/auth/claims';

declare global {
  namespace App {
    interface Locals {
      /** The viewer's row scope; null means no access (fail closed). */
      scope: Scope | null;
      /** True when no secret is configured: the local demo, open to anyone who can reach it. */
      demoMode: boolean;
      locale: Locale;
      /** The verified token's claims; null in demo mode or without a valid token. */
      viewer: Claims | null;
      /** The raw token of the request (to hand to client-side API calls of embeds). */
      token?: string;
      /** The session the token belongs to (`sessionId`: sid, jti or hash): rate limits and logout. */
      session?: string;
      /** Which key vouched for the token: the server's secret, or a tenant's JWKS. */
      signer?: 'secret' | 'jwks';
      /** Filters fixed by the token, applied to every model call. */
      lockedFilters: Record<string, string[]>;
      /** Why the request has no access (`no token`, `token expired`, …), for the 401. */
      authError: string | null;
    }
    interface Error {
      message: string;
      issues?: string[];
    }
  }
}

export {};
