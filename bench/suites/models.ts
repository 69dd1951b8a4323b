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
 *   customer_facts, and the rollups by owner and day deal_day_facts, payment_day_facts and
 *   activity_day_facts where the model sums them: kpis, trend, win/loss, the leaderboard), so the
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
/** This year on a rollup's `day` (warehouse/facts.ts: deal_day_facts), which the models read unfiltered as the raw SQL does. */
const YEAR_DAYS = `'2026-01-01' AND day < '2027-01-01'`;
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

/**
 * The weighted forecast by hand, as at instant `t` (the end of the report date) for the period
 * [from, to): what the forecast computes (docs/metrics.md) from the same tables. Each deal's
 * state at t: a deal whose history settled before t is in its last version (deal_facts' pit_*
 * columns; only those open then, or won with a close date that can fall in the period), the
 * others in their version valid at t (version_facts, the row groups of the deals changed since
 * t). Won in the period: Σ amount; open and expected in it: Σ amount × (its probability, else
 * its stage's), the amount being its own (unknown for a stage-dates version), else its
 * product's average won amount over the 365 days before t (12 × 30.44), else every product's;
 * beside them what the model's row also says: the categories, the open pipeline, the counts and
 * the data-quality counts (the target and its ratios aside). The stages are the default
 * configuration's.
 * (The weighted forecast has no activity recency: only the statistical method uses it.)
 */
/** The forecast, its categories and its counts agree. */
function forecastCheck(m: ModelResult, r: Record<string, unknown>[]): [unknown, unknown] {
  const a = m.rows[0];
  const b = r[0];
  const closedWon = Number(b.closed_won ?? 0);
  const commit = closedWon + Number(b.commit_open ?? 0);
  const best = commit + Number(b.best_case_open ?? 0);
  return [
    [num(a.forecast), num(a.commit), num(a.best_case), num(a.pipeline), num(a.omitted), num(a.open_pipeline), a.closed_won_n, a.open_n, a.amount_fallback_n, a.undated_n, a.past_due_n],
    [num(closedWon + Number(b.weighted ?? 0)), num(commit), num(best), num(best + Number(b.pipeline_open ?? 0)), num(b.omitted ?? 0), num(b.open_pipeline ?? 0),
      Number(b.closed_won_n), Number(b.open_n), Number(b.amount_fallback_n), Number(b.undated_n), Number(b.past_due_n)]
  ];
}

function forecastRaw(t: string, p: { from: string; to: string }): string {
  const T = `TIMESTAMP '${t}'`;
  return `WITH st(name, kind, probability, category) AS (VALUES ('初步接洽', 'open', 0.1, 'pipeline'), ('需求分析', 'open', 0.25, 'pipeline'),
        ('方案报价', 'open', 0.5, 'best_case'), ('商务谈判', 'open', 0.75, 'commit'), ('赢单', 'won', 1.0, 'commit'), ('输单', 'lost', 0.0, 'omitted')),
      won12 AS (SELECT product, amount FROM deal_facts WHERE status = 'won' AND amount > 0 AND closed_at >= ${T} - INTERVAL 365 DAY AND closed_at < ${T}),
      amt AS (SELECT product, avg(amount)::DOUBLE AS a FROM won12 GROUP BY product),
      s AS (
        SELECT f.product, f.status, f.closed_at AS f_closed, f.pit_valid_from AS v_from, f.pit_stage AS stage, f.pit_amount AS amount,
               f.pit_expected_close_date AS ecd, f.pit_probability AS prob, f.pit_forecast_category AS cat, f.pit_origin AS origin
        FROM deal_facts f
        WHERE f.pit_settled_key < ${T} AND f.pit_valid_from < ${T} AND (f.pit_valid_to IS NULL OR f.pit_valid_to >= ${T})
          AND f.pit_forecast_until >= '${p.from}'
        UNION ALL
        SELECT f.product, f.status, f.closed_at, v.valid_from, v.stage, v.amount, v.expected_close_date, v.probability, v.forecast_category, v.origin
        FROM deal_facts f JOIN version_facts v ON v.opportunity_id = f.opportunity_id
        WHERE f.pit_settled_key >= ${T} AND v.settled_key >= ${T} AND v.valid_from < ${T} AND (v.valid_to IS NULL OR v.valid_to >= ${T})
      ),
      d AS (
        SELECT st.kind, CASE WHEN s.status = st.kind AND s.f_closed < ${T} THEN s.f_closed ELSE s.v_from END AS closed_at, s.ecd,
               s.amount, coalesce(CASE WHEN s.origin = 'stage_dates' THEN NULL ELSE s.amount END, amt.a, (SELECT avg(amount) FROM won12), 0)::DOUBLE AS est,
               CASE WHEN s.origin = 'stage_dates' THEN NULL ELSE s.amount END IS NULL AS no_amount,
               coalesce(s.prob, st.probability) AS p, coalesce(s.cat, st.category) AS cat
        FROM s JOIN st ON st.name = s.stage LEFT JOIN amt ON amt.product IS NOT DISTINCT FROM s.product
      )
      SELECT sum(amount) FILTER (WHERE kind = 'won' AND closed_at >= '${p.from}' AND closed_at < '${p.to}') AS closed_won,
        sum(est * p) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}') AS weighted,
        sum(est) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}' AND cat = 'commit') AS commit_open,
        sum(est) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}' AND cat = 'best_case') AS best_case_open,
        sum(est) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}' AND cat = 'pipeline') AS pipeline_open,
        sum(est) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}' AND cat NOT IN ('commit', 'best_case', 'pipeline')) AS omitted,
        sum(est) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}') AS open_pipeline,
        count(*) FILTER (WHERE kind = 'won' AND closed_at >= '${p.from}' AND closed_at < '${p.to}') AS closed_won_n,
        count(*) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}') AS open_n,
        count(*) FILTER (WHERE kind = 'open' AND ecd >= '${p.from}' AND ecd < '${p.to}' AND no_amount) AS amount_fallback_n,
        count(*) FILTER (WHERE kind = 'open' AND ecd IS NULL) AS undated_n,
        count(*) FILTER (WHERE kind = 'open' AND ecd < ${T}::DATE - INTERVAL 1 DAY) AS past_due_n
      FROM d`;
}
// The pipeline flow of this quarter (start of 04-01 → start of 06-16, close dates in Q2),
// written by hand on the same tables the model reads: each deal's state at a moment is the one
// its deal_facts row records when its history settled before then (the pit_* columns), else
// the version valid then from version_facts (only the row groups of deals changed since:
// settled_key), carrying the last known amount, close date and owner — or, at 04-01, a month
// start the sync keeps those states for, the rows of pit_boundary_facts (warehouse/pit-states.ts);
// deals closed before the period and untouched since (pit_live_until before it) are in neither
// pipeline and not read.
const FLOW_STAGES = `SELECT * FROM (VALUES ('初步接洽', 'open'), ('需求分析', 'open'), ('方案报价', 'open'), ('商务谈判', 'open'), ('赢单', 'won'), ('输单', 'lost')) t(name, kind)`;
const flowStateAt = (t: string, kept: boolean) => `(
  SELECT x.opportunity_id, x.stage, st.kind, x.amount, x.ecd, x.owner_id,
         st.kind = 'open' AND x.ecd >= '${Q2.from}' AND x.ecd < '${Q2.to}' AS counts,
         coalesce(x.ecd >= '${Q2.from}' AND x.ecd < '${Q2.to}', FALSE) AS in_window
  FROM (
    SELECT f.opportunity_id, f.pit_stage AS stage, coalesce(f.pit_known_amount, f.amount, 0) AS amount,
           coalesce(f.pit_known_expected_close_date, f.expected_close_date) AS ecd, coalesce(f.pit_known_owner_id, f.owner_id) AS owner_id
    FROM deal_facts f
    WHERE f.pit_settled_key < '${t}' AND f.pit_valid_from < '${t}' AND (f.pit_valid_to IS NULL OR f.pit_valid_to >= '${t}')
      AND f.pit_live_until >= '${Q2.from}'
    UNION ALL
    ${
      kept
        ? `SELECT opportunity_id, v_stage, coalesce(k_amount, f_amount, 0), coalesce(k_ecd, f_ecd), coalesce(k_owner, f_owner)
    FROM pit_boundary_facts WHERE boundary_at = '${t}'`
        : `SELECT f.opportunity_id, v.stage, coalesce(k.amount, f.amount, 0), coalesce(k.ecd, f.expected_close_date), coalesce(k.owner_id, f.owner_id)
    FROM version_facts v JOIN deal_facts f ON f.opportunity_id = v.opportunity_id
    LEFT JOIN (SELECT opportunity_id, arg_max(amount, valid_from) AS amount, arg_max(expected_close_date, valid_from) AS ecd,
                      arg_max(owner_id, valid_from) AS owner_id
               FROM version_facts WHERE settled_key >= '${t}' AND valid_from < '${t}' GROUP BY opportunity_id) k ON k.opportunity_id = f.opportunity_id
    WHERE f.pit_settled_key >= '${t}' AND v.settled_key >= '${t}'
      AND v.valid_from < '${t}' AND (v.valid_to IS NULL OR v.valid_to >= '${t}')`
    }
  ) x LEFT JOIN stages st ON st.name = x.stage)`;
const FLOW_DEALS = `WITH stages AS (${FLOW_STAGES}),
  a AS ${flowStateAt('2026-04-01', true)},
  b AS ${flowStateAt('2026-06-16', false)},
  d AS (
    SELECT coalesce(a.opportunity_id, b.opportunity_id) AS opportunity_id,
      CASE WHEN a.counts AND b.counts THEN CASE WHEN b.amount > a.amount THEN 'increased' WHEN b.amount < a.amount THEN 'decreased' ELSE 'unchanged' END
           WHEN a.counts THEN CASE WHEN b.kind = 'won' THEN 'won' WHEN b.kind = 'lost' THEN 'lost'
                                   WHEN b.kind = 'open' AND NOT b.in_window THEN 'pushed_out' ELSE 'removed' END
           WHEN a.kind = 'open' AND NOT a.in_window THEN 'pulled_in' ELSE 'new' END AS bucket,
      coalesce(a.counts, FALSE) AS in_start, coalesce(b.counts, FALSE) AS in_end,
      CASE WHEN a.counts THEN a.amount ELSE 0 END AS start_value, CASE WHEN b.counts THEN b.amount ELSE 0 END AS end_value,
      a.stage AS before_stage, a.amount AS before_amount, a.ecd AS before_close_date, a.owner_id AS before_owner_id,
      b.stage AS after_stage, b.amount AS after_amount, b.ecd AS after_close_date, b.owner_id AS after_owner_id
    FROM a FULL JOIN b ON b.opportunity_id = a.opportunity_id
    WHERE coalesce(a.counts, FALSE) OR coalesce(b.counts, FALSE))`;

/** Default-parameter cases, one per model (more for the models whose other views boards use). */
export const CASES: Case[] = [
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
        median(us_to_next_1) / 86400000000.0 AS d1,
        median(us_to_next_2) / 86400000000.0 AS d2,
        median(us_to_next_3) / 86400000000.0 AS d3,
        median(us_to_next_4) / 86400000000.0 AS d4
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
        (SELECT sum(amount) FROM deal_day_facts WHERE role = 'closed' AND status = 'won' AND day >= '${Q2.from}' AND day < '${Q2.to}') AS won,
        (SELECT sum(amount) FROM deal_day_facts WHERE role = 'closed' AND status = 'won' AND day >= '${Q1_TO_DATE.from}' AND day < '${Q1_TO_DATE.to}') AS won_p,
        (SELECT sum(n) FILTER (WHERE status = 'won') / sum(n) FROM deal_day_facts WHERE role = 'closed' AND status IN ('won', 'lost') AND day >= '${Q2.from}' AND day < '${Q2.to}') AS win_rate,
        (SELECT sum(n) FROM deal_day_facts WHERE role = 'created' AND day >= '${Q2.from}' AND day < '${Q2.to}') AS new_opps,
        (SELECT count(*) FROM customer_facts WHERE first_won_at >= '${Q2.from}' AND first_won_at < '${Q2.to}') AS new_customers,
        (SELECT sum(weighted) FROM deal_day_facts WHERE role = 'expected' AND status = 'open' AND day >= '${Q2.from}' AND day < '${Q2.to}') AS weighted,
        (SELECT sum(collected) FROM payment_day_facts WHERE day >= '${Q2.from}' AND day < '${Q2.to}') AS collected,
        (SELECT sum(amount - CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END) FROM payment_facts
           WHERE due_date < '${AS_OF}' AND amount - CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END > 0) AS overdue,
        (SELECT sum(amount) FROM targets WHERE team_id = 'T0' AND period_start >= '${Q2.from}' AND period_end <= '${Q2.to}') AS target`,
    check: (m, r) => [num(m.rows.find((x) => x.measure === 'won_amount')!.value), num(r[0].won)]
  },
  {
    name: 'trend (won amount by month, this year)',
    model: 'trend',
    raw: `SELECT date_trunc('month', day) AS m, sum(amount) AS won, sum(n) AS n FROM deal_day_facts
      WHERE role = 'closed' AND status = 'won' AND day >= ${YEAR_DAYS} GROUP BY 1 ORDER BY 1`,
    check: (m, r) => [num(m.rows.reduce((s, x) => s + Number(x.value ?? 0), 0)), num(r.reduce((s, x) => s + Number(x.won), 0))]
  },
  {
    name: 'leaderboard (owners by won amount, this quarter)',
    model: 'leaderboard',
    raw: `WITH d AS (SELECT owner_id, sum(amount) FILTER (WHERE status = 'won') AS won_amount, sum(n) FILTER (WHERE status = 'won') AS won,
                         sum(n) FILTER (WHERE status = 'lost') AS lost
                  FROM deal_day_facts WHERE role = 'closed' AND status IN ('won', 'lost') AND day >= '${Q2.from}' AND day < '${Q2.to}' GROUP BY 1),
      p AS (SELECT owner_id, sum(collected) AS collected FROM payment_day_facts WHERE day >= '${Q2.from}' AND day < '${Q2.to}' GROUP BY 1),
      a AS (SELECT owner_id, sum(n) AS activities FROM activity_day_facts WHERE day >= '${Q2.from}' AND day < '${Q2.to}' GROUP BY 1),
      t AS (SELECT owner_id, sum(amount) AS target FROM targets WHERE owner_id IS NOT NULL AND period_start >= '${Q2.from}' AND period_end <= '${Q2.to}' GROUP BY 1),
      -- new customers: first won this quarter (customer_facts), credited to the owner of that first win
      nc AS (SELECT owner_id, count(*) AS new_customers FROM (
               SELECT arg_min(owner_id, closed_at) AS owner_id FROM deal_facts
               WHERE status = 'won' AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}'
                 AND customer_id IN (SELECT customer_id FROM customer_facts WHERE first_won_at >= '${Q2.from}' AND first_won_at < '${Q2.to}')
               GROUP BY customer_id) GROUP BY 1)
      SELECT u.user_id, d.won_amount, d.won / (d.won + d.lost) AS win_rate, p.collected, a.activities, d.won_amount / t.target AS attainment,
             coalesce(nc.new_customers, 0) AS new_customers, rank() OVER (ORDER BY d.won_amount DESC NULLS LAST) AS rank
      FROM users u LEFT JOIN d ON d.owner_id = u.user_id LEFT JOIN p ON p.owner_id = u.user_id
      LEFT JOIN a ON a.owner_id = u.user_id LEFT JOIN t ON t.owner_id = u.user_id LEFT JOIN nc ON nc.owner_id = u.user_id ORDER BY rank`,
    // the leader's won amount, and the new customers of every owner (the raw SQL's own formulation)
    check: (m, r) => [
      [num(m.rows[0].won_amount), m.rows.reduce((s, x) => s + Number(x.new_customers), 0)],
      [num(r[0].won_amount), r.reduce((s, x) => s + Number(x.new_customers), 0)]
    ]
  },
  {
    name: 'payments (this quarter: contracted, collected, overdue, DSO)',
    model: 'payments',
    // Every figure of the summary row with its count (it used to compute 4 of the 11): the
    // receivables are the planned instalments owing on the report date, not of a deal closed
    // after it; n = payments paid or due in the quarter, or owing.
    raw: `WITH owing AS (SELECT amount, amount - CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END AS owed, due_date, paid_at
                FROM payment_facts
                WHERE amount > CASE WHEN paid_at <= '${AS_OF}' THEN coalesce(paid_amount, amount) ELSE 0 END
                  AND due_date IS NOT NULL AND coalesce(deal_closed_at < '2026-06-16', TRUE))
      SELECT
        (SELECT sum(amount) FROM deal_facts WHERE status = 'won' AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}') AS contracted,
        (SELECT count(*) FROM deal_facts WHERE status = 'won' AND closed_at >= '${Q2.from}' AND closed_at < '${Q2.to}') AS contracted_n,
        (SELECT sum(coalesce(paid_amount, amount)) FROM payment_facts WHERE paid_at >= '${Q2.from}' AND paid_at < '${Q2.to}') AS collected,
        (SELECT count(*) FROM payment_facts WHERE paid_at >= '${Q2.from}' AND paid_at < '${Q2.to}') AS collected_n,
        (SELECT sum(amount) FROM payment_facts WHERE due_date >= '${Q2.from}' AND due_date < '${Q2.to}') AS due,
        (SELECT count(*) FROM payment_facts WHERE due_date >= '${Q2.from}' AND due_date < '${Q2.to}') AS due_n,
        (SELECT sum(owed) FROM owing WHERE due_date < '${AS_OF}') AS overdue,
        (SELECT count(*) FROM owing WHERE due_date < '${AS_OF}') AS overdue_n,
        (SELECT sum(owed) FROM owing) AS outstanding,
        (SELECT count(*) FROM owing) AS receivables_n,
        (SELECT count(*) FROM payment_facts WHERE (paid_at >= '${Q2.from}' AND paid_at < '${Q2.to}') OR (due_date >= '${Q2.from}' AND due_date < '${Q2.to}'))
          + (SELECT count(*) FROM owing WHERE NOT coalesce((paid_at >= '${Q2.from}' AND paid_at < '${Q2.to}') OR (due_date >= '${Q2.from}' AND due_date < '${Q2.to}'), false)) AS n`,
    check: (m, r) => [
      [num(m.rows[0].collected), num(m.rows[0].overdue), num(m.rows[0].outstanding), m.rows[0].receivables_n, m.n],
      [num(r[0].collected), num(r[0].overdue), num(r[0].outstanding), Number(r[0].receivables_n), Number(r[0].n)]
    ]
  },
  {
    name: 'forecast (weighted, this quarter)',
    model: 'forecast',
    raw: forecastRaw('2026-06-16', Q2),
    check: forecastCheck
  },
  {
    // The same forecast as of a past report date (2026-03-15, this quarter = Q1): deals changed
    // since then are rebuilt from their versions (models/common/pit.ts), the rest read their
    // settled state from deal_facts — and so does the baseline.
    name: 'forecast (weighted, as of a past date)',
    model: 'forecast',
    params: { as_of: '2026-03-15' },
    raw: forecastRaw('2026-03-16', { from: '2026-01-01', to: '2026-04-01' }),
    check: forecastCheck
  },
  {
    name: 'win_loss (this year)',
    model: 'win_loss',
    raw: `SELECT sum(n) FILTER (WHERE status = 'won') AS won, sum(n) FILTER (WHERE status = 'lost') AS lost,
        sum(effective_amount) FILTER (WHERE status = 'won') AS won_amount, sum(effective_amount) FILTER (WHERE status = 'lost') AS lost_amount
      FROM deal_day_facts WHERE role = 'closed' AND status IN ('won', 'lost') AND day >= ${YEAR_DAYS}`,
    check: (m, r) => [[m.rows[0].won, num(m.rows[0].lost_amount)], [Number(r[0].won), num(r[0].lost_amount)]]
  },
  {
    name: 'win_loss view=series (by close month)',
    model: 'win_loss',
    params: { view: 'series' },
    // every figure of the series row: counts, amounts (a lost deal zeroed by the source valued at
    // its last open amount: effective_amount) and how many were so valued
    raw: `SELECT date_trunc('month', day) AS m, sum(n) FILTER (WHERE status = 'won') AS won, sum(n) AS closed,
        sum(n) FILTER (WHERE status = 'won') / sum(n) AS win_rate,
        coalesce(sum(effective_amount) FILTER (WHERE status = 'won'), 0) AS won_amount,
        coalesce(sum(effective_amount) FILTER (WHERE status = 'lost'), 0) AS lost_amount,
        sum(from_history) AS from_history
      FROM deal_day_facts WHERE role = 'closed' AND status IN ('won', 'lost') AND day >= ${YEAR_DAYS} GROUP BY 1 ORDER BY 1`,
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
    raw: `SELECT count(d) AS n, avg(d) / 86400000000.0 AS mean, list_transform(quantile_cont(d, [0.5, 0.75, 0.9]), x -> x / 86400000000.0) AS q
      FROM (SELECT CASE WHEN closed_at >= created_at THEN epoch_us(closed_at) - epoch_us(created_at) END AS d
            FROM deal_facts WHERE status = 'won' AND closed_at >= ${YEAR})`,
    check: (m, r) => [num(m.rows[0].median_days), num((r[0].q as number[])[0])]
  },
  {
    name: 'cycle_time view=time_in_stage',
    model: 'cycle_time',
    params: { view: 'time_in_stage' },
    raw: `SELECT stage, count(*) AS n, list_transform(quantile_cont(us, [0.5, 0.75]), x -> x / 86400000000.0) AS latest, list_transform(quantile_cont(cumulative_us, [0.5, 0.75]), x -> x / 86400000000.0) AS cumulative
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
    // The owner's last activity on the customer and the customer's name from deal_facts, as
    // the model reads them (no activity or stage change in the demo is after the report date).
    raw: `WITH idle AS (
        SELECT f.opportunity_id, f.name, f.customer_id, f.customer_name, f.owner_id, f.stage, f.amount,
               date_diff('day', greatest(f.last_stage_change_at, f.last_activity_at, f.customer_activity_at)::DATE, DATE '${AS_OF}') AS idle
        FROM deal_facts f
        WHERE f.status = 'open' AND f.created_at < '2026-06-16'),
      by_stage AS (SELECT stage, count(*) AS open, count(*) FILTER (WHERE idle > 15) AS stalled,
                          sum(amount) FILTER (WHERE idle > 15) AS amount FROM idle GROUP BY stage),
      top AS (SELECT * FROM idle WHERE idle > 15 ORDER BY idle DESC, amount DESC LIMIT 100)
      SELECT t.*, u.name AS owner_name, (SELECT sum(stalled) FROM by_stage) AS total,
             (SELECT list(by_stage) FROM by_stage) AS stages
      FROM top t LEFT JOIN users u ON u.user_id = t.owner_id`,
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
    // The customer page of the demo's biggest customer (440 deals, 180 payments, 995 follow-ups):
    // its deals, its payments (payment_facts: own customer, else the deal's), its follow-ups
    // (own customer, or a deal of it when none) with the deal's name, won by month, and totals.
    name: 'customer (one customer: header, won by month, payments, follow-ups)',
    model: 'customer',
    params: { id: 'C0000001' },
    raw: `WITH cd AS (SELECT opportunity_id, name, status, amount, closed_at FROM opportunities WHERE customer_id = 'C0000001'),
      cp AS (SELECT payment_id, amount, due_date, paid_at, paid_amount, deal_name FROM payment_facts WHERE effective_customer_id = 'C0000001'),
      ca AS (SELECT a.activity_id, a.occurred_at, a.type, a.summary, u.name AS who, d.name AS deal
             FROM activities a LEFT JOIN cd d ON d.opportunity_id = a.opportunity_id LEFT JOIN users u ON u.user_id = a.owner_id
             WHERE (a.customer_id = 'C0000001' OR (a.customer_id IS NULL AND a.opportunity_id IN (SELECT opportunity_id FROM cd)))
               AND a.occurred_at < '2026-06-16'),
      w AS (SELECT date_trunc('month', closed_at) AS m, sum(amount) AS amount FROM cd WHERE status = 'won' AND closed_at < '2026-06-16' GROUP BY 1),
      months AS (SELECT unnest(range((SELECT min(m) FROM w), TIMESTAMP '2026-07-01', INTERVAL 1 MONTH)) AS m)
      SELECT c.name, u.name AS owner, t.name AS team,
        (SELECT count(*) FROM cd) AS deals, (SELECT sum(amount) FROM cd WHERE status = 'won') AS won_amount,
        (SELECT sum(amount) FROM cd WHERE status = 'open') AS open_amount,
        (SELECT sum(coalesce(paid_amount, amount)) FILTER (WHERE paid_at <= '2026-06-15') FROM cp) AS paid_total,
        (SELECT list({m: months.m, amount: coalesce(w.amount, 0)} ORDER BY months.m) FROM months LEFT JOIN w USING (m)) AS won_months,
        (SELECT list(cp ORDER BY coalesce(due_date, paid_at), payment_id) FROM cp) AS payments,
        (SELECT list(ca ORDER BY occurred_at, activity_id) FROM ca) AS activities
      FROM customers c LEFT JOIN users u ON u.user_id = c.owner_id LEFT JOIN teams t ON t.team_id = u.team_id
      WHERE c.customer_id = 'C0000001'`,
    check: (m, r) => {
      const h = m.summary?.customer as Record<string, unknown>;
      return [
        [num(h.won_amount), num(h.paid_total), m.rows.filter((x) => x.kind === 'payment').length, m.rows.filter((x) => x.kind === 'activity').length],
        [num(r[0].won_amount), num(r[0].paid_total), (r[0].payments as unknown[]).length, (r[0].activities as unknown[]).length]
      ];
    }
  },
  {
    name: 'pipeline_flow (this quarter)',
    model: 'pipeline_flow',
    raw: `${FLOW_DEALS}
      SELECT sum(start_value) FILTER (WHERE in_start) AS start, count(*) FILTER (WHERE in_start) AS start_n,
        sum(end_value) FILTER (WHERE in_end) AS "end", count(*) FILTER (WHERE in_end) AS end_n,
        sum(end_value) FILTER (WHERE bucket = 'new') AS new, sum(end_value) FILTER (WHERE bucket = 'pulled_in') AS pulled_in,
        -sum(start_value) FILTER (WHERE bucket = 'pushed_out') AS pushed_out, sum(end_value - start_value) FILTER (WHERE bucket = 'increased') AS increased,
        sum(end_value - start_value) FILTER (WHERE bucket = 'decreased') AS decreased, -sum(start_value) FILTER (WHERE bucket = 'won') AS won,
        -sum(start_value) FILTER (WHERE bucket = 'lost') AS lost, -sum(start_value) FILTER (WHERE bucket = 'removed') AS removed,
        count(*) FILTER (WHERE bucket = 'unchanged') AS unchanged_n
      FROM d`,
    check: (m, r) => {
      const v = Object.fromEntries(m.rows.map((x) => [x.bucket as string, x]));
      const keys = ['new', 'pulled_in', 'pushed_out', 'increased', 'decreased', 'won', 'lost', 'removed'];
      return [
        [num(v.start.value), v.start.deals, num(v.end.value), v.end.deals, ...keys.map((k) => num(v[k].value)), v.unchanged.deals],
        [num(r[0].start), Number(r[0].start_n), num(r[0].end), Number(r[0].end_n), ...keys.map((k) => num(r[0][k] ?? 0)), Number(r[0].unchanged_n)]
      ];
    }
  },
  {
    // The customers board's listing: every customer by historical LTV (basis payments), page 1,
    // with the totals its cards' subtitles use. The LTV from customer_facts (the demo has no
    // payment after the report date), the page's other figures from the page's events, the
    // totals from the period's and the trailing year's events, churn from each customer's last event.
    name: 'customer_list (all customers, page 1 by LTV)',
    model: 'customer_list',
    raw: `WITH c AS (SELECT c.customer_id, c.name, c.region, u.name AS owner_name, coalesce(f.paid_total, 0) AS ltv,
                          greatest(f.last_paid_at::TIMESTAMP, f.last_won_at) AS last_event
                   FROM customers c LEFT JOIN customer_facts f USING (customer_id) LEFT JOIN users u ON u.user_id = c.owner_id),
      pg AS (SELECT * FROM c ORDER BY ltv DESC, customer_id LIMIT 50),
      e AS (SELECT effective_customer_id AS customer_id, paid_at::TIMESTAMP AS t, coalesce(paid_amount, amount) AS amount, true AS rev
            FROM payment_facts WHERE paid_at < '2026-06-16' AND effective_customer_id IN (SELECT customer_id FROM pg)
            UNION ALL SELECT customer_id, closed_at, amount, false FROM deal_facts
            WHERE status = 'won' AND closed_at < '2026-06-16' AND customer_id IN (SELECT customer_id FROM pg)),
      pe AS (SELECT customer_id, sum(amount) FILTER (WHERE rev AND t >= '2025-06-16') AS revenue_year,
               bool_or(t >= '2025-06-16') AS active, bool_or(t >= '2024-06-16' AND t < '2025-06-16') AS active_last,
               count(*) FILTER (WHERE NOT rev AND t >= '2026-01-01') AS won_deals, sum(amount) FILTER (WHERE NOT rev AND t >= '2026-01-01') AS won_amount
             FROM e GROUP BY customer_id)
      SELECT (SELECT count(*) FROM c) AS total, (SELECT sum(ltv) FROM c) AS total_ltv,
        -- the period's wins and the trailing year's revenue of the listed customers (a deal or
        -- payment whose customer is not one is not theirs), as the model sums them
        (SELECT sum(amount) FROM deal_facts WHERE status = 'won' AND closed_at >= '2026-01-01' AND closed_at < '2026-06-16'
           AND customer_id IN (SELECT customer_id FROM customers)) AS won_amount,
        (SELECT sum(coalesce(paid_amount, amount)) FROM payment_facts WHERE paid_at >= '2025-06-16' AND paid_at < '2026-06-16'
           AND effective_customer_id IN (SELECT customer_id FROM customers)) AS revenue_year,
        (SELECT count(*) FROM c WHERE last_event >= '2024-06-16' AND last_event < '2025-06-16') AS churned,
        (SELECT list(customer_id ORDER BY ltv DESC, customer_id) FROM pg) AS ids,
        (SELECT list(pe) FROM pe) AS page_figures`,
    check: (m, r) => [
      [m.n, num(m.summary?.total_ltv), m.summary?.total_churned, num(m.summary?.total_won_amount), num(m.summary?.total_revenue_year), m.rows.map((x) => x.customer_id)],
      [Number(r[0].total), num(r[0].total_ltv), Number(r[0].churned), num(r[0].won_amount), num(r[0].revenue_year), r[0].ids]
    ]
  },
  {
    name: 'pipeline_flow_deals (this quarter, the start bar, page 1 by |value|)',
    model: 'pipeline_flow_deals',
    raw: `${FLOW_DEALS},
      m AS (SELECT *, start_value AS change_value FROM d WHERE in_start),
      pg AS (SELECT * FROM m ORDER BY abs(change_value) DESC NULLS LAST, opportunity_id LIMIT 50)
      SELECT pg.opportunity_id, o.name, o.customer_id, c.name AS customer_name, o.owner_id, u.name AS owner_name, pg.change_value,
        pg.before_stage, pg.after_stage, pg.before_amount, pg.after_amount, pg.before_close_date, pg.after_close_date,
        ub.name AS before_owner_name, ua.name AS after_owner_name,
        (SELECT count(*) FROM m) AS total, (SELECT sum(change_value) FROM m) AS total_value
      FROM pg JOIN opportunities o ON o.opportunity_id = pg.opportunity_id LEFT JOIN customers c ON c.customer_id = o.customer_id
      LEFT JOIN users u ON u.user_id = o.owner_id LEFT JOIN users ub ON ub.user_id = pg.before_owner_id LEFT JOIN users ua ON ua.user_id = pg.after_owner_id
      ORDER BY abs(pg.change_value) DESC NULLS LAST, pg.opportunity_id`,
    check: (m, r) => [[m.n, num(m.summary?.total_value), m.rows.map((x) => x.opportunity_id)], [Number(r[0].total), num(r[0].total_value), r.map((x) => x.opportunity_id)]]
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
    // Result cache off: a relation models share (src/lib/server/models/shared.ts) then lives only
    // while its call runs, so every timed call computes it, as the first call after a sync does.
    const cfg = parseConfig({ server: { result_cache_mb: 0 } });
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
