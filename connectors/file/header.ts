/**
 * Header detection for sheets and CSV files: the header is the row, among the first
 * `SCAN_ROWS`, with the most cells known to the alias tables; without any known cell, the
 * first row as wide as the widest row scanned (title rows and merged banner cells above a
 * table have one or two filled cells). `header_row` in the source overrides.
 */
import { knownHeaderCount } from '../pipeline/aliases';
import { cleanText, headerUnit, isBlank, stripHeaderUnit, summaryLabel, toText, unitFactor, unitLine } from '../pipeline/values';
import type { RawRecord, ReaderEvents, RecordMeta } from '../types';
import { warning } from '../pipeline/reasons';

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

const isText = (v: unknown) => typeof v === 'string' && !isBlank(v) && !/^[\d\s,.\-/:]+$/.test(v.trim());

/**
 * A row directly below the header that completes it: the lower half of a merged two-level
 * header (`金额（万元）` spanning `预计`/`实际`). It has text where the header row is blank (the
 * merged span) and blanks where the header row has text (cells merged down), and nothing else.
 */
function isSubHeader(top: unknown[], below: unknown[], width: number): boolean {
  let under = 0;
  let gap = 0;
  for (let c = 0; c < width; c++) {
    const t = !isBlank(top[c]);
    const b = !isBlank(below[c]);
    if (b && !isText(below[c])) return false;
    if (b && !t) under++;
    if (t && !b) gap++;
  }
  return under > 0 && gap > 0 && unitLine(below) === null;
}

/** A row directly above the header that groups it (the upper half of a merged two-level header). */
function isParentRow(above: unknown[], header: unknown[], width: number): boolean {
  let filled = 0;
  let spans = 0;
  for (let c = 0; c < width; c++) {
    if (isBlank(above[c])) {
      // A blank cell over a header cell, right of a filled one over a header cell: a merged span.
      if (c > 0 && !isBlank(header[c]) && !isBlank(header[c - 1])) spans++;
      continue;
    }
    if (!isText(above[c])) return false;
    filled++;
    if (isBlank(header[c])) spans++; // merged down into the header row
  }
  return filled >= 2 && spans > 0 && unitLine(above) === null;
}

/** Names for a two-level header: each column's group (spanning merged cells) and its own label. */
function combineLevels(top: unknown[], below: unknown[], width: number): string[] {
  const parent: string[] = [];
  for (let c = 0; c < width; c++) {
    const p = headerText(top[c]);
    // A blank upper cell continues the group on its left when both lower cells are labelled.
    parent.push(p || (c > 0 && !isBlank(below[c]) && !isBlank(below[c - 1]) ? parent[c - 1] : ''));
  }
  const names = parent.map((p, c) => {
    const child = headerText(below[c]);
    if (!child) return p;
    if (!p) return child;
    const bare = stripHeaderUnit(p);
    const unit = headerUnit(p);
    let name = child;
    if (!knownHeaderCount([child])) {
      // 预计成交 + 金额 → 预计成交金额; 签约 + 日期 → 签约日期, when that is a known header.
      const joined = [bare + child, child + bare].find((j) => knownHeaderCount([j]) > 0);
      if (joined) name = joined;
    }
    return unit && !headerUnit(name) ? `${name}(${unit})` : name;
  });
  // Labels repeated under different groups (预计/金额, 实际/金额) keep their group.
  return names.map((n, c) => (names.indexOf(n) !== names.lastIndexOf(n) && parent[c] && headerText(below[c]) ? `${stripHeaderUnit(parent[c])}/${n}` : n));
}

/** A row of units under the header (`万元`, `元`, blank…): each column's unit. */
function unitRow(cells: unknown[]): boolean {
  let any = false;
  for (const v of cells) {
    if (isBlank(v)) continue;
    if (typeof v !== 'string') return false;
    const t = cleanText(v).replace(/^[(（]|[)）]$/g, '');
    if (unitFactor(t) === null && !/^(%|个|次|天|日期|yyyy-mm-dd)$/i.test(t)) return false;
    any = true;
  }
  return any;
}

export interface HeaderLayout {
  /** Indexes (into the scanned rows) of the header rows: one, or two for a merged two-level header. */
  rows: number[];
  /** Index of the first data row. */
  dataStart: number;
  names: string[];
  /** The unit of a `单位：万元` line above the table (or in its title). */
  unit: string | null;
}

/**
 * The header of a table among its first rows (`rows[i].row` is the 1-based row number):
 * detected (or `headerRow`), completed by a merged second level below or a group row above,
 * and by a row of units under it; a `单位：…` line above the header gives the table's unit.
 */
export function layoutHeader(rows: { cells: unknown[]; row: number }[], headerRow?: number): HeaderLayout | null {
  const idx = headerRow ? rows.findIndex((r) => r.row === headerRow) : detectHeader(rows.map((r) => r.cells));
  if (idx < 0) return null;
  const width = Math.max(...rows.slice(idx).map((r) => r.cells.length));
  let top = idx;
  let bottom = idx;
  const next = rows[idx + 1];
  const prev = rows[idx - 1];
  if (next && next.row === rows[idx].row + 1 && isSubHeader(rows[idx].cells, next.cells, width)) bottom = idx + 1;
  else if (!headerRow && prev && prev.row === rows[idx].row - 1 && isParentRow(prev.cells, rows[idx].cells, width)) top = idx - 1;
  let cells: unknown[] = top === bottom ? rows[idx].cells : combineLevels(rows[top].cells, rows[bottom].cells, width);
  let dataStart = bottom + 1;
  const u = rows[dataStart];
  if (u && u.row === rows[bottom].row + 1 && unitRow(u.cells)) {
    cells = Array.from({ length: width }, (_, c) => {
      const name = headerText(cells[c]);
      const unit = cleanText(toText(u.cells[c])).replace(/^[(（]|[)）]$/g, '');
      return name && unitFactor(unit) !== null && !headerUnit(name) ? `${name}(${unit})` : cells[c];
    });
    dataStart++;
  }
  let unit: string | null = null;
  for (let i = 0; i < top && !unit; i++) unit = unitLine(rows[i].cells);
  return { rows: top === bottom ? [idx] : [top, bottom], dataStart, names: headerNames(cells, width), unit };
}

/** A footnote under a table: one filled cell starting 注：/备注：/说明：/Note:. */
export function noteLabel(cells: readonly unknown[]): string | null {
  let text: string | null = null;
  for (const v of cells) {
    if (isBlank(v)) continue;
    if (text !== null || typeof v !== 'string') return null;
    text = cleanText(v);
  }
  return text && /^(?:注|备注|说明|注释|附注|note|notes)\s*\d*\s*[:：]/i.test(text) ? text : null;
}

/**
 * A header as the user wrote it, white space trimmed and collapsed (full-width brackets kept:
 * reports name `预计成交金额（万元）` as it appears in the sheet; matching ignores the difference).
 */
export function headerText(v: unknown): string {
  return toText(v).replace(/[\s\u00a0\u3000]+/g, ' ').trim();
}

/** Header names from a header row: as written, blanks named `column_N`, duplicates suffixed `_2`. */
export function headerNames(cells: unknown[], width: number): string[] {
  const names: string[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < width; i++) {
    let n = headerText(cells[i]);
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
    private readonly where: string,
    readonly meta?: RecordMeta
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
    const note = noteLabel(cells);
    if (note) {
      this.events.skip(row, 'summary', note);
      const w = warning('note_skipped', { where: this.where, row, note: note.slice(0, 40) });
      this.events.warn(w.text, w);
      return null;
    }
    const label = summaryLabel(cells);
    if (label) {
      this.events.skip(row, 'summary', label);
      const w = warning('summary_row_skipped', { where: this.where, row, label });
      this.events.warn(w.text, w);
      return null;
    }
    const values: Record<string, unknown> = {};
    const h = this.headers;
    for (let i = 0; i < h.length; i++) values[h[i]] = cells[i] ?? null;
    for (let i = h.length; i < cells.length; i++) if (!isBlank(cells[i])) values[`column_${i + 1}`] = cells[i];
    return this.meta ? { row, values, meta: this.meta } : { row, values };
  }
}
