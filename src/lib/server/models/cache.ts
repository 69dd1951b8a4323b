/**
 * The result cache below the API (docs/decisions.md, "Hardening"): model results by a key that
 * says everything the answer depends on, for the cockpit, boards and embeds alike (they all
 * call the model API, which calls `runModelCached`).
 *
 * - **Key** (`runModelCached`): a hash of the model name, the request's parameters (with the
 *   token's locked filters, which override them), the viewer's scope (its team and owner ids),
 *   today's date in the business time zone (what a missing `as_of` means) and the whole
 *   configuration. Two viewers share an entry only when all of these are the same, i.e. when
 *   the model would run the very same query for both.
 * - **Data version**: entries belong to one `Database.writeGeneration`; any write (a sync, the
 *   demo, a facts rebuild) moves it, and the next lookup drops everything.
 * - **Single flight**: a second request for a key being computed waits for that computation
 *   (`coalesced`) instead of running the query again.
 * - **Bounded by bytes**: least recently used entries go first; one result larger than an
 *   eighth of the budget is served but not kept.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../db/database';
import type { ModelResult } from './run';

export type CacheState = 'hit' | 'miss' | 'coalesced' | 'off';

export interface CachedResult {
  result: ModelResult;
  /** The result as JSON, serialized once. */
  json: string;
  /** Approximate memory held: the JSON text and the parsed rows (≈ 3 × its length). */
  bytes: number;
}

export function cachedResult(result: ModelResult): CachedResult {
  const json = JSON.stringify(result);
  return { result, json, bytes: 3 * json.length + 512 };
}

/** A key from its parts (hashed: a compiled statement is kilobytes long). */
export function cacheKey(parts: unknown[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(JSON.stringify(p, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? 'undefined').update('\u0000');
  return h.digest('base64url');
}

export class ResultCache {
  private readonly entries = new Map<string, CachedResult>();
  private readonly inflight = new Map<string, Promise<CachedResult>>();
  private generation = -1;
  private held = 0;
  hits = 0;
  misses = 0;
  coalesced = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry for `key` in data `generation`: cached, joined in flight, or computed now. */
  async get(key: string, generation: number, compute: () => Promise<ModelResult>): Promise<{ entry: CachedResult; state: CacheState }> {
    if (generation !== this.generation) {
      this.entries.clear();
      this.held = 0;
      this.generation = generation;
    }
    const k = `${generation}:${key}`;
    const hit = this.entries.get(k);
    if (hit) {
      // Most recently used last.
      this.entries.delete(k);
      this.entries.set(k, hit);
      this.hits++;
      return { entry: hit, state: 'hit' };
    }
    const running = this.inflight.get(k);
    if (running) {
      this.coalesced++;
      return { entry: await running, state: 'coalesced' };
    }
    this.misses++;
    const p = compute().then(cachedResult);
    this.inflight.set(k, p);
    try {
      const entry = await p;
      // Kept only while its data is still current (a write during the query moved the generation).
      if (this.generation === generation && this.maxBytes > 0 && entry.bytes <= this.maxBytes / 8) this.keep(k, entry);
      return { entry, state: 'miss' };
    } finally {
      this.inflight.delete(k);
    }
  }

  private keep(k: string, entry: CachedResult) {
    this.entries.set(k, entry);
    this.held += entry.bytes;
    for (const [old, e] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(old);
      this.held -= e.bytes;
    }
  }
}

const caches = new WeakMap<Database, ResultCache>();

/** The cache of a database instance (one per process and file). */
export function cacheFor(db: Database, maxBytes: number): ResultCache {
  let c = caches.get(db);
  if (!c || c.maxBytes !== maxBytes) {
    c = new ResultCache(maxBytes);
    caches.set(db, c);
  }
  return c;
}
