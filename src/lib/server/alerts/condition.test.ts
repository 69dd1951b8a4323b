/** The condition evaluator on hand-made rows: thresholds against a target, changes absolute and relative. */
import { describe, expect, it } from 'vitest';
import { evaluate, stateKey } from './condition';
import type { Condition } from './config';

const rows = [
  { measure: 'win_rate', value: 0.3, target: null },
  { measure: 'won_amount', value: 800, target: 1000 },
  { measure: 'pipeline', value: 5000, target: 4000 }
];

describe('evaluate', () => {
  it('a threshold of a target fires below 90% of it and ignores rows with no target', () => {
    const c = { type: 'threshold', field: 'value', of: 'target', op: '<', value: 0.9 } as Condition;
    const out = evaluate(c, rows, 'measure');
    expect(out.hits.map((h) => [h.id, h.value, h.limit])).toEqual([['won_amount', 800, 900]]);
    expect(out.considered).toBe(3);
  });

  it('a relative change compares (now − before) / |before|, and a row seen for the first time never fires', () => {
    const c = { type: 'change', field: 'value', vs: 'previous_evaluation', by: 'relative', op: '<', value: -0.1 } as Condition;
    // win_rate 0.4 → 0.3 is −25%; won_amount 850 → 800 is −5.9%; pipeline has no earlier value.
    const out = evaluate(c, rows, 'measure', { win_rate: 0.4, won_amount: 850 });
    expect(out.hits.map((h) => [h.id, h.before, h.value])).toEqual([['win_rate', 0.4, 0.3]]);
    expect(out.values).toEqual({ win_rate: 0.3, won_amount: 800, pipeline: 5000 });
    // Nothing earlier at all (a first evaluation): no hits.
    expect(evaluate(c, rows, 'measure', null).hits).toEqual([]);
    // Before = 0 has no relative change: no hit, no crash.
    expect(evaluate(c, rows, 'measure', { win_rate: 0 }).hits).toEqual([]);
  });

  it('an absolute change in points, selected by `where`', () => {
    const c = { type: 'change', field: 'value', vs: 'previous_period', by: 'absolute', op: '<', value: -0.05, where: { measure: 'win_rate' } } as Condition;
    // 0.34 → 0.30 is −4 points: not past −5. 0.36 → 0.30 is −6 points: fires. Other measures are not looked at.
    expect(evaluate(c, rows, 'measure', { win_rate: 0.34 }).hits).toEqual([]);
    const out = evaluate(c, rows, 'measure', { win_rate: 0.36, won_amount: 10_000 });
    expect(out.hits.map((h) => h.id)).toEqual(['win_rate']);
    expect(out.considered).toBe(1);
  });

  it('the same breaching ids are the same state, whatever their order; none is ok', () => {
    const h = (id: string) => ({ id, row: {}, value: null, before: null, limit: null });
    expect(stateKey('r', 'U1', [h('a'), h('b')])).toBe(stateKey('r', 'U1', [h('b'), h('a')]));
    expect(stateKey('r', 'U1', [h('a')])).not.toBe(stateKey('r', 'U2', [h('a')]));
    expect(stateKey('r', 'U1', [])).toBe('ok');
  });
});
