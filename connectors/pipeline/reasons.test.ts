/**
 * Every rejection reason code says itself in both languages: a zh-CN and an en text in the
 * i18n catalogs (src/lib/i18n/parts/reasons.ts) with the template's parameters, and the page's
 * rendering of a stored reason (nested in a field) in Chinese and English.
 */
import { describe, expect, it } from 'vitest';
import { REASON_CODES, REASON_TEMPLATES, WARNING_CODES, WARNING_TEMPLATES, placeholdersOf, reason, reasonText, warning } from './reasons';
import { parseAmount, parseDate } from './values';
import { formatList, translator } from '../../src/lib/i18n';
import { reasonLabel, warningLabel } from '../../src/lib/i18n/parts/reasons';
import { columnLabel, fieldLabel } from '../../src/lib/i18n/columns';
import { zhCN } from '../../src/lib/i18n/zh-CN';
import { en } from '../../src/lib/i18n/en';

const sorted = (xs: string[]) => [...xs].sort();

describe('rejection reason codes', () => {
  it('every code has a zh-CN and an en text with the same parameters', () => {
    expect(REASON_CODES.length).toBeGreaterThan(25);
    for (const code of REASON_CODES) {
      const key = `reason.${code}` as keyof typeof zhCN;
      const zh = zhCN[key];
      const enText = en[key];
      expect(zh, code).toBeTruthy();
      expect(enText, code).toBe(REASON_TEMPLATES[code]);
      // Chinese text (characters or full-width punctuation), not a copy of the English one.
      expect(/[\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]/.test(zh), `${code}: ${zh}`).toBe(true);
      expect(zh, code).not.toBe(enText);
      expect(sorted(placeholdersOf(zh)), code).toEqual(sorted(placeholdersOf(enText)));
    }
    // No stray reason keys without a code.
    const keys = Object.keys(zhCN).filter((k) => k.startsWith('reason.'));
    expect(sorted(keys)).toEqual(sorted(REASON_CODES.map((c) => `reason.${c}`)));
  });

  it('the English text is what the parsers always said', () => {
    const d = parseDate('2025-02-30');
    expect(d).toMatchObject({ ok: false, reason: 'not a valid calendar date', code: 'invalid_calendar_date', params: {} });
    const a = parseAmount('12k?');
    expect(a).toMatchObject({ ok: false, code: 'not_an_amount', reason: 'not an amount (expected e.g. 12000, 1,200.50, ¥3.5万)' });
    const wrapped = reason('in_field', { field: 'created_at', reason: { code: 'invalid_calendar_date', params: {} } });
    expect(wrapped.text).toBe('created_at: not a valid calendar date');
    expect(reasonText(reason('date_out_of_range', { date: '1899-12-31', min: '1900-01-01', max: '2100-12-31' }))).toBe(
      'date 1899-12-31 is outside the plausible range 1900-01-01 … 2100-12-31 (set "date_range" on the source to widen it)'
    );
  });

  it('a stored reason renders in Chinese and English, nested reasons and field labels included', () => {
    const stored = JSON.parse(JSON.stringify(reason('in_field', { field: 'amount', reason: { code: 'not_an_amount', params: {} } })));
    const zh = reasonLabel(translator('zh-CN'), stored, (f) => columnLabel(f, 'zh-CN'));
    expect(zh).toBe(`${columnLabel('amount', 'zh-CN')}：不是金额（应如 12000、1,200.50、¥3.5万）`);
    expect(reasonLabel(translator('en'), stored)).toBe('amount: not an amount (expected e.g. 12000, 1,200.50, ¥3.5万)');
    const stage = reason('unknown_stage', { stage: '不存在的阶段', stages: '初步接洽, 赢单' });
    expect(reasonLabel(translator('zh-CN'), stage)).toBe('未知阶段"不存在的阶段"；已配置的阶段：初步接洽, 赢单');
    // With the locale's list (as the upload page and the Chinese export column say it): 、 in Chinese.
    expect(reasonLabel(translator('zh-CN'), stage, undefined, (xs) => formatList('zh-CN', xs))).toBe('未知阶段"不存在的阶段"；已配置的阶段：初步接洽、赢单');
    // A row rejected before codes were stored: its English text.
    expect(reasonLabel(translator('zh-CN'), { code: null, params: null, reason: 'old text' })).toBe('old text');
  });
});

describe('import warning codes', () => {
  it('every warning code has a zh-CN and an en text with the same parameters', () => {
    for (const code of WARNING_CODES) {
      const key = `warning.${code}` as keyof typeof zhCN;
      const zh = zhCN[key];
      expect(zh, code).toBeTruthy();
      expect(en[key], code).toBe(WARNING_TEMPLATES[code]);
      expect(/[\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]/.test(zh), `${code}: ${zh}`).toBe(true);
      expect(sorted(placeholdersOf(zh)), code).toEqual(sorted(placeholdersOf(WARNING_TEMPLATES[code])));
    }
    expect(sorted(Object.keys(zhCN).filter((k) => k.startsWith('warning.')))).toEqual(sorted(WARNING_CODES.map((c) => `warning.${c}`)));
  });

  it('the English text is what the importer always said; the page says it in Chinese', () => {
    const row = warning('summary_row_skipped', { where: 'a.xlsx [商机台账]', row: 115, label: '合计' });
    expect(row.text).toBe('a.xlsx [商机台账] row 115: summary row "合计" skipped');
    expect(warningLabel(translator('zh-CN'), JSON.parse(JSON.stringify(row)), row.text)).toBe('a.xlsx [商机台账] 第 115 行：合计行"合计"已跳过');
    const looks = warning('sheet_looks_like', { entity: 'payments', fields: 'payment_id, amount' });
    const sheet = warning('sheet_skipped', { sheet: '回款', columns: '回款编号, 金额', why: { code: looks.code, params: looks.params } });
    expect(sheet.text).toBe('sheet "回款" (columns 回款编号, 金额) was skipped: it looks like payments (columns for payment_id, amount)');
    const zh = warningLabel(translator('zh-CN'), sheet, sheet.text, { field: (f) => fieldLabel('payments', f, 'zh-CN'), entity: () => '回款', list: (xs) => formatList('zh-CN', xs) });
    expect(zh).toBe('工作表"回款"（列：回款编号、金额）未导入：看起来是回款（有回款编号、回款金额等列）');
    // The rows of a duplicate id: joined with ", " by the importer, with 、 on a Chinese page (issue 12).
    const dup = warning('duplicate_id', { id: 'opportunity_id', value: 'HN25-0041', rows: '13, 27, 50', last: 50, earlier: '13, 27' });
    expect(dup.text).toBe('duplicate opportunity_id "HN25-0041" in rows 13, 27, 50: row 50 wins, 13, 27 skipped');
    const labels = (l: 'zh-CN' | 'en') => ({ field: (f: string) => fieldLabel('opportunities', f, l), list: (xs: string[]) => formatList(l, xs) });
    expect(warningLabel(translator('zh-CN'), dup, dup.text, labels('zh-CN'))).toBe('商机编号"HN25-0041"重复，出现在第 13、27、50 行：以第 50 行为准，第 13、27 行已跳过');
    expect(warningLabel(translator('en'), dup, dup.text, labels('en'))).toBe('duplicate Opportunity ID "HN25-0041" in rows 13, 27, 50: row 50 wins, 13, 27 skipped');
    // A warning without a code (a REST retry): its English text.
    expect(warningLabel(translator('zh-CN'), null, 'HTTP 429; retrying')).toBe('HTTP 429; retrying');
  });
});
