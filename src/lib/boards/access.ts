/**
 * Which models a token limited to some boards or tiles may call. A token's `boards` / `tiles`
 * claims are enforced on the server (the model API refuses other models), not only by hiding
 * screens: the models are those the allowed tiles call in any drill state and view mode,
 * plus the drill-down models every board uses (deal lists, deal detail, filter options).
 */
import { getBoard, getTile, BOARDS } from './registry';
import { tileQueries } from './load';
import { buildOrg } from './org';
import { emptyState } from './state';
import { WALL_PAGES } from './wall';
import type { BoardDef, TileDef } from './types';

const DRILL_MODELS = ['options', 'deals', 'deal', 'payment_list'];

function tileModels(board: BoardDef, tile: TileDef): string[] {
  const out = new Set<string>();
  const states = [emptyState(), { ...emptyState(), team: 'x' }, { ...emptyState(), filters: { ...emptyState().filters, owner: ['x'] } }];
  const modes = [undefined, ...(tile.modes ?? []).map((m) => m.key)];
  for (const s of states) {
    for (const mode of modes) {
      const state = mode ? { ...s, tables: { ...s.tables, [tile.id]: { sort: null, dir: null, page: 1, q: '', view: mode } } } : s;
      try {
        for (const q of Object.values(tileQueries(tile, { state: state as never, org: buildOrg([]), period: board.defaultPeriod }))) out.add(q.model);
      } catch {
        // a state this tile does not support adds nothing
      }
    }
  }
  return [...out];
}

/**
 * The models a token may call, or null when it is not limited (no `boards`/`tiles` claim,
 * or `boards: ['*']`).
 */
export function allowedModels(claims: { boards?: string[]; tiles?: string[] }): Set<string> | null {
  if (!claims.boards && !claims.tiles) return null;
  if (claims.boards?.includes('*')) return null;
  const out = new Set<string>(DRILL_MODELS);
  for (const id of claims.boards ?? []) {
    const board = getBoard(id);
    if (!board) continue;
    for (const t of board.tiles) tileModels(board, t).forEach((m) => out.add(m));
  }
  for (const ref of claims.tiles ?? []) {
    const [boardId, tileId] = ref.split('/');
    const board = getBoard(boardId);
    if (!board) continue;
    const tiles = tileId === '*' ? board.tiles : [getTile(board, tileId)].filter((t): t is TileDef => !!t);
    for (const t of tiles) tileModels(board, t).forEach((m) => out.add(m));
  }
  return out;
}

/** Every board id a token can name (manager boards and the cockpit's wall pages). */
export const BOARD_IDS = [...BOARDS.map((b) => b.id), ...Object.values(WALL_PAGES).map((b) => b.id)];
