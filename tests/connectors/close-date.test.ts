/**
 * Sources that keep only a deal's stage (no close-date column) must still have their wins and
 * losses counted: the loader takes closed_at from the history (when the deal entered its
 * outcome stage) or the source's last-modified time; and timestamps that carry an offset (as
 * REST APIs send them) land as wall time in the business time zone.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { runSync, wallNow } from '../../connectors/load/sync';
import { runModel } from '../../src/lib/server/models/run';
import { ALL_SCOPE } from '../../models/common/scope';

const dir = mkdtempSync(join(tmpdir(), 'close-date-'));
let db: Database;

const config = () => {
  const r = parseConfig({
    database: join(dir, 'x.duckdb'),
    timezone: 'Asia/Shanghai',
    sources: [
      {
        name: 'crm',
        type: 'csv',
        entity: 'opportunities',
        path: 'deals.csv',
        columns: { opportunity_id: 'id', stage: 'stage', amount: 'amount', owner_id: 'owner', created_at: 'created', updated_at: 'modified' }
      }
    ]
  });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
};
const sync = async (rows: string[]) => {
  writeFileSync(join(dir, 'deals.csv'), ['id,stage,amount,owner,created,modified', ...rows].join('\n'));
  const r = await runSync(db, { config: config(), baseDir: dir });
  expect(r.ok, JSON.stringify(r)).toBe(true);
  return r;
};
const deal = async (id: string) =>
  (await db.query<{ status: string; closed_at: string | null; created_at: string | null }>(
    `SELECT status, strftime(closed_at, '%Y-%m-%d %H:%M:%S') AS closed_at, strftime(created_at, '%Y-%m-%d %H:%M:%S') AS created_at FROM opportunities WHERE opportunity_id = '${id}'`
  )).rows[0];

beforeAll(async () => {
  db = await Database.open(join(dir, 'cockpit.duckdb'));
});
afterAll(async () => {
  await db?.close();
});

describe('close dates a source does not give', () => {
  it('a deal first seen won closes at the source’s last-modified time; an offset becomes Shanghai wall time', async () => {
    const r = await sync([
      // 2026-03-01T02:00:00Z is 10:00 in Shanghai (UTC+8, worked by hand).
      'A,赢单,1000,U1,2026-01-05T01:00:00Z,2026-03-01T02:00:00Z',
      'B,输单,2000,U1,2026-01-06,2026-03-02 09:00:00',
      'C,方案报价,3000,U1,2026-01-07,2026-01-07'
    ]);
    expect(await deal('A')).toEqual({ status: 'won', closed_at: '2026-03-01 10:00:00', created_at: '2026-01-05 09:00:00' });
    expect(await deal('B')).toMatchObject({ status: 'lost', closed_at: '2026-03-02 09:00:00' });
    expect(await deal('C')).toMatchObject({ status: 'open', closed_at: null });
    expect(r.sources[0].warnings.join('\n')).toContain('2 won or lost deals had no close date');
  });

  it('a deal seen open and then won closes when the sync saw it close (no later than its modified time)', async () => {
    const before = wallNow('Asia/Shanghai');
    await sync([
      'A,赢单,1000,U1,2026-01-05T01:00:00Z,2026-03-01T02:00:00Z',
      'B,输单,2000,U1,2026-01-06,2026-03-02 09:00:00',
      // C was won, and the source's modified time is empty.
      'C,赢单,3000,U1,2026-01-07,'
    ]);
    const after = wallNow('Asia/Shanghai');
    const c = await deal('C');
    expect(c.status).toBe('won');
    expect(c.closed_at! >= before && c.closed_at! <= after).toBe(true);
    // Dates already derived stay as they were.
    expect((await deal('A')).closed_at).toBe('2026-03-01 10:00:00');
  });

  it('the models count them: win_loss over all time sees two wins and a loss', async () => {
    const r = await runModel(db, config(), 'win_loss', { period: 'all', as_of: '2026-12-31' }, ALL_SCOPE);
    expect(r.rows[0]).toMatchObject({ won: 2, lost: 1, won_amount: 4000, lost_amount: 2000 });
  });
});
