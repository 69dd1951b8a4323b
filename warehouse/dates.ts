/**
 * Calendar dates `YYYY-MM-DD` as pure functions: what the warehouse's derived tables and the
 * models' periods (models/common/period.ts re-exports these) both need.
 */

export interface YMD {
  y: number;
  m: number; // 1-12
  d: number;
}

export function parseDate(s: string): YMD {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) throw new Error(`invalid date "${s}" (expected YYYY-MM-DD)`);
  const ymd = { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) };
  const check = new Date(Date.UTC(ymd.y, ymd.m - 1, ymd.d));
  if (check.getUTCMonth() !== ymd.m - 1 || check.getUTCDate() !== ymd.d) throw new Error(`invalid date "${s}"`);
  return ymd;
}

export function formatDate(d: YMD): string {
  const date = new Date(Date.UTC(d.y, d.m - 1, d.d));
  return date.toISOString().slice(0, 10);
}

export function addDays(date: string, n: number): string {
  const { y, m, d } = parseDate(date);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

export function daysBetween(from: string, to: string): number {
  const a = parseDate(from);
  const b = parseDate(to);
  return Math.round((Date.UTC(b.y, b.m - 1, b.d) - Date.UTC(a.y, a.m - 1, a.d)) / 86_400_000);
}
