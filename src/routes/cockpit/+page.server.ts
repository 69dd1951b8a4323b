/**
 * Server rendering of the cockpit, streamed like a board's (../boards/[board]/+page.server.ts):
 * the frame and the tiles ready within a short budget are in the first bytes, the slower tiles'
 * results follow in the same response as they finish. `?wait=all` renders every tile first (the
 * no-JavaScript link), `?wait=none` streams every tile (for tests). Only the first load of the
 * page runs here (the URL is read untracked); the wall's refreshes fetch in the browser.
 */
import { loadCockpit } from '$lib/cockpit/load';
import { streamBudget } from '$lib/boards/load';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ fetch, url, untrack }) => {
  const u = untrack(() => new URL(url.href));
  return { streamed: { href: u.pathname + u.search, ...(await loadCockpit(fetch, u, streamBudget(u))) } };
};
