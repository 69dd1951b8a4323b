/**
 * Every card of every board against the rows its click opens, through the boards' own
 * definitions and a real server's HTTP API (issue 12): for each board's summary cards, for the
 * company, a region, a team and a rep over several periods, the card is built exactly as the
 * page builds it (the summary tile's calls, then its view), the click's state is applied (its
 * patch, and the tile it brings into view), that tile's listing is fetched as the page fetches
 * it — every page of it — and the figure is recomputed from the rows: a sum, a count, or the
 * ratio of two sums (each from its own listing), a target less a sum, or a median of the rows —
 * and the text on the card that says how (a ratio's two totals, the gap's subtraction, the
 * median's foot) is checked against the rows. A card without a drill, or whose figure cannot be
 * rebuilt from rows (a projection), must be named below with what its screen says instead.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { BOARDS } from '$lib/boards/registry';
import { tableQuery, tileQueries } from '$lib/boards/load';
import { applyPatch, parseState, type ViewState } from '$lib/boards/state';
import { buildOrg, type Org } from '$lib/boards/org';
import { translator } from '$lib/i18n';
import type { ModelResult } from '$lib/api';
import { formatMoney } from '$lib/format';
import type { BoardDef, KpiCardView, TileDef } from '$lib/boards/types';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');

type Row = Record<string, unknown>;
type Listing = { rows: Row[]; summary: Record<string, unknown> };

function url(model: string, params: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
  }
  return `${base}/api/models/${model}?${q}`;
}
async function get(model: string, params: Record<string, unknown>): Promise<ModelResult> {
  const res = await fetch(url(model, params));
  const body = await res.json();
  expect(res.status, `${url(model, params)}: ${body.error}`).toBe(200);
  return body as ModelResult;
}
/** Every row of a table tile's listing in the state (pages of 1,000, as an export would list them). */
async function listing(tile: TileDef, state: ViewState, org: Org, board: BoardDef): Promise<Listing> {
  const q = tableQuery(tile.id, tile.table!, { state, org, period: board.defaultPeriod });
  const rows: Row[] = [];
  let summary: Record<string, unknown> = {};
  for (;;) {
    const r = await get(q.model, { ...q.params, limit: 1000, offset: rows.length });
    summary = r.summary ?? {};
    rows.push(...(r.rows as Row[]));
    if (rows.length >= Number(summary.total ?? 0) || r.rows.length === 0) break;
  }
  expect(rows.length, `${board.id}/${tile.id}: every row listed`).toBe(Number(summary.total));
  return { rows, summary };
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);
const sum = (rows: Row[], k: string) => rows.reduce((s, r) => s + num(r[k]), 0);
const count = (rows: Row[], f: (r: Row) => boolean) => rows.filter(f).length;
const ratio = (a: number, b: number) => (b ? a / b : null);
/** Σ amount × probability of open deals plus won deals in full: the weighted forecast. */
const weighted = (rows: Row[]) => rows.reduce((s, r) => s + (r.status === 'won' ? num(r.amount) : num(r.amount) * num(r.probability)), 0);

/**
 * For each drillable card: the figure recomputed from its drill's rows (and, where the figure
 * also divides by something outside the rows — a target — the card's own results).
 */
type Check = (
  rows: Row[],
  summary: Record<string, unknown>,
  card: KpiCardView,
  results: Record<string, ModelResult>,
  /** Another table tile of the board, listed in full in the same state (a ratio's other part). */
  other: (tileId: string) => Promise<Listing>
) => number | null | Promise<number | null>;
const CHECKS: Record<string, Record<string, Check>> = {
  pipeline: {
    new_opportunities: (rows) => rows.length,
    open_pipeline: (rows) => sum(rows, 'amount'),
    weighted_forecast: (rows) => weighted(rows),
    stalled: (rows) => rows.length
  },
  forecast: {
    forecast: (rows) => weighted(rows),
    closed_won: (rows) => sum(rows, 'amount'),
    weighted_pipeline: (rows) => weighted(rows),
    // target − won: the won deals it lists (Σ amount) taken from the target on the card's own
    // call; the card's note shows both parts
    gap: (rows, _s, card, res) => {
      const f = res.f?.rows[0] as { target: number | null } | undefined;
      if (f?.target == null) return null;
      const won = sum(rows, 'amount');
      expect(card.note).toBe(t('kpi.gap_parts', { target: formatMoney(f.target, 'en', 'CNY'), won: formatMoney(won, 'en', 'CNY') }));
      return f.target - won;
    },
    // open pipeline (unweighted, the listed deals) over the gap to target
    coverage: (rows, _s, _c, res) => {
      const f = res.f?.rows[0] as { gap: number | null } | undefined;
      return f?.gap && f.gap > 0 ? sum(rows, 'amount') / f.gap : null;
    }
  },
  'win-loss': {
    win_rate: (rows) => ratio(count(rows, (r) => r.status === 'won'), rows.length),
    // won amount over won + lost valued as the list's note says (zeroed lost deals at their last open amount)
    win_rate_value: (rows, s) => ratio(rows.filter((r) => r.status === 'won').reduce((a, r) => a + num(r.amount), 0), num(s.total_value)),
    won_deals: (rows) => rows.length,
    lost_deals: (rows) => rows.length,
    // a median, not a sum (its foot says so): the continuous median of the listed won deals'
    // close − creation days, those closed before they were created left out as the model does
    cycle_median: (rows, _s, card) => {
      expect(card.foot).toBe(t('truth.median_of_listed'));
      const days = rows
        .filter((r) => r.created_at && r.closed_at)
        .map((r) => (Date.parse(String(r.closed_at)) - Date.parse(String(r.created_at))) / 86_400_000)
        .filter((d) => d >= 0)
        .sort((a, b) => a - b);
      if (!days.length) return null;
      const h = (days.length - 1) / 2;
      return days[Math.floor(h)] + (days[Math.ceil(h)] - days[Math.floor(h)]) * (h - Math.floor(h));
    }
  },
  customers: {
    customers: (rows) => rows.length,
    avg_ltv: (rows) => ratio(sum(rows, 'ltv'), rows.length),
    acv: (rows) => ratio(sum(rows, 'won_amount'), sum(rows, 'won_deals')),
    churn: (rows) => ratio(count(rows, (r) => r.churned === true), rows.length)
  },
  payments: {
    collected_amount: (rows) => sum(rows, 'paid_amount'),
    overdue_amount: (rows) => sum(rows, 'outstanding'),
    // the deals won in the period (close date), listed in full: Σ amount
    contracted: (rows) => sum(rows, 'amount'),
    // collected (the 回款明细 rows, Σ paid_amount) ÷ due (the rows it opens, 本期应收明细: Σ amount);
    // the card's note gives both totals, rebuilt here from the rows
    collection_rate: async (rows, s, card, _r, other) => {
      const collected = sum((await other('received')).rows, 'paid_amount');
      const due = sum(rows, 'amount');
      expect(rows.length, 'the due list: every payment due in the period').toBe(Number(s.total));
      expect(card.note).toBe(t('kpi.collection_rate_parts', { collected: formatMoney(collected, 'en', 'CNY'), due: formatMoney(due, 'en', 'CNY') }));
      return ratio(collected, due);
    },
    // receivables at the period end (the rows it opens, 期末应收明细: Σ outstanding on the day they
    // are measured) ÷ contracted (本期签约明细: Σ amount) × days from the period's first day to
    // that day. All three parts on the card's note, rebuilt here from the two lists.
    dso: async (rows, s, card, res, other) => {
      const at = String(s.outstanding_at);
      expect(at, 'the list measures on the card’s day').toBe((res.s.rows[0] as { receivables_at: string }).receivables_at);
      expect(rows.length, 'the receivables list: every receivable counted on the card').toBe(card.n);
      for (const r of rows) expect(num(r.outstanding), String(r.payment_id)).toBeGreaterThan(0);
      const receivables = sum(rows, 'outstanding');
      expect(receivables, 'Σ the list = the card’s receivables, to the cent').toBeCloseTo((res.s.rows[0] as { receivables: number }).receivables, 2);
      const contracted = sum((await other('contracted')).rows, 'amount');
      const days = Math.round((Date.parse(at) - Date.parse(res.s.period.from)) / 86_400_000) + 1;
      expect(card.note).toBe(t('kpi.dso_parts', { receivables: formatMoney(receivables, 'en', 'CNY'), contracted: formatMoney(contracted, 'en', 'CNY'), days: days.toLocaleString('en') }));
      return contracted ? (receivables / contracted) * days : null;
    }
  },
  team: {
    won_amount: (rows) => sum(rows, 'amount'),
    target_attainment: (rows, _s, _c, res) => {
      const target = res.kpis?.summary?.target as number | null | undefined;
      return target ? sum(rows, 'amount') / target : null;
    },
    reps_on_target: (rows) => count(rows, (r) => !!r.target && num(r.attainment) >= 1),
    active_reps: (rows) => count(rows, (r) => num(r.won_count) > 0),
    activities: (rows) => sum(rows, 'activities')
  }
};

/**
 * Cards whose figure is not the plain sum or ratio of their drill's rows, and what the screen
 * says about it (a note or foot on the card, or the drill's own subtitle). Checked: the text is
 * on the card.
 */
const NOT_A_SUM: Record<string, Record<string, (t: ReturnType<typeof translator>) => string>> = {
  customers: { predictive_ltv: (t) => t('truth.predictive_not_sum') },
};

/** Cards with no drill yet, and why (reported as not done). */
const NO_DRILL: Record<string, string[]> = {};

let org: Org;
let owner = '';
let ownerTeam = '';
const filterSets: { name: string; q: Record<string, string> }[] = [{ name: 'company', q: {} }];
beforeAll(async () => {
  org = buildOrg((await get('options', { as_of: AS_OF })).rows as never);
  const lb = await get('leaderboard', { as_of: AS_OF, period: 'last_year', group_by: 'owner', rank_by: 'won_amount' });
  owner = (lb.rows[0] as { group_key: string }).group_key;
  ownerTeam = (lb.rows[0] as { team_id: string }).team_id;
  filterSets.push({ name: 'region 上海', q: { region: '上海' } }, { name: 'team R1', q: { team: 'R1' } }, { name: `rep ${owner}`, q: { team: ownerTeam, owner } });
});

const t = translator('en');
/** Cards reconciled with a figure (not null) at least once: a check that only ever saw nulls proves nothing. */
const seen = new Set<string>();
const PERIODS = ['this_quarter', 'last_year'];

describe('every summary card equals the rows its click lists', () => {
  for (const board of BOARDS) {
    it(`${board.id}: each card, for the company, a region, a team and a rep (${PERIODS.join(', ')})`, async () => {
      const summary = board.tiles.find((x) => x.id === 'summary')!;
      expect(summary, board.id).toBeDefined();
      let checked = 0;
      for (const period of PERIODS) {
        for (const { name, q } of filterSets) {
          const state = parseState(new URLSearchParams({ period, as_of: AS_OF, ...q }));
          const ctx = { state, org, period: board.defaultPeriod };
          const results: Record<string, ModelResult> = {};
          for (const [k, spec] of Object.entries(tileQueries(summary, ctx))) results[k] = await get(spec.model, spec.params);
          const view = summary.view!(results, { ...ctx, t, locale: 'en', currency: 'CNY' });
          expect(view.kind).toBe('kpis');
          if (view.kind !== 'kpis') continue;
          for (const card of view.cards) {
            const where = `${board.id} ${card.id} · ${name} · ${period}`;
            const drill = card.patch || card.focus;
            if (!drill) {
              expect(NO_DRILL[board.id] ?? [], `${where}: a card without a drill must be listed as such`).toContain(card.id);
              continue;
            }
            const next = card.patch ? applyPatch(state, card.patch) : state;
            const tile = card.focus ? board.tiles.find((x) => x.id === card.focus) : board.tiles.find((x) => x.id === 'deals');
            expect(tile, `${where}: the tile the click opens`).toBeDefined();
            const check = CHECKS[board.id]?.[card.id];
            const why = NOT_A_SUM[board.id]?.[card.id];
            expect(!!check || !!why, `${where}: no reconciliation for this card`).toBe(true);
            if (why) {
              const text = why(t);
              if (text) expect(`${card.note ?? ''} ${card.foot ?? ''}`, where).toContain(text);
              continue;
            }
            let rows: Row[];
            let sumr: Record<string, unknown> = {};
            if (tile!.table) ({ rows, summary: sumr } = await listing(tile!, next, org, board));
            else {
              // a chart tile listing the rows (the leaderboard): its own call in the state
              const calls = Object.values(tileQueries(tile!, { ...ctx, state: next }));
              rows = (await get(calls[0].model, calls[0].params)).rows as Row[];
            }
            const other = (id: string) => listing(board.tiles.find((x) => x.id === id)!, next, org, board);
            const want = await check!(rows, sumr, card, results, other);
            if (card.value === null || want === null) expect(card.value, where).toBe(want);
            else expect(want, `${where}: ${rows.length} rows`).toBeCloseTo(card.value, card.format === 'percent' ? 10 : 2);
            checked++;
            if (card.value !== null) seen.add(`${board.id}/${card.id}`);
          }
        }
      }
      expect(checked, `${board.id}: cards checked`).toBeGreaterThan(0);
    });
  }

  it('the ratio, gap and median cards were reconciled on a real figure somewhere', () => {
    for (const id of ['payments/contracted', 'payments/collection_rate', 'payments/dso', 'forecast/gap', 'win-loss/cycle_median']) expect(seen, id).toContain(id);
  });

  it('the payments board’s collected card opens 回款明细 with exactly the card’s payments (count = n)', async () => {
    const board = BOARDS.find((b) => b.id === 'payments')!;
    for (const { name, q } of filterSets) {
      const state = parseState(new URLSearchParams({ period: 'this_quarter', as_of: AS_OF, ...q }));
      const s = (await get('payments', { period: 'this_quarter', as_of: AS_OF, ...q })).rows[0] as { collected: number; collected_n: number };
      const { rows } = await listing(board.tiles.find((x) => x.id === 'received')!, state, org, board);
      expect(rows.length, name).toBe(s.collected_n);
      expect(sum(rows, 'paid_amount'), name).toBeCloseTo(s.collected, 2);
      for (const r of rows) expect(r.paid_at, `${name} ${r.payment_id}`).not.toBeNull();
    }
  });
});
