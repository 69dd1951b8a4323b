/**
 * Data quality of the open pipeline (docs/metrics.md, "Statistical forecast"): the four rules
 * that say how many open deals the forecast had to treat specially, defined once here, below
 * the models, next to the derived tables they read. Two callers apply them:
 * - the `forecast` model, to the open deals as they were at its moment (point in time, with
 *   its scope and filters; per group), in summary.data_quality and the rows' `*_n` columns;
 * - the sync and import report (connectors/load/sync.ts), to the stored open deals as of
 *   today (`dataQualityToday`): a set-based count over `deal_facts`, no probabilities, no
 *   simulation — it used to run the whole statistical forecast for these four numbers (43 s
 *   of a 45 s 20,000-row import; a 1M-row import never finished).
 *
 * The rules, for an open deal at an instant t (midnight after the report date):
 * - `amount_fallback`: no amount, and a won average stands in for it — the average won
 *   amount (amount > 0) of its product over the learning window [t − lookback, t), else of
 *   every product;
 * - `amount_missing`: no amount and nothing to fall back on (no deal won with an amount in
 *   the window): it counts as 0;
 * - `undated`: no expected close date;
 * - `past_due`: an expected close date before the report date (t − 1 day).
 * A deal can hit several rules (no amount and no close date: counted in both).
 */
import { join, sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';
import { addDays } from './dates';

export interface DataQuality {
  amount_fallback: number;
  amount_missing: number;
  undated: number;
  past_due: number;
}

/** The forecast's default learning window in months (its `window_months` parameter). */
export const DEFAULT_WINDOW_MONTHS = 12;

/**
 * Days the learning window (and so the amount fallback's averages) looks back from t: the
 * window's months, and at least far enough to see whole windows of the horizon `h` days.
 */
export function lookbackDays(windowMonths: number, h: number): number {
  return Math.max(Math.round(windowMonths * 30.44), h + 183);
}

/**
 * The amount fallback's averages as CTEs: `<prefix>amt` (product, avg_amount: by product) and
 * `<prefix>amt_all` (avg_amount: every product) over `deals` (deal_facts, or the scope's view
 * of it) won with an amount in [lookFrom, t). One scan of those deals (`<prefix>amt_sums`: per
 * product the sum and count, materialized) serves both averages: written as two averages, the
 * forecast read a year of won deals twice (10M deals: ~40 ms each). Each average is the sum
 * over the count as DOUBLE, as DuckDB's avg of a DECIMAL computes it.
 */
export function amountFallbackCtes(prefix: string, t: Sql, lookFrom: Sql, deals: Sql = sql`deal_facts`): [string, Sql, { materialized: boolean }?][] {
  const sums = unsafeRaw(`${prefix}amt_sums`);
  return [
    [`${prefix}amt_sums`, sql`SELECT product, sum(amount) AS total, count(*) AS n FROM ${deals}
      WHERE status = 'won' AND amount > 0 AND closed_at >= ${lookFrom} AND closed_at < ${t} GROUP BY product`, { materialized: true }],
    [`${prefix}amt`, sql`SELECT product, (total::DOUBLE / n)::DOUBLE AS avg_amount FROM ${sums}`],
    [`${prefix}amt_all`, sql`SELECT (sum(total)::DOUBLE / sum(n))::DOUBLE AS avg_amount FROM ${sums}`]
  ];
}

/** The amount the forecast counts for an open deal: its own, else the product's, else every product's average, else 0. */
export function amountEstimate(amount: Sql, productAvg: Sql, allAvg: Sql): Sql {
  return sql`coalesce(${amount}, ${productAvg}, ${allAvg}, 0)::DOUBLE`;
}

/** Which amount rule applies: 'own', 'product' or 'all' (the fallback), 'none' (no amount at all). */
export function amountRule(amount: Sql, productAvg: Sql, allAvg: Sql): Sql {
  return sql`CASE WHEN ${amount} IS NOT NULL THEN 'own' WHEN ${productAvg} IS NOT NULL THEN 'product'
           WHEN ${allAvg} IS NOT NULL THEN 'all' ELSE 'none' END`;
}

/**
 * The four counts as aggregate columns (amount_fallback_n, amount_missing_n, undated_n,
 * past_due_n) over open deals with an `amount_rule` column (amountRule) and an expected close
 * date. `amountCounted` limits the amount rules to the deals whose amount the caller uses
 * (the weighted forecast reads only deals expected in the period).
 */
export function dataQualityCounts(o: { t: Sql; rule: Sql; expectedClose: Sql; amountCounted?: Sql }): Sql {
  const counted = o.amountCounted ?? sql`TRUE`;
  return sql`count(*) FILTER (WHERE ${o.rule} IN ('product', 'all') AND (${counted}))::INTEGER AS amount_fallback_n,
      count(*) FILTER (WHERE ${o.rule} = 'none' AND (${counted}))::INTEGER AS amount_missing_n,
      count(*) FILTER (WHERE ${o.expectedClose} IS NULL)::INTEGER AS undated_n,
      count(*) FILTER (WHERE ${o.expectedClose} < ${o.t}::DATE - INTERVAL 1 DAY)::INTEGER AS past_due_n`;
}

/**
 * The statement counting the stored open deals as of `today` (`YYYY-MM-DD`) with the
 * forecast's default learning window: one row with the four `*_n` columns. It reads only
 * `deal_facts` (built by refreshFacts), so it runs inside a writer's transaction as well.
 */
export function dataQualityTodaySql(today: string, windowMonths = DEFAULT_WINDOW_MONTHS): Sql {
  const t = sql`${addDays(today, 1)}::TIMESTAMP`;
  const lookFrom = sql`(${t} - to_days(${lookbackDays(windowMonths, 0)}::INTEGER))`;
  const ctes = amountFallbackCtes('dq_', t, lookFrom);
  const rule = amountRule(sql`o.amount`, sql`a.avg_amount`, sql`(SELECT avg_amount FROM dq_amt_all)`);
  const withCtes = join(ctes.map(([name, body, o]) => sql`${unsafeRaw(name)} AS ${o?.materialized ? sql`MATERIALIZED ` : sql``}(${body})`), ', ');
  return sql`WITH ${withCtes}
    SELECT ${dataQualityCounts({ t, rule: sql`x.amount_rule`, expectedClose: sql`x.expected_close_date` })}
    FROM (SELECT o.expected_close_date, ${rule} AS amount_rule
          FROM deal_facts o LEFT JOIN dq_amt a ON a.product IS NOT DISTINCT FROM o.product
          WHERE o.status = 'open') x`;
}

/** Runs dataQualityTodaySql with `query` (a database or a write transaction). */
export async function dataQualityToday(
  query: (q: Sql) => Promise<{ rows: Record<string, number>[] }>,
  today: string,
  windowMonths = DEFAULT_WINDOW_MONTHS
): Promise<DataQuality> {
  const { rows } = await query(dataQualityTodaySql(today, windowMonths));
  const r = rows[0] ?? {};
  return {
    amount_fallback: Number(r.amount_fallback_n ?? 0),
    amount_missing: Number(r.amount_missing_n ?? 0),
    undated: Number(r.undated_n ?? 0),
    past_due: Number(r.past_due_n ?? 0)
  };
}
