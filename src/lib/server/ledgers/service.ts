/**
 * What the upload page's endpoints do (src/routes/api/import/*): preview a stored upload with
 * the page's choices, and import it in one transaction. Shared by the endpoints and tests.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../db/database';
import type { CockpitConfig, SourceConfig } from '../config/schema';
import { mappableFields } from '../../../../connectors/pipeline/fields';
import { fileType, inspectFile, previewRows, sheetsFor, type SheetPreview } from '../../../../connectors/file/inspect';
import { SourceError } from '../../../../connectors/pipeline/pipeline';
import { headerKey } from '../../../../connectors/pipeline/aliases';
import { runSync, type SyncReport } from '../../../../connectors/load/sync';
import { exportRejected, rejectedRows, type RejectedRow } from '../../../../connectors/load/rejected';
import { saveSource, sourceFor, uploadPath, UploadError, type ImportChoices } from './upload';

const sheetSummary = (s: SheetPreview) => ({
  name: s.name,
  headers: s.headers,
  header_rows: s.headerRows,
  unit: s.unit,
  rows: s.rows,
  blank: s.blank,
  summary: s.summary,
  entity: s.guess?.entity ?? null
});

/** The file's sheets, the chosen (or best) sheet's mapping and its first rows as they will be stored. */
export async function preview(config: CockpitConfig, dir: string, c: ImportChoices) {
  const path = uploadPath(dir, c.file);
  const type = fileType(path)!;
  const file = await inspectFile(path, config, { headerRow: c.header_row, sampleRows: 12 });
  if (file.sheets.length === 0) throw new UploadError(`${c.file}: no table found${file.sheetNames.length ? ` (sheets: ${file.sheetNames.join(', ')})` : ''}`);
  let sheet = c.sheet ? file.sheets.find((s) => s.name === c.sheet) : undefined;
  if (c.sheet && !sheet) throw new UploadError(`sheet: no table in a sheet named "${c.sheet}" (sheets: ${file.sheetNames.join(', ')})`);
  // With no sheet chosen, the sheet that looks most like a table of something (the 商机 ledger, not a
  // notes sheet whose one 日期 column made it look like activities): the best score, the first on a tie.
  const best = file.sheets.reduce<(typeof file.sheets)[number] | undefined>((b, s) => (s.guess && (!b?.guess || s.guess.score > b.guess.score) ? s : b), undefined);
  const entity = c.entity ?? sheet?.guess?.entity ?? best?.guess?.entity ?? 'opportunities';
  const { picked, skipped } = sheetsFor(file, entity);
  if (!sheet) sheet = picked[0] ?? file.sheets[0];
  // Why each other sheet would not be read as the entity (coded, for the page's language).
  const notRead = new Map(skipped.map((x) => [x.sheet, x.reason]));
  const source = sourceFor({ ...c, entity, sheet: sheet.name ?? undefined }, type);
  let mapped;
  try {
    mapped = previewRows(config, source, sheet);
  } catch (e) {
    if (e instanceof SourceError) throw new UploadError(e.message);
    throw e;
  }
  // Stage names in the file that no configured stage (or the page's stage_map) knows.
  const stageCol = mapped.mapping.find((m) => m.field === 'stage')?.column;
  const known = new Set<string>();
  for (const st of config.stages) known.add(headerKey(st.name));
  for (const k of Object.keys(source.stage_map ?? {})) known.add(headerKey(k));
  const unknownStages = entity === 'opportunities' && stageCol ? (sheet.distinct[stageCol] ?? []).filter((v) => !known.has(headerKey(v))) : [];
  return {
    file: c.file,
    type,
    stages: config.stages.map((st) => st.name),
    unknown_stages: unknownStages,
    stage_map: source.stage_map ?? {},
    sheet_names: file.sheetNames,
    sheets: file.sheets.map((s) => ({ ...sheetSummary(s), not_read: notRead.get(s) ?? null })),
    sheet: sheet.name,
    entity,
    source,
    fields: mappableFields(entity),
    mapping: mapped.mapping,
    unmapped: mapped.unmapped,
    sample: sheet.sample.map((r) => ({ row: r.row, values: r.values })),
    rows: mapped.rows
  };
}

export interface ImportResult {
  report: SyncReport;
  source: SourceConfig;
  saved: { file: string; replaced: boolean } | null;
  rejected: RejectedRow[];
}

/**
 * Imports the upload with the page's choices in one transaction (a failure changes nothing),
 * then saves the source into the configuration when asked (only after a successful import).
 */
export async function importUpload(db: Database, config: CockpitConfig, dir: string, c: ImportChoices, save: boolean): Promise<ImportResult> {
  const path = uploadPath(dir, c.file);
  const type = fileType(path)!;
  const source = sourceFor(c, type);
  const report = await runSync(db, { config, baseDir: dir, sources: [source], kind: 'import' });
  const saved = save && report.ok ? saveSource(config, source) : null;
  const rejected = report.sources[0]?.rejected ? await rejectedRows(db, [report.sources[0].run_id]) : [];
  return { report, source, saved, rejected: rejected.slice(0, 500) };
}

/** A run's rejected rows as an .xlsx or .csv file's bytes. */
export async function rejectedFile(db: Database, run: string, format: 'xlsx' | 'csv'): Promise<Uint8Array | null> {
  const tmp = mkdtempSync(join(tmpdir(), 'cockpit-rejected-'));
  try {
    const out = join(tmp, `rejected.${format}`);
    const r = await exportRejected(db, { run, out });
    if (!r.rows) return null;
    return readFileSync(out);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
