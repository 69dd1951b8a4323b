/**
 * A sync never touches the forecast calls: `cockpit import` (a real process on a real DuckDB
 * file for the first load; the re-imports run the same main() in-process, tests/helpers/cli.ts)
 * re-imports the deals — one changed, one gone from the file, a new one — and the calls, their
 * category overrides and their audit are the same rows, byte for byte, as before.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { cockpit } from '../helpers/global-setup';
import { cockpitIn } from '../helpers/cli';
import { Database } from '../../src/lib/server/db/database';
import { submitCall } from '../../src/lib/server/forecast-call/calls';

const dir = mkdtempSync(join(tmpdir(), 'call-sync-'));
const file = join(dir, 'crm.duckdb');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function dump(): Promise<Record<string, unknown[]>> {
  const inst = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const c = await inst.connect();
  const out: Record<string, unknown[]> = {};
  for (const t of ['forecast_calls', 'forecast_call_overrides', 'forecast_call_audit']) {
    out[t] = (await c.runAndReadAll(`SELECT * FROM ${t} ORDER BY ALL`)).getRowObjectsJson();
  }
  out.deals = (await c.runAndReadAll(`SELECT opportunity_id, amount::DOUBLE AS amount FROM opportunities ORDER BY 1`)).getRowObjectsJson();
  c.closeSync();
  inst.closeSync();
  return out;
}

describe('forecast calls survive a sync', () => {
  it('cockpit import re-imports the deals and leaves the calls, their overrides and their audit alone', async () => {
    const csv = (rows: string[]) => ['商机编号,商机名称,客户名称,负责人,销售阶段,预计成交金额,预计成交日期', ...rows].join('\n') + '\n';
    writeFileSync(
      join(dir, 'deals.csv'),
      csv(['D-1,一号,甲公司,张三,方案报价,120000,2026-05-20', 'D-2,二号,乙公司,张三,商务谈判,50000,2026-06-10', 'D-3,三号,丙公司,李四,初步接洽,8000,2026-06-01'])
    );
    const first = cockpit(['import', join(dir, 'deals.csv'), '--entity', 'opportunities', '--db', file]);
    expect(first.status, first.stderr + first.stdout).toBe(0);

    const db = await Database.open(file);
    const { rows } = await db.query<{ owner_id: string }>(`SELECT owner_id FROM opportunities WHERE opportunity_id = 'D-1'`);
    const rep = rows[0].owner_id;
    const period = { period_from: '2026-04-01', period_to: '2026-07-01' };
    const stored = await submitCall(db, { demo: true }, { ...period, level: 'rep', subject: rep, commit: 150000, best_case: 170000, overrides: [{ opportunity_id: 'D-1', category: 'commit' }] });
    expect(stored.status).toBe(200);
    expect((await submitCall(db, { demo: true }, { ...period, level: 'rep', subject: rep, commit: 160000, best_case: 170000, note: '再议' })).status).toBe(200);
    expect((await submitCall(db, { demo: true }, { ...period, level: 'rep', subject: rep, commit: 5, best_case: 1 })).status).toBe(400);
    await db.close();
    const before = await dump();
    expect(before.forecast_calls).toHaveLength(2);
    expect(before.forecast_call_overrides).toHaveLength(2); // the first call's, carried over by the second
    expect(before.forecast_call_audit).toHaveLength(3);

    // The CRM changes: D-1's amount, D-2 no longer exported, a new D-4.
    writeFileSync(
      join(dir, 'deals.csv'),
      csv(['D-1,一号,甲公司,张三,商务谈判,90000,2026-05-25', 'D-3,三号,丙公司,李四,初步接洽,8000,2026-06-01', 'D-4,四号,丁公司,李四,需求分析,30000,2026-06-15'])
    );
    const again = await cockpitIn(['import', join(dir, 'deals.csv'), '--entity', 'opportunities', '--db', file]);
    expect(again.status, again.stderr + again.stdout).toBe(0);
    // A failed import (nothing loadable) on top.
    writeFileSync(join(dir, 'bad.csv'), '商机编号,销售阶段,预计成交金额\nX-1,不存在的阶段,100\n');
    expect((await cockpitIn(['import', join(dir, 'bad.csv'), '--entity', 'opportunities', '--db', file])).status).toBe(1);

    const after = await dump();
    expect(after.deals).not.toEqual(before.deals); // the import did change the deals …
    expect(after.deals).toContainEqual({ opportunity_id: 'D-1', amount: 90000 });
    expect(after.forecast_calls).toEqual(before.forecast_calls); // … and nothing of the calls
    expect(after.forecast_call_overrides).toEqual(before.forecast_call_overrides);
    expect(after.forecast_call_audit).toEqual(before.forecast_call_audit);
  }, 240_000);
});
