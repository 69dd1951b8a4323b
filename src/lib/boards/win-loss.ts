/**
 * 赢单与输单 — the win/loss board: win rate by count and by value over time, why deals are
 * lost, against whom and on which products, by team, and how long winning takes.
 */
import { commonParams, type StatePatch } from './state';
import { bucketLabel, spansYears } from './format';
import { dealsTable, kpiCard, kpiRow, orgGroup, orgItems, orgTitle, rowsOf } from './tiles';
import type { BoardDef, KpiCardView, QueryContext, TileDef, ViewContext } from './types';

type Outcome = {
  bucket: string | null;
  bucket_label: string | null;
  group_key: string | null;
  group_label: string | null;
  won: number;
  lost: number;
  won_amount: number;
  lost_amount: number;
  win_rate: number | null;
  win_rate_value: number | null;
  n: number;
};
type Reason = { reason: string | null; lost: number; lost_amount: number; share: number | null };
type Cycle = { group_key: string | null; n: number; median_days: number | null; p75_days: number | null; mean_days: number | null };

const wl = (ctx: QueryContext, extra: Record<string, string | null> = {}) => ({ model: 'win_loss', params: { ...commonParams(ctx.state, ctx.period), ...extra } });
/** Clicking a closed-deal number lists the deals closed in the period. */
const closed = { status: ['won', 'lost'], date_field: ['closed_at'] };

const summary: TileDef = {
  id: 'summary',
  title: 'tile.win_loss_summary',
  span: [12, 1],
  bare: true,
  queries: (ctx) => ({
    wl: wl(ctx),
    kpis: { model: 'kpis', params: commonParams(ctx.state, ctx.period) },
    cycle: { model: 'cycle_time', params: commonParams(ctx.state, ctx.period) }
  }),
  view: (d, ctx) => {
    const s = rowsOf<Outcome>(d.wl)[0];
    const c = rowsOf<Cycle>(d.cycle)[0];
    const card = (id: string, value: number | null, format: KpiCardView['format'], n: number, patch: KpiCardView['patch'], note: string | null = null): KpiCardView => ({
      id,
      label: ctx.t(`kpi.${id}` as never),
      value,
      format,
      change: null,
      changeKind: 'relative',
      goodWhen: 'up',
      n,
      note,
      patch
    });
    return {
      kind: 'kpis',
      cards: [
        kpiCard(kpiRow(d.kpis, 'win_rate'), 'win_rate', ctx, { patch: { refine: closed, replaceRefine: true } }),
        card('win_rate_value', s?.win_rate_value ?? null, 'percent', s?.n ?? 0, { refine: closed, replaceRefine: true }, ctx.t('kpi.win_rate_value_note')),
        card('won_deals', s?.won ?? 0, 'count', s?.won ?? 0, { refine: { status: ['won'], date_field: ['closed_at'] }, replaceRefine: true }, fmtMoney(s?.won_amount, ctx)),
        card('lost_deals', s?.lost ?? 0, 'count', s?.lost ?? 0, { refine: { status: ['lost'], date_field: ['closed_at'] }, replaceRefine: true }, fmtMoney(s?.lost_amount, ctx)),
        {
          ...card('cycle_median', c?.median_days ?? null, 'days', c?.n ?? 0, { refine: { status: ['won'], date_field: ['closed_at'] }, replaceRefine: true }, c?.p75_days != null ? ctx.t('kpi.cycle_p75', { days: Math.round(c.p75_days).toLocaleString(ctx.locale) }) : null),
          // a median, not a sum: say so under the figure (the listed won deals' close − creation days)
          foot: ctx.t('truth.median_of_listed')
        }
      ]
    };
  }
};

function fmtMoney(v: number | undefined, ctx: ViewContext) {
  if (v === undefined) return null;
  return new Intl.NumberFormat(ctx.locale, { style: 'currency', currency: ctx.currency, currencyDisplay: 'narrowSymbol', notation: 'compact', maximumFractionDigits: 2 }).format(v);
}

const trend: TileDef = {
  id: 'win_rate_trend',
  title: 'tile.win_rate_trend',
  span: [7, 4],
  queries: (ctx) => ({ series: wl(ctx, { view: 'series', grain: ctx.state.period === 'this_quarter' || ctx.state.period === 'last_quarter' || ctx.state.period === 'this_month' || ctx.state.period === 'last_month' || ctx.state.period === 'last_30_days' ? 'week' : 'month' }) }),
  empty: (d) => (d.series?.n ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<Outcome>(d.series).filter((r) => !r.bucket || r.bucket <= (d.series?.as_of ?? ''));
    const grain = (d.series?.params.grain as 'week' | 'month') ?? 'month';
    const multi = spansYears(rows.map((r) => r.bucket ?? ''));
    return {
      kind: 'columns',
      format: 'count',
      stacked: true,
      categories: rows.map((r) => ({ key: r.bucket ?? '', label: r.bucket ? bucketLabel(r.bucket, grain, ctx.locale, multi) : (r.bucket_label ?? '') })),
      series: [
        { key: 'won', label: ctx.t('status.won'), values: rows.map((r) => r.won), color: 'var(--c3)' },
        { key: 'lost', label: ctx.t('status.lost'), values: rows.map((r) => r.lost), color: 'var(--c5)' }
      ],
      line: { key: 'rate', label: ctx.t('kpi.win_rate'), values: rows.map((r) => r.win_rate), format: 'percent', color: 'var(--accent-3)' }
    };
  }
};

const reasons: TileDef = {
  id: 'loss_reasons',
  title: 'tile.loss_reasons',
  span: [5, 4],
  queries: (ctx) => ({ reasons: wl(ctx, { view: 'loss_reasons' }) }),
  empty: (d) => (d.reasons?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<Reason>(d.reasons).sort((a, b) => b.lost - a.lost);
    const total = rows.reduce((s, r) => s + r.lost, 0);
    return {
      kind: 'donut',
      format: 'count',
      center: { value: total.toLocaleString(ctx.locale), label: ctx.t('tile.lost_deals') },
      items: rows.map((r) => ({
        key: r.reason ?? '∅',
        label: r.reason ?? ctx.t('tile.no_reason'),
        value: r.lost,
        patch: r.reason ? { refine: { status: ['lost'], date_field: ['closed_at'], loss_reason: [r.reason] }, replaceRefine: true } : undefined,
        selected: !!r.reason && (ctx.state.refine.loss_reason ?? []).includes(r.reason)
      }))
    };
  }
};

function byDim(id: string, title: TileDef['title'], dim: 'competitor' | 'product', patch: (key: string) => StatePatch): TileDef {
  return {
    id,
    title,
    span: [4, 4],
    queries: (ctx) => ({ wl: wl(ctx, { group_by: dim }) }),
    empty: (d) => (d.wl?.rows.length ?? 0) === 0,
    view: (d, ctx) => ({
      kind: 'bars',
      format: 'percent',
      items: rowsOf<Outcome>(d.wl)
        .filter((r) => r.n > 0)
        .sort((a, b) => b.n - a.n)
        .slice(0, 10)
        .map((r) => ({
          key: r.group_key ?? '∅',
          label: r.group_label ?? r.group_key ?? ctx.t(dim === 'competitor' ? 'tile.no_competitor' : 'tile.no_product'),
          value: r.win_rate,
          sub: ctx.t('tile.won_lost', { won: r.won.toLocaleString(ctx.locale), lost: r.lost.toLocaleString(ctx.locale) }),
          tone: (r.win_rate ?? 0) >= 0.3 ? 'good' : (r.win_rate ?? 0) >= 0.2 ? 'accent' : 'bad',
          patch: r.group_key ? patch(r.group_key) : undefined
        }))
    })
  };
}

const competitors = byDim('by_competitor', 'tile.by_competitor', 'competitor', (key) => ({ refine: { ...closed, competitor: [key] }, replaceRefine: true }));
const products = byDim('by_product', 'tile.by_product', 'product', (key) => ({ filters: { product: [key] } }));

const byOrg: TileDef = {
  id: 'win_rate_by_org',
  title: 'tile.win_rate_by_org',
  span: [4, 4],
  queries: (ctx) => ({ wl: wl(ctx, { group_by: orgGroup(ctx).group_by }) }),
  subtitle: (_d, ctx) => ctx.t(orgTitle(ctx, 'tile.by_team_drill', 'tile.by_rep_drill')),
  empty: (d) => (d.wl?.rows.length ?? 0) === 0,
  view: (d, ctx) => ({
    kind: 'bars',
    format: 'percent',
    items: orgItems(
      rowsOf<Outcome>(d.wl)
        .filter((r) => r.n > 0)
        .sort((a, b) => (b.win_rate ?? -1) - (a.win_rate ?? -1)),
      ctx,
      (r) => r.win_rate,
      (r) => ctx.t('tile.won_of', { won: r.won.toLocaleString(ctx.locale), n: r.n.toLocaleString(ctx.locale) })
    )
  })
};

const deals = dealsTable('deals', 'tile.closed_deals', {
  columns: ['name', 'customer_name', 'owner_name', 'stage', 'amount', 'closed_at', 'loss_reason', 'competitor', 'product'],
  base: () => ({ status: ['won', 'lost'], date_field: 'closed_at' }),
  sort: 'closed_at'
});

export const winLoss: BoardDef = {
  id: 'win-loss',
  title: 'board.win_loss',
  description: 'board.win_loss_desc',
  defaultPeriod: 'this_year',
  tiles: [summary, trend, reasons, byOrg, competitors, products, deals]
};
