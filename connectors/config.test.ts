import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/lib/server/config/load';

describe('source options in cockpit.config.json', () => {
  it('checks each source by its type, with did-you-mean for options, fields and stages', () => {
    const r = parseConfig({
      sources: [
        { name: 'a', type: 'excel', entity: 'opportunities', path: 'a.xlsx', sheeet: '商机', columns: { amout: '金额' } },
        { name: 'b', type: 'xlsx', entity: 'opportunities', path: 'b.xlsx' },
        { name: 'c', type: 'csv', entity: 'opportunities', path: 'c.csv', delimiter: ';;' },
        { name: 'd', type: 'csv', entity: 'opportunities', path: 'd.csv', stage_dates: { 方案报: '报价日期' } },
        { name: 'e', type: 'csv', entity: 'opportunities' }
      ]
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toContain('sources[0].sheeet: unknown field "sheeet"; did you mean "sheet"?');
    expect(r.issues.some((i) => i.startsWith('sources[0].columns.amout: unknown field "amout" for opportunities; did you mean "amount"?'))).toBe(true);
    expect(r.issues.some((i) => i.startsWith('sources[1].type: ') && i.includes("'excel' | 'csv' | 'rest' | 'postgres' | 'mysql'"))).toBe(true);
    expect(r.issues.some((i) => i.startsWith('sources[2].delimiter:'))).toBe(true);
    expect(r.issues.some((i) => i.startsWith('sources[4].path:'))).toBe(true);
    // Stage names are checked once the sources themselves are valid.
    const s = parseConfig({ sources: [{ name: 'd', type: 'csv', entity: 'opportunities', path: 'd.csv', stage_dates: { 方案报: '报价日期' } }] });
    expect(s.ok).toBe(false);
    if (s.ok) return;
    expect(s.issues[0]).toBe('sources[0].stage_dates.方案报: unknown stage "方案报"; did you mean "方案报价"? (stages: 初步接洽, 需求分析, 方案报价, 商务谈判, 赢单, 输单)');
  });

  it('accepts reference fields (a customer described on a deal row) and the file options', () => {
    const r = parseConfig({
      sources: [
        {
          name: 'ledger',
          type: 'excel',
          entity: 'opportunities',
          path: 'x.xlsx',
          sheet: '商机',
          header_row: 3,
          columns: { customer_name: '客户', customer_region: '地区', owner_team: '团队' },
          stage_dates: { 方案报价: '报价日期' },
          region_suffixes: ['省'],
          defaults: { currency: 'CNY' },
          id_prefix: 'L-'
        },
        { name: 'gbk', type: 'csv', entity: 'customers', path: 'c.csv', encoding: 'gbk', delimiter: '\t' }
      ]
    });
    expect(r.ok ? [] : r.issues).toEqual([]);
  });
});
