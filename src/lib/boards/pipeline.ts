/**
 * 销售漏斗与商机 — the pipeline board: the funnel of the period's new deals, stage conversion
 * by team, where new pipeline comes from, stalled deals, and the deals behind every number.
 */
import type { FunnelRow, ModelResult } from '$lib/api';
import { formatMoney, formatPercent } from '$lib/format';
import { commonParams } from './state';
import { dealsTable, funnelRows, kpiCard, kpiRow, orgGroup, orgItems, orgTitle, rowsOf } from './tiles';
import type { BoardDef, TileDef } from './types';
import { atRiskTile, flowDealsTile, flowTile } from './movement';

const totals = (r: ModelResult | undefined) => ({ n: Number(r?.summary?.total ?? 0), amount: Number(r?.summary?.total_amount ?? 0) });

const summary: TileDef = {
  id: 'summary',
  title: 'tile.pipeline_summary',
  span: [12, 1],
  bare: true,
  queries: (ctx) => ({
    kpis: { model: 'kpis', params: commonParams(ctx.state, ctx.period) },
    open: { model: 'deals', params: { ...commonParams(ctx.state, ctx.period), period: 'all', from: null, to: null, status: 'open', limit: 1 } },
    stalled: { model: 'deals', params: { ...commonParams(ctx.state, ctx.period), period: 'all', from: null, to: null, status: 'open', stalled: 'true', limit: 1 } }
  }),
  view: (d, ctx) => {
    const open = totals(d.open);
    const stalled = totals(d.stalled);
    return {
      kind: 'kpis',
      cards: [
        kpiCard(kpiRow(d.kpis, 'new_opportunities'), 'new_opportunities', ctx, {
          patch: { refine: { date_field: ['created_at'] }, replaceRefine: true }
        }),
        {
          id: 'open_pipeline',
          label: ctx.t('kpi.open_pipeline'),
          value: open.amount,
          format: 'money',
          change: null,
          changeKind: 'relative',
          goodWhen: 'up',
          n: open.n,
          note: ctx.t('kpi.open_deals', { n: open.n.toLocaleString(ctx.locale) }),
          patch: { refine: { status: ['open'], date_field: ['none'] }, replaceRefine: true }
        },
        kpiCard(kpiRow(d.kpis, 'weighted_forecast'), 'weighted_forecast', ctx, {
          note: ctx.t('kpi.weighted_note'),
          // Won in the period (close date) + open expected to close in it: the deals the figure sums.
          patch: { refine: { status: ['open', 'won'], date_field: ['forecast_date'] }, replaceRefine: true }
        }),
        {
          id: 'stalled',
          label: ctx.t('kpi.stalled'),
          value: stalled.n,
          format: 'count',
          change: null,
          changeKind: 'relative',
          goodWhen: 'down',
          n: open.n,
          note: ctx.t('kpi.stalled_note', { amount: formatMoney(stalled.amount, ctx.locale, ctx.currency), share: formatPercent(open.n ? stalled.n / open.n : null, ctx.locale, 0) }),
          patch: { refine: { status: ['open'], stalled: ['true'], date_field: ['none'] }, replaceRefine: true }
        }
      ]
    };
  }
};

type FlowRow = { group_key: string | null; stage: string; stage_index: number; kind: 'open' | 'won'; entries: number; entered_amount: number; flow_conversion: number | null; n: number };

/** Cohort (the period's new deals, 队列法) or flow (entries and exits dated in the period, 流入/流出). */
const funnel: TileDef = {
  id: 'funnel',
  title: 'tile.funnel',
  span: [5, 4],
  modes: [
    { key: 'cohort', label: 'tile.funnel_cohort' },
    { key: 'flow', label: 'tile.funnel_flow' }
  ],
  queries: (ctx) => ({
    funnel: { model: 'funnel', params: { ...commonParams(ctx.state, ctx.period), method: ctx.state.tables.funnel?.view === 'flow' ? 'flow' : null } }
  }),
  subtitle: (d, ctx) =>
    d.funnel?.params.method === 'flow'
      ? ctx.t('tile.funnel_flow_sub', { n: (d.funnel?.n ?? 0).toLocaleString(ctx.locale) })
      : ctx.t('tile.funnel_sub', {
          n: (d.funnel?.n ?? 0).toLocaleString(ctx.locale),
          rate: formatPercent((d.funnel?.summary?.overall_conversion as number | null) ?? null, ctx.locale)
        }),
  empty: (d) => (d.funnel?.n ?? 0) === 0,
  view: (d) => {
    if (d.funnel?.params.method === 'flow') {
      // Flow: the bar is what entered each stage in the period; the step is exits forward / entries.
      const rows = rowsOf<FlowRow>(d.funnel).filter((r) => r.group_key === null);
      return {
        kind: 'funnel',
        rows: rows.map((r) => ({
          group_key: null,
          group_label: null,
          stage: r.stage,
          stage_index: r.stage_index,
          kind: r.kind,
          reached: r.entries,
          reached_amount: r.entered_amount,
          step_conversion: r.kind === 'open' ? r.flow_conversion : null,
          conversion_from_first: null,
          open_now: 0,
          lost_at: 0,
          median_days_to_next: null,
          n: r.n
        })),
        patches: []
      };
    }
    const rows = funnelRows(d.funnel);
    return {
      kind: 'funnel',
      rows,
      patches: rows.map((r) => ({ refine: { reached: [r.stage], date_field: ['created_at'] }, replaceRefine: true }))
    };
  }
};

const conversion: TileDef = {
  id: 'conversion',
  title: 'tile.conversion_by_org',
  span: [7, 4],
  queries: (ctx) => ({ funnel: { model: 'funnel', params: { ...commonParams(ctx.state, ctx.period), group_by: orgGroup(ctx).group_by } } }),
  subtitle: (_d, ctx) => ctx.t(orgTitle(ctx, 'tile.by_team', 'tile.by_rep')),
  empty: (d) => (d.funnel?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<FunnelRow>(d.funnel);
    const groups = [...new Map(rows.map((r) => [r.group_key, r])).values()].slice(0, 12);
    const stages = [...new Map(rows.filter((r) => r.kind === 'open').map((r) => [r.stage, r])).values()];
    const { patch } = orgGroup(ctx);
    return {
      kind: 'heatmap',
      format: 'percent',
      rows: groups.map((g) => ({ key: g.group_key ?? '∅', label: g.group_label ?? '—', patch: g.group_key ? patch(g.group_key) : undefined })),
      cols: [
        ...stages.map((s) => ({ key: s.stage, label: `${s.stage} →` })),
        { key: 'overall', label: ctx.t('tile.overall_conversion') }
      ],
      values: groups.map((g) => {
        const mine = rows.filter((r) => r.group_key === g.group_key);
        const first = mine.find((r) => r.kind === 'open');
        const won = mine.find((r) => r.kind === 'won');
        return [
          ...stages.map((s) => mine.find((r) => r.stage === s.stage)?.step_conversion ?? null),
          first && won && first.reached > 0 ? won.reached / first.reached : null
        ];
      }),
      n: groups.map((g) => {
        const mine = rows.filter((r) => r.group_key === g.group_key);
        return [...stages.map((s) => mine.find((r) => r.stage === s.stage)?.reached ?? null), mine.find((r) => r.kind === 'open')?.reached ?? null];
      })
    };
  }
};

const sources: TileDef = {
  id: 'new_by_org',
  title: 'tile.new_by_org',
  span: [5, 4],
  queries: (ctx) => ({ funnel: { model: 'funnel', params: { ...commonParams(ctx.state, ctx.period), group_by: orgGroup(ctx).group_by } } }),
  subtitle: (_d, ctx) => ctx.t(orgTitle(ctx, 'tile.by_team_drill', 'tile.by_rep_drill')),
  empty: (d) => (d.funnel?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const firsts = rowsOf<FunnelRow>(d.funnel).filter((r) => r.stage_index === 1);
    return {
      kind: 'bars',
      format: 'money',
      items: orgItems(
        firsts.sort((a, b) => b.reached_amount - a.reached_amount).slice(0, 12),
        ctx,
        (r) => r.reached_amount,
        (r) => ctx.t('unit.n_deals', { n: r.reached.toLocaleString(ctx.locale) })
      )
    };
  }
};

const stalled = dealsTable('stalled', 'tile.stalled', {
  columns: ['name', 'owner_name', 'stage', 'days_idle', 'amount', 'last_activity_at'],
  base: () => ({ period: 'all', from: null, to: null, status: 'open', stalled: 'true' }),
  sort: 'days_idle',
  pageSize: 10,
  span: [7, 4],
  refined: false
});

const deals = dealsTable('deals', 'tile.deals', {
  columns: ['name', 'customer_name', 'owner_name', 'team_name', 'stage', 'amount', 'weighted_amount', 'expected_close_date', 'created_at', 'days_idle', 'risk_flags'],
  base: () => ({ date_field: 'created_at' }),
  riskFilter: true
});

export const pipeline: BoardDef = {
  id: 'pipeline',
  title: 'board.pipeline',
  description: 'board.pipeline_desc',
  defaultPeriod: 'this_year',
  tiles: [summary, funnel, conversion, sources, stalled, flowTile, atRiskTile, flowDealsTile, deals]
};
