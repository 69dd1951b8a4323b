/**
 * The point-in-time state has two paths (models/common/pit.ts, `dealStatesAt`): deals whose
 * history settled before the instant are read from `deal_facts.pit_*`, the others are rebuilt
 * from `opportunity_versions`. Both must give the one answer:
 * - on random histories (stage walks, amount, close-date and owner changes, unknown values,
 *   per-stage-date versions, ended histories, versions after the report date), every deal's
 *   state at random instants — before, between and after the changes — equals an independent
 *   computation in TypeScript from the raw rows, for both unknown-value rules, and equals the
 *   answer with every deal forced through the rebuild;
 * - on the demo company, the forecast (configured, learned, statistical), grouped, and the
 *   pipeline flow, at the report date and at past dates, are the same with the fast path as
 *   with every deal rebuilt.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import { runModel, stageInfos } from '../src/lib/server/models/run';
import { DEFAULT_STAGES } from '../src/lib/server/config/schema';
import { generateDemo } from '../src/lib/server/demo/generate';
import { join, sql, type Sql } from '../src/lib/server/db/sql';
import { ensureFacts } from '../warehouse/facts';
import { dealStatesAt, type UnknownRule } from './common/pit';

const cfg = parseConfig({});
if (!cfg.ok) throw new Error('default config invalid');
const config = cfg.config;
const stages = stageInfos(config);
const KIND = new Map(DEFAULT_STAGES.map((s) => [s.name, s.outcome ?? 'open']));
const PROB = new Map(DEFAULT_STAGES.map((s) => [s.name, s.probability]));
const STAGES = DEFAULT_STAGES.map((s) => s.name);
const USERS = ['U1', 'U2', 'U3'];
const TEAM: Record<string, string> = { U1: 'T1', U2: 'T2', U3: 'T2' };

const DAY0 = Date.UTC(2026, 0, 1);
const day = (d: number) => new Date(DAY0 + d * 86_400_000).toISOString().slice(0, 10);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 5 });
const q = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`);

const stagesRel = sql`stages AS (SELECT * FROM (VALUES ${join(
  stages.map((s) => sql`(${s.name}, ${s.index}::INTEGER, ${s.kind}, ${s.probability}::DOUBLE, ${s.forecast_category})`)
)}) t(name, idx, kind, probability, forecast_category))`;

/** Every deal's state at `t` through `dealStatesAt`; `rebuild` sends every deal through the versions. */
async function statesAt(db: Database, t: string, unknown: UnknownRule, rebuild: boolean) {
  // Rebuilding every deal: no deal settled, and every version in version_facts under the
  // key of a deal never settled (its copy of pit_settled_at, warehouse/facts.ts).
  const facts = rebuild ? sql`SELECT * REPLACE (NULL::TIMESTAMP AS pit_settled_at) FROM main.deal_facts` : sql`SELECT * FROM main.deal_facts`;
  const versions = rebuild ? sql`SELECT * REPLACE ('infinity'::TIMESTAMP AS settled_key) FROM main.version_facts` : sql`SELECT * FROM main.version_facts`;
  const q: Sql = sql`WITH users AS (SELECT * FROM main.users), deal_facts AS (${facts}), stage_facts AS (SELECT * FROM main.stage_facts),
      opportunity_versions AS (SELECT * FROM main.opportunity_versions), version_facts AS (${versions}), ${stagesRel}
    SELECT opportunity_id AS id, stage, stage_kind AS kind, amount::DOUBLE AS amount, strftime(expected_close_date, '%Y-%m-%d') AS close,
      owner_id AS owner, owner_team AS team, win_probability AS p, strftime(closed_at, '%Y-%m-%d %H:%M') AS closed_at,
      strftime(stage_entered_at, '%Y-%m-%d %H:%M') AS entered
    FROM ${dealStatesAt(sql`${t}::TIMESTAMP`, { unknown, stageEntered: true })} s ORDER BY opportunity_id`;
  return (await db.query<Record<string, unknown>>(q)).rows;
}

const historyArb = fc.array(
  fc.record({
    created: fc.integer({ min: -40, max: 160 }),
    steps: fc.array(
      fc.record({
        gap: fc.integer({ min: 1, max: 25 }),
        stage: fc.constantFrom(...STAGES, STAGES[0], STAGES[1]),
        amount: maybe(fc.integer({ min: 1, max: 50 }).map((x) => x * 1000)),
        close: maybe(fc.integer({ min: 0, max: 150 })),
        owner: maybe(fc.constantFrom(...USERS)),
        stageDates: fc.boolean()
      }),
      { minLength: 1, maxLength: 6 }
    ),
    // The history ended (the deal left the source) this many days after its last change.
    ended: maybe(fc.integer({ min: 0, max: 30 })),
    closedAt: fc.integer({ min: -20, max: 20 })
  }),
  { minLength: 8, maxLength: 20 }
);
type History = typeof historyArb extends fc.Arbitrary<infer T> ? T : never;
type V = { vf: number; vt: number | null; stage: string; amount: number | null; close: string | null; owner: string | null; origin: string };
type D = { id: string; owner: string; stage: string; amount: number; close: string; closedAt: number | null; versions: V[] };

function build(h: History): D[] {
  return h.map((d, i) => {
    let at = d.created;
    const versions: V[] = d.steps.map((s, k) => {
      if (k > 0) at += s.gap;
      return { vf: at, vt: null, stage: s.stage, amount: s.amount, close: s.close === null ? null : day(d.created + s.close), owner: s.owner, origin: s.stageDates && k < d.steps.length - 1 ? 'stage_dates' : 'source' };
    });
    versions.forEach((v, k) => (v.vt = k + 1 < versions.length ? versions[k + 1].vf : d.ended === null ? null : at + d.ended));
    const last = versions[versions.length - 1];
    const kind = KIND.get(last.stage)!;
    return { id: `D${String(i + 1).padStart(2, '0')}`, owner: last.owner ?? 'U1', stage: last.stage, amount: last.amount ?? 7000, close: day(d.created + 90), closedAt: kind === 'open' ? null : last.vf + d.closedAt, versions };
  });
}

async function load(db: Database, deals: D[]) {
  await db.write(async (tx) => {
    for (const t of ['opportunity_versions', 'opportunities', 'users', 'teams']) await tx.run(`DELETE FROM ${t}`);
    await tx.run(`INSERT INTO teams VALUES ('T1', 'T1', NULL, NULL), ('T2', 'T2', NULL, NULL)`);
    await tx.run(`INSERT INTO users (user_id, name, team_id) VALUES ${USERS.map((u) => `(${q(u)}, ${q(u)}, ${q(TEAM[u])})`).join(', ')}`);
    // One multi-row INSERT per table (the same rows as one statement per row, a fraction of the cost).
    await tx.run(`INSERT INTO opportunities (opportunity_id, name, owner_id, stage, status, amount, expected_close_date, created_at, closed_at)
      VALUES ${deals
        .map((d) => `(${q(d.id)}, ${q(d.id)}, ${q(d.owner)}, ${q(d.stage)}, ${q(KIND.get(d.stage)!)}, ${d.amount}, ${q(d.close)}, ${q(day(d.versions[0].vf))},
                ${d.closedAt === null ? 'NULL' : q(day(d.closedAt))})`)
        .join(',\n')}`);
    await tx.run(`INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, expected_close_date, owner_id, origin)
      VALUES ${deals
        .flatMap((d) => d.versions.map((v) => `(${q(d.id)}, ${q(day(v.vf))}, ${v.vt === null ? 'NULL' : q(day(v.vt))}, ${q(v.stage)}, ${v.amount ?? 'NULL'}, ${q(v.close)}, ${q(v.owner)}, ${q(v.origin)})`))
        .join(',\n')}`);
  });
  await ensureFacts(db, stages);
}

/** The state at day `t` (its start), computed from the raw rows without the product's SQL. */
function expected(deals: D[], t: number, unknown: UnknownRule) {
  const out: Record<string, unknown>[] = [];
  for (const d of deals) {
    const at = d.versions.findIndex((v) => v.vf < t && (v.vt === null || v.vt >= t));
    if (at < 0) continue;
    const v = d.versions[at];
    const before = d.versions.slice(0, at + 1);
    const lastKnown = <K extends 'amount' | 'close' | 'owner'>(k: K) => [...before].reverse().find((x) => x[k] !== null)?.[k] ?? null;
    const kind = KIND.get(v.stage)!;
    const owner = unknown === 'carry' ? ((lastKnown('owner') as string | null) ?? d.owner) : (v.owner ?? d.owner);
    const amount = unknown === 'carry' ? ((lastKnown('amount') as number | null) ?? d.amount) : kind === 'open' && v.origin === 'stage_dates' ? null : v.amount;
    const close = unknown === 'carry' ? ((lastKnown('close') as string | null) ?? d.close) : v.close;
    let first = at;
    while (first > 0 && d.versions[first - 1].stage === v.stage) first--;
    const closed = kind === 'open' ? null : kind === KIND.get(d.stage) && d.closedAt !== null && d.closedAt < t ? d.closedAt : v.vf;
    out.push({
      id: d.id, stage: v.stage, kind, amount, close, owner, team: TEAM[owner], p: PROB.get(v.stage),
      closed_at: closed === null ? null : `${day(closed)} 00:00`, entered: `${day(d.versions[first].vf)} 00:00`
    });
  }
  return out.sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1));
}

describe('point-in-time states: settled deals read from deal_facts, the others rebuilt', () => {
  let db: Database;
  beforeAll(async () => (db = await Database.open(':memory:')));
  afterAll(() => db.close());

  it('equal an independent rebuild from the raw rows, and the full rebuild, at any instant, under both rules', async () => {
    let settledSeen = 0;
    let rebuiltSeen = 0;
    await fc.assert(
      fc.asyncProperty(historyArb, fc.array(fc.integer({ min: -30, max: 320 }), { minLength: 3, maxLength: 5 }), async (h, instants) => {
        const deals = build(h);
        await load(db, deals);
        const last = Math.max(...deals.flatMap((d) => d.versions.map((v) => Math.max(v.vf, v.vt ?? v.vf))));
        for (const t of [...instants, last + 1]) {
          for (const rule of ['as_recorded', 'carry'] as const) {
            const fast = await statesAt(db, day(t), rule, false);
            expect(fast, `${rule} at ${day(t)}`).toEqual(expected(deals, t, rule));
            expect(await statesAt(db, day(t), rule, true), `${rule} at ${day(t)}, all rebuilt`).toEqual(fast);
          }
          const n = (await db.query<{ s: number; r: number }>(`SELECT count(*) FILTER (WHERE pit_settled_at < '${day(t)}')::INTEGER AS s,
              count(*) FILTER (WHERE NOT coalesce(pit_settled_at < '${day(t)}', false))::INTEGER AS r FROM deal_facts`)).rows[0];
          settledSeen += n.s;
          rebuiltSeen += n.r;
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 25), seed: 4242 }
    );
    // Both paths were exercised.
    expect(settledSeen).toBeGreaterThan(100);
    expect(rebuiltSeen).toBeGreaterThan(100);
  }, 300_000);
});

describe('the demo company: the fast path changes no answer', () => {
  let db: Database;
  beforeAll(async () => {
    db = await Database.open(':memory:');
    await generateDemo(db, { scale: 'small', seed: 11, asOf: '2026-06-15', stages });
    await ensureFacts(db, stages);
    // The settled instants as built, to put back after each forced rebuild (see `both`).
    await db.write((tx) => tx.run(`CREATE TABLE settled_as_built AS SELECT opportunity_id, pit_settled_at FROM deal_facts`), { derived: true });
  }, 120_000);
  afterAll(() => db.close());

  /** Runs a model twice: as is, then with every deal's settled instant removed (all rebuilt). */
  async function both(name: string, params: Record<string, unknown>) {
    // The fast path reads the settled instants as built (put back after the previous call).
    const moved = await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM deal_facts f JOIN settled_as_built s USING (opportunity_id)
      WHERE f.pit_settled_at IS DISTINCT FROM s.pit_settled_at`);
    expect(moved.rows[0].n).toBe(0);
    const fast = await runModel(db, config, name, params, { all: true });
    await db.write(async (tx) => {
      await tx.run(`UPDATE deal_facts SET pit_settled_at = NULL`);
      await tx.run(`UPDATE version_facts SET settled_key = 'infinity'::TIMESTAMP`);
    }, { derived: true });
    try {
      const slow = await runModel(db, config, name, params, { all: true });
      return { fast, slow };
    } finally {
      // Put the settled instants back as the facts were built (rebuilding all the facts each
      // time cost more than the models; the next call checks that they are back).
      await db.write(
        (tx) => tx.run(`UPDATE deal_facts f SET pit_settled_at = s.pit_settled_at FROM settled_as_built s WHERE s.opportunity_id = f.opportunity_id`),
        { derived: true }
      );
    }
  }

  /** Deep equality with numbers equal within 1e-9 relative (the same sums, added in another order). */
  function expectClose(a: unknown, b: unknown, path = '') {
    if (typeof a === 'number' && typeof b === 'number') {
      expect(Math.abs(a - b), `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a)));
    } else if (a && b && typeof a === 'object' && typeof b === 'object') {
      expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a as object).sort());
      for (const k of Object.keys(a as object)) expectClose((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    } else expect(b, path).toEqual(a);
  }

  const settled = async (t: string) =>
    (await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM deal_facts WHERE pit_settled_at < '${t}'`)).rows[0].n;

  it('most deals are settled at the report date, far fewer at a past date', async () => {
    const all = (await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM deal_facts`)).rows[0].n;
    expect(await settled('2026-06-16')).toBeGreaterThan(all * 0.9);
    expect(await settled('2026-02-01')).toBeLessThan(await settled('2026-06-16'));
  });

  for (const [label, params] of [
    ['forecast, configured, at the report date', { as_of: '2026-06-15' }],
    ['forecast, learned, by team, at the report date', { as_of: '2026-06-15', probabilities: 'learned', group_by: 'team' }],
    ['forecast, statistical, by owner, at a past date', { as_of: '2026-01-31', probabilities: 'statistical', period: 'this_quarter', group_by: 'owner' }],
    ['forecast, configured, by stage, at a past date', { as_of: '2026-03-10', group_by: 'stage' }]
  ] as const) {
    it(label, async () => {
      const { fast, slow } = await both('forecast', params);
      expect(fast.rows.length).toBeGreaterThan(0);
      expectClose(fast.rows, slow.rows, 'rows');
      expectClose(fast.summary, slow.summary, 'summary');
    }, 120_000);
  }

  it('pipeline flow, last quarter and this quarter, by team', async () => {
    for (const period of ['last_quarter', 'this_quarter']) {
      const { fast, slow } = await both('pipeline_flow', { as_of: '2026-06-15', period, team: 'R1' });
      expect(fast.rows).toEqual(slow.rows);
      const { fast: f2, slow: s2 } = await both('pipeline_flow_deals', { as_of: '2026-06-15', period, bucket: 'won', limit: 1000 });
      expect(f2.rows).toEqual(s2.rows);
    }
  }, 120_000);
});
