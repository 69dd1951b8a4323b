/**
 * 客户分析 — the customers board: who the customers are (industry, region, source, grade),
 * the value × potential grid and the customers in each quadrant, lifetime value by segment,
 * and how cohorts of new customers keep buying.
 */
import { customerHref } from './links';
import { formatMoney, formatPercent } from '$lib/format';
import { commonParams } from './state';
import { amountText, dealsTable, rowsOf } from './tiles';
import type { BoardDef, ChartItem, ColumnDef, KpiCardView, TileDef, ViewContext } from './types';
import type { StatePatch } from './state';

type Profile = { dimension: string; value: string | null; customers: number; won_amount: number; share_customers: number | null; won_customers: number };
type Grid = { quadrant: string; label: { 'zh-CN': string; en: string }; customers: number; value: number; potential: number; high_value: boolean; high_potential: boolean };
type GridCustomer = { customer_id: string; name: string | null; industry: string | null; region: string | null; owner_name: string | null; value: number; potential: number; quadrant: string };
type Segment = {
  active_last_year: number;
  churned: number;
  active_customers: number;
  group_key: string | null;
  group_label: string | null;
  customers: number;
  customers_with_revenue: number;
  historical_ltv: number;
  avg_historical_ltv: number | null;
  acv: number | null;
  churn: number | null;
  arpa: number | null;
  predictive_ltv: number | null;
  won_deals: number;
  basis: string;
};
type Cohort = { cohort: string; months_since: number; customers: number; retained_share: number | null; cumulative_revenue_per_customer: number | null };

/** A card's drill: the customers behind it, in the customers table (segment = whose rows make the figure). */
const bySegment = (segment: string): StatePatch => ({ refine: { segment: segment === 'all' ? [] : [segment] }, replaceRefine: true });

const card = (ctx: ViewContext, id: string, value: number | null, format: KpiCardView['format'], n: number, note: string | null = null, segment?: string): KpiCardView => ({
  id,
  label: ctx.t(`kpi.${id}` as never),
  value,
  format,
  change: null,
  changeKind: 'relative',
  goodWhen: 'up',
  n,
  note,
  ...(segment ? { patch: bySegment(segment), focus: 'customer_list' } : {})
});

const summary: TileDef = {
  id: 'summary',
  title: 'tile.customers_summary',
  span: [12, 1],
  bare: true,
  queries: (ctx) => ({ ltv: { model: 'ltv', params: commonParams(ctx.state, ctx.period) } }),
  view: (d, ctx) => {
    const s = rowsOf<Segment>(d.ltv)[0];
    return {
      kind: 'kpis',
      cards: [
        card(ctx, 'customers', s?.customers ?? 0, 'count', s?.customers ?? 0, ctx.t('kpi.with_revenue', { n: (s?.customers_with_revenue ?? 0).toLocaleString(ctx.locale) }), 'all'),
        card(ctx, 'avg_ltv', s?.avg_historical_ltv ?? null, 'money', s?.customers_with_revenue ?? 0, s?.basis === 'won_amount' ? ctx.t('kpi.basis_won') : ctx.t('kpi.basis_payments'), 'with_revenue'),
        card(ctx, 'acv', s?.acv ?? null, 'money', s?.won_deals ?? 0, null, 'won'),
        // A projection, not a sum: its click lists the active customers its ARPA is made of, and the card says so.
        {
          ...card(ctx, 'predictive_ltv', s?.predictive_ltv ?? null, 'money', s?.customers ?? 0, s?.arpa != null ? ctx.t('kpi.arpa', { arpa: formatMoney(s.arpa, ctx.locale, ctx.currency) }) : null, 'active'),
          foot: ctx.t('truth.predictive_not_sum')
        },
        { ...card(ctx, 'churn', s?.churn ?? null, 'percent', s?.active_last_year ?? 0, s?.active_last_year ? ctx.t('kpi.churned_of', { n: s.churned.toLocaleString(ctx.locale), of: s.active_last_year.toLocaleString(ctx.locale) }) : null, 'active_last_year'), goodWhen: 'down' }
      ]
    };
  }
};

function profileTile(id: string, title: TileDef['title'], dim: 'industry' | 'region' | 'source' | 'grade', kind: 'donut' | 'bars', span: [number, number]): TileDef {
  return {
    id,
    title,
    span,
    queries: (ctx) => ({ p: { model: 'customer_profile', params: { ...commonParams(ctx.state, ctx.period), by: dim } } }),
    empty: (d) => (d.p?.rows.length ?? 0) === 0,
    view: (d, ctx) => {
      const rows = rowsOf<Profile>(d.p).filter((r) => r.dimension === dim);
      const total = rows.reduce((s, r) => s + r.customers, 0);
      const items: ChartItem[] = rows.slice(0, 9).map((r) => ({
        key: r.value ?? '∅',
        label: r.value ?? ctx.t('tile.not_recorded'),
        value: r.customers,
        sub: kind === 'bars' ? ctx.t('tile.won_amount_short', { amount: formatMoney(r.won_amount, ctx.locale, ctx.currency) }) : null,
        patch: r.value ? { filters: { [dim]: [r.value] } } : undefined,
        selected: !!r.value && ctx.state.filters[dim].includes(r.value)
      }));
      return kind === 'donut'
        ? { kind: 'donut', format: 'count', items, center: { value: total.toLocaleString(ctx.locale), label: ctx.t('unit.customers_long') } }
        : { kind: 'bars', format: 'count', items };
    }
  };
}

const grid: TileDef = {
  id: 'value_potential',
  title: 'tile.value_potential',
  span: [5, 4],
  queries: (ctx) => ({ g: { model: 'customer_profile', params: { ...commonParams(ctx.state, ctx.period), view: 'grid' } } }),
  subtitle: (d, ctx) =>
    ctx.t('tile.grid_sub', {
      v: formatMoney((d.g?.summary?.value_median as number | null) ?? null, ctx.locale, ctx.currency),
      p: formatMoney((d.g?.summary?.potential_median as number | null) ?? null, ctx.locale, ctx.currency)
    }),
  view: (d, ctx) => {
    const rows = rowsOf<Grid>(d.g);
    const order = ['key_develop', 'key_maintain', 'activate', 'standard'];
    const tone = { key_maintain: 'good', key_develop: 'accent', standard: 'warn', activate: 'muted' } as const;
    return {
      kind: 'quadrant',
      x: ctx.t('tile.value_axis'),
      y: ctx.t('tile.potential_axis'),
      cells: order
        .map((k) => rows.find((r) => r.quadrant === k))
        .filter((r): r is Grid => !!r)
        .map((r) => ({
          key: r.quadrant,
          label: r.label[ctx.locale],
          hint: ctx.t(`tile.quadrant_hint.${r.quadrant}` as never, { potential: formatMoney(r.potential, ctx.locale, ctx.currency) }),
          count: r.customers,
          value: r.value,
          tone: tone[r.quadrant as keyof typeof tone] ?? 'muted',
          patch: { refine: { quadrant: [r.quadrant], customer: [] } }
        }))
    };
  }
};

const gridCustomers: TileDef = {
  id: 'quadrant_customers',
  title: 'tile.quadrant_customers',
  span: [7, 4],
  queries: (ctx) => ({
    c: {
      model: 'customer_profile',
      params: { ...commonParams(ctx.state, ctx.period), view: 'grid_customers', quadrant: ctx.state.refine.quadrant?.[0] ?? 'key_maintain', limit: 50 }
    }
  }),
  subtitle: (_d, ctx) => ctx.t(`tile.quadrant.${ctx.state.refine.quadrant?.[0] ?? 'key_maintain'}` as never),
  view: (d, ctx) => ({
    kind: 'rows',
    rowKey: 'customer_id',
    selected: ctx.state.refine.customer?.[0] ?? null,
    columns: [
      { key: 'customer_name_short', format: 'text', href: (r) => customerHref(r.customer_id) },
      { key: 'industry', format: 'text', priority: 3 },
      { key: 'region', format: 'text', priority: 3 },
      { key: 'owner_name', format: 'text', priority: 2 },
      { key: 'value', format: 'money' },
      { key: 'potential', format: 'money' }
    ],
    rows: rowsOf<GridCustomer>(d.c).map((r) => ({ ...r, customer_name_short: r.name ?? r.customer_id })),
    rowPatch: (r) => ({ refine: { customer: [String(r.customer_id)] } })
  })
};

const ltvBySegment: TileDef = {
  id: 'ltv_by_industry',
  title: 'tile.ltv_by_industry',
  span: [5, 4],
  queries: (ctx) => ({ ltv: { model: 'ltv', params: { ...commonParams(ctx.state, ctx.period), group_by: 'industry' } } }),
  view: (d, ctx) => ({
    kind: 'bars',
    format: 'money',
    items: rowsOf<Segment>(d.ltv)
      .filter((r) => r.avg_historical_ltv !== null)
      .sort((a, b) => (b.avg_historical_ltv ?? 0) - (a.avg_historical_ltv ?? 0))
      .slice(0, 10)
      .map((r) => ({
        key: r.group_key ?? '∅',
        label: r.group_label ?? r.group_key ?? ctx.t('tile.not_recorded'),
        value: r.avg_historical_ltv,
        sub: ctx.t('tile.ltv_sub', { n: r.customers_with_revenue.toLocaleString(ctx.locale), churn: formatPercent(r.churn, ctx.locale, 0) }),
        patch: r.group_key ? { filters: { industry: [r.group_key] } } : undefined
      }))
  })
};

const cohorts: TileDef = {
  id: 'cohorts',
  title: 'tile.cohorts',
  span: [7, 4],
  queries: (ctx) => ({ c: { model: 'ltv', params: { ...commonParams(ctx.state, ctx.period), ...(ctx.state.period || ctx.state.from ? {} : { period: 'last_year' }), view: 'cohorts' } } }),
  subtitle: (_d, ctx) => ctx.t('tile.cohorts_sub'),
  empty: (d) => (d.c?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<Cohort>(d.c);
    const names = [...new Set(rows.map((r) => r.cohort))];
    const maxMonth = Math.min(12, Math.max(0, ...rows.map((r) => r.months_since)));
    const months = Array.from({ length: maxMonth + 1 }, (_, i) => i);
    return {
      kind: 'heatmap',
      format: 'percent',
      rows: names.map((c) => {
        const size = rows.find((r) => r.cohort === c && r.months_since === 0)?.customers ?? 0;
        return { key: c, label: `${c} · ${size.toLocaleString(ctx.locale)}` };
      }),
      cols: months.map((m) => ({ key: String(m), label: m === 0 ? ctx.t('tile.month0') : `+${m}` })),
      values: names.map((c) => months.map((m) => rows.find((r) => r.cohort === c && r.months_since === m)?.retained_share ?? null))
    };
  }
};

const deals = dealsTable('deals', 'tile.customer_deals', {
  columns: ['name', 'customer_name', 'owner_name', 'stage', 'amount', 'created_at', 'closed_at', 'industry', 'region'],
  base: (ctx) => (ctx.state.refine.customer?.length ? { period: 'all', from: null, to: null } : { date_field: 'created_at' }),
  sort: 'created_at'
});

const CUSTOMER_COLUMNS: ColumnDef[] = [
  { key: 'customer_name', format: 'text', href: (r) => customerHref(r.customer_id) },
  { key: 'owner_name', format: 'text', priority: 2, patch: (r) => (r.owner_id ? { filters: { owner: [String(r.owner_id)] } } : null) },
  { key: 'region', format: 'text', priority: 3 },
  { key: 'industry', format: 'text', priority: 3 },
  { key: 'ltv', format: 'money' },
  { key: 'won_amount', format: 'money', priority: 2 },
  { key: 'won_deals', format: 'count', priority: 3 },
  { key: 'revenue_year', format: 'money', priority: 3 },
  { key: 'churned', format: 'flag', priority: 3, sortable: false }
];

/**
 * 客户明细 — the customers behind the summary cards (`customer_list`, the LTV model's own figures per
 * customer): a card's click sets the segment (with revenue, won, active, active last year) and
 * brings this tile into view; its subtitle gives the card's figure from these rows.
 */
const customerList: TileDef = {
  id: 'customer_list',
  title: 'tile.customer_list',
  span: [12, 5],
  table: {
    model: 'customer_list',
    params: (ctx) => ({ ...commonParams(ctx.state, ctx.period), segment: ctx.state.refine.segment?.[0] ?? null }),
    columns: CUSTOMER_COLUMNS,
    pageSize: 15,
    defaultSort: 'ltv',
    defaultDir: 'desc',
    rowKey: 'customer_id',
    searchPlaceholder: 'table.search_customers'
  },
  subtitle: (d, ctx) => {
    const s = d.rows?.summary as Record<string, number | string | null> | undefined;
    if (!s) return null;
    const n = Number(s.total ?? 0);
    const money = (v: unknown) => amountText(typeof v === 'number' ? v : null, ctx);
    const vars = { n: n.toLocaleString(ctx.locale), ltv: money(s.total_ltv) };
    switch (s.segment) {
      case 'with_revenue':
        return ctx.t('truth.customers.with_revenue', { ...vars, avg: money(n ? Number(s.total_ltv) / n : null) });
      case 'won':
        return ctx.t('truth.customers.won', { ...vars, won: money(s.total_won_amount), deals: Number(s.total_won_deals).toLocaleString(ctx.locale), acv: money(Number(s.total_won_deals) ? Number(s.total_won_amount) / Number(s.total_won_deals) : null) });
      case 'active':
        return ctx.t('truth.customers.active', { ...vars, revenue: money(s.total_revenue_year), arpa: money(n ? Number(s.total_revenue_year) / n : null) });
      case 'active_last_year':
        return ctx.t('truth.customers.active_last_year', { ...vars, churned: Number(s.total_churned).toLocaleString(ctx.locale), churn: formatPercent(n ? Number(s.total_churned) / n : null, ctx.locale, 1) });
      default:
        return ctx.t('truth.customers.all', vars);
    }
  }
};

export const customers: BoardDef = {
  id: 'customers',
  title: 'board.customers',
  description: 'board.customers_desc',
  defaultPeriod: 'this_year',
  tiles: [
    summary,
    profileTile('by_industry', 'tile.by_industry', 'industry', 'donut', [4, 4]),
    profileTile('by_region', 'tile.by_region', 'region', 'bars', [4, 4]),
    profileTile('by_source', 'tile.by_source', 'source', 'donut', [4, 4]),
    grid,
    gridCustomers,
    ltvBySegment,
    cohorts,
    customerList,
    deals
  ]
};
