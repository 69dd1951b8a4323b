import { error } from '@sveltejs/kit';
import { customerBoard, headerOf } from '$lib/boards/customer360';
import { loadBoard } from '$lib/boards/load';
import type { PageLoad } from './$types';

/**
 * 客户360 (/customers/<id>): the customer's board, loaded like any board. A customer the
 * viewer's token does not cover (or that does not exist) is a 404, never an empty page: the
 * `customer` model finds no customer outside the scope.
 */
export const load: PageLoad = async ({ fetch, url, params }) => {
  const board = customerBoard(params.id);
  const boardData = await loadBoard(fetch, url, board);
  const res = boardData.results[boardData.tiles.customer_kpis.c];
  if (!res?.ok) error(res?.status || 500, res?.error ?? 'customer not loaded');
  const customer = headerOf(res.data);
  if (!customer) error(404, `unknown customer "${params.id}"`);
  return { boardData, customer };
};
