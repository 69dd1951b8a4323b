/**
 * Syncs inside the server: single-flight (a second request while one runs joins it instead
 * of starting another), an optional schedule (`"sync": {"every": "15m"}`), and
 * `<db>.server.json` so the CLI finds the server that holds the database file.
 */
import type { Database } from '../../src/lib/server/db/database';
import type { CockpitConfig } from '../../src/lib/server/config/schema';
import { durationMs } from '../../src/lib/server/config/schema';
import type { SyncReport } from './sync';

export { serverFileFor, writeServerFile } from './server-file';

const KEY = Symbol.for('crm-cockpit.sync-running');
type Holder = { [KEY]?: Promise<SyncReport> | null };

/** The sync running in this process, if any. */
export function runningSync(): Promise<SyncReport> | null {
  return (globalThis as Holder)[KEY] ?? null;
}

/**
 * Starts a sync unless one runs; returns `{ joined: true }` with the running one otherwise.
 */
export function syncOnce(db: Database, config: CockpitConfig, baseDir: string, only?: string[]): { joined: boolean; report: Promise<SyncReport> } {
  const g = globalThis as Holder;
  const cur = g[KEY];
  if (cur) return { joined: true, report: cur };
  const p = import('./sync').then(({ runSync }) => runSync(db, { config, baseDir, only })).finally(() => {
    g[KEY] = null;
  });
  g[KEY] = p;
  return { joined: false, report: p };
}

/** Runs the configured schedule; returns a stop function. */
export function scheduleSyncs(db: Database, config: CockpitConfig, baseDir: string, log: (m: string) => void = console.error): () => void {
  if (!config.sync.every || config.sources.length === 0) return () => undefined;
  const every = durationMs(config.sync.every);
  const timer = setInterval(() => {
    const { joined, report } = syncOnce(db, config, baseDir);
    if (joined) return;
    report.then(
      (r) => log(`scheduled sync: ${r.ok ? 'ok' : `failed: ${r.error}`} (${r.sources.map((s) => `${s.source} +${s.loaded}/~${s.updated}/!${s.rejected}`).join(', ')})`),
      (e) => log(`scheduled sync failed: ${e instanceof Error ? e.message : e}`)
    );
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
