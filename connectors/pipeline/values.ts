/**
 * Parsing and cleaning of single values as spreadsheets and APIs give them (docs/connectors.md,
 * "Values"). Every parser returns `{ ok: true, value }` or `{ ok: false, reason }` — the
 * reason ends up in the import report beside the row, column and value.
 */
import { reason, type ReasonCode, type ReasonParams, type ReasonRef } from './reasons';

export type Parsed<T> = { ok: true; value: T } | Failed;
/** A failure: the English reason, and its code and parameters (connectors/pipeline/reasons.ts). */
export type Failed = { ok: false; reason: string; code: ReasonCode; params: ReasonParams };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (code: ReasonCode, params: ReasonParams = {}): Failed => {
  const r = reason(code, params);
  return { ok: false, reason: r.text, code: r.code, params: r.params };
};
/** A parser's failure as a reason to wrap (the `in_*` codes). */
export const refOf = (f: Failed): ReasonRef => ({ code: f.code, params: f.params });
export const failed = bad;

/** Full-width ASCII (！ to ～, and the ideographic space) to half-width. */
export function halfWidth(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[\uFF01-\uFF5E\u3000]/.test(s)) return s;
  return s.replace(/[\uFF01-\uFF5E]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0)).replace(/\u3000/g, ' ');
}

/** Trim, full-width → half-width, collapse runs of white space (incl. NBSP, newlines) to one space. */
export function cleanText(s: string): string {
  // Fast path: nothing to convert and no white space at all (most cells).
  if (!/[\s\u00a0\uFF01-\uFF5E\u3000]/.test(s)) return s;
  return halfWidth(s).replace(/[\s\u00a0]+/g, ' ').trim();
}

/** The key customers are matched by: cleaned, lower case, without spaces and punctuation. */
export function nameKey(s: string): string {
  return cleanText(s)
    .toLowerCase()
    .replace(/[\s.,'"()（）【】\[\]·・\-_/]+/g, '');
}

/** A phone number's digits (and a leading +), for matching customers by phone. */
export function phoneKey(s: string): string {
  const d = halfWidth(s).replace(/[^\d+]/g, '');
  return d.replace(/^\+?86(?=1\d{10}$)/, '');
}

/** 上海市 → 上海, 浙江省 → 浙江: strips the first matching suffix (never the whole name). */
export function cleanRegion(s: string, suffixes: readonly string[]): string {
  const t = cleanText(s);
  for (const suf of suffixes) {
    if (t.length > suf.length && t.endsWith(suf)) return t.slice(0, -suf.length);
  }
  return t;
}

/** A cell as text: numbers without exponent noise, dates as ISO, rich text flattened. */
export function toText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(15));
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return isoDateTime(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A Date as naive `YYYY-MM-DD HH:MM:SS` from its UTC fields (spreadsheet dates carry wall time in UTC). */
export function isoDateTime(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function validDate(y: number, m: number, d: number): boolean {
  if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Excel serial day (1900 date system, with its 1900-02-29 bug) → naive timestamp text. */
export function excelSerial(n: number): string | null {
  if (!(n > 0 && n < 2958466)) return null;
  const ms = Math.round((n - 25569) * 86400) * 1000;
  return isoDateTime(new Date(ms));
}

/** How a date with a two-digit year or its year last is read: 25/4/15 (ymd), 15/4/25 (dmy), 4/15/25 (mdy). */
export type DateOrder = 'ymd' | 'dmy' | 'mdy';

/**
 * The value rules of a column (docs/connectors.md, "Values"): one set for every source. `unit`
 * multiplies amounts that carry no unit of their own (a `（万元）` header, a `单位：万元` line, the
 * source's `unit`); `order` reads ambiguous dates; dates outside `min`…`max` are rejected.
 */
export interface ValueRules {
  unit?: number;
  order?: DateOrder;
  /** Plausible dates, `YYYY-MM-DD` (inclusive). Default 1970-01-01 … 2100-12-31. */
  min?: string;
  max?: string;
}

export const DEFAULT_DATE_MIN = '1970-01-01';
export const DEFAULT_DATE_MAX = '2100-12-31';

/** Excel serials of the plausible range are read as dates; other numbers are not dates. */
function serialOf(ymd: string): number {
  return Date.UTC(Number(ymd.slice(0, 4)), Number(ymd.slice(5, 7)) - 1, Number(ymd.slice(8, 10))) / 86400000 + 25569;
}

const DATE_RE = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]+(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})(?:\.\d+)?)?秒?)?(Z|[+-]\d{2}:?\d{2})?$/;
const COMPACT_RE = /^(\d{4})(\d{2})(\d{2})$/;
const MONTH_RE = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$/;
/** A date whose year is two digits or comes last: 25/4/15, 15.04.2025, 4-15-25 (read by `order`). */
const SHORT_RE = /^(\d{1,4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,4})(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?$/;

/** An instant as naive wall time (`YYYY-MM-DD HH:MM:SS`) in an IANA time zone. */
const wallFormats = new Map<string, Intl.DateTimeFormat>();
export function wallTime(ms: number, timezone: string): string {
  let f = wallFormats.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23'
    });
    wallFormats.set(timezone, f);
  }
  const parts = f.formatToParts(new Date(ms));
  const g = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${g('year')}-${g('month')}-${g('day')} ${g('hour')}:${g('minute')}:${g('second')}`;
}

const year2 = (y: number) => (y < 100 ? 2000 + y : y);

/** Day, month and year of a SHORT_RE match, by the configured order (or unambiguously inferred). */
function shortDate(a: string, b: string, c: string, order: DateOrder | undefined): Parsed<[number, number, number]> {
  const [x, y, z] = [Number(a), Number(b), Number(c)];
  if (a.length === 4 || a.length === 3) return ok([x, y, z]); // 2025/4/15 read as y-m-d always
  if (c.length === 4 || c.length === 3 || order === 'dmy' || order === 'mdy') {
    let o = order === 'dmy' || order === 'mdy' ? order : null;
    if (!o) {
      // Year last and no order configured: only an unambiguous day (> 12) decides.
      if (x > 12 && y <= 12) o = 'dmy';
      else if (y > 12 && x <= 12) o = 'mdy';
      else return bad('ambiguous_date');
    }
    return o === 'dmy' ? ok([year2(z), y, x]) : ok([year2(z), x, y]);
  }
  return ok([year2(x), y, z]); // 25/4/15: year first (date_order "ymd", the default)
}

function inRange(ymd: string, rules: ValueRules | undefined): Parsed<true> {
  const min = rules?.min ?? DEFAULT_DATE_MIN;
  const max = rules?.max ?? DEFAULT_DATE_MAX;
  if (ymd < min || ymd > max) return bad('date_out_of_range', { date: ymd, min, max });
  return ok(true);
}

/**
 * A date or date-time. Timestamps are stored as wall time in the business time zone, so a
 * value that names its offset (`2024-03-05T16:00:00Z`, `…+08:00`, as REST APIs send them) is
 * converted to `timezone` when one is given (16:00Z is 2024-03-06 00:00 in Asia/Shanghai);
 * values without an offset are taken as wall time already.
 *
 * Forms: Date cells, `2024-03-05`, `2024/3/5`, `2024.3.5`, `2024年3月5日` (optional time),
 * `20240305` as text or as a number (never an Excel serial), Excel serials, `2024-03`,
 * `25/4/15` and `15/04/2025` by `rules.order`. The result must lie in the plausible range.
 */
export function parseDate(v: unknown, timezone?: string, rules?: ValueRules): Parsed<string> {
  const r = parseDateRaw(v, timezone, rules);
  if (!r.ok) return r;
  const range = inRange(r.value.slice(0, 10), rules);
  return range.ok ? r : range;
}

function parseDateRaw(v: unknown, timezone: string | undefined, rules: ValueRules | undefined): Parsed<string> {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return bad('invalid_date');
    const s = isoDateTime(v);
    return /^\d{4}-/.test(s) ? ok(s) : bad('implausible_date');
  }
  if (typeof v === 'number') return numericDate(v, rules);
  const t = cleanText(toText(v));
  let m = DATE_RE.exec(t);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!validDate(y, mo, d)) return bad('invalid_calendar_date');
    const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
    if (h > 23 || mi > 59 || s > 59) return bad('invalid_time');
    if (m[7] && timezone) {
      const off = m[7] === 'Z' ? 0 : (m[7][0] === '-' ? -1 : 1) * (Number(m[7].slice(1, 3)) * 60 + Number(m[7].slice(-2)));
      return ok(wallTime(Date.UTC(y, mo - 1, d, h, mi, s) - off * 60_000, timezone));
    }
    return ok(`${y}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`);
  }
  m = COMPACT_RE.exec(t);
  if (m) {
    if (validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return ok(`${m[1]}-${m[2]}-${m[3]} 00:00:00`);
    return bad('invalid_calendar_date_yyyymmdd');
  }
  m = MONTH_RE.exec(t);
  if (m && validDate(Number(m[1]), Number(m[2]), 1)) return ok(`${m[1]}-${pad(Number(m[2]))}-01 00:00:00`);
  m = SHORT_RE.exec(t);
  if (m) {
    const p = shortDate(m[1], m[3], m[4], rules?.order);
    if (!p.ok) return p;
    const [y, mo, d] = p.value;
    if (!validDate(y, mo, d)) return bad('invalid_calendar_date_order', { order: rules?.order ?? 'ymd' });
    const [h, mi, s] = [Number(m[5] ?? 0), Number(m[6] ?? 0), Number(m[7] ?? 0)];
    if (h > 23 || mi > 59 || s > 59) return bad('invalid_time');
    return ok(`${y}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`);
  }
  if (/^\d+(\.\d+)?$/.test(t)) return numericDate(Number(t), rules);
  return bad('not_a_date');
}

/**
 * A number as a date: eight digits are yyyymmdd (20250415 is 15 April 2025, never Excel serial
 * 20,250,415 — year 57343); otherwise an Excel serial inside the plausible range.
 */
function numericDate(n: number, rules: ValueRules | undefined): Parsed<string> {
  if (!Number.isFinite(n)) return bad('not_a_date_number');
  if (Number.isInteger(n) && n >= 10000101 && n <= 99991231) {
    const y = Math.floor(n / 10000);
    const mo = Math.floor(n / 100) % 100;
    const d = n % 100;
    if (!validDate(y, mo, d)) return bad('invalid_calendar_date_yyyymmdd');
    return ok(`${y}-${pad(mo)}-${pad(d)} 00:00:00`);
  }
  const lo = serialOf(rules?.min ?? DEFAULT_DATE_MIN);
  const hi = serialOf(rules?.max ?? DEFAULT_DATE_MAX) + 1;
  if (n >= lo && n < hi) return ok(excelSerial(n)!);
  return bad('number_not_a_date', { min: rules?.min ?? DEFAULT_DATE_MIN, max: rules?.max ?? DEFAULT_DATE_MAX });
}

/** Scale words and their factors, as headers, unit lines and cells write them. */
const UNIT_FACTORS: Record<string, number> = {
  元: 1, 人民币元: 1, rmb: 1, cny: 1, '¥': 1, 千元: 1e3, 千: 1e3, k: 1e3, 万元: 1e4, 万: 1e4, 萬: 1e4, 萬元: 1e4,
  十万元: 1e5, 百万元: 1e6, 百万: 1e6, m: 1e6, mn: 1e6, 千万元: 1e7, 千万: 1e7, 亿元: 1e8, 亿: 1e8, 億: 1e8, 億元: 1e8
};

/** The factor of a unit word (`万元` → 10000), or null when it is not a unit of money. */
export function unitFactor(u: string): number | null {
  let k = halfWidth(u).toLowerCase().replace(/\s+/g, '');
  if (k.length > 3 && k.startsWith('人民币')) k = k.slice(3);
  return UNIT_FACTORS[k] ?? null;
}

const UNIT_WORD = '(?:人民币)?(?:元|千元|万元|萬元|十万元|百万元|千万元|亿元|億元|万|萬|百万|千万|亿|億|rmb|cny|k|m|mn)';
/** `金额（万元）`, `金额(万)`, `金额[万元]`, `金额【单位：万元】`, `金额/万元`, `金额-万元`, `金额万元`. */
const HEADER_UNIT_RE = new RegExp(`(?:[(\\[【]\\s*(?:单位\\s*[:：]?\\s*)?(${UNIT_WORD})\\s*[)\\]】]|[/_-]\\s*(${UNIT_WORD})|(万元|萬元|千元|百万元|千万元|亿元|億元))\\s*$`, 'i');

/** The unit a header names (`预计成交金额（万元）` → `万元`), or null. */
export function headerUnit(header: string): string | null {
  const m = HEADER_UNIT_RE.exec(halfWidth(header).trim());
  if (!m) return null;
  const u = m[1] ?? m[2] ?? m[3];
  return unitFactor(u) !== null ? u : null;
}

/** A header without its unit (`预计成交金额（万元）` → `预计成交金额`). */
export function stripHeaderUnit(header: string): string {
  const h = halfWidth(header).trim();
  const m = HEADER_UNIT_RE.exec(h);
  return m && unitFactor(m[1] ?? m[2] ?? m[3]) !== null ? h.slice(0, m.index).trim() : h;
}

/** A unit line above a table (`单位：万元`, `金额单位: 元`, `（单位：万元）`): the unit, or null. */
export function unitLine(cells: readonly unknown[]): string | null {
  for (const c of cells) {
    if (typeof c !== 'string') continue;
    const m = /单位\s*[:：]\s*(人民币)?\s*(元|千元|万元|萬元|百万元|千万元|亿元|億元|万|百万|亿)/.exec(halfWidth(c));
    if (m) return m[2];
  }
  return null;
}

/** Placeholders ledgers put in empty cells: read as empty in typed (amount, date, number) columns. */
export const PLACEHOLDER = /^(?:-+|—+|－+|\/|n\/?a|null|无|暂无)$/i;

/**
 * An amount: numbers, or text with ¥ ￥ 元 RMB CNY, thousands separators, 万/亿 units,
 * full-width digits, a trailing minus or (parentheses) for negatives. `unit` (the column's:
 * from its header, a unit line or the source) multiplies amounts without a unit of their own;
 * `12万` in a 万元 column is still 120,000, and so is `120000元`.
 */
export function parseAmount(v: unknown, unit = 1): Parsed<number> {
  const round = (n: number) => Math.round(n * 100) / 100;
  if (typeof v === 'number') return Number.isFinite(v) ? ok(round(v * unit)) : bad('not_finite_number');
  if (typeof v === 'bigint') return ok(Number(v) * unit);
  let t = cleanText(toText(v));
  if (t === '') return bad('empty');
  let neg = false;
  if (/^\(.*\)$/.test(t)) {
    neg = true;
    t = t.slice(1, -1);
  }
  let mult = unit;
  t = t.replace(/^(RMB|CNY|USD|人民币)\s*/i, '').replace(/\s*(RMB|CNY|人民币)$/i, '');
  t = t.replace(/[¥￥$]/g, '').replace(/\s+/g, '');
  if (/元$/.test(t)) {
    mult = 1;
    t = t.slice(0, -1);
  }
  const u = /(百万|千万|万|萬|亿|億|千|[kKmM])$/.exec(t);
  if (u) {
    mult = UNITS[u[1]];
    t = t.slice(0, -u[1].length);
  }
  if (/^-/.test(t)) {
    neg = !neg;
    t = t.slice(1);
  } else if (/-$/.test(t)) {
    neg = !neg;
    t = t.slice(0, -1);
  }
  if (/^\d{1,3}(,\d{3})+(\.\d+)?$/.test(t)) t = t.replace(/,/g, '');
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(t)) return bad('not_an_amount');
  const n = Number(t) * mult;
  return ok(round(neg ? -n : n));
}

const UNITS: Record<string, number> = { 万: 1e4, 萬: 1e4, 亿: 1e8, 億: 1e8, k: 1e3, K: 1e3, 千: 1e3, 百万: 1e6, 千万: 1e7, m: 1e6, M: 1e6 };

/** A probability: 0.3, 30%, 30 (read as percent when > 1). */
export function parseProbability(v: unknown): Parsed<number> {
  const t = cleanText(toText(v));
  const pct = t.endsWith('%');
  const n = typeof v === 'number' ? v : Number(pct ? t.slice(0, -1) : t);
  if (!Number.isFinite(n)) return bad('not_a_probability');
  const p = pct || n > 1 ? n / 100 : n;
  if (p < 0 || p > 1) return bad('probability_out_of_range');
  return ok(p);
}

const TRUE = new Set(['是', '有', '在职', '对', 'y', 'yes', 'true', '1', 't', '✓', '√', 'active']);
const FALSE = new Set(['否', '无', '离职', '不', 'n', 'no', 'false', '0', 'f', '✗', '×', 'inactive']);

/** 是/否, yes/no, true/false, 1/0, 在职/离职. */
export function parseBoolean(v: unknown): Parsed<boolean> {
  if (typeof v === 'boolean') return ok(v);
  const t = cleanText(toText(v)).toLowerCase();
  if (TRUE.has(t)) return ok(true);
  if (FALSE.has(t)) return ok(false);
  return bad('not_a_boolean');
}

/** True when a cell holds nothing (null, empty or white space only). */
export function isBlank(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'string') return v.trim() === '' || cleanText(v) === '';
  return false;
}

const SUMMARY = /^(合计|总计|小计|共计|总合计|累计|total|totals|subtotal|sub-total|grandtotal|sum)[:：]?$/i;
/** `本月合计`, `华南区小计`, `合计（万元）`, `总计:`: a short label ending or starting with a summary word. */
const SUMMARY_LOOSE = /^(?:.{1,8}(?:合计|小计|总计)|(?:合计|小计|总计)[(:：].{0,12})$/;

/** A summary row (合计, 总计, 小计, Total, Subtotal …) in its first non-empty text cell. */
export function summaryLabel(values: readonly unknown[]): string | null {
  for (const v of values) {
    if (isBlank(v)) continue;
    if (typeof v !== 'string') return null;
    const t = cleanText(v).replace(/\s+/g, '');
    return SUMMARY.test(t) || SUMMARY_LOOSE.test(t) ? cleanText(v) : null;
  }
  return null;
}
