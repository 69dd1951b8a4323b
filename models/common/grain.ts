/**
 * Time buckets for series (metrics.md, common parameters: `grain`).
 *
 * - day: the calendar day; week: ISO weeks starting on Monday; month: calendar months;
 *   quarter and year: fiscal, following `fiscal_year_start_month`.
 * - A series covers every bucket that overlaps the period, the first and last clipped to it
 *   (`from`/`to`), so empty buckets are present; for the `all` period the buckets span the
 *   data (first to last date of the measure) instead of the preset's 1900–2200 range.
 * - Labels: day and week `YYYY-MM-DD` (the bucket's first day), month `YYYY-MM`, quarter
 *   `2026-Q2`, year `2026` (or `FY2027` when the fiscal year does not start in January; a
 *   fiscal year is named after the calendar year it ends in).
 */
import { sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';
import type { Grain, Period } from './period';
import { ALL_FROM, ALL_TO } from './period';
import { dimensionLabel, fiscalQuarterStart } from './relations';
import type { ModelContext } from '../model';

/** The first day (DATE) of the bucket containing a date or timestamp expression. */
export function bucketStart(date: Sql, grain: Grain, fyStartMonth: number): Sql {
  const shift = fyStartMonth - 1;
  switch (grain) {
    case 'day':
      return sql`(${date})::DATE`;
    case 'week':
      return sql`date_trunc('week', ${date})::DATE`;
    case 'month':
      return sql`date_trunc('month', ${date})::DATE`;
    case 'quarter':
      return fiscalQuarterStart(date, fyStartMonth);
    case 'year':
      return sql`(date_trunc('year', ${date} - to_months(${shift}::INTEGER)) + to_months(${shift}::INTEGER))::DATE`;
  }
}

/** The length of one bucket as an interval constant. */
export function grainStep(grain: Grain): Sql {
  return unsafeRaw({ day: 'INTERVAL 1 DAY', week: 'INTERVAL 7 DAY', month: 'INTERVAL 1 MONTH', quarter: 'INTERVAL 3 MONTH', year: 'INTERVAL 12 MONTH' }[grain]);
}

/** A readable label for a bucket start (DATE expression). */
export function bucketLabel(bucket: Sql, grain: Grain, ctx: ModelContext): Sql {
  const shift = ctx.fiscalYearStartMonth - 1;
  switch (grain) {
    case 'day':
    case 'week':
      return sql`strftime(${bucket}, '%Y-%m-%d')`;
    case 'month':
      return sql`strftime(${bucket}, '%Y-%m')`;
    case 'quarter':
      return dimensionLabel('quarter', sql`strftime(${bucket}, '%Y-%m-%d')`, ctx);
    case 'year':
      return shift === 0 ? sql`year(${bucket})::VARCHAR` : sql`'FY' || year(${bucket} + to_months(${12 - shift}::INTEGER))::VARCHAR`;
  }
}

/**
 * A relation of the buckets covering a period: `bucket` (first day), `bucket_end` (exclusive),
 * `b_from`/`b_to` (clipped to the period), `label`. For the `all` period, `dataBounds` gives
 * the earliest and latest date in the data (a SELECT of two columns `lo`, `hi`); with no data
 * there are no buckets.
 */
export function bucketsRelation(period: Period, grain: Grain, ctx: ModelContext, dataBounds?: Sql): Sql {
  const step = grainStep(grain);
  const all = period.preset === 'all' || period.from <= ALL_FROM;
  // The data's own bounds, kept inside what `all` stands for (a stored year 57343 or an
  // infinite timestamp would otherwise ask for an endless series).
  const lo = all && dataBounds ? sql`(greatest((SELECT lo FROM (${dataBounds}))::DATE, ${ALL_FROM}::DATE))` : sql`${period.from}::DATE`;
  const hi = all && dataBounds ? sql`(least((SELECT hi FROM (${dataBounds}))::DATE, ${ALL_TO}::DATE - 1) + 1)` : sql`${period.to}::DATE`;
  const pFrom = sql`${period.from}::DATE`;
  const pTo = sql`${period.to}::DATE`;
  return sql`(
    SELECT b AS bucket, (b + ${step})::DATE AS bucket_end,
           greatest(b, ${pFrom}) AS b_from, least((b + ${step})::DATE, ${pTo}) AS b_to,
           ${bucketLabel(sql`b`, grain, ctx)} AS label
    FROM (SELECT unnest(range(${bucketStart(lo, grain, ctx.fiscalYearStartMonth)}::TIMESTAMP, ${hi}::TIMESTAMP, ${step}))::DATE AS b)
    WHERE ${lo} IS NOT NULL
  )`;
}
