/**
 * The four data-quality rules (warehouse/data-quality.ts), defined once: the sync report's
 * cheap count and the forecast's summary.data_quality both equal a hand-written query over the
 * stored deals, on a small ledger where each rule is hit a known number of times (worked out
 * by hand from the rows below).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import type { CockpitConfig } from '../src/lib/server/config/schema';
import { runSync, type SyncReport } from '../connectors/load/sync';
import { runModel } from '../src/lib/server/models/run';
import { ALL_SCOPE } from '../models/common/scope';
import { addDays, todayIn } from '../models/common/period';
import { dataQualityToday } from './data-quality';

const dir = mkdtempSync(join(tmpdir(), 'data-quality-'));
const HEADER = '商机编号,客户名称,销售阶段,产品,预计成交金额,预计成交日期,成交日期,负责人\n';

function config(path: string): CockpitConfig {
  const r = parseConfig({ database: join(dir, 'x.duckdb'), sources: [{ name: 'deals', type: 'csv', entity: 'opportunities', path }] }, null, dir);
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

async function load(name: string, rows: string[]): Promise<{ db: Database; cfg: CockpitConfig; report: SyncReport }> {
  const path = join(dir, `${name}.csv`);
  writeFileSync(path, HEADER + rows.join('\n') + '\n');
  const cfg = config(path);
  const db = await Database.open(join(dir, `${name}.duckdb`));
  const report = await runSync(db, { config: cfg, baseDir: dir, kind: 'import' });
  if (!report.ok) throw new Error(report.error ?? 'sync failed');
  return { db, cfg, report };
}

/** The rules written out independently, over the raw opportunities table. */
async function handCount(db: Database, today: string, owner?: string) {
  const from = addDays(today, 1 - 365);
  const { rows } = await db.query<Record<string, number>>(`
    WITH won AS (SELECT count(*) AS n FROM opportunities WHERE status = 'won' AND amount > 0
                 AND closed_at >= '${from}' AND closed_at < '${addDays(today, 1)}')
    SELECT
      count(*) FILTER (WHERE amount IS NULL AND (SELECT n FROM won) > 0)::INTEGER AS amount_fallback,
      count(*) FILTER (WHERE amount IS NULL AND (SELECT n FROM won) = 0)::INTEGER AS amount_missing,
      count(*) FILTER (WHERE expected_close_date IS NULL)::INTEGER AS undated,
      count(*) FILTER (WHERE expected_close_date < '${today}')::INTEGER AS past_due
    FROM opportunities WHERE status = 'open' ${owner ? `AND owner_id = '${owner}'` : ''}`);
  return rows[0];
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('data-quality rules, one definition for the forecast and the sync report', () => {
  const defaults = parseConfig({});
  if (!defaults.ok) throw new Error('config');
  // The sync's "today" is the configured time zone's.
  const today = todayIn(defaults.config.timezone);
  const day = (n: number) => addDays(today, n);
  let withWins: Awaited<ReturnType<typeof load>>;
  let noWins: Awaited<ReturnType<typeof load>>;

  beforeAll(async () => {
    // Open deals: O1 (product A) and O2 (product B) have no amount, O3 no amount and no close
    // date → 3 amount fallbacks; O3 and O7 no close date → 2 undated; O4 (10 days ago) and O5
    // (yesterday) past due, O6 (today) not → 2 past due; O8 complete. W1 won 30 days ago with
    // an amount (what the fallback averages); L1 lost without an amount (not open: no rule).
    withWins = await load('wins', [
      `O1,甲公司,初步接洽,A,,${day(20)},,张三`,
      `O2,乙公司,方案报价,B,,${day(40)},,张三`,
      `O3,丙公司,需求分析,A,,,,李四`,
      `O4,丁公司,商务谈判,A,50000,${day(-10)},,李四`,
      `O5,戊公司,商务谈判,B,60000,${day(-1)},,张三`,
      `O6,己公司,方案报价,B,70000,${day(0)},,李四`,
      `O7,庚公司,初步接洽,A,80000,,,张三`,
      `O8,辛公司,需求分析,A,90000,${day(30)},,李四`,
      `W1,壬公司,赢单,A,100000,${day(-30)},${day(-30)},李四`,
      `L1,癸公司,输单,A,,${day(-20)},${day(-20)},张三`
    ]);
    // The only win is 400 days old (outside the 12-month window): nothing to fall back on.
    noWins = await load('nowins', [
      `O1,甲公司,初步接洽,A,,${day(20)},,张三`,
      `O2,乙公司,方案报价,B,,,,张三`,
      `O3,丙公司,商务谈判,A,50000,${day(-3)},,李四`,
      `W1,壬公司,赢单,A,100000,${day(-400)},${day(-400)},李四`
    ]);
  }, 60_000);
  afterAll(async () => {
    await withWins?.db.close();
    await noWins?.db.close();
  });

  it('the sync report counts each rule the known number of times, as the hand-written query does', async () => {
    const hand = await handCount(withWins.db, today);
    expect(hand).toEqual({ amount_fallback: 3, amount_missing: 0, undated: 2, past_due: 2 });
    expect(withWins.report.data_quality).toEqual(hand);
    expect(await dataQualityToday((q) => withWins.db.query(q), today)).toEqual(hand);

    const hand2 = await handCount(noWins.db, today);
    expect(hand2).toEqual({ amount_fallback: 0, amount_missing: 2, undated: 1, past_due: 1 });
    expect(noWins.report.data_quality).toEqual(hand2);
  });

  it('the statistical forecast reports the same counts, and applies its filters to them', async () => {
    for (const x of [withWins, noWins]) {
      const fc = await runModel(x.db, x.cfg, 'forecast', { probabilities: 'statistical', period: 'this_month', simulations: 100 }, ALL_SCOPE);
      expect((fc.summary as { data_quality: unknown }).data_quality).toEqual(await handCount(x.db, today));
    }
    const owner = (await withWins.db.query<{ id: string }>(`SELECT owner_id AS id FROM opportunities WHERE opportunity_id = 'O3'`)).rows[0].id;
    const fc = await runModel(withWins.db, withWins.cfg, 'forecast', { probabilities: 'statistical', period: 'this_month', simulations: 100, owner }, ALL_SCOPE);
    const hand = await handCount(withWins.db, today, owner);
    // 李四's open deals: O3 (fallback, undated), O4 (past due), O6, O8.
    expect(hand).toEqual({ amount_fallback: 1, amount_missing: 0, undated: 1, past_due: 1 });
    expect((fc.summary as { data_quality: unknown }).data_quality).toEqual(hand);
  }, 60_000);
});
