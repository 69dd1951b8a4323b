/**
 * The contract between source readers and the load pipeline (docs/connectors.md).
 *
 * A *reader* knows one kind of source (xlsx, csv, REST, PostgreSQL, MySQL) and nothing about
 * the canonical model: it yields raw records, in batches, each with the position a user would
 * look for it at (a spreadsheet's row number, a REST record's index, a SQL row's ordinal).
 *
 * The *pipeline* (connectors/pipeline) maps source columns to canonical fields (explicit
 * `columns` first, then aliases), parses and cleans values, validates, rejects bad rows with
 * file/row/field/value/reason, and hands clean rows to the *loader*, which lands every source
 * of a sync in one DuckDB transaction, writes opportunity history, merges customers, and
 * records `sync_runs` / `rejected_rows`.
 */
import type { CockpitConfig, SourceConfig } from '../src/lib/server/config/schema';
import type { WarningRef } from './pipeline/reasons';

/** One record as the source gave it. Keys are source column names (or nested JSON objects). */
export interface RawRecord {
  /** 1-based position a user can find the record at: the sheet/file row number, or the record's ordinal. */
  row: number;
  values: Record<string, unknown>;
  /** Where in a file the record is (one object shared by every record of a sheet). */
  meta?: RecordMeta;
}

/** What a file reader knows about the part of the file a record comes from. */
export interface RecordMeta {
  /** The worksheet's name (xlsx). */
  sheet?: string;
  /** The unit a `单位：万元` line above the table names, for amount columns without their own. */
  unit?: string | null;
  /** 1-based rows of the header (two for a merged two-level header). */
  headerRows?: number[];
}

/** Why a row was skipped without being an error (counted, reported, never loaded). */
export type SkipReason = 'blank' | 'summary';

export interface ReaderEvents {
  /**
   * A warning for the sync report (e.g. a retried request, a sheet without a header): its English
   * text, and its code and parameters when it has one (connectors/pipeline/reasons.ts
   * WARNING_TEMPLATES) so the upload page says it in its language.
   */
  warn(message: string, ref?: WarningRef): void;
  /** A row skipped by the reader itself (blank or summary rows in a sheet). */
  skip(row: number, reason: SkipReason, detail?: string): void;
}

export interface ReadContext {
  config: CockpitConfig;
  /** Directory of the config file: relative file paths in sources are relative to it. */
  baseDir: string;
  /**
   * The watermark stored by the last successful sync of this source (incremental sync by an
   * updated-since value), or null for a full read.
   */
  watermark: string | null;
  signal?: AbortSignal;
  events: ReaderEvents;
}

export interface SourceReader {
  /** Where the records come from, for reports and rejected rows: a file path, a URL, a table. */
  location: string;
  /** Column names in source order, when the source has a header (auto-mapping uses them). */
  headers(): Promise<string[] | null>;
  /** The records, in batches (a page, a chunk of a sheet), streamed with bounded memory. */
  batches(): AsyncIterable<RawRecord[]>;
  /** After `batches()` is exhausted: the new watermark to store (e.g. max updated_at seen). */
  watermark?(): string | null;
  close?(): Promise<void>;
}

export type ReaderFactory = (source: SourceConfig, ctx: ReadContext) => Promise<SourceReader>;
