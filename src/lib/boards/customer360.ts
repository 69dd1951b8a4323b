/**
 * 客户360 — one customer's page (/customers/<id>): profile and grade, owner and team, the
 * value × potential quadrant, totals, won value over time, all deals (the `deals` listing with
 * `customer=<id>`, with risk flags, opening the deal detail), payments with what is overdue,
 * and follow-ups. A board like the others, built for one customer id; everything comes from
 * the `customer`, `customer_profile` and `deals` models under the viewer's scope.
 */
import type { ModelResult } from '$lib/api';
import { formatDate, formatDateTime, formatMoney } from '$lib/format';
import type { MessageKey } from '$lib/i18n';
import { dealsTable, rowsOf } from './tiles';
import { personLabel } from '$lib/people';
import type { BoardDef, KpiCardView, TileDef, ViewContext } from './types';

type Header = {
  customer_id: string;
  name: string | null;
  industry: string | null;
  region: string | null;
  source: string | null;
  grade: string | null;
  status: string | null;
  owner_name: string | null;
  team_name: string | null;
  created_at: string | null;
  deals: number;
  won_deals: number;
  won_amount: number;
  open_deals: number;
  open_amount: number;
  lost_deals: number;
  first_won_at: string | null;
  paid_total: number;
  outstanding: number;
  overdue: number;
  overdue_payments: number;
  last_activity_at: string | null;
};
type Ev = {
  kind: string;
  at: string | null;
  amount: number | null;
  cumulative: number | null;
  due_date: string | null;
  paid_at: string | null;
  paid_amount: number | null;
  outstanding: number | null;
  days: number | null;
  ref: string | null;
  deal: string | null;
  type: string | null;
  text: string | null;
  who: string | null;
};
type GridCustomer = { value: number; potential: number; quadrant: string };

export const headerOf = (r: ModelResult | undefined): Header | null => (r?.summary?.customer as Header | null | undefined) ?? null;

const money = (v: number | null | undefined, ctx: ViewContext) => formatMoney(v ?? null, ctx.locale, ctx.currency);
const date = (v: string | null | undefined, ctx: ViewContext) => (v ? formatDate(v.slice(0, 10), ctx.locale) : '—');

export function customerBoard(id: string): BoardDef {
  const one = { model: 'customer', params: { id, period: 'all' } };
  const kpis: TileDef = {
    id: 'customer_kpis',
    title: 'customer.kpis',
    span: [12, 1],
    bare: true,
    queries: (ctx) => ({ c: { ...one, params: { ...one.params, as_of: ctx.state.asOf } } }),
    view: (d, ctx) => {
      const h = headerOf(d.c);
      const card = (key: string, value: number | null, n: number, note: string | null, goodWhen: 'up' | 'down' = 'up'): KpiCardView => ({
        id: key,
        label: ctx.t(`customer.${key}` as MessageKey),
        value,
        format: 'money',
        change: null,
        changeKind: 'relative',
        goodWhen,
        n,
        note
      });
      return {
        kind: 'kpis',
        cards: h
          ? [
              card('won_amount', h.won_amount, h.won_deals, ctx.t('customer.won_note', { n: h.won_deals.toLocaleString(ctx.locale), first: date(h.first_won_at, ctx) })),
              card('open_amount', h.open_amount, h.open_deals, ctx.t('unit.n_deals', { n: h.open_deals.toLocaleString(ctx.locale) })),
              card('paid_total', h.paid_total, h.won_deals, null),
              card('outstanding', h.outstanding, h.overdue_payments, null, 'down'),
              card('overdue', h.overdue, h.overdue_payments, ctx.t('customer.overdue_note', { n: h.overdue_payments.toLocaleString(ctx.locale) }), 'down')
            ]
          : []
      };
    }
  };
  const profile: TileDef = {
    id: 'customer_profile',
    title: 'customer.profile',
    span: [4, 3],
    queries: (ctx) => ({ c: { ...one, params: { ...one.params, as_of: ctx.state.asOf } } }),
    view: (d, ctx) => {
      const h = headerOf(d.c);
      const dash = (v: string | null | undefined) => (v === null || v === undefined || v === '' ? '—' : v);
      return {
        kind: 'stats',
        items: h
          ? [
              { label: ctx.t('col.grade'), value: dash(h.grade), tone: 'accent' as const },
              { label: ctx.t('col.industry'), value: dash(h.industry) },
              { label: ctx.t('col.region'), value: dash(h.region) },
              { label: ctx.t('col.source'), value: dash(h.source) },
              { label: ctx.t('col.owner_name'), value: `${dash(h.owner_name)} · ${dash(h.team_name)}` },
              { label: ctx.t('customer.deals'), value: ctx.t('customer.deals_split', { won: h.won_deals.toLocaleString(ctx.locale), open: h.open_deals.toLocaleString(ctx.locale), lost: h.lost_deals.toLocaleString(ctx.locale) }) },
              { label: ctx.t('col.created_at'), value: date(h.created_at, ctx) },
              { label: ctx.t('col.last_activity_at'), value: date(h.last_activity_at, ctx) }
            ]
          : []
      };
    }
  };
  const quadrant: TileDef = {
    id: 'customer_quadrant',
    title: 'customer.quadrant',
    span: [3, 3],
    queries: (ctx) => ({ g: { model: 'customer_profile', params: { view: 'grid_customers', customer: id, as_of: ctx.state.asOf, period: 'all' } } }),
    subtitle: (_d, ctx) => ctx.t('customer.quadrant_sub'),
    view: (d, ctx) => {
      const g = rowsOf<GridCustomer>(d.g)[0];
      if (!g) return { kind: 'stats', items: [] };
      const med = (k: string) => (d.g?.summary?.[k] as number | null | undefined) ?? null;
      const tone = { key_maintain: 'good', key_develop: 'accent', standard: 'warn', activate: 'muted' } as const;
      return {
        kind: 'stats',
        items: [
          { label: ctx.t('customer.quadrant'), value: ctx.t(`quadrant.${g.quadrant}` as MessageKey), tone: tone[g.quadrant as keyof typeof tone] ?? 'muted' },
          { label: `${ctx.t('col.value')} · ${ctx.t('customer.median')} ${money(med('value_median'), ctx)}`, value: money(g.value, ctx) },
          { label: `${ctx.t('col.potential')} · ${ctx.t('customer.median')} ${money(med('potential_median'), ctx)}`, value: money(g.potential, ctx) }
        ]
      };
    }
  };
  const won: TileDef = {
    id: 'customer_won',
    title: 'customer.won_over_time',
    span: [5, 3],
    queries: (ctx) => ({ c: { ...one, params: { ...one.params, as_of: ctx.state.asOf } } }),
    empty: (d) => !rowsOf<Ev>(d.c).some((r) => r.kind === 'won_month'),
    view: (d, ctx) => {
      const months = rowsOf<Ev>(d.c).filter((r): r is Ev & { at: string } => r.kind === 'won_month' && r.at !== null);
      // More than a year of months is shown by quarter (calendar), so the labels stay readable.
      const byQuarter = months.length > 12;
      const key = (at: string) => (byQuarter ? `${at.slice(0, 4)}-Q${Math.floor((Number(at.slice(5, 7)) - 1) / 3) + 1}` : at.slice(0, 7));
      const buckets = new Map<string, { amount: number; cumulative: number | null }>();
      for (const m of months) {
        const b = buckets.get(key(m.at)) ?? { amount: 0, cumulative: null };
        b.amount += m.amount ?? 0;
        b.cumulative = m.cumulative;
        buckets.set(key(m.at), b);
      }
      const keys = [...buckets.keys()];
      return {
        kind: 'columns',
        format: 'money',
        stacked: false,
        categories: keys.map((k) => ({ key: k, label: k })),
        series: [{ key: 'won', label: ctx.t(byQuarter ? 'customer.won_quarter' : 'customer.won_month'), values: keys.map((k) => buckets.get(k)!.amount) }],
        line: { key: 'cumulative', label: ctx.t('customer.cumulative'), values: keys.map((k) => buckets.get(k)!.cumulative), format: 'money' }
      };
    }
  };
  const deals = dealsTable('customer_deals', 'customer.all_deals', {
    columns: ['name', 'owner_name', 'stage', 'status', 'amount', 'expected_close_date', 'closed_at', 'risk_flags'],
    base: () => ({ customer: [id], period: 'all', from: null, to: null, team: null, owner: [], region: [], industry: [], source: [], product: [], grade: [] }),
    sort: 'created_at',
    pageSize: 10,
    span: [12, 4],
    refined: false
  });
  const payments: TileDef = {
    id: 'customer_payments',
    title: 'customer.payments',
    span: [6, 4],
    queries: (ctx) => ({ c: { ...one, params: { ...one.params, as_of: ctx.state.asOf } } }),
    subtitle: (d, ctx) => {
      const h = headerOf(d.c);
      return h ? ctx.t('customer.payments_sub', { paid: money(h.paid_total, ctx), overdue: money(h.overdue, ctx) }) : null;
    },
    empty: (d) => !rowsOf<Ev>(d.c).some((r) => r.kind === 'payment'),
    view: (d, ctx) => ({
      kind: 'rows',
      rowKey: 'payment_id',
      columns: [
        { key: 'due_date', format: 'text' },
        { key: 'deal_name', format: 'text', priority: 2 },
        { key: 'amount', format: 'money' },
        { key: 'paid_at', format: 'text', priority: 2 },
        { key: 'outstanding', format: 'money' },
        { key: 'days_overdue', format: 'count' }
      ],
      // Newest first; a payment with no date at all last (its amount counts in Outstanding above).
      rows: [...rowsOf<Ev>(d.c).filter((r) => r.kind === 'payment' && r.at !== null).reverse(), ...rowsOf<Ev>(d.c).filter((r) => r.kind === 'payment' && r.at === null)]
        .map((r) => ({
          payment_id: r.ref,
          due_date: r.due_date ? date(r.due_date, ctx) : r.paid_at ? '—' : ctx.t('customer.unscheduled'),
          deal_name: r.deal ?? '—',
          amount: r.amount,
          paid_at: date(r.paid_at, ctx),
          outstanding: r.outstanding,
          days_overdue: r.days
        }))
    })
  };
  const activities: TileDef = {
    id: 'customer_activities',
    title: 'customer.activities',
    span: [6, 4],
    queries: (ctx) => ({ c: { ...one, params: { ...one.params, as_of: ctx.state.asOf } } }),
    empty: (d) => !rowsOf<Ev>(d.c).some((r) => r.kind === 'activity'),
    view: (d, ctx) => ({
      kind: 'rows',
      rowKey: 'activity_id',
      columns: [
        { key: 'occurred_at', format: 'text' },
        { key: 'activity_type', format: 'text' },
        { key: 'summary', format: 'text' },
        { key: 'owner_name', format: 'text', priority: 2 },
        { key: 'deal_name', format: 'text', priority: 3 }
      ],
      rows: rowsOf<Ev>(d.c)
        .filter((r) => r.kind === 'activity')
        .reverse()
        .slice(0, 50)
        .map((r) => ({
          activity_id: r.ref,
          occurred_at: formatDateTime(r.at, ctx.locale),
          activity_type: ctx.t(`activity.${r.type ?? 'other'}` as MessageKey),
          summary: r.text ?? '',
          // an author outside the viewer's scope: a neutral label (the API sends no id or name)
          owner_name: personLabel(r.who, ctx.t),
          deal_name: r.deal ?? '—'
        }))
    })
  };
  return {
    id: 'customer',
    title: 'customer.title',
    description: 'customer.desc',
    defaultPeriod: 'all',
    tiles: [kpis, profile, quadrant, won, deals, payments, activities]
  };
}
