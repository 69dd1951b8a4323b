/**
 * Boards and models agree: every tile of every board asks for models that exist, with
 * parameters their schemas accept, in every drill state; ids are URL-safe (embeds address
 * tiles as /embed/<board>/<tile>) and every label has a translation.
 */
import { describe, expect, it } from 'vitest';
import { catalog } from '../../../models/index';
import type { Model } from '../../../models/model';
import { zhCN } from '$lib/i18n/zh-CN';
import { buildOrg, type OptionRow } from './org';
import { BOARDS, getBoard, getTile } from './registry';
import { WALL_PAGES } from './wall';
import { applyPatch, emptyState, type ViewState } from './state';
import { tileQueries } from './load';

const rows: OptionRow[] = [
  { kind: 'team', key: 'T00', label: '全公司', parent: null, sort: 0, n: 10 },
  { kind: 'team', key: 'R1', label: '华东', parent: 'T00', sort: 0, n: 6 },
  { kind: 'team', key: 'T11', label: '上海一组', parent: 'R1', sort: 0, n: 6 },
  { kind: 'owner', key: 'U6', label: '张伟', parent: 'T11', sort: 0, n: 3 }
];
const org = buildOrg(rows);
const e = emptyState('2026-06-15');
const states: [string, ViewState][] = [
  ['company', e],
  ['region', applyPatch(e, { team: 'R1' })],
  ['team', applyPatch(e, { team: 'T11' })],
  ['rep + refinements', applyPatch(e, { team: 'T11', filters: { owner: ['U6'], industry: ['零售'] }, refine: { stage: ['方案报价'], status: ['open'], reached: ['需求分析'], stalled: ['true'], aging: ['1_30'], quadrant: ['key_develop'], customer: ['C1'], date_field: ['none'] } })],
  ['custom period + table state', applyPatch(e, { from: '2026-01-01', to: '2026-03-01', tables: { deals: { sort: 'amount', dir: 'asc', page: 3, q: '上海' }, overdue: { sort: 'days_overdue', page: 2 }, funnel: { view: 'flow' }, leaderboard: { sort: 'win_rate' } } })]
];

describe('the board registry', () => {
  const all = [...BOARDS, ...Object.values(WALL_PAGES)];
  for (const board of all) {
    it(`${board.id}: ids, labels and model calls`, () => {
      expect(board.id).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(getBoard(board.id)).toBe(board);
      expect(zhCN).toHaveProperty([board.title]);
      expect(zhCN).toHaveProperty([board.description]);
      const ids = board.tiles.map((t) => t.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const tile of board.tiles) {
        expect(tile.id).toMatch(/^[a-z][a-z0-9_-]*$/);
        expect(getTile(board, tile.id)).toBe(tile);
        expect(zhCN).toHaveProperty([tile.title]);
        for (const [label, state] of states) {
          const queries = tileQueries(tile, { state, org, period: board.defaultPeriod });
          expect(Object.keys(queries).length, `${tile.id} in ${label}`).toBeGreaterThan(0);
          for (const [name, q] of Object.entries(queries)) {
            const model = (catalog as Record<string, Model>)[q.model];
            expect(model, `${board.id}/${tile.id}.${name}: model ${q.model}`).toBeDefined();
            const raw = Object.fromEntries(Object.entries(q.params).filter(([, v]) => v !== null && v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0)).map(([k, v]) => [k, Array.isArray(v) ? v : String(v)]));
            const r = model.params.safeParse(raw);
            expect(r.success, `${board.id}/${tile.id}.${name} (${label}): ${JSON.stringify(raw)} → ${r.success ? '' : JSON.stringify(r.error.issues)}`).toBe(true);
          }
        }
      }
    });
  }

  it('an unknown board or tile is null, never a path', () => {
    expect(getBoard('../etc/passwd')).toBeNull();
    expect(getBoard('__proto__')).toBeNull();
    expect(getTile(BOARDS[0], 'constructor')).toBeNull();
  });
});
