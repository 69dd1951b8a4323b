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

export function formatDate(iso: string | null | undefined, locale: Locale): string {
  if (!iso) return '—';
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00` : iso);
  return new Intl.DateTimeFormat(locale, { year: 'numeric', month: locale === 'zh-CN' ? 'long' : 'short', day: 'numeric' }).format(d);
}

export function formatDateTime(iso: string | null | undefined, locale: Locale): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(iso));
}

/** A duration in minutes as `3 小时` / `2 days`. */
export function formatAge(minutes: number, locale: Locale): string {
  const fmt = (n: number, unit: Intl.RelativeTimeFormatUnit) =>
    new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long', maximumFractionDigits: 0 }).format(n);
  if (minutes < 60) return fmt(Math.round(minutes), 'minute');
  if (minutes < 48 * 60) return fmt(Math.round(minutes / 60), 'hour');
  return fmt(Math.round(minutes / 1440), 'day');
}
