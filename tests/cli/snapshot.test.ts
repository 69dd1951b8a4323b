/**
 * `cockpit snapshot` and `cockpit metric` for the revenue models, as a user runs them, on a
 * small demo database file: `cockpit snapshot` once as a real process (`cockpit`), the other
 * runs in-process (`cockpitIn`, tests/helpers/cli.ts: the same main(), ~1 CPU s less per run).
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { cockpit, DEMO_AS_OF } from '../helpers/global-setup';
import { cockpitIn } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'cli-snapshot-'));
const db = join(dir, 'demo.duckdb');
const AS_OF = DEMO_AS_OF;

beforeAll(() => {
  // the small demo company, generated once per run by the project's global setup
  copyFileSync(inject('demoTemplate'), db);
});

const json = async (args: string[]) => {
  const r = await cockpitIn(['metric', ...args, '--json', '--db', db]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

describe('cockpit metric (trend, leaderboard, payments, forecast)', () => {
  it('each prints its rows with n, the zh-CN/en definition and the date it filtered on', async () => {
    for (const [name, field] of [
      ['trend', 'opportunities.closed_at'],
      ['leaderboard', 'opportunities.closed_at'],
      ['payments', 'payments.paid_at'],
      ['forecast', 'opportunities.expected_close_date']
    ]) {
      const out = await json([name, '--param', `as_of=${AS_OF}`]);
      expect(out.model).toBe(name);
      expect(out.n, name).toBeGreaterThan(0);
      expect(out.rows.length, name).toBeGreaterThan(0);
      expect(out.date_field, name).toContain(field);
      expect(out.definition['zh-CN'].length, name).toBeGreaterThan(20);
      expect(out.definition.en.length, name).toBeGreaterThan(20);
    }
    const table = await cockpitIn(['metric', 'leaderboard', '--param', `as_of=${AS_OF}`, '--param', 'limit=3', '--db', db]);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toContain('Leaderboard / 业绩排行');
  });

  it('a bad parameter exits 2 and names it', async () => {
    const r = await cockpitIn(['metric', 'trend', '--param', 'measure=revenue', '--param', 'grain=weekly', '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('measure:');
    expect(r.stderr).toContain('grain:');
  });
});

describe('cockpit snapshot', () => {
  it('answers --help and rejects an unknown period', async () => {
    const help = await cockpitIn(['snapshot', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: cockpit snapshot');
    const bad = await cockpitIn(['snapshot', '--period', 'next_quarter', '--db', db]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--period: unknown period "next_quarter"');
  });

  it('freezes this month’s forecast; once the month is over, accuracy compares the frozen figure with what was won', async () => {
    const r = cockpit(['snapshot', '--period', 'this_month', '--as-of', AS_OF, '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    const m = /froze this_month \[2026-06-01, 2026-07-01\) as of 2026-06-15: (\d+) owners, forecast ([\d,]+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const live = await json(['forecast', '--param', 'period=this_month', '--param', `as_of=${AS_OF}`]);
    expect(Number(m![2].replace(/,/g, ''))).toBe(Math.round(live.rows[0].forecast));

    // on 2026-07-02, June is over: its accuracy against the frozen forecast
    const acc = await json(['forecast', '--param', 'view=accuracy', '--param', 'basis=snapshots', '--param', 'period=last_month', '--param', 'grain=month', '--param', 'as_of=2026-07-02']);
    const weighted = acc.rows.find((x: { method: string }) => x.method === 'weighted_configured');
    expect(weighted.frozen_at).toBe(AS_OF);
    expect(weighted.forecast).toBeCloseTo(live.rows[0].forecast, 2);
    const inst = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
    const conn = await inst.connect();
    const won = (await conn.runAndReadAll(`SELECT coalesce(sum(amount), 0)::DOUBLE AS a FROM opportunities WHERE status = 'won' AND closed_at >= '2026-06-01' AND closed_at < '2026-07-01'`)).getRowObjectsJS()[0].a as number;
    conn.closeSync();
    inst.closeSync();
    expect(weighted.actual).toBeCloseTo(won, 2);
    expect(weighted.accuracy).toBeCloseTo(Math.max(0, 1 - Math.abs(won - weighted.forecast) / won), 12);
  });
  it('freezes the statistical forecast and its P10–P90; accuracy from snapshots scores it and its interval coverage', async () => {
    const r = await cockpitIn(['snapshot', '--period', 'this_month', '--as-of', AS_OF, '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    const sqlRows = async (q: string) => {
      const inst = await DuckDBInstance.create(db);
      const conn = await inst.connect();
      try {
        return (await conn.runAndReadAll(q)).getRowObjectsJS() as Record<string, number | string | null>[];
      } finally {
        conn.closeSync();
        inst.closeSync();
      }
    };
    // The stored rows, and June's wins per owner, read straight from the tables.
    const frozen = await sqlRows(`SELECT owner_id, forecast_statistical AS f, stat_p10 AS p10, stat_p90 AS p90, total_p10, total_p90, total_owners
      FROM forecast_snapshots WHERE as_of = '${AS_OF}' AND period_from = '2026-06-01' ORDER BY owner_id`);
    const wonBy = new Map(
      (await sqlRows(`SELECT owner_id, sum(amount)::DOUBLE AS a FROM opportunities WHERE status = 'won' AND closed_at >= '2026-06-01' AND closed_at < '2026-07-01' GROUP BY owner_id`)).map(
        (x) => [x.owner_id, x.a as number]
      )
    );
    expect(frozen.length).toBeGreaterThan(1);
    expect(frozen.every((x) => x.f !== null && x.p10 !== null && x.p90 !== null && (x.p10 as number) <= (x.p90 as number))).toBe(true);
    expect(frozen.every((x) => x.total_owners === frozen.length)).toBe(true);
    const sumF = frozen.reduce((s, x) => s + (x.f as number), 0);
    const actual = [...wonBy.values()].reduce((s, a) => s + a, 0);
    expect(actual).toBeGreaterThan(0);

    // What was frozen is what the statistical forecast said that day.
    const live = await json(['forecast', '--param', 'period=this_month', '--param', `as_of=${AS_OF}`, '--param', 'probabilities=statistical']);
    expect(sumF).toBeCloseTo(live.rows[0].forecast, 2);
    expect(frozen[0].total_p10).toBeCloseTo(live.summary.band.p10, 2);
    expect(frozen[0].total_p90).toBeCloseTo(live.summary.band.p90, 2);

    const accArgs = ['forecast', '--param', 'view=accuracy', '--param', 'basis=snapshots', '--param', 'period=last_month', '--param', 'grain=month', '--param', 'as_of=2026-07-02', '--param', 'method=statistical', '--param', 'method=weighted_configured'];
    // Company-wide: the frozen total and the total's band.
    const acc = await json(accArgs);
    const stat = acc.rows.find((x: { method: string }) => x.method === 'statistical');
    const inside = actual >= (frozen[0].total_p10 as number) && actual <= (frozen[0].total_p90 as number);
    expect(stat).toMatchObject({ frozen_at: AS_OF, covered: inside });
    expect(stat.forecast).toBeCloseTo(sumF, 2);
    expect(stat.actual).toBeCloseTo(actual, 2);
    expect(stat.p10).toBeCloseTo(frozen[0].total_p10 as number, 2);
    expect(stat.p90).toBeCloseTo(frozen[0].total_p90 as number, 2);
    expect(acc.summary.wape.statistical).toBeCloseTo(Math.abs(sumF - actual) / actual, 9);
    expect(acc.summary.coverage.statistical).toMatchObject({ covered: inside ? 1 : 0, of: 1 });

    // Per owner: each owner's own frozen band.
    const byOwner = await json([...accArgs, '--param', 'group_by=owner']);
    const ownerStat = byOwner.rows.filter((x: { method: string; p10: number | null }) => x.method === 'statistical' && x.p10 !== null);
    const expectedCovered = frozen.filter((x) => {
      const a = wonBy.get(x.owner_id) ?? 0;
      return a >= (x.p10 as number) && a <= (x.p90 as number);
    }).length;
    expect(ownerStat.length).toBe(frozen.length);
    for (const o of frozen) {
      const row = ownerStat.find((x: { group_key: string }) => x.group_key === o.owner_id);
      expect(row.forecast).toBeCloseTo(o.f as number, 2);
      expect(row.p10).toBeCloseTo(o.p10 as number, 2);
      expect(row.actual).toBeCloseTo(wonBy.get(o.owner_id) ?? 0, 2);
    }
    expect(byOwner.summary.coverage.statistical).toMatchObject({ covered: expectedCovered, of: frozen.length });

    // A snapshot frozen before the statistical forecast was (its columns NULL): still read, the
    // other methods scored, the statistical one not frozen (no forecast, no coverage) rather than 0.
    await sqlRows(`UPDATE forecast_snapshots SET forecast_statistical = NULL, stat_p10 = NULL, stat_p50 = NULL, stat_p90 = NULL,
      total_p10 = NULL, total_p50 = NULL, total_p90 = NULL, total_owners = NULL`);
    const old = await json(accArgs);
    expect(old.rows.find((x: { method: string }) => x.method === 'statistical')).toMatchObject({ forecast: null, p10: null, covered: null });
    expect(old.rows.find((x: { method: string }) => x.method === 'weighted_configured').forecast).toBeGreaterThan(0);
    expect(old.summary.coverage.statistical).toBeNull();
  }, 120_000);
});
