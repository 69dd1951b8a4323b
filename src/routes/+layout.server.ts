import type { LayoutServerLoad } from './$types';

/** Access is checked in hooks.server.ts before any load runs. */
export const load: LayoutServerLoad = ({ locals }) => ({
  locale: locals.locale,
  demoMode: locals.demoMode,
  viewer: locals.viewer ? { sub: locals.viewer.sub, role: locals.viewer.role, exp: locals.viewer.exp, renewable: !!locals.viewer.renew_until } : null
});
