import { error } from '@sveltejs/kit';
import { getBoard } from '$lib/boards/registry';
import { loadBoard } from '$lib/boards/load';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, url, params }) => {
  const board = getBoard(params.board);
  if (!board) error(404, `unknown board "${params.board}"`);
  return { boardData: await loadBoard(fetch, url, board) };
};
