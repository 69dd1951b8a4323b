// See https://svelte.dev/docs/kit/types#app.d.ts
import type { Scope } from '../models/common/scope';
import type { Locale } from '$lib/i18n';

declare global {
  namespace App {
    interface Locals {
      /** The viewer's row scope; null means no access (fail closed). */
      scope: Scope | null;
      /** True when no secret is configured: the local demo, open to anyone who can reach it. */
      demoMode: boolean;
      locale: Locale;
    }
    interface Error {
      message: string;
      issues?: string[];
    }
  }
}

export {};
