/**
 * What a crm-cockpit token says (a JWT: HS256 with COCKPIT_SECRET, or EdDSA/RS256 from a
 * tenant's JWKS). The viewer's row scope is derived from `role` and `scope` — never from
 * request parameters:
 * - executive: every row;
 * - manager: the subtrees of `scope.team_ids` (plus any `scope.owner_ids`);
 * - rep: their own deals (`scope.owner_ids`, else `sub`);
 * - viewer: exactly `scope` (teams with subtrees and/or owners); nothing without one;
 * - admin: the sales-ops person who uploads the company's ledgers (/admin/import): every row,
 *   as the data they load is the company's.
 */
import { z } from 'zod';
import { FILTERS } from '../../../../models/common/params';
import type { Scope } from '../../../../models/common/scope';

export const ROLES = ['executive', 'manager', 'rep', 'viewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const idList = z.array(z.string().min(1).max(200)).max(1000);

export const claimsSchema = z.object({
  sub: z.string().min(1).max(200),
  role: z.enum(ROLES),
  scope: z.object({ team_ids: idList.optional(), owner_ids: idList.optional() }).optional(),
  /** Boards the token may open (`*` or absent: all). */
  boards: z.array(z.string().min(1).max(64)).max(64).optional(),
  /** Single tiles the token may open, as `board/tile` (absent: every tile of its boards). */
  tiles: z.array(z.string().min(1).max(129)).max(256).optional(),
  /** Filters fixed by the token; the viewer cannot change them. */
  filters: z.partialRecord(z.enum(FILTERS), z.union([z.string(), idList])).optional(),
  locale: z.enum(['zh-CN', 'en']).optional(),
  theme: z.enum(['dark', 'light']).optional(),
  /**
   * Until when (unix seconds) the server may renew this token's session cookie (wall screens
   * that run for weeks on day-long tokens). Only for tokens signed with COCKPIT_SECRET.
   */
  renew_until: z.number().int().optional(),
  /**
   * The session a renewed token belongs to: the first token's `jti` (or hash), carried through
   * every renewal, so the rate limit and a logout apply to the whole session.
   */
  sid: z.string().min(1).max(200).optional(),
  exp: z.number().int(),
  iat: z.number().int().optional(),
  nbf: z.number().int().optional(),
  jti: z.string().optional()
});

export type Claims = z.infer<typeof claimsSchema>;

/** The row scope a token grants. A manager without teams, or a viewer without scope, gets nothing. */
export function scopeFromClaims(c: Claims): Scope {
  switch (c.role) {
    case 'executive':
    case 'admin':
      return { all: true };
    case 'manager':
      return { team_ids: c.scope?.team_ids ?? [], owner_ids: c.scope?.owner_ids ?? [] };
    case 'rep':
      return { team_ids: [], owner_ids: c.scope?.owner_ids?.length ? c.scope.owner_ids : [c.sub] };
    case 'viewer':
      return { team_ids: c.scope?.team_ids ?? [], owner_ids: c.scope?.owner_ids ?? [] };
  }
}

/** Locked filters as model params (each a list). */
export function lockedFilters(c: Claims): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(c.filters ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v : [v];
  }
  return out;
}

/**
 * May this token open the board (or one tile of it)? No `boards` and no `tiles`: everything.
 * `boards` lists whole boards (`*` for all); `tiles` lists single tiles (`board/tile`,
 * `board/*`), and a token with only `tiles` cannot open whole boards.
 */
export function allowsBoard(c: Pick<Claims, 'boards' | 'tiles'>, board: string, tile?: string): boolean {
  const boardListed = c.boards ? c.boards.includes('*') || c.boards.includes(board) : !c.tiles;
  if (!tile) return boardListed;
  return boardListed || !!c.tiles?.some((t) => t === `${board}/${tile}` || t === `${board}/*`);
}
