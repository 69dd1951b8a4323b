/**
 * A look into a file before importing it (the upload page and `cockpit import`): its sheets,
 * each sheet's header row(s), unit line, data rows, the entity it most likely holds, and its
 * first rows — read by the same readers and header rules as an import, so what the preview
 * shows is what the import will read.
 */
import type { ReasonCode, ReasonParams } from '../pipeline/reasons';
import { basename, dirname, extname } from 'node:path';
import type { CockpitConfig, SourceConfig } from '../../src/lib/server/config/schema';
import type { EntityName } from '../../src/lib/schema/tables';
import { guessEntity, scoreEntities, sheetMismatchWhy, summarySheetWhy, type EntityGuess } from '../pipeline/guess';
import { warning, type Warning } from '../pipeline/reasons';
import { Pipeline, type FieldMapping, type Outcome } from '../pipeline/pipeline';
import type { RawRecord } from '../types';
import { cleanText } from '../pipeline/values';
import { readCsv } from './csv';
import { readXlsx } from './xlsx';

export interface SheetPreview {
  /** The worksheet (null for a CSV file). */
  name: string | null;
  headers: string[];
  headerRows: number[];
  unit: string | null;
  /** Data rows read (records; blank and summary rows not included). */
  rows: number;
  blank: number;
  summary: number;
  sample: RawRecord[];
  /** Each column's distinct text values (cleaned), while there are at most 40 of them; null beyond. */
  distinct: Record<string, string[] | null>;
  guess: EntityGuess | null;
  scores: EntityGuess[];
}

export interface FilePreview {
  type: 'excel' | 'csv';
  path: string;
  /** Every worksheet of a workbook, including empty ones. */
  sheetNames: string[];
  /** The configured stage names (a pivot's stages as columns mark it as a summary sheet). */
  stageNames: string[];
  sheets: SheetPreview[];
}

export function fileType(path: string): 'excel' | 'csv' | null {
  const ext = extname(path).toLowerCase();
  return ext === '.xlsx' || ext === '.xlsm' ? 'excel' : ['.csv', '.tsv', '.txt'].includes(ext) ? 'csv' : null;
}

/** Reads the whole file once and keeps the first `sampleRows` records of each sheet. */
export async function inspectFile(
  path: string,
  config: CockpitConfig,
  opts: { headerRow?: number; sampleRows?: number; sheet?: string; encoding?: string } = {}
): Promise<FilePreview> {
  const type = fileType(path);
  if (!type) throw new Error(`${path}: unsupported file type "${extname(path)}" (.xlsx, .csv, .tsv; save .xls as .xlsx first)`);
  const n = opts.sampleRows ?? 20;
  const sheets = new Map<string, SheetPreview>();
  let current: SheetPreview | null = null;
  const ctx = {
    config,
    baseDir: dirname(path),
    watermark: null,
    events: {
      warn: () => undefined,
      skip: (_row: number, reason: string) => {
        if (current && reason === 'blank') current.blank++;
        if (current && reason === 'summary') current.summary++;
      }
    }
  };
  const source = {
    name: 'inspect',
    type,
    entity: 'opportunities',
    path: basename(path),
    ...(opts.headerRow ? { header_row: opts.headerRow } : {}),
    ...(opts.sheet ? { sheet: opts.sheet } : {}),
    ...(opts.encoding && type === 'csv' ? { encoding: opts.encoding } : {})
  };
  const reader = type === 'excel' ? await readXlsx(source as never, ctx) : await readCsv(source as never, ctx);
  for await (const batch of reader.batches()) {
    if (!batch.length) continue;
    const key = batch[0].meta?.sheet ?? '';
    let sp = sheets.get(key);
    if (!sp) {
      const headers = (await reader.headers()) ?? [];
      sp = {
        name: batch[0].meta?.sheet ?? null,
        headers,
        headerRows: batch[0].meta?.headerRows ?? [],
        unit: batch[0].meta?.unit ?? null,
        rows: 0,
        blank: 0,
        summary: 0,
        sample: [],
        distinct: Object.fromEntries(headers.map((h) => [h, []])),
        guess: guessEntity(headers, key),
        scores: scoreEntities(headers, key)
      };
      sheets.set(key, sp);
    }
    current = sp;
    sp.rows += batch.length;
    for (const r of batch) {
      if (sp.sample.length < n) sp.sample.push(r);
      for (const [h, list] of Object.entries(sp.distinct)) {
        const v = r.values[h];
        if (!list || typeof v !== 'string') continue;
        const t = cleanText(v);
        if (t && !list.includes(t)) {
          if (list.length >= 40) sp.distinct[h] = null;
          else list.push(t);
        }
      }
    }
  }
  const names = 'sheetNames' in reader ? (reader as { sheetNames(): string[] }).sheetNames() : [];
  return { type, path, sheetNames: names, stageNames: config.stages.map((st) => st.name), sheets: [...sheets.values()] };
}

/**
 * The sheets of a workbook that hold `entity` (what an import without a sheet name reads), and
 * why each other sheet is not read: `why` in English (the CLI), `reason` coded (a screen says it
 * in its language: `warning.<code>`). A sheet is not read when no column maps to a field, when it
 * is a summary or pivot table (`sheet_summary`, connectors/pipeline/guess.ts), or when it fits
 * another entity better — the same rules as a source read whole (connectors/load/sync.ts).
 */
export function sheetsFor(preview: FilePreview, entity: EntityName): { picked: SheetPreview[]; skipped: { sheet: SheetPreview; why: string; reason: Warning }[] } {
  const picked: SheetPreview[] = [];
  const skipped: { sheet: SheetPreview; why: string; reason: Warning }[] = [];
  for (const sp of preview.sheets) {
    const mine = sp.scores.find((s) => s.entity === entity);
    const reason =
      summarySheetWhy(entity, sp.headers, sp.name ?? '', preview.stageNames) ??
      (!mine || mine.fields.length === 0 ? warning('sheet_unmapped') : sheetMismatchWhy(entity, sp.headers, sp.name ?? ''));
    if (reason) skipped.push({ sheet: sp, why: reason.text, reason });
    else picked.push(sp);
  }
  return { picked, skipped };
}

export interface PreviewRow {
  row: number;
  sheet: string | null;
  /** Parsed values by field (units applied), or the rejection. */
  values: Record<string, string | number | boolean | null> | null;
  rejection: { field: string | null; column: string | null; value: string | null; reason: string; code: ReasonCode; params: ReasonParams } | null;
}

/** The sample rows through the pipeline with a source's settings: what the import will store. */
export function previewRows(config: CockpitConfig, source: SourceConfig, sp: SheetPreview): { mapping: FieldMapping[]; unmapped: string[]; rows: PreviewRow[] } {
  const pipe = new Pipeline({ config, source, now: '2000-01-01 00:00:00' });
  const rows: PreviewRow[] = sp.sample.map((rec) => {
    const out: Outcome = pipe.process(rec, sp.headers);
    return out.ok
      ? { row: rec.row, sheet: sp.name, values: { ...out.result.main, ...Object.fromEntries(out.result.refs.flatMap((r) => (r.entity === 'customers' ? [['customer_name', r.row.name ?? null]] : [])) ) }, rejection: null }
      : { row: rec.row, sheet: sp.name, values: null, rejection: { field: out.rejection.field, column: out.rejection.column, value: out.rejection.value, reason: out.rejection.reason, code: out.rejection.code, params: out.rejection.params } };
  });
  const m = pipe.mappingFor(sp.headers, sp.sample[0]?.values, sp.sample[0]?.meta);
  return { mapping: m.mapping, unmapped: m.unmapped, rows };
}
