/**
 * `cockpit snapshot` and `cockpit metric` for the revenue models, as a user runs them: real
 * processes on a small demo database file.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { cockpit, DEMO_AS_OF } from '../helpers/global-setup';

const dir = mkdtempSync(join(tmpdir(), 'cli-snapshot-'));
const db = join(dir, 'demo.duckdb');
const AS_OF = DEMO_AS_OF;

beforeAll(() => {
  // the small demo company, generated once per run by the project's global setup
  copyFileSync(inject('demoTemplate'), db);
});

const json = (args: string[]) => {
  const r = cockpit(['metric', ...args, '--json', '--db', db]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

describe('cockpit metric (trend, leaderboard, payments, forecast)', () => {
  it('each prints its rows with n, the zh-CN/en definition and the date it filtered on', () => {
    for (const [name, field] of [
      ['trend', 'opportunities.closed_at'],
      ['leaderboard', 'opportunities.closed_at'],
      ['payments', 'payments.paid_at'],
      ['forecast', 'opportunities.expected_close_date']
    ]) {
      const out = json([name, '--param', `as_of=${AS_OF}`]);
      expect(out.model).toBe(name);
      expect(out.n, name).toBeGreaterThan(0);
      expect(out.rows.length, name).toBeGreaterThan(0);
      expect(out.date_field, name).toContain(field);
      expect(out.definition['zh-CN'].length, name).toBeGreaterThan(20);
      expect(out.definition.en.length, name).toBeGreaterThan(20);
    }
    const table = cockpit(['metric', 'leaderboard', '--param', `as_of=${AS_OF}`, '--param', 'limit=3', '--db', db]);
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toContain('Leaderboard / 业绩排行');
  });

  it('a bad parameter exits 2 and names it', () => {
    const r = cockpit(['metric', 'trend', '--param', 'measure=revenue', '--param', 'grain=weekly', '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('measure:');
    expect(r.stderr).toContain('grain:');
  });
});

describe('cockpit snapshot', () => {
  it('answers --help and rejects an unknown period', () => {
    const help = cockpit(['snapshot', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: cockpit snapshot');
    const bad = cockpit(['snapshot', '--period', 'next_quarter', '--db', db]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--period: unknown period "next_quarter"');
  });

  it('freezes this month’s forecast; once the month is over, accuracy compares the frozen figure with what was won', async () => {
    const r = cockpit(['snapshot', '--period', 'this_month', '--as-of', AS_OF, '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    const m = /froze this_month \[2026-06-01, 2026-07-01\) as of 2026-06-15: (\d+) owners, forecast ([\d,]+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const live = json(['forecast', '--param', 'period=this_month', '--param', `as_of=${AS_OF}`]);
    expect(Number(m![2].replace(/,/g, ''))).toBe(Math.round(live.rows[0].forecast));

    // on 2026-07-02, June is over: its accuracy against the frozen forecast
    const acc = json(['forecast', '--param', 'view=accuracy', '--param', 'basis=snapshots', '--param', 'period=last_month', '--param', 'grain=month', '--param', 'as_of=2026-07-02']);
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
});
