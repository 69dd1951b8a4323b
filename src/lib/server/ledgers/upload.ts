/**
 * The browser onboarding of a ledger (docs/connectors.md, "Upload in the browser"): a file is
 * stored under `uploads/` beside the config file (so a source saved from the page is an
 * ordinary file source, confined to the config's directory), previewed with the same readers
 * and value rules as `cockpit import`, imported in one transaction, and optionally saved as a
 * source in cockpit.config.json.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { sourceSchema, type CockpitConfig, type SourceConfig } from '../config/schema';
import { ENTITIES, type EntityName } from '../../schema/tables';

export const UPLOAD_DIR = 'uploads';
/** The largest file accepted (adapter-node's BODY_SIZE_LIMIT, 512 KB by default, applies first). */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

/** Who may upload and import: an executive or admin token, or anyone in the open local demo. */
export function importAccess(locals: App.Locals): { ok: true } | { ok: false; status: 401 | 403; error: string } {
  if (locals.demoMode) return { ok: true };
  if (!locals.viewer) return { ok: false, status: 401, error: 'unauthorized: a token is required' };
  if (locals.viewer.role !== 'executive' && locals.viewer.role !== 'admin') {
    return { ok: false, status: 403, error: 'forbidden: only an executive or admin token may import data' };
  }
  return { ok: true };
}

/** A file name safe to store: letters of any script, digits, `_ . -` (others become `_`). */
export function safeFileName(name: string): string {
  const ext = extname(name).toLowerCase();
  const stem = basename(name, extname(name))
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}_.-]+/gu, '_')
    .replace(/^[._]+/, '')
    .slice(0, 80);
  return `${stem || 'upload'}${ext}`;
}

const ALLOWED = ['.xlsx', '.xlsm', '.csv', '.tsv', '.txt'];

/**
 * Stores an uploaded file as `uploads/<name>`; a different file with the same name gets a
 * short content hash appended, so an earlier upload a saved source reads is never replaced.
 */
export function storeUpload(dir: string, name: string, bytes: Uint8Array): string {
  const safe = safeFileName(name);
  const ext = extname(safe);
  if (!ALLOWED.includes(ext)) throw new UploadError(`"${name}": unsupported file type (${ALLOWED.join(', ')}; save .xls as .xlsx first)`);
  if (bytes.length === 0) throw new UploadError(`"${name}" is empty`);
  if (bytes.length > MAX_UPLOAD_BYTES) throw new UploadError(`"${name}" is larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB`);
  const up = join(dir, UPLOAD_DIR);
  mkdirSync(up, { recursive: true });
  let file = safe;
  const target = () => join(up, file);
  if (existsSync(target())) {
    const same = Buffer.compare(readFileSync(target()), Buffer.from(bytes)) === 0;
    if (!same) file = `${basename(safe, ext)}-${createHash('sha1').update(bytes).digest('hex').slice(0, 8)}${ext}`;
  }
  const tmp = `${target()}.part`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, target());
  return file;
}

/** The absolute path of a stored upload (`file` must be a plain name in uploads/). */
export function uploadPath(dir: string, file: unknown): string {
  if (typeof file !== 'string' || !file || file !== basename(file) || file.startsWith('.') || safeFileName(file) !== file) {
    throw new UploadError('file: expected the name of an uploaded file');
  }
  const p = join(dir, UPLOAD_DIR, file);
  if (!existsSync(p)) throw new UploadError(`file: no upload named "${file}" (upload it again)`);
  return p;
}

export class UploadError extends Error {}

/** What the page sends to preview or import: the file and the choices made on the page. */
export interface ImportChoices {
  file: string;
  entity?: EntityName;
  sheet?: string;
  name?: string;
  header_row?: number;
  unit?: string;
  date_order?: 'ymd' | 'dmy' | 'mdy';
  /** field → column, as corrected on the page. */
  columns?: Record<string, string>;
  /** The file's stage names → configured stages, as chosen on the page. */
  stage_map?: Record<string, string>;
}

/** Reads the choices from a JSON body, refusing anything unexpected. */
export function parseChoices(body: unknown): ImportChoices {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new UploadError('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const str = (k: string) => {
    const v = b[k];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' || v.length > 200) throw new UploadError(`${k}: expected text`);
    return v;
  };
  const entity = str('entity');
  if (entity && !(ENTITIES as readonly string[]).includes(entity)) throw new UploadError(`entity: expected one of ${ENTITIES.join(', ')}`);
  const headerRow = b.header_row === undefined || b.header_row === null || b.header_row === '' ? undefined : Number(b.header_row);
  if (headerRow !== undefined && !(Number.isInteger(headerRow) && headerRow > 0 && headerRow < 1000)) throw new UploadError('header_row: expected a row number');
  const order = str('date_order');
  if (order && !['ymd', 'dmy', 'mdy'].includes(order)) throw new UploadError('date_order: expected ymd, dmy or mdy');
  let columns: Record<string, string> | undefined;
  if (b.columns !== undefined && b.columns !== null) {
    if (typeof b.columns !== 'object' || Array.isArray(b.columns)) throw new UploadError('columns: expected {field: column}');
    columns = {};
    for (const [k, v] of Object.entries(b.columns as Record<string, unknown>)) {
      if (typeof v !== 'string' || !v || v.length > 500) throw new UploadError(`columns.${k}: expected a column name`);
      columns[k] = v;
    }
  }
  let stageMap: Record<string, string> | undefined;
  if (b.stage_map !== undefined && b.stage_map !== null) {
    if (typeof b.stage_map !== 'object' || Array.isArray(b.stage_map)) throw new UploadError('stage_map: expected {stage in the file: configured stage}');
    stageMap = {};
    for (const [k, v] of Object.entries(b.stage_map as Record<string, unknown>)) {
      if (typeof v !== 'string' || !v || v.length > 200 || k.length > 200) throw new UploadError(`stage_map.${k}: expected a stage name`);
      stageMap[k] = v;
    }
  }
  return {
    stage_map: stageMap,
    file: str('file') ?? '',
    entity: entity as EntityName | undefined,
    sheet: str('sheet'),
    name: str('name'),
    header_row: headerRow,
    unit: str('unit'),
    date_order: order as ImportChoices['date_order'],
    columns
  };
}

/**
 * The source the choices describe, checked by the configuration's own schema (so a source
 * saved from the page is exactly one the config file accepts). Columns chosen on the page are
 * the whole mapping (`auto_map: false`): what the user saw is what is imported.
 */
export function sourceFor(c: ImportChoices, type: 'excel' | 'csv'): SourceConfig {
  const raw: Record<string, unknown> = {
    name: c.name || `upload-${safeFileName(c.file).replace(/\.[^.]+$/, '')}`,
    type,
    entity: c.entity ?? 'opportunities',
    path: `${UPLOAD_DIR}/${c.file}`
  };
  if (c.sheet && type === 'excel') raw.sheet = c.sheet;
  if (c.header_row) raw.header_row = c.header_row;
  if (c.unit) raw.unit = c.unit;
  if (c.date_order) raw.date_order = c.date_order;
  if (c.stage_map && Object.keys(c.stage_map).length) raw.stage_map = c.stage_map;
  if (c.columns) {
    raw.columns = c.columns;
    raw.auto_map = false;
  }
  const r = sourceSchema.safeParse(raw);
  if (!r.success) throw new UploadError(r.error.issues.map((i) => `${i.path.join('.') || 'source'}: ${i.message}`).join('; '));
  return r.data as SourceConfig;
}

/** The config file the server reads (null for the built-in defaults: nothing to save into). */
export function configFile(): string | null {
  const p = resolve(process.env.COCKPIT_CONFIG || 'cockpit.config.json');
  return existsSync(p) ? p : null;
}

/**
 * Adds the source to cockpit.config.json (replacing one of the same name), keeping every other
 * key as written, and to the running server's configuration (so `POST /api/sync` reads it).
 */
export function saveSource(config: CockpitConfig, source: SourceConfig): { file: string; replaced: boolean } {
  const file = configFile();
  if (!file) throw new UploadError('no configuration file to save into: start the server with --config cockpit.config.json');
  const raw = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as { sources?: Record<string, unknown>[] };
  const stored: Record<string, unknown> = { ...source };
  for (const [k, v] of Object.entries(stored)) if (v === undefined) delete stored[k];
  const list = Array.isArray(raw.sources) ? raw.sources : [];
  const at = list.findIndex((s) => s && s.name === source.name);
  if (at >= 0) list[at] = stored;
  else list.push(stored);
  raw.sources = list;
  const tmp = `${file}.part`;
  writeFileSync(tmp, JSON.stringify(raw, null, 2) + '\n');
  renameSync(tmp, file);
  const live = config.sources.findIndex((s) => s.name === source.name);
  if (live >= 0) config.sources[live] = source;
  else config.sources.push(source);
  return { file, replaced: at >= 0 };
}

/** Targets typed on the page, as a CSV file in uploads/ (kept: the import reads it like any file). */
export function targetsCsv(dir: string, rows: unknown): string {
  if (!Array.isArray(rows) || rows.length === 0 || rows.length > 2000) throw new UploadError('rows: expected 1 to 2,000 targets');
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    if (s.length > 200) throw new UploadError('a target cell is longer than 200 characters');
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = ['负责人,团队,指标,开始日期,结束日期,目标金额'];
  for (const r of rows as Record<string, unknown>[]) {
    if (!r || typeof r !== 'object') throw new UploadError('rows: expected objects');
    lines.push([r.owner_id, r.team_id, r.metric ?? 'won_amount', r.period_start, r.period_end, r.amount].map(cell).join(','));
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return storeUpload(dir, `targets-entered-${stamp}.csv`, new TextEncoder().encode('\uFEFF' + lines.join('\r\n') + '\r\n'));
}
