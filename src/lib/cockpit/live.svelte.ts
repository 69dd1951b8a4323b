/**
 * Live data for a wall screen: a set of API URLs refreshed on an interval. A refresh swaps
 * values in place (no reload, no flicker); when the server is unreachable the last values
 * stay on screen, `offline` turns on, and the next tick tries again.
 */
import { getJson } from '$lib/api';

export class LiveData<T extends Record<string, unknown>> {
  values = $state() as T;
  offline = $state(false);
  lastOk = $state(new Date());
  refreshes = $state(0);
  private timer: ReturnType<typeof setInterval> | null = null;
  private inFlight = false;

  constructor(
    initial: T,
    private readonly urls: () => Record<keyof T, string>
  ) {
    this.values = initial;
  }

  /** Fetches every URL once; keeps old values for any that fail. */
  async refresh(fetchFn: typeof fetch = fetch): Promise<boolean> {
    if (this.inFlight) return false;
    this.inFlight = true;
    try {
      const entries = Object.entries(this.urls()) as [keyof T, string][];
      const results = await Promise.all(entries.map(([, url]) => getJson<unknown>(fetchFn, url)));
      const next = { ...this.values };
      let anyOk = false;
      results.forEach((r, i) => {
        if (r.ok) {
          next[entries[i][0]] = r.data as T[keyof T];
          anyOk = true;
        }
      });
      this.values = next;
      this.offline = !anyOk;
      if (anyOk) this.lastOk = new Date();
      this.refreshes++;
      return anyOk;
    } finally {
      this.inFlight = false;
    }
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
