/**
 * Why a row was rejected, as a stable code with parameters beside the English text.
 *
 * The English text (the CLI, the import report, `cockpit_reason` in the rejected-rows export
 * and `rejected_rows.reason`) is filled from the template below and reads exactly as before;
 * the code and parameters are stored with it (`rejected_rows.reason_code`, `reason_params`)
 * so a screen renders the reason in its own language through the i18n layer (keys
 * `reason.<code>` in src/lib/i18n/parts/reasons.ts, which must have every code here; a test
 * checks it). A parameter may itself be a reason (the `in_*` codes wrap a parser's reason in
 * the field or default it concerns).
 */

/** code → English template; `{name}` is a parameter. Codes are stable: never rename one. */
export const REASON_TEMPLATES = {
  // connectors/pipeline/values.ts (parsers)
  ambiguous_date: 'ambiguous date: day/month or month/day? set "date_order" on the source ("dmy" or "mdy")',
  date_out_of_range: 'date {date} is outside the plausible range {min} … {max} (set "date_range" on the source to widen it)',
  invalid_date: 'invalid date',
  implausible_date: 'not a plausible date',
  invalid_calendar_date: 'not a valid calendar date',
  invalid_time: 'not a valid time of day',
  invalid_calendar_date_yyyymmdd: 'not a valid calendar date (read as yyyymmdd)',
  invalid_calendar_date_order: 'not a valid calendar date (read as {order})',
  not_a_date: 'not a date (expected e.g. 2024-03-05, 2024/3/5, 2024年3月5日, 20240305)',
  not_a_date_number: 'not a date',
  number_not_a_date: 'a number that is neither a date serial in {min} … {max} nor yyyymmdd',
  not_finite_number: 'not a finite number',
  empty: 'empty',
  not_an_amount: 'not an amount (expected e.g. 12000, 1,200.50, ¥3.5万)',
  not_a_probability: 'not a probability (expected e.g. 0.3 or 30%)',
  probability_out_of_range: 'a probability must be between 0 and 1 (0% and 100%)',
  not_a_boolean: 'not a yes/no value (expected 是/否, yes/no, true/false)',
  not_whole_number: 'not a whole number',
  // connectors/pipeline/pipeline.ts (row rules)
  in_field: '{field}: {reason}',
  in_default: 'defaults.{field}: {reason}',
  in_stage_date: 'date the deal entered "{stage}": {reason}',
  negative_receipt: '{field}: a negative amount ({amount}) is not valid here (a refund or a credit note is not a receipt)',
  negative_amount: '{field}: a negative amount ({amount}) is not valid here (a refund or a credit note is not a deal or target amount)',
  required_empty: '{field} is required but empty',
  required_unmapped: '{field} is required but no column maps to it (map it in "columns")',
  unknown_stage: 'unknown stage "{stage}"; configured stages: {stages}',
  bad_forecast_category: 'forecast_category must be one of {categories}',
  no_fx_rate: 'no exchange rate from {currency} to {base} for {at} (add "fx": {"{currency}": {"default": …}})',
  target_owner_or_team: 'a target needs exactly one of owner_id and team_id',
  // connectors/load/sync.ts
  unknown_contract: 'opportunity_id: no contract/opportunity "{id}" in this import or the database (import the deals first, or fix the number)'
} as const;

export type ReasonCode = keyof typeof REASON_TEMPLATES;
export const REASON_CODES = Object.keys(REASON_TEMPLATES) as ReasonCode[];

/**
 * A coded message (a rejection reason or an import warning) as stored and sent: its code and
 * parameters, a parameter possibly a nested message of the same kind; with its English text.
 */
export interface CodedRef<C extends string> {
  code: C;
  params: CodedParams<C>;
}
export type CodedParams<C extends string> = Record<string, string | number | CodedRef<C>>;
export interface Coded<C extends string> extends CodedRef<C> {
  text: string;
}

export type ReasonRef = CodedRef<ReasonCode>;
export type ReasonParams = CodedParams<ReasonCode>;
/** A reason with its English text. */
export type Reason = Coded<ReasonCode>;

/** `{name}` placeholders of a template, in order, without repeats. */
export function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))];
}

/**
 * Fills a template: each `{name}` with `render(params[name])`. `{"` (JSON in no_fx_rate's hint)
 * is not a placeholder: names are word characters only.
 */
export function fillTemplate<C extends string>(template: string, params: CodedParams<C>, render: (v: string | number | CodedRef<C>) => string): string {
  return template.replace(/\{(\w+)\}/g, (all, k: string) => (k in params ? render(params[k]) : all));
}

/** The English text of a reason (nested reasons in English too). */
export function reasonText(r: ReasonRef): string {
  return fillTemplate(REASON_TEMPLATES[r.code], r.params, (v) => (typeof v === 'object' ? reasonText(v) : String(v)));
}

/** A reason by code: the code, the parameters and the English text. */
export function reason(code: ReasonCode, params: ReasonParams = {}): Reason {
  const ref: ReasonRef = { code, params: stripText(params) };
  return { ...ref, text: reasonText(ref) };
}

/** Nested reasons keep their code and parameters only (the text is derived). */
function stripText(params: ReasonParams): ReasonParams {
  const out: ReasonParams = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'object' ? { code: v.code, params: stripText(v.params) } : v;
  return out;
}

/** A reason as a rejection's fields: the English `reason`, its `code` and `params`. */
export function whyOf(r: Reason): { reason: string; code: ReasonCode; params: ReasonParams } {
  return { reason: r.text, code: r.code, params: r.params };
}

/**
 * Import warnings (a row or sheet skipped, duplicates, merges …), coded like the rejection
 * reasons: a stable code and parameters beside the English text. The English text (the CLI,
 * `sync_runs.warnings`) reads exactly as before; the upload page renders `warning.<code>` (keys
 * in src/lib/i18n/parts/reasons.ts, zh-CN for every code; a test checks it). A parameter may be
 * a nested warning (a skipped sheet's `why`).
 */
export const WARNING_TEMPLATES = {
  // connectors/file (readers)
  note_skipped: '{where} row {row}: note "{note}" skipped',
  summary_row_skipped: '{where} row {row}: summary row "{label}" skipped',
  sheet_empty: '{where}: the sheet is empty',
  // connectors/file/inspect.ts sheetsFor and connectors/load/sync.ts (a workbook read whole)
  sheet_skipped: 'sheet "{sheet}" (columns {columns}) was skipped: {why}',
  unnamed_sheet_skipped: 'a sheet (columns {columns}) was skipped: {why}',
  sheet_unmapped: 'no column maps to a field',
  sheet_looks_like: 'it looks like {entity} (columns for {fields})',
  sheet_summary: 'it looks like a summary or pivot table ({hint}), not one row per record',
  summary_hint_aggregate: 'a pivot column "{column}"',
  summary_hint_values: 'stages or periods as columns: {columns}',
  summary_hint_total: 'a total column "{column}"',
  summary_hint_name: 'its name "{name}"',
  source_error: '{message}',
  // connectors/load/sync.ts
  duplicate_id: 'duplicate {id} "{value}" in rows {rows}: row {last} wins, {earlier} skipped',
  customer_merged_name: 'customer "{from}" merged into "{into}" (same name: {key})',
  customer_merged_phone: 'customer "{from}" merged into "{into}" (same phone: {key})',
  stubs_created: '{n} {entity} created from references (named by their id; add a {entity} source to complete them)',
  closed_at_derived:
    "{n} won or lost deals had no close date: closed_at set to when they entered their outcome stage (from the history; map a close-date column to use the source's)",
  more_warnings: '… more warnings not shown',
  // connectors/rest/reader.ts
  request_retry: '{request}: {error}{retry_after}; retrying in {seconds} s (attempt {attempt} of {max})',
  hubspot_search_cap: 'HubSpot search stops at {cap} results: continuing from hs_lastmodifieddate {from}',
  watermark_not_a_time: 'record {row}: {field} = {value} is not a time; it does not move the watermark'
} as const;

export type WarningCode = keyof typeof WARNING_TEMPLATES;
export const WARNING_CODES = Object.keys(WARNING_TEMPLATES) as WarningCode[];

export type WarningRef = CodedRef<WarningCode>;
export type WarningParams = CodedParams<WarningCode>;
/** A warning with its English text. */
export type Warning = Coded<WarningCode>;

/** The English text of a warning (nested warnings in English too). */
export function warningText(w: WarningRef): string {
  return fillTemplate(WARNING_TEMPLATES[w.code], w.params, (v) => (typeof v === 'object' ? warningText(v) : String(v)));
}

/** A warning by code: the code, the parameters and the English text. */
export function warning(code: WarningCode, params: WarningParams = {}): Warning {
  const ref: WarningRef = { code, params };
  return { ...ref, text: warningText(ref) };
}
