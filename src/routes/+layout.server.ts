import { app } from '$lib/server/app';
import { brandingFor } from '$lib/server/branding';
import { themeFor } from '$lib/theme';
import { openable } from '$lib/boards/landing';
import type { LayoutServerLoad } from './$types';

/**
 * Access is checked in hooks.server.ts before any load runs. Reading `lang` and `theme` from
 * the URL here makes a client-side navigation that changes them load the new ones.
 */
export const load: LayoutServerLoad = async ({ locals, url }) => {
  const { config, db } = await app();
  return {
    locale: locals.locale,
    lang: url.searchParams.get('lang'),
    theme: themeFor(url.pathname, url.searchParams.get('theme'), locals.viewer?.theme),
    currency: config.currency,
    branding: await brandingFor(config, db, locals.locale),
    demoMode: locals.demoMode,
    // What the navigation offers: only the boards and cockpit pages this token may open.
    nav: openable(locals.viewer ?? null),
    viewer: locals.viewer ? { sub: locals.viewer.sub, role: locals.viewer.role, exp: locals.viewer.exp, renewable: !!locals.viewer.renew_until } : null
  };
};
