import { describe, expect, it } from 'vitest';
import { previousPeriod, resolvePreset, todayIn } from './period';

describe('period presets', () => {
  it('calendar quarters and years with fiscal_year_start_month = 1', () => {
    expect(resolvePreset('this_quarter', '2026-05-20')).toEqual({ from: '2026-04-01', to: '2026-07-01', preset: 'this_quarter' });
    expect(resolvePreset('last_quarter', '2026-02-03')).toMatchObject({ from: '2025-10-01', to: '2026-01-01' });
    expect(resolvePreset('this_year', '2026-05-20')).toMatchObject({ from: '2026-01-01', to: '2027-01-01' });
    expect(resolvePreset('last_month', '2026-01-15')).toMatchObject({ from: '2025-12-01', to: '2026-01-01' });
    expect(resolvePreset('last_30_days', '2026-03-01')).toMatchObject({ from: '2026-01-31', to: '2026-03-02' });
  });

  it('fiscal years starting in April', () => {
    expect(resolvePreset('this_quarter', '2026-05-20', 4)).toMatchObject({ from: '2026-04-01', to: '2026-07-01' });
    expect(resolvePreset('this_quarter', '2026-03-31', 4)).toMatchObject({ from: '2026-01-01', to: '2026-04-01' });
    expect(resolvePreset('this_year', '2026-03-31', 4)).toMatchObject({ from: '2025-04-01', to: '2026-04-01' });
    expect(resolvePreset('last_year', '2026-04-01', 4)).toMatchObject({ from: '2025-04-01', to: '2026-04-01' });
    expect(resolvePreset('this_quarter', '2026-12-31', 11)).toMatchObject({ from: '2026-11-01', to: '2027-02-01' });
  });

  it('previous period: cut to the same elapsed length while under way, whole otherwise', () => {
    const q = resolvePreset('this_quarter', '2026-05-20');
    expect(previousPeriod(q, '2026-05-20')).toMatchObject({ from: '2026-01-01', to: '2026-02-20' }); // 50 days elapsed
    expect(previousPeriod(q, '2026-05-20', false)).toMatchObject({ from: '2026-01-01', to: '2026-04-01' });
    expect(previousPeriod(resolvePreset('last_quarter', '2026-05-20'), '2026-05-20')).toMatchObject({ from: '2025-10-01', to: '2026-01-01' });
    expect(previousPeriod({ from: '2026-03-01', to: '2026-03-11', preset: 'custom' }, '2026-06-01')).toMatchObject({ from: '2026-02-19', to: '2026-03-01' });
    expect(previousPeriod(resolvePreset('all', '2026-05-20'), '2026-05-20')).toBeNull();
  });

  it('today in the business time zone', () => {
    const t = new Date('2026-11-21T23:30:00Z');
    expect(todayIn('Asia/Shanghai', t)).toBe('2026-11-22');
    expect(todayIn('UTC', t)).toBe('2026-11-21');
  });
});
