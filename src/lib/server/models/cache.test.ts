/**
 * The result cache on its own: one computation per key and data version, waiting callers share
 * it, failures are not kept, a new generation forgets everything, and the bytes held stay under
 * the budget (least recently used out first). The scope and write behaviour through the real
 * server is tested in tests/security/hardening.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ResultCache, cacheKey } from './cache';
import type { ModelResult } from './run';

const result = (n: number, pad = 0) => ({ model: 'm', n, rows: [{ pad: 'x'.repeat(pad) }] }) as unknown as ModelResult;

describe('ResultCache', () => {
  it('computes once per key and generation; a new generation computes again', async () => {
    const c = new ResultCache(1 << 20);
    let runs = 0;
    const compute = async () => result(++runs);
    expect((await c.get('k', 1, compute)).state).toBe('miss');
    const hit = await c.get('k', 1, compute);
    expect(hit.state).toBe('hit');
    expect(hit.entry.result.n).toBe(1);
    expect(JSON.parse(hit.entry.json).n).toBe(1);
    const after = await c.get('k', 2, compute);
    expect(after.state).toBe('miss');
    expect(after.entry.result.n).toBe(2);
    expect(c.size).toBe(1);
  });

  it('joins identical calls in flight, and keeps no failure', async () => {
    const c = new ResultCache(1 << 20);
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = async () => {
      runs++;
      await gate;
      return result(runs);
    };
    const calls = [c.get('k', 1, slow), c.get('k', 1, slow), c.get('k', 1, slow)];
    release();
    const states = (await Promise.all(calls)).map((x) => x.state);
    expect(states).toEqual(['miss', 'coalesced', 'coalesced']);
    expect(runs).toBe(1);
    const failing = () => Promise.reject(new Error('boom'));
    await expect(c.get('bad', 1, failing)).rejects.toThrow('boom');
    expect((await c.get('bad', 1, async () => result(7))).state).toBe('miss');
  });

  it('does not keep what was computed while a write moved the generation', async () => {
    const c = new ResultCache(1 << 20);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const during = c.get('k', 1, async () => (await gate, result(1)));
    await c.get('other', 2, async () => result(2)); // a write happened: generation 2
    release();
    await during;
    expect((await c.get('k', 2, async () => result(3))).state).toBe('miss');
  });

  it('holds at most its budget, dropping the least recently used first', async () => {
    const c = new ResultCache(60_000);
    for (let i = 0; i < 10; i++) await c.get(`k${i}`, 1, async () => result(i, 2_000));
    expect(c.bytes).toBeLessThanOrEqual(60_000);
    expect(c.size).toBeLessThan(10);
    expect((await c.get('k9', 1, async () => result(99))).state).toBe('hit');
    expect((await c.get('k0', 1, async () => result(99))).state).toBe('miss');
    // Bigger than an eighth of the budget: answered, not kept.
    await c.get('big', 1, async () => result(1, 3_000));
    expect((await c.get('big', 1, async () => result(2))).state).toBe('miss');
    const off = new ResultCache(0);
    await off.get('k', 1, async () => result(1));
    expect((await off.get('k', 1, async () => result(2))).state).toBe('miss');
  });

  it('keys differ when any part differs', () => {
    const base = ['kpis', { period: 'this_year' }, { asOf: '2026-06-15' }, 'all', 'SELECT $1', ['R1']];
    expect(cacheKey(base)).toBe(cacheKey([...base]));
    expect(cacheKey(base)).not.toBe(cacheKey([...base.slice(0, 5), ['R2']]));
    expect(cacheKey(base)).not.toBe(cacheKey([...base.slice(0, 3), '[["R1"],[]]', ...base.slice(4)]));
  });
});
