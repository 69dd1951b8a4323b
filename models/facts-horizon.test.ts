/**
 * The listings leave the "events after the report date" paths out of their statement when no
 * deal has any (issue 15.3: planning them cost more than running them). The two statements must
 * give the same answer: the model as the runner runs it (with `ctx.factsHorizon`) against the
 * same model compiled without a horizon (every path in), on the hand-built fixture
 * (tests/helpers/fixture.ts) plus the activities of models/deals.test.ts — the latest event of
 * any deal is U2's visit on C3 on 2026-05-28 09:00 (tied to no deal, so it counts for O4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb, FIXTURE_AS_OF } from '../tests/helpers/fixture';
import { buildContext, compileModel, getModel, parseParams, runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import { ensureFacts, factsHorizon } from '../warehouse/facts';
import { lateEventsPossible } from './common/risk';

const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const config = cfg.config;
let db: Database;
beforeAll(async () => {
  db = await fixtureDb();
  await db.write((tx) =>
    tx.run(`INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary) VALUES
      ('A1', 'C1', 'O7', 'U1', 'call', '2026-05-10 10:00:00', '电话'),
      ('A2', 'C2', 'O3', 'U3', 'visit', '2026-05-25 09:00:00', '拜访'),
      ('A3', 'C3', NULL, 'U2', 'call', '2026-05-12 09:00:00', '客户回访'),
      ('A5', 'C3', NULL, 'U2', 'visit', '2026-05-28 09:00:00', '报告日之后的客户拜访')`)
  );
}, 60_000);
afterAll(() => db.close());

/** The model as the runner runs it, and compiled with every path (no horizon), each finalized. */
async function both(name: string, raw: Record<string, unknown>) {
  const viaRunner = await runModel(db, config, name, raw, { all: true });
  const m = getModel(name);
  const p = parseParams(m, raw);
  const ctx = buildContext(m, p, config);
  expect(ctx.factsHorizon).toBeUndefined();
  const res = await db.query(compileModel(m, p, ctx, { all: true }));
  const full = m.finalize ? m.finalize(res.rows, p as never, ctx) : { rows: res.rows, summary: undefined };
  return { short: { rows: viaRunner.rows, summary: viaRunner.summary }, full: { rows: full.rows, summary: full.summary } };
}

describe('the facts horizon', () => {
  it('is the latest event of any deal: the customer visit on 05-28 09:00', async () => {
    await ensureFacts(db, buildContext(getModel('deals'), {}, config).stages);
    expect(await factsHorizon(db)).toBe('2026-05-28 09:00:00.000000');
  });

  it('a report date up to 05-27 may see later events; from 05-28 on none', async () => {
    const h = '2026-05-28 09:00:00.000000';
    expect(lateEventsPossible({ asOf: FIXTURE_AS_OF, factsHorizon: h })).toBe(true);
    expect(lateEventsPossible({ asOf: '2026-05-27', factsHorizon: h })).toBe(true); // ends 05-28 00:00, before 09:00
    expect(lateEventsPossible({ asOf: '2026-05-28', factsHorizon: h })).toBe(false); // ends 05-29 00:00
    expect(lateEventsPossible({ asOf: '2026-05-28', factsHorizon: null })).toBe(false);
    expect(lateEventsPossible({ asOf: '2026-05-28' })).toBe(true); // not looked up: every path
  });

  for (const [name, params] of [
    ['deals', {}],
    ['deals', { sort: 'days_idle' }],
    ['deals', { risk: 'any', sort: 'risk_count' }],
    ['deals', { stalled: 'true' }],
    ['cycle_time', { view: 'stalled' }],
    ['cycle_time', { view: 'stalled', owner: 'U2', limit: 1 }],
    ['deals', { status: 'open', sort: 'last_activity_at', dir: 'asc' }],
    ['deal', { id: 'O4' }],
    ['deal', { id: 'O7' }],
    ['deal_risk', {}]
  ] as [string, Record<string, unknown>][]) {
    it(`${name} ${JSON.stringify(params)} as of 2026-12-31 (no later event): the short statement answers as the full one`, async () => {
      const { short, full } = await both(name, { as_of: '2026-12-31', ...params });
      expect(short).toEqual(full);
    }, 30_000);
  }

  it('a later write moves the horizon: an activity on O4 in 2027 takes the full path again and does not count as of 2026-12-31', async () => {
    const before = await runModel(db, config, 'deals', { as_of: '2026-12-31', status: 'open' }, { all: true });
    await db.write((tx) =>
      tx.run(`INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary)
              VALUES ('A9', 'C3', 'O4', 'U2', 'call', '2027-03-01 10:00:00', '以后的电话')`)
    );
    const after = await runModel(db, config, 'deals', { as_of: '2026-12-31', status: 'open' }, { all: true });
    expect(await factsHorizon(db)).toBe('2027-03-01 10:00:00.000000');
    // O4's last activity as of 2026-12-31 is still U2's 05-28 visit on C3: 2026-05-28 → 12-31 = 217 days.
    const o4 = (r: typeof after) => r.rows.find((x) => x.opportunity_id === 'O4');
    expect(o4(after)?.days_idle).toBe(217);
    expect(after.rows).toEqual(before.rows);
    const { short, full } = await both('deals', { as_of: '2026-12-31', status: 'open' });
    expect(short).toEqual(full);
  }, 60_000);
});
