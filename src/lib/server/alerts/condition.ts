/**
 * A rule's condition over a model's rows (pure): which rows breach it ("hits"), each with an id
 * (the row's key: a deal, a payment, a group, a KPI measure), so that the alert's state is the
 * set of breaching ids. The same set twice is the same state (no second message); a new id is a
 * new state; no ids is "ok" (recovered).
 */
import { createHash } from 'node:crypto';
import type { Condition, Op } from './config';

export type Row = Record<string, unknown>;

/** Fields that identify a row, by preference, when a rule names no `key`. */
export const KEY_FIELDS = ['payment_id', 'opportunity_id', 'customer_id', 'group_key', 'measure', 'bucket', 'stage', 'reason', 'key'];

export function keyFieldOf(rows: Row[], explicit?: string): string | null {
  if (explicit) return explicit;
  const sample = rows[0];
  if (!sample) return null;
  return KEY_FIELDS.find((k) => k in sample) ?? null;
}

export const rowId = (row: Row, key: string | null, index: number) => (key ? String(row[key] ?? '∅') : String(index));

export interface Hit {
  id: string;
  row: Row;
  /** The field's value now (threshold, change), else null. */
  value: number | null;
  /** The compared value: the limit (threshold) or the earlier value (change). */
  before: number | null;
  limit: number | null;
}

export interface Outcome {
  hits: Hit[];
  /** Rows the condition looked at. */
  considered: number;
  /** Per row id, the field's value (kept with the evaluation for "change vs previous evaluation"). */
  values: Record<string, number | null>;
}

export function compare(a: unknown, op: Op, b: unknown): boolean {
  if (op === '==') return a === b || (typeof a === 'number' && typeof b === 'number' && a === b);
  if (op === '!=') return a !== b;
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b)) {
    if (typeof a === 'string' && typeof b === 'string') return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    return false;
  }
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function selected(rows: Row[], where: Record<string, unknown> | undefined): Row[] {
  if (!where) return rows;
  return rows.filter((r) => Object.entries(where).every(([k, v]) => r[k] === v));
}

/**
 * Evaluates a condition. `previous` holds the earlier values per row id: the last evaluation's
 * (`previous_evaluation`) or the model's rows for the previous period (`previous_period`, mapped
 * by the caller); null when there is nothing to compare with (a first evaluation never fires
 * on a change).
 */
export function evaluate(c: Condition, rows: Row[], key: string | null, previous: Record<string, number | null> | null = null): Outcome {
  const values: Record<string, number | null> = {};
  const hits: Hit[] = [];
  if (c.type === 'rows') {
    rows.forEach((row, i) => {
      const id = rowId(row, key, i);
      values[id] = null;
      if (c.where.every((w) => compare(row[w.field], w.op, w.value))) hits.push({ id, row, value: null, before: null, limit: null });
    });
    return { hits: hits.length >= c.min_rows ? hits : [], considered: rows.length, values };
  }
  const rowsIn = selected(rows, c.where);
  rowsIn.forEach((row, i) => {
    const id = rowId(row, key, i);
    const v = num(row[c.field]);
    values[id] = v;
    if (v === null) return;
    if (c.type === 'threshold') {
      const base = c.of ? num(row[c.of]) : 1;
      if (base === null) return; // no target: nothing to compare with
      const limit = c.value * base;
      if (compare(v, c.op, limit)) hits.push({ id, row, value: v, before: null, limit });
      return;
    }
    const before = previous ? (previous[id] ?? null) : null;
    if (before === null) return;
    const delta = c.by === 'relative' ? (before === 0 ? null : (v - before) / Math.abs(before)) : v - before;
    if (delta !== null && compare(delta, c.op, c.value)) hits.push({ id, row, value: v, before, limit: c.value });
  });
  return { hits, considered: rowsIn.length, values };
}

/** The state of a rule for one audience member: `ok`, or a digest of the breaching ids. */
export function stateKey(rule: string, audience: string, hits: Hit[]): string {
  if (hits.length === 0) return 'ok';
  const ids = hits.map((h) => h.id).sort();
  return `firing:${createHash('sha256').update(`${rule}\n${audience}\n${ids.join('\n')}`).digest('hex').slice(0, 16)}`;
}
