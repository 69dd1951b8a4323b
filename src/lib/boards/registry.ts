/**
 * Every board by id. Routes look boards and tiles up here (`/boards/<id>`, the cockpit's
 * pages, and `/embed/<board>[/<tile>]`); an id not listed is a 404, never a path.
 */
import type { BoardDef, TileDef } from './types';
import { customers } from './customers';
import { forecast } from './forecast';
import { payments } from './payments';
import { pipeline } from './pipeline';
import { team } from './team';
import { WALL_PAGES } from './wall';
import { winLoss } from './win-loss';

/** Manager boards, in the order of the navigation. */
export const BOARDS: BoardDef[] = [pipeline, forecast, winLoss, customers, payments, team];

const byId = new Map([...BOARDS, ...Object.values(WALL_PAGES)].map((b) => [b.id, b]));

export function getBoard(id: string): BoardDef | null {
  return byId.get(id) ?? null;
}

export function getTile(board: BoardDef, id: string): TileDef | null {
  return board.tiles.find((t) => t.id === id) ?? null;
}
