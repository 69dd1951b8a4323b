/**
 * 销售预测 — the forecast board: what the period will bring (won so far plus open deals
 * weighted by probability), how it builds up by forecast category, attainment and coverage
 * per team, and the stage probabilities behind it (configured against learned).
 */
import { formatChange, formatMoney, formatPercent } from '$lib/format';
import { commonParams } from './state';
import { dealsTable, orgGroup, orgItems, orgTitle, rowsOf } from './tiles';
import type { BoardDef, KpiCardView, QueryContext, TileDef, ViewContext } from './types';

export type ForecastRow = {
  group_key: string | null;
  group_label: string | null;
  closed_won: number;
  closed_won_n: number;
  weighted_pipeline: number;
  forecast: number;
  open_pipeline: number;
  open_n: number;
  commit: number;
  best_case: number;
  pipeline: number;
  omitted: number;
  target: number | null;
  attainment: number | null;
  gap: number | null;
  coverage: number | null;
  n: number;
};
type BandRow = ForecastRow & { p10: number | null; p50: number | null; p90: number | null };
type AccuracyRow = { bucket: string; label: string; method: string; forecast: number | null; actual: number; p10: number | null; p90: number | null; covered: boolean | null };
type AccuracySummary = { wape: Record<string, number | null>; bias: Record<string, number | null>; coverage: Record<string, { covered: number; of: number } | null>; periods: Record<string, number> };
type StageRow = { stage: string; stage_index: number; configured: number; learned: number; won: number; lost: number; open_n: number; open_amount: number };

export const forecastQuery = (ctx: QueryContext, extra: Record<string, string | null> = {}) => ({
  model: 'forecast',
  params: { ...commonParams(ctx.state, ctx.period), ...extra }
});

/** Open deals expected to close in the period (optionally of some categories). */
const openInPeriod = (category?: string[]) => ({ refine: { status: ['open'], date_field: ['expected_close_date'], ...(category ? { category } : {}) }, replaceRefine: true });

export const coverageText = (v: number | null, ctx: ViewContext) =>
  v === null ? ctx.t('tile.target_met') : ctx.t('tile.coverage_x', { x: v.toLocaleString(ctx.locale, { maximumFractionDigits: 1 }) });

export const forecastSummary: TileDef = {
  id: 'summary',
  title: 'tile.forecast_summary',
  span: [12, 1],
  bare: true,
  queries: (ctx) => ({ f: forecastQuery(ctx) }),
  view: (d, ctx) => {
    const f = rowsOf<ForecastRow>(d.f)[0];
    const c = (id: string, value: number | null, format: KpiCardView['format'], n: number, note: string | null, patch?: KpiCardView['patch']): KpiCardView => ({
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
        c('forecast', f?.forecast ?? null, 'money', f?.n ?? 0, f?.target ? ctx.t('kpi.forecast_vs_target', { rate: formatPercent(f.forecast / f.target, ctx.locale, 0) }) : null, {
          // won deals by their close date, open ones by their expected close (as the figure counts them)
          refine: { status: ['open', 'won'], date_field: ['forecast_date'] },
          replaceRefine: true
        }),
        c('closed_won', f?.closed_won ?? null, 'money', f?.closed_won_n ?? 0, f?.attainment != null ? ctx.t('kpi.attainment_of', { rate: formatPercent(f.attainment, ctx.locale, 0) }) : null, {
          refine: { status: ['won'], date_field: ['closed_at'] },
          replaceRefine: true
        }),
        c('weighted_pipeline', f?.weighted_pipeline ?? null, 'money', f?.open_n ?? 0, ctx.t('kpi.of_open', { amount: formatMoney(f?.open_pipeline ?? null, ctx.locale, ctx.currency) }), openInPeriod()),
        // target − won: the click lists the won deals (as the closed-won card's), and the card says
        // the subtraction so the gap can be rebuilt from the list and the target.
        c(
          'gap',
          f?.gap ?? null,
          'money',
          f?.closed_won_n ?? 0,
          f?.target != null ? ctx.t('kpi.gap_parts', { target: formatMoney(f.target, ctx.locale, ctx.currency), won: formatMoney(f.closed_won, ctx.locale, ctx.currency) }) : ctx.t('kpi.no_target'),
          { refine: { status: ['won'], date_field: ['closed_at'] }, replaceRefine: true }
        ),
        c('coverage', f?.coverage ?? null, 'multiple', f?.open_n ?? 0, f ? (f.coverage === null ? ctx.t('tile.target_met') : ctx.t('kpi.coverage_note', { open: formatMoney(f.open_pipeline, ctx.locale, ctx.currency), gap: formatMoney(f.gap, ctx.locale, ctx.currency) })) : null, openInPeriod())
      ]
    };
  }
};

/**
 * The period's forecast with its P10–P90 band (the statistical method's Monte Carlo: each
 * deal's chance of closing in the period, the new deals still to come, a shared period shock),
 * on one scale with what is already won and the target.
 */
export const forecastBand: TileDef = {
  id: 'forecast_band',
  title: 'tile.forecast_band',
  span: [5, 3],
  // The Monte Carlo learns from weekly past states: seconds, not milliseconds (lazy, cached).
  lazy: true,
  queries: (ctx) => ({ f: forecastQuery(ctx, { probabilities: 'statistical' }) }),
  subtitle: (d, ctx) => {
    const band = d.f?.summary?.band as { simulations?: number } | null | undefined;
    return band ? ctx.t('tile.forecast_band_sub', { n: (band.simulations ?? 0).toLocaleString(ctx.locale) }) : null;
  },
  view: (d, ctx) => {
    const f = rowsOf<BandRow & { new_flow: number }>(d.f)[0];
    const m = (v: number | null | undefined) => formatMoney(v ?? null, ctx.locale, ctx.currency);
    return {
      kind: 'band',
      p50: f?.p50 ?? null,
      p10: f?.p10 ?? null,
      p90: f?.p90 ?? null,
      won: f?.closed_won ?? null,
      target: f?.target ?? null,
      format: 'money',
      // What the simulated mean is made of (the statistical forecast's parts).
      note: f ? ctx.t('band.parts', { mean: m(f.forecast), won: m(f.closed_won), open: m(f.weighted_pipeline), new: m(f.new_flow) }) : null
    };
  }
};

/** How many past quarters the track record backtests (each is a whole point-in-time forecast: bounded). */
export const TRACK_PERIODS = 4;

/**
 * The forecast's track record: for the last quarters that have ended, the forecast the
 * statistical method made on each quarter's first day (rebuilt from history, no hindsight) with
 * its band, against what was won — WAPE, bias, how many quarters fell inside the band — and the
 * forecast call submitted before each quarter began beside it (the commit), scored the same way.
 * A backtest is slow at scale: the tile is lazy (never holds the page) and its result is cached
 * by the server until the data change.
 */
export const trackRecord: TileDef = {
  id: 'track_record',
  title: 'tile.track_record',
  span: [7, 3],
  lazy: true,
  queries: (ctx) => ({
    a: {
      model: 'forecast',
      params: {
        ...commonParams(ctx.state, ctx.period),
        period: 'all',
        from: null,
        to: null,
        view: 'accuracy',
        grain: 'quarter',
        last: TRACK_PERIODS,
        method: ['statistical', 'call_commit']
      }
    }
  }),
  subtitle: (d, ctx) => ctx.t('tile.track_record_sub', { n: new Set(rowsOf<AccuracyRow>(d.a).map((r) => r.bucket)).size }),
  view: (d, ctx) => {
    const rows = rowsOf<AccuracyRow>(d.a);
    const s = d.a?.summary as AccuracySummary | undefined;
    const calls = new Map(rows.filter((r) => r.method === 'call_commit').map((r) => [r.bucket, r.forecast]));
    const periods = rows
      .filter((r) => r.method === 'statistical')
      .map((r) => ({ key: r.bucket, label: r.label, actual: r.actual, forecast: r.forecast, p10: r.p10, p90: r.p90, covered: r.covered, call: calls.get(r.bucket) ?? null }));
    const wape = s?.wape.statistical ?? null;
    const bias = s?.bias.statistical ?? null;
    const cov = s?.coverage.statistical ?? null;
    const callWape = s?.wape.call_commit ?? null;
    const tone = (v: number | null, good: number, warn: number) => (v === null ? undefined : v <= good ? ('good' as const) : v <= warn ? ('warn' as const) : ('bad' as const));
    return {
      kind: 'track',
      format: 'money',
      empty: ctx.t('track.none'),
      periods,
      stats: [
        { key: 'wape', label: ctx.t('track.wape'), value: formatPercent(wape, ctx.locale, 0), tone: tone(wape, 0.2, 0.35) },
        { key: 'bias', label: ctx.t('track.bias'), value: formatChange(bias, 'relative', ctx.locale), tone: tone(bias === null ? null : Math.abs(bias), 0.1, 0.25) },
        {
          key: 'in_band',
          label: ctx.t('track.in_band'),
          value: cov ? ctx.t('track.in_band_value', { k: cov.covered, n: cov.of }) : '—',
          tone: cov && cov.of ? (cov.covered / cov.of >= 0.7 ? 'good' : cov.covered / cov.of >= 0.5 ? 'warn' : 'bad') : undefined
        },
        { key: 'calls_wape', label: ctx.t('track.calls_wape'), value: formatPercent(callWape, ctx.locale, 0), tone: tone(callWape, 0.2, 0.35) }
      ]
    };
  }
};

/** Won → + commit → + best case → + pipeline: the categories roll up (Salesforce). */
export const waterfall: TileDef = {
  id: 'categories',
  title: 'tile.forecast_categories',
  span: [7, 4],
  queries: (ctx) => ({ f: forecastQuery(ctx) }),
  subtitle: (d, ctx) => {
    const f = rowsOf<ForecastRow>(d.f)[0];
    // The bars are unweighted amounts by category (their total is the pipeline total); the
    // weighted forecast is named as such beside it, never as the sum the bars draw.
    return f
      ? ctx.t('truth.waterfall_line', {
          total: formatMoney(f.pipeline, ctx.locale, ctx.currency),
          forecast: formatMoney(f.forecast, ctx.locale, ctx.currency),
          target: formatMoney(f.target, ctx.locale, ctx.currency)
        })
      : null;
  },
  view: (d, ctx) => {
    const f = rowsOf<ForecastRow>(d.f)[0];
    if (!f) return { kind: 'waterfall', steps: [], format: 'money' };
    return {
      kind: 'waterfall',
      format: 'money',
      steps: [
        { key: 'won', label: ctx.t('forecast.closed_won'), value: f.closed_won, total: true, patch: { refine: { status: ['won'], date_field: ['closed_at'] }, replaceRefine: true } },
        { key: 'commit', label: ctx.t('forecast.commit'), value: f.commit - f.closed_won, patch: openInPeriod(['commit']) },
        { key: 'best_case', label: ctx.t('forecast.best_case'), value: f.best_case - f.commit, patch: openInPeriod(['best_case']) },
        { key: 'pipeline', label: ctx.t('forecast.pipeline'), value: f.pipeline - f.best_case, patch: openInPeriod(['pipeline']) },
        { key: 'total', label: ctx.t('forecast.total'), value: f.pipeline, total: true },
        ...(f.target ? [{ key: 'target', label: ctx.t('forecast.target'), value: f.target, total: true, tone: 'target' as const }] : [])
      ]
    };
  }
};

export const attainmentByOrg: TileDef = {
  id: 'attainment_by_org',
  title: 'tile.attainment_by_org',
  span: [5, 4],
  queries: (ctx) => ({ f: forecastQuery(ctx, { group_by: orgGroup(ctx).group_by }) }),
  subtitle: (_d, ctx) => ctx.t(orgTitle(ctx, 'tile.by_team_drill', 'tile.by_rep_drill')),
  empty: (d) => (d.f?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<ForecastRow>(d.f).sort((a, b) => b.forecast - a.forecast);
    const items = orgItems(rows, ctx, (r) => r.closed_won, (r) =>
      r.target
        ? ctx.t('tile.att_cov', { att: formatPercent(r.attainment, ctx.locale, 0), cov: coverageText(r.coverage, ctx) })
        : ctx.t('tile.forecast_only', { forecast: formatMoney(r.forecast, ctx.locale, ctx.currency) })
    );
    return {
      kind: 'bars',
      format: 'money',
      items: items.map((item, i) => {
        const r = rows[i];
        return { ...item, target: r.target, tone: r.attainment === null ? 'accent' : r.attainment >= 1 ? 'good' : r.attainment >= 0.7 ? 'accent' : 'warn' };
      })
    };
  }
};

const stages: TileDef = {
  id: 'stage_probabilities',
  title: 'tile.stage_probabilities',
  span: [5, 4],
  queries: (ctx) => ({ s: forecastQuery(ctx, { view: 'stages' }) }),
  subtitle: (_d, ctx) => ctx.t('tile.stage_probabilities_sub'),
  view: (d, ctx) => {
    const rows = rowsOf<StageRow>(d.s);
    return {
      kind: 'columns',
      format: 'percent',
      stacked: false,
      categories: rows.map((r) => ({ key: r.stage, label: r.stage, patch: { refine: { status: ['open'], stage: [r.stage], date_field: ['expected_close_date'] }, replaceRefine: true } })),
      series: [
        { key: 'configured', label: ctx.t('forecast.configured'), values: rows.map((r) => r.configured), color: 'var(--c2)' },
        { key: 'learned', label: ctx.t('forecast.learned'), values: rows.map((r) => r.learned), color: 'var(--c1)' }
      ]
    };
  }
};

const deals = dealsTable('deals', 'tile.forecast_deals', {
  columns: ['name', 'customer_name', 'owner_name', 'stage', 'amount', 'probability', 'weighted_amount', 'expected_close_date', 'days_idle'],
  base: () => ({ status: ['open'], date_field: 'expected_close_date' }),
  sort: 'weighted_amount',
  span: [7, 5]
});

export const forecast: BoardDef = {
  id: 'forecast',
  title: 'board.forecast',
  description: 'board.forecast_desc',
  defaultPeriod: 'this_quarter',
  tiles: [forecastSummary, forecastBand, trackRecord, waterfall, attainmentByOrg, stages, deals]
};
