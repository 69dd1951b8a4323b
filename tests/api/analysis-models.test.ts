/**
 * win_loss, cycle_time, ltv, customer_profile and the flow funnel through the HTTP API of a
 * real server over the small demo company, each against independent SQL written here over
 * the raw tables (opportunities, opportunity_versions, payments, activities, customers — not
 * the precomputed facts the models read), on a read-only copy of the same file. And the CLI
 * prints the same rows as the API.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { cockpit } from '../helpers/global-setup';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf'); // 2026-06-15
const END = '2026-06-16'; // the end of the report date
type Row = Record<string, unknown>;
const api = async (path: string) => {
  const res = await fetch(`${base}${path}${path.includes('?') ? '&' : '?'}as_of=${AS_OF}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { rows: Row[]; n: number; summary?: Row; date_field: string; definition: Record<string, string> };
};

let dbCopy: string;
let cliCopy: string;
let oracle: (q: string) => Promise<Row[]>;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oracle-b-'));
  dbCopy = join(dir, 'copy.duckdb');
  copyFileSync(inject('demoTemplate'), dbCopy);
  cliCopy = join(dir, 'cli.duckdb');
  copyFileSync(inject('demoTemplate'), cliCopy);
  const inst = await DuckDBInstance.create(dbCopy, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  oracle = async (q) => (await conn.runAndReadAll(q)).getRowObjectsJS() as Row[];
});
const n = (v: unknown) => Number(v);

/** Stage changes from the raw history: entered, left, next stage (the independent version of stage_facts). */
const STINTS = `WITH v AS (
    SELECT opportunity_id, stage, valid_from, amount, lag(stage) OVER (PARTITION BY opportunity_id ORDER BY valid_from) AS prev
    FROM opportunity_versions),
  c AS (SELECT opportunity_id, stage, valid_from AS entered_at, amount,
               lead(valid_from) OVER (PARTITION BY opportunity_id ORDER BY valid_from) AS left_at,
               lead(stage) OVER (PARTITION BY opportunity_id ORDER BY valid_from) AS next_stage
        FROM v WHERE prev IS NULL OR prev <> stage),
  st AS (SELECT * FROM (VALUES ('初步接洽', 1, 'open'), ('需求分析', 2, 'open'), ('方案报价', 3, 'open'), ('商务谈判', 4, 'open'),
                               ('赢单', 5, 'won'), ('输单', 0, 'lost')) t(name, idx, kind))`;

describe('analysis models over HTTP on the demo company, against independent SQL', () => {
  it('win_loss: counts, amounts (zeroed lost deals at their last open version) and win rates this year', async () => {
    const body = await api('/api/models/win_loss?period=this_year');
    const [ind] = await oracle(`
      WITH c AS (SELECT * FROM opportunities WHERE status IN ('won', 'lost') AND closed_at >= '2026-01-01' AND closed_at < '2027-01-01'),
      lo AS (SELECT v.opportunity_id, arg_max(v.amount, v.valid_from) AS amount FROM opportunity_versions v
             WHERE v.stage NOT IN ('赢单', '输单') GROUP BY v.opportunity_id)
      SELECT count(*) FILTER (WHERE status = 'won') AS won, count(*) FILTER (WHERE status = 'lost') AS lost,
             sum(c.amount) FILTER (WHERE status = 'won') AS won_amount,
             sum(CASE WHEN coalesce(c.amount, 0) = 0 THEN coalesce(lo.amount, 0) ELSE c.amount END) FILTER (WHERE status = 'lost') AS lost_amount,
             count(*) FILTER (WHERE status = 'lost' AND coalesce(c.amount, 0) = 0 AND coalesce(lo.amount, 0) <> 0) AS restored
      FROM c LEFT JOIN lo USING (opportunity_id)`);
    const [r] = body.rows;
    expect([r.won, r.lost, r.lost_valued_from_history]).toEqual([n(ind.won), n(ind.lost), n(ind.restored)]);
    expect(n(ind.restored)).toBeGreaterThan(0); // the demo zeroes some lost deals
    expect(r.won_amount).toBeCloseTo(n(ind.won_amount), 2);
    expect(r.lost_amount).toBeCloseTo(n(ind.lost_amount), 2);
    expect(r.win_rate).toBeCloseTo(n(ind.won) / (n(ind.won) + n(ind.lost)), 12);
    expect(r.win_rate_value).toBeCloseTo(n(ind.won_amount) / (n(ind.won_amount) + n(ind.lost_amount)), 12);
    expect(body.date_field).toBe('opportunities.closed_at');
  });

  it('win_loss: loss reasons and the series by close month add up to the same lost deals', async () => {
    const reasons = await api('/api/models/win_loss?period=this_year&view=loss_reasons');
    const ind = await oracle(`SELECT loss_reason, count(*) AS lost FROM opportunities
      WHERE status = 'lost' AND closed_at >= '2026-01-01' AND closed_at < '2027-01-01' GROUP BY loss_reason ORDER BY lost DESC, loss_reason`);
    expect(Object.fromEntries(reasons.rows.map((x) => [x.reason, x.lost]))).toEqual(Object.fromEntries(ind.map((x) => [x.loss_reason, n(x.lost)])));
    const series = await api('/api/models/win_loss?period=this_year&view=series');
    expect(series.rows).toHaveLength(12);
    const byMonth = await oracle(`SELECT strftime(closed_at, '%Y-%m') AS m, count(*) AS lost FROM opportunities
      WHERE status = 'lost' AND closed_at >= '2026-01-01' AND closed_at < '2027-01-01' GROUP BY 1`);
    for (const m of byMonth) expect(series.rows.find((x) => x.bucket_label === m.m)?.lost).toBe(n(m.lost));
  });

  it('cycle_time: median, p90 and invalid rows of deals won this year', async () => {
    const [r] = (await api('/api/models/cycle_time?period=this_year')).rows;
    const [ind] = await oracle(`SELECT quantile_cont(d, 0.5) AS median, quantile_cont(d, 0.9) AS p90, count(d) AS n, count(*) - count(d) AS invalid
      FROM (SELECT CASE WHEN closed_at >= created_at THEN date_diff('second', created_at, closed_at) / 86400.0 END AS d FROM opportunities
            WHERE status = 'won' AND closed_at >= '2026-01-01' AND closed_at < '2027-01-01')`);
    expect([r.n, r.invalid]).toEqual([n(ind.n), n(ind.invalid)]);
    expect(r.median_days).toBeCloseTo(n(ind.median), 6);
    expect(r.p90_days).toBeCloseTo(n(ind.p90), 6);
  });

  it('cycle_time: time in stage of deals that left each stage this year', async () => {
    const rows = (await api('/api/models/cycle_time?period=this_year&view=time_in_stage')).rows;
    const ind = await oracle(`${STINTS},
      k AS (SELECT c.opportunity_id, c.stage, date_diff('second', entered_at, left_at) / 86400.0 AS days, left_at FROM c),
      last_exit AS (SELECT opportunity_id, stage, arg_max(days, left_at) AS latest FROM k
                    WHERE left_at >= '2026-01-01' AND left_at < '2027-01-01' GROUP BY ALL)
      SELECT st.name AS stage, count(l.latest) AS n, quantile_cont(l.latest, 0.5) AS median
      FROM st LEFT JOIN last_exit l ON l.stage = st.name WHERE st.kind = 'open' GROUP BY st.name, st.idx ORDER BY st.idx`);
    expect(rows.map((x) => [x.stage, x.n])).toEqual(ind.map((x) => [x.stage, n(x.n)]));
    rows.forEach((x, i) => expect(x.median_days_latest).toBeCloseTo(n(ind[i].median), 6));
  });

  it('cycle_time: stalled open deals as of the report date (no stage change or follow-up for more than 15 days)', async () => {
    const body = await api('/api/models/cycle_time?view=stalled&limit=5');
    const [ind] = await oracle(`${STINTS},
      lc AS (SELECT opportunity_id, max(entered_at) AS at FROM c WHERE entered_at < '${END}' GROUP BY 1),
      la AS (SELECT opportunity_id, max(occurred_at) AS at FROM activities WHERE occurred_at < '${END}' GROUP BY 1),
      ca AS (SELECT customer_id, owner_id, max(occurred_at) AS at FROM activities WHERE opportunity_id IS NULL AND occurred_at < '${END}' GROUP BY ALL),
      idle AS (SELECT o.opportunity_id, o.amount,
                 date_diff('day', coalesce(greatest(lc.at, la.at, ca.at), o.created_at)::DATE, DATE '${AS_OF}') AS idle
               FROM opportunities o LEFT JOIN lc USING (opportunity_id) LEFT JOIN la USING (opportunity_id)
               LEFT JOIN ca ON ca.customer_id = o.customer_id AND ca.owner_id = o.owner_id
               WHERE o.status = 'open' AND o.created_at < '${END}')
      SELECT count(*) FILTER (WHERE idle > 15) AS stalled, max(idle) AS longest, sum(amount) FILTER (WHERE idle > 15) AS amount FROM idle`);
    expect(body.n).toBe(n(ind.stalled));
    expect(n(ind.stalled)).toBeGreaterThan(0);
    expect(body.rows).toHaveLength(5);
    expect(body.rows[0].idle_days).toBe(n(ind.longest));
    expect(body.summary?.stalled_amount as number).toBeCloseTo(n(ind.amount), 2);
  });

  it('ltv: historical LTV from payments received, and the trailing-year churn', async () => {
    const body = await api('/api/models/ltv?period=this_year');
    const [r] = body.rows;
    const [ind] = await oracle(`
      WITH e AS (
        SELECT customer_id, paid_at::TIMESTAMP AS t, coalesce(paid_amount, amount) AS amount, true AS paid FROM payments WHERE paid_at < '${END}'
        UNION ALL SELECT customer_id, closed_at, amount, false FROM opportunities WHERE status = 'won' AND closed_at < '${END}'),
      c AS (SELECT customer_id, bool_or(t >= '2025-06-16') AS active, bool_or(t >= '2024-06-16' AND t < '2025-06-16') AS active_last
            FROM e GROUP BY 1)
      SELECT (SELECT sum(amount) FROM e WHERE paid) AS ltv, (SELECT count(*) FROM customers) AS customers,
             count(*) FILTER (WHERE active_last AND NOT active) AS churned, count(*) FILTER (WHERE active_last) AS active_last
      FROM c`);
    expect(r.basis).toBe('payments');
    expect(r.customers).toBe(n(ind.customers));
    expect(r.historical_ltv).toBeCloseTo(n(ind.ltv), 2);
    expect([r.churned, r.active_last_year]).toEqual([n(ind.churned), n(ind.active_last)]);
    expect(r.churn).toBeCloseTo(n(ind.churned) / n(ind.active_last), 12);
    expect(body.summary?.this_year).toEqual({ from: '2025-06-16', to: '2026-06-16' });
  });

  it('ltv cohorts: customers by the month of their first win', async () => {
    const rows = (await api('/api/models/ltv?period=this_year&view=cohorts')).rows;
    const ind = await oracle(`SELECT strftime(min(closed_at), '%Y-%m') AS cohort, customer_id FROM opportunities
      WHERE status = 'won' AND customer_id IS NOT NULL GROUP BY customer_id HAVING min(closed_at) >= '2026-01-01'`);
    const sizes: Record<string, number> = {};
    for (const x of ind) sizes[x.cohort as string] = (sizes[x.cohort as string] ?? 0) + 1;
    expect(Object.fromEntries(rows.filter((x) => x.months_since === 0).map((x) => [x.cohort, x.customers]))).toEqual(sizes);
  });

  it('customer_profile: customers by industry and won amount by region', async () => {
    const rows = (await api('/api/models/customer_profile?period=this_year')).rows;
    const ind = await oracle(`SELECT industry, count(*) AS customers FROM customers GROUP BY 1`);
    expect(Object.fromEntries(rows.filter((x) => x.dimension === 'industry').map((x) => [x.value, x.customers]))).toEqual(
      Object.fromEntries(ind.map((x) => [x.industry, n(x.customers)]))
    );
    const won = await oracle(`SELECT c.region, sum(o.amount) AS amount FROM opportunities o JOIN customers c USING (customer_id)
      WHERE o.status = 'won' AND o.closed_at >= '2026-01-01' AND o.closed_at < '2027-01-01' GROUP BY 1`);
    for (const w of won) expect(rows.find((x) => x.dimension === 'region' && x.value === w.region)?.won_amount).toBeCloseTo(n(w.amount), 2);
  });

  it('customer_profile grid: the four quadrants split at the medians', async () => {
    const body = await api('/api/models/customer_profile?view=grid');
    const ind = await oracle(`
      WITH v AS (SELECT customer_id, sum(coalesce(paid_amount, amount)) AS value FROM payments WHERE paid_at < '${END}' GROUP BY 1),
      p AS (SELECT customer_id, sum(amount) AS potential FROM opportunities WHERE status = 'open' GROUP BY 1),
      x AS (SELECT coalesce(v.value, 0) AS value, coalesce(p.potential, 0) AS potential FROM customers c LEFT JOIN v USING (customer_id) LEFT JOIN p USING (customer_id)),
      m AS (SELECT median(value) FILTER (WHERE value > 0) AS mv, median(potential) FILTER (WHERE potential > 0) AS mp FROM x)
      SELECT (value > 0 AND value >= mv) AS hv, (potential > 0 AND potential >= mp) AS hp, count(*) AS customers FROM x, m GROUP BY ALL`);
    const count = (hv: boolean, hp: boolean) => n(ind.find((x) => x.hv === hv && x.hp === hp)?.customers ?? 0);
    expect(body.rows.map((x) => [x.quadrant, x.customers])).toEqual([
      ['key_maintain', count(true, true)],
      ['key_develop', count(false, true)],
      ['standard', count(true, false)],
      ['activate', count(false, false)]
    ]);
    expect((body.rows[0].label as Record<string, string>)['zh-CN']).toBe('重点维护');
  });

  it('funnel method=flow: stage entries and forward exits this quarter from the raw history', async () => {
    const body = await api('/api/models/funnel?period=this_quarter&method=flow');
    const ind = await oracle(`${STINTS}
      SELECT st.name AS stage,
        (SELECT count(*) FROM c WHERE c.stage = st.name AND entered_at >= '2026-04-01' AND entered_at < '2026-07-01') AS entries,
        (SELECT count(*) FROM c JOIN st n ON n.name = c.next_stage
          WHERE c.stage = st.name AND left_at >= '2026-04-01' AND left_at < '2026-07-01' AND (n.kind = 'won' OR (n.kind = 'open' AND n.idx > st.idx))) AS fwd
      FROM st WHERE st.kind IN ('open', 'won') ORDER BY st.idx`);
    expect(body.rows.map((x) => [x.stage, x.entries, x.exits_forward])).toEqual(ind.map((x) => [x.stage, n(x.entries), st(x)]));
    function st(x: Row) {
      return x.stage === '赢单' ? 0 : n(x.fwd);
    }
  });

  it('serves union-typed rows as Arrow too (stalled deals)', async () => {
    const url = `${base}/api/models/cycle_time?view=stalled&limit=3&as_of=${AS_OF}`;
    const res = await fetch(url, { headers: { accept: 'application/vnd.apache.arrow.stream' } });
    expect(res.status).toBe(200);
    const table = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
    const json = await (await fetch(url)).json();
    expect(table.numRows).toBe(3);
    expect(table.toArray().map((r) => r.toJSON().opportunity_id)).toEqual(json.rows.map((r: Row) => r.opportunity_id));
  });

  it('cockpit metric prints the same rows as the API for each of these models', async () => {
    for (const [name, qs] of [
      ['win_loss', 'view=loss_reasons'],
      ['cycle_time', 'view=time_in_stage'],
      ['ltv', 'group_by=region'],
      ['customer_profile', 'view=grid'],
      ['funnel', 'method=flow']
    ]) {
      // The API first: a keep-alive socket left idle through a slow CLI run may be closed under us.
      const http = await api(`/api/models/${name}?${qs}`);
      const params = new URLSearchParams(qs);
      const args = ['metric', name, '--json', '--db', cliCopy, '--param', `as_of=${AS_OF}`];
      for (const [k, v] of params) args.push('--param', `${k}=${v}`);
      const r = cockpit(args);
      expect(r.status, r.stderr).toBe(0);
      const cli = JSON.parse(r.stdout);
      expect(cli.rows, name).toEqual(http.rows);
      expect(cli.n, name).toBe(http.n);
    }
  });
});
