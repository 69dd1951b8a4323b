/**
 * Client helpers for the HTTP API: build a model URL from params and fetch it, returning
 * errors as values so a tile can show its own error state.
 */
export type ParamValue = string | number | boolean | string[] | null | undefined;

export function modelUrl(name: string, params: Record<string, ParamValue> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else q.set(k, String(v));
  }
  const s = q.toString();
  return `/api/models/${encodeURIComponent(name)}${s ? `?${s}` : ''}`;
}

export type Fetched<T> = { ok: true; data: T } | { ok: false; status: number; error: string };

/**
 * A bearer token held in memory (embeds: handed over by the host page, never stored).
 * When set, every API call from this page carries it; the standalone app uses its cookie.
 */
let bearer: string | null = null;
const unauthorizedListeners = new Set<(error: string) => void>();

export function setApiToken(token: string | null) {
  bearer = token;
}

/** Called with the server's reason whenever an API call answers 401 (expired, revoked …). */
export function onUnauthorized(fn: (error: string) => void): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

/** Headers for an API call: JSON, plus the in-memory bearer token when there is one. */
export function apiHeaders(accept = 'application/json'): Record<string, string> {
  return bearer ? { accept, authorization: `Bearer ${bearer}` } : { accept };
}

export async function getJson<T>(fetchFn: typeof fetch, url: string): Promise<Fetched<T>> {
  try {
    const res = await fetchFn(url, { headers: apiHeaders() });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const error = body?.error ?? `HTTP ${res.status}`;
      if (res.status === 401) unauthorizedListeners.forEach((fn) => fn(error));
      return { ok: false, status: res.status, error };
    }
    return { ok: true, data: body as T };
  } catch (e) {
    return { ok: false, status: 0, error: e instanceof Error ? e.message : String(e) };
  }
}

/** The shape of a model result as the API returns it. */
export interface ModelResult<Row = Record<string, unknown>> {
  model: string;
  title: { 'zh-CN': string; en: string };
  definition: { 'zh-CN': string; en: string };
  date_field: string;
  period: { from: string; to: string; preset: string };
  previous_period: { from: string; to: string; preset: string } | null;
  as_of: string;
  params: Record<string, unknown>;
  n: number;
  rows: Row[];
  summary?: Record<string, unknown>;
  ms: number;
}

export interface Status {
  ok: boolean;
  demo_mode: boolean;
  last_synced_at: string | null;
  stale_after_minutes: number;
  refresh_seconds: number;
  currency: string;
  demo: { company: string; scale: string } | null;
  server_time: string;
}

export interface KpiRow {
  measure: string;
  value: number | null;
  previous: number | null;
  change: number | null;
  change_kind: 'relative' | 'points';
  unit: 'currency' | 'count' | 'ratio';
  n: number;
  n_previous: number | null;
}

export interface FunnelRow {
  group_key: string | null;
  group_label: string | null;
  stage: string;
  stage_index: number;
  kind: 'open' | 'won';
  reached: number;
  reached_amount: number;
  step_conversion: number | null;
  conversion_from_first: number | null;
  open_now: number;
  lost_at: number;
  median_days_to_next: number | null;
  n: number;
}
