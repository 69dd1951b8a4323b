/**
 * 销售预测 — the forecast board: what the period will bring (won so far plus open deals
 * weighted by probability), how it builds up by forecast category, attainment and coverage
 * per team, and the stage probabilities behind it (configured against learned).
 */
import { formatMoney, formatPercent } from '$lib/format';
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
          refine: { status: ['open', 'won'], date_field: ['expected_close_date'] },
          replaceRefine: true
        }),
        c('closed_won', f?.closed_won ?? null, 'money', f?.closed_won_n ?? 0, f?.attainment != null ? ctx.t('kpi.attainment_of', { rate: formatPercent(f.attainment, ctx.locale, 0) }) : null, {
          refine: { status: ['won'], date_field: ['closed_at'] },
          replaceRefine: true
        }),
        c('weighted_pipeline', f?.weighted_pipeline ?? null, 'money', f?.open_n ?? 0, ctx.t('kpi.of_open', { amount: formatMoney(f?.open_pipeline ?? null, ctx.locale, ctx.currency) }), openInPeriod()),
        c('gap', f?.gap ?? null, 'money', f?.closed_won_n ?? 0, f?.target != null ? ctx.t('kpi.target_of', { target: formatMoney(f.target, ctx.locale, ctx.currency) }) : ctx.t('kpi.no_target')),
        c('coverage', f?.coverage ?? null, 'multiple', f?.open_n ?? 0, f ? (f.coverage === null ? ctx.t('tile.target_met') : ctx.t('kpi.coverage_note', { open: formatMoney(f.open_pipeline, ctx.locale, ctx.currency), gap: formatMoney(f.gap, ctx.locale, ctx.currency) })) : null, openInPeriod())
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
  tiles: [forecastSummary, waterfall, attainmentByOrg, stages, deals]
};
