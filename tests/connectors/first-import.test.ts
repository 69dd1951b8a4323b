/**
 * A first import appends (connectors/load/sync.ts, docs/decisions.md "First import", issue 15.1):
 * a table slice that holds nothing yet takes its rows as they are, without marking them against
 * the stored table, and its deals' history without the comparison with stored versions. The
 * general path (`emptyFastPath: false`) must end in exactly the same database.
 *
 * Two databases import the same random files at the same instant, one each way: users,
 * customers, two deal sources sharing some ids (the later one wins, so its known ids take the
 * general path in both), duplicate ids within a source, stage dates (several versions per
 * deal), won and lost deals without a close date (derived), payments, activities and one rejected
 * row; landed in slices of 37 keys. Every base table, the history, the rejected rows, the report
 * and every derived table are compared row by row. A second import of changed files into both
 * (nothing empty any more: the general path everywhere) must agree too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { runSync, type SyncReport } from '../../connectors/load/sync';
import { FACT_TABLES } from '../../warehouse/facts';
import { mulberry32 } from '../../warehouse/prng';

const dir = mkdtempSync(join(tmpdir(), 'first-import-'));
let fast: Database;
let general: Database;

const STAGES = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
const rand = mulberry32(15107);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T,>(xs: T[]) => xs[int(xs.length)];
const day = (d: number) => new Date(Date.UTC(2025, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);

function writeFiles(round: number) {
  const csv = (name: string, header: string, rows: (string | number)[][]) => writeFileSync(join(dir, name), [header, ...rows.map((r) => r.join(','))].join('\n') + '\n');
  csv('users.csv', 'id,name,team', Array.from({ length: 20 }, (_, i) => [`U${i}`, `销售${i}`, `T${(i + round) % 4}`]));
  csv('customers.csv', 'id,name,region', Array.from({ length: 60 }, (_, i) => [`C${i}`, `客户${i}`, pick(['上海市', '浙江省', '江苏省'])]));
  const deal = (i: number) => {
    const created = int(200);
    // Some deals have no close date: a won or lost one then gets one derived.
    const close = rand() < 0.3 ? '' : day(200 + int(300));
    return [`D${i}`, `商机${i}`, `C${int(70)}`, `U${int(24)}`, pick(STAGES), rand() < 0.05 ? `abc${i}` : 1000 + int(90000), close, day(created), rand() < 0.5 ? day(created + 5 + int(40)) : '', pick(['P1', 'P2'])];
  };
  const a = Array.from({ length: 300 + 20 * round }, (_, i) => deal(i));
  // Duplicate ids within the source (the last row wins).
  a.push(deal(3), deal(17));
  csv('deals_a.csv', 'id,name,customer,owner,stage,amount,close,created,quoted,product', a);
  // A second deal source: some ids of the first (it wins for them), some of its own.
  csv('deals_b.csv', 'id,name,customer,owner,stage,amount,close,created,quoted,product', [...Array.from({ length: 40 }, (_, i) => deal(i * 7)), ...Array.from({ length: 30 }, (_, i) => deal(1000 + i))]);
  csv('payments.csv', 'id,deal,amount,paid', Array.from({ length: 120 }, (_, i) => [`P${i}`, `D${int(300)}`, 100 + int(5000), day(100 + int(400))]));
  csv('activities.csv', 'id,deal,customer,owner,at', Array.from({ length: 150 }, (_, i) => [`A${i}`, i % 3 === 0 ? '' : `D${int(300)}`, `C${int(60)}`, `U${int(20)}`, `${day(int(500))} 10:00:00`]));
}

function config() {
  const deals = (name: string, path: string) => ({
    name,
    type: 'csv',
    entity: 'opportunities',
    path,
    columns: { opportunity_id: 'id', name: 'name', customer_id: 'customer', owner_id: 'owner', stage: 'stage', amount: 'amount', closed_at: 'close', created_at: 'created', product: 'product' },
    stage_dates: { 方案报价: 'quoted' }
  });
  const r = parseConfig(
    {
      timezone: 'Asia/Shanghai',
      sources: [
        { name: 'users', type: 'csv', entity: 'users', path: 'users.csv', columns: { user_id: 'id', name: 'name', team_id: 'team' } },
        { name: 'customers', type: 'csv', entity: 'customers', path: 'customers.csv', columns: { customer_id: 'id', name: 'name', region: 'region' } },
        deals('deals_a', 'deals_a.csv'),
        deals('deals_b', 'deals_b.csv'),
        { name: 'payments', type: 'csv', entity: 'payments', path: 'payments.csv', columns: { payment_id: 'id', opportunity_id: 'deal', amount: 'amount', paid_at: 'paid' } },
        { name: 'activities', type: 'csv', entity: 'activities', path: 'activities.csv', columns: { activity_id: 'id', opportunity_id: 'deal', customer_id: 'customer', owner_id: 'owner', occurred_at: 'at' } }
      ]
    },
    null,
    dir
  );
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

const TABLES = ['opportunities', 'opportunity_versions', 'customers', 'users', 'teams', 'payments', 'activities', ...FACT_TABLES];

async function rowsOf(db: Database, table: string, cols = '*'): Promise<string[]> {
  const { rows } = await db.query(`SELECT ${cols} FROM ${table}`);
  return rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort();
}

const at = (round: number) => new Date(Date.UTC(2026, 10, 1 + round, 2, 30));
const reportOf = (r: SyncReport) => [r.merges, r.stubs, r.sources.map((s) => [s.source, s.rows, s.loaded, s.updated, s.rejected, s.skipped, s.skipped_by, s.warnings])];

async function importBoth(round: number): Promise<{ a: SyncReport; b: SyncReport; log: string[] }> {
  const log: string[] = [];
  const saved = process.env.COCKPIT_SYNC_SLICE_KEYS;
  process.env.COCKPIT_SYNC_SLICE_KEYS = '37';
  try {
    const a = await runSync(fast, { config: config(), baseDir: dir, now: at(round), log: (m) => log.push(m) });
    const b = await runSync(general, { config: config(), baseDir: dir, now: at(round), emptyFastPath: false });
    return { a, b, log };
  } finally {
    if (saved === undefined) delete process.env.COCKPIT_SYNC_SLICE_KEYS;
    else process.env.COCKPIT_SYNC_SLICE_KEYS = saved;
  }
}

async function expectSame() {
  for (const t of TABLES) expect(await rowsOf(fast, t), t).toEqual(await rowsOf(general, t));
  const rej = 'source, file, row_number, field, value, reason, raw, sheet, column_name, reason_code, reason_params';
  expect(await rowsOf(fast, 'rejected_rows', rej)).toEqual(await rowsOf(general, 'rejected_rows', rej));
}

beforeAll(async () => {
  fast = await Database.open(join(dir, 'fast.duckdb'));
  general = await Database.open(join(dir, 'general.duckdb'));
}, 60_000);

afterAll(async () => {
  await fast?.close();
  await general?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a first import appended as it is equals the general path', () => {
  it('first import: same rows, history, rejections, report and derived tables', async () => {
    writeFiles(0);
    const { a, b, log } = await importBoth(0);
    expect(a.ok, a.error ?? '').toBe(true);
    expect(b.ok, b.error ?? '').toBe(true);
    // The fast path was taken (for each slice of the first deal source), the general one for the second source's known ids.
    expect(log.filter((m) => m.includes('deals_a: slice') && m.includes('appended: nothing stored yet')).length).toBeGreaterThan(1);
    expect(log.some((m) => m.includes('deals_b: slice') && !m.includes('appended'))).toBe(true);
    expect(reportOf(a)).toEqual(reportOf(b));
    // The files hold what the comparison needs: several versions per deal, derived close dates, rejections.
    const n = async (q: string) => (await fast.query<{ n: number }>(q)).rows[0].n;
    expect(await n(`SELECT count(*)::INTEGER AS n FROM opportunity_versions WHERE origin = 'stage_dates'`)).toBeGreaterThan(20);
    expect(a.sources.find((s) => s.source === 'deals_a')!.rejected).toBeGreaterThan(0);
    expect(a.sources.find((s) => s.source === 'deals_a')!.skipped_by.duplicate).toBeGreaterThan(0);
    expect(a.sources.find((s) => s.source === 'deals_a')!.warnings.join('\n')).toMatch(/close date/i);
    await expectSame();
  }, 120_000);

  it('a second import of changed files (nothing empty: the general path in both) agrees too', async () => {
    writeFiles(1);
    const { a, b, log } = await importBoth(1);
    expect(a.ok && b.ok, a.error ?? b.error ?? '').toBe(true);
    expect(log.some((m) => m.includes('appended'))).toBe(false);
    expect(reportOf(a)).toEqual(reportOf(b));
    await expectSame();
  }, 120_000);
});
