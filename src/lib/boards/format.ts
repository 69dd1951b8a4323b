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
