/**
 * A listing's bounded count on screen (issue 15.3): a table asks for `count=bounded` only
 * while the user searches, and a capped count is shown as "more than 10,000 … match" in both
 * languages — never as an exact total, and without the sums it did not compute; an exact
 * count keeps its usual "N deals · amount" line.
 */
import { describe, expect, it } from 'vitest';
import type { ModelResult } from '$lib/api';
import { translator, type Locale } from '$lib/i18n';
import { buildOrg, type OptionRow } from './org';
import { getBoard } from './registry';
import { tableQuery } from './load';
import { applyPatch, emptyState } from './state';
import type { TileDef, ViewContext } from './types';

const rows: OptionRow[] = [{ kind: 'team', key: 'T00', label: '全公司', parent: null, sort: 0, n: 10 }];
const org = buildOrg(rows);
const e = emptyState('2026-06-15');

function tableTile(board: string, model: string): TileDef {
  const tile = getBoard(board)!.tiles.find((t) => t.table?.model === model);
  if (!tile) throw new Error(`no ${model} table on ${board}`);
  return tile;
}
const result = (summary: Record<string, unknown>): ModelResult => ({ rows: [], n: Number(summary.total), summary }) as unknown as ModelResult;
function view(locale: Locale, state = e): ViewContext {
  return { state, org, period: 'this_quarter', t: translator(locale), locale, currency: 'CNY' } as ViewContext;
}

describe('tables: the count is bounded while searching, exact otherwise', () => {
  const deals = tableTile('pipeline', 'deals');
  const payments = tableTile('payments', 'payment_list');

  it('asks deals and payment_list for count=bounded with a search, for the exact count without one', () => {
    for (const tile of [deals, payments]) {
      const plain = tableQuery(tile.id, tile.table!, { state: e, org, period: 'this_quarter' });
      expect(plain.params.count).toBeUndefined();
      const searching = applyPatch(e, { tables: { [tile.id]: { q: '上海' } } });
      expect(tableQuery(tile.id, tile.table!, { state: searching, org, period: 'this_quarter' }).params.count).toBe('bounded');
    }
  });

  it('a capped count says "more than 10,000" (zh-CN and en) and shows no amount', () => {
    const capped = result({ total: 10_000, total_capped: true, total_amount: null });
    expect(deals.subtitle!({ rows: capped }, view('zh-CN'))).toBe('超过 10,000 个商机符合 · 缩小搜索范围可看合计');
    expect(deals.subtitle!({ rows: capped }, view('en'))).toBe('More than 10,000 deals match · narrow the search for their total');
    expect(payments.subtitle!({ rows: result({ total: 10_000, total_capped: true, total_outstanding: null }) }, view('zh-CN'))).toBe(
      '超过 10,000 笔符合 · 缩小搜索范围可看合计'
    );
    expect(payments.subtitle!({ rows: result({ total: 10_000, total_capped: true, total_outstanding: null }) }, view('en'))).toBe(
      'More than 10,000 payments match · narrow the search for their total'
    );
  });

  it('an exact count, even of exactly 10,000 rows, is shown as the number it is, with its amount', () => {
    const exact = result({ total: 10_000, total_capped: false, total_amount: 100_000 });
    const zh = deals.subtitle!({ rows: exact }, view('zh-CN'))!;
    expect(zh.startsWith('10,000 个商机 · 合计 ')).toBe(true);
    expect(zh).not.toContain('超过');
    const en = deals.subtitle!({ rows: result({ total: 6, total_capped: false, total_amount: 255_000 }) }, view('en'))!;
    expect(en.startsWith('6 deals · ')).toBe(true);
    expect(en).not.toContain('More than');
  });
});
