/**
 * Pipeline movement tiles (管道变动): the waterfall from the starting to the ending pipeline
 * (`pipeline_flow`), each bar opening its deals with before/after values
 * (`pipeline_flow_deals`, through the `flow` refinement), and the cockpit's movement page.
 */
import type { ModelResult, ParamValue } from '$lib/api';
import { formatMoney } from '$lib/format';
import type { MessageKey } from '$lib/i18n';
import { FLOW_BUCKETS, FLOW_PARTS, type FlowBucket } from '../../../models/common/flow-buckets';
import { commonParams, type ViewState } from './state';
import { DEAL_COLUMNS, rowsOf } from './tiles';
import type { ColumnDef, QueryContext, TableSpec, TileDef, ViewContext } from './types';

type FlowRow = { bucket: FlowBucket; value: number; deals: number };
type FlowDeal = { opportunity_id: string; name: string | null; change_value: number; after_close_date: string | null; before_close_date: string | null; customer_name: string | null };

/** The bucket a click on the waterfall selected (the drill's `flow` refinement), default the start. */
export function selectedBucket(s: ViewState): FlowBucket {
  const v = s.refine.flow?.[0];
  return v && (FLOW_BUCKETS as readonly string[]).includes(v) ? (v as FlowBucket) : 'start';
}

export const flowQuery = (ctx: QueryContext, extra: Record<string, ParamValue> = {}) => ({
  model: 'pipeline_flow',
  params: { ...commonParams(ctx.state, ctx.period), ...extra }
});

const money = (v: number | null | undefined, ctx: ViewContext) => formatMoney(v ?? null, ctx.locale, ctx.currency);
const signed = (v: number, ctx: ViewContext) => `${v > 0 ? '+' : v < 0 ? '−' : ''}${money(Math.abs(v), ctx)}`;
const lastDay = (to: string) => {
  const d = new Date(`${to}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
};

export const flowSubtitle = (r: ModelResult | undefined, ctx: ViewContext) => {
  const s = r?.summary as { start?: number; end?: number; change?: number; start_at?: string; end_at?: string } | undefined;
  if (!s || s.start_at === undefined || s.end_at === undefined) return null;
  return ctx.t('tile.movement_sub', {
    start: s.start_at,
    end: s.end_at > s.start_at ? lastDay(s.end_at) : s.start_at,
    from: money(s.start, ctx),
    to: money(s.end, ctx),
    change: signed(s.change ?? 0, ctx)
  });
};

/** The waterfall: start, the eight parts, end; every bar a drill into its deals. */
export const flowTile: TileDef = {
  id: 'movement',
  title: 'tile.movement',
  span: [7, 4],
  queries: (ctx) => ({ f: flowQuery(ctx) }),
  subtitle: (d, ctx) => flowSubtitle(d.f, ctx),
  empty: (d) => (d.f?.n ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<FlowRow>(d.f);
    const by = new Map(rows.map((r) => [r.bucket, r]));
    const step = (b: FlowBucket, total = false) => ({
      key: b,
      label: ctx.t(`movement.short.${b}` as MessageKey),
      value: by.get(b)?.value ?? 0,
      total,
      patch: { refine: { flow: [b] }, replaceRefine: true }
    });
    return {
      kind: 'waterfall',
      format: 'money',
      steps: [step('start', true), ...FLOW_PARTS.map((b) => step(b)), step('end', true)]
    };
  }
};

const FLOW_COLUMNS: ColumnDef[] = [
  DEAL_COLUMNS.name,
  { ...DEAL_COLUMNS.customer_name, sortable: true },
  DEAL_COLUMNS.owner_name,
  { key: 'change_value', format: 'money' },
  { key: 'before_stage', format: 'stage', sortable: false, priority: 2 },
  { key: 'after_stage', format: 'stage', sortable: false, priority: 2 },
  { key: 'before_amount', format: 'money', priority: 2 },
  { key: 'after_amount', format: 'money', priority: 2 },
  { key: 'before_close_date', format: 'date', priority: 3 },
  { key: 'after_close_date', format: 'date', priority: 3 }
];

/** The deals behind the selected bar, with their values before and after. */
export const flowDealsTile: TileDef = (() => {
  const table: TableSpec = {
    model: 'pipeline_flow_deals',
    params: (ctx) => ({ ...commonParams(ctx.state, ctx.period), bucket: selectedBucket(ctx.state) }),
    columns: FLOW_COLUMNS,
    pageSize: 10,
    defaultSort: 'abs_value',
    defaultDir: 'desc',
    rowKey: 'opportunity_id',
    dealOf: (r) => (typeof r.opportunity_id === 'string' ? r.opportunity_id : null)
  };
  return {
    id: 'movement_deals',
    title: 'tile.movement_deals',
    span: [12, 5],
    table,
    subtitle: (d, ctx) =>
      d.rows
        ? ctx.t('tile.movement_deals_sub', {
            bucket: ctx.t(`movement.${selectedBucket(ctx.state)}` as MessageKey),
            n: Number(d.rows.summary?.total ?? 0).toLocaleString(ctx.locale),
            amount: signed(Number(d.rows.summary?.total_value ?? 0), ctx)
          })
        : null
  };
})();

/** A top list of one bucket's deals (the cockpit page). */
function topDeals(id: string, title: MessageKey, bucket: FlowBucket, area: string): TileDef {
  return {
    id,
    title,
    area,
    queries: (ctx) => ({ d: { model: 'pipeline_flow_deals', params: { ...commonParams(ctx.state, ctx.period), bucket, sort: 'abs_value', dir: 'desc', limit: 3 } } }),
    subtitle: (d, ctx) =>
      d.d ? ctx.t('movement.top_sub', { n: Number(d.d.summary?.total ?? 0).toLocaleString(ctx.locale), amount: signed(Number(d.d.summary?.total_value ?? 0), ctx) }) : null,
    empty: (d) => (d.d?.rows.length ?? 0) === 0,
    view: (d) => ({
      kind: 'bars',
      format: 'money',
      items: rowsOf<FlowDeal>(d.d).map((r) => ({
        key: r.opportunity_id,
        label: r.name ?? r.opportunity_id,
        value: Math.abs(r.change_value),
        sub: bucket === 'pushed_out' ? `${r.before_close_date?.slice(5) ?? '—'} → ${r.after_close_date?.slice(5) ?? '—'}` : (r.customer_name ?? null),
        tone: bucket === 'pushed_out' ? 'warn' : 'good'
      }))
    })
  };
}

/** The movement KPI strip: start, end, net change, and the largest outflows. */
const flowKpis: TileDef = {
  id: 'movement_kpis',
  title: 'tile.movement',
  area: 'kpis',
  bare: true,
  queries: (ctx) => ({ f: flowQuery(ctx) }),
  view: (d, ctx) => {
    const by = new Map(rowsOf<FlowRow>(d.f).map((r) => [r.bucket, r]));
    const card = (id: FlowBucket, value: number, n: number, goodWhen: 'up' | 'down', note: string | null = null) => ({
      id,
      label: ctx.t(`movement.${id}` as MessageKey),
      value: id === 'start' || id === 'end' ? value : Math.abs(value),
      format: 'money' as const,
      change: null,
      changeKind: 'relative' as const,
      goodWhen,
      n,
      note,
      patch: { refine: { flow: [id] }, replaceRefine: true }
    });
    const v = (b: FlowBucket) => by.get(b)?.value ?? 0;
    const n = (b: FlowBucket) => by.get(b)?.deals ?? 0;
    return {
      kind: 'kpis',
      cards: [
        card('start', v('start'), n('start'), 'up'),
        { ...card('new', v('new') + v('pulled_in'), n('new') + n('pulled_in'), 'up'), label: `${ctx.t('movement.new')} + ${ctx.t('movement.pulled_in')}` },
        card('won', v('won'), n('won'), 'up'),
        card('pushed_out', v('pushed_out'), n('pushed_out'), 'down'),
        card('end', v('end'), n('end'), 'up', `${ctx.t('movement.change')} ${signed(v('end') - v('start'), ctx)}`)
      ]
    };
  }
};

type RiskRow = { flag: string; deals: number; amount: number; share: number | null; n: number };

/** Open deals per risk flag; a click lists them (the `risk` refinement on the deals table). */
export const atRiskTile: TileDef = {
  id: 'at_risk',
  title: 'tile.at_risk',
  span: [5, 4],
  queries: (ctx) => ({ r: { model: 'deal_risk', params: { ...commonParams(ctx.state, ctx.period), period: 'all', from: null, to: null } } }),
  subtitle: (d, ctx) => {
    const any = rowsOf<RiskRow>(d.r).find((r) => r.flag === 'any');
    return any ? ctx.t('tile.at_risk_sub', { n: any.deals.toLocaleString(ctx.locale), amount: money(any.amount, ctx) }) : null;
  },
  empty: (d) => (d.r?.n ?? 0) === 0,
  view: (d, ctx) => ({
    kind: 'bars',
    format: 'money',
    items: rowsOf<RiskRow>(d.r)
      .filter((r) => r.flag !== 'any')
      .map((r) => ({
        key: r.flag,
        label: ctx.t(`risk.${r.flag}` as MessageKey),
        value: r.amount,
        sub: ctx.t('unit.n_deals', { n: r.deals.toLocaleString(ctx.locale) }),
        tone: r.flag === 'past_close' || r.flag === 'shrinking' ? ('bad' as const) : ('warn' as const),
        selected: ctx.state.refine.risk?.[0] === r.flag,
        patch: { refine: { status: ['open'], risk: [r.flag], date_field: ['none'] }, replaceRefine: true }
      }))
  })
};

/** The cockpit's movement page (`/cockpit?pages=movement`). */
export const movementWallTiles = {
  kpis: flowKpis,
  flow: { ...flowTile, area: 'flow' } as TileDef,
  pushed: topDeals('top_pushed', 'movement.top_pushed', 'pushed_out', 'pushed'),
  fresh: topDeals('top_new', 'movement.top_new', 'new', 'fresh'),
  // On the wall, the three flags holding the most amount (five rows do not fit a 768-pixel screen's half height).
  risk: {
    ...atRiskTile,
    area: 'risk',
    view: (d, ctx) => {
      const v = atRiskTile.view!(d, ctx);
      return v.kind === 'bars' ? { ...v, items: [...v.items].sort((a, b) => (b.value ?? 0) - (a.value ?? 0)).slice(0, 3) } : v;
    }
  } as TileDef
};
