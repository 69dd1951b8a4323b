/**
 * Parameters shared by the row-listing models (`deals`, `payment_list`): the rows behind a
 * number, searched, sorted and paged. Sorting is by a whitelisted column with a stable
 * tie-breaker (the row's key), so pages never overlap or skip and an export lists the same
 * rows in the same order as the pages a user sees.
 */
import { z } from 'zod';
import { ident, sql, type Sql } from '../../src/lib/server/db/sql';

/** `true`/`false` as query-string text or a boolean. */
export const boolParam = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');

/** Free-text search: trimmed, at most 200 characters; empty means no search. */
export const searchParam = z
  .string()
  .max(200)
  .transform((s) => s.trim());

/** Paging: `limit` rows from `offset`. The largest page is 1,000 rows; exports are not paged. */
export const pagingShape = {
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).max(100_000_000).default(0),
  dir: z.enum(['asc', 'desc']).default('desc')
};

/** Case-insensitive "contains" over several text columns; TRUE when `q` is empty. */
export function searchWhere(q: string | undefined, columns: Sql[]): Sql {
  if (!q) return sql`TRUE`;
  const needle = q.toLowerCase();
  const parts = columns.map((c) => sql`contains(lower(coalesce(${c}, '')), ${needle})`);
  return sql`(${parts.reduce((a, b) => sql`${a} OR ${b}`)})`;
}

/** `ORDER BY <col> ASC|DESC NULLS LAST, <key>` with the column checked against a whitelist. */
export function orderBy(column: string, allowed: readonly string[], dir: 'asc' | 'desc', key: string): Sql {
  return sql`ORDER BY ${ident(column, allowed)} ${dir === 'asc' ? sql`ASC` : sql`DESC`} NULLS LAST, ${ident(key)} ASC`;
}

/**
 * How many matching rows a listing counts (issue 15.3): `exact` (the default) counts and sums
 * every one; `bounded` stops at COUNT_CAP + 1, so a listing of millions of rows answers
 * "more than 10,000" without a second pass over all of them. Exports never page or count.
 */
export const countParam = z.enum(['exact', 'bounded']).default('exact');
export type CountMode = z.output<typeof countParam>;

/** The bound of `count=bounded`: at most this many rows are counted, one more says "more". */
export const COUNT_CAP = 10_000;

/** The rows a listing's totals aggregate: every matching row, or at most COUNT_CAP + 1 of them. */
export function boundedTotals(rows: Sql, count: CountMode): Sql {
  return count === 'bounded' ? sql`SELECT * FROM (${rows}) LIMIT ${COUNT_CAP + 1}::BIGINT` : rows;
}

/**
 * The summary's count and sums from a totals row. Capped (more than COUNT_CAP rows matched
 * under `count=bounded`): `total` is COUNT_CAP with `total_capped: true` — "at least 10,000",
 * never a wrong exact figure — and the sums, which would cover only some of the rows, are
 * null. Otherwise the exact count and sums, `total_capped: false`.
 */
export function countedTotals<K extends string>(
  n: number,
  sums: Record<K, number>,
  count: CountMode
): { total: number; total_capped: boolean } & Record<K, number | null> {
  const capped = count === 'bounded' && n > COUNT_CAP;
  const out = { total: capped ? COUNT_CAP : n, total_capped: capped } as { total: number; total_capped: boolean } & Record<K, number | null>;
  for (const k of Object.keys(sums) as K[]) (out as Record<K, number | null>)[k] = capped ? null : sums[k];
  return out;
}

/**
 * A listing's page read late (issue 15.3): `page_keys` is `keys`, a top-N over the matching rows
 * of `r.fact_rowid` and `sort_key` alone (with its ORDER BY, LIMIT and OFFSET); `page` reads those
 * rows of `rows` (a relation over the scope's `*_facts_rows`, aliased `r`) with `cols` and the
 * sort key. A scoped top-N carrying every shown column read them for all of a region's rows at
 * 10M deals: DuckDB defers the other columns by itself only when no semi join filters the scan.
 */
export function rowIdPage(keys: Sql, rows: Sql, cols: Sql): [string, Sql][] {
  return [
    ['page_keys', keys],
    [
      'page',
      sql`SELECT ${cols}, k.sort_key FROM ${rows} r JOIN page_keys k ON k.fact_rowid = r.fact_rowid
          WHERE r.fact_rowid IN (SELECT fact_rowid FROM page_keys)`
    ]
  ];
}

