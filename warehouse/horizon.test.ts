import { describe, expect, it } from 'vitest';
import { horizonReaches } from './horizon';

describe('horizonReaches', () => {
  it('compares four-digit instants in time order; nothing known reaches nothing; unknown reaches everything', () => {
    expect(horizonReaches('2026-06-15 17:59:59.000000', '2026-06-16')).toBe(false);
    expect(horizonReaches('2026-06-16 00:00:00.000000', '2026-06-16')).toBe(true);
    expect(horizonReaches('2026-07-01 08:00:00.000000', '2026-06-16')).toBe(true);
    expect(horizonReaches(null, '2026-06-16')).toBe(false);
    expect(horizonReaches(undefined, '2026-06-16')).toBe(true);
  });

  it('a horizon stored data can hold outside four-digit years reaches every instant (text order would say otherwise)', () => {
    // year 10000 sorts before "2026" as text; so do negative years; infinity is not a date at all
    for (const h of ['10000-01-01 00:00:00.000000', '294246-01-01 00:00:00.000000', '-0044-03-15 00:00:00.000000', 'infinity', '-infinity']) {
      expect(horizonReaches(h, '2026-06-16')).toBe(true);
    }
  });
});
