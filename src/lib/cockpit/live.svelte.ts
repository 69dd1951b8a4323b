/**
 * Live data for a wall screen: every query of the cockpit's pages, refreshed on an interval.
 * A refresh swaps results in place (no reload, no flicker); a query that fails keeps its last
 * result, and when none succeeds the screen shows it is offline and tries again next tick.
 * Results are held as plain (`$state.raw`) objects replaced whole, so a screen that refreshes
 * every minute for weeks does not accumulate anything.
 */
import { getJson, type Fetched, type ModelResult, type Status } from '$lib/api';
import type { BoardData } from '$lib/boards/load';

export class LiveBoards {
  pages = $state.raw<BoardData[]>([]);
  status = $state.raw<Status | null>(null);
  offline = $state(false);
  lastOk = $state(new Date());
  refreshes = $state(0);
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight: Promise<boolean> | null = null;
  private lazyInFlight = new Set<string>();

  constructor(pages: BoardData[], status: Status | null) {
    this.pages = pages;
    this.status = status;
    // Tiles streamed after the page (server rendering) and lazy tiles (a backtest) were not
    // waited for: each result lands when it arrives, unless a refresh brought a newer one.
    for (const p of pages)
      for (const [u, promise] of Object.entries(p.pending ?? {})) void promise.then((r) => this.missing(u) && this.land(u, r));
  }

  /** Fetches every query once; keeps the old result of any that fails. */
  refresh(fetchFn: typeof fetch = fetch): Promise<boolean> {
    this.inFlight ??= this.run(fetchFn).finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  /** Every URL a refresh fetches (the status included). */
  urls(): string[] {
    return [...new Set(this.pages.flatMap((p) => Object.values(p.tiles).flatMap((t) => Object.values(t)))), '/api/status'];
  }

  /** URLs of lazy tiles (not waited for by the page load): refreshed without holding up the rest. */
  private lazy(): Set<string> {
    return new Set(this.pages.flatMap((p) => p.lazy ?? []));
  }

  /** Whether a page that shows the URL has no result for it yet. */
  private missing(u: string): boolean {
    return this.pages.some((p) => !(u in p.results) && Object.values(p.tiles).some((t) => Object.values(t).includes(u)));
  }

  /** Puts a result in every page that shows its URL. */
  private land(u: string, r: Fetched<ModelResult>) {
    this.pages = this.pages.map((p) => (Object.values(p.tiles).some((t) => Object.values(t).includes(u)) ? { ...p, results: { ...p.results, [u]: r } } : p));
  }

  private async run(fetchFn: typeof fetch): Promise<boolean> {
    const lazy = this.lazy();
    // One request per lazy URL at a time (a backtest may take longer than the refresh interval).
    for (const u of lazy) {
      if (this.lazyInFlight.has(u)) continue;
      this.lazyInFlight.add(u);
      void getJson<ModelResult>(fetchFn, u)
        .then((r) => r.ok && this.land(u, r))
        .finally(() => this.lazyInFlight.delete(u));
    }
    const urls = this.urls().filter((u) => u !== '/api/status' && !lazy.has(u));
    const [results, status] = await Promise.all([
      Promise.all(urls.map((u) => getJson<ModelResult>(fetchFn, u))),
      getJson<Status>(fetchFn, '/api/status')
    ]);
    const fresh = new Map<string, Fetched<ModelResult>>();
    results.forEach((r, i) => r.ok && fresh.set(urls[i], r));
    if (status.ok) this.status = status.data;
    const anyOk = fresh.size > 0 || status.ok;
    if (fresh.size > 0) {
      this.pages = this.pages.map((p) => {
        const next: BoardData['results'] = { ...p.results };
        for (const u of Object.values(p.tiles).flatMap((t) => Object.values(t))) {
          const f = fresh.get(u);
          if (f) next[u] = f;
        }
        return { ...p, results: next };
      });
    }
    this.offline = !anyOk;
    if (anyOk) this.lastOk = new Date();
    this.refreshes++;
    return anyOk;
  }

  start(seconds: number) {
    this.stop();
    this.timer = setInterval(() => void this.refresh(), Math.max(1, seconds) * 1000);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
