/**
 * /embed/<board> and /embed/<board>/<tile>: a board or a single tile for a host page's
 * iframe. Rendered in the browser only: the token arrives from the host (SDK postMessage, or
 * `?token=` moved to memory), never through the server-rendered page. Board and tile ids are
 * looked up in the registry (an unknown one is a 404, never a path).
 */
import { error } from '@sveltejs/kit';
import { getBoard, getTile } from '$lib/boards/registry';
import { loadBoard } from '$lib/boards/load';
import { embedSession } from '$lib/embed/session';
import type { PageLoad } from './$types';

export const ssr = false;

export const load: PageLoad = async ({ fetch, url, params, parent }) => {
  const board = getBoard(params.board);
  if (!board) error(404, `unknown board "${params.board}"`);
  const tile = params.tile ? getTile(board, params.tile) : null;
  if (params.tile && !tile) error(404, `unknown tile "${params.tile}" on board "${board.id}"`);
  const { demoMode } = await parent();
  const session = embedSession(board.id, tile?.id);
  const status = demoMode ? 'ready' : await session.waitForToken();
  // Which token the data was loaded with: the page reloads when the host sends a new one.
  const base = { board: board.id, tile: tile?.id ?? null, tokenVersion: session.tokenVersion };
  if (status !== 'ready') return { ...base, status, boardData: null };
  if (!demoMode && !session.allows(board.id, tile?.id)) return { ...base, status: 'forbidden' as const, boardData: null };
  return { ...base, status: 'ready' as const, boardData: await loadBoard(fetch, url, board, tile ? [tile.id] : undefined) };
};
