/**
 * Tokens limited to tiles: every call a tile makes in any drill state a user can reach is
 * allowed to a token for that tile (so embeds never break), and what the tile does not make is
 * refused — other models, deal lists and exports a chart never shows, wider pages, other
 * statuses. The states here are not the ones the rules are derived from (access.ts samples its
 * own), so this checks the derivation, not a copy of it.
 */
import { describe, expect, it } from 'vitest';
import { accessFor, checkCall } from './access';
import { buildOrg, type OptionRow } from './org';
import { BOARDS } from './registry';
import { WALL_PAGES } from './wall';
import { applyPatch, emptyState, type ViewState } from './state';
import { dealQuery, optionsQuery, tileQueries } from './load';
import type { ParamValue } from '$lib/api';

const rows: OptionRow[] = [
  { kind: 'team', key: 'T00', label: '全公司', parent: null, sort: 0, n: 10 },
  { kind: 'team', key: 'R1', label: '华东', parent: 'T00', sort: 0, n: 6 },
  { kind: 'team', key: 'T11', label: '上海一组', parent: 'R1', sort: 0, n: 6 },
  { kind: 'owner', key: 'U6', label: '张伟', parent: 'T11', sort: 0, n: 3 }
];
const orgs = [buildOrg([]), buildOrg(rows)];
const e = emptyState('2026-06-15');
const states: ViewState[] = [
  emptyState(),
  e,
  applyPatch(e, { team: 'R1', period: 'last_year' }),
  applyPatch(e, { team: 'T11', filters: { owner: ['U6', 'U7'], product: ['CRM 旗舰版'] } }),
  applyPatch(e, { refine: { stage: ['方案报价'], status: ['open', 'won'], reached: ['需求分析'], stalled: ['true'], aging: ['over_90'], state: ['overdue'], quadrant: ['key_develop'], customer: ['C1'], date_field: ['closed_at'], loss_reason: ['价格'], competitor: ['某友商'], category: ['commit'] } }),
  applyPatch(e, { refine: { date_field: ['none'], status: ['open'] } }),
  applyPatch(e, { from: '2025-11-01', to: '2026-02-01', tables: { deals: { sort: 'expected_close_date', dir: 'asc', page: 4, q: '上海' }, stalled: { sort: 'days_idle' }, payments: { sort: 'outstanding', page: 2 }, overdue: { q: '华' }, funnel: { view: 'flow' }, leaderboard: { sort: 'win_rate' } } })
];

const query = (params: Record<string, ParamValue>) => {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    out[k] = (Array.isArray(v) ? v : [v]).map(String);
  }
  return out;
};

describe('a token limited to one tile may make every call that tile makes', () => {
  for (const board of [...BOARDS, ...Object.values(WALL_PAGES)]) {
    it(board.id, () => {
      const whole = accessFor({ boards: [board.id] })!;
      for (const tile of board.tiles) {
        const access = accessFor({ tiles: [`${board.id}/${tile.id}`] })!;
        for (const org of orgs) {
          for (const state of states) {
            expect(checkCall(access, 'options', query(optionsQuery(state).params))).toBeNull();
            for (const [name, q] of Object.entries(tileQueries(tile, { state, org, period: board.defaultPeriod }))) {
              const params = query(q.params);
              const where = `${board.id}/${tile.id}.${name} ${JSON.stringify(params)}`;
              expect(checkCall(access, q.model, params), where).toBeNull();
              expect(checkCall(whole, q.model, params), where).toBeNull();
              if (tile.table) {
                const { limit: _l, offset: _o, ...rest } = params;
                expect(checkCall(access, q.model, { ...rest, format: ['xlsx'], lang: ['en'] }, { exporting: true }), where).toBeNull();
                if (tile.table.dealOf) expect(checkCall(access, 'deal', query(dealQuery(state, 'OPP-1').params)), where).toBeNull();
              }
            }
          }
        }
      }
    });
  }
});

describe('and nothing else', () => {
  it('a chart tile: no listing, no deal, no export, no other model', () => {
    const a = accessFor({ tiles: ['pipeline/funnel'] })!;
    expect(checkCall(a, 'funnel', { period: ['this_year'], method: ['flow'], team: ['R1'] })).toBeNull();
    expect(checkCall(a, 'deals', { period: ['all'] })).toMatch(/do not use the model "deals"/);
    expect(checkCall(a, 'deal', { id: ['OPP-1'] })).toMatch(/deal/);
    expect(checkCall(a, 'payment_list', {})).not.toBeNull();
    expect(checkCall(a, 'funnel', { format: ['csv'] }, { exporting: true })).toMatch(/export/);
    expect(checkCall(a, 'kpis', {})).not.toBeNull();
    expect(checkCall(a, 'funnel', { group_by: ['owner'] })).toMatch(/group_by/);
  });

  it('a count of open deals: only that count, however filtered', () => {
    const a = accessFor({ tiles: ['pipeline/summary'] })!;
    const open = { period: ['all'], status: ['open'], limit: ['1'] };
    expect(checkCall(a, 'deals', { ...open, team: ['R1'], owner: ['U6'] })).toBeNull();
    expect(checkCall(a, 'deals', { ...open, stalled: ['true'] })).toBeNull();
    expect(checkCall(a, 'deals', { ...open, limit: ['50'] })).toMatch(/limit must be 1 or less/);
    expect(checkCall(a, 'deals', { period: ['all'], status: ['open'] })).toMatch(/limit/);
    expect(checkCall(a, 'deals', { ...open, status: ['won'] })).toMatch(/status must be open/);
    expect(checkCall(a, 'deals', { ...open, sort: ['amount'] })).toMatch(/sort is not/);
    expect(checkCall(a, 'deals', { ...open, offset: ['1'] })).toMatch(/offset/);
    expect(checkCall(a, 'deals', { period: ['all'], status: ['open'] }, { exporting: true })).toMatch(/export/);
  });

  it('a table tile: any sort, page, search and refinement, but not a bigger page', () => {
    const a = accessFor({ tiles: ['payments/overdue'] })!;
    expect(checkCall(a, 'payment_list', { period: ['all'], limit: ['15'], offset: ['45'], sort: ['due_date'], dir: ['asc'], q: ['华'], state: ['paid'], aging: ['1_30'] })).toBeNull();
    expect(checkCall(a, 'payment_list', { period: ['all'], limit: ['1000'] })).toMatch(/limit must be 15 or less/);
    expect(checkCall(a, 'payment_list', { period: ['this_year'], limit: ['15'] })).toMatch(/period must be all/);
    expect(checkCall(a, 'payment_list', { period: ['all'], state: ['overdue'], format: ['csv'] }, { exporting: true })).toBeNull();
    expect(checkCall(a, 'deal', { id: ['OPP-1'], team: ['R1'] })).toBeNull();
    expect(checkCall(a, 'deals', { limit: ['15'] })).not.toBeNull();
  });

  it('locked filters never decide, and unknown boards or tiles grant only the filter options', () => {
    const a = accessFor({ tiles: ['wall-overview/overdue'] })!;
    const list = { period: ['all'], state: ['overdue'], sort: ['outstanding'], dir: ['desc'], limit: ['3'] };
    expect(checkCall(a, 'payment_list', { ...list, product: ['x'] }, { locked: ['product'] })).toBeNull();
    const none = accessFor({ boards: ['no-such-board'], tiles: ['pipeline/no-such-tile', '__proto__/x', '../../etc/passwd'] })!;
    expect([...none.rules.keys()]).toEqual(['options']);
    expect(accessFor({})).toBeNull();
    expect(accessFor({ boards: ['*'] })).toBeNull();
  });
});
