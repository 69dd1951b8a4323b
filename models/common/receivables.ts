/**
 * Receivables (metrics.md, payments): one definition of what is outstanding and overdue on a
 * day, shared by the payments model, the payment list and the customer page, so the customer
 * page's outstanding and overdue add up to the payments board's for the same customer.
 */
import { sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';

/**
 * Outstanding on day D (a DATE literal) of the payment row aliased `alias`: its amount less what
 * was paid on or before D (a payment recorded without a paid amount paid it in full). Negative
 * when more was paid than planned; sums of receivables count only positive ones.
 */
export function outstandingAt(day: string, alias = 'r'): Sql {
  const a = unsafeRaw(alias);
  return sql`(${a}.amount::DECIMAL(38,2) - CASE WHEN ${a}.paid_at IS NOT NULL AND ${a}.paid_at <= ${day}::DATE THEN coalesce(${a}.paid_amount, ${a}.amount)::DECIMAL(38,2) ELSE 0 END)`;
}

/** Past due and not fully paid on day D. */
export function overdueAt(day: string, alias = 'r'): Sql {
  return sql`(${unsafeRaw(alias)}.due_date < ${day}::DATE AND ${outstandingAt(day, alias)} > 0)`;
}
