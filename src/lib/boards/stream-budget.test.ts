/**
 * A streamed render's wait for quick tiles (load.ts, quickLastTime): the frame waits up to the
 * budget for tiles only while waiting pays off. The model API is stood in for by a fetch
 * function whose answers take a set time (the real API's speed is what this policy adapts to,
 * and a real database cannot be made slow or quick on demand); the board definitions are the
 * real ones. Times are generous (a 2 s budget, answers after 0 ms or 5 s) so that a loaded
 * machine cannot blur quick and slow.
 */
import { describe, expect, it } from 'vitest';
import { loadBoard } from './load';
import { getBoard } from './registry';

const BUDGET = 2_000;
const SLOW = 5_000;

function api(delayMs: () => number) {
  const fetchFn = (async (input: RequestInfo | URL) => {
    const url = String(input);
    const body = url.includes('/api/models/options') ? { model: 'options', rows: [] } : { model: 'x', rows: [] };
    if (!url.includes('/api/models/options')) await new Promise((r) => setTimeout(r, delayMs()));
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return fetchFn;
}

async function render(board: string, delay: number) {
  const t0 = Date.now();
  const data = await loadBoard(api(() => delay), new URL(`http://x/boards/${board}?as_of=2026-06-15`), getBoard(board)!, undefined, BUDGET);
  return { ms: Date.now() - t0, inline: Object.keys(data.results).length, pending: Object.keys(data.pending ?? {}).length };
}

describe('a streamed render waits for its tiles only where that paid off last time', () => {
  it('quick tiles: every render has them inline', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await render('payments', 0);
      expect(r.inline).toBeGreaterThan(0);
      expect(r.pending).toBe(0);
    }
  }, 60_000);

  it('tiles slower than the budget: the first render waits the budget in vain, the next sends the frame at once; quick again, the render after next waits again', async () => {
    const first = await render('win-loss', SLOW);
    expect(first.inline).toBe(0);
    expect(first.pending).toBeGreaterThan(0);
    expect(first.ms).toBeGreaterThanOrEqual(BUDGET - 50);
    // The budget's end has passed with no tile answered: recorded.
    const second = await render('win-loss', SLOW);
    expect(second.inline).toBe(0);
    expect(second.ms).toBeLessThan(BUDGET / 2);
    // The tiles are quick now (say, cached): this render does not wait, but records that they answered in time …
    const third = await render('win-loss', 0);
    expect(third.ms).toBeLessThan(BUDGET / 2);
    // … so the next one waits for them and has them inline.
    await new Promise((r) => setTimeout(r, 50));
    const fourth = await render('win-loss', 0);
    expect(fourth.inline).toBeGreaterThan(0);
    expect(fourth.pending).toBe(0);
  }, 60_000);
});
