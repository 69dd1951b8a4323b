/**
 * The deals behind a number are that number: for every figure a board lets a manager click,
 * the listing the click opens (deals or payment_list, through the same HTTP API) adds up to
 * the figure the metric model reports, on the small demo company.
 */
import { describe, expect, inject, it } from 'vitest';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
const get = async (model: string, params: Record<string, string | string[]>) => {
  const q = new URLSearchParams({ as_of: AS_OF });
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  const res = await fetch(`${base}/api/models/${model}?${q}`);
  expect(res.status, `${model} ${q}`).toBe(200);
  return res.json();
};

describe('drill-downs add up to the numbers they explain', () => {
  it('kpis won this quarter = the won deals closed this quarter', async () => {
    const k = await get('kpis', { period: 'this_quarter', team: 'R1' });
    const won = k.rows.find((r: { measure: string }) => r.measure === 'won_amount');
    const d = await get('deals', { period: 'this_quarter', team: 'R1', status: 'won', date_field: 'closed_at', limit: '1' });
    expect(d.summary.total).toBe(won.n);
    expect(d.summary.total_amount).toBeCloseTo(won.value, 2);
  });

  it('each funnel bar = the cohort deals that reached the stage', async () => {
    const f = await get('funnel', { period: 'this_year' });
    for (const row of f.rows as { stage: string; reached: number; reached_amount: number }[]) {
      const d = await get('deals', { period: 'this_year', reached: row.stage, date_field: 'created_at', limit: '1' });
      expect(d.summary.total, row.stage).toBe(row.reached);
    }
  });

  it('kpis overdue = the overdue payments, outstanding', async () => {
    const k = await get('kpis', { period: 'this_quarter' });
    const od = k.rows.find((r: { measure: string }) => r.measure === 'overdue_amount');
    const p = await get('payment_list', { state: 'overdue', limit: '1' });
    expect(p.summary.total).toBe(od.n);
    expect(p.summary.total_outstanding).toBeCloseTo(od.value, 2);
  });

  it('cycle_time stalled = the stalled open deals', async () => {
    const c = await get('cycle_time', { view: 'stalled', limit: '1' });
    const d = await get('deals', { status: 'open', stalled: 'true', limit: '1' });
    expect(d.summary.total).toBe(c.summary.stalled);
  });

  it('payments aging buckets = the payments listed in each bucket', async () => {
    const a = await get('payments', { view: 'aging' });
    for (const b of a.rows as { bucket: string; amount: number; n: number }[]) {
      if (b.bucket === 'current') continue;
      const p = await get('payment_list', { state: 'overdue', aging: b.bucket, limit: '1' });
      expect(p.summary.total, b.bucket).toBe(b.n);
      expect(p.summary.total_outstanding, b.bucket).toBeCloseTo(b.amount, 2);
    }
  });

  it('win_loss loss reasons = the lost deals with that reason', async () => {
    const w = await get('win_loss', { period: 'this_year', view: 'loss_reasons' });
    for (const r of (w.rows as { reason: string | null; lost: number }[]).filter((x) => x.reason)) {
      const d = await get('deals', { period: 'this_year', status: 'lost', date_field: 'closed_at', loss_reason: r.reason!, limit: '1' });
      expect(d.summary.total, r.reason!).toBe(r.lost);
    }
  });

  it('forecast categories = the open deals of each category expected in the period', async () => {
    const f = (await get('forecast', { period: 'this_quarter' })).rows[0];
    const won = await get('deals', { period: 'this_quarter', status: 'won', date_field: 'closed_at', limit: '1' });
    expect(won.summary.total_amount).toBeCloseTo(f.closed_won, 2);
    const commit = await get('deals', { period: 'this_quarter', status: 'open', category: 'commit', date_field: 'expected_close_date', limit: '1' });
    expect(commit.summary.total_amount).toBeCloseTo(f.commit - f.closed_won, 2);
    const open = await get('deals', { period: 'this_quarter', status: 'open', date_field: 'expected_close_date', limit: '1' });
    expect(open.summary.total_amount).toBeCloseTo(f.open_pipeline, 2);
  });
});
