/**
 * Locale-aware number formatting. zh-CN money in 万 and 亿 (`¥1.23亿`, `¥4,560万`), en in
 * K/M/B (`¥123M`); the currency symbol comes from Intl for the configured currency.
 */
import type { Locale } from './i18n';

function currencySymbol(locale: Locale, currency: string): string {
  const parts = new Intl.NumberFormat(locale, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }).formatToParts(0);
  return parts.find((p) => p.type === 'currency')?.value ?? currency;
}

/** 3 significant digits, grouped, no trailing zeros after the decimal point. */
function sig3(v: number, locale: Locale): string {
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(v);
}

/** A compact number: zh-CN 万/亿, en K/M/B. */
export function formatCompact(value: number, locale: Locale): string {
  const abs = Math.abs(value);
  if (locale === 'zh-CN') {
    if (abs >= 1e8) return `${sig3(value / 1e8, locale)}亿`;
    if (abs >= 1e4) return `${sig3(value / 1e4, locale)}万`;
    return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
  }
  if (abs >= 1e9) return `${sig3(value / 1e9, locale)}B`;
  if (abs >= 1e6) return `${sig3(value / 1e6, locale)}M`;
  if (abs >= 1e3) return `${sig3(value / 1e3, locale)}K`;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
}

/** Money, compact: `¥1.23亿` / `¥123M`. Null is an em dash. */
export function formatMoney(value: number | null | undefined, locale: Locale, currency = 'CNY'): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const sign = value < 0 ? '-' : '';
  return `${sign}${currencySymbol(locale, currency)}${formatCompact(Math.abs(value), locale)}`;
}

/** Money in full: `¥250,649,000`. */
export function formatMoneyFull(value: number | null | undefined, locale: Locale, currency = 'CNY'): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return new Intl.NumberFormat(locale, { style: 'currency', currency, currencyDisplay: 'narrowSymbol', maximumFractionDigits: 0 }).format(value);
}

export function formatCount(value: number | null | undefined, locale: Locale): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
}

/** A ratio in [0,1] as a percentage with one decimal: `24.9%`. */
export function formatPercent(value: number | null | undefined, locale: Locale, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** A change: relative (`+12.0%`) or in percentage points (`-0.9 pp` / `-0.9个百分点`). */
export function formatChange(change: number | null | undefined, kind: 'relative' | 'points', locale: Locale): string {
  if (change === null || change === undefined || !Number.isFinite(change)) return '—';
  const sign = change > 0 ? '+' : change < 0 ? '−' : '±';
  const abs = Math.abs(change * 100);
  const num = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(abs);
  if (kind === 'points') return locale === 'zh-CN' ? `${sign}${num}个百分点` : `${sign}${num} pp`;
  return `${sign}${num}%`;
}

/** Years a stored date is shown as a date in; outside them it is shown as stored (see parseStoredDate). */
export const PLAUSIBLE_YEARS = [1000, 9999] as const;

const STORED = /^(\d{4,})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A stored date or timestamp (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff]]`, optionally with a
 * zone) as a Date, or null when it is not a real calendar date of a four-digit year: DuckDB
 * stores years like 57343, year 1, `infinity` and `-infinity`, which `new Date` and
 * `Intl.DateTimeFormat` reject (`RangeError: Invalid time value`). `utc` is true when the value
 * named no zone: it is a wall-clock time, to be shown as written (formatted in UTC).
 */
export function parseStoredDate(value: unknown): { date: Date; utc: boolean } | null {
  if (typeof value !== 'string') return null;
  const m = STORED.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h = '0', mi = '0', sec = '0'] = m.slice(1, 7).map((x) => x ?? undefined) as string[];
  const year = Number(y);
  if (year < PLAUSIBLE_YEARS[0] || year > PLAUSIBLE_YEARS[1]) return null;
  const ms = Date.UTC(year, Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(sec ?? 0));
  const date = new Date(ms);
  // 2026-02-30 rolls over into March: not a calendar date.
  if (!Number.isFinite(ms) || date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return null;
  if (m[7]) {
    const zoned = new Date(value.trim().replace(' ', 'T').replace(/\s+/g, ''));
    return Number.isFinite(zoned.getTime()) ? { date: zoned, utc: false } : null;
  }
  return { date, utc: true };
}

/** What a value that is no date is shown as: an em dash for nothing, else the stored text itself (shortened). */
function asStored(value: unknown): string {
  if (value === null || value === undefined) return '—';
  const s = String(value).trim();
  if (!s) return '—';
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}

/** A date (`2025年4月15日` / `Apr 15, 2025`); a timestamp shows its day. Never throws: a value that is no date shows as stored. */
export function formatDate(iso: string | null | undefined, locale: Locale): string {
  if (!iso) return '—';
  const p = parseStoredDate(iso);
  if (!p) return asStored(iso);
  return new Intl.DateTimeFormat(locale, { year: 'numeric', month: locale === 'zh-CN' ? 'long' : 'short', day: 'numeric', ...(p.utc ? { timeZone: 'UTC' } : {}) }).format(p.date);
}

/** A moment (`6月15日 14:05` / `Jun 15, 14:05`). Never throws: a value that is no date shows as stored. */
export function formatDateTime(iso: string | null | undefined, locale: Locale): string {
  if (!iso) return '—';
  const p = parseStoredDate(iso);
  if (!p) return asStored(iso);
  return new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false, ...(p.utc ? { timeZone: 'UTC' } : {}) }).format(p.date);
}

/** A duration in minutes as `3 小时` / `2 days`. */
export function formatAge(minutes: number, locale: Locale): string {
  const fmt = (n: number, unit: Intl.RelativeTimeFormatUnit) =>
    new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long', maximumFractionDigits: 0 }).format(n);
  if (minutes < 60) return fmt(Math.round(minutes), 'minute');
  if (minutes < 48 * 60) return fmt(Math.round(minutes / 60), 'hour');
  return fmt(Math.round(minutes / 1440), 'day');
}
