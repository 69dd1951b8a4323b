/**
 * What a token limited to some boards or tiles may call. A token's `boards` / `tiles` claims are
 * enforced on the server (the model API refuses anything else with 403), not only by hiding
 * screens, and not just by model name: a token may make exactly the calls its tiles make, in
 * any drill state the tiles can reach, and nothing wider.
 *
 * The rules are derived from the tiles themselves. Each tile's calls (`tileQueries`) are built
 * for a spread of view states — every period form, report date, team, filter, refinement, table
 * sort/page/search and view mode — and for each call the parameters are sorted into:
 * - **fixed**: the same in every state (the tile's own filters: `status=open`, `state=overdue`,
 *   `period=all`, `view=grid`, `limit=3` …). A request must carry exactly that value (`limit`:
 *   at most it);
 * - **free**: changed by some drill (period, as_of, team, filters, group_by, the table's sort,
 *   page and search, the refinements a table follows);
 * - anything else must be absent.
 * A request is allowed when one rule of its model matches. Besides the tiles' own calls:
 * `options` (the team tree and filter values every board and tile loads: `as_of` only, and it
 * counts within the scope and the locked filters); `deal` (a deal's detail) only when one of the
 * tiles is a table whose rows open deals; exports only of a table tile's listing (its rule
 * without `limit`/`offset`, which exports ignore).
 */
import { getBoard, getTile, BOARDS } from './registry';
import { dealQuery, optionsQuery, tileQueries } from './load';
import { buildOrg, type Org } from './org';
import { applyPatch, emptyState, MULTI_FILTERS, REFINEMENTS, type ViewState } from './state';
import { WALL_PAGES } from './wall';
import type { BoardDef, QuerySpec, TileDef } from './types';

/** Request parameters the API drops before running a model (so they are never refused). */
const IGNORED = ['lang', 'theme'];
const EXPORT_IGNORED = ['format', 'limit', 'offset'];

export interface CallRule {
  model: string;
  /** Where the rule comes from (`pipeline/deals.rows`), for the 403's message. */
  from: string;
  fixed: Map<string, string[]>;
  free: Set<string>;
  /** A table's listing: may be exported. */
  exportable: boolean;
}

export interface Access {
  rules: Map<string, CallRule[]>;
}

/** Two organisations: none known (the loader's first guess) and a small tree, so group_by varies as it does in use. */
const ORGS: Org[] = [
  buildOrg([]),
  buildOrg([
    { kind: 'team', key: 'T0', label: 'T0', parent: null, sort: 0, n: 2 },
    { kind: 'team', key: 'T1', label: 'T1', parent: 'T0', sort: 0, n: 1 },
    { kind: 'owner', key: 'U1', label: 'U1', parent: 'T1', sort: 0, n: 1 }
  ])
];

/** View states that together change every parameter a drill can change. */
function sampleStates(tile: TileDef): ViewState[] {
  const e = emptyState();
  const out: ViewState[] = [
    e,
    emptyState('2026-01-15'),
    applyPatch(e, { period: 'this_year' }),
    applyPatch(e, { period: 'last_quarter' }),
    applyPatch(e, { from: '2026-01-01', to: '2026-02-01' }),
    applyPatch(e, { team: 'T0' }),
    applyPatch(e, { team: 'T1' }),
    applyPatch(e, { team: 'x' })
  ];
  for (const f of MULTI_FILTERS) out.push(applyPatch(e, { filters: { [f]: ['x'] } }), applyPatch(e, { filters: { [f]: ['y', 'z'] } }));
  for (const r of REFINEMENTS) out.push(applyPatch(e, { refine: { [r]: ['x'] } }), applyPatch(e, { refine: { [r]: ['none'] } }));
  const sorts = tile.table ? tile.table.columns.filter((c) => c.sortable !== false).map((c) => c.key) : (tile.sortKeys ?? []);
  const tables = [
    { sort: 'a', dir: 'asc' as const, page: 2, q: 'x' },
    { sort: 'b', dir: 'desc' as const, page: 3, q: 'y' },
    ...sorts.map((sort) => ({ sort })),
    ...(tile.modes ?? []).map((m) => ({ view: m.key }))
  ];
  for (const t of tables) out.push(applyPatch(e, { tables: { [tile.id]: t } }));
  return out;
}

/** A parameter value as the query string carries it (absent: undefined). */
function normalize(v: unknown): string[] | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const list = (Array.isArray(v) ? v : [v]).map(String).filter((x) => x !== '');
  return list.length ? list : undefined;
}

const same = (a: string[] | undefined, b: string[] | undefined) =>
  a === b || (!!a && !!b && a.length === b.length && [...a].sort().join('\u0001') === [...b].sort().join('\u0001'));

/** Rules from a set of calls made by one tile call in different states. */
function ruleFrom(model: string, from: string, calls: Record<string, unknown>[], exportable: boolean): CallRule {
  const keys = new Set(calls.flatMap((c) => Object.keys(c).filter((k) => normalize(c[k]) !== undefined)));
  const fixed = new Map<string, string[]>();
  const free = new Set<string>();
  for (const k of keys) {
    const first = normalize(calls[0][k]);
    if (first && calls.every((c) => same(normalize(c[k]), first))) fixed.set(k, first);
    else free.add(k);
  }
  return { model, from, fixed, free, exportable };
}

function tileRules(board: BoardDef, tile: TileDef): CallRule[] {
  const byCall = new Map<string, { model: string; calls: Record<string, unknown>[] }>();
  const deals: Record<string, unknown>[] = [];
  for (const org of ORGS) {
    for (const state of sampleStates(tile)) {
      let queries: Record<string, QuerySpec>;
      try {
        queries = tileQueries(tile, { state, org, period: board.defaultPeriod });
      } catch {
        continue; // a state this tile does not support adds nothing
      }
      for (const [name, q] of Object.entries(queries)) {
        const key = `${name}:${q.model}`;
        const entry = byCall.get(key) ?? { model: q.model, calls: [] };
        entry.calls.push(q.params);
        byCall.set(key, entry);
      }
      if (tile.table?.dealOf) deals.push(dealQuery(state, 'x').params, dealQuery(state, 'y').params);
    }
  }
  const rules = [...byCall].map(([key, { model, calls }]) => ruleFrom(model, `${board.id}/${tile.id}.${key.split(':')[0]}`, calls, !!tile.table));
  if (deals.length) rules.push(ruleFrom('deal', `${board.id}/${tile.id} (deal detail)`, deals, false));
  return rules;
}

const ruleCache = new Map<string, CallRule[]>();
function rulesOf(board: BoardDef, tile: TileDef): CallRule[] {
  const key = `${board.id}/${tile.id}`;
  let r = ruleCache.get(key);
  if (!r) ruleCache.set(key, (r = tileRules(board, tile)));
  return r;
}

const optionsRule = ruleFrom('options', 'every board (filter options)', [optionsQuery(emptyState()).params, optionsQuery(emptyState('2026-01-15')).params], false);

/** The tiles a token's claims name (unknown boards and tiles name none). */
export function claimedTiles(claims: { boards?: string[]; tiles?: string[] }): [BoardDef, TileDef][] {
  const out: [BoardDef, TileDef][] = [];
  for (const id of claims.boards ?? []) {
    const board = getBoard(id);
    if (board) for (const t of board.tiles) out.push([board, t]);
  }
  for (const ref of claims.tiles ?? []) {
    const [boardId, tileId] = ref.split('/');
    const board = getBoard(boardId);
    if (!board) continue;
    const tiles = tileId === '*' ? board.tiles : [getTile(board, tileId)].filter((t): t is TileDef => !!t);
    for (const t of tiles) out.push([board, t]);
  }
  return out;
}

/**
 * The calls a token may make, or null when it is not limited (no `boards`/`tiles` claim, or
 * `boards: ['*']`).
 */
export function accessFor(claims: { boards?: string[]; tiles?: string[] }): Access | null {
  if (!claims.boards && !claims.tiles) return null;
  if (claims.boards?.includes('*')) return null;
  const rules = new Map<string, CallRule[]>([['options', [optionsRule]]]);
  for (const [board, tile] of claimedTiles(claims)) {
    for (const r of rulesOf(board, tile)) {
      const list = rules.get(r.model) ?? [];
      list.push(r);
      rules.set(r.model, list);
    }
  }
  return { rules };
}

/** Why a rule does not allow these parameters, or null when it does. */
function mismatch(rule: CallRule, params: Record<string, string[]>, skip: string[]): string | null {
  for (const [k, want] of rule.fixed) {
    if (skip.includes(k)) continue;
    const got = params[k];
    if (k === 'limit' && got?.length === 1 && Number.isInteger(Number(got[0])) && Number(got[0]) >= 1 && Number(got[0]) <= Number(want[0])) continue;
    if (!same(got, want)) return `${k} must be ${want.join(',')}${k === 'limit' ? ' or less' : ''}`;
  }
  for (const k of Object.keys(params)) {
    if (!rule.fixed.has(k) && !rule.free.has(k) && !skip.includes(k)) return `${k} is not a parameter of its tiles' calls`;
  }
  return null;
}

/**
 * Whether a limited token may make this call: null when allowed, else the reason. `params` are
 * the request's query parameters; `locked` the token's locked filters (overridden by the
 * server anyway, so never a reason to refuse).
 */
export function checkCall(access: Access, model: string, params: Record<string, string | string[]>, opts: { exporting?: boolean; locked?: string[] } = {}): string | null {
  const rules = (access.rules.get(model) ?? []).filter((r) => !opts.exporting || r.exportable);
  if (!rules.length) return opts.exporting ? `its tiles do not export ${model}` : `its tiles do not use the model "${model}"`;
  const given: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(params)) {
    if (IGNORED.includes(k) || opts.locked?.includes(k)) continue;
    const n = normalize(v);
    if (n) given[k] = n;
  }
  const skip = [...(opts.exporting ? EXPORT_IGNORED : []), ...(opts.locked ?? [])];
  let reason = '';
  for (const r of rules) {
    const m = mismatch(r, given, skip);
    if (m === null) return null;
    reason ||= `${m} (as in ${r.from})`;
  }
  return `this token's tiles do not call ${model} like that: ${reason}`;
}

/** Every board id a token can name (manager boards and the cockpit's wall pages). */
export const BOARD_IDS = [...BOARDS.map((b) => b.id), ...Object.values(WALL_PAGES).map((b) => b.id)];
