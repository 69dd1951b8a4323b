/**
 * An import run twice, once through the SQL ingest path and once through the JS row path, and
 * the two results compared table by table (tests/connectors/csv-sql.test.ts, xlsx-sql.test.ts).
 */
import { expect, vi } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { runSync, type SyncReport } from '../../connectors/load/sync';

/** What both paths must write alike: canonical tables, history, rejected rows and the run record. */
export const TABLE_QUERIES: Record<string, string> = {
  opportunities: `SELECT * EXCLUDE (attributes), attributes::VARCHAR AS attributes FROM opportunities ORDER BY opportunity_id`,
  customers: `SELECT * EXCLUDE (attributes), attributes::VARCHAR AS attributes FROM customers ORDER BY customer_id`,
  users: `SELECT * FROM users ORDER BY user_id`,
  teams: `SELECT * FROM teams ORDER BY team_id`,
  opportunity_versions: `SELECT * FROM opportunity_versions ORDER BY opportunity_id, valid_from, stage`,
  rejected_rows: `SELECT file, row_number, field, value, reason, raw::VARCHAR AS raw, sheet, column_name, reason_code, reason_params::VARCHAR AS params FROM rejected_rows ORDER BY sheet, row_number, field`,
  sync_runs: `SELECT * EXCLUDE (run_id, started_at, finished_at, warnings), warnings::VARCHAR AS warnings FROM sync_runs ORDER BY source`
};

export type Imported = { report: SyncReport; tables: Record<string, unknown[]> };

/**
 * Imports `config` (parseConfig's input) into a new database file, with `envVar` forcing the JS
 * path or left unset for the SQL path, at a fixed wall time (a deal without a creation date
 * enters its stage "now"), and reads back every table of TABLE_QUERIES.
 */
export async function importOnce(o: { config: unknown; dbFile: string; baseDir: string; envVar: 'COCKPIT_CSV_PATH' | 'COCKPIT_XLSX_PATH'; path: 'sql' | 'js' }): Promise<Imported> {
  const r = parseConfig(o.config);
  if (!r.ok) throw new Error(r.issues.join('\n'));
  const db = await Database.open(o.dbFile);
  const before = process.env[o.envVar];
  if (o.path === 'js') process.env[o.envVar] = 'js';
  else delete process.env[o.envVar];
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-12-01T04:00:00Z'));
  try {
    const report = await runSync(db, { config: r.config, baseDir: o.baseDir, kind: 'import' });
    const tables: Record<string, unknown[]> = {};
    for (const [t, q] of Object.entries(TABLE_QUERIES)) tables[t] = (await db.query(q)).rows.map((x) => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v))));
    return { report, tables };
  } finally {
    vi.useRealTimers();
    if (before === undefined) delete process.env[o.envVar];
    else process.env[o.envVar] = before;
    await db.close();
  }
}

/** `b` (the SQL path, which must report `path` as the way it ran) wrote what `a` (the JS path) wrote. */
export function expectSameImport(a: Imported, b: Imported, path: string): void {
  expect(a.report.sources[0].ingest?.path).toBeUndefined();
  expect(b.report.sources[0].ingest?.path, JSON.stringify(b.report.sources[0].ingest)).toBe(path);
  expect(b.report.ok).toBe(a.report.ok);
  expect(b.report.error).toBe(a.report.error);
  const pick = (s: SyncReport['sources'][number]) => ({ ...s, run_id: null, ms: null, ingest: null });
  expect(pick(b.report.sources[0])).toEqual(pick(a.report.sources[0]));
  expect(b.report.merges).toEqual(a.report.merges);
  expect(b.report.stubs).toEqual(a.report.stubs);
  for (const t of Object.keys(TABLE_QUERIES)) expect([t, b.tables[t]]).toEqual([t, a.tables[t]]);
}
