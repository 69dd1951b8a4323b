/**
 * Incremental sync (docs/decisions.md, "Incremental sync", 7 Dec): a re-import writes only the
 * rows that differ from the stored ones, judges history only for them, and refreshes the derived
 * tables only for the deals and payments whose inputs changed.
 *
 * Two databases take the same random sequence of syncs at the same instants: one on the
 * incremental path, one on the former full path (`incremental: false`: every known row upserted,
 * every staged deal's history judged, every derived table rebuilt). Each round changes stages,
 * amounts, close dates and owners of some deals, a user's team, customers' regions and owners,
 * payments (also paid another day) and activities (also moved to another deal, done by someone
 * else), adds deals, drops rows from the files
 * (the sync deletes nothing: they stay as they were) and rejects a bad row. After every round:
 * - every derived table of the incremental database equals the one a full rebuild makes over
 *   its own base tables (EXCEPT ALL both ways, every row, every column);
 * - the base tables, the history (opportunity_versions) and the rejected rows are the same in
 *   both databases, and so are the derived tables.
 * One round also fails (a source file is missing): nothing of it is kept.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { runSync, type SyncReport } from '../../connectors/load/sync';
import { FACT_TABLES, refreshFacts } from '../../warehouse/facts';
import { mulberry32 } from '../../warehouse/prng';
import { stageInfos } from '../../src/lib/server/models/run';

const dir = mkdtempSync(join(tmpdir(), 'incremental-sync-'));
let inc: Database;
let ref: Database;

const STAGES = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
const REGIONS = ['上海市', '浙江省', '江苏省', '广东省', '北京市'];
const N_DEALS = 800;
const N_CUSTOMERS = 250;
const N_USERS = 40;

const rand = mulberry32(20261207);
const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
const int = (n: number) => Math.floor(rand() * n);
const day = (d: number) => new Date(Date.UTC(2025, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);

interface Deal { id: string; customer: string; owner: string; stage: string; amount: number; close: string; created: string; product: string }
const users = Array.from({ length: N_USERS }, (_, i) => ({ id: `U${i}`, name: `销售${i}`, team: `T${i % 7}` }));
const customers = Array.from({ length: N_CUSTOMERS }, (_, i) => ({ id: `C${i}`, name: `客户${i}`, region: pick(REGIONS), owner: `U${i % N_USERS}` }));
const newDeal = (i: number): Deal => ({
  id: `D${i}`,
  customer: `C${int(N_CUSTOMERS)}`,
  owner: `U${int(N_USERS)}`,
  stage: pick(STAGES),
  amount: 1000 + int(90000),
  close: day(200 + int(400)),
  created: day(int(200)),
  product: pick(['P1', 'P2', 'P3'])
});
const deals = Array.from({ length: N_DEALS }, (_, i) => newDeal(i));
let payments = Array.from({ length: 300 }, (_, i) => ({ id: `P${i}`, deal: i % 5 === 0 ? '' : `D${int(N_DEALS)}`, customer: i % 5 === 0 ? `C${int(N_CUSTOMERS)}` : '', amount: 100 + int(5000), paid: day(100 + int(500)) }));
let activities = Array.from({ length: 400 }, (_, i) => ({ id: `A${i}`, deal: i % 3 === 0 ? '' : `D${int(N_DEALS)}`, customer: `C${int(N_CUSTOMERS)}`, owner: `U${int(N_USERS)}`, at: `${day(int(600))} 10:00:00` }));
let dropped = new Set<string>();

function writeFiles(round: number) {
  const csv = (name: string, header: string, rows: (string | number)[][]) => writeFileSync(join(dir, name), [header, ...rows.map((r) => r.join(','))].join('\n') + '\n');
  csv('users.csv', 'id,name,team', users.map((u) => [u.id, u.name, u.team]));
  csv('customers.csv', 'id,name,region,owner', customers.map((c) => [c.id, c.name, c.region, c.owner]));
  const rows = deals.filter((d) => !dropped.has(d.id)).map((d) => [d.id, `商机${d.id}`, d.customer, d.owner, d.stage, d.amount, d.close, d.created, d.product]);
  // One bad amount per round: rejected, reported, the stored deal left as it was.
  rows.splice(int(rows.length), 0, [`D${int(N_DEALS)}`, 'bad', 'C1', 'U1', '初步接洽', `abc${round}`, day(300), day(1), 'P1']);
  csv('deals.csv', 'id,name,customer,owner,stage,amount,close,created,product', rows);
  csv('payments.csv', 'id,deal,customer,amount,paid', payments.map((p) => [p.id, p.deal, p.customer, p.amount, p.paid]));
  csv('activities.csv', 'id,deal,customer,owner,at', activities.map((a) => [a.id, a.deal, a.customer, a.owner, a.at]));
}

function config(extra: object[] = []) {
  const r = parseConfig(
    {
      timezone: 'Asia/Shanghai',
      sources: [
        { name: 'users', type: 'csv', entity: 'users', path: 'users.csv', columns: { user_id: 'id', name: 'name', team_id: 'team' } },
        { name: 'customers', type: 'csv', entity: 'customers', path: 'customers.csv', columns: { customer_id: 'id', name: 'name', region: 'region', owner_id: 'owner' } },
        {
          name: 'deals',
          type: 'csv',
          entity: 'opportunities',
          path: 'deals.csv',
          columns: { opportunity_id: 'id', name: 'name', customer_id: 'customer', owner_id: 'owner', stage: 'stage', amount: 'amount', expected_close_date: 'close', created_at: 'created', product: 'product' }
        },
        { name: 'payments', type: 'csv', entity: 'payments', path: 'payments.csv', columns: { payment_id: 'id', opportunity_id: 'deal', customer_id: 'customer', amount: 'amount', paid_at: 'paid' } },
        { name: 'activities', type: 'csv', entity: 'activities', path: 'activities.csv', columns: { activity_id: 'id', opportunity_id: 'deal', customer_id: 'customer', owner_id: 'owner', occurred_at: 'at' } },
        ...extra
      ]
    },
    null,
    dir
  );
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

/** One round of random changes to the source files' contents. */
function mutate() {
  for (let k = 0; k < 12; k++) {
    const d = deals[int(deals.length)];
    const what = int(5);
    if (what === 0) d.stage = pick(STAGES);
    else if (what === 1) d.amount = 1000 + int(90000);
    else if (what === 2) d.close = day(200 + int(400));
    else if (what === 3) d.owner = `U${int(N_USERS)}`;
    else d.customer = `C${int(N_CUSTOMERS)}`;
  }
  for (let k = 0; k < 5; k++) deals.push(newDeal(deals.length));
  // Rows dropped from the file (and one brought back).
  dropped = new Set(Array.from({ length: 6 }, () => `D${int(deals.length)}`));
  pick(users).team = `T${int(7)}`;
  for (let k = 0; k < 3; k++) {
    const c = customers[int(customers.length)];
    if (rand() < 0.5) c.region = pick(REGIONS);
    else c.owner = `U${int(N_USERS)}`;
  }
  for (let k = 0; k < 6; k++) {
    const p = payments[int(payments.length)];
    p.amount = 100 + int(5000);
    if (rand() < 0.3) p.deal = `D${int(N_DEALS)}`;
    // another paid day: the day rollup's old and new rows (payment_day_facts)
    if (rand() < 0.3) p.paid = day(100 + int(500));
  }
  payments = [...payments, { id: `P${payments.length}`, deal: `D${int(N_DEALS)}`, customer: '', amount: 777, paid: day(400) }];
  for (let k = 0; k < 6; k++) {
    const a = activities[int(activities.length)];
    a.at = `${day(int(600))} 15:00:00`;
    if (rand() < 0.5) a.deal = rand() < 0.3 ? '' : `D${int(N_DEALS)}`;
    // another author: both authors' follow-ups per day change (activity_day_facts)
    if (rand() < 0.3) a.owner = `U${int(N_USERS)}`;
  }
  activities = [...activities, { id: `A${activities.length}`, deal: '', customer: `C${int(N_CUSTOMERS)}`, owner: `U${int(N_USERS)}`, at: `${day(590)} 09:00:00` }];
}

const BASE = ['opportunities', 'opportunity_versions', 'customers', 'users', 'teams', 'payments', 'activities'];

async function rowsOf(db: Database, table: string, cols = '*'): Promise<string[]> {
  const { rows } = await db.query(`SELECT ${cols} FROM ${table}`);
  return rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort();
}

/** Rows of each derived table that a full rebuild over the same base tables does not make, and the reverse. */
async function diffWithFullRebuild(db: Database): Promise<Record<string, [number, number, number]>> {
  const out: Record<string, [number, number, number]> = {};
  const rollback = new Error('rollback');
  await db
    .write(
      async (tx) => {
        for (const t of FACT_TABLES) await tx.run(`CREATE TEMP TABLE inc_${t} AS SELECT * FROM main.${t}`);
        await refreshFacts(tx, stageInfos(config()));
        for (const t of FACT_TABLES) {
          const { rows } = await tx.query<{ a: number; b: number; n: number }>(
            `SELECT (SELECT count(*) FROM (SELECT * FROM temp.inc_${t} EXCEPT ALL SELECT * FROM main.${t}))::INTEGER AS a,
                    (SELECT count(*) FROM (SELECT * FROM main.${t} EXCEPT ALL SELECT * FROM temp.inc_${t}))::INTEGER AS b,
                    (SELECT count(*) FROM main.${t})::INTEGER AS n`
          );
          out[t] = [rows[0].a, rows[0].b, rows[0].n];
        }
        throw rollback;
      },
      { derived: true }
    )
    .catch((e) => {
      if (e !== rollback) throw e;
    });
  return out;
}

const at = (round: number) => new Date(Date.UTC(2026, 10, 1 + round, 2, 30));

async function syncBoth(round: number, extra: object[] = []): Promise<{ a: SyncReport; b: SyncReport; log: string[] }> {
  const log: string[] = [];
  const a = await runSync(inc, { config: config(extra), baseDir: dir, now: at(round), log: (m) => log.push(m) });
  const b = await runSync(ref, { config: config(extra), baseDir: dir, now: at(round), incremental: false });
  return { a, b, log };
}

async function expectSame() {
  for (const t of BASE) expect(await rowsOf(inc, t), t).toEqual(await rowsOf(ref, t));
  const rej = 'source, file, row_number, field, value, reason, raw, sheet, column_name, reason_code, reason_params';
  expect(await rowsOf(inc, 'rejected_rows', rej)).toEqual(await rowsOf(ref, 'rejected_rows', rej));
  for (const t of FACT_TABLES) expect(await rowsOf(inc, t), t).toEqual(await rowsOf(ref, t));
}

beforeAll(async () => {
  inc = await Database.open(join(dir, 'inc.duckdb'));
  ref = await Database.open(join(dir, 'ref.duckdb'));
  writeFiles(0);
  const { a, b } = await syncBoth(0);
  expect(a.ok, a.error ?? '').toBe(true);
  expect(b.ok, b.error ?? '').toBe(true);
}, 120_000);

afterAll(async () => {
  await inc?.close();
  await ref?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('incremental sync equals the full path', () => {
  it('after the first import, both databases hold the same rows', async () => {
    await expectSame();
  }, 60_000);

  it('re-importing unchanged files writes no row, no version, and refreshes no derived row', async () => {
    const versions = (await inc.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM opportunity_versions`)).rows[0].n;
    const { a, b, log } = await syncBoth(1);
    expect(a.ok && b.ok, a.error ?? b.error ?? '').toBe(true);
    expect(log.join('\n')).toContain('derived tables: 0 of');
    expect((await inc.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM opportunity_versions`)).rows[0].n).toBe(versions);
    // The report still counts every row of the file as loaded or updated, as before.
    expect(a.sources.map((s) => [s.source, s.loaded, s.updated, s.rejected])).toEqual(b.sources.map((s) => [s.source, s.loaded, s.updated, s.rejected]));
    await expectSame();
  }, 120_000);

  for (let round = 2; round <= 4; round++) {
    it(`round ${round}: random changes; every derived table equals a full rebuild, history equals the full path`, async () => {
      mutate();
      writeFiles(round);
      const { a, b, log } = await syncBoth(round);
      expect(a.ok, a.error ?? '').toBe(true);
      expect(b.ok, b.error ?? '').toBe(true);
      expect(log.join('\n')).toMatch(/derived tables: [\d,]+ of [\d,]+ deals changed → incremental refresh/);
      expect(a.sources.map((s) => [s.source, s.loaded, s.updated, s.rejected, s.warnings])).toEqual(b.sources.map((s) => [s.source, s.loaded, s.updated, s.rejected, s.warnings]));
      expect(a.sources.find((s) => s.source === 'deals')!.rejected).toBe(1);
      const diff = await diffWithFullRebuild(inc);
      for (const t of FACT_TABLES) {
        expect(diff[t][0], `${t}: rows only the incremental refresh has`).toBe(0);
        expect(diff[t][1], `${t}: rows only the full rebuild has`).toBe(0);
        expect(diff[t][2], `${t} is not empty`).toBeGreaterThan(0);
      }
      await expectSame();
    }, 180_000);
  }

  it('a failed sync leaves the data and the derived tables as they were', async () => {
    const before = await Promise.all([...BASE, ...FACT_TABLES].map((t) => rowsOf(inc, t)));
    mutate();
    writeFiles(8);
    const r = await runSync(inc, { config: config([{ name: 'gone', type: 'csv', entity: 'payments', path: 'missing.csv' }]), baseDir: dir, now: at(8) });
    expect(r.ok).toBe(false);
    expect(await Promise.all([...BASE, ...FACT_TABLES].map((t) => rowsOf(inc, t)))).toEqual(before);
    // The next sync starts from the rebuilt-after-failure state (the failure's own record bumped
    // the data version): the facts are rebuilt fully, and still equal a full rebuild.
    const { a, b, log } = await syncBoth(9);
    expect(a.ok && b.ok, a.error ?? b.error ?? '').toBe(true);
    expect(log.join('\n')).toContain('derived tables: not fresh before this sync → full rebuild');
    const diff = await diffWithFullRebuild(inc);
    for (const t of FACT_TABLES) expect(diff[t].slice(0, 2), t).toEqual([0, 0]);
    await expectSame();
  }, 180_000);
});
