/**
 * A board's view state, all of it in the URL, so a shared link reproduces the view and the
 * browser's back and forward buttons walk through drill-downs:
 *
 *   period=this_quarter | from=2026-01-01&to=2026-04-01   the period (to exclusive)
 *   as_of=2026-06-15                                        the report date (default today)
 *   team=R1                                                 the team (and its subtree) drilled into
 *   owner=U005&region=上海&industry=…&source=…&product=…&grade=…   filters (repeat for several)
 *   stage=…&status=…&reached=…&loss_reason=…&competitor=…&customer=…&quadrant=…&stalled=true&aging=…&state=…&date_field=…&flow=…&risk=…&segment=…
 *                                                           refinements from clicking a number: they
 *                                                           narrow the detail tables, not the charts
 *   deal=OPP-0001                                           the deal whose detail is open
 *   <table>.sort=amount&<table>.dir=asc&<table>.page=2&<table>.q=上海   one table's sort, page, search
 *   <tile>.view=flow                                        a tile's view mode (the funnel's flow method)
 *
 * Anything else in the URL (lang, theme, the cockpit's pages/rotate/refresh, an embed's
 * parameters) is kept as it is when the state changes. Pure functions only: the same code
 * runs on the server, in the browser and in embeds.
 */
import { PERIOD_PRESETS, type PeriodPreset } from '../../../models/common/period';
import type { ParamValue } from '$lib/api';

export const MULTI_FILTERS = ['owner', 'region', 'industry', 'source', 'product', 'grade'] as const;
export type MultiFilter = (typeof MULTI_FILTERS)[number];

export const REFINEMENTS = ['stage', 'status', 'reached', 'category', 'loss_reason', 'competitor', 'customer', 'quadrant', 'stalled', 'aging', 'state', 'date_field', 'flow', 'risk', 'segment'] as const;
export type Refinement = (typeof REFINEMENTS)[number];

export interface TableState {
  /** A tile's view mode (e.g. the funnel's `flow`), for tiles that offer several. */
  view?: string | null;
  sort: string | null;
  dir: 'asc' | 'desc' | null;
  /** 1-based. */
  page: number;
  q: string;
}

export interface ViewState {
  period: PeriodPreset | null;
  from: string | null;
  to: string | null;
  asOf: string | null;
  team: string | null;
  filters: Record<MultiFilter, string[]>;
  refine: Partial<Record<Refinement, string[]>>;
  deal: string | null;
  tables: Record<string, TableState>;
}

/** A change to the state: a field given replaces it (null or [] clears it). */
export interface StatePatch {
  period?: PeriodPreset | null;
  from?: string | null;
  to?: string | null;
  team?: string | null;
  filters?: Partial<Record<MultiFilter, string[]>>;
  /** Replaces all refinements when `replaceRefine` is set, else merges. */
  refine?: Partial<Record<Refinement, string[]>>;
  replaceRefine?: boolean;
  deal?: string | null;
  tables?: Record<string, Partial<TableState>>;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TABLE_KEY = /^([a-z][a-z0-9_-]{0,40})\.(sort|dir|page|q|view)$/;
const MAX_VALUE = 200;

const clean = (v: string | null) => (v === null ? null : v.trim().slice(0, MAX_VALUE) || null);
const all = (p: URLSearchParams, k: string) =>
  [...new Set(p.getAll(k).map((v) => v.trim().slice(0, MAX_VALUE)).filter((v) => v.length > 0))].slice(0, 100);

/** Reads the state from a URL's query; anything malformed is ignored rather than trusted. */
export function parseState(params: URLSearchParams): ViewState {
  const period = params.get('period');
  const from = params.get('from');
  const to = params.get('to');
  const custom = !!from && !!to && DATE.test(from) && DATE.test(to) && from < to;
  const asOf = params.get('as_of');
  const filters = Object.fromEntries(MULTI_FILTERS.map((f) => [f, all(params, f)])) as Record<MultiFilter, string[]>;
  const refine: ViewState['refine'] = {};
  for (const r of REFINEMENTS) {
    const v = all(params, r);
    if (v.length) refine[r] = v;
  }
  const tables: Record<string, TableState> = {};
  for (const [k, v] of params) {
    const m = TABLE_KEY.exec(k);
    if (!m) continue;
    const t = (tables[m[1]] ??= { sort: null, dir: null, page: 1, q: '' });
    if (m[2] === 'sort' && /^[a-z_]{1,40}$/.test(v)) t.sort = v;
    if (m[2] === 'dir' && (v === 'asc' || v === 'desc')) t.dir = v;
    if (m[2] === 'page') t.page = Math.max(1, Math.min(1_000_000, Math.floor(Number(v)) || 1));
    if (m[2] === 'q') t.q = v.slice(0, MAX_VALUE);
    if (m[2] === 'view' && /^[a-z_]{1,20}$/.test(v)) t.view = v;
  }
  return {
    period: !custom && period && (PERIOD_PRESETS as readonly string[]).includes(period) ? (period as PeriodPreset) : null,
    from: custom ? from : null,
    to: custom ? to : null,
    asOf: asOf && DATE.test(asOf) ? asOf : null,
    team: clean(params.get('team')),
    filters,
    refine,
    deal: clean(params.get('deal')),
    tables
  };
}

/** Every query key this module owns (the rest of a URL is left alone). */
function ownsKey(k: string): boolean {
  return (
    ['period', 'from', 'to', 'as_of', 'team', 'deal'].includes(k) ||
    (MULTI_FILTERS as readonly string[]).includes(k) ||
    (REFINEMENTS as readonly string[]).includes(k) ||
    TABLE_KEY.test(k)
  );
}

/** The state as query parameters, in a stable order, defaults left out. */
export function stateParams(s: ViewState): [string, string][] {
  const out: [string, string][] = [];
  if (s.from && s.to) out.push(['from', s.from], ['to', s.to]);
  else if (s.period) out.push(['period', s.period]);
  if (s.asOf) out.push(['as_of', s.asOf]);
  if (s.team) out.push(['team', s.team]);
  for (const f of MULTI_FILTERS) for (const v of s.filters[f]) out.push([f, v]);
  for (const r of REFINEMENTS) for (const v of s.refine[r] ?? []) out.push([r, v]);
  if (s.deal) out.push(['deal', s.deal]);
  for (const id of Object.keys(s.tables).sort()) {
    const t = s.tables[id];
    if (t.view) out.push([`${id}.view`, t.view]);
    if (t.sort) out.push([`${id}.sort`, t.sort]);
    if (t.dir) out.push([`${id}.dir`, t.dir]);
    if (t.page > 1) out.push([`${id}.page`, String(t.page)]);
    if (t.q) out.push([`${id}.q`, t.q]);
  }
  return out;
}

/** `path?query` for a state, keeping the URL's other parameters (lang, theme, embed …). */
export function stateHref(url: URL, s: ViewState): string {
  const q = new URLSearchParams();
  for (const [k, v] of url.searchParams) if (!ownsKey(k)) q.append(k, v);
  for (const [k, v] of stateParams(s)) q.append(k, v);
  const qs = q.toString();
  return `${url.pathname}${qs ? `?${qs}` : ''}`;
}

/**
 * Applies a change. Whatever narrows or widens the data (period, team, filters, refinements)
 * sends every table back to its first page; changing the team clears the owner filter unless
 * the patch sets it (drilling from a team into another team starts with all its reps).
 */
export function applyPatch(s: ViewState, p: StatePatch): ViewState {
  const next: ViewState = {
    ...s,
    filters: { ...s.filters },
    refine: p.replaceRefine ? {} : { ...s.refine },
    tables: Object.fromEntries(Object.entries(s.tables).map(([k, v]) => [k, { ...v }]))
  };
  let narrowed = !!p.replaceRefine;
  if (p.period !== undefined) {
    next.period = p.period;
    next.from = null;
    next.to = null;
    narrowed = true;
  }
  if (p.from !== undefined || p.to !== undefined) {
    next.from = p.from ?? null;
    next.to = p.to ?? null;
    if (next.from && next.to) next.period = null;
    narrowed = true;
  }
  if (p.team !== undefined && p.team !== s.team) {
    next.team = p.team;
    if (!p.filters?.owner) next.filters.owner = [];
    narrowed = true;
  }
  for (const [k, v] of Object.entries(p.filters ?? {}) as [MultiFilter, string[]][]) {
    next.filters[k] = [...v];
    narrowed = true;
  }
  for (const [k, v] of Object.entries(p.refine ?? {}) as [Refinement, string[]][]) {
    if (v.length) next.refine[k] = [...v];
    else delete next.refine[k];
    narrowed = true;
  }
  if (p.deal !== undefined) next.deal = p.deal;
  if (narrowed) for (const t of Object.values(next.tables)) t.page = 1;
  for (const [id, t] of Object.entries(p.tables ?? {})) {
    const cur = next.tables[id] ?? { sort: null, dir: null, page: 1, q: '' };
    next.tables[id] = { ...cur, ...t, page: t.page ?? (t.q !== undefined || t.sort !== undefined || t.dir !== undefined ? 1 : cur.page) };
  }
  return next;
}

/** The period parameters for a model: the state's period, else the board's default. */
export function periodParams(s: ViewState, fallback: PeriodPreset): Record<string, ParamValue> {
  if (s.from && s.to) return { from: s.from, to: s.to };
  return { period: s.period ?? fallback };
}

/** The parameters every model shares, from the state: period, report date and filters. */
export function commonParams(s: ViewState, fallback: PeriodPreset): Record<string, ParamValue> {
  return {
    ...periodParams(s, fallback),
    as_of: s.asOf,
    team: s.team,
    ...Object.fromEntries(MULTI_FILTERS.map((f) => [f, s.filters[f]]))
  };
}

/** The state with no filters, refinements or open deal (the "reset" button). */
export function emptyState(asOf: string | null = null): ViewState {
  return {
    period: null,
    from: null,
    to: null,
    asOf,
    team: null,
    filters: Object.fromEntries(MULTI_FILTERS.map((f) => [f, []])) as unknown as Record<MultiFilter, string[]>,
    refine: {},
    deal: null,
    tables: {}
  };
}

/** How many filters narrow the view (for the filter bar's badge). */
export function activeFilterCount(s: ViewState): number {
  return (s.team ? 1 : 0) + MULTI_FILTERS.reduce((n, f) => n + (s.filters[f].length ? 1 : 0), 0);
}
