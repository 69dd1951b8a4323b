/**
 * The cockpit's wall-screen pages (驾驶舱). `/cockpit?pages=overview,forecast&rotate=30`
 * plays them in turn. They are boards like the others (tiles, queries, drill patches), laid
 * out on a fixed grid that fills a 1080p or 4K screen exactly.
 */
import type { KpiRow, ModelResult } from '$lib/api';
import { formatChange, formatMoney, formatPercent } from '$lib/format';
import { bucketLabel } from './format';
import { addDays, daysBetween } from '../../../models/common/period';
import { commonParams } from './state';
import { kpiCard, kpiRow, orgGroup, orgItems, rowsOf, funnelRows, targetNote } from './tiles';
import type { BoardDef, TileDef } from './types';
import { forecastBand, forecastSummary, trackRecord, waterfall } from './forecast';
import { movementWallTiles } from './movement';

const kpis: TileDef = {
  id: 'kpis',
  title: 'cockpit.kpis',
  area: 'kpis',
  bare: true,
  queries: (ctx) => {
    const year = { ...commonParams(ctx.state, ctx.period), period: 'this_year', from: null, to: null, grain: 'month' };
    return {
      kpis: { model: 'kpis', params: commonParams(ctx.state, ctx.period) },
      won: { model: 'trend', params: { ...year, measure: 'won_amount' } },
      collected: { model: 'trend', params: { ...year, measure: 'collected_amount' } }
    };
  },
  view: (d, ctx) => {
    const spark = (r: typeof d.won) => rowsOf<{ bucket: string; value: number | null }>(r).filter((x) => x.bucket <= (r?.as_of ?? '')).map((x) => x.value);
    const target = (d.kpis?.summary?.target as number | null | undefined) ?? null;
    const weightedOpen = (d.kpis?.summary?.weighted_open as number | undefined) ?? null;
    const forecast = kpiRow(d.kpis, 'weighted_forecast');
    return {
      kind: 'kpis',
      cards: [
        kpiCard(kpiRow(d.kpis, 'won_amount'), 'won_amount', ctx, { spark: spark(d.won) }),
        kpiCard(forecast, 'weighted_forecast', ctx, {
          note: target && forecast?.value !== null && forecast ? ctx.t('kpi.forecast_vs_target', { rate: formatPercent((forecast.value ?? 0) / target, ctx.locale, 0) }) : null,
          foot: weightedOpen !== null ? ctx.t('kpi.pipeline_weighted', { amount: formatMoney(weightedOpen, ctx.locale, ctx.currency) }) : null
        }),
        kpiCard(kpiRow(d.kpis, 'win_rate'), 'win_rate', ctx),
        kpiCard(kpiRow(d.kpis, 'collected_amount'), 'collected_amount', ctx, { spark: spark(d.collected) }),
        kpiCard(kpiRow(d.kpis, 'new_customers'), 'new_customers', ctx)
      ]
    };
  }
};

const funnel: TileDef = {
  id: 'funnel',
  title: 'cockpit.funnel',
  area: 'funnel',
  // The funnel's cohort is the year's: a quarter-old cohort is mostly still in flight.
  queries: (ctx) => ({ funnel: { model: 'funnel', params: { ...commonParams(ctx.state, ctx.period), ...(ctx.state.period || ctx.state.from ? {} : { period: 'this_year' }) } } }),
  subtitle: (d, ctx) =>
    ctx.t('cockpit.funnel_sub2', {
      n: (d.funnel?.n ?? 0).toLocaleString(ctx.locale),
      rate: formatPercent((d.funnel?.summary?.overall_conversion as number | null) ?? null, ctx.locale)
    }),
  view: (d) => ({ kind: 'funnel', rows: funnelRows(d.funnel), patches: [] })
};

/** Won against target this quarter, with the pace mark (the share of the quarter gone by). */
const gauge: TileDef = {
  id: 'attainment',
  title: 'cockpit.attainment',
  area: 'gauge',
  queries: (ctx) => ({ kpis: { model: 'kpis', params: commonParams(ctx.state, ctx.period) } }),
  view: (d, ctx) => {
    const won = kpiRow(d.kpis, 'won_amount');
    const att = kpiRow(d.kpis, 'target_attainment');
    const target = (d.kpis?.summary?.target as number | null | undefined) ?? null;
    const p = d.kpis?.period;
    const asOf = d.kpis?.as_of;
    const pace = p && asOf && p.from <= asOf && asOf < p.to ? (daysBetween(p.from, asOf) + 1) / daysBetween(p.from, p.to) : null;
    return {
      kind: 'gauge',
      value: won?.value ?? null,
      target,
      format: 'money',
      label: ctx.t('cockpit.attainment_label'),
      sub:
        att?.value !== null && att?.value !== undefined && pace !== null
          ? ctx.t('cockpit.pace', { pace: formatPercent(pace, ctx.locale, 0) })
          : targetNote(d.kpis, ctx),
      expected: pace
    };
  }
};

/** Won so far this year, month by month, against last year and the year's target (running totals). */
const trend: TileDef = {
  id: 'trend',
  title: 'cockpit.trend',
  area: 'trend',
  queries: (ctx) => {
    const base = { ...commonParams(ctx.state, ctx.period), period: 'this_year', from: null, to: null, measure: 'won_amount', grain: 'month' };
    return {
      won: { model: 'trend', params: base },
      last: { model: 'trend', params: { ...base, period: 'last_year' } }
    };
  },
  subtitle: (d, ctx) => {
    type T = { bucket: string; cumulative: number | null; target: number | null };
    const cur = rowsOf<T>(d.won).filter((r) => r.bucket <= (d.won?.as_of ?? ''));
    const ytd = cur.at(-1)?.cumulative ?? null;
    const lastYtd = rowsOf<T>(d.last)[cur.length - 1]?.cumulative ?? null;
    const target = rowsOf<T>(d.won).reduce((s, r) => s + (r.target ?? 0), 0);
    const sub = ctx.t('cockpit.trend_sub', {
      ytd: formatMoney(ytd, ctx.locale, ctx.currency),
      vs: lastYtd ? formatChange(ytd !== null ? (ytd - lastYtd) / lastYtd : null, 'relative', ctx.locale) : '—'
    });
    return target ? `${sub} · ${ctx.t('cockpit.trend_target', { target: formatMoney(target, ctx.locale, ctx.currency) })}` : sub;
  },
  view: (d, ctx) => {
    type T = { bucket: string; cumulative: number | null; target: number | null };
    const cur = rowsOf<T>(d.won);
    const prev = rowsOf<T>(d.last);
    const asOf = d.won?.as_of ?? '';
    let run = 0;
    const targets = cur.map((r) => (r.target === null ? null : (run += r.target)));
    return {
      kind: 'line',
      format: 'money',
      categories: cur.map((r) => ({ key: r.bucket, label: bucketLabel(r.bucket, 'month', ctx.locale) })),
      series: [
        { key: 'this', label: ctx.t('cockpit.this_year'), values: cur.map((r) => (r.bucket <= asOf ? r.cumulative : null)), area: true },
        { key: 'last', label: ctx.t('cockpit.last_year'), values: prev.map((r) => r.cumulative), dashed: true, color: 'var(--text-faint)' },
        ...(targets.some((v) => v) ? [{ key: 'target', label: ctx.t('forecast.target'), values: targets, dashed: true, color: 'var(--accent-3)' }] : [])
      ]
    };
  }
};

type Leader = { group_key: string | null; group_label: string | null; team_label: string | null; won_amount: number; target: number | null; attainment: number | null; win_rate: number | null };

const topReps: TileDef = {
  id: 'top_reps',
  title: 'cockpit.top_reps',
  area: 'top',
  queries: (ctx) => ({ lb: { model: 'leaderboard', params: { ...commonParams(ctx.state, ctx.period), group_by: 'owner', rank_by: 'won_amount', limit: 10 } } }),
  view: (d) => ({
    kind: 'bars',
    format: 'money',
    rank: true,
    columns: 2,
    items: rowsOf<Leader>(d.lb)
      .slice(0, 10)
      .map((r) => ({
        key: r.group_key ?? '∅',
        label: r.group_label ?? '—',
        value: r.won_amount,
        tone: r.attainment !== null && r.attainment >= 1 ? 'good' : 'accent'
      }))
  })
};

const byRegion: TileDef = {
  id: 'won_by_region',
  title: 'cockpit.won_by_region',
  area: 'region',
  queries: (ctx) => ({ lb: { model: 'leaderboard', params: { ...commonParams(ctx.state, ctx.period), group_by: orgGroup(ctx).group_by } } }),
  view: (d, ctx) => {
    const rows = rowsOf<Leader>(d.lb).sort((a, b) => b.won_amount - a.won_amount).slice(0, 8);
    return {
      kind: 'bars',
      format: 'money',
      items: orgItems(rows, ctx, (r) => r.won_amount, (r) => (r.attainment !== null ? ctx.t('cockpit.of_target', { rate: formatPercent(r.attainment, ctx.locale, 0) }) : null)).map((item, i) => ({
        ...item,
        target: rows[i].target,
        tone: rows[i].attainment !== null && rows[i].attainment! >= 1 ? 'good' : rows[i].attainment !== null && rows[i].attainment! < 0.7 ? 'warn' : 'accent'
      }))
    };
  }
};

const overdue: TileDef = {
  id: 'overdue',
  title: 'cockpit.overdue',
  area: 'overdue',
  queries: (ctx) => ({
    kpis: { model: 'kpis', params: commonParams(ctx.state, ctx.period) },
    list: { model: 'payment_list', params: { ...commonParams(ctx.state, ctx.period), period: 'all', from: null, to: null, state: 'overdue', sort: 'outstanding', dir: 'desc', limit: 3 } }
  }),
  view: (d, ctx) => {
    type P = { payment_id: string; customer_name: string | null; outstanding: number; days_overdue: number | null };
    const od = kpiRow(d.kpis, 'overdue_amount');
    return {
      kind: 'bars',
      format: 'money',
      items: rowsOf<P>(d.list).map((r) => ({
        key: r.payment_id,
        label: (r.customer_name ?? '—').replace(/有限公司$/, ''),
        value: r.outstanding,
        sub: ctx.t('deal.overdue_days', { days: (r.days_overdue ?? 0).toLocaleString(ctx.locale) }),
        tone: (r.days_overdue ?? 0) > 90 ? 'bad' : 'warn'
      })),
      note: od ? `${formatMoney(od.value, ctx.locale, ctx.currency)}` : null
    };
  },
  subtitle: (d, ctx) => {
    const od = kpiRow(d.kpis, 'overdue_amount') as KpiRow | undefined;
    if (!od) return null;
    return ctx.t('cockpit.overdue_sub', {
      amount: formatMoney(od.value, ctx.locale, ctx.currency),
      n: od.n.toLocaleString(ctx.locale),
      total: Number((d.list as ModelResult | undefined)?.summary?.total ?? 0).toLocaleString(ctx.locale)
    });
  }
};

export const wallOverview: BoardDef = {
  id: 'wall-overview',
  title: 'cockpit.page.overview',
  description: 'cockpit.page.overview_desc',
  defaultPeriod: 'this_quarter',
  wall: {
    columns: '1.3fr 1.45fr 1fr',
    rows: 'auto 1fr 1fr',
    areas: ['kpis kpis kpis', 'funnel trend gauge', 'top region overdue']
  },
  tiles: [kpis, funnel, trend, gauge, topReps, byRegion, overdue]
};

/**
 * The forecast page: what the quarter will bring with its P10–P90 band, how far past forecasts
 * could be trusted (the track record, with the calls beside it), by category and by region.
 */
export const wallForecast: BoardDef = {
  id: 'wall-forecast',
  title: 'track.page_title',
  description: 'track.page_desc',
  defaultPeriod: 'this_quarter',
  wall: {
    // The track record (headline and four quarters) takes the right half at full height; the
    // regions' attainment is on the overview page (won by region against target).
    columns: '1fr 1.05fr',
    rows: 'auto 1fr 1fr',
    areas: ['kpis kpis', 'band track', 'categories track']
  },
  tiles: [
    { ...forecastSummary, area: 'kpis' },
    { ...forecastBand, area: 'band' },
    { ...trackRecord, area: 'track' },
    { ...waterfall, area: 'categories' }
  ]
};

/** The movement page: how this quarter's pipeline changed since it started, the deals pushed most, and the deals at risk. */
export const wallMovement: BoardDef = {
  id: 'wall-movement',
  title: 'cockpit.page.movement',
  description: 'cockpit.page.movement_desc',
  defaultPeriod: 'this_quarter',
  wall: {
    columns: '1.7fr 1fr',
    rows: 'auto 1fr 1fr',
    areas: ['kpis kpis', 'flow pushed', 'flow risk']
  },
  tiles: [movementWallTiles.kpis, movementWallTiles.flow, movementWallTiles.pushed, movementWallTiles.risk]
};

export const WALL_PAGES: Record<string, BoardDef> = { overview: wallOverview, forecast: wallForecast, movement: wallMovement };

/** `YYYY-MM-DD` a day before, for "to" shown inclusively. */
export const lastDay = (to: string) => addDays(to, -1);
