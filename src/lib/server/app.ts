/**
 * The server's shared context: configuration and the database, loaded once per process.
 * `COCKPIT_CONFIG` names the config file (default ./cockpit.config.json if present) and
 * `COCKPIT_DB` overrides its database path; `cockpit serve` sets both.
 */
import { loadConfig } from './config/load';
import type { CockpitConfig } from './config/schema';
import { openDatabase, type Database } from './db/database';

export interface AppContext {
  config: CockpitConfig;
  db: Database;
  /** Directory of the config file (relative source paths resolve against it). */
  dir: string;
}

const KEY = Symbol.for('crm-cockpit.app');
type Holder = { [KEY]?: Promise<AppContext> };

async function create(): Promise<AppContext> {
  const r = loadConfig();
  if (!r.ok) throw new Error(`invalid configuration${r.path ? ` (${r.path})` : ''}: ${r.issues.join('; ')}`);
  const config = r.config;
  if (process.env.COCKPIT_DB) config.database = process.env.COCKPIT_DB;
  const db = await openDatabase(config.database);
  return { config, db, dir: r.dir };
}

/** The process-wide context (config + database). */
export function app(): Promise<AppContext> {
  const g = globalThis as Holder;
  if (!g[KEY]) {
    g[KEY] = create();
    g[KEY].catch(() => delete g[KEY]);
  }
  return g[KEY];
}
