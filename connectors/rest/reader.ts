/**
 * The REST reader: JSON over HTTP with Node's fetch. One request per page; the records of a page
 * are one batch. Every request is retried on 429 (after its Retry-After), 5xx and timeouts with
 * capped exponential backoff and jitter; when the attempts run out the reader throws an error
 * naming the request (URL redacted) and the last status, and the sync fails without loading
 * anything from this run. Secrets are read from environment variables and masked in every message.
 */
import type { ReaderFactory, RawRecord, ReadContext, SourceReader } from '../types';
import { Redactor, secretFromEnv } from '../secrets';
import { warning } from '../pipeline/reasons';
import { presetColumnPaths, resolveRestSource, type RestSource } from './config';

/** `a.b.c` in a JSON value; undefined when any step is missing. An empty path is the value itself. */
export function getPath(obj: unknown, path: string): unknown {
  if (!path) return obj;
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Sets `a.b.c` to null, creating the objects on the way. */
function setNull(obj: Record<string, unknown>, path: string): void {
  const keys = path.split('.');
  let cur = obj;
  for (const key of keys.slice(0, -1)) {
    if (cur[key] === null || typeof cur[key] !== 'object') cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = null;
}

/** Milliseconds in a Retry-After header: delta-seconds or an HTTP date. Null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** The `rel="next"` target of a Link header (RFC 8288), or null. */
export function nextFromLink(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const rels = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(m[2]);
    const rel = (rels?.[1] ?? rels?.[2] ?? '').toLowerCase().split(/\s+/);
    if (rel.includes('next')) return m[1];
  }
  return null;
}

/** A last-modified value (ISO text, epoch ms or s as number or digits) as epoch ms, or null. */
export function timeMs(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'number' || (typeof v === 'string' && /^\d{9,}$/.test(v))) {
    const n = Number(v);
    return n > 1e11 ? n : n * 1000;
  }
  if (typeof v === 'string') {
    // Salesforce writes +0000 without a colon, which Date.parse does not always take.
    const t = Date.parse(v.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

function formatWatermark(ms: number, format: 'iso' | 'epoch_ms' | 'epoch_s' | 'date'): string {
  switch (format) {
    case 'epoch_ms':
      return String(ms);
    case 'epoch_s':
      return String(Math.floor(ms / 1000));
    case 'date':
      return new Date(ms).toISOString().slice(0, 10);
    default:
      return new Date(ms).toISOString();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Capped exponential backoff with "equal jitter": half the step fixed, half random. */
export function backoffMs(attempt: number, base: number, cap: number, random = Math.random): number {
  const step = Math.min(cap, base * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** A SOQL datetime literal (SOQL has no bound parameters): only ever produced from a Date. */
function soqlDateTime(ms: number): string {
  const lit = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(lit)) throw new Error(`invalid watermark ${lit}`);
  return lit;
}

/** The SOQL query with `field >= since` added: at `{since}` if the query has it, else as WHERE/AND. */
export function soqlSince(soql: string, field: string, ms: number): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(field)) throw new Error(`invalid SOQL field "${field}"`);
  const lit = soqlDateTime(ms);
  if (soql.includes('{since}')) return soql.split('{since}').join(lit);
  if (/\b(order\s+by|limit|offset|group\s+by)\b/i.test(soql)) {
    throw new Error('an incremental SOQL query with ORDER BY, GROUP BY, LIMIT or OFFSET must say where the condition goes with {since} (e.g. "WHERE LastModifiedDate >= {since} ORDER BY …")');
  }
  return /\bwhere\b/i.test(soql) ? `${soql} AND ${field} >= ${lit}` : `${soql} WHERE ${field} >= ${lit}`;
}

/**
 * A response body as text, read as it streams and counted: past `max` bytes (or a Content-Length
 * over it) the download is cancelled and `tooBig()` thrown. An endless or huge answer used to be
 * buffered whole (3.2 GB in 30 s) and retried.
 */
export async function boundedText(res: Response, max: number, tooBig: () => Error): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {});
    throw tooBig();
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => {});
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, n).toString('utf8');
}

/** HubSpot's CRM search answers at most this many results per query (after + limit). */
export const HUBSPOT_SEARCH_CAP = 10_000;

interface Page {
  url: URL;
  method: 'GET' | 'POST';
  body?: Record<string, unknown>;
}

export const restReader: ReaderFactory = async (source, ctx) => createRestReader(resolveRestSource(source), ctx);

export async function createRestReader(s: RestSource, ctx: ReadContext): Promise<SourceReader> {
  const red = new Redactor();
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'crm-cockpit', ...(s.headers ?? {}) };
  let keyParam: { name: string; value: string } | null = null;
  if (s.auth?.type === 'bearer') {
    const token = secretFromEnv(s.name, 'auth.token_env', s.auth.token_env);
    red.add(token);
    headers.authorization = `Bearer ${token}`;
  } else if (s.auth?.type === 'api_key') {
    const key = secretFromEnv(s.name, 'auth.key_env', s.auth.key_env);
    red.add(key);
    if (s.auth.query_param) keyParam = { name: s.auth.query_param, value: key };
    else headers[s.auth.header ?? 'x-api-key'] = key;
  } else if (s.auth?.type === 'basic') {
    const user = s.auth.username_env ? secretFromEnv(s.name, 'auth.username_env', s.auth.username_env) : (s.auth.username ?? '');
    const password = secretFromEnv(s.name, 'auth.password_env', s.auth.password_env);
    red.add(password);
    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    red.add(basic);
    headers.authorization = `Basic ${basic}`;
  }
  const withKey = (u: URL) => {
    if (keyParam && !u.searchParams.has(keyParam.name)) u.searchParams.set(keyParam.name, keyParam.value);
    return u;
  };

  const base = s.base_url.replace(/\/+$/, '') + '/';
  const listUrl = new URL(s.path.replace(/^\/+/, ''), base);
  const location = red.url(listUrl);
  const fail = (m: string) => new Error(`source "${s.name}": ${red.text(m)}`);

  const inc = s.incremental;
  const sinceMs = inc && ctx.watermark ? timeMs(ctx.watermark) : null;
  if (inc && ctx.watermark && sinceMs === null) {
    throw fail(`stored watermark "${ctx.watermark}" is not a time; delete it to read everything again`);
  }
  let maxSeen: number | null = sinceMs;
  let maxSeenRaw: string | null = ctx.watermark;

  const search = s.hubspot_search && sinceMs !== null ? s.hubspot_search : undefined;
  /** Where the current HubSpot search query starts (epoch ms). */
  let searchFrom = sinceMs ?? 0;
  const paging = s.paging;

  function firstPage(): Page {
    if (search) {
      // The search endpoint sits beside the list endpoint: /crm/v3/objects/deals → /crm/v3/objects/deals/search.
      const url = withKey(new URL(`${listUrl.pathname.replace(/\/+$/, '')}/search`, listUrl));
      const limit = paging.type === 'cursor' && paging.limit ? Math.min(paging.limit, 200) : 100;
      return {
        url,
        method: 'POST',
        body: {
          filterGroups: [{ filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE', value: String(sinceMs) }] }],
          sorts: [{ propertyName: 'hs_lastmodifieddate', direction: 'ASCENDING' }],
          properties: s.properties ?? [],
          limit
        }
      };
    }
    const url = new URL(listUrl);
    for (const [k, v] of Object.entries(s.query ?? {})) url.searchParams.set(k, String(v));
    if (s.properties?.length) url.searchParams.set('properties', s.properties.join(','));
    if (s.soql) url.searchParams.set('q', inc && sinceMs !== null ? soqlSince(s.soql, inc.field, sinceMs) : s.soql);
    else if (inc?.param && sinceMs !== null) url.searchParams.set(inc.param, formatWatermark(sinceMs, inc.format));
    switch (paging.type) {
      case 'offset':
        url.searchParams.set(paging.offset_param, String(paging.start));
        url.searchParams.set(paging.limit_param, String(paging.limit));
        break;
      case 'page':
        url.searchParams.set(paging.page_param, String(paging.start));
        if (paging.size_param) url.searchParams.set(paging.size_param, String(paging.size));
        break;
      case 'cursor':
      case 'link_header':
        if (paging.limit_param && paging.limit) url.searchParams.set(paging.limit_param, String(paging.limit));
        break;
    }
    return { url: withKey(url), method: 'GET' };
  }

  async function request(page: Page): Promise<{ body: unknown; link: string | null }> {
    const { max_attempts, base_ms, cap_ms, timeout_ms, max_retry_after_s } = s.retry;
    const shown = `${page.method} ${red.url(page.url)}`;
    let last = '';
    for (let attempt = 1; ; attempt++) {
      const signals = [AbortSignal.timeout(timeout_ms)];
      if (ctx.signal) signals.push(ctx.signal);
      let status = 0;
      let wait: number | null = null;
      try {
        const res = await fetch(page.url, {
          method: page.method,
          headers: page.body ? { ...headers, 'content-type': 'application/json' } : headers,
          body: page.body ? JSON.stringify(page.body) : undefined,
          signal: AbortSignal.any(signals),
          redirect: 'follow'
        });
        status = res.status;
        // The timeout covers the body too: a server that stalls mid-body is retried like one that never answers.
        const text = await boundedText(res, s.max_response_bytes, () =>
          fail(`${shown} answered more than ${s.max_response_bytes.toLocaleString('en')} bytes (max_response_bytes); not retried: ask for smaller pages (paging) or raise the limit`)
        );
        if (res.ok) {
          try {
            return { body: text ? JSON.parse(text) : null, link: res.headers.get('link') };
          } catch {
            throw fail(`${shown} answered ${res.status} with a body that is not JSON (content-type ${res.headers.get('content-type') ?? 'none'}): ${text.slice(0, 120)}`);
          }
        }
        last = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
        if (res.status === 429) {
          wait = parseRetryAfter(res.headers.get('retry-after'));
          if (wait !== null && wait > max_retry_after_s * 1000) {
            throw fail(`${shown}: HTTP 429, and the server asks to wait ${Math.ceil(wait / 1000)} s (Retry-After), more than retry.max_retry_after_s = ${max_retry_after_s}`);
          }
        } else if (res.status < 500 && res.status !== 408) {
          throw fail(`${shown} failed: ${last}${text ? `: ${text.slice(0, 200)}` : ''}`);
        }
      } catch (e) {
        if (ctx.signal?.aborted) throw e;
        if (e instanceof Error && e.message.startsWith(`source "${s.name}"`)) throw e;
        const name = e instanceof Error ? e.name : '';
        const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
        last =
          name === 'TimeoutError' || name === 'AbortError'
            ? `no complete answer within ${timeout_ms} ms (retry.timeout_ms)`
            : `${red.error(e)}${red.text(cause)}`;
        status = 0;
      }
      if (attempt >= max_attempts) {
        throw fail(`${shown} failed after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${last}`);
      }
      const delay = wait ?? backoffMs(attempt, base_ms, cap_ms);
      const w = warning('request_retry', {
        request: red.text(shown),
        error: red.text(last),
        retry_after: status === 429 && wait !== null ? ' (Retry-After)' : '',
        seconds: (delay / 1000).toFixed(1),
        attempt: attempt + 1,
        max: max_attempts
      });
      ctx.events.warn(w.text, w);
      await sleep(delay, ctx.signal);
    }
  }

  function records(body: unknown, page: Page): Record<string, unknown>[] {
    const recs = getPath(body, s.records_path);
    // Some APIs answer an empty page with `"items": null`; a missing key is a wrong path.
    if (recs === null) return [];
    if (!Array.isArray(recs)) {
      const keys = body && typeof body === 'object' ? Object.keys(body).join(', ') : typeof body;
      throw fail(
        `${page.method} ${red.url(page.url)}: records_path "${s.records_path}" is not an array in the response (top-level keys: ${keys})`
      );
    }
    return recs as Record<string, unknown>[];
  }

  function next(page: Page, body: unknown, link: string | null, count: number): Page | null {
    switch (paging.type) {
      case 'none':
        return null;
      case 'offset': {
        if (count < paging.limit || count === 0) return null;
        const url = new URL(page.url);
        url.searchParams.set(paging.offset_param, String(Number(url.searchParams.get(paging.offset_param)) + count));
        return { ...page, url };
      }
      case 'page': {
        if (count === 0 || (paging.size_param && count < paging.size)) return null;
        const url = new URL(page.url);
        url.searchParams.set(paging.page_param, String(Number(url.searchParams.get(paging.page_param)) + 1));
        return { ...page, url };
      }
      case 'cursor': {
        const cursor = getPath(body, paging.cursor_path);
        if (cursor === undefined || cursor === null || cursor === '') return null;
        if (page.body) {
          if (page.body.after === cursor) throw fail(`the cursor at ${paging.cursor_path} did not advance (${String(cursor)})`);
          const limit = Number(page.body.limit);
          if (Number(cursor) + limit > HUBSPOT_SEARCH_CAP) {
            // HubSpot's search returns at most 10,000 results per query: start a new query from
            // the newest modification seen (sorted ascending, so everything before it is read).
            const from = maxSeen ?? sinceMs!;
            if (from <= searchFrom) {
              throw fail(`more than ${HUBSPOT_SEARCH_CAP} records were modified at ${new Date(from).toISOString()}; HubSpot's search cannot page past them`);
            }
            searchFrom = from;
            const w = warning('hubspot_search_cap', { cap: HUBSPOT_SEARCH_CAP, from: new Date(from).toISOString() });
            ctx.events.warn(w.text, w);
            const { after: _after, ...rest } = page.body;
            return { ...page, body: { ...rest, filterGroups: [{ filters: [{ propertyName: 'hs_lastmodifieddate', operator: 'GTE', value: String(from) }] }] } };
          }
          return { ...page, body: { ...page.body, after: cursor } };
        }
        const url = new URL(page.url);
        if (url.searchParams.get(paging.cursor_param) === String(cursor)) {
          throw fail(`the cursor at ${paging.cursor_path} did not advance (${String(cursor)})`);
        }
        url.searchParams.set(paging.cursor_param, String(cursor));
        return { ...page, url };
      }
      case 'next_url': {
        if (paging.done_path && getPath(body, paging.done_path) === true) return null;
        const nextUrl = getPath(body, paging.next_path);
        if (typeof nextUrl !== 'string' || !nextUrl) return null;
        return { method: 'GET', url: withKey(new URL(nextUrl, base)) };
      }
      case 'link_header': {
        const target = nextFromLink(link);
        return target ? { method: 'GET', url: withKey(new URL(target, page.url)) } : null;
      }
    }
  }

  let warnedWatermark = false;
  // A preset's fields may be left out of a record when empty (Salesforce and HubSpot both do for
  // some objects): they read as null rather than failing the mapping.
  const presetPaths = s.preset ? presetColumnPaths(s.preset).filter((p) => Object.values(s.columns ?? {}).includes(p)) : [];

  return {
    location,
    async headers() {
      return null;
    },
    async *batches(): AsyncIterable<RawRecord[]> {
      let page: Page | null = firstPage();
      let row = 0;
      const seen = new Set<string>();
      while (page) {
        const key = `${page.method} ${page.url} ${JSON.stringify(page.body ?? null)}`;
        if (seen.has(key)) throw fail(`paging loops: ${page.method} ${red.url(page.url)} was already read`);
        seen.add(key);
        const { body, link } = await request(page);
        const recs = records(body, page);
        const batch: RawRecord[] = [];
        for (const rec of recs) {
          row++;
          if (rec === null || typeof rec !== 'object') {
            batch.push({ row, values: { value: rec } });
            continue;
          }
          // Salesforce describes each record's type and URL under `attributes`; it is not data.
          if (s.preset === 'salesforce-query' && 'attributes' in rec) delete rec.attributes;
          for (const p of presetPaths) if (getPath(rec, p) === undefined) setNull(rec, p);
          if (inc) {
            const raw = getPath(rec, inc.field);
            const t = timeMs(raw);
            if (t !== null && (maxSeen === null || t > maxSeen)) {
              maxSeen = t;
              maxSeenRaw = new Date(t).toISOString();
            } else if (t === null && raw !== undefined && raw !== null && raw !== '' && !warnedWatermark) {
              warnedWatermark = true;
              const w = warning('watermark_not_a_time', { row, field: inc.field, value: JSON.stringify(raw) });
              ctx.events.warn(w.text, w);
            }
          }
          batch.push({ row, values: rec });
        }
        if (batch.length) yield batch;
        page = next(page, body, link, recs.length);
      }
    },
    watermark() {
      return inc ? maxSeenRaw : null;
    }
  };
}
