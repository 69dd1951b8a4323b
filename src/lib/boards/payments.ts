/**
 * 回款分析 — the payments board: collected against what fell due, by team; receivables by
 * age; what falls due next; and the overdue instalments themselves.
 */
import { formatDate, formatMoney, formatPercent } from '$lib/format';
import { commonParams } from './state';
import { bucketLabel } from './format';
import { amountText, cappedSubtitle, dealsTable, orgGroup, orgTitle, paymentsTable, rowsOf } from './tiles';
import type { ModelResult } from '$lib/api';
import type { BoardDef, KpiCardView, QueryContext, TileDef } from './types';

export type PaymentSummary = {
  group_key: string | null;
  group_label: string | null;
  contracted: number;
  contracted_n: number;
  collected: number;
  collected_n: number;
  due: number;
  due_n: number;
  collection_rate: number | null;
  overdue: number;
  overdue_n: number;
  outstanding: number;
  receivables: number;
  receivables_n: number;
  receivables_at: string;
  dso: number | null;
};
export type Aging = { bucket: string; amount: number; customers: number; n: number };
type Upcoming = { bucket: string; label: string; amount: number; n: number };

export const paymentsQuery = (ctx: QueryContext, extra: Record<string, string | null> = {}) => ({
  model: 'payments',
  params: { ...commonParams(ctx.state, ctx.period), ...extra }
});

/** The days DSO multiplies by: from the period's first day to the day receivables are measured on, both included. */
export function dsoDays(r: ModelResult | undefined, s: PaymentSummary): number {
  if (!r) return 0;
  return Math.round((Date.parse(s.receivables_at) - Date.parse(r.period.from)) / 86_400_000) + 1;
}

const summary: TileDef = {
  id: 'summary',
  title: 'tile.payments_summary',
  span: [12, 1],
  bare: true,
  queries: (ctx) => ({ s: paymentsQuery(ctx) }),
  view: (d, ctx) => {
    const s = rowsOf<PaymentSummary>(d.s)[0];
    const money = (v: number) => formatMoney(v, ctx.locale, ctx.currency);
    const c = (id: string, value: number | null, format: KpiCardView['format'], n: number, note: string | null, goodWhen: 'up' | 'down' = 'up', patch?: KpiCardView['patch']): KpiCardView => ({
      id,
      label: ctx.t(`kpi.${id}` as never),
      value,
      format,
      change: null,
      changeKind: 'relative',
      goodWhen,
      n,
      note,
      patch
    });
    return {
      kind: 'kpis',
      cards: [
        {
          ...c('collected_amount', s?.collected ?? null, 'money', s?.collected_n ?? 0, s ? ctx.t('kpi.due_in_period', { due: formatMoney(s.due, ctx.locale, ctx.currency) }) : null),
          // Its payments are the 回款明细 tile, which follows the period and filters only: a click
          // takes the eye there rather than narrowing another table.
          focus: 'received'
        },
        {
          // A ratio of two listings: collected (回款明细) over what fell due in the period (本期应收明细),
          // both totals on the card so the rate can be rebuilt from the two lists. The click opens
          // the denominator's list; the numerator's is the collected card's.
          ...c('collection_rate', s?.collection_rate ?? null, 'percent', s?.due_n ?? 0, s ? ctx.t('kpi.collection_rate_parts', { collected: money(s.collected), due: money(s.due) }) : ctx.t('kpi.collection_rate_note')),
          focus: 'due'
        },
        {
          ...c('overdue_amount', s?.overdue ?? null, 'money', s?.overdue_n ?? 0, s ? ctx.t('kpi.outstanding', { amount: formatMoney(s.outstanding, ctx.locale, ctx.currency) }) : null, 'down', {
            refine: { state: ['overdue'] },
            replaceRefine: true
          }),
          focus: 'overdue'
        },
        {
          // receivables at the period end ÷ contracted × days: the click opens the receivables
          // themselves (期末应收明细, the numerator; n = their count); the denominator's list is the
          // contracted card's. The card says the three parts so the figure can be rebuilt.
          ...c('dso', s?.dso ?? null, 'days', s?.receivables_n ?? 0, s ? ctx.t('kpi.dso_parts', { receivables: money(s.receivables), contracted: money(s.contracted), days: dsoDays(d.s, s).toLocaleString(ctx.locale) }) : null, 'down'),
          focus: 'receivables_end'
        },
        // Its deals are the 本期签约 tile (won in the period by close date: Σ amount = the card).
        { ...c('contracted', s?.contracted ?? null, 'money', s?.contracted_n ?? 0, null), focus: 'contracted' }
      ]
    };
  }
};

const collectedVsDue: TileDef = {
  id: 'collected_vs_due',
  title: 'tile.collected_vs_due',
  span: [7, 4],
  queries: (ctx) => ({ s: paymentsQuery(ctx, { group_by: orgGroup(ctx).group_by }) }),
  subtitle: (_d, ctx) => ctx.t(orgTitle(ctx, 'tile.by_team_drill', 'tile.by_rep_drill')),
  empty: (d) => (d.s?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<PaymentSummary>(d.s)
      .filter((r) => r.due > 0 || r.collected > 0)
      .sort((a, b) => b.due - a.due)
      .slice(0, 12);
    const { patch } = orgGroup(ctx);
    return {
      kind: 'columns',
      format: 'money',
      stacked: false,
      categories: rows.map((r) => ({ key: r.group_key ?? '∅', label: r.group_label ?? '—', patch: r.group_key ? patch(r.group_key) : undefined })),
      series: [
        { key: 'due', label: ctx.t('pay.due'), values: rows.map((r) => r.due), color: 'var(--c2)' },
        { key: 'collected', label: ctx.t('pay.collected'), values: rows.map((r) => r.collected), color: 'var(--c3)' }
      ],
      line: { key: 'rate', label: ctx.t('kpi.collection_rate'), values: rows.map((r) => r.collection_rate), format: 'percent', color: 'var(--accent-3)' }
    };
  }
};

export const aging: TileDef = {
  id: 'aging',
  title: 'tile.aging',
  span: [5, 4],
  queries: (ctx) => ({ a: paymentsQuery(ctx, { view: 'aging' }) }),
  subtitle: (d, ctx) => {
    const rows = rowsOf<Aging>(d.a);
    const overdue = rows.filter((r) => r.bucket !== 'current').reduce((s, r) => s + r.amount, 0);
    const total = rows.reduce((s, r) => s + r.amount, 0);
    return ctx.t('tile.aging_sub', { overdue: formatMoney(overdue, ctx.locale, ctx.currency), share: formatPercent(total ? overdue / total : null, ctx.locale, 0) });
  },
  view: (d, ctx) => ({
    kind: 'bars',
    format: 'money',
    items: rowsOf<Aging>(d.a).map((r) => ({
      key: r.bucket,
      label: ctx.t(`aging.${r.bucket}` as never),
      value: r.amount,
      sub: ctx.t('tile.n_payments', { n: r.n.toLocaleString(ctx.locale), c: r.customers.toLocaleString(ctx.locale) }),
      tone: r.bucket === 'current' ? 'accent' : r.bucket === '1_30' ? 'warn' : 'bad',
      patch: r.bucket === 'current' ? { refine: { state: ['open'], aging: [] }, replaceRefine: true } : { refine: { state: ['overdue'], aging: [r.bucket] }, replaceRefine: true },
      selected: (ctx.state.refine.aging ?? []).includes(r.bucket)
    }))
  })
};

export const upcoming: TileDef = {
  id: 'upcoming',
  title: 'tile.upcoming',
  span: [5, 4],
  queries: (ctx) => ({ u: paymentsQuery(ctx, { view: 'upcoming', grain: 'week' }) }),
  empty: (d) => (d.u?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<Upcoming>(d.u);
    return {
      kind: 'columns',
      format: 'money',
      stacked: false,
      categories: rows.map((r) => ({ key: r.bucket, label: bucketLabel(r.bucket, 'week', ctx.locale) })),
      series: [{ key: 'due', label: ctx.t('pay.upcoming'), values: rows.map((r) => r.amount), color: 'var(--c1)' }]
    };
  }
};

// Outstanding, not the instalment's amount: the list is what is owed, and nine columns ran past
// the tile at 1080p and 4K (the aging column was cut).
const overdueList = paymentsTable('overdue', 'tile.overdue_list', {
  columns: ['customer_name', 'deal_name', 'owner_name', 'team_name', 'due_date', 'outstanding', 'days_overdue', 'aging'],
  base: (ctx) => ({ period: 'all', from: null, to: null, ...(ctx.state.refine.state?.length ? {} : { state: 'overdue' }) }),
  sort: 'days_overdue',
  span: [7, 5]
});

/**
 * 回款明细 — the payments received in the period (the collected card's figure, row by row: Σ
 * paid_amount = the card). Its own tile with `received=true` fixed, so a token limited to the
 * overdue list cannot use it to list received payments, and the aging and overdue clicks (state
 * refinements) do not narrow it.
 */
export const received = paymentsTable('received', 'tile.received_list', {
  columns: ['customer_name', 'deal_name', 'owner_name', 'team_name', 'paid_at', 'paid_amount', 'due_date'],
  base: () => ({ received: true }),
  refined: false,
  total: 'paid',
  sort: 'paid_at',
  span: [12, 5]
});
// What was received and when: kept on narrow screens, where the shared columns hide them first.
received.table!.columns = received.table!.columns.map((c) => (c.key === 'paid_at' || c.key === 'paid_amount' ? { ...c, priority: 1 } : c));

/**
 * 本期签约 — the deals won in the period by their close date: the contracted card's figure row by
 * row (Σ amount = the card, count = its n; metrics.md). Its own tile with `status=won` and
 * `date_field=closed_at` fixed and no refinements, so the payments board's clicks (state, aging)
 * do not narrow it and a token limited to another tile of the board gains no deals listing.
 */
export const contractedDeals = dealsTable('contracted', 'tile.contracted_deals', {
  columns: ['name', 'customer_name', 'owner_name', 'team_name', 'amount', 'closed_at'],
  base: () => ({ status: ['won'], date_field: 'closed_at' }),
  refined: false,
  sort: 'closed_at',
  span: [12, 5]
});

/**
 * 本期应收明细 — the payments falling due in the period (by due date): the collection rate's
 * denominator row by row (Σ amount = the payments model's `due`, count = `due_n`). Its own tile
 * with no state/aging refinement, so the overdue and aging clicks do not narrow it.
 */
export const dueList = paymentsTable('due', 'tile.due_list', {
  columns: ['customer_name', 'deal_name', 'owner_name', 'team_name', 'due_date', 'amount', 'paid_at', 'paid_amount'],
  base: () => ({ date_field: 'due_date' }),
  refined: false,
  total: 'amount',
  sort: 'due_date',
  span: [12, 5]
});
dueList.table!.columns = dueList.table!.columns.map((c) => (c.key === 'due_date' || c.key === 'amount' ? { ...c, priority: 1 } : c));

/**
 * 期末应收明细 — the receivables outstanding at the period end as they stood that day
 * (`payment_list?at_period_end=true`): DSO's numerator row by row (Σ outstanding = the payments
 * model's `receivables`, count = `receivables_n`). Its own tile with the flag fixed and no
 * state/aging refinement (those are as of the report date), so a token for another payments
 * tile cannot list it, and its token cannot turn it into another listing.
 */
export const receivablesEnd = paymentsTable('receivables_end', 'tile.receivables_end', {
  columns: ['customer_name', 'deal_name', 'owner_name', 'team_name', 'due_date', 'amount', 'outstanding'],
  base: () => ({ at_period_end: true }),
  refined: false,
  sort: 'outstanding',
  span: [12, 5]
});
receivablesEnd.table!.columns = receivablesEnd.table!.columns.map((c) => (c.key === 'due_date' || c.key === 'outstanding' ? { ...c, priority: 1 } : c));
// The day the receivables are measured on belongs in the subtitle: it is not the report date.
receivablesEnd.subtitle = (data, ctx) =>
  data.rows
    ? (cappedSubtitle(data.rows, ctx, 'payments') ??
      ctx.t('table.summary_receivables_end', {
        date: formatDate(String(data.rows.summary?.outstanding_at ?? ''), ctx.locale),
        n: Number(data.rows.summary?.total ?? 0).toLocaleString(ctx.locale),
        amount: amountText((data.rows.summary?.total_outstanding as number) ?? null, ctx)
      }))
    : null;

export const payments: BoardDef = {
  id: 'payments',
  title: 'board.payments',
  description: 'board.payments_desc',
  defaultPeriod: 'this_quarter',
  tiles: [summary, collectedVsDue, aging, overdueList, upcoming, received, dueList, receivablesEnd, contractedDeals]
};
