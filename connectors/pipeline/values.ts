/**
 * Parsing and cleaning of single values as spreadsheets and APIs give them (docs/connectors.md,
 * "Values"). Every parser returns `{ ok: true, value }` or `{ ok: false, reason }` — the
 * reason ends up in the import report beside the row, column and value.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (reason: string): Parsed<never> => ({ ok: false, reason });

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
  if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Excel serial day (1900 date system, with its 1900-02-29 bug) → naive timestamp text. */
export function excelSerial(n: number): string | null {
  if (!(n > 0 && n < 2958466)) return null;
  const ms = Math.round((n - 25569) * 86400) * 1000;
  return isoDateTime(new Date(ms));
}

const DATE_RE = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]+(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})(?:\.\d+)?)?秒?)?(Z|[+-]\d{2}:?\d{2})?$/;
const COMPACT_RE = /^(\d{4})(\d{2})(\d{2})$/;
const MONTH_RE = /^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$/;

/**
 * A date or timestamp: Date cells, Excel serials, `2024-03-05`, `2024/3/5`, `2024.3.5`,
 * `2024年3月5日`, with an optional time, `20240305`, ISO with `Z`. Returns naive
 * `YYYY-MM-DD HH:MM:SS` (business-local wall time).
 */
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

/**
 * A date or date-time. Timestamps are stored as wall time in the business time zone, so a
 * value that names its offset (`2024-03-05T16:00:00Z`, `…+08:00`, as REST APIs send them) is
 * converted to `timezone` when one is given (16:00Z is 2024-03-06 00:00 in Asia/Shanghai);
 * values without an offset are taken as wall time already.
 */
export function parseDate(v: unknown, timezone?: string): Parsed<string> {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? bad('invalid date') : ok(isoDateTime(v));
  if (typeof v === 'number') {
    const s = excelSerial(v);
    return s && v > 1 ? ok(s) : bad('not a date (a number that is not an Excel date serial)');
  }
  const t = cleanText(toText(v));
  let m = DATE_RE.exec(t);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!validDate(y, mo, d)) return bad('not a valid calendar date');
    const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
    if (h > 23 || mi > 59 || s > 59) return bad('not a valid time of day');
    if (m[7] && timezone) {
      const off = m[7] === 'Z' ? 0 : (m[7][0] === '-' ? -1 : 1) * (Number(m[7].slice(1, 3)) * 60 + Number(m[7].slice(-2)));
      return ok(wallTime(Date.UTC(y, mo - 1, d, h, mi, s) - off * 60_000, timezone));
    }
    return ok(`${y}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`);
  }
  m = COMPACT_RE.exec(t);
  if (m && validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return ok(`${m[1]}-${m[2]}-${m[3]} 00:00:00`);
  m = MONTH_RE.exec(t);
  if (m && validDate(Number(m[1]), Number(m[2]), 1)) return ok(`${m[1]}-${pad(Number(m[2]))}-01 00:00:00`);
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n < 2958466) return ok(excelSerial(n)!);
  }
  return bad('not a date (expected e.g. 2024-03-05, 2024/3/5, 2024年3月5日)');
}

const UNITS: Record<string, number> = { 万: 1e4, 萬: 1e4, 亿: 1e8, 億: 1e8, k: 1e3, K: 1e3, 千: 1e3, 百万: 1e6, m: 1e6, M: 1e6 };

/**
 * An amount: numbers, or text with ¥ ￥ 元 RMB CNY, thousands separators, 万/亿 units,
 * full-width digits, a trailing minus or (parentheses) for negatives.
 */
export function parseAmount(v: unknown): Parsed<number> {
  if (typeof v === 'number') return Number.isFinite(v) ? ok(v) : bad('not a finite number');
  if (typeof v === 'bigint') return ok(Number(v));
  let t = cleanText(toText(v));
  if (t === '') return bad('empty');
  let neg = false;
  if (/^\(.*\)$/.test(t)) {
    neg = true;
    t = t.slice(1, -1);
  }
  t = t.replace(/^(RMB|CNY|USD|人民币)\s*/i, '').replace(/\s*(RMB|CNY|人民币)$/i, '');
  t = t.replace(/[¥￥$]/g, '').replace(/元$/, '').replace(/\s+/g, '');
  let mult = 1;
  const u = /(百万|万|萬|亿|億|千|[kKmM])$/.exec(t);
  if (u) {
    mult = UNITS[u[1]];
    t = t.slice(0, -u[1].length);
    t = t.replace(/元$/, '');
  }
  if (/^-/.test(t)) {
    neg = !neg;
    t = t.slice(1);
  } else if (/-$/.test(t)) {
    neg = !neg;
    t = t.slice(0, -1);
  }
  if (/^\d{1,3}(,\d{3})+(\.\d+)?$/.test(t)) t = t.replace(/,/g, '');
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(t)) return bad('not an amount (expected e.g. 12000, 1,200.50, ¥3.5万)');
  const n = Number(t) * mult;
  return ok(Math.round((neg ? -n : n) * 100) / 100);
}

/** A probability: 0.3, 30%, 30 (read as percent when > 1). */
export function parseProbability(v: unknown): Parsed<number> {
  const t = cleanText(toText(v));
  const pct = t.endsWith('%');
  const n = typeof v === 'number' ? v : Number(pct ? t.slice(0, -1) : t);
  if (!Number.isFinite(n)) return bad('not a probability (expected e.g. 0.3 or 30%)');
  const p = pct || n > 1 ? n / 100 : n;
  if (p < 0 || p > 1) return bad('a probability must be between 0 and 1 (0% and 100%)');
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
  return bad('not a yes/no value (expected 是/否, yes/no, true/false)');
}

/** True when a cell holds nothing (null, empty or white space only). */
export function isBlank(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === 'string') return v.trim() === '' || cleanText(v) === '';
  return false;
}

const SUMMARY = /^(合计|总计|小计|共计|总合计|累计|total|totals|subtotal|sub-total|grand total|sum)\s*[:：]?$/i;

/** A summary row (合计, 总计, 小计, Total, Subtotal …) in its first non-empty text cell. */
export function summaryLabel(values: readonly unknown[]): string | null {
  for (const v of values) {
    if (isBlank(v)) continue;
    if (typeof v !== 'string') return null;
    const t = cleanText(v).replace(/\s+/g, ' ');
    return SUMMARY.test(t) ? t : null;
  }
  return null;
}
