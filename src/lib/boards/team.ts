/**
 * 团队业绩 — the team board: the leaderboard of reps (or teams), ranked by the measure the
 * manager picks, with attainment against each one's own target; won by team with targets;
 * and how each team's wins build up month by month.
 */
import { formatMoney, formatPercent } from '$lib/format';
import { commonParams } from './state';
import { bucketLabel, spansYears } from './format';
import { dealsTable, orgGroup, orgItems, orgTitle, rowsOf, targetNote } from './tiles';
import type { BoardDef, ColumnDef, KpiCardView, TileDef } from './types';

export type LeaderRow = {
  rank: number;
  group_key: string | null;
  group_label: string | null;
  team_id: string | null;
  team_label: string | null;
  won_amount: number;
  won_count: number;
  lost_count: number;
  win_rate: number | null;
  win_rate_n: number;
  collected_amount: number;
  new_customers: number;
  activities: number;
  target: number | null;
  attainment: number | null;
  n: number;
};

export const RANK_MEASURES = ['won_amount', 'attainment', 'win_rate', 'collected_amount', 'new_customers', 'activities'] as const;

const wonDeals = { refine: { status: ['won'], date_field: ['closed_at'] }, replaceRefine: true };

const summary: TileDef = {
  id: 'summary',
  title: 'tile.team_summary',
  span: [12, 1],
  bare: true,
  queries: (ctx) => ({
    kpis: { model: 'kpis', params: commonParams(ctx.state, ctx.period) },
    reps: { model: 'leaderboard', params: { ...commonParams(ctx.state, ctx.period), group_by: 'owner' } }
  }),
  view: (d, ctx) => {
    const reps = rowsOf<LeaderRow>(d.reps);
    const withTarget = reps.filter((r) => r.target);
    const onTrack = withTarget.filter((r) => (r.attainment ?? 0) >= 1).length;
    const kpi = (m: string) => rowsOf<{ measure: string; value: number | null; change: number | null; change_kind: 'relative' | 'points'; n: number }>(d.kpis).find((r) => r.measure === m);
    const card = (id: string, value: number | null, format: KpiCardView['format'], n: number, note: string | null, change: ReturnType<typeof kpi> = undefined): KpiCardView => ({
      id,
      label: ctx.t(`kpi.${id}` as never),
      value,
      format,
      change: change?.change ?? null,
      changeKind: change?.change_kind ?? 'relative',
      goodWhen: 'up',
      n,
      note
    });
    const won = kpi('won_amount');
    const att = kpi('target_attainment');
    return {
      kind: 'kpis',
      cards: [
        // Won and attainment (won over the target named in the foot): the won deals in the deals table.
        { ...card('won_amount', won?.value ?? null, 'money', won?.n ?? 0, null, won), patch: wonDeals, focus: 'deals' },
        // Whose target it is (her own, the team's, a region's, or none and why) under the figure.
        { ...card('target_attainment', att?.value ?? null, 'percent', att?.n ?? 0, targetNote(d.kpis, ctx), att), foot: targetNote(d.kpis, ctx), patch: wonDeals, focus: 'deals' },
        // Counts over the reps: the leaderboard beside lists each rep with these figures.
        { ...card('reps_on_target', onTrack, 'count', withTarget.length, ctx.t('kpi.of_reps', { n: withTarget.length.toLocaleString(ctx.locale) })), focus: 'leaderboard' },
        { ...card('active_reps', reps.filter((r) => r.won_count > 0).length, 'count', reps.length, ctx.t('kpi.of_reps', { n: reps.length.toLocaleString(ctx.locale) })), focus: 'leaderboard' },
        { ...card('activities', reps.reduce((s, r) => s + r.activities, 0), 'count', reps.length, null), focus: 'leaderboard' }
      ]
    };
  }
};

const columns: ColumnDef[] = [
  { key: 'rank', format: 'count', sortable: false },
  { key: 'group_label', format: 'text' },
  { key: 'team_label', format: 'text', priority: 3 },
  { key: 'won_amount', format: 'money' },
  { key: 'target', format: 'money', priority: 2 },
  { key: 'attainment', format: 'percent' },
  { key: 'win_rate', format: 'percent' },
  { key: 'win_rate_n', format: 'count', priority: 3 },
  { key: 'collected_amount', format: 'money', priority: 2 },
  { key: 'new_customers', format: 'count', priority: 3 },
  { key: 'activities', format: 'count', priority: 3 }
];

const leaderboard: TileDef = {
  id: 'leaderboard',
  title: 'tile.leaderboard',
  span: [7, 6],
  sortKeys: RANK_MEASURES,
  queries: (ctx) => {
    const sort = ctx.state.tables.leaderboard?.sort;
    const rank = (RANK_MEASURES as readonly string[]).includes(sort ?? '') ? sort! : 'won_amount';
    return { lb: { model: 'leaderboard', params: { ...commonParams(ctx.state, ctx.period), group_by: 'owner', rank_by: rank } } };
  },
  subtitle: (_d, ctx) => ctx.t('tile.leaderboard_sub'),
  empty: (d) => (d.lb?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const sort = ctx.state.tables.leaderboard?.sort;
    return {
      kind: 'rows',
      rowKey: 'group_key',
      columns,
      rows: rowsOf<LeaderRow>(d.lb) as unknown as Record<string, unknown>[],
      selected: ctx.state.filters.owner[0] ?? null,
      rowPatch: (r) => (r.group_key ? { filters: { owner: [String(r.group_key)] }, team: (r.team_id as string) ?? ctx.state.team } : undefined),
      sort: { key: (RANK_MEASURES as readonly string[]).includes(sort ?? '') ? sort! : 'won_amount', keys: [...RANK_MEASURES], table: 'leaderboard' }
    };
  }
};

const byTeam: TileDef = {
  id: 'won_by_org',
  title: 'tile.won_by_org',
  span: [5, 3],
  queries: (ctx) => ({ lb: { model: 'leaderboard', params: { ...commonParams(ctx.state, ctx.period), group_by: orgGroup(ctx).group_by } } }),
  subtitle: (_d, ctx) => ctx.t(orgTitle(ctx, 'tile.by_team_drill', 'tile.by_rep_drill')),
  empty: (d) => (d.lb?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    const rows = rowsOf<LeaderRow>(d.lb).slice(0, 12);
    return {
      kind: 'bars',
      format: 'money',
      items: orgItems(rows, ctx, (r) => r.won_amount, (r) => (r.target ? ctx.t('tile.att_of', { att: formatPercent(r.attainment, ctx.locale, 0), target: formatMoney(r.target, ctx.locale, ctx.currency) }) : null)).map(
        (item, i) => ({ ...item, target: rows[i].target, tone: rows[i].attainment === null ? 'accent' : rows[i].attainment! >= 1 ? 'good' : rows[i].attainment! >= 0.7 ? 'accent' : 'warn' })
      )
    };
  }
};

const monthly: TileDef = {
  id: 'won_by_month',
  title: 'tile.won_by_month',
  span: [5, 3],
  queries: (ctx) => ({
    t: { model: 'trend', params: { ...commonParams(ctx.state, ctx.period), ...(ctx.state.period || ctx.state.from ? {} : { period: 'this_year' }), measure: 'won_amount', grain: 'month', group_by: orgGroup(ctx).group_by } }
  }),
  empty: (d) => (d.t?.rows.length ?? 0) === 0,
  view: (d, ctx) => {
    type T = { group_key: string | null; group_label: string | null; bucket: string; label: string; value: number | null };
    const rows = rowsOf<T>(d.t).filter((r) => r.bucket <= (d.t?.as_of ?? ''));
    const multi = spansYears(rows.map((r) => r.bucket));
    const buckets = [...new Map(rows.map((r) => [r.bucket, bucketLabel(r.bucket, 'month', ctx.locale, multi)])).entries()];
    const totals = new Map<string, number>();
    for (const r of rows) totals.set(r.group_key ?? '', (totals.get(r.group_key ?? '') ?? 0) + (r.value ?? 0));
    const groups = [...new Map(rows.map((r) => [r.group_key, r.group_label])).entries()].sort((a, b) => (totals.get(b[0] ?? '') ?? 0) - (totals.get(a[0] ?? '') ?? 0)).slice(0, 6);
    return {
      kind: 'columns',
      format: 'money',
      stacked: true,
      categories: buckets.map(([b, label]) => ({ key: b, label })),
      series: groups.map(([g, label]) => ({
        key: g ?? '∅',
        label: label ?? '—',
        values: buckets.map(([b]) => rows.find((r) => r.bucket === b && r.group_key === g)?.value ?? 0)
      }))
    };
  }
};

/**
 * The deals behind the board (what "click a rep for their deals" opens): won or lost in the
 * period by close date, for the selection (team, and the rep a leaderboard click selects).
 */
const deals = dealsTable('deals', 'truth.team_deals', {
  columns: ['name', 'customer_name', 'owner_name', 'stage', 'status', 'amount', 'closed_at', 'expected_close_date'],
  base: () => ({ date_field: 'closed_at', status: ['won', 'lost'] }),
  sort: 'amount',
  // 15 rows fill the tile at 1080p and 4K (10 left its lower half empty)
  pageSize: 15
});

export const team: BoardDef = {
  id: 'team',
  title: 'board.team',
  description: 'board.team_desc',
  defaultPeriod: 'this_quarter',
  tiles: [summary, leaderboard, byTeam, monthly, deals]
};
