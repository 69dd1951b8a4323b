/**
 * Cell values for spreadsheet exports. A text cell that begins with `=`, `+`, `-` or `@` (or
 * a tab or carriage return, which spreadsheet apps also read as the start of a formula) is
 * prefixed with `'`, so Excel, WPS and LibreOffice show it as text instead of running it
 * (OWASP "CSV injection"). Numbers stay numbers: a negative amount is not text and is safe.
 */

const FORMULA_START = /^[=+\-@\t\r]/;

/** Text made safe to open in a spreadsheet. */
export function escapeFormula(s: string): string {
  return FORMULA_START.test(s) ? `'${s}` : s;
}

/** A value as export text: null is empty, numbers in full precision, lists joined by `; `, objects as JSON. */
export function cellText(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return escapeFormula(v);
  // A list of text or numbers (a deal's risk flags) reads as its items; other nested values as JSON.
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.length ? escapeFormula(v.join('; ')) : null;
  return escapeFormula(JSON.stringify(v));
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote, line break or `#` (as DuckDB's CSV writer does, so a reader that takes `#` for a comment keeps the row). */
export function csvField(v: unknown): string {
  const c = cellText(v);
  if (c === null) return '';
  const s = String(c);
  return /[",\r\n#]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line, CRLF-terminated (what Excel writes). */
export function csvLine(values: readonly unknown[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += csvField(values[i]);
  }
  return out + '\r\n';
}
