/**
 * Server rendering of a board, streamed: the frame and every tile whose result is ready within
 * a short budget are in the first bytes of the page; the slower tiles' results follow in the
 * same response as they finish (SvelteKit streams promises in load data), so the page is no
 * longer as slow as its slowest tile. `?wait=all` renders every tile before sending (the link a
 * browser without JavaScript is offered in each tile still computing); `?wait=none` streams
 * every tile (what the tests use to see streaming on a small, fast database).
 *
 * Only the first load of a page runs here: the URL is read untracked, so client-side
 * navigations do not call the server again and the universal load (./+page.ts) fetches the
 * tiles in the browser (with its per-URL cache) as before.
 */
import { error } from '@sveltejs/kit';
import { getBoard } from '$lib/boards/registry';
import { loadBoard, streamBudget } from '$lib/boards/load';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ fetch, url, params, untrack }) => {
  const [u, id] = untrack(() => [new URL(url.href), params.board] as const);
  const board = getBoard(id);
  if (!board) error(404, `unknown board "${id}"`);
  return { streamed: { href: u.pathname + u.search, boardData: await loadBoard(fetch, u, board, undefined, streamBudget(u)) } };
};
