import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../lib/server/config/load';
import type { CockpitConfig } from '../lib/server/config/schema';
import type { Database } from '../lib/server/db/database';

export interface Command {
  name: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

/** An error to report as `cockpit <command>: <message>` with an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1
  ) {
    super(message);
  }
}

export const COMMON_OPTIONS = {
  config: { type: 'string' },
  db: { type: 'string' },
  help: { type: 'boolean' }
} as const satisfies ParseArgsConfig['options'];

/** Strict argument parsing: an unknown option is an error that names it. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, allowPositionals = false) {
  return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, strict: true, allowPositionals });
}

/** Loads the configuration or throws a CliError listing every problem. */
export function configFrom(values: { config?: string; db?: string }): CockpitConfig {
  const r = loadConfig(values.config);
  if (!r.ok) {
    throw new CliError(`invalid configuration${r.path ? ` (${r.path})` : ''}:\n  ${r.issues.join('\n  ')}`, 2);
  }
  const cfg = r.config;
  const db = values.db ?? process.env.COCKPIT_DB;
  if (db) cfg.database = db;
  return cfg;
}

export async function databaseFor(cfg: CockpitConfig): Promise<Database> {
  // Imported here, not at the top: commands that never open the database start faster.
  const { openDatabase } = await import('../lib/server/db/database');
  try {
    return await openDatabase(cfg.database);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}
