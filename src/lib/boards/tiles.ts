/**
 * Tile builders shared by the boards: the org breakdown that drives drill-down (regions →
 * teams → reps), the deal and payment tables behind every number, and KPI cards from `kpis`.
 */
import type { FunnelRow, KpiRow, ModelResult, ParamValue } from '$lib/api';
import type { MessageKey } from '$lib/i18n';
import { drillLevel } from './org';
import { customerHref } from './links';
import { commonParams, type Refinement, type StatePatch, type ViewState } from './state';
import type { ChartItem, ColumnDef, Fmt, KpiCardView, QueryContext, TableSpec, TileDef, ViewContext } from './types';

/** Rows of a result, typed. */
export const rowsOf = <R>(r: ModelResult | undefined): R[] => (r?.rows ?? []) as R[];

/** The org level's `group_by` and the patch a click on a group makes. */
export function orgGroup(ctx: QueryContext): { group_by: 'team' | 'owner'; patch: (key: string) => StatePatch | undefined } {
  const level = drillLevel(ctx.org, ctx.state);
  if (level.by === 'owner') {
    return { group_by: 'owner', patch: (key) => (ctx.state.filters.owner.length === 1 && ctx.state.filters.owner[0] === key ? undefined : { filters: { owner: [key] } }) };
  }
  return {
    group_by: 'team',
    // The drilled team's own members (managers) form a group keyed by the team itself: no deeper level.
    patch: (key) => (key === ctx.state.team || !ctx.org.teams.has(key) ? undefined : { team: key })
  };
}

/** The title key of an org breakdown at the current level. */
export function orgTitle(ctx: QueryContext, team: MessageKey, owner: MessageKey): MessageKey {
  return drillLevel(ctx.org, ctx.state).by === 'owner' ? owner : team;
}

/** Refinements that apply to the deals table, as `deals` parameters. */
const DEAL_REFINEMENTS: Refinement[] = ['stage', 'status', 'reached', 'category', 'loss_reason', 'competitor', 'customer', 'stalled', 'date_field', 'risk'];
const PAYMENT_REFINEMENTS: Refinement[] = ['aging', 'state'];

export function refineParams(s: ViewState, which: Refinement[]): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const r of which) {
    const v = s.refine[r];
    if (!v?.length) continue;
    out[r] = r === 'reached' || r === 'stalled' || r === 'date_field' ? v[0] : v;
  }
  return out;
}

const dealLink = (row: Record<string, unknown>) => (typeof row.opportunity_id === 'string' ? row.opportunity_id : null);

export const DEAL_COLUMNS: Record<string, ColumnDef> = {
  name: { key: 'name', format: 'text' },
  customer_name: { key: 'customer_name', format: 'text', priority: 2, href: (r) => customerHref(r.customer_id) },
  owner_name: { key: 'owner_name', format: 'text', patch: (r) => (r.owner_id ? { filters: { owner: [String(r.owner_id)] } } : null) },
  team_name: { key: 'team_name', format: 'text', priority: 3, patch: (r) => (r.team_id ? { team: String(r.team_id) } : null) },
  stage: { key: 'stage', format: 'stage' },
  status: { key: 'status', format: 'status', priority: 3 },
  amount: { key: 'amount', format: 'money' },
  weighted_amount: { key: 'weighted_amount', format: 'money', priority: 3 },
  probability: { key: 'probability', format: 'percent', priority: 3 },
  expected_close_date: { key: 'expected_close_date', format: 'date', priority: 2 },
  created_at: { key: 'created_at', format: 'date', priority: 3 },
  closed_at: { key: 'closed_at', format: 'date', priority: 2 },
  days_idle: { key: 'days_idle', format: 'count' },
  last_activity_at: { key: 'last_activity_at', format: 'date', priority: 3 },
  loss_reason: { key: 'loss_reason', format: 'text', priority: 2 },
  competitor: { key: 'competitor', format: 'text', priority: 3 },
  product: { key: 'product', format: 'text', priority: 3 },
  region: { key: 'region', format: 'text', priority: 3 },
  industry: { key: 'industry', format: 'text', priority: 3 },
  risk_flags: { key: 'risk_flags', format: 'risk', priority: 2 }
};

/** What the deals and payments tables share: their columns, the board's own params, order, page and size. */
interface ListTableOpts {
  columns: string[];
  base?: (ctx: QueryContext) => Record<string, ParamValue>;
  sort?: string;
  dir?: 'asc' | 'desc';
  pageSize?: number;
  span?: [number, number];
}

/**
 * The deals table: every common filter, plus the refinements clicks have added; `base`
 * adds the board's own (open deals only, close-date period …) unless a refinement overrides.
 */
export function dealsTable(
  id: string,
  title: MessageKey,
  opts: ListTableOpts & {
    /** Whether clicks elsewhere (refinements) narrow this table; default true. */
    refined?: boolean;
    /** Offer the risk filter above the table. */
    riskFilter?: boolean;
  }
): TileDef {
  const table: TableSpec = {
    model: 'deals',
    params: (ctx) => {
      const base = opts.base?.(ctx) ?? {};
      const refine = opts.refined === false ? {} : refineParams(ctx.state, DEAL_REFINEMENTS);
      const out: Record<string, ParamValue> = { ...commonParams(ctx.state, ctx.period), ...base, ...refine };
      // date_field=none: the number behind the click ignores the period (open pipeline, stalled).
      if (out.date_field === 'none') {
        out.date_field = null;
        out.period = 'all';
        out.from = null;
        out.to = null;
      }
      return out;
    },
    columns: opts.columns.map((c) => DEAL_COLUMNS[c]),
    pageSize: opts.pageSize ?? 15,
    defaultSort: opts.sort ?? 'amount',
    defaultDir: opts.dir ?? 'desc',
    rowKey: 'opportunity_id',
    dealOf: dealLink,
    riskFilter: opts.riskFilter
  };
  return { id, title, span: opts.span ?? [12, 5], table, subtitle: (data, ctx) => tableSubtitle(data.rows, ctx) };
}

/**
 * Whether a listing's count stopped at its cap (`count=bounded`, asked for while searching:
 * load.ts tableQuery): `summary.total` is then a lower bound and the sums are not given.
 */
export function countCapped(r: ModelResult | undefined): boolean {
  return r?.summary?.total_capped === true;
}

/**
 * The subtitle of a listing whose count was capped: "more than 10,000 … match", never a total or
 * an amount it did not compute. Null when the count is exact.
 */
export function cappedSubtitle(r: ModelResult | undefined, ctx: ViewContext, kind: 'deals' | 'payments'): string | null {
  if (!countCapped(r)) return null;
  const n = Number(r!.summary!.total).toLocaleString(ctx.locale);
  return ctx.t(kind === 'deals' ? 'table.summary_capped' : 'table.summary_capped_payments', { n });
}

function tableSubtitle(r: ModelResult | undefined, ctx: ViewContext): string | null {
  if (!r) return null;
  const capped = cappedSubtitle(r, ctx, 'deals');
  if (capped) return capped;
  const total = Number(r.summary?.total ?? 0);
  const amount = r.summary?.total_amount as number | undefined;
  const text = ctx.t('table.summary', { n: total.toLocaleString(ctx.locale), amount: amountText(amount ?? null, ctx) });
  // Lost deals the source zeroed list at ¥0 but count at their last open amount in the funnel
  // and the value win rate: say so, with the total as those figures value it.
  // The weighted forecast's deals (the drill of its card) list unweighted amounts: give the
  // weighted total the card shows beside them, and how it is weighted.
  if (ctx.state.refine.date_field?.[0] === 'forecast_date' && typeof r.summary?.total_weighted === 'number') {
    return `${text} · ${ctx.t('truth.weighted_total', { value: amountText(r.summary.total_weighted as number, ctx) })}`;
  }
  const k = Number(r.summary?.valued_from_history ?? 0);
  if (!k) return text;
  return `${text} · ${ctx.t('truth.valued_note', { k: k.toLocaleString(ctx.locale), value: amountText((r.summary?.total_value as number | undefined) ?? null, ctx) })}`;
}

/**
 * Whose target an attainment divides by, from `kpis`' `summary.target_basis`: her own, the
 * team's, the company's, a region's, or none (and why), so a figure never silently mixes a
 * filtered numerator with an unfiltered target.
 */
export function targetNote(r: ModelResult | undefined, ctx: ViewContext): string | null {
  const b = r?.summary?.target_basis as { basis: 'owner' | 'team' | 'company' | 'none'; region: string[] | null; filter: string | null } | undefined;
  if (!b) return null;
  const target = r?.summary?.target as number | null | undefined;
  const region = b.region?.join('、') ?? null;
  if (b.basis === 'none') return ctx.t('truth.target.none_filter', { filter: ctx.t(`truth.filter.${b.filter ?? 'product'}` as MessageKey) });
  if (target === null || target === undefined) return region ? ctx.t('truth.target.none_region', { region }) : ctx.t('truth.target.none');
  if (region) return ctx.t('truth.target.region', { region });
  return ctx.t(`truth.target.${b.basis}` as MessageKey);
}

export function amountText(v: number | null, ctx: ViewContext) {
  if (v === null) return '—';
  return new Intl.NumberFormat(ctx.locale, { style: 'currency', currency: ctx.currency, currencyDisplay: 'narrowSymbol', notation: 'compact', maximumFractionDigits: 2 }).format(v);
}

export const PAYMENT_COLUMNS: Record<string, ColumnDef> = {
  customer_name: { key: 'customer_name', format: 'text', href: (r) => customerHref(r.customer_id) },
  deal_name: { key: 'deal_name', format: 'text', priority: 2 },
  owner_name: { key: 'owner_name', format: 'text', patch: (r) => (r.owner_id ? { filters: { owner: [String(r.owner_id)] } } : null) },
  team_name: { key: 'team_name', format: 'text', priority: 3, patch: (r) => (r.team_id ? { team: String(r.team_id) } : null) },
  amount: { key: 'amount', format: 'money', priority: 2 },
  due_date: { key: 'due_date', format: 'date' },
  paid_at: { key: 'paid_at', format: 'date', priority: 3 },
  paid_amount: { key: 'paid_amount', format: 'money', priority: 3 },
  outstanding: { key: 'outstanding', format: 'money' },
  days_overdue: { key: 'days_overdue', format: 'count' },
  state: { key: 'state', format: 'state' },
  aging: { key: 'aging', format: 'aging', priority: 2 }
};

/** The payments table (overdue list and the payments behind a receivables number). */
export function paymentsTable(
  id: string,
  title: MessageKey,
  opts: ListTableOpts & {
    /** Whether the state/aging refinements (clicks on aging bars, the overdue card) narrow it; default true. */
    refined?: boolean;
    /** What the subtitle totals: what is still owed (default) or what was received. */
    total?: 'outstanding' | 'paid' | 'amount';
  }
): TileDef {
  const table: TableSpec = {
    model: 'payment_list',
    params: (ctx) => ({
      ...commonParams(ctx.state, ctx.period),
      ...(opts.base?.(ctx) ?? {}),
      ...(opts.refined === false ? {} : refineParams(ctx.state, PAYMENT_REFINEMENTS))
    }),
    columns: opts.columns.map((c) => PAYMENT_COLUMNS[c]),
    pageSize: opts.pageSize ?? 15,
    defaultSort: opts.sort ?? 'days_overdue',
    defaultDir: opts.dir ?? 'desc',
    rowKey: 'payment_id',
    dealOf: (r) => (typeof r.opportunity_id === 'string' ? r.opportunity_id : null)
  };
  return {
    id,
    title,
    span: opts.span ?? [12, 5],
    table,
    subtitle: (data, ctx) =>
      data.rows
        ? (cappedSubtitle(data.rows, ctx, 'payments') ??
          ctx.t(opts.total === 'paid' ? 'table.summary_paid' : opts.total === 'amount' ? 'table.summary_due' : 'table.summary_outstanding', {
            n: Number(data.rows.summary?.total ?? 0).toLocaleString(ctx.locale),
            amount: amountText((data.rows.summary?.[opts.total === 'paid' ? 'total_paid' : opts.total === 'amount' ? 'total_amount' : 'total_outstanding'] as number) ?? null, ctx)
          }))
        : null
  };
}

/** A KPI card from a `kpis` row. */
export function kpiCard(
  row: KpiRow | undefined,
  id: string,
  ctx: ViewContext,
  opts: { label?: MessageKey; goodWhen?: 'up' | 'down'; patch?: StatePatch; foot?: string | null; note?: string | null; spark?: (number | null)[] } = {}
): KpiCardView {
  const format: Fmt = row?.unit === 'currency' ? 'money' : row?.unit === 'ratio' ? 'percent' : 'count';
  return {
    id,
    label: ctx.t(opts.label ?? (`kpi.${id}` as MessageKey)),
    value: row?.value ?? null,
    format,
    change: row?.change ?? null,
    changeKind: row?.change_kind ?? 'relative',
    goodWhen: opts.goodWhen ?? 'up',
    n: row?.n ?? 0,
    note: opts.note ?? null,
    foot: opts.foot ?? null,
    spark: opts.spark,
    patch: opts.patch,
    comparable: true
  };
}

export const kpiRow = (r: ModelResult | undefined, measure: string) => rowsOf<KpiRow>(r).find((x) => x.measure === measure);

/** Items for a bar list from grouped rows, with the org drill patch. */
export function orgItems<R extends { group_key: string | null; group_label: string | null }>(
  rows: R[],
  ctx: QueryContext,
  value: (r: R) => number | null,
  sub?: (r: R) => string | null
): ChartItem[] {
  const { patch } = orgGroup(ctx);
  return rows.map((r) => ({
    key: r.group_key ?? '∅',
    label: r.group_label ?? r.group_key ?? '—',
    value: value(r),
    sub: sub?.(r) ?? null,
    patch: r.group_key ? patch(r.group_key) : undefined,
    selected: !!r.group_key && (ctx.state.filters.owner.includes(r.group_key) || ctx.state.team === r.group_key)
  }));
}

/** Funnel rows of one group (or the ungrouped funnel). */
export function funnelRows(r: ModelResult | undefined, group: string | null = null): FunnelRow[] {
  return rowsOf<FunnelRow>(r).filter((x) => x.group_key === group);
}
