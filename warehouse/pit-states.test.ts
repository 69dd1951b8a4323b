/**
 * The boundaries pit_boundary_facts is kept for (warehouse/pit-states.ts `pitBoundaries`), from
 * the facts horizon: the first days of the horizon's month and the five before, and 1 January
 * of its year and the year before; none for a horizon that is no plain date (hostile or broken
 * stored values: 'infinity', year 294246, year 1), which then rebuild every start.
 */
import { describe, expect, it } from 'vitest';
import { pitBoundaries } from './pit-states';

describe('pitBoundaries', () => {
  it('month starts back five months and the two year starts, ascending, without duplicates', () => {
    expect(pitBoundaries('2026-06-15 10:00:00.000000')).toEqual([
      '2025-01-01', '2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01', '2026-05-01', '2026-06-01'
    ]);
    // across a year: the months of the year before, its 1 January once
    expect(pitBoundaries('2026-02-01 00:00:00')).toEqual([
      '2025-01-01', '2025-09-01', '2025-10-01', '2025-11-01', '2025-12-01', '2026-01-01', '2026-02-01'
    ]);
  });

  it('no boundary without a plain date of years 1901–9999', () => {
    for (const h of [null, undefined, '', 'infinity', '-infinity', '294246-12-31 23:59:59', '0001-01-01 00:00:00', '1900-05-01 00:00:00']) {
      expect(pitBoundaries(h), String(h)).toEqual([]);
    }
    expect(pitBoundaries('9999-12-31 23:59:59')[0]).toBe('9998-01-01');
  });
});
