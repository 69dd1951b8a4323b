import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatChange, formatDate, formatDateTime, formatMoney, formatPercent, parseStoredDate } from './format';
import { negotiateLocale, translator } from './i18n';
import { en } from './i18n/en';
import { zhCN } from './i18n/zh-CN';

describe('number formatting', () => {
  it('zh-CN money in 万 and 亿', () => {
    expect(formatMoney(123_456_789, 'zh-CN')).toBe('¥1.23亿');
    expect(formatMoney(45_600_000, 'zh-CN')).toBe('¥4,560万');
    expect(formatMoney(8_500, 'zh-CN')).toBe('¥8,500');
    expect(formatMoney(null, 'zh-CN')).toBe('—');
  });
  it('en money in K/M/B', () => {
    expect(formatMoney(123_456_789, 'en')).toBe('¥123M');
    expect(formatMoney(1_500_000_000, 'en')).toBe('¥1.5B');
    expect(formatMoney(45_600, 'en')).toBe('¥45.6K');
    expect(formatMoney(2_000_000, 'en', 'USD')).toBe('$2M');
  });
  it('percentages and changes', () => {
    expect(formatPercent(0.2499, 'en')).toBe('25.0%');
    expect(formatChange(0.12, 'relative', 'en')).toBe('+12.0%');
    expect(formatChange(-0.0095, 'points', 'zh-CN')).toBe('−1.0个百分点');
    expect(formatChange(null, 'points', 'en')).toBe('—');
  });
});

describe('i18n', () => {
  it('every locale has exactly the keys of zh-CN', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
  });
  it('negotiates zh-CN for Chinese browsers, en otherwise, and honours an explicit choice', () => {
    expect(negotiateLocale(null, 'zh-CN,zh;q=0.9,en;q=0.8')).toBe('zh-CN');
    expect(negotiateLocale(null, 'en-US,en;q=0.9')).toBe('en');
    expect(negotiateLocale(null, 'de-DE,zh;q=0.5')).toBe('zh-CN');
    expect(negotiateLocale('en', 'zh-CN')).toBe('en');
    expect(negotiateLocale(null, null)).toBe('zh-CN');
  });
  it('interpolates variables', () => {
    expect(translator('en')('cockpit.n', { n: 5 })).toBe('n = 5');
    expect(translator('zh-CN')('cockpit.as_of', { date: '6月15日' })).toBe('截至 6月15日');
  });
});

describe('stored dates never throw', () => {
  it('formats real dates and timestamps as written', () => {
    expect(formatDate('2025-04-15', 'en')).toBe('Apr 15, 2025');
    expect(formatDate('2025-04-15', 'zh-CN')).toBe('2025年4月15日');
    expect(formatDate('2025-04-15 23:30:00', 'en')).toBe('Apr 15, 2025');
    expect(formatDateTime('2025-04-15 09:05:00', 'en')).toBe('Apr 15, 09:05');
  });
  it('shows a value that is no calendar date as stored, and nothing as an em dash', () => {
    for (const v of ['57343-04-15', '57343-04-15 00:00:00', 'infinity', '-infinity', '0001-01-01', '2026-02-30', 'NaN', '20250415']) {
      expect(parseStoredDate(v), v).toBeNull();
      expect(formatDate(v, 'zh-CN'), v).toBe(v);
      expect(formatDateTime(v, 'en'), v).toBe(v);
    }
    expect(formatDate(null, 'en')).toBe('—');
    expect(formatDate('', 'en')).toBe('—');
    expect(formatDate('  ', 'en')).toBe('—');
    expect(formatDate('x'.repeat(100), 'en')).toBe(`${'x'.repeat(39)}…`);
  });
  it('never throws on any string', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        formatDate(s, 'en');
        formatDateTime(s, 'zh-CN');
      }),
      { seed: 12, numRuns: 500 }
    );
  });
});
