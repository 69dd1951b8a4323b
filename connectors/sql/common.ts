/** What the PostgreSQL and MySQL readers share: the connection URL from env, watermarks, errors. */
import { Redactor, redactUrl, secretFromEnv } from '../secrets';
import type { SqlSource } from './config';

export interface Connection {
  url: string;
  /** The URL for messages: no password. */
  shown: string;
  red: Redactor;
}

export function connectionFromEnv(s: SqlSource): Connection {
  const url = secretFromEnv(s.name, 'url_env', s.url_env);
  const red = new Redactor();
  try {
    const u = new URL(url);
    red.add(decodeURIComponent(u.password));
    red.add(u.password);
  } catch {
    throw new Error(`source "${s.name}": the environment variable ${s.url_env} does not hold a URL (expected e.g. ${s.type === 'postgres' ? 'postgres://user:password@host:5432/db' : 'mysql://user:password@host:3306/db'})`);
  }
  return { url, shown: redactUrl(url), red };
}

/**
 * A timestamp's sort key, so the watermark is the latest value whatever its text form
 * (`2024-03-05 10:00:00`, `…:00.25`, Date objects). Unparseable values sort as text.
 */
function key(v: string): number {
  const t = Date.parse(v.includes('T') ? v : v.replace(' ', 'T'));
  return Number.isNaN(t) ? NaN : t;
}

/** Tracks the greatest incremental-column value seen; the text form is kept for the next query. */
export class WatermarkTracker {
  value: string | null;
  private k: number;
  constructor(start: string | null) {
    this.value = start;
    this.k = start ? key(start) : NaN;
  }
  see(v: unknown): void {
    if (v === null || v === undefined || v === '') return;
    const s = v instanceof Date ? v.toISOString() : String(v);
    if (this.value === null) {
      this.value = s;
      this.k = key(s);
      return;
    }
    const k = key(s);
    if (!Number.isNaN(k) && !Number.isNaN(this.k) ? k > this.k : s > this.value) {
      this.value = s;
      this.k = k;
    }
  }
}

/** A PostgreSQL `timestamptz` as text in the session's zone, `2024-03-05 10:00:00+08`: the offset dropped. */
const PG_TZ = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?)[+-]\d{2}(?::\d{2}){0,2}$/;
export function wallTime(v: string): string {
  const m = PG_TZ.exec(v);
  return m ? m[1] : v;
}
