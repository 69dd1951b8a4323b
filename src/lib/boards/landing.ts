/**
 * Where a token may go. A token limited to some boards or tiles (`boards` / `tiles` claims, see
 * access.ts) lands on the first page it may open, never on one full of refused tiles: the
 * server redirects a page it may not open (`/cockpit` for a token of the pipeline board) to its
 * landing, and the navigation offers only what it may open. The rule matches
 * `allowsBoard` (src/lib/server/auth/claims.ts): no `boards` and no `tiles` claim opens
 * everything; `boards: ['*']` every board; a token with only `tiles` opens no whole board, only
 * its tiles' embeds.
 */
import { BOARDS, getBoard, getTile } from './registry';
import { WALL_PAGES } from './wall';

export interface PageClaims {
  boards?: string[];
  tiles?: string[];
}

/** May the token open the whole board (or wall page) `id`? */
export function opensBoard(c: PageClaims | null | undefined, id: string): boolean {
  if (!c || (!c.boards && !c.tiles)) return true;
  return !!c.boards && (c.boards.includes('*') || c.boards.includes(id));
}

export interface Openable {
  /** Manager boards, in the navigation's order. */
  boards: string[];
  /** Cockpit pages by their `pages=` name (overview, forecast). */
  wall: string[];
  /** Single tiles as `board/tile`, opened as embeds. */
  tiles: string[];
}

export function openable(c: PageClaims | null | undefined): Openable {
  const boards = BOARDS.filter((b) => opensBoard(c, b.id)).map((b) => b.id);
  const wall = Object.entries(WALL_PAGES)
    .filter(([, b]) => opensBoard(c, b.id))
    .map(([k]) => k);
  const tiles: string[] = [];
  for (const ref of c?.tiles ?? []) {
    const [boardId, tileId] = ref.split('/');
    const board = getBoard(boardId ?? '');
    if (!board) continue;
    if (tileId === '*') tiles.push(...board.tiles.map((t) => `${board.id}/${t.id}`));
    else if (tileId && getTile(board, tileId)) tiles.push(`${board.id}/${tileId}`);
  }
  return { boards, wall, tiles };
}

/** The first page the token may open: the cockpit (its pages), else a board, else a tile's embed, else null. */
export function landing(c: PageClaims | null | undefined, lang?: string | null): string | null {
  const o = openable(c);
  const q = lang ? `lang=${encodeURIComponent(lang)}` : '';
  const withQ = (path: string, extra = '') => {
    const parts = [extra, q].filter(Boolean).join('&');
    return parts ? `${path}?${parts}` : path;
  };
  if (o.wall.length) return withQ('/cockpit', o.wall.length === Object.keys(WALL_PAGES).length ? '' : `pages=${o.wall.join(',')}`);
  if (o.boards.length) return withQ(`/boards/${o.boards[0]}`);
  if (o.tiles.length) return withQ(`/embed/${o.tiles[0]}`);
  return null;
}

/**
 * Where a page request should go instead, or null to serve it: a board or cockpit page the
 * token may not open goes to its landing; `/cockpit?pages=…` keeps only the pages it may open.
 * `/` and `/boards` (the board index) go to the landing of a limited token.
 */
export function redirectFor(c: PageClaims | null | undefined, url: URL): string | null {
  if (!c || (!c.boards && !c.tiles) || c.boards?.includes('*')) return null;
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const lang = url.searchParams.get('lang');
  const board = /^\/boards\/([^/]+)$/.exec(path);
  if (board) return opensBoard(c, decodeURIComponentSafe(board[1])) ? null : landing(c, lang) ?? '/login-required?reason=no+page';
  if (path === '/' || path === '/boards') return landing(c, lang) ?? '/login-required?reason=no+page';
  if (path === '/cockpit') {
    const allowed = openable(c).wall;
    if (!allowed.length) return landing(c, lang) ?? '/login-required?reason=no+page';
    const asked = (url.searchParams.get('pages') ?? 'overview').split(',').map((s) => s.trim()).filter(Boolean);
    const keep = asked.filter((p) => allowed.includes(p));
    if (keep.length === asked.length) return null;
    const u = new URL(url);
    u.searchParams.set('pages', (keep.length ? keep : allowed).join(','));
    return `${u.pathname}${u.search}`;
  }
  return null;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
