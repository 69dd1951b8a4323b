/**
 * The memo of raw rows (connectors/load/sync-memo.ts; docs/decisions.md, "Re-import: unchanged
 * raw rows recognised before cleaning"): a re-import of a CSV file of deals cleans and stages
 * only the rows whose raw cells are new.
 *
 * Two databases take the same sequence of imports of one deals file at the same instants: `inc`
 * on the default path (incremental, with the memo), `ref` on the former full path
 * (`incremental: false`: no memo, every row cleaned and upserted, every derived table rebuilt).
 * After every step every table — deals, customers, users, teams, history, rejected rows and
 * every derived table — and the sync report (counts, warnings, rejections, merges) are the same
 * in both. Each step says how many rows the memo recognised, counted here from the files' lines.
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

const dir = mkdtempSync(join(tmpdir(), 'sync-memo-'));
let inc: Database;
let ref: Database;

const STAGES = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
const REGIONS = ['上海市', '浙江省', '江苏省', '广东省', '北京市'];
const N = 600;
const rand = mulberry32(20261207);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T,>(xs: T[]) => xs[int(xs.length)];
const day = (d: number) => new Date(Date.UTC(2025, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);

const HEADER = ['编号', '名称', '客户', '地区', '电话', '负责人', '团队', '阶段', '金额', '预计成交', '创建日期', '产品', '备注'];
type Row = string[];
function deal(i: number): Row {
  const c = int(150);
  const o = int(12);
  return [
    `D${i}`,
    `商机${i}`,
    `客户${c}`,
    // A customer's region and an owner's team vary between rows: the last row wins.
    rand() < 0.9 ? REGIONS[c % 5] : pick(REGIONS),
    c % 4 === 0 ? `1380000${String(c).padStart(4, '0')}` : '',
    `U${o}`,
    rand() < 0.95 ? `T${o % 4}` : `T${int(4)}`,
    pick(STAGES),
    // Some amounts in forms only the JS parser reads (a dictionary in the SQL path).
    rand() < 0.05 ? `${1 + int(90)}.5万` : String(1000 + int(90000)),
    rand() < 0.1 ? '' : day(200 + int(400)),
    day(int(200)),
    pick(['P1', 'P2', 'P3']),
    rand() < 0.1 ? `note ${i}` : ''
  ];
}
let rows: Row[] = Array.from({ length: N }, (_, i) => deal(i));
let nextId = N;
const BAD: Row = ['DX', '坏行', '客户1', '上海市', '', 'U1', 'T1', '初步接洽', 'abc', day(300), day(1), 'P1', ''];
const SUM: Row = ['合计', '', '', '', '', '', '', '', '123456', '', '', '', ''];
let above: string[] = [];

/** Lines of the file (the rejected row in the middle, a summary row at the end: both read by the JS pipeline). */
function lines(): string[] {
  const body = rows.map((r) => r.join(','));
  body.splice(Math.floor(body.length / 2), 0, BAD.join(','));
  return [...above, HEADER.join(','), ...body, SUM.join(',')];
}
let previous: Set<string> = new Set();
/** Rows of the file identical to an accepted row of the last file (counted here, not by the code). */
let expectedHits = 0;
function write() {
  const ls = lines();
  const data = new Set(rows.map((r) => r.join(',')));
  expectedHits = rows.filter((r) => previous.has(r.join(','))).length;
  previous = data;
  writeFileSync(join(dir, 'deals.csv'), ls.join('\n') + '\n');
}

let mapProduct = true;
function config(extra: object[] = []) {
  const columns: Record<string, string> = {
    opportunity_id: '编号',
    name: '名称',
    customer_name: '客户',
    customer_region: '地区',
    customer_phone: '电话',
    owner_id: '负责人',
    owner_team: '团队',
    stage: '阶段',
    amount: '金额',
    expected_close_date: '预计成交',
    created_at: '创建日期'
  };
  // The mapping change: the product read from another column.
  columns.product = mapProduct ? '产品' : '备注';
  const r = parseConfig({ timezone: 'Asia/Shanghai', sources: [{ name: 'deals', type: 'csv', entity: 'opportunities', path: 'deals.csv', columns }, ...extra] }, null, dir);
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

const at = (step: number) => new Date(Date.UTC(2026, 10, 1 + step, 2, 30));

/** The report as a user reads it (run ids and times aside). */
const reportOf = (r: SyncReport) => ({
  ok: r.ok,
  merges: r.merges,
  stubs: r.stubs,
  sources: r.sources.map((s) => ({ ...s, run_id: undefined, ms: undefined, location: undefined }))
});

async function importBoth(step: number, opts: { only?: string[]; extra?: object[] } = {}): Promise<{ a: SyncReport; b: SyncReport; log: string; hits: number | null }> {
  const log: string[] = [];
  const a = await runSync(inc, { config: config(opts.extra), baseDir: dir, now: at(step), log: (m) => log.push(m), only: opts.only });
  const b = await runSync(ref, { config: config(opts.extra), baseDir: dir, now: at(step), incremental: false, only: opts.only });
  const m = /deals: ([\d,]+) of [\d,]+ rows unchanged since the last sync/.exec(log.join('\n'));
  return { a, b, log: log.join('\n'), hits: m ? Number(m[1].replace(/,/g, '')) : null };
}

const TABLES = ['opportunities', 'opportunity_versions', 'customers', 'users', 'teams', 'payments', 'activities', ...FACT_TABLES];
async function rowsOf(db: Database, table: string, cols = '*'): Promise<string[]> {
  const { rows: rs } = await db.query(`SELECT ${cols} FROM ${table}`);
  return rs.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort();
}
async function expectSame(a: SyncReport, b: SyncReport) {
  expect(a.ok, a.error ?? '').toBe(true);
  expect(b.ok, b.error ?? '').toBe(true);
  expect(reportOf(a)).toEqual(reportOf(b));
  for (const t of TABLES) expect(await rowsOf(inc, t), t).toEqual(await rowsOf(ref, t));
  const rej = 'source, file, row_number, field, value, reason, raw, sheet, column_name, reason_code, reason_params';
  expect(await rowsOf(inc, 'rejected_rows', rej)).toEqual(await rowsOf(ref, 'rejected_rows', rej));
  const runs = 'source, kind, status, rows_loaded, rows_updated, rows_rejected, rows_skipped, warnings::VARCHAR AS w, error';
  expect(await rowsOf(inc, 'sync_runs', runs)).toEqual(await rowsOf(ref, 'sync_runs', runs));
}
const memoRows = async () => (await inc.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM sync_memo WHERE source = 'deals'`)).rows[0].n;

/** 1% of the rows changed in place (stage, amount, region, team, owner, customer), three added, three gone. */
function changeSome() {
  for (let k = 0; k < rows.length / 100; k++) {
    const r = rows[int(rows.length)];
    const what = int(6);
    if (what === 0) r[7] = pick(STAGES);
    else if (what === 1) r[8] = String(1000 + int(90000));
    else if (what === 2) r[3] = pick(REGIONS);
    else if (what === 3) r[6] = `T${int(4)}`;
    else if (what === 4) r[5] = `U${int(12)}`;
    else {
      const c = int(150);
      r[2] = `客户${c}`;
      r[4] = c % 4 === 0 ? `1380000${String(c).padStart(4, '0')}` : '';
    }
  }
  for (let k = 0; k < 3; k++) rows.splice(int(rows.length), 1);
  for (let k = 0; k < 3; k++) rows.push(deal(nextId++));
}

beforeAll(async () => {
  inc = await Database.open(join(dir, 'inc.duckdb'));
  ref = await Database.open(join(dir, 'ref.duckdb'));
}, 60_000);

afterAll(async () => {
  await inc?.close();
  await ref?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('re-import with the memo of raw rows equals the full path', () => {
  it('first import: the same tables; the memo holds every row SQL accepted', async () => {
    write();
    const { a, b, hits } = await importBoth(0);
    await expectSame(a, b);
    expect(hits).toBe(0);
    // Every deal row but the rejected one and the summary row (both taken by the JS pipeline), and
    // amounts like `3.5万` are read by SQL through a dictionary: every one of the N rows.
    expect(await memoRows()).toBe(N);
    expect(a.sources[0].rejected).toBe(1);
  }, 120_000);

  it('1% of the rows changed, three added, three gone: only those cleaned; tables, history, facts and report equal the full path', async () => {
    changeSome();
    write();
    const { a, b, hits, log } = await importBoth(1);
    expect(expectedHits).toBeGreaterThan(N * 0.97);
    expect(hits).toBe(expectedHits);
    expect(log).toMatch(/derived tables: [\d,]+ of [\d,]+ deals changed → incremental refresh/);
    await expectSame(a, b);
    expect(a.sources[0].rejections.map((r) => [r.row, r.field, r.value])).toEqual([[2 + Math.floor(N / 2), 'amount', 'abc']]);
    expect(await memoRows()).toBe(rows.length);
  }, 120_000);

  it('rows gone from the file whose customer or owner values were the last ones: recomputed as the full path does', async () => {
    // The last row of a customer and of an owner, each with a value no other row of theirs has.
    const cust = rows[rows.length - 1][2];
    const owner = rows[rows.length - 2][5];
    rows[rows.length - 1][3] = '重庆市';
    rows[rows.length - 2][6] = 'T9';
    write();
    let r = await importBoth(2);
    await expectSame(r.a, r.b);
    expect((await inc.query<{ region: string }>(`SELECT region FROM customers WHERE customer_id = '${cust}'`)).rows[0].region).toBe('重庆');
    rows.splice(rows.length - 2, 2);
    write();
    r = await importBoth(3);
    expect(r.hits).toBe(expectedHits);
    await expectSame(r.a, r.b);
    expect((await inc.query<{ region: string }>(`SELECT region FROM customers WHERE customer_id = '${cust}'`)).rows[0].region).not.toBe('重庆');
    expect((await inc.query<{ team_id: string }>(`SELECT team_id FROM users WHERE user_id = '${owner}'`)).rows[0].team_id).not.toBe('T9');
  }, 120_000);

  it('an unchanged file: every accepted row recognised, nothing written', async () => {
    previous = new Set(rows.map((r) => r.join(',')));
    write();
    const { a, b, hits, log } = await importBoth(4);
    expect(hits).toBe(rows.length);
    expect(log).toContain('derived tables: 0 of');
    await expectSame(a, b);
  }, 120_000);

  it('a mapping change invalidates the memo: every row cleaned, the same tables as the full path', async () => {
    mapProduct = false;
    write();
    const { a, b, hits } = await importBoth(5);
    expect(hits).toBe(0);
    await expectSame(a, b);
    expect(a.sources[0].mapping.find((m) => m.field === 'product')?.column).toBe('备注');
  }, 120_000);

  it('a unit line above the header (same cells, amounts in 万元) invalidates the memo', async () => {
    const before = (await inc.query<{ amount: number }>(`SELECT amount::DOUBLE AS amount FROM opportunities WHERE opportunity_id = 'D0'`)).rows[0].amount;
    above = ['单位：万元'];
    write();
    const { a, b, hits } = await importBoth(6);
    expect(hits).toBe(0);
    await expectSame(a, b);
    const after = (await inc.query<{ amount: number }>(`SELECT amount::DOUBLE AS amount FROM opportunities WHERE opportunity_id = 'D0'`)).rows[0].amount;
    expect(after).toBe(before * 10000);
    above = [];
    previous = new Set();
    write();
    await expectSame(...Object.values(await importBoth(7)).slice(0, 2) as [SyncReport, SyncReport]);
  }, 120_000);

  it('a new row with the id of an unchanged one: every row cleaned, the duplicate reported as before', async () => {
    rows.push([...rows[10].slice(0, 7), '赢单', '999', ...rows[10].slice(9)]);
    write();
    const { a, b, log } = await importBoth(8);
    expect(log).toContain('memo not used (a cleaned row shares a deal id or a customer key with unchanged rows)');
    await expectSame(a, b);
    expect(a.sources[0].skipped_by.duplicate).toBe(1);
    rows.pop();
  }, 120_000);

  it('rows swapped: every row cleaned (which row of a customer is last changed)', async () => {
    // Against the memo the step above wrote (every row but the two with the duplicated id).
    [rows[5], rows[rows.length - 5]] = [rows[rows.length - 5], rows[5]];
    write();
    const { a, b, log } = await importBoth(10);
    expect(log).toContain('memo not used (rows repeated or out of their former order)');
    await expectSame(a, b);
  }, 120_000);

  it('a new customer whose name matches an unchanged one (a merge): every row cleaned, the merge reported; no memo after it', async () => {
    rows.push(deal(nextId++));
    rows[rows.length - 1][2] = '客户 7';
    write();
    const { a, b, log } = await importBoth(11);
    expect(log).toContain('memo not used (a cleaned row shares a deal id or a customer key with unchanged rows)');
    await expectSame(a, b);
    expect(a.merges.map((m) => [m.from, m.into])).toEqual([['客户 7', '客户7']]);
    expect(await memoRows()).toBe(0);
    rows.pop();
    write();
    const r = await importBoth(12);
    expect(r.hits).toBe(0);
    await expectSame(r.a, r.b);
  }, 120_000);

  it('a failed sync leaves the data and the memo as they were, and the memo still serves the next one', async () => {
    const memo = await rowsOf(inc, 'sync_memo');
    const data = await Promise.all(TABLES.map((t) => rowsOf(inc, t)));
    changeSome();
    write();
    const r = await runSync(inc, { config: config([{ name: 'gone', type: 'csv', entity: 'payments', path: 'missing.csv' }]), baseDir: dir, now: at(13) });
    expect(r.ok).toBe(false);
    await runSync(ref, { config: config([{ name: 'gone', type: 'csv', entity: 'payments', path: 'missing.csv' }]), baseDir: dir, now: at(13), incremental: false });
    expect(await rowsOf(inc, 'sync_memo')).toEqual(memo);
    expect(await Promise.all(TABLES.map((t) => rowsOf(inc, t)))).toEqual(data);
    const { a, b, hits, log } = await importBoth(14);
    expect(hits, log).toBe(expectedHits);
    await expectSame(a, b);
  }, 120_000);

  it('another write since the memo (a sync of another source) invalidates it', async () => {
    writeFileSync(join(dir, 'users.csv'), 'id,name,team\nU1,销售一,T3\n');
    const users = { name: 'users', type: 'csv', entity: 'users', path: 'users.csv', columns: { user_id: 'id', name: 'name', team_id: 'team' } };
    let r = await importBoth(15, { extra: [users], only: ['users'] });
    expect(r.a.ok && r.b.ok).toBe(true);
    changeSome();
    write();
    r = await importBoth(16, { extra: [users], only: ['deals'] });
    expect(r.hits).toBe(0);
    await expectSame(r.a, r.b);
  }, 120_000);

  it('COCKPIT_SYNC_INCREMENTAL=0: the former path, memo dropped; the next incremental sync cleans every row and writes it again', async () => {
    changeSome();
    write();
    process.env.COCKPIT_SYNC_INCREMENTAL = '0';
    let r;
    try {
      r = await importBoth(17);
    } finally {
      delete process.env.COCKPIT_SYNC_INCREMENTAL;
    }
    expect(r.hits).toBe(null);
    await expectSame(r.a, r.b);
    expect(await memoRows()).toBe(0);
    changeSome();
    write();
    r = await importBoth(18);
    expect(r.hits).toBe(0);
    await expectSame(r.a, r.b);
    expect(await memoRows()).toBe(rows.length);
    changeSome();
    write();
    r = await importBoth(19);
    expect(r.hits).toBe(expectedHits);
    await expectSame(r.a, r.b);
  }, 180_000);
});
