/**
 * Time buckets for series (metrics.md, `grain`): a bucket is named by its first day
 * (`YYYY-MM-DD`) and labelled for people (`2026-03`, `2026-Q1`, `2026-W10`, `2026`).
 * Weeks are ISO weeks (Monday first); quarters and years follow `fiscal_year_start_month`,
 * and a fiscal year that does not start in January is named after the calendar year it ends
 * in (as `dimensionLabel` does for quarters).
 */
import { sql, type Sql } from '../../src/lib/server/db/sql';
import { ALL_FROM, ALL_TO, addDays, type Grain, type Period } from './period';

const STEP: Record<Grain, string> = {
  day: '1 day',
  week: '7 days',
  month: '1 month',
  quarter: '3 months',
  year: '12 months'
};

/** The first day (DATE) of the bucket containing a date or timestamp expression. */
export function bucketStart(grain: Grain, expr: Sql, fyStartMonth: number): Sql {
  const shift = fyStartMonth - 1;
  switch (grain) {
    case 'day':
      return sql`(${expr})::DATE`;
    case 'week':
      return sql`date_trunc('week', ${expr})::DATE`;
    case 'month':
      return sql`date_trunc('month', ${expr})::DATE`;
    case 'quarter':
      return sql`(date_trunc('quarter', ${expr} - to_months(${shift}::INTEGER)) + to_months(${shift}::INTEGER))::DATE`;
    case 'year':
      return sql`(date_trunc('year', ${expr} - to_months(${shift}::INTEGER)) + to_months(${shift}::INTEGER))::DATE`;
  }
}

/** A readable label for a bucket start (DATE expression). */
export function bucketLabel(grain: Grain, start: Sql, fyStartMonth: number): Sql {
  const shift = fyStartMonth - 1;
  const fiscalYear = shift === 0 ? sql`year(${start})` : sql`year(${start} + to_months(${12 - shift}::INTEGER))`;
  switch (grain) {
    case 'day':
      return sql`strftime(${start}, '%Y-%m-%d')`;
    case 'week':
      return sql`(isoyear(${start})::VARCHAR || '-W' || lpad(week(${start})::VARCHAR, 2, '0'))`;
    case 'month':
      return sql`strftime(${start}, '%Y-%m')`;
    case 'quarter':
      return sql`(${fiscalYear}::VARCHAR || '-Q' || (((month(${start}) - ${fyStartMonth}::INTEGER + 12) % 12) // 3 + 1)::VARCHAR)`;
    case 'year':
      return sql`${fiscalYear}::VARCHAR`;
  }
}

/**
 * Every bucket of a period, as a relation `(bucket DATE)`: from the bucket of the period's
 * first day to the bucket of its last day. For the unbounded `all` period, from the bucket of
 * `extent`'s first value to the bucket of its last (an SQL query returning `lo`, `hi`).
 */
export function bucketsRelation(grain: Grain, period: Period, fyStartMonth: number, extent: Sql): Sql {
  const step = sql`${STEP[grain]}::INTERVAL`;
  if (period.from === ALL_FROM && period.to === ALL_TO) {
    return sql`SELECT unnest(generate_series(${bucketStart(grain, sql`e.lo`, fyStartMonth)}::TIMESTAMP, ${bucketStart(grain, sql`e.hi`, fyStartMonth)}::TIMESTAMP, ${step}))::DATE AS bucket
      FROM (${extent}) e WHERE e.lo IS NOT NULL`;
  }
  const first = bucketStart(grain, sql`${period.from}::DATE`, fyStartMonth);
  const last = bucketStart(grain, sql`${addDays(period.to, -1)}::DATE`, fyStartMonth);
  return sql`SELECT unnest(generate_series(${first}::TIMESTAMP, ${last}::TIMESTAMP, ${step}))::DATE AS bucket`;
}
