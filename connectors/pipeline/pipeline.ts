/**
 * The pipeline: one source's raw records → clean canonical rows, or rejections
 * (docs/connectors.md, "Rules"). It knows nothing about where records come from (the readers)
 * or how rows are stored (the loader): it maps, parses, cleans, validates and derives.
 *
 * Output per record: the entity's row, rows of related entities the record references
 * (a customer's name/industry/region on an opportunity row; an owner's team), and the
 * stage-entry dates for opportunity history; or one rejection naming row, column, value
 * and reason.
 */
import { createHash } from 'node:crypto';
import type { CockpitConfig, SourceConfig } from '../../src/lib/server/config/schema';
import { FORECAST_CATEGORIES } from '../../src/lib/server/config/schema';
import { TABLES, type ColumnType, type EntityName } from '../../src/lib/schema/tables';
import { closest } from '../../src/lib/server/config/suggest';
import { DEFAULT_REGION_SUFFIXES } from '../shared-options';
import type { RawRecord, RecordMeta } from '../types';
import { aliasIndex, headerKey } from './aliases';
import { mappableFields, REFERENCE_FIELDS } from './fields';
import { reason, type Reason, type ReasonCode, type ReasonParams } from './reasons';
import {
  cleanRegion,
  cleanText,
  failed,
  refOf,
  isBlank,
  nameKey,
  parseAmount,
  parseBoolean,
  parseDate,
  parseProbability,
  phoneKey,
  PLACEHOLDER,
  headerUnit,
  stripHeaderUnit,
  toText,
  unitFactor,
  type Parsed,
  type ValueRules
} from './values';

/**
 * Columns of a `cockpit rejected` export that are not source columns (ignored on re-import);
 * `cockpit_reason_zh` is the reason in Chinese (from its code, connectors/pipeline/reasons.ts).
 */
export const REJECT_EXPORT_COLUMNS = ['cockpit_source', 'cockpit_sheet', 'cockpit_row', 'cockpit_column', 'cockpit_field', 'cockpit_reason', 'cockpit_reason_zh'];

export interface FieldMapping {
  field: string;
  /** Source column (header) or dotted path. */
  column: string;
  how: 'config' | 'alias' | 'default';
  /** Amounts: the unit applied to values without their own (`万元`), and where it came from. */
  unit?: string;
  unit_from?: 'units' | 'header' | 'unit line' | 'source';
}

export interface Rejection {
  row: number;
  /** The worksheet, for a workbook. */
  sheet?: string | null;
  field: string | null;
  column: string | null;
  value: string | null;
  /** The English reason (report, CLI, export); `code` and `params` say it in any language (./reasons.ts). */
  reason: string;
  code: ReasonCode;
  params: ReasonParams;
  raw: Record<string, unknown>;
}

/** A clean row: canonical field → value (text, number, boolean or null). */
export type CleanRow = Record<string, string | number | boolean | null>;

export interface RowResult {
  row: number;
  /** The entity's row (with `attributes` as JSON text). */
  main: CleanRow;
  /** Related rows the record describes, to create or update (only the fields it carries). */
  refs: { entity: 'customers' | 'users' | 'teams'; row: CleanRow }[];
  /** Opportunity stage entries from `stage_dates`: stage → timestamp. */
  stageDates: { stage: string; at: string }[];
  /** Opportunities: when the deal entered its current stage, when the record says so. */
  enteredCurrent: string | null;
  /** Payments: the record as read, to reject it later (an unknown contract is found when loading). */
  raw?: Record<string, unknown>;
  sheet?: string | null;
  /** Payments: the column the contract number came from. */
  contractColumn?: string | null;
}

export type Outcome = { ok: true; result: RowResult } | { ok: false; rejection: Rejection };

const TYPE_OF_REF: Record<string, ColumnType> = {
  customer_name: 'text',
  customer_industry: 'text',
  customer_region: 'text',
  customer_phone: 'text',
  customer_grade: 'text',
  owner_name: 'text',
  owner_team: 'text',
  team_name: 'text',
  team_parent_id: 'text',
  parent_name: 'text',
  manager_name: 'text'
};

const ID_FIELD: Record<EntityName, string> = {
  teams: 'team_id',
  users: 'user_id',
  customers: 'customer_id',
  opportunities: 'opportunity_id',
  payments: 'payment_id',
  activities: 'activity_id',
  targets: 'target_id'
};
export const idField = (e: EntityName) => ID_FIELD[e];

/** Money that cannot be negative: a deal's amount, a planned or received payment, a target. */
const NON_NEGATIVE = new Set(['opportunities.amount', 'opportunities.amount_original', 'payments.amount', 'payments.paid_amount', 'targets.amount']);

/** How ledgers name target metrics (指标) → the metric names models use. */
const TARGET_METRICS: Record<string, string> = {
  签约额: 'won_amount', 签单额: 'won_amount', 成交额: 'won_amount', 赢单金额: 'won_amount', 销售额: 'won_amount', 业绩: 'won_amount', 合同额: 'won_amount', 签约金额: 'won_amount', 成交金额: 'won_amount',
  回款额: 'collected_amount', 回款: 'collected_amount', 回款金额: 'collected_amount', 收款额: 'collected_amount', 到账金额: 'collected_amount',
  新客户数: 'new_customers', 新增客户: 'new_customers', 新客户: 'new_customers', 新增客户数: 'new_customers'
};

/** Fields that hold ids (prefixed with `id_prefix`, never region-cleaned). */
const ID_FIELDS = new Set(['team_id', 'parent_id', 'manager_id', 'user_id', 'customer_id', 'owner_id', 'opportunity_id', 'payment_id', 'activity_id', 'target_id', 'team_parent_id', 'owner_team']);

/** Reads `a.b.c` from a nested record; a flat key with dots wins. */
export function getPath(values: Record<string, unknown>, path: string): unknown {
  if (path in values) return values[path];
  if (!path.includes('.')) return undefined;
  let cur: unknown = values;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** Candidate columns of a record: its keys, and nested object keys as dotted paths (2 levels). */
export function candidateColumns(values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v && typeof v === 'object' && !(v instanceof Date) && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        if (v2 && typeof v2 === 'object' && !(v2 instanceof Date) && !Array.isArray(v2)) {
          for (const k3 of Object.keys(v2 as object)) out.push(`${k}.${k2}.${k3}`);
        } else out.push(`${k}.${k2}`);
      }
    } else out.push(k);
  }
  return out;
}

/** A source-level problem (a mapped column missing from the file): fails the source. */
export class SourceError extends Error {}

/**
 * Resolves field → column for a header: explicit `columns` first (each must exist when the
 * header is known), then aliases on the remaining headers. Returns the mapping and the
 * columns left unmapped (kept in `attributes`).
 */
export function resolveMapping(
  source: Pick<SourceConfig, 'entity' | 'columns' | 'stage_dates' | 'auto_map' | 'name'>,
  headers: string[] | null,
  /** False for sources without a header (JSON records): a sample record may lack a configured key. */
  validate = true
): { mapping: FieldMapping[]; unmapped: string[] } {
  const entity = source.entity;
  const mapping: FieldMapping[] = [];
  const used = new Set<string>();
  const fields = mappableFields(entity);
  for (let [field, column] of Object.entries(source.columns ?? {})) {
    if (headers && !headers.includes(column)) {
      // `预计成交金额` names the header `预计成交金额（万元）` too (same header once normalised).
      const bare = cleanText(stripHeaderUnit(column));
      const same = headers.find((h) => cleanText(stripHeaderUnit(h)) === bare);
      if (same) column = same;
    }
    if (validate && headers && !headers.includes(column) && !headers.some((h) => column.startsWith(`${h}.`))) {
      const hint = closest(column, headers);
      throw new SourceError(
        `columns.${field}: column "${column}" is not in the source${hint ? `; did you mean "${hint}"?` : ''} (columns: ${headers.join(', ')})`
      );
    }
    mapping.push({ field, column, how: 'config' });
    used.add(column);
  }
  for (const column of Object.values(source.stage_dates ?? {})) {
    if (validate && headers && !headers.includes(column) && !headers.some((h) => column.startsWith(`${h}.`))) {
      const hint = closest(column, headers);
      throw new SourceError(`stage_dates: column "${column}" is not in the source${hint ? `; did you mean "${hint}"?` : ''} (columns: ${headers.join(', ')})`);
    }
    used.add(column);
  }
  if (headers && source.auto_map !== false) {
    const idx = aliasIndex(entity);
    const taken = new Set(mapping.map((m) => m.field));
    // Exact header matches first, then the last segment of a dotted path (properties.amount).
    for (const pass of [0, 1]) {
      for (const h of headers) {
        if (used.has(h) || REJECT_EXPORT_COLUMNS.includes(h)) continue;
        const key = headerKey(pass === 0 ? h : (h.split('.').pop() ?? h));
        if (pass === 1 && !h.includes('.')) continue;
        const field = idx.get(key);
        if (!field || taken.has(field) || !fields.includes(field)) continue;
        mapping.push({ field, column: h, how: 'alias' });
        taken.add(field);
        used.add(h);
      }
    }
  }
  const unmapped = headers ? headers.filter((h) => !used.has(h) && !REJECT_EXPORT_COLUMNS.includes(h)) : [];
  return { mapping, unmapped };
}

export interface PipelineOptions {
  config: CockpitConfig;
  source: SourceConfig;
  /** The sync's time, naive business-local `YYYY-MM-DD HH:MM:SS`. */
  now: string;
}

function typeOf(entity: EntityName, field: string): ColumnType {
  const col = TABLES[entity].columns.find((c) => c.name === field);
  return col?.type ?? TYPE_OF_REF[field] ?? 'text';
}

/**
 * One source's pipeline. `process` is called per record; the mapping is resolved on the
 * first record of each distinct header (a workbook's sheets may differ).
 */
export class Pipeline {
  readonly entity: EntityName;
  private readonly stageByKey = new Map<string, { name: string; outcome?: 'won' | 'lost' }>();
  private readonly stageNames: string[];
  private readonly suffixes: readonly string[];
  private readonly prefix: string;
  private readonly rules: ValueRules;
  private mappings = new Map<string, { mapping: FieldMapping[]; unmapped: string[] }>();
  /** The mapping used (first header), for reports. */
  mappingUsed: FieldMapping[] | null = null;
  private readonly required: { name: string }[];
  unmappedUsed: string[] = [];

  constructor(private readonly opts: PipelineOptions) {
    const { source, config } = opts;
    this.entity = source.entity;
    this.required = TABLES[source.entity].columns.filter((c) => c.required && c.name !== 'attributes');
    this.stageNames = config.stages.map((s) => s.name);
    for (const s of config.stages) {
      this.stageByKey.set(s.name, s);
      this.stageByKey.set(headerKey(s.name), s);
    }
    for (const [from, to] of Object.entries(source.stage_map ?? {})) {
      const s = config.stages.find((x) => x.name === to);
      if (s) {
        this.stageByKey.set(from, s);
        this.stageByKey.set(headerKey(from), s);
      }
    }
    this.suffixes = source.region_suffixes ?? DEFAULT_REGION_SUFFIXES;
    this.rules = { order: source.date_order, min: source.date_range?.[0], max: source.date_range?.[1] };
    this.prefix = source.id_prefix ?? '';
  }

  /** The mapping for a header (cached); throws SourceError for a mapped column that is missing. */
  mappingFor(headers: string[] | null, sample?: Record<string, unknown>, meta?: RecordMeta): { mapping: FieldMapping[]; unmapped: string[] } {
    const cols = headers ?? (sample ? candidateColumns(sample) : null);
    const key = (cols ? cols.join('\u0001') : '') + '\u0002' + (meta?.unit ?? '');
    let m = this.mappings.get(key);
    if (!m) {
      // A source without a header (JSON records): a configured key may be absent from a record.
      m = resolveMapping(this.opts.source, cols, headers !== null);
      for (const f of m.mapping) this.assignUnit(f, meta);
      this.mappings.set(key, m);
    }
    return m;
  }

  /** Money columns: the unit of values without their own (docs/connectors.md, "Units"). */
  private assignUnit(f: FieldMapping, meta: RecordMeta | undefined) {
    const t = typeOf(this.entity, f.field);
    if (!(t === 'decimal' || (t === 'double' && f.field !== 'probability'))) return;
    const { units, unit } = this.opts.source;
    const pick: [string | null | undefined, FieldMapping['unit_from']][] = [
      [units?.[f.field] ?? units?.[f.column], 'units'],
      [headerUnit(f.column), 'header'],
      [meta?.unit, 'unit line'],
      [unit, 'source']
    ];
    for (const [u, from] of pick) {
      if (u && unitFactor(u) !== null) {
        f.unit = u;
        f.unit_from = from;
        return;
      }
    }
  }

  /** The configured stage a value names (by name, `stage_map` or header key), for the SQL ingest's dictionary. */
  stageOf(v: string): { name: string; outcome?: 'won' | 'lost' } | undefined {
    return this.stage(v);
  }

  /** One value parsed for a field, exactly as `process` parses it (the SQL ingest's dictionaries use it). */
  parseField(field: string, v: unknown, unit?: string): Parsed<string | number | boolean | null> {
    return this.parse(field, v, unit);
  }

  private stage(v: string): { name: string; outcome?: 'won' | 'lost' } | undefined {
    return this.stageByKey.get(v) ?? this.stageByKey.get(headerKey(v));
  }

  /** Parses one value for a field; null for blank (and for placeholders such as `-` in typed columns). */
  private parse(field: string, v: unknown, unit?: string): Parsed<string | number | boolean | null> {
    if (isBlank(v)) return { ok: true, value: null };
    const t = typeOf(this.entity, field);
    if (t !== 'text' && typeof v === 'string' && PLACEHOLDER.test(v.trim())) return { ok: true, value: null };
    const factor = unit ? (unitFactor(unit) ?? 1) : 1;
    switch (t) {
      case 'decimal':
        return parseAmount(v, factor);
      case 'double':
        return field === 'probability' ? parseProbability(v) : parseAmount(v, factor);
      case 'integer': {
        const r = parseAmount(v);
        return r.ok && !Number.isInteger(r.value) ? failed('not_whole_number') : r;
      }
      case 'date': {
        const r = parseDate(v, this.opts.config.timezone, this.rules);
        return r.ok ? { ok: true, value: r.value.slice(0, 10) } : r;
      }
      case 'timestamp':
        return parseDate(v, this.opts.config.timezone, this.rules);
      case 'boolean':
        return parseBoolean(v);
      default: {
        let s = cleanText(toText(v));
        if (field === 'region' || field === 'customer_region') s = cleanRegion(s, this.suffixes);
        if (s === '') return { ok: true, value: null };
        if (ID_FIELDS.has(field) && this.prefix) s = this.prefix + s;
        return { ok: true, value: s };
      }
    }
  }

  process(rec: RawRecord, headers: string[] | null): Outcome {
    const { source, config, now } = this.opts;
    const m0 = this.mappingFor(headers, rec.values, rec.meta);
    const { mapping, unmapped } = m0;
    if (!this.mappingUsed) {
      this.mappingUsed = mapping;
      this.unmappedUsed = unmapped;
    }
    const raw = rec.values;
    const row: CleanRow = {};
    const reject = (field: string | null, column: string | null, value: unknown, why: Reason): Outcome => ({
      ok: false,
      rejection: { row: rec.row, sheet: rec.meta?.sheet ?? null, field, column, value: value === undefined || value === null ? null : toText(value), reason: why.text, code: why.code, params: why.params, raw }
    });

    for (const m of mapping) {
      const v = getPath(raw, m.column);
      const p = this.parse(m.field, v, m.unit);
      if (!p.ok) return reject(m.field, m.column, v, reason('in_field', { field: m.field, reason: refOf(p) }));
      if (typeof p.value === 'number' && p.value < 0 && NON_NEGATIVE.has(`${this.entity}.${m.field}`)) {
        return reject(m.field, m.column, v, reason(this.entity === 'payments' ? 'negative_receipt' : 'negative_amount', { field: m.field, amount: p.value as number }));
      }
      row[m.field] = p.value;
    }
    for (const [field, value] of Object.entries(source.defaults ?? {})) {
      if (row[field] === undefined || row[field] === null) {
        const p = this.parse(field, value);
        if (!p.ok) return reject(field, null, value, reason('in_default', { field, reason: refOf(p) }));
        row[field] = p.value;
      }
    }

    const e = this.entity;
    const idF = ID_FIELD[e];
    // Ids: customers, users and teams without an id are identified by their name.
    if (row[idF] == null) {
      if ((e === 'customers' || e === 'users' || e === 'teams') && row.name != null) {
        row[idF] = this.prefix + String(row.name);
      } else if (e === 'payments' || e === 'activities' || e === 'targets') {
        const h = createHash('sha1')
          .update(JSON.stringify(mapping.map((m) => row[m.field] ?? null)))
          .digest('hex')
          .slice(0, 16);
        row[idF] = `${source.name}:${h}`;
      }
    }
    // A target with a start and no end (a 月份 column) covers that month.
    if (e === 'targets' && row.period_start != null && row.period_end == null) {
      const [y, mo] = String(row.period_start).split('-').map(Number);
      row.period_end = mo === 12 ? `${y + 1}-01-01` : `${y}-${String(mo + 1).padStart(2, '0')}-01`;
    }
    // Customers, users and teams are identified by their name when they have no id: name it.
    const required = row[idF] == null && (e === 'customers' || e === 'users' || e === 'teams') ? [{ name: 'name' }, ...this.required] : this.required;
    for (const col of required) {
      if (row[col.name] === null || row[col.name] === undefined || row[col.name] === '') {
        const m = mapping.find((x) => x.field === col.name);
        return reject(col.name, m?.column ?? null, m ? getPath(raw, m.column) : null, reason(m ? 'required_empty' : 'required_unmapped', { field: col.name }));
      }
    }

    const refs: RowResult['refs'] = [];
    /** Values a rule moved out of a field, kept in attributes (column → value). */
    const extra: Record<string, unknown> = {};
    const stageDates: RowResult['stageDates'] = [];
    let enteredCurrent: string | null = null;

    if (e === 'opportunities') {
      const stageCol = mapping.find((m) => m.field === 'stage')?.column ?? null;
      const st = this.stage(String(row.stage));
      if (!st) return reject('stage', stageCol, row.stage, reason('unknown_stage', { stage: String(row.stage), stages: this.stageNames.join(', ') }));
      row.stage = st.name;
      row.status = st.outcome ?? 'open';
      if (row.forecast_category != null) {
        const fc = String(row.forecast_category).toLowerCase().replace(/[\s-]+/g, '_');
        if (!(FORECAST_CATEGORIES as readonly string[]).includes(fc)) {
          return reject('forecast_category', mapping.find((m) => m.field === 'forecast_category')?.column ?? null, row.forecast_category, reason('bad_forecast_category', { categories: FORECAST_CATEGORIES.join(', ') }));
        }
        row.forecast_category = fc;
      }
      // Money: the source's amount and currency are kept; `amount` is in the reporting currency.
      if (row.amount != null) {
        const currency = (row.currency as string | null)?.toUpperCase() ?? config.currency;
        row.currency = currency;
        row.amount_original = row.amount;
        if (currency !== config.currency) {
          const at = String(row.closed_at ?? row.expected_close_date ?? row.created_at ?? now).slice(0, 7);
          const rates = config.fx[currency];
          const rate = rates?.[at] ?? rates?.default;
          if (!rate) return reject('currency', null, currency, reason('no_fx_rate', { currency: String(currency), base: String(config.currency), at: String(at) }));
          row.amount = Math.round(Number(row.amount) * rate * 100) / 100;
        }
      }
      for (const [stage, column] of Object.entries(source.stage_dates ?? {})) {
        const v = getPath(raw, column);
        if (isBlank(v)) continue;
        if (typeof v === 'string' && PLACEHOLDER.test(v.trim())) continue;
        const p = parseDate(v, config.timezone, this.rules);
        if (!p.ok) return reject(`stage_dates.${stage}`, column, v, reason('in_stage_date', { stage, reason: refOf(p) }));
        stageDates.push({ stage, at: p.value });
        if (stage === row.stage) enteredCurrent = p.value;
      }
      if (!enteredCurrent && st.outcome && row.closed_at != null) enteredCurrent = String(row.closed_at);
      // The customer the row describes (by id, else by its name).
      if (row.customer_id == null && row.customer_name != null) row.customer_id = this.prefix + String(row.customer_name);
      if (row.customer_id != null && (row.customer_name != null || row.customer_industry != null || row.customer_region != null || row.customer_phone != null || row.customer_grade != null)) {
        refs.push({
          entity: 'customers',
          row: { customer_id: row.customer_id, name: row.customer_name ?? null, industry: row.customer_industry ?? null, region: row.customer_region ?? null, phone: row.customer_phone ?? null, grade: row.customer_grade ?? null }
        });
      }
      if (row.owner_id != null && (row.owner_name != null || row.owner_team != null)) {
        refs.push({ entity: 'users', row: { user_id: row.owner_id, name: row.owner_name ?? null, team_id: row.owner_team ?? null } });
      }
    } else if (e === 'payments' || e === 'activities') {
      if (row.customer_id == null && row.customer_name != null) row.customer_id = this.prefix + String(row.customer_name);
      if (row.customer_id != null && row.customer_name != null) refs.push({ entity: 'customers', row: { customer_id: row.customer_id, name: row.customer_name } });
      if (e === 'payments' && row.paid_at != null && row.paid_amount == null) row.paid_amount = row.amount;
      if (e === 'activities' && row.owner_id != null && row.owner_name != null) refs.push({ entity: 'users', row: { user_id: row.owner_id, name: row.owner_name } });
    } else if (e === 'users') {
      if (row.team_id != null && row.team_parent_id != null) refs.push({ entity: 'teams', row: { team_id: row.team_id, parent_id: row.team_parent_id } });
      if (row.team_id != null && row.team_name != null) refs.push({ entity: 'teams', row: { team_id: row.team_id, name: row.team_name } });
    } else if (e === 'customers') {
      if (row.owner_id != null && row.owner_name != null) refs.push({ entity: 'users', row: { user_id: row.owner_id, name: row.owner_name } });
    } else if (e === 'targets') {
      // A rep's row that also names the rep's team is the rep's target; the team is kept in attributes.
      if (row.owner_id != null && row.team_id != null) {
        const col = mapping.find((m) => m.field === 'team_id')?.column ?? 'team_id';
        extra[col] = getPath(raw, col) ?? row.team_id;
        row.team_id = null;
      }
      if ((row.owner_id == null) === (row.team_id == null)) {
        return reject('owner_id', null, null, reason('target_owner_or_team'));
      }
      if (row.metric != null) {
        const m = TARGET_METRICS[String(row.metric).replace(/\s+/g, '').toLowerCase()];
        if (m) row.metric = m;
      }
    }

    // Unmapped columns are kept, never lost.
    if (unmapped.length || Object.keys(extra).length) {
      const attrs: Record<string, unknown> = { ...extra };
      let any = Object.keys(extra).length > 0;
      for (const c of unmapped) {
        const v = getPath(raw, c);
        if (isBlank(v)) continue;
        attrs[c] = v instanceof Date ? toText(v) : v;
        any = true;
      }
      row.attributes = any ? JSON.stringify(attrs) : null;
    }
    for (const f of REFERENCE_FIELDS[e]) delete row[f];
    const result: RowResult = { row: rec.row, main: row, refs, stageDates, enteredCurrent };
    if (e === 'payments') {
      result.raw = raw;
      result.sheet = rec.meta?.sheet ?? null;
      result.contractColumn = mapping.find((m) => m.field === 'opportunity_id')?.column ?? null;
    }
    return { ok: true, result };
  }
}

export { nameKey, phoneKey };
