/**
 * Durations between two timestamps as exact microseconds (BIGINT): the derived tables store
 * them so (deal_facts' `us_to_next_*`, stage_facts' `us`, `cumulative_us`, `previous_us`,
 * `previous_cumulative_us`) and the models take medians and quantiles over them, then divide
 * once by US_PER_DAY. DuckDB's exact quantiles run 2–5× faster over BIGINT than over DOUBLE
 * (measured: docs/decisions.md, "Durations as exact microseconds"), and DuckDB's timestamps are
 * microseconds, so nothing is rounded until the final division.
 */
import { sql, unsafeRaw, type Sql } from '../src/lib/server/db/sql';

/** Microseconds in a day: days = us / US_PER_DAY. */
export const US_PER_DAY = 86_400_000_000;

/**
 * `to − from` in microseconds; NULL when either is NULL or infinite, or when the span does not
 * fit 64 bits (hostile dates such as year 294246 against 1900: an error there would fail the
 * whole derived-table build).
 */
export function durationUs(from: Sql, to: Sql): Sql {
  return sql`TRY(epoch_us(${to}) - epoch_us(${from}))`;
}

/** A duration in microseconds (BIGINT, or a DOUBLE aggregate of them) as DOUBLE days. */
export function usToDays(us: Sql): Sql {
  return sql`(${us} / ${unsafeRaw(`${US_PER_DAY}.0`)})`;
}
