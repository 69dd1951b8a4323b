/**
 * A sync: every selected source read, mapped and staged (before the transaction, on the writer's
 * temp tables), then landed in ONE write transaction (docs/connectors.md, "Loading"). Readers of
 * the database see the old data or the new, never half; a failure anywhere rolls the landing back
 * and is then recorded in `sync_runs`.
 *
 * Staged first (`stageAll`, Database.write's `prepare`): every source. Then, inside the
 * transaction: duplicate warnings → customer merges (same normalised name or phone) → related
 * rows (customers/users/teams an opportunity row describes) → each source's rows (upsert, in
 * config order) → stub rows for references nothing defines → opportunity history → the memo of
 * raw rows → rejected rows, sync runs, watermarks → the derived facts of the changed deals
 * (refreshFactsFor). A full rebuild of the derived facts (refreshFacts) follows the commit, in a
 * transaction of its own (`rebuildAfterCommit`).
 */
import { randomUUID } from 'node:crypto';
import type { Database, WriteTx } from '../../src/lib/server/db/database';
import type { CockpitConfig, SourceConfig } from '../../src/lib/server/config/schema';
import { ident, join, sql, unsafeRaw } from '../../src/lib/server/db/sql';
import { DUCKDB_TYPES, TABLES, type EntityName } from '../../src/lib/schema/tables';
import { factsFresh, factsFreshAtStart, refreshFacts, refreshFactsFor } from '../../warehouse/facts';
import { stageInfos } from '../../warehouse/stages';
import { dataQualityToday, type DataQuality } from '../../warehouse/data-quality';
import { readerFor } from '../readers';
import { idField, Pipeline, SourceError, type FieldMapping, type Outcome, type Rejection } from '../pipeline/pipeline';
import { wallTime } from '../pipeline/values';
import { reason, warning, whyOf, type Warning, type WarningRef } from '../pipeline/reasons';
import type { ReaderFactory, SkipReason } from '../types';
import { columnsOf, createStaging, dropStaging, Stager, stgName } from './stage';
import { ingestCsvSql } from './csv-sql';
import { ingestXlsxSql, sheetSkipWhy } from './xlsx-sql';
import { profiled } from './sql-ingest';
import { dropMemo, dropMemoTemp, writeMemo, type MemoOut } from './sync-memo';

export interface SourceReport {
  run_id: string;
  source: string;
  type: string;
  entity: EntityName;
  location: string | null;
  status: 'ok' | 'failed' | 'rolled_back';
  /** Data rows the source gave (records, blank and summary rows; not the header). */
  rows: number;
  loaded: number;
  updated: number;
  rejected: number;
  skipped: number;
  skipped_by: Record<SkipReason | 'duplicate' | 'merged' | 'unmapped', number>;
  warnings: string[];
  /**
   * Each warning's code and parameters (null for one without a code), index for index with
   * `warnings`: the upload page says them in its language (`warning.<code>`).
   */
  warning_refs: (WarningRef | null)[];
  /** The first rejections (all are in `rejected_rows`). */
  rejections: Rejection[];
  mapping: FieldMapping[];
  unmapped: string[];
  error: string | null;
  ms: number;
  /**
   * How a CSV or xlsx file was read: `sql` (DuckDB's reader, or our xlsx reader's cells appended
   * raw, and SQL over whole columns: connectors/load/csv-sql.ts, xlsx-sql.ts) or `js` (the
   * row-by-row reader and pipeline), and why not SQL.
   */
  ingest?: { path: 'sql' | 'js'; why?: string };
}

export interface SyncReport {
  ok: boolean;
  kind: 'sync' | 'import';
  started_at: string;
  finished_at: string;
  sources: SourceReport[];
  /** Customers merged because they share a normalised name or phone. */
  merges: { from: string; into: string; by: 'name' | 'phone' | 'existing name'; key: string }[];
  /** Rows created for references nothing defined (an owner name, a team). */
  stubs: Record<'customers' | 'users' | 'teams', number>;
  /**
   * The forecast's data-quality rules (warehouse/data-quality.ts, the same definition the
   * forecast's summary.data_quality applies) over the stored open deals as of today: amount
   * fallback used / no amount at all, no expected close date, expected close date past. Null
   * when the sync failed.
   */
  data_quality: DataQuality | null;
  error: string | null;
}

export type { DataQuality };

export interface SyncOptions {
  config: CockpitConfig;
  /** Directory relative source paths resolve against (the config file's). */
  baseDir: string;
  /** Source names to run (default: all). */
  only?: string[];
  /** Run these sources instead of the config's (the `import` command). */
  sources?: SourceConfig[];
  kind?: 'sync' | 'import';
  /** Readers by type, overriding the registry (tests inject failing readers). */
  readers?: Partial<Record<string, ReaderFactory>>;
  log?: (m: string) => void;
  signal?: AbortSignal;
  /** DuckDB's memory limit while reading and staging (default COCKPIT_SYNC_MEMORY_LIMIT or 400MB). */
  memoryLimit?: string;
  /** @internal set on the one retry after DuckDB ran out of memory under a lowered limit. */
  retry?: boolean;
  /**
   * @internal `false`: the former full path — every known row upserted, history judged for every
   * staged deal, every derived table rebuilt (the reference tests compare the incremental path
   * with). Default: COCKPIT_SYNC_INCREMENTAL unless `0`.
   */
  incremental?: boolean;
  /** @internal the sync's clock (tests compare two databases' histories at one instant). */
  now?: Date;
  /**
   * @internal `false`: rows and history of a table slice that holds nothing yet take the general
   * path too (marked against the stored table, compared with the stored versions) instead of
   * being appended as they are; tests/connectors/first-import.test.ts compares the two.
   */
  emptyFastPath?: boolean;
}

const MAX_WARNINGS = 200;
const MAX_REPORTED_REJECTIONS = 50;

/** Now as naive wall time in a time zone: `YYYY-MM-DD HH:MM:SS`. */
export function wallNow(timezone: string, d = new Date()): string {
  return wallTime(d.getTime(), timezone);
}

/** `400MB`, `1.5 GiB` … in MiB, as DuckDB reads them (KB, MB, GB … are powers of 1000; KiB, MiB, GiB … of 1024). */
export function parseSizeMiB(size: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP])(i?)B$/i.exec(size.trim());
  if (!m) return Infinity;
  const power = 'KMGTP'.indexOf(m[2].toUpperCase()) + 1;
  const bytes = Number(m[1]) * (m[3] ? 1024 : 1000) ** power;
  return bytes / 2 ** 20;
}

/** DuckDB's memory limit as the first sync of this process found it (see runSync). */
const baseLimits = new WeakMap<Database, Promise<string>>();
function baseMemoryLimit(db: Database): Promise<string> {
  let known = baseLimits.get(db);
  if (!known) {
    // Set before the first await: a sync started in the same tick shares this read.
    known = db.query<{ v: string }>(`SELECT current_setting('memory_limit') AS v`).then((r) => r.rows[0].v);
    baseLimits.set(db, known);
    known.catch(() => baseLimits.delete(db));
  }
  return known;
}

/**
 * Keys landed per statement (docs/connectors.md, "Memory and speed"). DuckDB's upsert and the
 * history joins hold their whole input (and the new index entries, which cannot spill) at once;
 * landing in slices of this many keys, in the same transaction, bounds that.
 * `COCKPIT_SYNC_SLICE_KEYS` overrides it (tests use tiny slices).
 */
function sliceKeys(): number {
  const v = process.env.COCKPIT_SYNC_SLICE_KEYS;
  if (v === undefined || v === '') return 1_000_000;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`COCKPIT_SYNC_SLICE_KEYS: expected a positive whole number, got "${v}"`);
  return n;
}

function sliceCount(keys: number): number {
  return Math.max(1, Math.ceil(keys / sliceKeys()));
}

/** Rows of slice `j` of `n`, by a hash of the key column (every row of one key in one slice). */
function sliceWhere(col: string, n: number, j: number, alias = ''): string {
  if (!Number.isInteger(n) || !Number.isInteger(j)) throw new Error('slice numbers must be integers');
  return n === 1 ? 'TRUE' : `hash(${alias}"${col}") % ${n} = ${j}`;
}

const utc = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 23);

function emptyReport(s: SourceConfig, runId: string): SourceReport {
  return {
    run_id: runId,
    source: s.name,
    type: s.type,
    entity: s.entity,
    location: null,
    status: 'ok',
    rows: 0,
    loaded: 0,
    updated: 0,
    rejected: 0,
    skipped: 0,
    skipped_by: { blank: 0, summary: 0, duplicate: 0, merged: 0, unmapped: 0 },
    warnings: [],
    warning_refs: [],
    rejections: [],
    mapping: [],
    unmapped: [],
    error: null,
    ms: 0
  };
}

/** Adds a warning: English text, or a coded warning (its text, and its code beside it). */
function warn(r: SourceReport, m: string | Warning, ref?: WarningRef) {
  const w = typeof m === 'string' ? { text: m, ref: ref ?? null } : { text: m.text, ref: { code: m.code, params: m.params } };
  if (r.warnings.length < MAX_WARNINGS) {
    r.warnings.push(w.text);
    r.warning_refs.push(w.ref);
  } else if (r.warnings.length === MAX_WARNINGS) {
    const more = warning('more_warnings');
    r.warnings.push(more.text);
    r.warning_refs.push({ code: more.code, params: more.params });
  }
}

/** Casts a staged text column to the canonical column's type. */
function cast(entity: EntityName, col: string, alias = ''): string {
  const spec = TABLES[entity].columns.find((c) => c.name === col)!;
  const ref = `${alias}"${col}"`;
  if (spec.type === 'text') return ref;
  if (spec.type === 'json') return `${ref}::JSON`;
  return `CAST(${ref} AS ${DUCKDB_TYPES[spec.type]})`;
}

/** Runs a sync and returns its report; never throws for source problems (they are in the report). */
export async function runSync(db: Database, opts: SyncOptions): Promise<SyncReport> {
  const { config } = opts;
  const kind = opts.kind ?? 'sync';
  const all = opts.sources ?? config.sources;
  if (opts.only?.length) {
    for (const n of opts.only) {
      if (!all.some((s) => s.name === n)) {
        throw new Error(`unknown source "${n}"; sources: ${all.map((s) => s.name).join(', ') || '(none configured)'}`);
      }
    }
  }
  const sources = opts.only?.length ? all.filter((s) => opts.only!.includes(s.name)) : all;
  const startedAt = opts.now ?? new Date();
  const now = wallNow(config.timezone, startedAt);
  const incremental = opts.incremental ?? process.env.COCKPIT_SYNC_INCREMENTAL !== '0';
  const reports = sources.map((s) => emptyReport(s, randomUUID()));
  const report: SyncReport = {
    ok: false,
    kind,
    started_at: startedAt.toISOString(),
    finished_at: '',
    sources: reports,
    merges: [],
    stubs: { customers: 0, users: 0, teams: 0 },
    data_quality: null,
    error: null
  };
  const log = opts.log ?? (() => undefined);
  if (sources.length === 0) {
    report.error = 'no sources configured (add "sources" to cockpit.config.json)';
    report.finished_at = new Date().toISOString();
    return report;
  }

  const watermarks = new Map<string, string | null>();
  {
    const { rows } = await db.query<{ source: string; watermark: string | null }>(`SELECT source, watermark FROM sync_state`);
    for (const r of rows) watermarks.set(r.source, r.watermark);
  }

  // DuckDB keeps a transaction's staged and inserted rows in memory up to its limit (80% of
  // RAM by default); a lower limit during the sync makes it spill to its temp directory, so a
  // million-row sheet imports in well under 1 GB (docs/connectors.md, "Memory").
  const limit = opts.memoryLimit ?? process.env.COCKPIT_SYNC_MEMORY_LIMIT ?? '400MB';
  if (!/^\d+(\.\d+)?\s*(KB|MB|GB|TB|PB|KiB|MiB|GiB|TiB|PiB)$/i.test(limit)) throw new Error(`COCKPIT_SYNC_MEMORY_LIMIT: expected a size such as 400MB, got "${limit}"`);
  // DuckDB's own limit, as it was before any sync of this process changed it: a sync started
  // while another runs (an upload beside a scheduled sync) would otherwise read the other's
  // lowered limit, restore that, and every later sync would take it for the ceiling.
  const previousLimit = await baseMemoryLimit(db);
  // The sync lowers DuckDB's limit, and raises it below for the steps that need more, but never
  // above that limit (DuckDB's default is 80% of the machine's memory): on a small machine a
  // 10M-row import would otherwise ask for ~10 GB and be killed instead of spilling.
  const ceilingMiB = parseSizeMiB(previousLimit);
  const startMiB = Math.min(parseSizeMiB(limit), ceilingMiB);
  const capped = startMiB < parseSizeMiB(limit);
  if (capped) log(`sync memory limit ${limit} is above DuckDB's own ${previousLimit}: keeping ${previousLimit}`);
  await db.write((tx) => tx.run(`SET memory_limit = '${capped ? `${Math.floor(startMiB)}MiB` : limit}'`), { derived: true }).catch((e: Error) => {
    // DuckDB already holds more than that (a busy server): sync under its current limit.
    log(`cannot lower DuckDB's memory limit to ${limit} for the sync (${e.message.split('\n')[0]}); keeping ${previousLimit}`);
  });

  let failedAt = -1;
  // Set when the derived tables need a full rebuild: done after the landing commits (rebuildAfterCommit).
  let fullRebuild: FullRebuild | null = null;
  try {
    const stages = stageInfos(config);
    const newWatermarks = new Map<string, string | null>();
    // The memo of raw rows each SQL-read CSV source prepared (./sync-memo.ts).
    const memos: (MemoOut | undefined)[] = sources.map(() => undefined);
    // Contracts (opportunity ids) staged so far and their customers: a payment must name one.
    const stagedDeals = new Map<string, string | null>();
    // Reading, cleaning and staging run on the writer's temp tables before the landing's
    // transaction (Database.write's `prepare`, each statement committed on its own): DuckDB
    // scans a table created in the running transaction on one thread, a committed one on all
    // (docs/decisions.md, "Staging committed before the landing"). Nothing here writes the
    // database's own tables; on failure the temp tables are dropped (below).
    const stageAll = async (tx: WriteTx) => {
      await createStaging(tx);
      const stager = await Stager.open(tx);
      // Read deals before the payments that refer to them (the landing order stays the config's).
      const RANK: Record<string, number> = { teams: 0, users: 1, customers: 2, opportunities: 3 };
      const order = sources.map((_, i) => i).sort((a, b) => (RANK[sources[a].entity] ?? 4) - (RANK[sources[b].entity] ?? 4) || a - b);
      try {
        for (const i of order) {
          failedAt = i;
          const s = sources[i];
          const rep = reports[i];
          const t0 = performance.now();
          log(`reading ${s.name} (${s.type} → ${s.entity})`);
          const factory = opts.readers?.[s.type] ?? (await readerFor(s.type));
          const events = {
            warn: (m: string, ref?: WarningRef) => warn(rep, m, ref),
            skip: (_row: number, reason: SkipReason) => {
              rep.rows++;
              rep.skipped++;
              rep.skipped_by[reason]++;
            }
          };
          const pipe = new Pipeline({ config, source: s, now });
          const sqlPath =
            (s.type === 'csv' && !opts.readers?.csv && process.env.COCKPIT_CSV_PATH !== 'js') || (s.type === 'excel' && !opts.readers?.excel && process.env.COCKPIT_XLSX_PATH !== 'js');
          if (sqlPath) {
            // A UTF-8 CSV file of deals read by DuckDB, or a workbook's cells appended by our reader,
            // cleaned by SQL over whole columns (csv-sql.ts, xlsx-sql.ts, sql-ingest.ts).
            const args = { tx, source: s, src: i, config, baseDir: opts.baseDir, pipe, stager, events, onRow: () => rep.rows++, log, memo: incremental && sources.length === 1 };
            const out = s.type === 'csv' ? await ingestCsvSql(args) : await ingestXlsxSql(args);
            if (out.path === 'sql') {
              rep.ingest = { path: 'sql' };
              if ('memo' in out) memos[i] = out.memo;
              rep.location = out.location;
              rep.rows += out.rows;
              const unmappedRows = 'unmappedRows' in out ? Number(out.unmappedRows) : 0;
              if (unmappedRows) {
                rep.rows += unmappedRows;
                rep.skipped += unmappedRows;
                rep.skipped_by.unmapped += unmappedRows;
              }
              for (const r of out.rejected) {
                rep.rejected++;
                if (rep.rejections.length < MAX_REPORTED_REJECTIONS) rep.rejections.push(r);
                stager.reject(i, out.location, r);
              }
              if (sources.some((x) => x.entity === 'payments')) {
                stager.flush();
                const { rows } = await tx.query<{ id: string; customer_id: string | null }>(`SELECT opportunity_id AS id, customer_id FROM stg_opportunities WHERE _src = ${i} AND NOT _ref ORDER BY _seq`);
                for (const r of rows) stagedDeals.set(r.id, r.customer_id);
              }
              newWatermarks.set(s.name, null);
              rep.mapping = pipe.mappingUsed ?? [];
              rep.unmapped = pipe.unmappedUsed;
              rep.ms = performance.now() - t0;
              continue;
            }
            rep.ingest = { path: 'js', why: out.why };
            log(`  ${s.name}: read row by row (JS path): ${out.why}`);
          }
          const reader = await factory(s, { config, baseDir: opts.baseDir, watermark: watermarks.get(s.name) ?? null, signal: opts.signal, events });
          rep.location = reader.location;
          // A workbook read whole: a sheet whose header maps nothing (a notes sheet), a summary or pivot
          // sheet, or one that fits another entity better is skipped (the rules of inspect.ts sheetsFor).
          const wholeWorkbook = s.type === 'excel' && !('sheet' in s && s.sheet);
          const skipHeaders = new Set<string>();
          try {
            for await (const batch of reader.batches()) {
              const headers = await reader.headers();
              if (wholeWorkbook && batch.length) {
                const key = (headers ?? []).join('\u0001');
                if (!skipHeaders.has(key)) {
                  const why = sheetSkipWhy(s, config, pipe, headers, batch[0].values, batch[0].meta);
                  if (why) {
                    skipHeaders.add(key);
                    const sheet = batch[0].meta?.sheet;
                    const columns = (headers ?? []).join(', ');
                    const whyRef = { code: why.code, params: why.params };
                    warn(rep, sheet ? warning('sheet_skipped', { sheet, columns, why: whyRef }) : warning('unnamed_sheet_skipped', { columns, why: whyRef }));
                  }
                }
                if (skipHeaders.has(key)) {
                  rep.rows += batch.length;
                  rep.skipped += batch.length;
                  rep.skipped_by.unmapped += batch.length;
                  continue;
                }
              }
              const outs: Outcome[] = [];
              for (const rec of batch) {
                rep.rows++;
                try {
                  outs.push(pipe.process(rec, headers));
                } catch (e) {
                  if (e instanceof SourceError) throw new Error(`${s.name}: ${e.message}`);
                  throw e;
                }
              }
              if (s.entity === 'payments') await checkContracts(tx, outs, stagedDeals);
              for (const out of outs) {
                if (out.ok) {
                  stager.add(s.entity, i, out.result);
                  if (s.entity === 'opportunities') {
                    const m = out.result.main;
                    stagedDeals.set(String(m.opportunity_id), m.customer_id == null ? null : String(m.customer_id));
                  }
                } else {
                  rep.rejected++;
                  if (rep.rejections.length < MAX_REPORTED_REJECTIONS) rep.rejections.push(out.rejection);
                  stager.reject(i, reader.location, out.rejection);
                }
              }
              if (rep.rows % 100_000 < batch.length) log(`  ${s.name}: ${rep.rows.toLocaleString()} rows`);
            }
            newWatermarks.set(s.name, reader.watermark?.() ?? null);
          } finally {
            await reader.close?.();
          }
          rep.mapping = pipe.mappingUsed ?? [];
          rep.unmapped = pipe.unmappedUsed;
          rep.ms = performance.now() - t0;
        }
        failedAt = -1;
        stager.flush();
      } finally {
        stager.close();
      }
    };
    await db.write(async (tx) => {
      // Derived tables fresh before this sync can be refreshed for what it changed only.
      const factsAtStart = incremental ? { ...(await factsFreshAtStart(tx, stages)), checked: true } : { fresh: false, incrementalDeals: 0, checked: false };
      // Landing grows the keys' indexes, which cannot spill and are held by the transaction
      // until it commits: 1M keys land within the staging limit (measured at 400MB), each
      // key beyond that gets ~200 bytes more (2M rows: ~590MB; 10M: ~2.1GB).
      const staged = reports.reduce((n, r) => n + r.rows, 0);
      // The limit in effect (MiB), raised (never lowered) for the steps below that need more, up
      // to the limit DuckDB had before the sync.
      let limitMiB = startMiB;
      const raiseLimit = async (wanted: number, what: string) => {
        const mib = Math.min(wanted, Math.floor(ceilingMiB));
        if (opts.memoryLimit || mib <= limitMiB) return;
        log(`${what}: DuckDB memory limit ${mib}MiB${mib < wanted ? ` (${wanted}MiB wanted; DuckDB's own limit is ${previousLimit})` : ''}`);
        await tx.run(`SET memory_limit = '${mib}MiB'`);
        limitMiB = mib;
      };
      await raiseLimit(Math.ceil(parseSizeMiB(limit) + (Math.max(0, staged - 1_000_000) * 200) / 2 ** 20), `landing ${staged.toLocaleString()} rows`);
      log('loading');
      const track = factsAtStart.fresh;
      if (track) await snapshotDimensions(tx);
      const closedStaged: boolean[] = [];
      await land(profiled(tx), sources, reports, report, now, log, incremental, opts.emptyFastPath ?? true, memos, closedStaged);
      // The memo of raw rows for the next sync: only a source synced alone, without customer merges.
      for (let i = 0; i < sources.length; i++) {
        const m = memos[i];
        if (m && sources.length === 1 && report.merges.length === 0) {
          const s = sources[i];
          // Writing the memo joins every staged row of the file three ways, beside everything the
          // landing holds until its commit: at 10M rows it ran out of memory under the landing's
          // limit (2.1 GB), and the whole sync ran again under DuckDB's own (145 s lost). About
          // 1 KB per staged row above 1,000,000 (1M fit the staging limit; raising it there left
          // the derived tables' rebuild after the commit ~1 s slower, measured twice).
          await raiseLimit(Math.ceil(parseSizeMiB(limit) + (Math.max(0, staged - 1_000_000) * 1024) / 2 ** 20), `memo of ${staged.toLocaleString()} rows`);
          // A source that sets close dates clears a derived one on every sync: such rows are cleaned every time.
          const kept = await writeMemo(profiled(tx), s.name, i, m, closedStaged[i] ?? true);
          log(`  ${s.name}: memo of ${kept.toLocaleString()} raw rows written`);
        } else await dropMemo(tx, sources[i].name);
      }
      await dropMemoTemp(tx);
      // Bookkeeping, in the same transaction as the data it describes.
      const finished = new Date();
      report.finished_at = finished.toISOString();
      for (let i = 0; i < sources.length; i++) {
        const rep = reports[i];
        await tx.run(sql`INSERT INTO rejected_rows (run_id, source, file, row_number, field, value, reason, raw, sheet, column_name, reason_code, reason_params)
          SELECT ${rep.run_id}, ${rep.source}, file, row_number, field, value, reason, raw::JSON, sheet, column_name, reason_code, reason_params::JSON FROM stg_rejected WHERE _src = ${i} ORDER BY sheet NULLS FIRST, row_number`);
        await tx.run(sql`INSERT INTO sync_runs VALUES (${rep.run_id}, ${rep.source}, ${kind === 'import' ? 'import' : rep.type}, ${utc(startedAt)}::TIMESTAMP, ${utc(finished)}::TIMESTAMP,
          ${rep.loaded + rep.updated > 0 || rep.rows === 0 ? 'ok' : 'empty'}, ${rep.loaded}, ${rep.updated}, ${rep.rejected}, ${rep.skipped}, ${JSON.stringify(rep.warnings)}::JSON, NULL)`);
        if (kind === 'sync') {
          await tx.run(sql`INSERT OR REPLACE INTO sync_state VALUES (${rep.source}, ${newWatermarks.get(rep.source) ?? null}, ${rep.run_id}, ${utc(finished)}::TIMESTAMP)`);
        }
      }
      await dropStaging(tx);
      const { rows: dealCount } = await tx.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM opportunities`);
      // Incremental refresh: only the deals and payments this sync changed (or whose owner's
      // team, customer or activities it changed) — unless the facts were stale, or so many
      // deals changed (now, or added up since the last full rebuild, whose rows sit out of
      // date order) that a full rebuild costs about as much and restores the order.
      let partial = false;
      if (!track && factsAtStart.checked) log('derived tables: not fresh before this sync → full rebuild');
      if (track) {
        const n = await affectedDeals(tx);
        const total = dealCount[0].n;
        partial = n <= 0.1 * total && factsAtStart.incrementalDeals + n <= 0.3 * total;
        log(`derived tables: ${n.toLocaleString()} of ${total.toLocaleString()} deals changed → ${partial ? 'incremental refresh' : 'full rebuild'}`);
      }
      for (const t of ['pre_customers', 'pre_users', 'chg_keys', 'chg_act_old']) await tx.run(`DROP TABLE IF EXISTS temp.${t}`);
      if (partial) {
        log('refreshing derived tables for the changed deals');
        await refreshFactsFor(profiled(tx), stages);
        log('derived tables refreshed; committing');
      }
      for (const t of ['facts_deals', 'facts_payments', 'facts_activity_owners']) await tx.run(`DROP TABLE IF EXISTS temp.${t}`);
      if (partial) return;
      // A full rebuild runs after this commit, in a transaction of its own (below).
      fullRebuild = { deals: dealCount[0].n, stages };
      // The rebuild runs over every stored deal (joins, windows, the ordered deal_facts), which at
      // 1M deals does not fit the staging limit: about 1 KB per stored deal above it. Set before
      // this commit, so that a reader's own rebuild, should it take the write lock first (its
      // facts were stale before this sync), runs under it too.
      await raiseLimit(Math.ceil(parseSizeMiB(limit) + (Math.max(0, dealCount[0].n - 200_000) * 1024) / 2 ** 20), `derived tables over ${dealCount[0].n.toLocaleString()} deals`);
      log('committing; the derived tables are rebuilt next');
    }, { prepare: stageAll });
    report.ok = true;
    log('committed');
    const factsOk = fullRebuild ? await rebuildAfterCommit(db, fullRebuild, { previousLimit, fixed: !!opts.memoryLimit, log }) : true;
    // The forecast's data-quality rules, defined once below the models (a set-based count over
    // deal_facts; it used to run the whole statistical forecast for these four numbers).
    // The load is committed: a failure here leaves the counts out, not the sync failed.
    try {
      if (!factsOk) throw new Error('the derived tables are stale');
      const t0 = performance.now();
      report.data_quality = await dataQualityToday((q) => db.query(q), now.slice(0, 10));
      log(`data-quality counts: ${Math.round(performance.now() - t0)} ms`);
    } catch (e) {
      log(`data-quality counts not computed: ${e instanceof Error ? e.message : String(e)}`);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    report.error = msg;
    // The staging tables were committed before the landing's transaction (stageAll): a rollback
    // does not take them; drop them, and the memo's, here.
    await db
      .write(
        async (tx) => {
          await dropStaging(tx);
          await dropMemoTemp(tx);
        },
        { untracked: true }
      )
      .catch(() => undefined);
    report.finished_at = new Date().toISOString();
    for (let i = 0; i < reports.length; i++) {
      const rep = reports[i];
      if (i === failedAt || failedAt < 0) {
        rep.status = 'failed';
        rep.error = msg;
      } else {
        rep.status = 'rolled_back';
        rep.error = `not loaded: the sync failed (source ${sources[failedAt].name}) and was rolled back`;
      }
    }
    // The failure itself is recorded after the rollback (below).
  } finally {
    await db.write((tx) => tx.run(`SET memory_limit = '${previousLimit.replace(/'/g, '')}'`), { derived: true });
  }
  if (!report.ok && !opts.retry && /out of memory/i.test(report.error ?? '')) {
    // Nothing was written; run once more under DuckDB's own limit rather than fail.
    log(`DuckDB ran out of memory under the ${limit} sync limit; running the sync again with ${previousLimit}`);
    return runSync(db, { ...opts, memoryLimit: previousLimit.replace(/\s+/g, ''), retry: true });
  }
  if (!report.ok) {
    // The failure itself is recorded after the rollback.
    const finished = new Date(report.finished_at);
    await db.write(async (tx) => {
      for (const rep of reports) {
        await tx.run(sql`INSERT INTO sync_runs VALUES (${rep.run_id}, ${rep.source}, ${kind === 'import' ? 'import' : rep.type}, ${utc(startedAt)}::TIMESTAMP, ${utc(finished)}::TIMESTAMP,
          'failed', 0, 0, ${rep.rejected}, ${rep.skipped}, ${JSON.stringify(rep.warnings)}::JSON, ${rep.error})`);
      }
      // This write changes no data the memos of raw rows describe: a memo valid before it stays valid.
      await tx.run(`UPDATE sync_memo_state SET data_version = data_version + 1
        WHERE data_version = (SELECT value::BIGINT FROM meta WHERE key = 'data_version') - 1`);
    });
  }
  return report;
}

interface FullRebuild {
  deals: number;
  stages: ReturnType<typeof stageInfos>;
}

/**
 * The full rebuild of the derived tables, after the landing committed, in a write transaction of
 * its own (docs/decisions.md, "Derived tables rebuilt after the landing commits"). Inside the
 * landing's transaction the same statements read a million uncommitted rows from the
 * transaction's local storage beside everything it still held in memory, and took 12 s and
 * 21 CPU-s at 1M deals where the same rebuild over the committed tables takes 7 s and 13.
 *
 * Readers cannot see the new data with the former derived tables: the landing bumped the data
 * version, so every model's `ensureFacts` finds the facts stale and queues its own rebuild
 * behind this one on the write lock, then finds them fresh and reads. Whichever rebuild takes the
 * lock first does the work; the other finds the facts fresh and does nothing. If the rebuild
 * fails (out of memory twice, a crash), the data stays loaded and the facts stay marked stale,
 * so the next read or sync rebuilds them; the sync reports the failure in its log.
 */
async function rebuildAfterCommit(db: Database, r: FullRebuild, o: { previousLimit: string; fixed: boolean; log: (m: string) => void }): Promise<boolean> {
  // Under the limit the landing's transaction set for it (or, after running out of memory, DuckDB's own).
  const run = (limit: string | null) =>
    db.write(
      async (tx) => {
        if (await factsFresh(tx, r.stages)) {
          o.log('derived tables: already rebuilt by a reader');
          return;
        }
        if (limit) await tx.run(`SET memory_limit = '${limit}'`);
        o.log('refreshing derived tables');
        await refreshFacts(profiled(tx), r.stages);
        o.log('derived tables refreshed; committing');
      },
      { derived: true }
    );
  try {
    await run(null);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    if (!/out of memory/i.test(msg) || o.fixed) {
      o.log(`derived tables not rebuilt (${msg}); the data is loaded, and the next read rebuilds them`);
      return false;
    }
    o.log(`derived tables: DuckDB ran out of memory; rebuilding under its own limit ${o.previousLimit}`);
    try {
      await run(o.previousLimit.replace(/\s+/g, ''));
    } catch (e2) {
      o.log(`derived tables not rebuilt (${e2 instanceof Error ? e2.message.split('\n')[0] : String(e2)}); the data is loaded, and the next read rebuilds them`);
      return false;
    }
  }
  o.log('derived tables committed');
  return true;
}

/**
 * A payment names its contract (opportunity id): one staged in this sync or already stored, or
 * the row is rejected — it used to land with a customer invented from its name. A payment of
 * a known contract belongs to that contract's customer.
 */
async function checkContracts(tx: WriteTx, outs: Outcome[], staged: Map<string, string | null>) {
  const want = new Set<string>();
  for (const o of outs) if (o.ok && o.result.main.opportunity_id != null && !staged.has(String(o.result.main.opportunity_id))) want.add(String(o.result.main.opportunity_id));
  const stored = new Map<string, string | null>();
  if (want.size) {
    const { rows } = await tx.query<{ id: string; customer_id: string | null }>(
      sql`SELECT opportunity_id AS id, customer_id FROM opportunities WHERE list_contains(${[...want]}::VARCHAR[], opportunity_id)`
    );
    for (const r of rows) stored.set(r.id, r.customer_id);
  }
  for (let k = 0; k < outs.length; k++) {
    const o = outs[k];
    if (!o.ok || o.result.main.opportunity_id == null) continue;
    const id = String(o.result.main.opportunity_id);
    const known = staged.has(id) ? { c: staged.get(id) } : stored.has(id) ? { c: stored.get(id) } : null;
    if (!known) {
      const raw = o.result.raw ?? {};
      const col = o.result.contractColumn ?? null;
      outs[k] = {
        ok: false,
        rejection: {
          row: o.result.row,
          sheet: o.result.sheet ?? null,
          field: 'opportunity_id',
          column: col,
          value: col ? String(raw[col] ?? id) : id,
          ...whyOf(reason('unknown_contract', { id })),
          raw
        }
      };
    } else if (known.c) {
      o.result.main.customer_id = known.c;
      o.result.refs = o.result.refs.filter((r) => r.entity !== 'customers');
    }
  }
}

/** The upserts, merges, stubs and history, inside the sync's transaction. */
async function land(
  tx: WriteTx,
  sources: SourceConfig[],
  reports: SourceReport[],
  report: SyncReport,
  now: string,
  log: (m: string) => void,
  incremental: boolean,
  emptyFast: boolean,
  memos: (MemoOut | undefined)[] = [],
  /** Out: per deal source, whether it sets closed_at. */
  closedStaged: boolean[] = []
) {
  const t0 = performance.now();
  // Keys this sync inserted or changed, per entity (history and the derived tables' refresh
  // start from them), and the former deal/customer of activities it changed.
  await tx.run(`CREATE OR REPLACE TEMP TABLE chg_keys (entity VARCHAR, id VARCHAR)`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE chg_act_old (opportunity_id VARCHAR, customer_id VARCHAR, owner_id VARCHAR)`);
  const step = (m: string) => log(`  ${m} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  // 1. Duplicate ids within one source: the last row wins; a warning names both rows.
  const hasDuplicates: boolean[] = [];
  for (let i = 0; i < sources.length; i++) {
    const e = sources[i].entity;
    const id = idField(e);
    const stg = unsafeRaw(stgName(e));
    const { rows } = await tx.query<{ id: string; rows: number[]; n: number }>(
      sql`WITH dup AS (SELECT ${ident(id)} AS id FROM ${stg} WHERE _src = ${i} AND NOT _ref GROUP BY ALL HAVING count(*) > 1)
          SELECT s.${ident(id)} AS id, list(_row ORDER BY _seq) AS rows, count(*)::INTEGER AS n
          FROM ${stg} s JOIN dup ON dup.id = s.${ident(id)}
          WHERE _src = ${i} AND NOT _ref GROUP BY ALL ORDER BY min(_seq)`
    );
    hasDuplicates[i] = rows.length > 0;
    for (const d of rows) {
      const list = d.rows.map(Number);
      const last = list[list.length - 1];
      warn(reports[i], warning('duplicate_id', { id, value: d.id, rows: list.join(', '), last, earlier: list.slice(0, -1).join(', ') }));
      reports[i].skipped += d.n - 1;
      reports[i].skipped_by.duplicate += d.n - 1;
    }
  }

  step('duplicates checked');
  // 2. Customers with the same normalised name or phone within this sync are merged (into the
  //    first seen), and a customer named like an existing one maps onto it.
  await tx.run(`CREATE OR REPLACE TEMP TABLE cust_ids AS
    SELECT customer_id, min(_seq) AS first_seq,
           arg_max(_name_key, _seq) FILTER (WHERE _name_key IS NOT NULL) AS name_key,
           arg_max(_phone_key, _seq) FILTER (WHERE _phone_key IS NOT NULL) AS phone_key,
           -- identified by its name (no id in the source): may match an existing customer's name
           bool_and(name IS NULL OR suffix(customer_id, name)) AS by_name
    FROM stg_customers GROUP BY customer_id`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE cust_merges (from_id VARCHAR, to_id VARCHAR, via VARCHAR, key VARCHAR)`);
  // An id derived from a name that an existing customer (other id) already has.
  const existing = await tx.query<{ customer_id: string; name: string; phone: string | null }>(
    `SELECT c.customer_id, c.name, c.phone FROM customers c WHERE c.customer_id NOT IN (SELECT customer_id FROM cust_ids)`
  );
  if (existing.rows.length) {
    const { nameKey } = await import('../pipeline/values');
    await tx.run(`CREATE OR REPLACE TEMP TABLE cust_existing (customer_id VARCHAR, name_key VARCHAR, by_name BOOLEAN)`);
    const ap = await tx.connection.createAppender('cust_existing', 'main', 'temp');
    for (const r of existing.rows) {
      ap.appendVarchar(r.customer_id);
      ap.appendVarchar(nameKey(r.name ?? ''));
      ap.appendBoolean(r.name !== null && r.customer_id.endsWith(r.name));
      ap.endRow();
    }
    ap.flushSync();
    ap.closeSync();
    await tx.run(`INSERT INTO cust_merges
      SELECT c.customer_id, min(x.customer_id), 'existing name', c.name_key
      FROM cust_ids c JOIN cust_existing x ON x.name_key = c.name_key
      WHERE c.by_name AND c.customer_id NOT IN (SELECT customer_id FROM customers) AND c.name_key <> ''
      GROUP BY ALL`);
    // The reverse: an existing customer known only by its name (from a ledger) that a source
    // now gives an id: it is adopted by that id (its deals, payments and activities move).
    await tx.run(`CREATE OR REPLACE TEMP TABLE cust_adopt AS
      SELECT x.customer_id AS from_id, min(c.customer_id) AS to_id, c.name_key
      FROM cust_ids c JOIN cust_existing x ON x.name_key = c.name_key
      WHERE NOT c.by_name AND x.by_name AND c.name_key <> ''
      GROUP BY ALL`);
    await tx.run(`DROP TABLE temp.cust_existing`);
  } else {
    await tx.run(`CREATE OR REPLACE TEMP TABLE cust_adopt (from_id VARCHAR, to_id VARCHAR, name_key VARCHAR)`);
  }
  for (const [via, col] of [
    ['name', 'name_key'],
    ['phone', 'phone_key']
  ] as const) {
    await tx.run(`INSERT INTO cust_merges
      SELECT customer_id, arg_min(customer_id, (by_name::INTEGER, first_seq)) OVER (PARTITION BY ${col}) AS to_id, '${via}', ${col}
      FROM cust_ids c WHERE ${col} IS NOT NULL AND ${col} <> '' AND customer_id NOT IN (SELECT from_id FROM cust_merges)
      QUALIFY to_id <> customer_id`);
    // Apply before the next key, so a phone match chains onto a name merge.
    await tx.run(`UPDATE cust_ids SET customer_id = m.to_id FROM cust_merges m WHERE cust_ids.customer_id = m.from_id`);
  }
  const merges = await tx.query<{ from_id: string; to_id: string; via: string; key: string }>(`SELECT * FROM cust_merges`);
  if (merges.rows.length) {
    // Resolve chains (a → b, b → c) to their end.
    const to = new Map(merges.rows.map((m) => [m.from_id, m.to_id]));
    const end = (id: string) => {
      let x = id;
      for (let k = 0; k < 20 && to.has(x); k++) x = to.get(x)!;
      return x;
    };
    await tx.run(`DELETE FROM cust_merges`);
    for (const m of merges.rows) {
      const into = end(m.from_id);
      report.merges.push({ from: m.from_id, into, by: m.via as 'name' | 'phone' | 'existing name', key: m.key });
      await tx.run(sql`INSERT INTO cust_merges VALUES (${m.from_id}, ${into}, ${m.via}, ${m.key})`);
    }
    for (const e of ['customers', 'opportunities', 'payments', 'activities'] as const) {
      await tx.run(`UPDATE ${stgName(e)} SET customer_id = m.to_id FROM cust_merges m WHERE ${stgName(e)}.customer_id = m.from_id`);
    }
    for (let i = 0; i < sources.length; i++) {
      const mine = report.merges.filter((m) => m.by !== 'existing name');
      if (sources[i].entity === 'customers' && mine.length) {
        for (const m of mine.slice(0, 50)) {
          const params = { from: m.from, into: m.into, key: m.key };
          warn(reports[i], m.by === 'phone' ? warning('customer_merged_phone', params) : warning('customer_merged_name', params));
        }
      }
    }
  }
  await tx.run(`DROP TABLE temp.cust_ids`);
  await tx.run(`DROP TABLE temp.cust_merges`);

  // New or known ids, judged against the database before this sync wrote anything.
  for (let i = 0; i < sources.length; i++) {
    const e = sources[i].entity;
    const id = idField(e);
    const { rows: counts } = await tx.query<{ total: number; fresh: number }>(
      `SELECT count(*)::INTEGER AS total, count(*) FILTER (WHERE t."${id}" IS NULL)::INTEGER AS fresh
       FROM (SELECT DISTINCT "${id}" FROM ${stgName(e)} WHERE _src = ${i} AND NOT _ref) s LEFT JOIN ${e} t ON t."${id}" = s."${id}"`
    );
    const rep = reports[i];
    rep.loaded = counts[0].fresh;
    // Rows the memo recognised (not staged): stored deals the full path would find equal.
    rep.updated = counts[0].total - counts[0].fresh + (memos[i]?.hits ?? 0);
    // Rows that merged into another row of the same source (same customer) were skipped.
    const staged = await tx.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM ${stgName(e)} WHERE _src = ${i} AND NOT _ref`);
    const merged = staged.rows[0].n - counts[0].total - rep.skipped_by.duplicate;
    if (merged > 0) {
      rep.skipped += merged;
      rep.skipped_by.merged += merged;
    }
  }

  step('customers matched');
  // 3. Related rows described by other entities' rows: only the fields they carry are set.
  for (const e of ['teams', 'users', 'customers'] as const) {
    const id = idField(e);
    const cols = columnsOf(e).filter((c) => c !== id && c !== 'attributes');
    const agg = cols.map((c) => `arg_max("${c}", _seq) FILTER (WHERE "${c}" IS NOT NULL) AS "${c}"`).join(', ');
    const values = cols
      .map((c) => (c === 'name' ? `coalesce(r."name", r."${id}")` : c === 'active' ? `coalesce(${cast(e, c, 'r.')}, TRUE)` : cast(e, c, 'r.')))
      .join(', ');
    // A related row without a name is named by its id; that never overwrites a real name.
    const set = cols
      .map((c) =>
        c === 'name'
          ? `"name" = CASE WHEN excluded."name" = excluded."${id}" THEN ${e}."name" ELSE excluded."name" END`
          : `"${c}" = coalesce(excluded."${c}", ${e}."${c}")`
      )
      .join(', ');
    await tx.run(`INSERT INTO ${e} ("${id}", ${cols.map((c) => `"${c}"`).join(', ')})
      SELECT r."${id}", ${values}
      FROM (SELECT "${id}", ${agg} FROM ${stgName(e)} WHERE _ref GROUP BY "${id}") r
      ON CONFLICT ("${id}") DO UPDATE SET ${set}`);
  }

  step('related rows written');
  // Tables holding no row before this sync writes its own (a first import): afterwards every
  // row in them was written by this sync (stubs below need not look them up in chg_keys).
  const emptyBefore = new Set<string>();
  if (emptyFast) {
    for (const e of ['opportunities', 'payments', 'activities'] as const) {
      const { rows } = await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${e}) AS any`);
      if (!rows[0].any) emptyBefore.add(e);
    }
  }
  // 4. Each source's own rows, in config order (a later source wins for the same id).
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i];
    const e = s.entity;
    const id = idField(e);
    const rep = reports[i];
    const canonical = columnsOf(e);
    const { rows: present } = await tx.query<Record<string, boolean>>(
      `SELECT ${canonical.map((c) => `bool_or("${c}" IS NOT NULL) AS "${c}"`).join(', ')} FROM ${stgName(e)} WHERE _src = ${i} AND NOT _ref`
    );
    // Columns this source sets: every column it maps (even when empty, so a value can be
    // cleared), and derived ones it produced.
    const mapped = new Set([...rep.mapping.map((m) => m.field), ...Object.keys(s.defaults ?? {}), id]);
    if (e === 'opportunities') ['status', 'amount_original', 'currency'].forEach((c) => mapped.add(c));
    const setCols = canonical.filter((c) => c === id || mapped.has(c) || present[0]?.[c] || memos[i]?.present.includes(c) || (c === 'attributes' && rep.unmapped.length > 0));
    if (e === 'opportunities') closedStaged[i] = setCols.includes('closed_at');
    const insertCols = setCols.map((c) => `"${c}"`).join(', ');
    const selectCols = setCols.map((c) => cast(e, c)).join(', ');
    const update = setCols.filter((c) => c !== id);
    // Landed in slices of ~1M keys (by a hash of the key, so every row of one id is in one
    // slice): one huge INSERT … ON CONFLICT holds its whole input, the conflict checks and
    // the index growth in memory at once; slices keep that to a slice (same transaction).
    const slices = sliceCount(rep.loaded + rep.updated);
    for (let j = 0; j < slices; j++) {
      const inSlice = sliceWhere(id, slices, j);
      // The rows to land: one per id. Materialised only when they need work (merged
      // customers' values, the last row of a duplicated id); else read from staging in place.
      let cur = `(SELECT * FROM ${stgName(e)} WHERE _src = ${i} AND NOT _ref AND ${inSlice}) cur`;
      if (e === 'customers') {
        // Merged customers: the surviving customer's own values first (its last row), the
        // merged rows fill what it lacks.
        const rank = `CASE WHEN customer_id = _orig_id THEN _seq + 1000000000000 ELSE _seq END`;
        await tx.run(`CREATE OR REPLACE TEMP TABLE cur AS SELECT customer_id, ${canonical
          .filter((c) => c !== id)
          .map((c) => `arg_max("${c}", ${rank}) FILTER (WHERE "${c}" IS NOT NULL) AS "${c}"`)
          .join(', ')} FROM ${stgName(e)} WHERE _src = ${i} AND NOT _ref AND ${inSlice} GROUP BY customer_id`);
        cur = 'temp.cur cur';
      } else if (hasDuplicates[i]) {
        await tx.run(`CREATE OR REPLACE TEMP TABLE cur AS SELECT * FROM ${stgName(e)} WHERE _src = ${i} AND NOT _ref AND ${inSlice}
          QUALIFY row_number() OVER (PARTITION BY "${id}" ORDER BY _seq DESC) = 1`);
        cur = 'temp.cur cur';
      }
      // Keys already stored take the upsert path; new keys (all of them in a first import) a
      // plain INSERT, which appends instead of probing the index for a conflict row by row
      // (1M new deals: 20.7 s as one INSERT … ON CONFLICT). The keys are marked first (one
      // join with the stored table), so the upsert runs before the insert and each key takes
      // exactly one path. A stored row that already holds every value this source sets is left
      // alone (not marked): re-importing a file rewrites only the rows that differ
      // (docs/decisions.md, "Incremental sync"). The former path (`incremental` false) upserts
      // every known key.
      const { rows: stored } = emptyFast
        ? await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${e} WHERE ${sliceWhere(id, slices, j)}) AS any`)
        : { rows: [{ any: true }] };
      if (!stored[0].any) {
        // Nothing stored in this slice yet (a first import): every key is new, so the rows are
        // appended as they are, without marking them against the stored table first — what the
        // general path below ends with when every key is unknown (a row without a key is not
        // inserted there either).
        await tx.run(`INSERT INTO ${e} (${insertCols}) SELECT ${selectCols} FROM ${cur} WHERE cur."${id}" IS NOT NULL`);
        await tx.run(`INSERT INTO chg_keys SELECT '${e}', "${id}" FROM ${cur}`);
        await tx.run(`DROP TABLE IF EXISTS temp.cur`);
        step(`${s.name}: ${slices > 1 ? `slice ${j + 1}/${slices} ` : ''}written (appended: nothing stored yet)`);
        continue;
      }
      const differs = incremental && update.length ? update.map((c) => `${cast(e, c, 'cur.')} IS DISTINCT FROM t."${c}"`).join(' OR ') : 'TRUE';
      await tx.run(`CREATE OR REPLACE TEMP TABLE cur_chg AS SELECT cur."${id}", t."${id}" IS NOT NULL AS known
        FROM ${cur} LEFT JOIN ${e} t ON t."${id}" = cur."${id}" WHERE t."${id}" IS NULL OR (${differs})`);
      if (e === 'activities') {
        await tx.run(`INSERT INTO chg_act_old SELECT t.opportunity_id, t.customer_id, t.owner_id FROM activities t SEMI JOIN cur_chg k ON k."${id}" = t."${id}" AND k.known`);
      }
      await tx.run(`INSERT INTO ${e} (${insertCols}) SELECT ${selectCols} FROM ${cur} SEMI JOIN cur_chg k ON k."${id}" = cur."${id}" AND k.known
        ON CONFLICT ("${id}") ${update.length ? `DO UPDATE SET ${update.map((c) => `"${c}" = excluded."${c}"`).join(', ')}` : 'DO NOTHING'}`);
      await tx.run(`INSERT INTO ${e} (${insertCols}) SELECT ${selectCols} FROM ${cur} SEMI JOIN cur_chg k ON k."${id}" = cur."${id}" AND NOT k.known`);
      await tx.run(`INSERT INTO chg_keys SELECT '${e}', "${id}" FROM cur_chg`);
      await tx.run(`DROP TABLE temp.cur_chg`);
      await tx.run(`DROP TABLE IF EXISTS temp.cur`);
      step(`${s.name}: ${slices > 1 ? `slice ${j + 1}/${slices} ` : ''}written`);
    }
  }

  // Existing name-only customers adopted by an id from this sync: references move, the old row goes.
  const adopt = await tx.query<{ from_id: string; to_id: string; name_key: string }>(`SELECT * FROM cust_adopt`);
  for (const a of adopt.rows) report.merges.push({ from: a.from_id, into: a.to_id, by: 'existing name', key: a.name_key });
  if (adopt.rows.length) {
    await tx.run(`INSERT INTO chg_act_old SELECT opportunity_id, customer_id, owner_id FROM activities WHERE customer_id IN (SELECT from_id FROM cust_adopt)`);
    for (const e of ['opportunities', 'payments', 'activities'] as const) {
      await tx.run(`INSERT INTO chg_keys SELECT '${e}', "${idField(e)}" FROM ${e} WHERE customer_id IN (SELECT from_id FROM cust_adopt)`);
      await tx.run(`UPDATE ${e} SET customer_id = a.to_id FROM cust_adopt a WHERE ${e}.customer_id = a.from_id`);
    }
    await tx.run(`DELETE FROM customers WHERE customer_id IN (SELECT from_id FROM cust_adopt)`);
  }
  await tx.run(`DROP TABLE temp.cust_adopt`);

  // 5. References nothing defines become stub rows named by their id (data-model.md).
  // Incrementally, only deals, payments and activities this sync inserted or changed can hold a
  // new reference: every earlier reference got its row when it was written, and no sync deletes
  // a customer or user except an adopted customer, whose references moved (and are in chg_keys).
  const written = (e: 'opportunities' | 'payments' | 'activities') =>
    incremental && !emptyBefore.has(e) ? `(SELECT * FROM ${e} WHERE "${idField(e)}" IN (SELECT id FROM chg_keys WHERE entity = '${e}'))` : e;
  const stubSpecs: [('customers' | 'users' | 'teams'), string][] = [
    ['customers', `SELECT customer_id AS id FROM ${written('opportunities')} UNION SELECT customer_id FROM ${written('payments')} UNION SELECT customer_id FROM ${written('activities')}`],
    ['teams', `SELECT team_id FROM users UNION SELECT parent_id FROM teams UNION SELECT team_id FROM targets`],
    ['users', `SELECT owner_id FROM ${written('opportunities')} UNION SELECT owner_id FROM customers UNION SELECT owner_id FROM ${written('activities')} UNION SELECT manager_id FROM teams UNION SELECT owner_id FROM targets`]
  ];
  for (const [e, refs] of stubSpecs) {
    const id = idField(e);
    const { rows } = await tx.query<{ n: number }>(
      `INSERT INTO ${e} ("${id}", name) SELECT DISTINCT id, id FROM (${refs}) r(id)
       WHERE id IS NOT NULL AND id NOT IN (SELECT "${id}" FROM ${e}) RETURNING 1 AS n`
    );
    report.stubs[e] = rows.length;
  }
  for (const [e, n] of Object.entries(report.stubs)) {
    if (n > 0 && reports[0]) warn(reports[0], warning('stubs_created', { n, entity: e }));
  }

  step('rows written');
  // 6. Opportunity history.
  const deals = sources.reduce((n, s, i) => n + (s.entity === 'opportunities' ? reports[i].loaded + reports[i].updated : 0), 0);
  if (sources.some((s) => s.entity === 'opportunities')) {
    const slices = sliceCount(deals);
    // One source of deals without a duplicate id: each staged deal row is its id's only one.
    const dealSources = sources.map((s, i) => i).filter((i) => sources[i].entity === 'opportunities');
    const unique = emptyFast && dealSources.length === 1 && !hasDuplicates[dealSources[0]];
    const firstImport = { unique, allWritten: emptyBefore.has('opportunities') };
    for (let j = 0; j < slices; j++) await writeHistory(tx, now, slices, j, incremental, emptyFast, firstImport);
    const derived = await deriveClosedAt(tx);
    const first = sources.findIndex((s) => s.entity === 'opportunities');
    if (derived > 0) {
      warn(reports[first], warning('closed_at_derived', { n: derived }));
    }
    step('history written');
  }
}

/**
 * Won and lost deals are counted by `closed_at` (data-model.md: required for them). A source
 * that maps no close date (many CRM tables and REST objects keep only the stage) would leave
 * every win uncounted, so the close date is derived: for a deal an earlier sync saw open, when
 * this sync saw it closed (or the source's `updated_at` if earlier and after it was last seen
 * open); for a deal first seen closed, the outcome stage's `stage_dates` date, else the
 * source's `updated_at`, else its creation date. Once set it stays (a later sync that maps no
 * close date does not touch the column).
 */
async function deriveClosedAt(tx: WriteTx): Promise<number> {
  // Computed into a temp table, then a plain UPDATE counted from that table: an UPDATE …
  // RETURNING (or with this query inlined as its FROM) over rows inserted in the same
  // transaction took 10–32 s for the 66,666 closed deals of a 200,000-deal import; this way
  // 0.4 s.
  await tx.run(`CREATE OR REPLACE TEMP TABLE derived_close AS
      WITH need AS (SELECT opportunity_id, stage, updated_at FROM opportunities WHERE status IN ('won', 'lost') AND closed_at IS NULL),
      src AS (
        SELECT opportunity_id, TRY_CAST(_entered AS TIMESTAMP) AS entered_src FROM stg_opportunities
        WHERE NOT _ref AND opportunity_id IN (SELECT opportunity_id FROM need)
        QUALIFY row_number() OVER (PARTITION BY opportunity_id ORDER BY _seq DESC) = 1),
      last_other AS (
        SELECT v.opportunity_id, max(v.valid_from) AS t
        FROM opportunity_versions v JOIN need n ON n.opportunity_id = v.opportunity_id
        WHERE v.stage <> n.stage GROUP BY 1),
      entry AS (
        SELECT v.opportunity_id, min(v.valid_from) AS t
        FROM opportunity_versions v JOIN need n ON n.opportunity_id = v.opportunity_id
        LEFT JOIN last_other l ON l.opportunity_id = v.opportunity_id
        WHERE v.stage = n.stage AND (l.t IS NULL OR v.valid_from > l.t)
        GROUP BY 1)
      SELECT n.opportunity_id,
             CASE
               -- Seen open by an earlier sync: when this one saw it closed, or the source's
               -- modified time if that is earlier and after it was last seen open.
               WHEN l.t IS NOT NULL THEN CASE WHEN n.updated_at > l.t THEN least(n.updated_at, e.t) ELSE e.t END
               -- First seen closed: the outcome stage's own date (stage_dates), else the
               -- source's modified time, else the history's entry (the creation date).
               ELSE coalesce(s.entered_src, n.updated_at, e.t)
             END AS closed_at
      FROM need n JOIN entry e ON e.opportunity_id = n.opportunity_id
      LEFT JOIN last_other l ON l.opportunity_id = n.opportunity_id
      LEFT JOIN src s ON s.opportunity_id = n.opportunity_id`);
  // `need` held only deals without a close date, so every row with a date is set.
  const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM derived_close WHERE closed_at IS NOT NULL`);
  await tx.run(`UPDATE opportunities SET closed_at = e.closed_at FROM derived_close e
    WHERE opportunities.opportunity_id = e.opportunity_id AND e.closed_at IS NOT NULL`);
  await tx.run(`INSERT INTO chg_keys SELECT 'opportunities', opportunity_id FROM derived_close WHERE closed_at IS NOT NULL`);
  await tx.run(`DROP TABLE temp.derived_close`);
  return rows[0].n;
}

/**
 * Versions for the opportunities of this sync (data-model.md, History). A new deal gets its
 * stage-date entries and its current state; a known deal whose stage, amount, close date,
 * owner, category or probability changed gets its current version closed and a new one.
 */
async function writeHistory(
  tx: WriteTx,
  now: string,
  slices: number,
  slice: number,
  incremental: boolean,
  emptyFast: boolean,
  first: { unique: boolean; allWritten: boolean }
) {
  // Only deals this sync inserted or changed can get a version: every write of a versioned
  // column (stage, amount, close date, owner, category, probability) is an upsert of the sync,
  // followed by this in the same transaction, so an untouched deal's current version already
  // holds its row's values. The former path (`incremental` false) judged every staged deal.
  // (`first.allWritten`: no deal was stored before this sync, so every deal was written by it;
  // `first.unique`: one source of deals and no duplicate id in it, so no staged deal row has a
  // later one to give way to.)
  const inSlice = unsafeRaw(
    sliceWhere('opportunity_id', slices, slice) + (incremental && !first.allWritten ? ` AND opportunity_id IN (SELECT id FROM chg_keys WHERE entity = 'opportunities')` : '')
  );
  await tx.run(sql`CREATE OR REPLACE TEMP TABLE v_in AS
    SELECT o.opportunity_id, o.stage, o.amount, o.expected_close_date, o.owner_id, o.forecast_category, o.probability,
           TRY_CAST(s._entered AS TIMESTAMP) AS entered_src,
           coalesce(TRY_CAST(s._entered AS TIMESTAMP), o.created_at, ${now}::TIMESTAMP) AS entered, s._seq
    FROM (SELECT opportunity_id, _entered, _seq FROM stg_opportunities WHERE NOT _ref AND ${inSlice}
          ${unsafeRaw(first.unique ? '' : 'QUALIFY row_number() OVER (PARTITION BY opportunity_id ORDER BY _seq DESC) = 1')}) s
    JOIN opportunities o USING (opportunity_id)`);
  // A slice without any version yet (every slice of a first import): every deal in it is new,
  // and none can have a changed version, since each open version inserted below holds its
  // deal's row as it is. The comparison join is skipped then (1M deals: ~1.2 CPU-s for no rows).
  const { rows: had } = emptyFast
    ? await tx.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM opportunity_versions WHERE ${sliceWhere('opportunity_id', slices, slice)}) AS any`)
    : { rows: [{ any: true }] };
  // New deals: stage-date entries before the current stage, then the current state.
  await tx.run(`INSERT INTO opportunity_versions
    SELECT opportunity_id, valid_from,
           lead(valid_from) OVER (PARTITION BY opportunity_id ORDER BY valid_from, ord) AS valid_to,
           stage, amount, expected_close_date, owner_id, forecast_category, probability, origin
    FROM (
      SELECT v.opportunity_id, TRY_CAST(d.entered_at AS TIMESTAMP) AS valid_from, 0 AS ord, d.stage, v.amount, v.expected_close_date,
             v.owner_id, v.forecast_category, v.probability, 'stage_dates' AS origin
      FROM v_in v JOIN stg_stage_dates d ON d._seq = v._seq
      WHERE d.stage <> v.stage AND TRY_CAST(d.entered_at AS TIMESTAMP) < v.entered
      UNION ALL
      SELECT opportunity_id, entered, 1, stage, amount, expected_close_date, owner_id, forecast_category, probability, 'sync'
      FROM v_in
    ) x
    ${had[0].any ? `WHERE opportunity_id NOT IN (SELECT opportunity_id FROM opportunity_versions WHERE ${sliceWhere('opportunity_id', slices, slice)})` : ''}`);
  if (!had[0].any) {
    await tx.run(`DROP TABLE temp.v_in`);
    return;
  }
  // Known deals that changed: close the current version, open a new one.
  await tx.run(sql`CREATE OR REPLACE TEMP TABLE v_changed AS
    SELECT v.*, greatest(
             CASE WHEN v.stage <> c.stage AND v.entered_src > c.valid_from AND v.entered_src <= ${now}::TIMESTAMP THEN v.entered_src
                  ELSE ${now}::TIMESTAMP END,
             c.valid_from) AS change_at
    FROM v_in v JOIN opportunity_versions c ON c.opportunity_id = v.opportunity_id AND c.valid_to IS NULL
    WHERE v.stage IS DISTINCT FROM c.stage OR v.amount IS DISTINCT FROM c.amount
       OR v.expected_close_date IS DISTINCT FROM c.expected_close_date OR v.owner_id IS DISTINCT FROM c.owner_id
       OR v.forecast_category IS DISTINCT FROM c.forecast_category OR v.probability IS DISTINCT FROM c.probability`);
  await tx.run(`UPDATE opportunity_versions SET valid_to = ch.change_at FROM v_changed ch
    WHERE opportunity_versions.opportunity_id = ch.opportunity_id AND opportunity_versions.valid_to IS NULL`);
  await tx.run(`INSERT INTO opportunity_versions
    SELECT opportunity_id, change_at, NULL, stage, amount, expected_close_date, owner_id, forecast_category, probability, 'sync' FROM v_changed`);
  await tx.run(`DROP TABLE temp.v_in`);
  await tx.run(`DROP TABLE temp.v_changed`);
}

/**
 * The customers' and users' rows before landing: what changed in them (a region, a customer's
 * owner, a user's team …) changes the derived rows of their deals and payments. Both tables
 * are small beside the deals (one customer per several deals).
 */
async function snapshotDimensions(tx: WriteTx) {
  await tx.run(`CREATE OR REPLACE TEMP TABLE pre_customers AS SELECT * FROM customers`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE pre_users AS SELECT * FROM users`);
}

/**
 * Fills `temp.facts_deals` and `temp.facts_payments` with what the derived tables must rebuild
 * after this sync (warehouse/facts.ts refreshFactsFor): deals it inserted or changed
 * (upserts, adopted customers, derived close dates; their versions too), deals of customers
 * whose row changed (dimensions, name) or of users whose row changed (team), deals and
 * customers of activities it inserted or changed (before and after), and payments it inserted or changed,
 * of changed customers, or of customers whose owner's row changed; and `temp.facts_activity_owners`,
 * the authors of follow-ups it inserted or changed (before and after) and users whose row
 * changed. Returns the number of deals.
 */
async function affectedDeals(tx: WriteTx): Promise<number> {
  await tx.run(`CREATE OR REPLACE TEMP TABLE chg_customers AS
    SELECT customer_id FROM (SELECT * FROM customers EXCEPT ALL SELECT * FROM pre_customers)
    UNION SELECT customer_id FROM (SELECT * FROM pre_customers EXCEPT ALL SELECT * FROM customers)`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE chg_users AS
    SELECT user_id FROM (SELECT * FROM users EXCEPT ALL SELECT * FROM pre_users)
    UNION SELECT user_id FROM (SELECT * FROM pre_users EXCEPT ALL SELECT * FROM users)`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE chg_acts AS
    SELECT opportunity_id, customer_id, owner_id FROM activities WHERE activity_id IN (SELECT id FROM chg_keys WHERE entity = 'activities')
    UNION ALL SELECT opportunity_id, customer_id, owner_id FROM chg_act_old`);
  // The authors whose follow-ups per day change (activity_day_facts): of changed follow-ups,
  // before and after, and users whose row (team) changed.
  await tx.run(`CREATE OR REPLACE TEMP TABLE facts_activity_owners AS
    SELECT DISTINCT owner_id FROM (SELECT owner_id FROM chg_acts UNION ALL SELECT user_id FROM chg_users)`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE facts_deals AS
    SELECT id AS opportunity_id FROM chg_keys WHERE entity = 'opportunities'
    UNION SELECT opportunity_id FROM opportunities
    WHERE customer_id IN (SELECT customer_id FROM chg_customers UNION ALL SELECT customer_id FROM chg_acts)
       OR owner_id IN (SELECT user_id FROM chg_users)
       OR opportunity_id IN (SELECT opportunity_id FROM chg_acts)`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE facts_payments AS
    SELECT id AS payment_id FROM chg_keys WHERE entity = 'payments'
    UNION SELECT payment_id FROM payments
    WHERE customer_id IN (SELECT customer_id FROM chg_customers
                          UNION ALL SELECT customer_id FROM customers WHERE owner_id IN (SELECT user_id FROM chg_users))`);
  for (const t of ['chg_customers', 'chg_users', 'chg_acts']) await tx.run(`DROP TABLE temp.${t}`);
  const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM facts_deals`);
  return rows[0].n;
}

export { join };
