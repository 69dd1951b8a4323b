import { error } from '@sveltejs/kit';
import { getBoard } from '$lib/boards/registry';
import { loadBoard } from '$lib/boards/load';
import type { PageLoad } from './$types';

/**
 * The first load of a page takes the server's streamed data (./+page.server.ts); a client-side
 * navigation loads the board in the browser, every result through its per-URL cache.
 */
export const load: PageLoad = async ({ fetch, url, params, data }) => {
  const board = getBoard(params.board);
  if (!board) error(404, `unknown board "${params.board}"`);
  if (data.streamed && data.streamed.href === url.pathname + url.search) return { boardData: data.streamed.boardData };
  return { boardData: await loadBoard(fetch, url, board) };
};
