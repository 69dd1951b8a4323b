import { describe, expect, it } from 'vitest';
import { cleanRegion, cleanText, halfWidth, nameKey, parseAmount, parseBoolean, parseDate, summaryLabel } from './values';
import { DEFAULT_REGION_SUFFIXES } from '../shared-options';
import { resolveMapping } from './pipeline';

const val = <T>(r: { ok: boolean; value?: T }) => (r.ok ? r.value : undefined);

describe('values as spreadsheets give them', () => {
  it('dates in every common form, to naive wall time', () => {
    for (const s of ['2024-03-05', '2024/3/5', '2024.3.5', '2024年3月5日', ' 2024 年 3 月 5 日 ', '20240305', '２０２４－０３－０５']) {
      expect(val(parseDate(s)), s).toBe('2024-03-05 00:00:00');
    }
    expect(val(parseDate('2024/3/5 14:07'))).toBe('2024-03-05 14:07:00');
    expect(val(parseDate('2024-03-05T09:30:00.000Z'))).toBe('2024-03-05 09:30:00');
    // With the business time zone, an explicit offset is converted to its wall time (worked by hand: UTC+8).
    expect(val(parseDate('2024-03-05T16:00:00Z', 'Asia/Shanghai'))).toBe('2024-03-06 00:00:00');
    expect(val(parseDate('2024-03-05T09:30:00+08:00', 'Asia/Shanghai'))).toBe('2024-03-05 09:30:00');
    expect(val(parseDate('2024-03-05T09:30:00-0500', 'Asia/Shanghai'))).toBe('2024-03-05 22:30:00');
    expect(val(parseDate('2024-07-01T12:00:00Z', 'America/New_York'))).toBe('2024-07-01 08:00:00');
    expect(val(parseDate('2024-03-05 09:30:00', 'Asia/Shanghai'))).toBe('2024-03-05 09:30:00');
    // A Date cell from exceljs carries the wall time in its UTC fields.
    expect(val(parseDate(new Date(Date.UTC(2024, 2, 5))))).toBe('2024-03-05 00:00:00');
    // Excel serial 45356 is 2024-03-05 (days since 1899-12-30).
    expect(val(parseDate(45356))).toBe('2024-03-05 00:00:00');
    expect(val(parseDate('45356'))).toBe('2024-03-05 00:00:00');
    expect(parseDate('2024-02-30').ok).toBe(false);
    expect(parseDate('下周三').ok).toBe(false);
    expect(parseDate('2024-13-01').ok).toBe(false);
  });

  it('amounts with currency marks, separators, 万/亿 and full-width digits', () => {
    const cases: [unknown, number][] = [
      [1200, 1200],
      ['1,200,000', 1200000],
      ['¥1,200.50', 1200.5],
      ['￥3.5万', 35000],
      ['35万元', 350000],
      ['1.2亿', 120000000],
      ['RMB 8,000', 8000],
      ['8000元', 8000],
      ['１２３４５', 12345],
      ['(1,000)', -1000],
      ['-250', -250]
    ];
    for (const [input, expected] of cases) expect(val(parseAmount(input)), String(input)).toBe(expected);
    expect(parseAmount('约十万').ok).toBe(false);
    expect(parseAmount('1,20,0').ok).toBe(false);
  });

  it('是/否 and yes/no booleans', () => {
    expect(val(parseBoolean('是'))).toBe(true);
    expect(val(parseBoolean('否'))).toBe(false);
    expect(val(parseBoolean('Yes'))).toBe(true);
    expect(parseBoolean('maybe').ok).toBe(false);
  });

  it('cleaning: trim, collapse spaces, full-width ASCII, region suffixes', () => {
    expect(cleanText('  上海  云帆\u3000科技 ')).toBe('上海 云帆 科技');
    expect(halfWidth('ＡＢＣ１２３（）')).toBe('ABC123()');
    expect(cleanRegion('上海市', DEFAULT_REGION_SUFFIXES)).toBe('上海');
    expect(cleanRegion('浙江省', DEFAULT_REGION_SUFFIXES)).toBe('浙江');
    expect(cleanRegion('广西壮族自治区', DEFAULT_REGION_SUFFIXES)).toBe('广西');
    expect(cleanRegion('市', DEFAULT_REGION_SUFFIXES)).toBe('市');
    expect(cleanRegion('上海市', [])).toBe('上海市');
    expect(nameKey('ACME  Corp.')).toBe(nameKey('acme corp'));
    expect(nameKey('云帆（上海）科技')).toBe(nameKey('云帆(上海)科技'));
  });

  it('summary rows by their label', () => {
    expect(summaryLabel(['合计', null, 1000])).toBe('合计');
    expect(summaryLabel([null, 'Subtotal:', 5])).toBe('Subtotal:');
    expect(summaryLabel(['合计金额说明的客户', 1])).toBeNull();
    expect(summaryLabel([1, '合计'])).toBeNull();
  });
});

describe('column mapping', () => {
  it('maps Chinese and English headers by alias, explicit columns first', () => {
    const { mapping, unmapped } = resolveMapping(
      { name: 's', entity: 'opportunities', columns: { amount: '合同额' } },
      ['商机编号', '客户名称', '负责人', '销售阶段', '预估签单金额', '合同额', '备注', 'Stage']
    );
    const m = Object.fromEntries(mapping.map((x) => [x.field, x.column]));
    expect(m).toEqual({ amount: '合同额', opportunity_id: '商机编号', customer_name: '客户名称', owner_id: '负责人', stage: '销售阶段' });
    expect(unmapped).toEqual(['预估签单金额', '备注', 'Stage']);
  });

  it('maps nested JSON records by dotted paths, and names a missing mapped column', () => {
    const { mapping } = resolveMapping({ name: 's', entity: 'opportunities', columns: { name: 'properties.dealname' } }, ['id', 'properties.dealname', 'properties.amount', 'properties.dealstage']);
    expect(Object.fromEntries(mapping.map((x) => [x.field, x.column]))).toEqual({
      name: 'properties.dealname',
      opportunity_id: 'id',
      amount: 'properties.amount',
      stage: 'properties.dealstage'
    });
    expect(() => resolveMapping({ name: 's', entity: 'opportunities', columns: { amount: '金 额' } }, ['金额', '阶段'])).toThrow(
      'columns.amount: column "金 额" is not in the source; did you mean "金额"?'
    );
  });
});

describe('JSON records (REST)', () => {
  it('maps nested records by alias on the last path segment, tolerates keys a record lacks, keeps the rest', async () => {
    const { Pipeline } = await import('./pipeline');
    const { parseConfig } = await import('../../src/lib/server/config/load');
    const cfg = parseConfig({ stages: [{ name: 'appointmentscheduled' }, { name: 'closedwon', outcome: 'won' }] });
    if (!cfg.ok) throw new Error(cfg.issues.join());
    const p = new Pipeline({
      config: cfg.config,
      source: { name: 'hubspot', type: 'csv', entity: 'opportunities', path: '-', columns: { opportunity_id: 'id', closed_at: 'properties.closedate' } },
      now: '2026-01-01 00:00:00'
    });
    const out = p.process({ row: 1, values: { id: '42', properties: { dealname: 'Big deal', amount: '1200.5', dealstage: 'closedwon', hs_priority: 'high' } } }, null);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.result.main).toMatchObject({ opportunity_id: '42', name: 'Big deal', amount: 1200.5, stage: 'closedwon', status: 'won', closed_at: null });
    expect(JSON.parse(String(out.result.main.attributes))).toEqual({ 'properties.hs_priority': 'high' });
  });
});

describe('value rules as Chinese ledgers write them (issue 12)', () => {
  it('units: a header, a unit line or the source give the unit of amounts without their own', async () => {
    const { headerUnit, stripHeaderUnit, unitLine, unitFactor } = await import('./values');
    expect(headerUnit('预计成交金额（万元）')).toBe('万元');
    expect(headerUnit('金额(万)')).toBe('万');
    expect(headerUnit('合同额/千元')).toBe('千元');
    expect(headerUnit('目标【单位：亿元】')).toBe('亿元');
    expect(headerUnit('回款金额百万元')).toBe('百万元');
    expect(headerUnit('预计成交金额')).toBeNull();
    expect(headerUnit('赢单/输单日期')).toBeNull();
    expect(stripHeaderUnit('预计成交金额（万元）')).toBe('预计成交金额');
    expect(unitLine(['', '单位：万元'])).toBe('万元');
    expect(unitLine(['华南区销售台账（金额单位: 元）'])).toBe('元');
    expect(unitLine(['制表：销售部'])).toBeNull();
    expect([unitFactor('元'), unitFactor('千元'), unitFactor('万元'), unitFactor('百万'), unitFactor('亿元')]).toEqual([1, 1e3, 1e4, 1e6, 1e8]);
    // 120 in a 万元 column is ¥1,200,000; a value naming its own unit keeps it (worked by hand).
    const cases: [unknown, number, number][] = [
      [120, 1e4, 1_200_000],
      ['120', 1e4, 1_200_000],
      ['35.5', 1e4, 355_000],
      ['12万', 1e4, 120_000],
      ['￥35.5万', 1, 355_000],
      ['120000元', 1e4, 120_000],
      ['1,200,000', 1, 1_200_000],
      ['１２０', 1e4, 1_200_000],
      ['0.1', 1e4, 1_000],
      [1.5, 1e8, 150_000_000],
      ['2.5', 1e3, 2_500]
    ];
    for (const [v, unit, expected] of cases) expect(val(parseAmount(v, unit)), `${v} × ${unit}`).toBe(expected);
  });

  it('dates: yyyymmdd numbers are never Excel serials; serials, 年月日, dots and short years by date_order', () => {
    expect(val(parseDate(20250415))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('20250415'))).toBe('2025-04-15 00:00:00');
    expect(parseDate(20251345).ok).toBe(false);
    // Serial 45762 = 2025-04-15: 45762 − 25569 = 20193 days after 1970-01-01.
    expect(val(parseDate(45762))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('2025年4月15日'))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('2025.4.15'))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('2025/4/15'))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('２０２５年４月１５日'))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('25/4/15'))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('15/4/25', undefined, { order: 'dmy' }))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('4/15/25', undefined, { order: 'mdy' }))).toBe('2025-04-15 00:00:00');
    expect(val(parseDate('15/04/2025'))).toBe('2025-04-15 00:00:00'); // the day > 12 decides
    expect(parseDate('05/04/2025').ok).toBe(false); // ambiguous without date_order
    expect(val(parseDate('05/04/2025', undefined, { order: 'dmy' }))).toBe('2025-04-05 00:00:00');
  });

  it('dates outside the plausible range are rejected with the reason', () => {
    const far = parseDate('2205-04-15');
    expect(far.ok).toBe(false);
    expect(far.ok ? '' : far.reason).toMatch(/outside the plausible range 1970-01-01 … 2100-12-31/);
    expect(parseDate(new Date(Date.UTC(1900, 0, 1))).ok).toBe(false);
    expect(parseDate(2025).ok).toBe(false); // a year typed alone is serial 2025 = 1905-07-17
    expect(parseDate(100).ok).toBe(false);
    expect(val(parseDate('2205-04-15', undefined, { min: '2000-01-01', max: '2300-01-01' }))).toBe('2205-04-15 00:00:00');
  });

  it('summary rows: 合计, 小计, 本月合计, 合计（万元）', () => {
    for (const s of ['合计', '合 计', '小计：', '华南区小计', '本月合计', '合计（万元）', 'Total']) expect(summaryLabel([null, s, 100]), s).not.toBeNull();
    for (const s of ['合计科技有限公司总部大楼项目', 'OPP-001', '小计算器']) expect(summaryLabel([s, 100]), s).toBeNull();
  });
});
