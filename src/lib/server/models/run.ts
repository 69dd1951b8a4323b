/**
 * Runs a model from the catalog: parse params → resolve the period → build the query → put
 * the viewer's scope below it → execute → validate rows → finalize → result.
 * The HTTP API (`/api/models/<name>`) and `cockpit metric` both call `runModel`.
 */
import type { z } from 'zod';
import { catalog, type CatalogName } from '../../../../models/index';
import type { Model, ModelContext, ModelOutput, ModelQuery, StageInfo } from '../../../../models/model';
import { previousPeriod, resolvePreset, todayIn, type Period, type PeriodPreset } from '../../../../models/common/period';
import { isAll, scopeCtes, type Scope } from '../../../../models/common/scope';
import { customersComplete, ensureFacts, factsHorizon, positiveLtvCustomers, revenueHorizon } from '../../../../warehouse/facts';
import type { CockpitConfig } from '../config/schema';
import { formatIssues } from '../config/load';
import type { ColumnInfo, Database } from '../db/database';
import { compile, join, sql, unsafeRaw, type Sql } from '../db/sql';
import { cacheFor, cacheKey, type CacheState, type CachedResult } from './cache';
import { sharedRelations } from './shared';
import { CSV_COPY_OPTIONS, csvCopyFields } from '../export/csv-sql';
import { copyStream } from '../export/pipe';
import { XLSX_COPY_OPTIONS, xlsxRowField } from '../export/xlsx-sql';

export class ModelError extends Error {
  constructor(
    readonly status: 400 | 404 | 500,
    message: string,
    readonly issues: string[] = []
  ) {
    super(message);
  }
}

export interface ModelResult {
  model: string;
  title: Model['title'];
  definition: Model['definition'];
  /** The date the period filters on. */
  date_field: string;
  period: Period;
  previous_period: Period | null;
  as_of: string;
  params: Record<string, unknown>;
  n: number;
  columns: ColumnInfo[];
  rows: Record<string, unknown>[];
  summary?: Record<string, unknown>;
  /** Query time in milliseconds. */
  ms: number;
}

import { stageInfos } from '../../../../warehouse/stages';

export { stageInfos };

/** Looks a model up by name; 404 when it is not in the catalog. */
export function getModel(name: string): Model {
  if (!Object.hasOwn(catalog, name)) {
    throw new ModelError(404, `unknown model "${name}"; models: ${Object.keys(catalog).join(', ')}`);
  }
  return catalog[name as CatalogName] as unknown as Model;
}

/** Validates raw params against a model's schema; 400 with every issue when they are wrong. */
export function parseParams(model: Model, raw: Record<string, unknown>): Record<string, unknown> {
  const r = model.params.safeParse(raw);
  if (!r.success) {
    const issues = formatIssues(r.error.issues, model.params);
    throw new ModelError(400, `invalid parameters for ${model.name}: ${issues.join('; ')}`, issues);
  }
  return r.data as Record<string, unknown>;
}

/** The context a model's query is built in: report date, periods, stages, calendar. */
export function buildContext(
  model: Model,
  params: Record<string, unknown>,
  config: CockpitConfig,
  now = new Date()
): ModelContext {
  const asOf = (params.as_of as string | undefined) ?? todayIn(config.timezone, now);
  const fy = config.fiscal_year_start_month;
  const period: Period =
    params.from && params.to
      ? { from: params.from as string, to: params.to as string, preset: 'custom' }
      : resolvePreset((params.period as PeriodPreset | undefined) ?? model.defaultPeriod, asOf, fy);
  return {
    asOf,
    period,
    previous: previousPeriod(period, asOf, true),
    previousFull: previousPeriod(period, asOf, false),
    stages: stageInfos(config),
    fiscalYearStartMonth: fy,
    stalledAfterDays: config.stalled_after_days,
    currency: config.currency
  };
}

const BASE_NAMES = new Set(['deal_facts', 'stage_facts', 'payment_facts', 'customer_facts', 'team_tree', 'scope_teams', 'scope_users', 'stages', 'teams', 'users', 'customers', 'opportunities', 'opportunity_versions', 'stage_events', 'payments', 'activities', 'targets', 'forecast_snapshots', 'deal_lookup', 'deal_locator', 'deal_activities', 'deal_facts_rows', 'payment_facts_rows']);

/** The `stages` relation from the configuration: name, idx, kind, probability, forecast_category, stalled_after_days. */
function stagesCte(stages: StageInfo[]): Sql {
  const rows = stages.map(
    (s) => sql`(${s.name}, ${s.index}::INTEGER, ${s.kind}, ${s.probability}::DOUBLE, ${s.forecast_category}, ${s.stalled_after_days}::INTEGER)`
  );
  return sql`stages AS (SELECT * FROM (VALUES ${join(rows)}) t(name, idx, kind, probability, forecast_category, stalled_after_days))`;
}

/**
 * The full statement for a model: scope CTEs, the stages relation, the model's CTEs, its body
 * (a `shared` CTE computed inline, as in any single call).
 */
export function compileModel(model: Model, params: Record<string, unknown>, ctx: ModelContext, scope: Scope | null): Sql {
  return compileQuery(model.name, model.query(params as never, ctx), ctx, scope);
}

function compileQuery(name: string, q: ModelQuery, ctx: ModelContext, scope: Scope | null): Sql {
  const own = (q.ctes ?? []).map(([cte, body, opts]) => {
    if (BASE_NAMES.has(cte)) throw new Error(`model ${name} defines CTE "${cte}", which is reserved for scoping`);
    if (!/^[a-z_][a-z0-9_]*$/.test(cte)) throw new Error(`invalid CTE name "${cte}"`);
    const mat = opts?.materialized === true ? 'MATERIALIZED ' : opts?.materialized === false ? 'NOT MATERIALIZED ' : '';
    return sql`${unsafeRaw(cte)} AS ${unsafeRaw(mat)}(${body})`;
  });
  return sql`WITH RECURSIVE ${join([...scopeCtes(scope, q.deal), stagesCte(ctx.stages), ...own], ',\n')}\n${q.body}`;
}

/**
 * Runs a model's query, its `shared` CTE read from the table of the calls that compute the
 * same relation (./shared.ts): the statement of that CTE alone (scope, stages, the CTEs up to
 * it) is the key, and the query reads `SELECT * FROM` the table in its place.
 */
async function runQuery(db: Database, config: CockpitConfig, model: Model, q: ModelQuery, ctx: ModelContext, scope: Scope | null) {
  const at = q.shared ? (q.ctes ?? []).findIndex(([n]) => n === q.shared) : -1;
  if (at < 0) return db.query(compileQuery(model.name, q, ctx, scope), { priority: model.priority, prepared: true });
  const ctes = q.ctes!;
  const relation = compileQuery(model.name, { ctes: ctes.slice(0, at + 1), body: sql`SELECT * FROM ${unsafeRaw(q.shared!)}` }, ctx, scope);
  const { text, params } = compile(relation);
  const keep = config.server.result_cache_mb > 0;
  return sharedRelations(db).use(cacheKey([text, params]), relation, keep, (table) =>
    db.query(compileQuery(model.name, { ctes: [[q.shared!, sql`SELECT * FROM ${table}`], ...ctes.slice(at + 1)], body: q.body }, ctx, scope), {
      priority: model.priority
    })
  );
}

/**
 * Runs a model. `scope` is the viewer's scope: null means no access (every relation empty);
 * it is never taken from the params.
 */
export async function runModel(
  db: Database,
  config: CockpitConfig,
  name: string,
  rawParams: Record<string, unknown>,
  scope: Scope | null,
  now = new Date()
): Promise<ModelResult> {
  const model = getModel(name);
  const params = parseParams(model, rawParams);
  const ctx = buildContext(model, params, config, now);
  let result: Awaited<ReturnType<typeof runQuery>>;
  let t0: number;
  // The derived tables are fresh for the data the query reads: a sync commits its rows first and
  // rebuilds them in a transaction of its own right after (connectors/load/sync.ts,
  // rebuildAfterCommit), so a query that passed ensureFacts before that commit but started
  // after it would read the new rows beside the former facts. Any write that began or ended
  // while the query ran (the write generation moved) makes it run again, after ensureFacts,
  // which then waits for the rebuild (docs/decisions.md, "Derived tables rebuilt after the
  // landing commits"). Twice at most: a third answer is served as it is.
  for (let attempt = 0; ; attempt++) {
    await ensureFacts(db, ctx.stages);
    const generation = db.writeGeneration;
    // Lets the listings leave out the paths for events after the report date when there are none.
    ctx.factsHorizon = await factsHorizon(db);
    ctx.revenueHorizon = await revenueHorizon(db);
    ctx.everyCustomerListed = isAll(scope) && (await customersComplete(db));
    ctx.positiveLtv = ctx.everyCustomerListed ? await positiveLtvCustomers(db) : undefined;
    const q = model.query(params as never, ctx);
    t0 = performance.now();
    result = await runQuery(db, config, model, q, ctx, scope);
    if (db.writeGeneration === generation || attempt === 2) break;
  }
  const ms = Math.round((performance.now() - t0) * 10) / 10;

  const out: ModelOutput<unknown> = model.finalize
    ? model.finalize(result.rows, params as never, ctx)
    : { rows: result.rows, n: result.rows.reduce((s, r) => s + (typeof r.n === 'number' ? r.n : 0), 0) };
  const parsed = (model.row as z.ZodType).array().safeParse(out.rows);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error.issues, model.row);
    throw new ModelError(500, `model ${name} returned rows that do not match its row schema: ${issues.slice(0, 5).join('; ')}`, issues);
  }
  const outRows = parsed.data as Record<string, unknown>[];
  return {
    model: model.name,
    title: model.title,
    definition: model.definition,
    date_field: model.dateField(params as never),
    period: ctx.period,
    previous_period: ctx.previous,
    as_of: ctx.asOf,
    params,
    n: out.n,
    columns: columnsFor(result.columns, outRows),
    rows: outRows,
    summary: out.summary,
    ms
  };
}

/**
 * `runModel` through the process's result cache (./cache.ts): the same answer for the same
 * model, parameters, day, scope and data version is computed once and then served from memory
 * until the next write; identical calls in flight share one query. The key is taken from the
 * request as given — model name, its raw parameters (the token's locked filters already in
 * them), the viewer's scope, today's date in the business time zone (what a missing `as_of`
 * resolves to) and the configuration — so a hit costs no parsing or SQL building; everything
 * the answer depends on is in it (a model is a pure function of its parameters, the resolved
 * report date, the configuration and the data). Parameter errors are thrown, never kept.
 * The result is shared: callers must not change it.
 */
export async function runModelCached(
  db: Database,
  config: CockpitConfig,
  name: string,
  rawParams: Record<string, unknown>,
  scope: Scope | null,
  now = new Date()
): Promise<{ entry: CachedResult; state: CacheState }> {
  const raw = Object.keys(rawParams)
    .sort()
    .map((k) => [k, rawParams[k]]);
  const key = cacheKey([name, raw, scopeKey(scope), todayIn(config.timezone, now), configKey(config)]);
  // Read before the query runs: a write that lands meanwhile moves it past this one.
  const generation = db.writeGeneration;
  const cache = cacheFor(db, config.server.result_cache_mb * 2 ** 20);
  return cache.get(key, generation, () => runModel(db, config, name, rawParams, scope, now));
}

const configKeys = new WeakMap<CockpitConfig, string>();
/** The configuration as part of a cache key (stages, calendar, currency … all of it). */
function configKey(config: CockpitConfig): string {
  let k = configKeys.get(config);
  if (!k) configKeys.set(config, (k = cacheKey([config])));
  return k;
}

/** A scope as a stable string (ids sorted), for cache keys. */
function scopeKey(scope: Scope | null): string {
  if (!scope) return 'none';
  if ('all' in scope && scope.all) return 'all';
  const s = scope as { team_ids?: string[]; owner_ids?: string[] };
  return JSON.stringify([[...(s.team_ids ?? [])].sort(), [...(s.owner_ids ?? [])].sort()]);
}

/** Column types for the final rows: the SQL's where it has the column, else inferred. */
function columnsFor(sqlColumns: ColumnInfo[], rows: Record<string, unknown>[]): ColumnInfo[] {
  const known = new Map(sqlColumns.map((c) => [c.name, c.type]));
  const names = rows.length > 0 ? Object.keys(rows[0]) : sqlColumns.map((c) => c.name);
  return names.map((name) => {
    if (known.has(name)) return { name, type: known.get(name)! };
    const values = rows.map((r) => r[name]).filter((v) => v !== null && v !== undefined);
    const type =
      values.length > 0 && values.every((v) => Number.isInteger(v) && Math.abs(v as number) < 2 ** 31)
        ? 'INTEGER'
        : typeof values[0] === 'number'
          ? 'DOUBLE'
          : typeof values[0] === 'boolean'
            ? 'BOOLEAN'
            : 'VARCHAR';
    return { name, type };
  });
}

/** What an export reads: the model, its report date, the columns and the rows chunk by chunk. */
export interface ExportSource {
  model: Model;
  asOf: string;
  columns: ColumnInfo[];
  /** Row arrays in `columns` order; closing it early (`return()`) releases the connection. */
  chunks: AsyncGenerator<unknown[][], void, undefined>;
  /**
   * For `format: 'csv'` on a row-listing model whose export query names its order: the CSV
   * lines (no header), formatted in SQL and written by DuckDB's CSV writer into a pipe
   * (export/pipe.ts); `chunks` is then empty.
   */
  csvBytes?: ReadableStream<Uint8Array>;
  /** The same for `format: 'xlsx'`: the sheet's `<row>` elements (export/xlsx-sql.ts), to be zipped. */
  xlsxRows?: ReadableStream<Uint8Array>;
}

/** A row model's column names, in order (its zod shape). */
function rowColumns(model: Model): string[] {
  return Object.keys((model.row as unknown as { shape: Record<string, unknown> }).shape ?? {});
}

/**
 * The statement a row-listing model's export runs: its `exportQuery` under the viewer's scope
 * CTEs, every matching row in the listing's order. `select(projection)` is the same rows with
 * another select list (the CSV text of each column), sorted in that same SELECT when the query
 * names its `order`; `ordered` says whether it does. Exported for the bench, whose baseline
 * is DuckDB's COPY of `statement`.
 */
export function compileExport(config: CockpitConfig, name: string, rawParams: Record<string, unknown>, scope: Scope | null, now = new Date()) {
  const model = getModel(name);
  if (!model.exportQuery) throw new ModelError(400, `model ${name} has no export query`);
  const params = parseParams(model, rawParams);
  const ctx = buildContext(model, params, config, now);
  const q = model.exportQuery(params as never, ctx);
  const names = rowColumns(model);
  const compiled = (body: Sql) => compileModel({ ...model, query: () => ({ ctes: q.ctes, body }) }, params, ctx, scope);
  const select = (projection: Sql) =>
    compiled(q.order ? sql`SELECT ${projection} FROM (${q.body}) export_rows ORDER BY ${q.order}` : sql`SELECT ${projection} FROM (${q.body}) export_rows`);
  const statement = q.order && names.length ? select(join(names.map((n) => unsafeRaw(`"${n.replace(/"/g, '""')}"`)))) : compiled(q.body);
  return { model, ctx, statement, select, ordered: !!q.order && names.length > 0 };
}

/**
 * Opens a model for export under the viewer's scope. A row-listing model with an
 * `exportQuery` is streamed from DuckDB (every row the pages would show, in the same order,
 * no paging, no per-row validation): as CSV text written by DuckDB itself when the query names
 * its order and a pipe is free, else chunk by chunk as values; any other model is run as usual
 * and its result rows exported.
 */
export async function openExport(
  db: Database,
  config: CockpitConfig,
  name: string,
  rawParams: Record<string, unknown>,
  scope: Scope | null,
  now = new Date(),
  options: { format?: 'csv' | 'xlsx' } = {}
): Promise<ExportSource> {
  const model = getModel(name);
  if (model.exportQuery) {
    const { statement, ctx, select, ordered } = compileExport(config, name, rawParams, scope, now);
    await ensureFacts(db, ctx.stages);
    // XLSX from DuckDB's rows only when asked for (its cells carry no references: xlsx-sql.ts).
    if (options.format && ordered && (options.format === 'csv' || process.env.COCKPIT_EXPORT_XLSX === 'sql')) {
      // The columns (names and types) first, from a plan that reads nothing; then the text.
      const { columns } = await db.query(sql`SELECT * FROM (${statement}) LIMIT 0`);
      checkExportColumns(model, columns);
      const bytes =
        options.format === 'csv'
          ? copyStream(db, select(csvCopyFields(columns)), CSV_COPY_OPTIONS)
          : copyStream(db, select(xlsxRowField(columns)), XLSX_COPY_OPTIONS);
      if (bytes) {
        async function* none() {}
        return { model, asOf: ctx.asOf, columns, chunks: none(), ...(options.format === 'csv' ? { csvBytes: bytes } : { xlsxRows: bytes }) };
      }
    }
    const gen = db.stream(statement);
    const first = await gen.next();
    const columns = first.value as ColumnInfo[];
    try {
      checkExportColumns(model, columns);
    } catch (e) {
      await gen.return();
      throw e;
    }
    return { model, asOf: ctx.asOf, columns, chunks: gen as AsyncGenerator<unknown[][], void, undefined> };
  }
  const result = await runModel(db, config, name, rawParams, scope, now);
  const names = result.columns.map((c) => c.name);
  async function* one() {
    yield result.rows.map((r) => names.map((n) => r[n]));
  }
  return { model, asOf: result.as_of, columns: result.columns, chunks: one() };
}

/** An export query must list exactly the model's row columns, in order. */
function checkExportColumns(model: Model, columns: ColumnInfo[]) {
  const expected = rowColumns(model);
  if (expected.length && columns.map((c) => c.name).join() !== expected.join()) {
    throw new ModelError(500, `model ${model.name}: exportQuery columns (${columns.map((c) => c.name).join(', ')}) differ from its rows (${expected.join(', ')})`);
  }
}
