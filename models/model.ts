/**
 * What a metric model is: a zod params schema, a zod row schema, a pure function from params
 * (and the resolved context) to a query, and an optional `finalize` step for arithmetic that
 * SQL does badly. The runner (src/lib/server/models/run.ts) adds the viewer's scope below the
 * query, executes it, validates the rows and builds the result; the HTTP API and the
 * `cockpit metric` command are generated from the catalog (models/index.ts).
 */
import type { z } from 'zod';
import type { Sql } from '../src/lib/server/db/sql';
import type { StageConfig } from '../src/lib/server/config/schema';
import type { Period, PeriodPreset } from './common/period';
import type { StageInfo } from '../warehouse/stages';

export interface Localized {
  'zh-CN': string;
  en: string;
}

export type { StageInfo } from '../warehouse/stages';

export interface ModelContext {
  /** The report date, `YYYY-MM-DD` ("today" unless the request says otherwise). */
  asOf: string;
  /** The period the request asked for, resolved to dates. */
  period: Period;
  /**
   * The period compared with (KPIs), or null: the preceding period, cut to the same elapsed
   * length when the period contains the report date (quarter to date vs last quarter to date).
   */
  previous: Period | null;
  /** The whole preceding period (for targets, which are set per whole period). */
  previousFull: Period | null;
  stages: StageInfo[];
  fiscalYearStartMonth: number;
  stalledAfterDays: number;
  currency: string;
  /**
   * The latest instant any deal's history reaches in `deal_facts` (versions, stage changes, its
   * and its customer's activities: warehouse/facts.ts factsHorizon), `null` when none; absent
   * when not looked up. A report date whose end is after it sees every deal's whole history, so
   * the "events after the report date" paths (models/common/risk.ts lateEventsPossible) are
   * empty and can be left out of the statement.
   */
  factsHorizon?: string | null;
  /**
   * The latest revenue event (a payment received, a deal won) of any customer
   * (warehouse/facts.ts revenueHorizon), `null` when none; absent when not looked up. The
   * customer figures leave out their "revenue after the year's end" paths when it is before.
   */
  revenueHorizon?: string | null;
  /**
   * The viewer sees every row and every customer that has revenue or an open deal is in
   * `customers` (warehouse/facts.ts customersComplete): with no customer filter, the customers
   * relation then holds every customer an event names, and a semi join with it keeps every event.
   * Absent (not looked up, or a restricted viewer) means no such knowledge.
   */
  everyCustomerListed?: boolean;
  /**
   * With everyCustomerListed: how many customers have a positive total of each LTV basis, and
   * whether any payment exists (warehouse/facts.ts positiveLtvCustomers).
   */
  positiveLtv?: { payments: number; won_amount: number; anyPayments: boolean };
}

/**
 * A query: optional named CTEs of the model's own, then the final SELECT. A CTE may say
 * whether DuckDB should materialize it: `false` for a filtered relation read more than once
 * (materializing a million wide rows costs more than scanning twice), `true` for a small
 * aggregate read many times; by default DuckDB decides.
 */
export interface ModelQuery {
  ctes?: [name: string, body: Sql, options?: { materialized?: boolean }][];
  body: Sql;
  /**
   * The name of one of `ctes` that several models compute alike (the pipeline flow's per-deal
   * movements, read by the waterfall and its drill): the runner computes it — with the CTEs
   * before it, under the viewer's scope — once per data version into a table shared by every
   * call that compiles to the same relation, and the query reads that table instead
   * (src/lib/server/models/shared.ts). The CTEs after it, and the body, read it by name as usual.
   */
  shared?: string;
  /**
   * For an `exportQuery`: the ORDER BY terms over the body's columns. The body then lists the
   * row's columns and may carry more (sort keys); the export selects the row's columns (or
   * their CSV text) from it and sorts in that same top-level SELECT, the only place DuckDB
   * keeps an order through COPY and a parallel result (a sorted subquery under a projection
   * comes out in interleaved blocks at a million rows).
   */
  order?: Sql;
  /**
   * The id of the one deal this query reads: the scope then defines `deal_locator` as that deal
   * (when visible) with its `closed_at` and `created_at`, found by the primary key, so a join
   * with `deal_facts` on those reads one row group instead of every deal (models/common/scope.ts).
   */
  deal?: string;
}

export interface ModelOutput<Row> {
  rows: Row[];
  /** Figures about the whole result (overall conversion, totals …). */
  summary?: Record<string, unknown>;
  /** How many records the result was computed from (deals, payments …). */
  n: number;
}

export interface Model<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  name: string;
  title: Localized;
  /** A short "how is this computed" note, shown in a tile's info popover. */
  definition: Localized;
  /** Which date the period filters on, e.g. `opportunities.created_at`. */
  dateField(params: z.output<P>): string;
  /** Default period preset when the request gives none. */
  defaultPeriod: PeriodPreset;
  params: P;
  row: R;
  query(params: z.output<P>, ctx: ModelContext): ModelQuery;
  /**
   * Turns the SQL rows into the result (validate what you read, e.g. with a zod schema of the
   * SQL's own shape). Default: the SQL rows are the result, n = Σ row.n. Either way the
   * result's rows are checked against `row`.
   */
  finalize?(rows: Record<string, unknown>[], params: z.output<P>, ctx: ModelContext): ModelOutput<z.input<R>>;
  /**
   * For row-listing models: every row the paged `query` would page through, in the same
   * order and with exactly the columns of `row`, with no paging. The export streams it from
   * DuckDB in chunks (no finalize, no row validation), so a million-row export runs in
   * bounded memory. Models without it are exported from their `runModel` result.
   */
  exportQuery?(params: z.output<P>, ctx: ModelContext): ModelQuery;
  /**
   * A small query a page's first byte waits for (`options`): it goes ahead of the queued
   * queries on the connection pool (src/lib/server/db/database.ts), so a board's frame is not
   * sent after its tiles.
   */
  priority?: boolean;
}

/** Identity helper that keeps a model's param and row types. */
export function defineModel<P extends z.ZodType, R extends z.ZodType>(m: Model<P, R>): Model<P, R> {
  return m;
}
