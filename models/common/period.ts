/**
 * Periods (metrics.md, common parameters): `{from, to}` with `to` exclusive, or a preset
 * relative to the report date (`as_of`). Quarters and years follow `fiscal_year_start_month`.
 * All dates are calendar dates `YYYY-MM-DD` in the business time zone; pure functions only.
 */

import { addDays, daysBetween, formatDate, parseDate, type YMD } from '../../warehouse/dates';

export { addDays, daysBetween, formatDate, parseDate };

export const PERIOD_PRESETS = [
  'this_month',
  'last_month',
  'this_quarter',
  'last_quarter',
  'this_year',
  'last_year',
  'last_30_days',
  'all'
] as const;
export type PeriodPreset = (typeof PERIOD_PRESETS)[number];

export const GRAINS = ['day', 'week', 'month', 'quarter', 'year'] as const;
export type Grain = (typeof GRAINS)[number];

export interface Period {
  /** Inclusive start, `YYYY-MM-DD`. */
  from: string;
  /** Exclusive end, `YYYY-MM-DD`. */
  to: string;
  preset: PeriodPreset | 'custom';
}

/** The earliest and latest dates `all` stands for: wide enough for any CRM history. */
export const ALL_FROM = '1900-01-01';
export const ALL_TO = '2200-01-01';

/** Adds months to the first day of a month (day is kept at 1). */
function addMonths(y: number, m: number, n: number): YMD {
  const idx = y * 12 + (m - 1) + n;
  return { y: Math.floor(idx / 12), m: (idx % 12 + 12) % 12 + 1, d: 1 };
}

/** First month of the fiscal quarter containing (y, m). */
function fiscalQuarterStart(y: number, m: number, fyStart: number): YMD {
  const offset = (m - fyStart + 12) % 12; // months since fiscal year start
  return addMonths(y, m, -(offset % 3));
}

function fiscalYearStart(y: number, m: number, fyStart: number): YMD {
  const offset = (m - fyStart + 12) % 12;
  return addMonths(y, m, -offset);
}

/** Resolves a preset against the report date. */
export function resolvePreset(preset: PeriodPreset, asOf: string, fyStart = 1): Period {
  const t = parseDate(asOf);
  const mk = (from: YMD, to: YMD): Period => ({ from: formatDate(from), to: formatDate(to), preset });
  switch (preset) {
    case 'this_month':
      return mk({ y: t.y, m: t.m, d: 1 }, addMonths(t.y, t.m, 1));
    case 'last_month':
      return mk(addMonths(t.y, t.m, -1), { y: t.y, m: t.m, d: 1 });
    case 'this_quarter': {
      const q = fiscalQuarterStart(t.y, t.m, fyStart);
      return mk(q, addMonths(q.y, q.m, 3));
    }
    case 'last_quarter': {
      const q = fiscalQuarterStart(t.y, t.m, fyStart);
      return mk(addMonths(q.y, q.m, -3), q);
    }
    case 'this_year': {
      const s = fiscalYearStart(t.y, t.m, fyStart);
      return mk(s, addMonths(s.y, s.m, 12));
    }
    case 'last_year': {
      const s = fiscalYearStart(t.y, t.m, fyStart);
      return mk(addMonths(s.y, s.m, -12), s);
    }
    case 'last_30_days':
      return { from: addDays(asOf, -29), to: addDays(asOf, 1), preset };
    case 'all':
      return { from: ALL_FROM, to: ALL_TO, preset };
  }
}

/**
 * The period to compare with. For a preset, the preceding period of the same kind; for a
 * custom range, the same number of days just before it. With `toDate`, when the period
 * contains the report date, the comparison is cut to the same elapsed length (quarter to
 * date against last quarter to the same day), so a quarter one week old is not compared
 * with a whole quarter. `all` has no previous period.
 */
export function previousPeriod(p: Period, asOf: string, toDate = true): Period | null {
  let prev: Period;
  switch (p.preset) {
    case 'all':
      return null;
    case 'this_month':
    case 'last_month':
    case 'this_quarter':
    case 'last_quarter':
    case 'this_year':
    case 'last_year': {
      const months = p.preset.endsWith('month') ? 1 : p.preset.endsWith('quarter') ? 3 : 12;
      const f = parseDate(p.from);
      prev = { from: formatDate(addMonths(f.y, f.m, -months)), to: p.from, preset: 'custom' };
      break;
    }
    default: {
      const len = daysBetween(p.from, p.to);
      prev = { from: addDays(p.from, -len), to: p.from, preset: 'custom' };
    }
  }
  if (toDate && p.from <= asOf && asOf < p.to) {
    const elapsed = daysBetween(p.from, asOf) + 1;
    const cut = addDays(prev.from, elapsed);
    if (cut < prev.to) prev = { ...prev, to: cut };
  }
  return prev;
}

const dayFormats = new Map<string, Intl.DateTimeFormat>();

/** Today in an IANA time zone, `YYYY-MM-DD`. */
export function todayIn(timeZone: string, now = new Date()): string {
  // A formatter per zone, made once (building one costs more than the request it serves).
  let f = dayFormats.get(timeZone);
  if (!f) dayFormats.set(timeZone, (f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })));
  const parts = f.formatToParts(now);
  const get = (t: string) => parts.find((p) => p.type === t)?.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}
