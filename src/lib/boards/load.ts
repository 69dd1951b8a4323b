/**
 * Loading a board: the state from the URL, the viewer's organisation (`options`), then every
 * tile's model calls in parallel, each distinct URL fetched once. In the browser, results are
 * kept for a minute by URL, so a drill-down refetches only the tiles whose queries changed and
 * the back button is instant. Used by `/boards/<board>`, the cockpit and embeds alike.
 */
import { getJson, modelUrl, onTokenChange, type Fetched, type ModelResult } from '$lib/api';
import { buildOrg, type OptionRow, type Org } from './org';
import { commonParams, parseState, type ViewState } from './state';
import type { BoardDef, QueryContext, QuerySpec, TableSpec, TileDef } from './types';

const TTL_MS = 60_000;
/**
 * How long a streamed server render's first bytes wait for tiles, counted from the start of
 * the board's load (which waits for the organisation first): `/boards/<id>` and `/cockpit`
 * alike. Counted after `options` it added its whole length to every first byte at 1M deals,
 * where `options` alone takes ~0.1–0.2 s under load and no tile answers within it anyway.
 */
export const STREAM_BUDGET_MS = 150;

/**
 * Per board, in this server process: whether at least half of the calls of its last streamed
 * render answered within the budget. When fewer did, waiting for the budget mostly delays the
 * frame: at 1M deals none or one of the pipeline board's 9 tiles answers within 150 ms of the
 * load's start, and the wait was 150 ms of a ~170 ms first byte, for a page that still showed
 * eight tiles computing (docs/decisions.md, "The stream's budget is spent only where it paid
 * off"). Such a board's next render sends the frame as soon as `options` answers. Every
 * render records again when its tiles answered, waited for or not, so a board whose tiles are
 * quick again (results cached, a narrower scope, a smaller database) waits again from its next
 * render; a board never rendered waits.
 */
const quickLastTime = new Map<string, boolean>();

/** `?wait=all` renders every tile before sending, `?wait=none` streams every tile, else the budget. */
export function streamBudget(url: URL): number | undefined {
  const wait = url.searchParams.get('wait');
  return wait === 'all' ? undefined : wait === 'none' ? 0 : STREAM_BUDGET_MS;
}
const MAX_ENTRIES = 200;
const cache = new Map<string, { at: number; value: Promise<Fetched<unknown>> }>();
// Results belong to the token that fetched them: another token may see other rows.
onTokenChange(() => cache.clear());

/** Fetches a URL through the browser cache (never cached on the server: one request, one answer). */
export function cachedJson<T>(fetchFn: typeof fetch, url: string): Promise<Fetched<T>> {
  if (typeof window === 'undefined') return getJson<T>(fetchFn, url);
  const hit = cache.get(url);
  if (hit && Date.now() - hit.at < TTL_MS) {
    cache.delete(url);
    cache.set(url, hit);
    return hit.value as Promise<Fetched<T>>;
  }
  const value = getJson<T>(fetchFn, url);
  cache.set(url, { at: Date.now(), value });
  // Failures are not kept: the next navigation tries again.
  void value.then((r) => {
    if (!r.ok && cache.get(url)?.value === value) cache.delete(url);
  });
  while (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  return value;
}

/** Forgets cached results (all, or those whose URL passes `match`), e.g. before a retry. */
export function forgetCached(match?: (url: string) => boolean) {
  for (const k of [...cache.keys()]) if (!match || match(k)) cache.delete(k);
}

/** The `options` call every board and tile makes (the viewer's team tree and filter values). */
export const optionsQuery = (s: ViewState): QuerySpec => ({ model: 'options', params: { as_of: s.asOf } });
export const optionsUrl = (s: ViewState) => modelUrl('options', optionsQuery(s).params);

/** The deal detail a table row opens (`deal=`): the view's filters apply, the period does not. */
export function dealQuery(s: ViewState, id: string): QuerySpec {
  const { period: _p, from: _f, to: _t, as_of: _a, ...filters } = commonParams(s, 'all');
  return { model: 'deal', params: { id, as_of: s.asOf, ...filters } };
}

/** A table's call: its base parameters (filters and its refinements) plus its sort, page and search. */
/** The listings that can bound their count (`count=bounded`: models/common/listing.ts). */
const BOUNDED_COUNT_MODELS = new Set(['deals', 'payment_list']);

/**
 * A table tile's call. While the user searches, the count is bounded: the search runs over
 * every row for the page, and counting all its matches again cost as much (issue 15.3); the
 * table says "more than 10,000" then (tiles.ts cappedSubtitle). Without a search the count and
 * sums are exact — they are what the card clicked on shows.
 */
export function tableQuery(tileId: string, spec: TableSpec, ctx: QueryContext): QuerySpec {
  const t = ctx.state.tables[tileId];
  const page = t?.page ?? 1;
  return {
    model: spec.model,
    params: {
      ...spec.params(ctx),
      sort: t?.sort ?? spec.defaultSort,
      dir: t?.dir ?? spec.defaultDir,
      limit: spec.pageSize,
      offset: (page - 1) * spec.pageSize,
      q: t?.q || null,
      ...(t?.q && BOUNDED_COUNT_MODELS.has(spec.model) ? { count: 'bounded' } : {})
    }
  };
}

/** A tile's model calls for the state. */
export function tileQueries(tile: TileDef, ctx: QueryContext): Record<string, QuerySpec> {
  if (tile.table) return { rows: tableQuery(tile.id, tile.table, ctx) };
  return tile.queries?.(ctx) ?? {};
}

/** URLs of every tile's calls. */
export function tileUrls(board: BoardDef, ctx: QueryContext, only?: string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const tile of board.tiles) {
    if (only && !only.includes(tile.id)) continue;
    out[tile.id] = Object.fromEntries(Object.entries(tileQueries(tile, ctx)).map(([k, q]) => [k, modelUrl(q.model, q.params)]));
  }
  return out;
}

export interface BoardData {
  board: string;
  state: ViewState;
  options: OptionRow[];
  optionsError: string | null;
  /** Every fetched result by URL. */
  results: Record<string, Fetched<ModelResult>>;
  /**
   * Results still being computed when the page was sent (server-rendered boards stream the
   * slow tiles: ./load.ts `loadBoardStreaming`), by URL; each resolves into `results`' shape.
   */
  pending?: Record<string, Promise<Fetched<ModelResult>>>;
  /**
   * URLs of lazy tiles (a backtest), which are in `pending` on every load: a wall screen's
   * refresh does not hold up the rest for them. Streamed tiles are in `pending` only once.
   */
  lazy?: string[];
  /** Each tile's named calls → URL. */
  tiles: Record<string, Record<string, string>>;
  /** The open deal's detail, when `deal=` is set. */
  deal: Fetched<ModelResult> | null;
  dealUrl: string | null;
}

/** The common model parameters of a board for the state (used by drill links and exports). */
export function boardParams(board: BoardDef, s: ViewState) {
  return commonParams(s, board.defaultPeriod);
}

/**
 * Loads a board (or some of its tiles) for a URL.
 * `budgetMs` (server rendering): once the organisation is known, wait for the tiles' results
 * until this long after the load started (not at all if `options` took longer); those not done by then are handed back as `pending` promises, which
 * SvelteKit streams into the page as they finish, so the frame and the quick tiles are sent
 * at once instead of after the slowest tile. Without a budget every result is awaited. The organisation decides only the drill
 * level of org breakdowns, so the tiles' calls start at once with the top level guessed,
 * alongside `options` (in the browser; a streamed server render starts them after `options`,
 * which its first byte waits for); once the tree is known, any call that differs is made too.
 */
export async function loadBoard(fetchFn: typeof fetch, url: URL, board: BoardDef, only?: string[], budgetMs?: number): Promise<BoardData> {
  const startedAt = Date.now();
  const state = parseState(url.searchParams);
  const started = new Map<string, Promise<Fetched<ModelResult>>>();
  const get = (u: string) => {
    let p = started.get(u);
    if (!p) started.set(u, (p = cachedJson<ModelResult>(fetchFn, u)));
    return p;
  };
  const optsP = cachedJson<ModelResult<OptionRow>>(fetchFn, optionsUrl(state));
  // Not when streaming a server render: the frame waits for `options` alone, and tiles started
  // beside it shared the two cores with it (options 0.4 s alone took 5.7 s among a board's
  // tiles at 1M deals, docs/decisions.md); they start the moment it answers.
  if (budgetMs === undefined && !state.team && state.filters.owner.length === 0) {
    for (const t of Object.values(tileUrls(board, { state, org: buildOrg([]), period: board.defaultPeriod }, only))) Object.values(t).forEach(get);
  }
  const opts = await optsP;
  const options = opts.ok ? opts.data.rows : [];
  const org: Org = buildOrg(options);
  const tiles = tileUrls(board, { state, org, period: board.defaultPeriod }, only);
  // Lazy tiles (a backtest) are never waited for: handed back as pending like a streamed tile.
  // (A single tile on its own, `only`, is what was asked for: awaited.)
  const lazyUrls = new Set(only ? [] : board.tiles.filter((t) => t.lazy && tiles[t.id]).flatMap((t) => Object.values(tiles[t.id])));
  const allUrls = [...new Set(Object.values(tiles).flatMap((t) => Object.values(t)))];
  const urls = allUrls.filter((u) => !lazyUrls.has(u));
  const lazyPending = Object.fromEntries([...lazyUrls].filter((u) => !urls.includes(u)).map((u) => [u, get(u)]));
  const dealUrl = state.deal ? modelUrl('deal', dealQuery(state, state.deal).params) : null;
  const dealP = dealUrl ? cachedJson<ModelResult>(fetchFn, dealUrl) : Promise.resolve(null);
  if (budgetMs === undefined) {
    const [fetched, deal] = await Promise.all([Promise.all(urls.map(get)), dealP]);
    return {
      board: board.id,
      state,
      options,
      optionsError: opts.ok ? null : opts.error,
      results: Object.fromEntries(urls.map((u, i) => [u, fetched[i]])),
      ...(Object.keys(lazyPending).length ? { pending: lazyPending, lazy: Object.keys(lazyPending) } : {}),
      tiles,
      deal,
      dealUrl
    };
  }
  // Streaming: whatever is done within the budget goes in the page, the rest follows it —
  // unless fewer than half of this board's calls answered within it last time (quickLastTime).
  const results: Record<string, Fetched<ModelResult>> = {};
  const budgetLeft = Math.max(0, budgetMs - (Date.now() - startedAt));
  let inTime = 0;
  const all = urls.map((u) =>
    get(u).then((r) => {
      if (Date.now() - startedAt <= budgetMs && ++inTime * 2 >= urls.length) quickLastTime.set(board.id, true);
      return (results[u] = r);
    })
  );
  const recorded = setTimeout(() => quickLastTime.set(board.id, inTime * 2 >= urls.length), budgetLeft);
  (recorded as { unref?: () => void }).unref?.();
  let timer: unknown;
  const deal = await Promise.race([
    Promise.all([Promise.all(all), dealP]).then(([, d]) => d),
    new Promise<undefined>((r) => (timer = setTimeout(r, quickLastTime.get(board.id) === false ? 0 : budgetLeft)))
  ]);
  clearTimeout(timer as number);
  const pending: Record<string, Promise<Fetched<ModelResult>>> = { ...lazyPending };
  for (const u of urls) if (!(u in results)) pending[u] = get(u);
  return {
    board: board.id,
    state,
    options,
    optionsError: opts.ok ? null : opts.error,
    results: { ...results },
    ...(Object.keys(pending).length ? { pending } : {}),
    ...(Object.keys(lazyPending).length ? { lazy: Object.keys(lazyPending) } : {}),
    tiles,
    // The open deal's drawer is part of the frame: it is waited for.
    deal: deal === undefined ? await dealP : deal,
    dealUrl
  };
}
