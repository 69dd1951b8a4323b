/**
 * Boards are data: a board lists its tiles; a tile says which model queries it needs (built
 * from the view state), how to turn their results into a chart, and where a click leads (a
 * state patch: a team, an owner, a filter, a refinement of the detail table, a deal). The
 * same definitions serve the standalone boards, the wall-screen cockpit and embeds
 * (`/embed/<board>` and `/embed/<board>/<tile>`), so nothing about a tile lives in a route.
 */
import type { PeriodPreset } from '../../../models/common/period';
import type { FunnelRow, ModelResult, ParamValue } from '$lib/api';
import type { Locale, MessageKey, Translate } from '$lib/i18n';
import type { Org } from './org';
import type { StatePatch, ViewState } from './state';

export type Fmt = 'money' | 'count' | 'percent' | 'days' | 'number' | 'multiple';
export type Tone = 'good' | 'bad' | 'warn' | 'accent' | 'muted';

/** One model call: the catalog name and its parameters. */
export interface QuerySpec {
  model: string;
  params: Record<string, ParamValue>;
}

export interface QueryContext {
  state: ViewState;
  org: Org;
  /** The board's default period, used when the state has none. */
  period: PeriodPreset;
}

export interface ViewContext extends QueryContext {
  t: Translate;
  locale: Locale;
  currency: string;
}

export interface ChartItem {
  key: string;
  label: string;
  value: number | null;
  /** A second line under the label or beside the value (n, a rate …). */
  sub?: string | null;
  /** Where a click leads; no patch = not clickable. */
  patch?: StatePatch;
  selected?: boolean;
  tone?: Tone;
  /** A reference mark (a target) on the same scale. */
  target?: number | null;
}

export interface Category {
  key: string;
  label: string;
  patch?: StatePatch;
}

export interface Series {
  key: string;
  label: string;
  values: (number | null)[];
  /** CSS colour (a variable); default from the palette. */
  color?: string;
  area?: boolean;
  dashed?: boolean;
  format?: Fmt;
}

export interface KpiCardView {
  id: string;
  label: string;
  value: number | null;
  format: Fmt;
  change: number | null;
  changeKind: 'relative' | 'points';
  goodWhen: 'up' | 'down';
  n: number;
  note?: string | null;
  /** Shown in the footer (a target, the pipeline part of a forecast …). */
  foot?: string | null;
  spark?: (number | null)[];
  patch?: StatePatch;
  /** A tile on the same board that lists this figure's rows: a click scrolls to it and focuses it (after the patch, if any). */
  focus?: string;
  /** Whether the measure has a previous period to compare with (else no "no previous period" line). */
  comparable?: boolean;
}

export interface ColumnDef {
  key: string;
  format?: Fmt | 'date' | 'datetime' | 'text' | 'stage' | 'status' | 'state' | 'aging' | 'risk' | 'flag';
  align?: 'left' | 'right';
  sortable?: boolean;
  /** Narrow tables (small screens, embeds) hide columns with a lower priority first. */
  priority?: number;
  /** A click on this cell: a drill patch from the row. */
  patch?: (row: Record<string, unknown>) => StatePatch | null;
  /** A link to another page (a customer's 360° page) from the row; takes precedence over `patch`. */
  href?: (row: Record<string, unknown>) => string | null;
}

export interface TableSpec {
  /** `deals`, `payment_list` or `customer_list` (any model with limit/offset/sort/dir/q and summary.total). */
  model: string;
  /** Parameters before the table's own sort, page and search. */
  params(ctx: QueryContext): Record<string, ParamValue>;
  columns: ColumnDef[];
  pageSize: number;
  defaultSort: string;
  defaultDir: 'asc' | 'desc';
  /** The key column (opens the deal). */
  rowKey: string;
  /** Opens a row's deal detail. */
  dealOf?: (row: Record<string, unknown>) => string | null;
  /** The search box's hint, when the table does not list deals. */
  searchPlaceholder?: MessageKey;
  /** Offers the risk filter (the `risk` refinement) above the table. */
  riskFilter?: boolean;
}

export type TileView =
  | { kind: 'kpis'; cards: KpiCardView[] }
  | { kind: 'bars'; items: ChartItem[]; format: Fmt; note?: string | null; columns?: 1 | 2; rank?: boolean }
  | { kind: 'columns'; categories: Category[]; series: Series[]; stacked: boolean; format: Fmt; line?: Series | null }
  | { kind: 'line'; categories: Category[]; series: Series[]; format: Fmt; zero?: boolean }
  | { kind: 'donut'; items: ChartItem[]; format: Fmt; center: { value: string; label: string } }
  | { kind: 'gauge'; value: number | null; target: number | null; format: Fmt; label: string; sub?: string | null; expected?: number | null; patch?: StatePatch }
  | { kind: 'heatmap'; rows: Category[]; cols: Category[]; values: (number | null)[][]; format: Fmt; n?: (number | null)[][] }
  | { kind: 'waterfall'; steps: { key: string; label: string; value: number; total?: boolean; patch?: StatePatch; tone?: 'target' }[]; format: Fmt }
  | { kind: 'funnel'; rows: FunnelRow[]; patches: (StatePatch | undefined)[] }
  | { kind: 'quadrant'; cells: { key: string; label: string; hint: string; count: number; value: number | null; tone: Tone; patch?: StatePatch }[]; x: string; y: string }
  | { kind: 'stats'; items: { label: string; value: string; tone?: Tone }[] }
  /** A forecast with its P10–P90 band on one scale with what is already won and the target. */
  | { kind: 'band'; p50: number | null; p10: number | null; p90: number | null; won: number | null; target: number | null; format: Fmt; note?: string | null }
  /**
   * A forecast's track record: headline figures, then per past period its band, the forecast
   * made at the time, the actual and the call submitted beside it.
   */
  | {
      kind: 'track';
      stats: { key: string; label: string; value: string; tone?: Tone }[];
      periods: { key: string; label: string; actual: number; forecast: number | null; p10: number | null; p90: number | null; covered: boolean | null; call: number | null }[];
      format: Fmt;
      empty: string;
    }
  | {
      kind: 'rows';
      columns: ColumnDef[];
      rows: Record<string, unknown>[];
      rowKey: string;
      rowPatch?: (row: Record<string, unknown>) => StatePatch | undefined;
      selected?: string | null;
      /** Headers in `keys` re-rank the rows (server side) through `<table>.sort` in the URL. */
      sort?: { key: string; keys: string[]; table: string };
    }
  | { kind: 'table' };

export interface TileDef {
  id: string;
  title: MessageKey;
  /** A short line under the title (what and when), from the results. */
  subtitle?(data: Record<string, ModelResult>, ctx: ViewContext): string | null;
  /** Columns × rows on the 12-column manager grid, rows of 7.2em (default 4 × 3). */
  span?: [number, number];
  /** No frame or title (a strip of KPI cards that are boxes themselves). */
  bare?: boolean;
  /** Its grid area on a wall page (see BoardDef.wall). */
  area?: string;
  /** View modes offered in the tile's header (the first is the default), kept as `<tile>.view`. */
  modes?: { key: string; label: MessageKey }[];
  /**
   * Sort keys the tile's own header offers (`<tile>.sort`) when its calls depend on them (the
   * leaderboard's ranking); the server's access rules for tokens limited to this tile use them.
   */
  sortKeys?: readonly string[];
  /** The model calls this tile needs for the state. Table tiles build theirs from `table`. */
  queries?(ctx: QueryContext): Record<string, QuerySpec>;
  view?(data: Record<string, ModelResult>, ctx: ViewContext): TileView;
  table?: TableSpec;
  /**
   * Slow by nature (a backtest): never awaited by a page load — the page is sent and shown
   * without it, and the tile fills in when its result arrives (streamed, or fetched after).
   */
  lazy?: boolean;
  /** True when the result has nothing to show (the tile says "no data" instead). */
  empty?(data: Record<string, ModelResult>): boolean;
}

export interface BoardDef {
  id: string;
  title: MessageKey;
  description: MessageKey;
  defaultPeriod: PeriodPreset;
  tiles: TileDef[];
  /**
   * A wall-screen page of the cockpit: a fixed CSS grid that fills the screen exactly (no
   * filter bar; filters still come from the URL, e.g. `?team=R1` for a region's screen).
   */
  wall?: { columns: string; rows: string; areas: string[] };
}
