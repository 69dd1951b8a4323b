/**
 * Every field a source can map, of every entity (connectors/pipeline/fields.ts mappableFields:
 * canonical columns and reference fields), has a label in zh-CN and in en through the i18n
 * layer, so the upload page's mapping never shows a bare `period_start` or `metric` (issue 12).
 */
import { describe, expect, it } from 'vitest';
import { ENTITIES } from '../schema/tables';
import { mappableFields } from '../../../connectors/pipeline/fields';
import { fieldLabel } from './columns';
import { formatList } from './index';
import { zhCN } from './zh-CN';
import { en } from './en';

const HAN = /[\u4e00-\u9fff]/;

describe('field labels for the upload mapping', () => {
  it('every mappable field of every entity has a Chinese and an English label', () => {
    const missing: string[] = [];
    let n = 0;
    for (const entity of ENTITIES) {
      for (const f of mappableFields(entity)) {
        n++;
        const key = `field.${entity}.${f}`;
        const zh = (zhCN as Record<string, string>)[key];
        const english = (en as Record<string, string>)[key];
        if (!zh || !HAN.test(zh)) missing.push(`${key} zh-CN: ${zh}`);
        if (!english || HAN.test(english) || english === f) missing.push(`${key} en: ${english}`);
        expect(fieldLabel(entity, f, 'zh-CN')).toBe(zh);
        expect(fieldLabel(entity, f, 'en')).toBe(english);
      }
    }
    expect(missing).toEqual([]);
    expect(n).toBeGreaterThan(60);
    // No label for a field no entity maps (the catalog does not drift from connectors/pipeline/fields.ts).
    const all = new Set(ENTITIES.flatMap((e) => mappableFields(e).map((f) => `field.${e}.${f}`)));
    expect(Object.keys(zhCN).filter((k) => k.startsWith('field.') && !all.has(k))).toEqual([]);
  });

  it('the targets fields the issue names, and a field whose meaning depends on the entity', () => {
    expect(fieldLabel('targets', 'period_start', 'zh-CN')).toBe('开始日期');
    expect(fieldLabel('targets', 'metric', 'zh-CN')).toBe('目标指标');
    expect(fieldLabel('targets', 'period_start', 'en')).toBe('Period start');
    expect(fieldLabel('opportunities', 'amount', 'zh-CN')).toBe('预计成交金额');
    expect(fieldLabel('payments', 'amount', 'zh-CN')).toBe('回款金额');
    expect(fieldLabel('targets', 'amount', 'zh-CN')).toBe('目标值');
  });

  it('lists use the locale separator: 、 in Chinese, a comma in English', () => {
    expect(formatList('zh-CN', [13, 27, 50])).toBe('13、27、50');
    expect(formatList('en', [13, 27, 50])).toBe('13, 27, 50');
    expect(formatList('zh-CN', ['13'])).toBe('13');
  });
});
