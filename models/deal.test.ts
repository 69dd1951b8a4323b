/**
 * `deal` on the hand-built fixture (as of 2026-05-20): the timelines below are read off the
 * fixture's history and payment rows by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb, FIXTURE_AS_OF } from '../tests/helpers/fixture';
import { runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

const cfg = parseConfig({});
let db: Database;
beforeAll(async () => {
  db = await fixtureDb();
  await db.write((tx) =>
    tx.run(`INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary) VALUES
      ('A1', 'C1', 'O1', 'U1', 'visit', '2026-04-06 10:00:00', '上门演示')`)
  );
});
afterAll(() => db.close());

async function deal(id: string, scope: Scope | null = { all: true }) {
  if (!cfg.ok) throw new Error('config');
  return runModel(db, cfg.config, 'deal', { id, as_of: FIXTURE_AS_OF }, scope);
}

describe('deal detail', () => {
  it('O1: stage timeline with days in each stage, the activity, payments with what is overdue', async () => {
    const r = await deal('O1');
    const stages = r.rows.filter((x) => x.kind === 'stage').map((x) => [x.stage, String(x.at).slice(0, 10), x.days]);
    // 04-02 → 04-05 → 04-12 → 04-20 → 05-10 (won: the final stage has no duration)
    expect(stages).toEqual([
      ['初步接洽', '2026-04-02', 3],
      ['需求分析', '2026-04-05', 7],
      ['方案报价', '2026-04-12', 8],
      ['商务谈判', '2026-04-20', 20],
      ['赢单', '2026-05-10', null]
    ]);
    const pays = r.rows.filter((x) => x.kind === 'payment').map((x) => [x.ref, x.amount, x.paid_amount, x.days]);
    // by due date: P5 05-01 (4,000 of 10,000 paid 05-05, 19 days overdue), P2 05-15 unpaid (5 days), P1 05-20 paid
    expect(pays).toEqual([
      ['P5', 10000, 4000, 19],
      ['P2', 40000, null, 5],
      ['P1', 60000, 60000, null]
    ]);
    const act = r.rows.find((x) => x.kind === 'activity');
    expect(act).toMatchObject({ ref: 'A1', type: 'visit', text: '上门演示', who: '张伟' });
    // rows are chronological: the 04-06 visit sits between 需求分析 (04-05) and 方案报价 (04-12)
    expect(r.rows.map((x) => x.kind).slice(0, 4)).toEqual(['stage', 'stage', 'activity', 'stage']);
    const d = r.summary?.deal as Record<string, unknown>;
    expect(d).toMatchObject({ opportunity_id: 'O1', customer_name: '上海甲公司', owner_name: '张伟', team_name: '上海组', status: 'won', amount: 100000 });
    // paid: P1 60,000 + P5 4,000; outstanding P2 40,000 + P5 6,000, all of it due before 05-20
    expect(d).toMatchObject({ paid_total: 64000, outstanding: 46000, overdue: 46000 });
  });

  it('O2: the amount change the source made when the deal was lost (50,000 → 0)', async () => {
    const r = await deal('O2');
    expect(r.rows.filter((x) => x.kind === 'amount').map((x) => [String(x.at).slice(0, 10), Number(x.old_value), Number(x.new_value)])).toEqual([
      ['2026-05-01', 50000, 0]
    ]);
    expect(r.rows.filter((x) => x.kind === 'stage').map((x) => x.days)).toEqual([7, 21, null]); // 04-03 → 04-10 → 05-01 lost
  });

  it('O3: the current open stage counts days up to the report date (04-25 → 05-20 = 25)', async () => {
    const r = await deal('O3');
    expect(r.rows.filter((x) => x.kind === 'stage').map((x) => [x.stage, x.days])).toEqual([
      ['初步接洽', 10],
      ['方案报价', 25]
    ]);
  });

  it('a deal outside the scope, or unknown, is empty with no header', async () => {
    const hidden = await deal('O3', { team_ids: [], owner_ids: ['U1'] });
    expect(hidden.rows).toEqual([]);
    expect(hidden.summary?.deal).toBeNull();
    expect((await deal('nope')).summary?.deal).toBeNull();
    expect((await deal('O1', null)).rows).toEqual([]);
  });
});

describe('deal detail under filters', () => {
  it('the common filters narrow which deal opens (a locked filter cannot be walked around); the period does not', async () => {
    if (!cfg.ok) throw new Error('config');
    const run = (params: Record<string, unknown>) => runModel(db, cfg.config, 'deal', { id: 'O3', as_of: FIXTURE_AS_OF, ...params }, { all: true });
    expect((await run({ region: '上海' })).summary?.deal).toBeNull(); // O3's customer C2 is in 北京
    expect((await run({ region: '北京' })).summary?.deal).not.toBeNull();
    expect((await run({ team: 'T1' })).summary?.deal).toBeNull(); // U3 is in T2
    expect((await run({ period: 'last_year' })).summary?.deal).not.toBeNull();
  });
});

describe('deal detail: found by its sort key, for every viewer who sees it', () => {
  // The deal is located through opportunities' primary key and read from deal_facts by its
  // closed_at (or, while open, created_at): three branches, one per kind of key. Each viewer who
  // sees a deal must get the page `all` gets, including another team's follow-up on it.
  let db2: Database;
  beforeAll(async () => {
    db2 = await fixtureDb();
    await db2.write(async (tx) => {
      await tx.run(`INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, created_at, closed_at) VALUES
        ('N1', '无日期', 'C1', 'U1', '初步接洽', 'open', 1000, NULL, NULL),
        ('N2', '仅创建', 'C1', 'U1', '需求分析', 'open', 2000, '2026-03-01 09:00:00', NULL),
        ('N3', '已赢单', 'C1', 'U1', '赢单', 'won', 3000, '2026-01-05 09:00:00', '2026-04-01 10:00:00')`);
      await tx.run(`INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, owner_id, origin) VALUES
        ('N1', '2026-02-01 09:00:00', NULL, '初步接洽', 1000, 'U1', 'source'),
        ('N2', '2026-03-01 09:00:00', '2026-03-10 09:00:00', '初步接洽', 2000, 'U1', 'source'),
        ('N2', '2026-03-10 09:00:00', NULL, '需求分析', 2000, 'U1', 'source'),
        ('N3', '2026-01-05 09:00:00', '2026-04-01 10:00:00', '商务谈判', 3000, 'U1', 'source'),
        ('N3', '2026-04-01 10:00:00', NULL, '赢单', 3000, 'U1', 'source')`);
      // U3 (team T2) follows up on U1's deals: U1's scope does not see U3, but sees these.
      await tx.run(`INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary) VALUES
        ('AN1', 'C1', 'N1', 'U3', 'call', '2026-02-03 10:00:00', '电话'),
        ('AN3', 'C1', 'N3', 'U3', 'visit', '2026-03-03 10:00:00', '拜访')`);
      await tx.run(`INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount) VALUES
        ('PN3', 'C1', 'N3', 3000, '2026-04-30', '2026-04-28', 3000)`);
    });
  });
  afterAll(() => db2.close());
  const open = (id: string, scope: Scope | null) => {
    if (!cfg.ok) throw new Error('config');
    return runModel(db2, cfg.config, 'deal', { id, as_of: FIXTURE_AS_OF }, scope);
  };

  it('a deal with neither date, an open one and a closed one each open in full, for all and for their owner', async () => {
    for (const [id, stints, kinds] of [
      ['N1', 1, ['stage', 'activity']],
      ['N2', 2, ['stage', 'stage']],
      ['N3', 2, ['stage', 'activity', 'stage', 'payment']]
    ] as const) {
      const all = await open(id, { all: true });
      expect((all.summary?.deal as { opportunity_id: string }).opportunity_id).toBe(id);
      expect(all.rows.filter((r) => r.kind === 'stage')).toHaveLength(stints);
      expect(all.rows.map((r) => r.kind)).toEqual(kinds);
      const own = await open(id, { team_ids: [], owner_ids: ['U1'] });
      // the same rows, but for the name of a follow-up's author outside U1's scope (people.ts)
      expect(own.rows).toEqual(all.rows.map((r) => (r.kind === 'activity' ? { ...r, who: '~outside_scope' } : r)));
      expect(own.summary?.deal).toEqual(all.summary?.deal);
      const other = await open(id, { team_ids: ['T2'], owner_ids: [] });
      expect(other.rows).toEqual([]);
      expect(other.summary?.deal).toBeNull();
    }
    // the follow-up by U3 (outside U1's scope) is on U1's deal: both see it, only `all` by name
    const n3 = await open('N3', { team_ids: [], owner_ids: ['U1'] });
    expect(n3.rows.find((r) => r.kind === 'activity')?.text).toBe('拜访');
    expect((await open('N3', { all: true })).rows.find((r) => r.kind === 'activity')?.who).toBe('李娜');
    expect((n3.summary?.deal as { customer_name: string; region: string }).customer_name).toBe('上海甲公司');
    expect((n3.summary?.deal as { region: string }).region).toBe('上海');
  });
});

