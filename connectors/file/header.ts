/**
 * Header detection for sheets and CSV files: the header is the row, among the first
 * `SCAN_ROWS`, with the most cells known to the alias tables; without any known cell, the
 * first row as wide as the widest row scanned (title rows and merged banner cells above a
 * table have one or two filled cells). `header_row` in the source overrides.
 */
import { knownHeaderCount } from '../pipeline/aliases';
import { cleanText, isBlank, summaryLabel, toText } from '../pipeline/values';
import type { RawRecord, ReaderEvents } from '../types';

export const SCAN_ROWS = 30;

/** Index (into `rows`) of the header row. */
export function detectHeader(rows: unknown[][]): number {
  let best = -1;
  let bestKnown = 0;
  let widest = 0;
  const filled = rows.map((r) => r.filter((v) => !isBlank(v)).length);
  rows.forEach((r, i) => {
    const texts = r.filter((v) => typeof v === 'string' && !isBlank(v)) as string[];
    const k = knownHeaderCount(texts);
    if (k > bestKnown) {
      bestKnown = k;
      best = i;
    }
    widest = Math.max(widest, filled[i]);
  });
  if (best >= 0 && bestKnown >= 2) return best;
  const firstWide = filled.findIndex((n, i) => n >= Math.max(1, widest) && rows[i].every((v) => isBlank(v) || typeof v === 'string'));
  if (firstWide >= 0) return firstWide;
  return Math.max(0, filled.findIndex((n) => n > 0));
}

/** Header names from a header row: cleaned, blanks named `column_N`, duplicates suffixed `_2`. */
export function headerNames(cells: unknown[], width: number): string[] {
  const names: string[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < width; i++) {
    let n = cleanText(toText(cells[i]));
    if (!n) n = `column_${i + 1}`;
    const k = seen.get(n) ?? 0;
    seen.set(n, k + 1);
    names.push(k ? `${n}_${k + 1}` : n);
  }
  return names;
}

/**
 * Turns data rows (arrays) into records keyed by header, skipping blank and summary rows
 * through `events.skip` (a summary row also warns).
 */
export class RowShaper {
  constructor(
    readonly headers: string[],
    private readonly events: ReaderEvents,
    private readonly where: string
  ) {}

  shape(cells: unknown[], row: number): RawRecord | null {
    let blank = true;
    for (const v of cells) {
      if (!isBlank(v)) {
        blank = false;
        break;
      }
    }
    if (blank) {
      this.events.skip(row, 'blank');
      return null;
    }
    const label = summaryLabel(cells);
    if (label) {
      this.events.skip(row, 'summary', label);
      this.events.warn(`${this.where} row ${row}: summary row "${label}" skipped`);
      return null;
    }
    const values: Record<string, unknown> = {};
    const h = this.headers;
    for (let i = 0; i < h.length; i++) values[h[i]] = cells[i] ?? null;
    for (let i = h.length; i < cells.length; i++) if (!isBlank(cells[i])) values[`column_${i + 1}`] = cells[i];
    return { row, values };
  }
}
