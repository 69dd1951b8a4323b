/**
 * trend, leaderboard, payments and forecast through the HTTP API of a real running server
 * (`cockpit serve`, small demo company, as of 2026-06-15), each figure checked against
 * independent SQL over a read-only copy of the same database file.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, inject, it } from 'vitest';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf'); // 2026-06-15: this quarter = [2026-04-01, 2026-07-01)
const api = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return res.json();
};

let oracle: (q: string) => Promise<Record<string, number | string | null>[]>;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oracle-revenue-'));
  const file = join(dir, 'copy.duckdb');
  copyFileSync(inject('demoTemplate'), file);
  const inst = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  oracle = async (q) => (await conn.runAndReadAll(q)).getRowObjectsJS().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : (v as number | string | null)])));
});

const inQ2 = (col: string) => `${col} >= '2026-04-01' AND ${col} < '2026-07-01'`;
const STAGE_P = `CASE stage WHEN '初步接洽' THEN 0.1 WHEN '需求分析' THEN 0.25 WHEN '方案报价' THEN 0.5 WHEN '商务谈判' THEN 0.75 END`;

describe('GET /api/models/trend', () => {
  it('won amount by month this year equals a GROUP BY month of won deals; empty months are 0', async () => {
    const body = await api(`/api/models/trend?as_of=${AS_OF}`);
    expect(body.date_field).toBe('opportunities.closed_at');
    expect(body.rows).toHaveLength(12);
    const ind = await oracle(`SELECT strftime(closed_at, '%Y-%m') AS m, sum(amount)::DOUBLE AS v, count(*)::INTEGER AS n FROM opportunities
      WHERE status = 'won' AND closed_at >= '2026-01-01' AND closed_at < '2027-01-01' GROUP BY 1`);
    const byMonth = new Map(ind.map((r) => [r.m, r]));
    for (const row of body.rows) {
      expect(row.value, row.label).toBeCloseTo((byMonth.get(row.label)?.v as number) ?? 0, 2);
      expect(row.n, row.label).toBe((byMonth.get(row.label)?.n as number) ?? 0);
    }
    expect(body.rows.slice(6).every((r: { value: number }) => r.value === 0)).toBe(true); // after June: nothing yet
  });

  it('win rate by quarter, as Arrow, equals won / closed per quarter', async () => {
    const res = await fetch(`${base}/api/models/trend?as_of=${AS_OF}&measure=win_rate&grain=quarter`, { headers: { accept: 'application/vnd.apache.arrow.stream' } });
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
    const rows = tableFromIPC(new Uint8Array(await res.arrayBuffer())).toArray().map((r) => r.toJSON());
    const ind = await oracle(`SELECT quarter(closed_at) AS q, (count(*) FILTER (WHERE status = 'won'))::DOUBLE / count(*) AS rate FROM opportunities
      WHERE status IN ('won', 'lost') AND closed_at >= '2026-01-01' AND closed_at < '2027-01-01' GROUP BY 1 ORDER BY 1`);
    expect(rows[0].value).toBeCloseTo(ind[0].rate as number, 12);
    expect(rows[1].value).toBeCloseTo(ind[1].rate as number, 12);
    expect(rows[3].value).toBeNull(); // Q4: nothing closed
  });
});

describe('GET /api/models/leaderboard', () => {
  it('top 10 reps this quarter: won amount, win rate with n and collected equal per-owner SQL, ranked by won amount', async () => {
    const body = await api(`/api/models/leaderboard?as_of=${AS_OF}&limit=10`);
    expect(body.rows).toHaveLength(10);
    const ind = await oracle(`SELECT owner_id, coalesce(sum(amount) FILTER (WHERE status = 'won'), 0)::DOUBLE AS won,
        count(*) FILTER (WHERE status = 'won')::INTEGER AS w, count(*)::INTEGER AS closed
      FROM opportunities WHERE status IN ('won', 'lost') AND ${inQ2('closed_at')} GROUP BY 1 ORDER BY won DESC LIMIT 10`);
    const paid = await oracle(`SELECT o.owner_id, sum(coalesce(p.paid_amount, p.amount))::DOUBLE AS c FROM payments p JOIN opportunities o USING (opportunity_id)
      WHERE ${inQ2('p.paid_at')} GROUP BY 1`);
    const paidBy = new Map(paid.map((r) => [r.owner_id, r.c]));
    body.rows.forEach((row: Record<string, number | string>, i: number) => {
      expect(row.group_key).toBe(ind[i].owner_id);
      expect(row.won_amount).toBeCloseTo(ind[i].won as number, 2);
      expect(row.win_rate_n).toBe(ind[i].closed);
      expect(row.win_rate).toBeCloseTo((ind[i].w as number) / (ind[i].closed as number), 12);
      expect(row.collected_amount).toBeCloseTo((paidBy.get(row.group_key as string) as number) ?? 0, 2);
      expect(row.rank).toBe(i + 1);
      expect(typeof row.group_label).toBe('string');
    });
  });

  it('per team: the regions add up to the company', async () => {
    const body = await api(`/api/models/leaderboard?as_of=${AS_OF}&group_by=team`);
    expect(body.rows.map((r: { group_label: string }) => r.group_label).sort()).toEqual(['华东', '华北', '华南']);
    const [ind] = await oracle(`SELECT sum(amount)::DOUBLE AS won FROM opportunities WHERE status = 'won' AND ${inQ2('closed_at')}`);
    expect(body.rows.reduce((s: number, r: { won_amount: number }) => s + r.won_amount, 0)).toBeCloseTo(ind.won as number, 2);
    for (const r of body.rows) expect(r.target).toBeGreaterThan(0);
  });
});

describe('GET /api/models/payments', () => {
  it('summary: contracted, collected, due, overdue equal independent SQL; DSO from receivables on the report date', async () => {
    const body = await api(`/api/models/payments?as_of=${AS_OF}`);
    const [s] = body.rows;
    const [ind] = await oracle(`SELECT
        (SELECT sum(amount)::DOUBLE FROM opportunities WHERE status = 'won' AND ${inQ2('closed_at')}) AS contracted,
        (SELECT sum(coalesce(paid_amount, amount))::DOUBLE FROM payments WHERE ${inQ2('paid_at')}) AS collected,
        (SELECT sum(amount)::DOUBLE FROM payments WHERE ${inQ2('due_date')}) AS due,
        (SELECT sum(amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END)::DOUBLE FROM payments
          WHERE due_date < DATE '${AS_OF}' AND amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END > 0) AS overdue,
        (SELECT sum(amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END)::DOUBLE FROM payments
          WHERE due_date IS NOT NULL AND amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END > 0) AS outstanding`);
    expect(s.contracted).toBeCloseTo(ind.contracted as number, 2);
    expect(s.collected).toBeCloseTo(ind.collected as number, 2);
    expect(s.due).toBeCloseTo(ind.due as number, 2);
    expect(s.collection_rate).toBeCloseTo((ind.collected as number) / (ind.due as number), 12);
    expect(s.overdue).toBeCloseTo(ind.overdue as number, 2);
    expect(s.outstanding).toBeCloseTo(ind.outstanding as number, 2);
    // 04-01..06-15 = 76 days
    expect(s.dso).toBeCloseTo(((ind.outstanding as number) / (ind.contracted as number)) * 76, 6);
  });

  it('aging buckets add up to the outstanding; upcoming weeks to what falls due before the quarter ends', async () => {
    const aging = await api(`/api/models/payments?as_of=${AS_OF}&view=aging`);
    const summary = await api(`/api/models/payments?as_of=${AS_OF}`);
    expect(aging.rows.map((r: { bucket: string }) => r.bucket)).toEqual(['current', '1_30', '31_60', '61_90', 'over_90']);
    expect(aging.rows.reduce((s: number, r: { amount: number }) => s + r.amount, 0)).toBeCloseTo(summary.rows[0].outstanding, 2);
    const [over90] = await oracle(`SELECT sum(amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END)::DOUBLE AS v FROM payments
      WHERE DATE '${AS_OF}' - due_date > 90 AND amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END > 0`);
    expect(aging.rows[4].amount).toBeCloseTo(over90.v as number, 2);
    const upcoming = await api(`/api/models/payments?as_of=${AS_OF}&view=upcoming`);
    expect(upcoming.rows[0]).toMatchObject({ bucket: '2026-06-15', from: '2026-06-15' }); // a Monday
    expect(upcoming.rows.at(-1)).toMatchObject({ to: '2026-07-01' });
    const [due] = await oracle(`SELECT sum(amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END)::DOUBLE AS v FROM payments
      WHERE due_date >= DATE '${AS_OF}' AND due_date < DATE '2026-07-01' AND amount - CASE WHEN paid_at <= DATE '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END > 0`);
    expect(upcoming.rows.reduce((s: number, r: { amount: number }) => s + r.amount, 0)).toBeCloseTo(due.v as number, 2);
  });

  it('the overdue list: the largest first, its total in the summary', async () => {
    const body = await api(`/api/models/payments?as_of=${AS_OF}&view=overdue&limit=20`);
    const summary = await api(`/api/models/payments?as_of=${AS_OF}`);
    expect(body.rows).toHaveLength(20);
    expect(body.summary.overdue).toBeCloseTo(summary.rows[0].overdue, 2);
    expect(body.n).toBe(summary.rows[0].overdue_n);
    const amounts = body.rows.map((r: { outstanding: number }) => r.outstanding);
    expect([...amounts].sort((a, b) => b - a)).toEqual(amounts);
    expect(body.rows[0].customer_name).toBeTruthy();
    expect(body.rows[0].opportunity_name).toBeTruthy();
  });
});

describe('GET /api/models/forecast', () => {
  it('won + open deals expected this quarter × (override or stage probability), and the cumulative categories', async () => {
    const body = await api(`/api/models/forecast?as_of=${AS_OF}`);
    const [f] = body.rows;
    const [ind] = await oracle(`SELECT
        (SELECT sum(amount)::DOUBLE FROM opportunities WHERE status = 'won' AND ${inQ2('closed_at')}) AS won,
        (SELECT sum(amount * coalesce(probability, ${STAGE_P}))::DOUBLE FROM opportunities WHERE status = 'open' AND ${inQ2('expected_close_date')}) AS weighted,
        (SELECT sum(amount)::DOUBLE FROM opportunities WHERE status = 'open' AND ${inQ2('expected_close_date')}) AS open,
        (SELECT sum(amount) FILTER (WHERE forecast_category = 'commit')::DOUBLE FROM opportunities WHERE status = 'open' AND ${inQ2('expected_close_date')}) AS c,
        (SELECT sum(amount) FILTER (WHERE forecast_category = 'best_case')::DOUBLE FROM opportunities WHERE status = 'open' AND ${inQ2('expected_close_date')}) AS b,
        (SELECT sum(amount) FILTER (WHERE forecast_category = 'pipeline')::DOUBLE FROM opportunities WHERE status = 'open' AND ${inQ2('expected_close_date')}) AS p,
        (SELECT sum(amount)::DOUBLE FROM targets WHERE team_id = 'T00' AND region IS NULL AND owner_id IS NULL AND metric = 'won_amount' AND period_start >= '2026-04-01' AND period_end <= '2026-07-01') AS target`);
    expect(f.closed_won).toBeCloseTo(ind.won as number, 2);
    expect(f.weighted_pipeline).toBeCloseTo(ind.weighted as number, 2);
    expect(f.forecast).toBeCloseTo((ind.won as number) + (ind.weighted as number), 2);
    expect(f.open_pipeline).toBeCloseTo(ind.open as number, 2);
    expect(f.commit).toBeCloseTo((ind.won as number) + (ind.c as number), 2);
    expect(f.best_case).toBeCloseTo((ind.won as number) + (ind.c as number) + (ind.b as number), 2);
    expect(f.pipeline).toBeCloseTo((ind.won as number) + (ind.c as number) + (ind.b as number) + (ind.p as number), 2);
    expect(f.target).toBeCloseTo(ind.target as number, 2);
    expect(f.attainment).toBeCloseTo((ind.won as number) / (ind.target as number), 12);
    expect(body.definition['zh-CN']).toContain('预测');
  });

  it('per team (the board’s forecast categories, attainment and coverage): the regions add up to the company', async () => {
    const body = await api(`/api/models/forecast?as_of=${AS_OF}&group_by=team`);
    const total = await api(`/api/models/forecast?as_of=${AS_OF}`);
    expect(body.rows).toHaveLength(3);
    for (const m of ['closed_won', 'forecast', 'commit', 'best_case', 'pipeline'])
      expect(body.rows.reduce((s: number, r: Record<string, number>) => s + r[m], 0), m).toBeCloseTo(total.rows[0][m], 2);
    for (const r of body.rows) expect(r.coverage === null || r.coverage > 0).toBe(true);
  });

  it('learned stage probabilities: won and lost counts per stage equal an independent count over the history', async () => {
    const body = await api(`/api/models/forecast?as_of=${AS_OF}&view=stages`);
    // closed in [2025-06-16, 2026-06-16); a lost deal reached the highest stage index among its versions
    const ind = await oracle(`WITH idx(stage, k) AS (VALUES ('初步接洽', 1), ('需求分析', 2), ('方案报价', 3), ('商务谈判', 4)),
        closed AS (SELECT opportunity_id, status FROM opportunities WHERE status IN ('won', 'lost') AND closed_at >= '2025-06-16' AND closed_at < '2026-06-16'),
        reach AS (SELECT c.opportunity_id, c.status, CASE WHEN c.status = 'won' THEN 9 ELSE coalesce((SELECT max(i.k) FROM opportunity_versions v JOIN idx i ON i.stage = v.stage WHERE v.opportunity_id = c.opportunity_id), 0) END AS far FROM closed c)
      SELECT i.k, count(*) FILTER (WHERE r.status = 'won' AND r.far >= i.k)::INTEGER AS won, count(*) FILTER (WHERE r.status = 'lost' AND r.far >= i.k)::INTEGER AS lost
      FROM idx i, reach r GROUP BY i.k ORDER BY i.k`);
    expect(body.rows.map((r: { won: number; lost: number }) => [r.won, r.lost])).toEqual(ind.map((r) => [r.won, r.lost]));
    // thousands of deals per stage: the Beta prior has no weight, the learned value is the raw rate
    for (const r of body.rows) {
      expect(r.prior_weight).toBe(0);
      expect(r.learned).toBeCloseTo(r.win_rate, 12);
    }
  });

  it('accuracy backtest of last year by quarter: one row per quarter and method, WAPE in the summary', async () => {
    const body = await api(`/api/models/forecast?as_of=${AS_OF}&view=accuracy&period=last_year`);
    // Four quarters × six methods (weighted configured and learned, commit, best case, pipeline, statistical).
    expect(body.rows).toHaveLength(4 * 6);
    const ind = await oracle(`SELECT quarter(closed_at) AS q, sum(amount)::DOUBLE AS a FROM opportunities WHERE status = 'won' AND year(closed_at) = 2025 GROUP BY 1 ORDER BY 1`);
    const configured = body.rows.filter((r: { method: string }) => r.method === 'weighted_configured');
    configured.forEach((r: { actual: number; accuracy: number; forecast: number }, i: number) => {
      expect(r.actual).toBeCloseTo(ind[i].a as number, 2);
      expect(r.accuracy).toBeCloseTo(Math.max(0, 1 - Math.abs(r.actual - r.forecast) / r.actual), 12);
    });
    const wape = configured.reduce((s: number, r: { actual: number; forecast: number }) => s + Math.abs(r.forecast - r.actual), 0) / configured.reduce((s: number, r: { actual: number }) => s + r.actual, 0);
    expect(body.summary.wape.weighted_configured).toBeCloseTo(wape, 12);
  });

  it('a bad parameter is a 400 that names it', async () => {
    const res = await fetch(`${base}/api/models/forecast?group_by=team&target=100&probabilities=guess`);
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.issues.some((i: string) => i.startsWith('probabilities:'))).toBe(true);
    const res2 = await fetch(`${base}/api/models/forecast?group_by=team&target=100`);
    expect((await res2.json()).issues.some((i: string) => i.startsWith('target:'))).toBe(true);
  });
});

describe('GET /api/models (catalog)', () => {
  it('lists trend, leaderboard, payments and forecast with their parameters', async () => {
    const body = await api('/api/models');
    const byName = Object.fromEntries(body.models.map((m: { name: string }) => [m.name, m]));
    expect(Object.keys(byName.trend.params.properties)).toEqual(expect.arrayContaining(['measure', 'grain', 'group_by', 'period', 'team']));
    expect(Object.keys(byName.leaderboard.params.properties)).toEqual(expect.arrayContaining(['rank_by', 'limit', 'group_by']));
    expect(Object.keys(byName.payments.params.properties)).toEqual(expect.arrayContaining(['view', 'grain', 'limit']));
    expect(Object.keys(byName.forecast.params.properties)).toEqual(expect.arrayContaining(['view', 'probabilities', 'window_months', 'min_deals', 'basis', 'frozen_at_day', 'method']));
    expect(byName.payments.title['zh-CN']).toBe('回款分析');
  });
});
