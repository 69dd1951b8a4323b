/**
 * Configuration of PostgreSQL and MySQL/MariaDB sources (docs/connectors.md, "## SQL").
 *
 *   { "name": "crm", "type": "postgres", "entity": "opportunities", "url_env": "CRM_PG_URL",
 *     "query": "select d.id, s.name as stage, … from crm_deals d join crm_stages s on …",
 *     "incremental": { "column": "updated_at" } }
 *
 * The connection URL (with its password) is read from the environment variable `url_env`
 * names; it never appears in the config, the database, logs or errors.
 */
import { z } from 'zod';
import { sharedSourceShape } from '../shared-options';
import { ENV_NAME } from '../secrets';

/** `table` or `schema.table`: identifiers only (quoted by the reader), never SQL. */
const TABLE = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

const sqlShape = {
  ...sharedSourceShape,
  /** Name of the environment variable holding the connection URL (`postgres://user:pw@host/db`). */
  url_env: z.string().regex(ENV_NAME, 'expected the NAME of an environment variable (e.g. "CRM_PG_URL"), not a URL'),
  /** Read a whole table (`crm_deals` or `crm.crm_deals`) … */
  table: z.string().regex(TABLE, 'expected a table name such as "crm_deals" or "crm.crm_deals"').optional(),
  /** … or the rows of a query (joins to stage, user and lost-reason tables belong here). */
  query: z.string().min(1).optional(),
  /** Incremental sync: only rows whose `column` is at or after the last sync's maximum. */
  incremental: z.strictObject({ column: z.string().min(1) }).optional(),
  /** Rows per batch handed to the pipeline. */
  batch_size: z.number().int().min(1).max(100_000).optional()
};

function oneOf(s: { table?: string; query?: string }, ctx: z.RefinementCtx) {
  if (!s.table === !s.query) {
    ctx.addIssue({ code: 'custom', path: s.table ? ['query'] : ['table'], message: 'give either "table" or "query" (exactly one)' });
  }
}

export const postgresSourceSchema = z.strictObject({ ...sqlShape, type: z.literal('postgres') }).superRefine(oneOf);
export const mysqlSourceSchema = z.strictObject({ ...sqlShape, type: z.literal('mysql') }).superRefine(oneOf);

export type PostgresSource = z.output<typeof postgresSourceSchema>;
export type MysqlSource = z.output<typeof mysqlSourceSchema>;
export type SqlSource = PostgresSource | MysqlSource;

/** Parses a source for a reader called directly, with the same messages as the config loader. */
export function parseSqlSource<T extends SqlSource>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const name = (input as { name?: unknown })?.name;
  throw new Error(r.error.issues.map((i) => `${['source', String(name ?? '?'), ...i.path.map(String)].join('.')}: ${i.message}`).join('\n'));
}

/** The user's query without a trailing semicolon (it becomes a subquery). */
export function baseQuery(s: SqlSource, quoteIdent: (name: string) => string): string {
  if (s.table) return `SELECT * FROM ${s.table.split('.').map(quoteIdent).join('.')}`;
  return s.query!.trim().replace(/;+\s*$/, '');
}
