/**
 * pipeline_flow and pipeline_flow_deals on a tiny history where every bucket is known by hand.
 *
 * Period Q2 2026 (from 2026-04-01, to 2026-07-01), report date 2026-06-15: the start is the
 * pipeline at the start of 04-01 (versions starting before it), the end at the start of 06-16.
 * Close window: Q2 (close dates 04-01 … 06-30). Owner U1 is in T11, U3 in T12. Amounts in yuan.
 *
 * Deal  versions (valid from: stage, amount, close date, owner)            start  end   bucket
 * A     03-01 初步接洽 100 05-15                                             100    100   unchanged
 * B     03-01 需求分析 200 06-01; 05-01 需求分析 250 06-01                    200    250   increased +50
 * C     02-01 方案报价 300 04-20; 05-10 方案报价 180 06-20                    300    180   decreased −120
 * D     03-10 商务谈判 400 04-30; 04-28 赢单 450                              400    —     won −400
 * E     03-15 初步接洽 50 05-01; 05-02 输单 0                                 50     —     lost −50
 * F     03-20 需求分析 120 06-10; 06-05 需求分析 120 08-15                    120    —     pushed out −120
 * G     03-05 初步接洽 70 09-01 (outside); 05-20 初步接洽 90 06-30             —      90    pulled in +90
 * H     04-10 初步接洽 60 06-25 (created in the period)                       —      60    new +60
 * I     03-01 需求分析 80 05-30 U1; 05-15 same, handed to U3                  80     80    unchanged (T11: removed −80; T12: new +80)
 * J     06-20 初步接洽 999 06-28 (after the report date)                      —      —     not in either
 * K     03-01 初步接洽 500 10-01 (outside the window throughout)              —      —     not in either
 * L     04-05 初步接洽 20 05-20; 05-05 赢单 (created and won inside)          —      —     not in either
 * M     04-01 00:00 初步接洽 40 05-10 (starts on the first day: new)          —      40    new +40
 * N     03-01 初步接洽 30 05-01; 06-16 赢单 (after the report date)           30     30    unchanged
 * P     01-10 初步接洽 10 02-01; 02-01 赢单 (closed before the period)         —      —     not in either
 *
 * start = 100 + 200 + 300 + 400 + 50 + 120 + 80 + 30 = 1,280
 * end   = 100 + 250 + 180 + 90 + 60 + 80 + 40 + 30 = 830
 * 1,280 + new 100 + pulled in 90 − pushed out 120 + increased 50 − decreased 120 − won 400 − lost 50 − removed 0 = 830.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { buildContext, compileModel, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { sharedRelations } from '../src/lib/server/models/shared';
import { compile } from '../src/lib/server/db/sql';
import { factsHorizon } from '../warehouse/facts';
import { FLOW_BUCKETS } from './common/pipeline';
import type { Scope } from './common/scope';

type V = [from: string, stage: string, amount: number, close: string | null, owner?: string];
const DEALS: Record<string, { created: string; versions: V[] }> = {
  A: { created: '2026-03-01', versions: [['2026-03-01', '初步接洽', 100, '2026-05-15']] },
  B: { created: '2026-03-01', versions: [['2026-03-01', '需求分析', 200, '2026-06-01'], ['2026-05-01', '需求分析', 250, '2026-06-01']] },
  C: { created: '2026-02-01', versions: [['2026-02-01', '方案报价', 300, '2026-04-20'], ['2026-05-10', '方案报价', 180, '2026-06-20']] },
  D: { created: '2026-03-10', versions: [['2026-03-10', '商务谈判', 400, '2026-04-30'], ['2026-04-28', '赢单', 450, '2026-04-28']] },
  E: { created: '2026-03-15', versions: [['2026-03-15', '初步接洽', 50, '2026-05-01'], ['2026-05-02', '输单', 0, '2026-05-02']] },
  F: { created: '2026-03-20', versions: [['2026-03-20', '需求分析', 120, '2026-06-10'], ['2026-06-05', '需求分析', 120, '2026-08-15']] },
  G: { created: '2026-03-05', versions: [['2026-03-05', '初步接洽', 70, '2026-09-01'], ['2026-05-20', '初步接洽', 90, '2026-06-30']] },
  H: { created: '2026-04-10', versions: [['2026-04-10', '初步接洽', 60, '2026-06-25']] },
  I: { created: '2026-03-01', versions: [['2026-03-01', '需求分析', 80, '2026-05-30', 'U1'], ['2026-05-15', '需求分析', 80, '2026-05-30', 'U3']] },
  J: { created: '2026-06-20', versions: [['2026-06-20', '初步接洽', 999, '2026-06-28']] },
  K: { created: '2026-03-01', versions: [['2026-03-01', '初步接洽', 500, '2026-10-01']] },
  L: { created: '2026-04-05', versions: [['2026-04-05', '初步接洽', 20, '2026-05-20'], ['2026-05-05', '赢单', 20, '2026-05-05']] },
  M: { created: '2026-04-01', versions: [['2026-04-01', '初步接洽', 40, '2026-05-10']] },
  N: { created: '2026-03-01', versions: [['2026-03-01', '初步接洽', 30, '2026-05-01'], ['2026-06-16', '赢单', 30, '2026-06-16']] },
  P: { created: '2026-01-10', versions: [['2026-01-10', '初步接洽', 10, '2026-02-01'], ['2026-02-01', '赢单', 10, '2026-02-01']] }
};

const q = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`);

/** The statements that load the history above (shared with the API and browser tests' fixtures). */
export function flowFixtureStatements(): string[] {
  const out = [
    `INSERT INTO teams VALUES ('T0', '公司', NULL, NULL), ('T11', '上海组', 'T0', 'U1'), ('T12', '杭州组', 'T0', NULL)`,
    `INSERT INTO users (user_id, name, team_id) VALUES ('U1', '张伟', 'T11'), ('U3', '李娜', 'T12')`,
    `INSERT INTO customers (customer_id, name, region, owner_id) VALUES ('C1', '上海甲公司', '上海', 'U1')`
  ];
  for (const [id, d] of Object.entries(DEALS)) {
    const last = d.versions[d.versions.length - 1];
    const kind = last[1] === '赢单' ? 'won' : last[1] === '输单' ? 'lost' : 'open';
    // The deal row as a sync would leave it at the end of the history (N's win on 06-16 included).
    out.push(`INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, expected_close_date, created_at, closed_at)
      VALUES (${q(id)}, ${q(`商机${id}`)}, 'C1', ${q(last[4] ?? 'U1')}, ${q(last[1])}, ${q(kind)}, ${last[2]}, ${q(last[3])}, ${q(d.created)}, ${kind === 'open' ? 'NULL' : q(last[0])})`);
    d.versions.forEach((v, i) => {
      const next = d.versions[i + 1];
      out.push(`INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, expected_close_date, owner_id, origin)
        VALUES (${q(id)}, ${q(v[0])}, ${next ? q(next[0]) : 'NULL'}, ${q(v[1])}, ${v[2]}, ${q(v[3])}, ${q(v[4] ?? 'U1')}, 'source')`);
    });
  }
  return out;
}

let db: Database;
beforeAll(async () => {
  db = await Database.open(':memory:');
  await db.write(async (tx) => {
    for (const s of flowFixtureStatements()) await tx.run(s);
  });
});
afterAll(() => db.close());

const cfg = parseConfig({});
const run = (name: string, params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) => {
  if (!cfg.ok) throw new Error('config');
  return runModel(db, cfg.config, name, { as_of: '2026-06-15', from: '2026-04-01', to: '2026-07-01', ...params }, scope);
};
const bars = async (params: Record<string, unknown> = {}, scope: Scope | null = { all: true }) =>
  Object.fromEntries((await run('pipeline_flow', params, scope)).rows.map((r) => [r.bucket as string, [r.value, r.deals]]));
const drill = async (bucket: string, params: Record<string, unknown> = {}) =>
  (await run('pipeline_flow_deals', { bucket, sort: 'name', dir: 'asc', ...params })).rows;

describe('pipeline_flow on the hand-computed history', () => {
  it('every bar, with its deal count, and start + Σ parts = end', async () => {
    const b = await bars();
    expect(b).toEqual({
      start: [1280, 8],
      new: [100, 2],
      pulled_in: [90, 1],
      pushed_out: [-120, 1],
      increased: [50, 1],
      decreased: [-120, 1],
      won: [-400, 1],
      lost: [-50, 1],
      removed: [0, 0],
      unchanged: [0, 3],
      end: [830, 8]
    });
    const r = await run('pipeline_flow');
    expect(r.summary).toMatchObject({ start: 1280, end: 830, change: -450, start_at: '2026-04-01', end_at: '2026-06-16', window: { from: '2026-04-01', to: '2026-07-01' } });
  });

  it('each bar lists its deals with the before and after values', async () => {
    expect((await drill('start')).map((r) => r.opportunity_id)).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'I', 'N']);
    expect((await drill('end')).map((r) => r.opportunity_id)).toEqual(['A', 'B', 'C', 'G', 'H', 'I', 'M', 'N']);
    expect((await drill('new')).map((r) => [r.opportunity_id, r.change_value])).toEqual([['H', 60], ['M', 40]]);
    const [won] = await drill('won');
    expect(won).toMatchObject({
      opportunity_id: 'D', change_value: -400, before_stage: '商务谈判', after_stage: '赢单', before_amount: 400, after_amount: 450,
      before_close_date: '2026-04-30', customer_name: '上海甲公司', owner_name: '张伟'
    });
    const [pushed] = await drill('pushed_out');
    expect(pushed).toMatchObject({ opportunity_id: 'F', change_value: -120, before_close_date: '2026-06-10', after_close_date: '2026-08-15' });
    const [pulled] = await drill('pulled_in');
    expect(pulled).toMatchObject({ opportunity_id: 'G', change_value: 90, before_amount: 70, after_amount: 90, before_close_date: '2026-09-01', after_close_date: '2026-06-30' });
    const [dec] = await drill('decreased');
    expect(dec).toMatchObject({ opportunity_id: 'C', change_value: -120, before_amount: 300, after_amount: 180 });
    const page = await run('pipeline_flow_deals', { bucket: 'start', limit: 3 });
    expect(page.summary).toMatchObject({ total: 8, total_value: 1280 });
    expect(page.rows.map((r) => r.opportunity_id)).toEqual(['D', 'C', 'B']); // largest |value| first
  });

  it('a team filter follows the owner at each moment: I handed from T11 to T12 is removed from one and new in the other', async () => {
    const t11 = await bars({ team: 'T11' });
    expect(t11.start).toEqual([1280, 8]);
    expect(t11.removed).toEqual([-80, 1]);
    expect(t11.end).toEqual([750, 7]);
    const [removed] = await drill('removed', { team: 'T11' });
    expect(removed).toMatchObject({ opportunity_id: 'I', before_owner_name: '张伟', after_owner_name: '李娜' });
    const t12 = await bars({ team: 'T12' });
    expect(t12.start).toEqual([0, 0]);
    expect(t12.new).toEqual([80, 1]);
    expect(t12.end).toEqual([80, 1]);
  });

  it('window=all counts every close date: K is in both, G increased by 20, F unchanged', async () => {
    const b = await bars({ window: 'all' });
    // start 1,280 + K 500 + G 70 + F stays = 1,850; end 830 + K 500 + F 120 = 1,450
    expect(b.start).toEqual([1850, 10]);
    expect(b.pulled_in).toEqual([0, 0]);
    expect(b.pushed_out).toEqual([0, 0]);
    expect(b.increased).toEqual([70, 2]);
    expect(b.end).toEqual([1450, 10]);
    expect(1850 + 100 + 70 - 120 - 400 - 50).toBe(1450);
  });

  it('a report date inside the period cuts the end: as of 2026-05-01 only D of the exits has happened, L is still open', async () => {
    // end = start of 05-02: B's 05-01 raise to 250 counts, C still 300, E still open (its loss on 05-02 not yet), F 120,
    // G still outside, H, M and L (still open until 05-05) new, I still U1's:
    // 100 + 250 + 300 + 50 + 120 + 60 + 80 + 40 + 20 + 30 = 1,050 over 10 deals = 1,280 + new 120 + increased 50 − won 400.
    const b = await bars({ as_of: '2026-05-01' });
    expect(b.won).toEqual([-400, 1]);
    expect(b.lost).toEqual([0, 0]);
    expect(b.new).toEqual([120, 3]);
    expect(b.increased).toEqual([50, 1]);
    expect(b.decreased).toEqual([0, 0]);
    expect(b.end).toEqual([1050, 10]);
  });

  it('the viewer scope applies: a token for U3 sees only I (its current owner)', async () => {
    const b = await bars({}, { team_ids: [], owner_ids: ['U3'] });
    expect(b.start).toEqual([80, 1]);
    expect(b.end).toEqual([80, 1]);
    expect(await bars({}, null)).toMatchObject({ start: [0, 0], end: [0, 0] });
  });

  it('the start kept at sync (pit_boundary_facts) gives the same bars, for every viewer, as the rebuild', async () => {
    // The horizon is N's win on 06-16: the boundaries are the starts of January to June 2026
    // and of 2025 (warehouse/pit-states.ts), so 04-01 is read from the table and 04-02 is not.
    if (!cfg.ok) throw new Error('config');
    const model = getModel('pipeline_flow');
    const statement = async (params: Record<string, unknown>) => {
      const p = parseParams(model, { as_of: '2026-06-15', from: '2026-04-01', to: '2026-07-01', ...params });
      const ctx = buildContext(model, p, cfg.config);
      ctx.factsHorizon = await factsHorizon(db);
      return compile(compileModel(model, p, ctx, { all: true })).text;
    };
    // (the scope's CTE of that name is in every statement: the read is `FROM pit_boundary_facts f`)
    const reads = /FROM pit_boundary_facts f WHERE/;
    expect(await statement({})).toMatch(reads);
    expect(await statement({ from: '2026-04-02' })).not.toMatch(reads);
    const u3 = { team_ids: [], owner_ids: ['U3'] };
    const t11 = { team_ids: ['T11'], owner_ids: [] };
    const cases: [Record<string, unknown>, Scope][] = [
      [{}, { all: true }], [{}, u3], [{}, t11], [{ team: 'T12' }, { all: true }], [{ window: 'all' }, t11],
      [{ from: '2026-05-01', to: '2026-06-01' }, { all: true }], [{ from: '2026-01-01', to: '2026-04-01' }, u3]
    ];
    const kept = [];
    for (const [params, scope] of cases) kept.push(await bars(params, scope));
    process.env.COCKPIT_PIT_BOUNDARIES = '0';
    try {
      expect(await statement({})).not.toMatch(reads);
      for (const [i, [params, scope]] of cases.entries()) expect(kept[i], JSON.stringify([params, scope])).toEqual(await bars(params, scope));
    } finally {
      delete process.env.COCKPIT_PIT_BOUNDARIES;
    }
    // U3 sees I, handed to it on 05-15 (so rebuilt at 04-01, a row of the table): 80 at the start.
    expect(kept[1].start).toEqual([80, 1]);
  });

  it('rejects a half close window and an unknown bucket', async () => {
    await expect(run('pipeline_flow', { close_from: '2026-04-01' })).rejects.toThrow(/close_from and close_to/);
    await expect(run('pipeline_flow_deals', { bucket: 'sideways' })).rejects.toThrow();
  });
});

/** The model's query as one statement, its shared relation computed inline (as before 7 Dec): the reference. */
async function inline(name: string, params: Record<string, unknown>, scope: Scope | null = { all: true }) {
  if (!cfg.ok) throw new Error('config');
  const model = getModel(name);
  const p = parseParams(model, { as_of: '2026-06-15', from: '2026-04-01', to: '2026-07-01', ...params });
  const ctx = buildContext(model, p, cfg.config);
  const rows = (await db.query(compileModel(model, p, ctx, scope))).rows;
  const out = model.finalize!(rows, p as never, ctx);
  return { rows: out.rows, summary: out.summary, n: out.n };
}

describe('the waterfall and its drill compute the flow once (src/lib/server/models/shared.ts)', () => {
  const cases: Record<string, unknown>[] = [{}, { team: 'T11' }, { team: 'T12' }, { window: 'all' }, { as_of: '2026-05-01' }, { close_from: '2026-05-01', close_to: '2026-06-01' }, { from: '2026-01-01', to: '2027-01-01', as_of: '2026-06-15' }];

  it("every bar and every bucket's drill equals the statement that computes the flow inline", async () => {
    for (const c of cases) {
      const r = await run('pipeline_flow', c);
      const want = await inline('pipeline_flow', c);
      expect({ rows: r.rows, summary: r.summary, n: r.n }).toEqual(want);
      const drills: Record<string, unknown>[] = [
        ...FLOW_BUCKETS.map((bucket) => ({ bucket, limit: 4, offset: 1 })),
        { bucket: 'start', sort: 'name', dir: 'asc' },
        { bucket: 'end', sort: 'after_close_date', q: '商机' }
      ];
      for (const x of drills) {
        const q = { ...c, ...x };
        const d = await run('pipeline_flow_deals', q);
        expect({ rows: d.rows, summary: d.summary, n: d.n }).toEqual(await inline('pipeline_flow_deals', q));
      }
    }
    // A viewer's scope: its own relation, never another scope's table.
    const u3 = { team_ids: [], owner_ids: ['U3'] };
    expect((await run('pipeline_flow_deals', { bucket: 'end' }, u3)).rows.map((x) => x.opportunity_id)).toEqual(['I']);
    expect((await run('pipeline_flow', {}, u3)).rows).toEqual((await inline('pipeline_flow', {}, u3)).rows);
  }, 900_000); // ~10 s idle; 2 min seen at a load of 20

  it('calls made together build one table; a write makes the next call rebuild it (no stale answer)', async () => {
    const shared = sharedRelations(db);
    const params = { from: '2026-04-01', to: '2026-06-01' }; // a period no other test asked for
    const before = shared.builds;
    const [f, d1, d2] = await Promise.all([
      run('pipeline_flow', params),
      run('pipeline_flow_deals', { ...params, bucket: 'new' }),
      run('pipeline_flow_deals', { ...params, bucket: 'start', limit: 2 })
    ]);
    expect(shared.builds).toBe(before + 1);
    expect(f.rows.find((r) => r.bucket === 'new')).toMatchObject({ deals: d1.n, value: d1.summary?.total_value });
    expect(d2.n).toBe(f.rows.find((r) => r.bucket === 'start')!.deals);
    // Kept (the result cache is on): another bar's drill reads the same table.
    await run('pipeline_flow_deals', { ...params, bucket: 'won' });
    expect(shared.builds).toBe(before + 1);

    // M (created 04-01, 40, closing 05-10: new) is raised to 55 on 05-01: the new bar follows at once.
    const newBar = async () => (await run('pipeline_flow', params)).rows.find((r) => r.bucket === 'new');
    const was = await newBar();
    await db.write(async (tx) => {
      await tx.run(`UPDATE opportunity_versions SET valid_to = '2026-05-01' WHERE opportunity_id = 'M'`);
      await tx.run(`INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, expected_close_date, owner_id, origin)
        VALUES ('M', '2026-05-01', NULL, '初步接洽', 55, '2026-05-10', 'U1', 'source')`);
      await tx.run(`UPDATE opportunities SET amount = 55 WHERE opportunity_id = 'M'`);
    });
    try {
      const now = await newBar();
      expect(now!.value).toBe((was!.value as number) + 15);
      expect(shared.builds).toBe(before + 2);
    } finally {
      await db.write(async (tx) => {
        await tx.run(`DELETE FROM opportunity_versions WHERE opportunity_id = 'M' AND valid_from = '2026-05-01'`);
        await tx.run(`UPDATE opportunity_versions SET valid_to = NULL WHERE opportunity_id = 'M'`);
        await tx.run(`UPDATE opportunities SET amount = 40 WHERE opportunity_id = 'M'`);
      });
    }
    expect(await newBar()).toEqual(was);
  }, 300_000);

  it('with the result cache off, the calls in flight share a table and it is dropped after them', async () => {
    if (!cfg.ok) throw new Error('config');
    const off = { ...cfg.config, server: { ...cfg.config.server, result_cache_mb: 0 } };
    const shared = sharedRelations(db);
    const tables = async () => (await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE database_name = 'cockpit_shared'`)).rows[0].n;
    const settled = () => new Promise((r) => setTimeout(r, 100)); // a table is dropped just after its last call returns
    const params = { as_of: '2026-06-15', from: '2026-04-15', to: '2026-06-15' };
    const before = shared.builds;
    const [f, d] = await Promise.all([
      runModel(db, off, 'pipeline_flow', params, { all: true }),
      runModel(db, off, 'pipeline_flow_deals', { ...params, bucket: 'end' }, { all: true })
    ]);
    expect(shared.builds).toBe(before + 1);
    expect(d.n).toBe(f.rows.find((r) => r.bucket === 'end')!.deals);
    await settled();
    expect(await tables()).toBe(0); // nothing is kept with the cache off
    await runModel(db, off, 'pipeline_flow', params, { all: true });
    expect(shared.builds).toBe(before + 2); // built again
    await settled();
    expect(await tables()).toBe(0);
  }, 300_000);
});
