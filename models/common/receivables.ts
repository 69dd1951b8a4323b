/**
 * Receivables (metrics.md, payments): one definition of what is outstanding and overdue on a
 * day, shared by the payments model, the payment list and the customer page, so the customer
 * page's outstanding and overdue add up to the payments board's for the same customer.
 */
import { sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';
import { addDays } from './period';

/**
 * Outstanding on day D (a DATE literal) of the payment row aliased `alias`: its amount less what
 * was paid on or before D (a payment recorded without a paid amount paid it in full). Negative
 * when more was paid than planned; sums of receivables count only positive ones.
 */
export function outstandingAt(day: string, alias = 'r'): Sql {
  const a = unsafeRaw(alias);
  return sql`(${a}.amount::DECIMAL(38,2) - CASE WHEN ${a}.paid_at IS NOT NULL AND ${a}.paid_at <= ${day}::DATE THEN coalesce(${a}.paid_amount, ${a}.amount)::DECIMAL(38,2) ELSE 0 END)`;
}

/**
 * What of the payment row aliased `alias` was paid on or before day D: `outstandingAt` is its
 * amount less this. For aggregates over many rows: Σ outstanding over rows = Σ amount − Σ
 * paidBy, and "outstanding > 0" is `owedAt`, both in the columns' own DECIMAL(18,2) with no
 * per-row DECIMAL(38,2) arithmetic (a third of the payments summary's time at 440k rows) and
 * the same exact sums.
 */
export function paidBy(day: string, alias = 'r'): Sql {
  const a = unsafeRaw(alias);
  return sql`CASE WHEN ${a}.paid_at IS NOT NULL AND ${a}.paid_at <= ${day}::DATE THEN coalesce(${a}.paid_amount, ${a}.amount) ELSE 0 END`;
}

/** `outstandingAt(day) > 0`, as a comparison (no arithmetic, so no overflow either). */
export function owedAt(day: string, alias = 'r'): Sql {
  return sql`(${unsafeRaw(alias)}.amount > ${paidBy(day, alias)})`;
}

/** Past due and not fully paid on day D. */
export function overdueAt(day: string, alias = 'r'): Sql {
  return sql`(${unsafeRaw(alias)}.due_date < ${day}::DATE AND ${outstandingAt(day, alias)} > 0)`;
}

/**
 * Whether the payment row aliased `alias` (a row of payment_facts, through `paymentsRelation`) is
 * a receivable on day D: a planned instalment (it has a due date; a row without one is an
 * unplanned receipt) not tied to a deal that closed after D (a contract signed later is not owed
 * yet). The deal's close date is the row's own `deal_closed_at` (warehouse/facts.ts), so the
 * test is a comparison: the former anti-join with the deals closed after D projected every
 * payment's deal id (4.4M at 10M deals, most of the payments summary's time). A payment without
 * a deal, or whose deal has no close date, is owed.
 */
export function receivableAt(day: string, alias = 'r'): Sql {
  const a = unsafeRaw(alias);
  return sql`(${a}.due_date IS NOT NULL AND coalesce(${a}.deal_closed_at < ${addDays(day, 1)}::TIMESTAMP, TRUE))`;
}

/**
 * The day receivables (and DSO) are measured on: the period's last day, or the report date when
 * that is earlier (a period under way).
 */
export function receivablesDay(period: { to: string }, asOf: string): string {
  const last = addDays(period.to, -1);
  return last < asOf ? last : asOf;
}

/** A receivable on day D with something still owed on D: a row of `payments`' receivables at D. */
export function openReceivableAt(day: string, alias = 'r'): Sql {
  return sql`(${outstandingAt(day, alias)} > 0 AND ${receivableAt(day, alias)})`;
}
