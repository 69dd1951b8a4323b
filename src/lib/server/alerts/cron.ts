/**
 * Schedules: five-field cron (`minute hour day-of-month month day-of-week`, as in crontab(5):
 * `*`, lists, ranges, steps, month and weekday names; when both day fields are restricted a
 * day matching either runs, as Vixie cron does) or `@hourly`, `@daily`, `@weekly`, `@monthly`,
 * evaluated in the business time zone (wall clock), and quiet hours. Pure functions of an
 * instant, so a test drives them with any clock.
 */
import type { QuietHours } from './config';

const PRESETS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *'
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface Field {
  values: Set<number>;
  /** The field was `*` (or `*` with a step): matters for the day-of-month / day-of-week rule. */
  any: boolean;
}

export interface Cron {
  minute: Field;
  hour: Field;
  dom: Field;
  month: Field;
  dow: Field;
}

function parseField(text: string, min: number, max: number, names: string[] | null, label: string): Field {
  const values = new Set<number>();
  const num = (s: string): number => {
    const lower = s.toLowerCase();
    const idx = names ? names.indexOf(lower) : -1;
    if (idx >= 0) return idx + (label === 'month' ? 1 : 0);
    if (!/^\d+$/.test(s)) throw new Error(`${label}: "${s}" is not a number${names ? ` or a name (${names.join(', ')})` : ''}`);
    return Number(s);
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${label}: bad step "${stepText}"`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [lo, hi] = [num(a), num(b)];
    } else {
      lo = num(range);
      hi = stepText === undefined ? lo : max;
    }
    if (lo < min || hi > (label === 'day-of-week' ? 7 : max) || lo > hi) throw new Error(`${label}: "${part}" is outside ${min}–${max}`);
    // 7 is Sunday too.
    for (let v = lo; v <= hi; v += step) values.add(label === 'day-of-week' && v === 7 ? 0 : v);
  }
  return { values, any: text.startsWith('*') };
}

/** Parses a schedule; throws an Error that says which field is wrong. */
export function parseCron(expr: string): Cron {
  const text = PRESETS[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) throw new Error(`expected 5 fields "minute hour day-of-month month day-of-week" (e.g. "0 9 * * 1-5") or @hourly/@daily/@weekly/@monthly, got ${parts.length}`);
  return {
    minute: parseField(parts[0], 0, 59, null, 'minute'),
    hour: parseField(parts[1], 0, 23, null, 'hour'),
    dom: parseField(parts[2], 1, 31, null, 'day-of-month'),
    month: parseField(parts[3], 1, 12, MONTHS, 'month'),
    dow: parseField(parts[4], 0, 6, DAYS, 'day-of-week')
  };
}

/** The problem with a schedule, or null. */
export function cronError(expr: string): string | null {
  try {
    parseCron(expr);
    return null;
  } catch (e) {
    return `invalid schedule "${expr}": ${(e as Error).message}`;
  }
}

export interface Wall {
  y: number;
  m: number; // 1–12
  d: number;
  h: number;
  mi: number;
  dow: number; // 0 = Sunday
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();
/** The wall clock in `tz` at an instant. */
export function wallClock(at: Date, tz: string): Wall {
  let f = fmtCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    fmtCache.set(tz, f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return { y: +p.year, m: +p.month, d: +p.day, h: +p.hour % 24, mi: +p.minute, dow: DAYS.indexOf(String(p.weekday).toLowerCase().slice(0, 3)) };
}

/** The instant of a wall-clock time in `tz`, or null when that time does not exist there (a DST gap). */
export function fromWall(y: number, m: number, d: number, h: number, mi: number, tz: string): Date | null {
  const target = Date.UTC(y, m - 1, d, h, mi);
  let t = target;
  for (let i = 0; i < 3; i++) {
    const w = wallClock(new Date(t), tz);
    const diff = target - Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi);
    if (diff === 0) return new Date(t);
    t += diff;
  }
  return null;
}

const matches = (f: Field, v: number) => f.values.has(v);
function dayMatches(c: Cron, y: number, m: number, d: number): boolean {
  const dow = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  if (c.dom.any || c.dow.any) return matches(c.dom, d) && matches(c.dow, dow);
  return matches(c.dom, d) || matches(c.dow, dow);
}

/** The first run strictly after `after`, in `tz`; null if none within ~5 years (e.g. "0 0 31 2 *"). */
export function nextRun(cron: Cron | string, after: Date, tz: string): Date | null {
  const c = typeof cron === 'string' ? parseCron(cron) : cron;
  const w = wallClock(new Date(after.getTime() + 60_000), tz);
  // Walk the wall clock: a day at a time until the day matches, then hours, then minutes.
  let day = Date.UTC(w.y, w.m - 1, w.d);
  let startH = w.h;
  let startMi = w.mi;
  for (let i = 0; i < 366 * 5; i++, day += 86_400_000, startH = 0, startMi = 0) {
    const dt = new Date(day);
    const [y, m, d] = [dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate()];
    if (!matches(c.month, m) || !dayMatches(c, y, m, d)) continue;
    for (let h = startH; h < 24; h++) {
      if (!matches(c.hour, h)) continue;
      for (let mi = h === startH ? startMi : 0; mi < 60; mi++) {
        if (!matches(c.minute, mi)) continue;
        const at = fromWall(y, m, d, h, mi, tz);
        if (at && at.getTime() > after.getTime()) return at;
      }
    }
  }
  return null;
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Is `at` inside the quiet hours (in `tz`)? */
export function isQuiet(at: Date, q: QuietHours | null | undefined, tz: string): boolean {
  if (!q) return false;
  const w = wallClock(at, tz);
  if (q.days?.includes(w.dow)) return true;
  const now = w.h * 60 + w.mi;
  const [from, to] = [minutesOf(q.from), minutesOf(q.to)];
  if (from === to) return false;
  return from < to ? now >= from && now < to : now >= from || now < to;
}

/** The first instant at or after `at` that is not quiet (`at` itself when it is not). */
export function quietEnd(at: Date, q: QuietHours | null | undefined, tz: string): Date {
  if (!isQuiet(at, q, tz)) return at;
  // Quiet periods end on a minute boundary; step by minutes (bounded by a week of quiet days).
  let t = Math.floor(at.getTime() / 60_000) * 60_000;
  for (let i = 0; i < 8 * 1440; i++) {
    t += 60_000;
    if (!isQuiet(new Date(t), q, tz)) return new Date(t);
  }
  return new Date(t);
}
