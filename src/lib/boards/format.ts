/** A number in a tile's format, by locale: money in 万/亿 or K/M/B, counts grouped, rates in %. */
import { formatCount, formatMoney, formatPercent } from '$lib/format';
import type { Locale } from '$lib/i18n';
import type { Fmt } from './types';

export function fmt(v: number | null | undefined, format: Fmt, locale: Locale, currency = 'CNY'): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  switch (format) {
    case 'money':
      return formatMoney(v, locale, currency);
    case 'percent':
      return formatPercent(v, locale);
    case 'days':
      return locale === 'zh-CN' ? `${formatCount(v, locale)} 天` : `${formatCount(v, locale)} d`;
    case 'number':
      return new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(v);
    case 'multiple':
      return `${new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(v)}×`;
    default:
      return formatCount(v, locale);
  }
}

/** Axis tick text: like `fmt`, shorter (no decimals for percentages). */
export function fmtTick(v: number, format: Fmt, locale: Locale, currency = 'CNY'): string {
  if (format === 'percent') return formatPercent(v, locale, 0);
  if (format === 'days') return formatCount(v, locale);
  return fmt(v, format, locale, currency);
}

/**
 * A time bucket's short name from its first day (`YYYY-MM-DD` or `YYYY-MM`): a month as
 * 3月 / Mar (with the year when the series spans several: 25年3月 / Mar 25), a quarter as
 * 2026 Q1, a week or day as 6月15日 / Jun 15.
 */
export function bucketLabel(bucket: string, grain: 'day' | 'week' | 'month' | 'quarter' | 'year', locale: Locale, withYear = false): string {
  const y = Number(bucket.slice(0, 4));
  const m = Number(bucket.slice(5, 7));
  const d = Number(bucket.slice(8, 10)) || 1;
  const date = new Date(Date.UTC(y, m - 1, d));
  if (grain === 'year') return String(y);
  if (grain === 'quarter') return `${withYear ? `${y} ` : ''}Q${Math.floor((m - 1) / 3) + 1}`;
  if (grain === 'month') {
    if (locale === 'zh-CN') return withYear ? `${String(y).slice(2)}年${m}月` : `${m}月`;
    const mon = new Intl.DateTimeFormat('en', { month: 'short', timeZone: 'UTC' }).format(date);
    return withYear ? `${mon} ${String(y).slice(2)}` : mon;
  }
  return locale === 'zh-CN' ? `${m}月${d}日` : new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(date);
}

/** Whether buckets span more than one calendar year (labels then carry the year). */
export const spansYears = (buckets: string[]) => new Set(buckets.map((b) => b.slice(0, 4))).size > 1;
