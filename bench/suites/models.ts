/**
 * Latency of every model in the catalog on the demo `large` scale (1,000,000 opportunities),
 * with the cockpit's default parameters (each model's default period and view, report date =
 * the demo's), beside a hand-written raw SQL of the same aggregate in the same run.
 *
 * - The model is timed end to end through `runModel`: parameters parsed, query compiled with
 *   the viewer-scope CTEs below it, executed, rows converted, validated and finalized.
 * - The baseline is the shortest SQL a person would write for the same figures, straight on
 *   the tables (no scope CTEs, no validation), run on the same pooled connection. It reads the
 *   same precomputed tables the model reads (deal_facts, stage_facts, payment_facts,
 *   customer_facts), so the
 *   ratio is the framework's overhead, not a difference of physical design.
 * - Before timing, each pair must agree on a headline figure (`check`), so the baseline is
 *   the same aggregate and not an easier one.
 * - Model and baseline runs alternate (after two warm-up runs each), so a burst of load from
 *   elsewhere on the machine hits both.
 *
 * The demo database is generated once per run into a temporary file (with its derived facts
 * built in the same transaction, as `cockpit demo` does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import { parseConfig } from '../../src/lib/server/config/load';
import { runModel, stageInfos, type ModelResult } from '../../src/lib/server/models/run';
import { ensureFacts } from '../../warehouse/facts';
import { MODEL_NAMES } from '../../models/index';
import type { BenchRow } from '../run';
import type { Suite } from './index';

const AS_OF = '2026-06-15';
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 21);

// Periods the defaults resolve to on the report date 2026-06-15.
const YEAR = `'2026-01-01' AND closed_at < '2027-01-01'`;
const Q2 = { from: '2026-04-01', to: '2026-07-01' };
const Q1_TO_DATE = { from: '2026-01-01', to: '2026-03-18' }; // 76 days elapsed in Q2 → the same length of Q1

interface Case {
  name: string;
  model: string;
  params?: Record<string, unknown>;
  /** The hand-written SQL of the same aggregate. */
  raw?: string;
  /** A figure both must agree on: (model result, raw rows) → [model's, raw's]. */
  check?: (m: ModelResult, raw: Record<string, unknown>[]) => [unknown, unknown];
}

const num = (v: unknown) => Math.round(Number(v) * 100) / 100;

/** Default-parameter cases, one per model (more for the models whose other views boards use). */
const CASES: Case[] = [
  {
    name: 'funnel (cohort, this year)',
    model: 'funnel',
    // reached, amount, open now, lost at and median days to the next stage, per stage, as the model
    raw: `SELECT count(*) AS n,
        count(*) FILTER (WHERE furthest_idx >= 1) AS r1, sum(effective_amount) FILTER (WHERE furthest_idx >= 1) AS a1,
        count(*) FILTER (WHERE furthest_idx >= 2) AS r2, sum(effective_amount) FILTER (WHERE furthest_idx >= 2) AS a2,
        count(*) FILTER (WHERE furthest_idx >= 3) AS r3, sum(effective_amount) FILTER (WHERE furthest_idx >= 3) AS a3,
        count(*) FILTER (WHERE furthest_idx >= 4) AS r4, sum(effective_amount) FILTER (WHERE furthest_idx >= 4) AS a4,
        count(*) FILTER (WHERE furthest_idx >= 5) AS r5, sum(effective_amount) FILTER (WHERE furthest_idx >= 5) AS a5,
        count(*) FILTER (WHERE status = 'open' AND stage_idx = 1) AS o1, count(*) FILTER (WHERE status = 'lost' AND furthest_idx = 1) AS l1,
        count(*) FILTER (WHERE status = 'open' AND stage_idx = 2) AS o2, count(*) FILTER (WHERE status = 'lost' AND furthest_idx = 2) AS l2,
        count(*) FILTER (WHERE status = 'open' AND stage_idx = 3) AS o3, count(*) FILTER (WHERE status = 'lost' AND furthest_idx = 3) AS l3,
        count(*) FILTER (WHERE status = 'open' AND stage_idx = 4) AS o4, count(*) FILTER (WHERE status = 'lost' AND furthest_idx = 4) AS l4,
        count(*) FILTER (WHERE status = 'open' AND stage_idx = 5) AS o5, count(*) FILTER (WHERE status = 'lost' AND furthest_idx = 5) AS l5,
        median(days_to_next_1) AS d1,
        median(days_to_next_2) AS d2,
        median(days_to_next_3) AS d3,
        median(days_to_next_4) AS d4
      FROM deal_facts WHERE created_at >= '2026-01-01' AND created_at < '2027-01-01'`,
    check: (m, r) => [m.rows.map((x) => x.reached), [r[0].r1, r[0].r2, r[0].r3, r[0].r4, r[0].r5]]
  },
  {
    name: 'funnel method=flow (this year)',
    model: 'funnel',
    params: { method: 'flow' },
    raw: `WITH e AS (SELECT stage, count(*) AS entries, sum(entered_amount) AS amount FROM stage_facts
                   WHERE entered_at >= '2026-01-01' AND entered_at < '2027-01-01' AND stage_kind IN ('open', 'won') GROUP BY stage),
           x AS (SELECT stage, count(*) FILTER (WHERE next_kind = 'won' OR (next_kind = 'open' AND next_idx > stage_idx)) AS fwd
                 FROM stage_facts WHERE stage_kind = 'open' AND left_at >= '2026-01-01' AND left_at < '2027-01-01' GROUP BY stage)
      SELECT e.stage, e.entries, x.fwd, x.fwd / e.entries AS conversion FROM e LEFT JOIN x USING (stage) ORDER BY e.stage`,
    check: (m, r) => [m.rows.reduce((s, x) => s + Number(x.entries), 0), r.reduce((s, x) => s + Number(x.entries), 0)]
  },
  {
    name: 'kpis (this quarter vs Q1 to date)',
    model: 'kpis',
    raw: `SELECT
        (SELECT sum(amount) FROM deal_facts WHERE status = 'won' AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}') AS won,
        (SELECT sum(amount) FROM deal_facts WHERE status = 'won' AND closed_at >= '${Q1_TO_DATE.from}' AND closed_at < '${Q1_TO_DATE.to}') AS won_p,
        (SELECT count(*) FILTER (WHERE status = 'won') / count(*) FROM deal_facts WHERE status IN ('won', 'lost') AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}') AS win_rate,
        (SELECT count(*) FROM deal_facts WHERE created_at >= '${Q2.from}' AND created_at < '${Q2.to}') AS new_opps,
        (SELECT count(*) FROM customer_facts WHERE first_won_at >= '${Q2.from}' AND first_won_at < '${Q2.to}') AS new_customers,
        (SELECT sum(amount * win_probability) FROM deal_facts WHERE status = 'open' AND expected_close_date >= '${Q2.from}' AND expected_close_date < '${Q2.to}') AS weighted,
        (SELECT sum(coalesce(paid_amount, amount)) FROM payment_facts WHERE paid_at >= '${Q2.from}' AND paid_at < '${Q2.to}') AS collected,
        (SELECT sum(amount - CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END) FROM payment_facts
           WHERE due_date < '${AS_OF}' AND amount - CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END > 0) AS overdue,
        (SELECT sum(amount) FROM targets WHERE team_id = 'T0' AND period_start >= '${Q2.from}' AND period_end <= '${Q2.to}') AS target`,
    check: (m, r) => [num(m.rows.find((x) => x.measure === 'won_amount')!.value), num(r[0].won)]
  },
  {
    name: 'trend (won amount by month, this year)',
    model: 'trend',
    raw: `SELECT date_trunc('month', closed_at) AS m, sum(amount) AS won, count(*) AS n FROM deal_facts
      WHERE status = 'won' AND closed_at >= ${YEAR} GROUP BY 1 ORDER BY 1`,
    check: (m, r) => [num(m.rows.reduce((s, x) => s + Number(x.value ?? 0), 0)), num(r.reduce((s, x) => s + Number(x.won), 0))]
  },
  {
    name: 'leaderboard (owners by won amount, this quarter)',
    model: 'leaderboard',
    raw: `WITH d AS (SELECT owner_id, sum(amount) FILTER (WHERE status = 'won') AS won_amount, count(*) FILTER (WHERE status = 'won') AS won,
                         count(*) FILTER (WHERE status = 'lost') AS lost
                  FROM deal_facts WHERE status IN ('won', 'lost') AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}' GROUP BY 1),
      p AS (SELECT owner_id, sum(coalesce(paid_amount, amount)) AS collected FROM payment_facts WHERE paid_at >= '${Q2.from}' AND paid_at < '${Q2.to}' GROUP BY 1),
      a AS (SELECT owner_id, count(*) AS activities FROM activities WHERE occurred_at >= '${Q2.from}' AND occurred_at < '${Q2.to}' GROUP BY 1),
      t AS (SELECT owner_id, sum(amount) AS target FROM targets WHERE owner_id IS NOT NULL AND period_start >= '${Q2.from}' AND period_end <= '${Q2.to}' GROUP BY 1)
      SELECT u.user_id, d.won_amount, d.won / (d.won + d.lost) AS win_rate, p.collected, a.activities, d.won_amount / t.target AS attainment,
             rank() OVER (ORDER BY d.won_amount DESC NULLS LAST) AS rank
      FROM users u LEFT JOIN d ON d.owner_id = u.user_id LEFT JOIN p ON p.owner_id = u.user_id
      LEFT JOIN a ON a.owner_id = u.user_id LEFT JOIN t ON t.owner_id = u.user_id ORDER BY rank`,
    check: (m, r) => [num(m.rows[0].won_amount), num(r[0].won_amount)]
  },
  {
    name: 'payments (this quarter: contracted, collected, overdue, DSO)',
    model: 'payments',
    raw: `SELECT
        (SELECT sum(amount) FROM deal_facts WHERE status = 'won' AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}') AS contracted,
        (SELECT sum(coalesce(paid_amount, amount)) FROM payment_facts WHERE paid_at >= '${Q2.from}' AND paid_at < '${Q2.to}') AS collected,
        (SELECT sum(amount) FROM payment_facts WHERE due_date >= '${Q2.from}' AND due_date < '${Q2.to}') AS due,
        (SELECT sum(amount - CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END) FROM payment_facts
           WHERE due_date < '${AS_OF}' AND amount - CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END > 0) AS overdue`,
    check: (m, r) => [num(m.rows[0].collected), num(r[0].collected)]
  },
  {
    name: 'forecast (weighted, this quarter)',
    model: 'forecast',
    raw: `SELECT sum(amount) FILTER (WHERE status = 'won' AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}') AS closed_won,
        sum(amount * win_probability) FILTER (WHERE status = 'open' AND expected_close_date >= '${Q2.from}' AND expected_close_date < '${Q2.to}') AS weighted,
        sum(amount) FILTER (WHERE status = 'open' AND expected_close_date >= '${Q2.from}' AND expected_close_date < '${Q2.to}' AND effective_forecast_category = 'commit') AS commit_open
      FROM deal_facts WHERE (status = 'won' AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}')
         OR (status = 'open' AND expected_close_date >= '${Q2.from}' AND expected_close_date < '${Q2.to}')`,
    check: (m, r) => [num(m.rows[0].forecast), num(Number(r[0].closed_won) + Number(r[0].weighted))]
  },
  {
    // The same forecast as of a past report date (2026-03-15, this quarter = Q1): deals changed
    // since then are rebuilt from opportunity_versions (models/common/pit.ts), the rest read
    // their settled state from deal_facts.
    name: 'forecast (weighted, as of a past date)',
    model: 'forecast',
    params: { as_of: '2026-03-15' }
  },
  {
    name: 'win_loss (this year)',
    model: 'win_loss',
    raw: `SELECT count(*) FILTER (WHERE status = 'won') AS won, count(*) FILTER (WHERE status = 'lost') AS lost,
        sum(effective_amount) FILTER (WHERE status = 'won') AS won_amount, sum(effective_amount) FILTER (WHERE status = 'lost') AS lost_amount
      FROM deal_facts WHERE status IN ('won', 'lost') AND closed_at >= ${YEAR}`,
    check: (m, r) => [[m.rows[0].won, num(m.rows[0].lost_amount)], [Number(r[0].won), num(r[0].lost_amount)]]
  },
  {
    name: 'win_loss view=series (by close month)',
    model: 'win_loss',
    params: { view: 'series' },
    raw: `SELECT date_trunc('month', closed_at) AS m, count(*) FILTER (WHERE status = 'won') AS won, count(*) AS closed,
        count(*) FILTER (WHERE status = 'won') / count(*) AS win_rate
      FROM deal_facts WHERE status IN ('won', 'lost') AND closed_at >= ${YEAR} GROUP BY 1 ORDER BY 1`,
    check: (m, r) => [m.rows.reduce((s, x) => s + Number(x.won), 0), r.reduce((s, x) => s + Number(x.won), 0)]
  },
  {
    name: 'win_loss view=loss_reasons',
    model: 'win_loss',
    params: { view: 'loss_reasons' },
    raw: `SELECT loss_reason, count(*) AS lost, sum(effective_amount) AS amount, count(*) / sum(count(*)) OVER () AS share
      FROM deal_facts WHERE status = 'lost' AND closed_at >= ${YEAR} GROUP BY loss_reason ORDER BY lost DESC`,
    check: (m, r) => [m.rows[0].lost, Number(r[0].lost)]
  },
  {
    name: 'cycle_time (won this year)',
    model: 'cycle_time',
    raw: `SELECT count(d) AS n, avg(d) AS mean, quantile_cont(d, [0.5, 0.75, 0.9]) AS q
      FROM (SELECT CASE WHEN closed_at >= created_at THEN (epoch(closed_at) - epoch(created_at)) / 86400.0 END AS d
            FROM deal_facts WHERE status = 'won' AND closed_at >= ${YEAR})`,
    check: (m, r) => [num(m.rows[0].median_days), num((r[0].q as number[])[0])]
  },
  {
    name: 'cycle_time view=time_in_stage',
    model: 'cycle_time',
    params: { view: 'time_in_stage' },
    raw: `SELECT stage, count(*) AS n, quantile_cont(days, [0.5, 0.75]) AS latest, quantile_cont(cumulative_days, [0.5, 0.75]) AS cumulative
      FROM stage_facts
      WHERE stage_kind = 'open' AND left_at >= '2026-01-01' AND left_at < '2027-01-01'
        AND (next_same_left_at IS NULL OR next_same_left_at >= '2027-01-01')
      GROUP BY stage`,
    check: (m, r) => [m.rows.reduce((s, x) => s + Number(x.n), 0), r.reduce((s, x) => s + Number(x.n), 0)]
  },
  {
    name: 'cycle_time view=stalled (top 100)',
    model: 'cycle_time',
    params: { view: 'stalled' },
    raw: `WITH ca AS (SELECT customer_id, owner_id, max(occurred_at) AS at FROM activities
                    WHERE opportunity_id IS NULL AND occurred_at < '2026-06-16' GROUP BY ALL),
      idle AS (
        SELECT f.opportunity_id, f.name, f.customer_id, f.owner_id, f.stage, f.amount,
               date_diff('day', greatest(f.last_stage_change_at, f.last_activity_at, ca.at)::DATE, DATE '${AS_OF}') AS idle
        FROM deal_facts f LEFT JOIN ca ON ca.customer_id = f.customer_id AND ca.owner_id = f.owner_id
        WHERE f.status = 'open' AND f.created_at < '2026-06-16'),
      by_stage AS (SELECT stage, count(*) AS open, count(*) FILTER (WHERE idle > 15) AS stalled,
                          sum(amount) FILTER (WHERE idle > 15) AS amount FROM idle GROUP BY stage),
      top AS (SELECT * FROM idle WHERE idle > 15 ORDER BY idle DESC, amount DESC LIMIT 100)
      SELECT t.*, c.name AS customer_name, u.name AS owner_name, (SELECT sum(stalled) FROM by_stage) AS total,
             (SELECT list(by_stage) FROM by_stage) AS stages
      FROM top t LEFT JOIN customers c ON c.customer_id = t.customer_id LEFT JOIN users u ON u.user_id = t.owner_id`,
    check: (m, r) => [m.n, Number(r[0].total)]
  },
  {
    name: 'ltv (segments: historical, acv, predictive)',
    model: 'ltv',
    raw: `WITH e AS (
        SELECT customer_id, paid_at::TIMESTAMP AS t, coalesce(paid_amount, amount) AS amount, true AS rev FROM payment_facts
        WHERE paid_at IS NOT NULL AND paid_at < '2026-06-16'
        UNION ALL
        SELECT customer_id, closed_at, amount, false FROM deal_facts WHERE status = 'won' AND closed_at < '2026-06-16'),
      c AS (
        SELECT customer_id, sum(amount) FILTER (WHERE rev) AS ltv,
          sum(amount) FILTER (WHERE rev AND t >= '2025-06-16') AS rev_year,
          bool_or(t >= '2025-06-16') AS active, bool_or(t >= '2024-06-16' AND t < '2025-06-16') AS active_last,
          count(*) FILTER (WHERE NOT rev AND t >= '2026-01-01') AS won_deals, sum(amount) FILTER (WHERE NOT rev AND t >= '2026-01-01') AS won_amount
        FROM e GROUP BY customer_id)
      SELECT (SELECT count(*) FROM customers) AS customers, sum(ltv) AS historical, sum(won_amount) / sum(won_deals) AS acv,
        sum(rev_year) / count(*) FILTER (WHERE active) AS arpa,
        count(*) FILTER (WHERE active_last AND NOT active) / count(*) FILTER (WHERE active_last) AS churn
      FROM c WHERE customer_id IN (SELECT customer_id FROM customers)`,
    check: (m, r) => [num(m.rows[0].historical_ltv), num(r[0].historical)]
  },
  {
    name: 'ltv view=cohorts (first won this year)',
    model: 'ltv',
    params: { view: 'cohorts' },
    raw: `WITH fw AS (SELECT customer_id, date_trunc('month', first_won_at) AS cohort FROM customer_facts
                   WHERE first_won_at < '2026-06-16' AND first_won_at >= '2026-01-01' AND first_won_at < '2027-01-01'),
      e AS (SELECT customer_id, paid_at::TIMESTAMP AS t, coalesce(paid_amount, amount) AS amount, true AS rev FROM payment_facts
            WHERE paid_at IS NOT NULL AND paid_at < '2026-06-16'
            UNION ALL SELECT customer_id, closed_at, amount, false FROM deal_facts WHERE status = 'won' AND closed_at < '2026-06-16')
      SELECT fw.cohort, date_diff('month', fw.cohort, date_trunc('month', e.t)) AS k, count(DISTINCT e.customer_id) AS retained,
        sum(e.amount) FILTER (WHERE e.rev) AS revenue, (SELECT count(*) FROM fw f2 WHERE f2.cohort = fw.cohort) AS customers
      FROM e JOIN fw USING (customer_id) WHERE e.t >= fw.cohort GROUP BY 1, 2 ORDER BY 1, 2`,
    check: (m, r) => [m.rows.filter((x) => x.months_since === 0).reduce((s, x) => s + Number(x.customers), 0),
      r.filter((x) => Number(x.k) === 0).reduce((s, x) => s + Number(x.customers), 0)]
  },
  {
    name: 'customer_profile (by industry/region/source/grade)',
    model: 'customer_profile',
    raw: `WITH w AS (SELECT customer_id, count(*) AS deals, sum(amount) AS amount FROM deal_facts
                  WHERE status = 'won' AND closed_at >= ${YEAR} GROUP BY customer_id),
      c AS (SELECT c.industry, c.region, c.source, c.grade, coalesce(w.deals, 0) AS deals, coalesce(w.amount, 0) AS amount
            FROM customers c LEFT JOIN w USING (customer_id) WHERE c.created_at IS NULL OR c.created_at < '2027-01-01')
      SELECT 'industry' AS d, industry AS v, count(*) AS customers, sum(amount) AS won FROM c GROUP BY 2
      UNION ALL SELECT 'region', region, count(*), sum(amount) FROM c GROUP BY 2
      UNION ALL SELECT 'source', source, count(*), sum(amount) FROM c GROUP BY 2
      UNION ALL SELECT 'grade', grade, count(*), sum(amount) FROM c GROUP BY 2`,
    check: (m, r) => [num(m.rows.filter((x) => x.dimension === 'region').reduce((s, x) => s + Number(x.won_amount), 0)),
      num(r.filter((x) => x.d === 'region').reduce((s, x) => s + Number(x.won), 0))]
  },
  {
    name: 'customer_profile view=grid (value × potential)',
    model: 'customer_profile',
    params: { view: 'grid' },
    // (the demo has no payment or open deal dated after the report date: every customer's totals count)
    raw: `WITH x AS (SELECT c.customer_id, coalesce(f.paid_total, 0) AS value, coalesce(f.open_total, 0) AS potential
            FROM customers c LEFT JOIN customer_facts f USING (customer_id)),
      m AS (SELECT median(value) FILTER (WHERE value > 0) AS mv, median(potential) FILTER (WHERE potential > 0) AS mp FROM x)
      SELECT value > 0 AND value >= mv AS hv, potential > 0 AND potential >= mp AS hp, count(*) AS customers
      FROM x, m GROUP BY ALL ORDER BY hv DESC, hp DESC`,
    check: (m, r) => [m.rows.find((x) => x.quadrant === 'key_maintain')!.customers, Number(r.find((x) => x.hv && x.hp)?.customers ?? 0)]
  }
  ,
  // The drill-down listings (issue 15: a drill into millions of deals must not sort or count
  // everything each time): the first page as the boards ask for it, beside the SQL a person
  // would write for the same page and totals.
  {
    name: 'deals (all deals, page 1 by amount)',
    model: 'deals',
    // The page's rows with the columns the listing shows (owner and team names joined), and the
    // totals it reports (count, amount, value) — a page of ids alone is not the same answer.
    raw: rawDealsPage('TRUE', 'amount DESC NULLS LAST'),
    check: (m, r) => [[m.n, m.rows.map((x) => x.opportunity_id)], [Number(r[0].n), r[0].ids]]
  },
  {
    name: 'deals (open, this year by expected close, page 1 by expected close)',
    model: 'deals',
    params: { status: 'open', date_field: 'expected_close_date', period: 'this_year', sort: 'expected_close_date', dir: 'asc' },
    raw: rawDealsPage(`status = 'open' AND expected_close_date >= '2026-01-01' AND expected_close_date < '2027-01-01'`, 'expected_close_date ASC NULLS LAST'),
    check: (m, r) => [[m.n, m.rows.map((x) => x.opportunity_id)], [Number(r[0].n), r[0].ids]]
  },
  {
    name: 'payment_list (all payments, page 1 by due date)',
    model: 'payment_list',
    raw: `WITH page AS (
        SELECT p.payment_id, p.opportunity_id, p.deal_name, p.effective_customer_id, p.customer_name, p.owner_id, u.name AS owner_name,
               p.owner_team, t.name AS team_name, p.amount, p.due_date, p.paid_at, p.paid_amount
        FROM (SELECT payment_id, opportunity_id, deal_name, effective_customer_id, customer_name, owner_id, owner_team, amount, due_date, paid_at, paid_amount
              FROM payment_facts ORDER BY due_date DESC NULLS LAST, payment_id LIMIT 50) p
        LEFT JOIN users u ON u.user_id = p.owner_id LEFT JOIN teams t ON t.team_id = p.owner_team)
      SELECT count(*) AS n, sum(amount) AS amount,
        sum(amount) - sum(coalesce(paid_amount, amount)) FILTER (WHERE paid_at <= DATE '${AS_OF}') AS outstanding,
        sum(coalesce(paid_amount, amount)) FILTER (WHERE paid_at IS NOT NULL) AS paid,
        (SELECT list(payment_id ORDER BY due_date DESC NULLS LAST, payment_id) FROM page) AS ids, (SELECT list(page) FROM page) AS rows
      FROM payment_facts`,
    check: (m, r) => [[m.n, m.rows.map((x) => x.payment_id)], [Number(r[0].n), r[0].ids]]
  },
  {
    name: 'deal (one deal: header, history, payments, activities)',
    model: 'deal',
    params: { id: 'OPP-0000777' },
    // The deal's own rows, read as a person would for its page: its facts row with customer,
    // owner and team, its versions, payments and activities (the model builds its events from these).
    raw: `WITH pr AS (SELECT list(p) AS l FROM payments p WHERE opportunity_id = 'OPP-0000777'),
        ar AS (SELECT list(a ORDER BY a.occurred_at) AS l FROM activities a WHERE opportunity_id = 'OPP-0000777')
      SELECT (SELECT list(d) FROM (SELECT f.*, c.name AS customer, u.name AS owner, t.name AS team FROM deal_facts f
                LEFT JOIN customers c ON c.customer_id = f.customer_id LEFT JOIN users u ON u.user_id = f.owner_id
                LEFT JOIN teams t ON t.team_id = u.team_id WHERE f.opportunity_id = 'OPP-0000777') d) AS deal,
        (SELECT list(v ORDER BY v.valid_from) FROM opportunity_versions v WHERE opportunity_id = 'OPP-0000777') AS versions,
        pr.l AS payment_rows, ar.l AS activity_rows, len(coalesce(pr.l, [])) AS payments, len(coalesce(ar.l, [])) AS activities
      FROM pr, ar`,
    check: (m, r) => [
      [m.rows.filter((x) => x.kind === 'payment').length, m.rows.filter((x) => x.kind === 'activity').length],
      [Number(r[0].payments), Number(r[0].activities)]
    ]
  }
];

/**
 * The raw SQL of a deals page: the matching deal_facts rows' top N with the listing's columns
 * and the owner and team names, the count, amount and value of every matching deal.
 */
function rawDealsPage(where: string, order: string): string {
  return `WITH page AS (
      SELECT f.opportunity_id, f.name, f.customer_id, f.customer_name, f.owner_id, u.name AS owner_name, f.owner_team, t.name AS team_name,
             f.stage, f.stage_idx, f.status, f.amount, f.win_probability, f.effective_forecast_category, f.expected_close_date,
             f.created_at, f.closed_at, f.product, f.source, f.competitor, f.loss_reason, f.customer_region, f.customer_industry,
             f.customer_grade, f.last_activity_at, f.customer_activity_at, f.last_stage_change_at, f.risk_pushes, f.risk_peak_amount
      FROM (SELECT opportunity_id, name, customer_id, customer_name, owner_id, owner_team, stage, stage_idx, status, amount, win_probability,
                   effective_forecast_category, expected_close_date, created_at, closed_at, product, source, competitor, loss_reason,
                   customer_region, customer_industry, customer_grade, last_activity_at, customer_activity_at, last_stage_change_at,
                   risk_pushes, risk_peak_amount
            FROM deal_facts WHERE ${where} ORDER BY ${order}, opportunity_id LIMIT 50) f
      LEFT JOIN users u ON u.user_id = f.owner_id LEFT JOIN teams t ON t.team_id = f.owner_team)
    SELECT count(*) AS n, sum(amount) AS amount, sum(effective_amount) AS value,
      (SELECT list(opportunity_id ORDER BY ${order}, opportunity_id) FROM page) AS ids, (SELECT list(page) FROM page) AS rows
    FROM deal_facts WHERE ${where}`;
}

function pct(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i];
}

export const models: Suite = {
  name: 'models',
  description: 'p50/p95 of every catalog model with default parameters at 1M opportunities, beside hand-written raw SQL of the same aggregate',
  async run(log) {
    const cfg = parseConfig({});
    if (!cfg.ok) throw new Error(cfg.issues.join('; '));
    const config = cfg.config;
    // BENCH_MODELS_DB reuses a large demo database made with `cockpit demo --scale large --seed 42
    // --as-of 2026-06-15` (to iterate on one model); by default the suite makes its own.
    const reuse = process.env.BENCH_MODELS_DB;
    const dir = reuse ? null : mkdtempSync(join(tmpdir(), 'bench-models-'));
    const db = await Database.open(reuse ?? join(dir!, 'large.duckdb'));
    // Facts of an older definition are rebuilt once, before any timing.
    await ensureFacts(db, stageInfos(config));
    try {
      if (!reuse) {
        const t0 = performance.now();
        const demo = await generateDemo(db, { scale: 'large', seed: 42, asOf: AS_OF, stages: stageInfos(config) });
        log(`demo large generated in ${((performance.now() - t0) / 1000).toFixed(0)} s: ${demo.counts.opportunities.toLocaleString()} opportunities`);
      }
      const only = process.env.BENCH_CASES ? new RegExp(process.env.BENCH_CASES) : null;

      const covered = new Set(CASES.map((c) => c.model));
      const cases: Case[] = [
        // Baselines are written for models that may not be in this build's catalog yet.
        ...CASES.filter((c) => (MODEL_NAMES as string[]).includes(c.model)),
        // A model added to the catalog without a case here is still measured, without a baseline.
        ...MODEL_NAMES.filter((n) => !covered.has(n)).map((n) => ({ name: `${n} (no raw baseline yet)`, model: n }))
      ];
      const rows: BenchRow[] = [];
      for (const c of cases) {
        if (only && !only.test(c.name)) continue;
        const params = { as_of: AS_OF, ...c.params };
        const model = () => runModel(db, config, c.model, params, { all: true });
        const raw = c.raw ? () => db.query(c.raw!) : null;
        const first = await model();
        if (raw && c.check) {
          const [a, b] = c.check(first, (await raw()).rows);
          if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${c.name}: model and raw SQL disagree: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
        }
        await model();
        if (raw) await raw();
        const tm: number[] = [];
        const tr: number[] = [];
        for (let i = 0; i < ITERATIONS; i++) {
          let s = performance.now();
          await model();
          tm.push(performance.now() - s);
          if (raw) {
            s = performance.now();
            await raw();
            tr.push(performance.now() - s);
          }
        }
        tm.sort((a, b) => a - b);
        tr.sort((a, b) => a - b);
        const p50 = pct(tm, 0.5);
        const p95 = pct(tm, 0.95);
        const r50 = raw ? pct(tr, 0.5) : undefined;
        log(`${c.name}: p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms${r50 !== undefined ? `; raw SQL p50 ${r50.toFixed(0)} ms` : ''}`);
        rows.push({
          case: c.name,
          value: p50,
          baseline: r50,
          baseline_label: raw ? 'raw SQL' : undefined,
          // The machine is shared: the 1-minute load average says how much else was running.
          note: `p95 ${p95.toFixed(0)} ms${raw ? `, raw p95 ${pct(tr, 0.95).toFixed(0)} ms` : ''}; n = ${first.n.toLocaleString()}; load ${loadavg()[0].toFixed(1)}${p50 > 100 ? '; over the 100 ms target' : ''}`
        });
      }
      return rows;
    } finally {
      await db.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
};
