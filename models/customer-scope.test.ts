/**
 * Row-level scope of the customer models (the leak fixed in customer_list by 23611b0, checked in
 * every model that shows a customer's owner): a restricted viewer sees a customer owned by
 * someone outside the scope when one of the viewer's deals is with it; that customer's owner
 * (id, name, team) must not be shown, grouped on or filterable.
 *
 * History fixture (tests/helpers/fixture-history.ts): C4 上海丁公司 is owned by U5 陈静 (team T1
 * 华东, the region above T11) and has deals of U1 张伟 (L2, lost) and U2 王芳 (O5, open), both of
 * T11 上海组, and U5's own W6 (won). Viewers: the rep U1 (owner_ids [U1]) and the manager of
 * T11 (team_ids [T11]: U1 and U2; T11 has no subteam, U5 is in T1, outside it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFixtureDb, runOnFixture } from '../tests/helpers/fixture-history';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

let db: Database;
beforeAll(async () => (db = await historyFixtureDb()));
afterAll(() => db.close());

const VIEWERS: [string, Scope, string[]][] = [
  ['rep U1', { team_ids: [], owner_ids: ['U1'] }, ['U1']],
  ['manager of T11', { team_ids: ['T11'], owner_ids: [] }, ['U1', 'U2']]
];

describe.each(VIEWERS)('%s: C4 (owned by U5, outside the scope) through a deal of the scope', (_name, scope, visible) => {
  it('customer 360: C4 is found, its owner and the owner’s team are not shown', async () => {
    const r = await runOnFixture(db, 'customer', { id: 'C4' }, scope);
    const h = r.summary?.customer as Record<string, unknown>;
    expect(h).toMatchObject({ customer_id: 'C4', name: '上海丁公司' });
    expect(h.owner_id).toBeNull();
    expect(h.owner_name).toBeNull();
    expect(h.team_id).toBeNull();
    expect(h.team_name).toBeNull();
    // Its own customers keep their owner: C1 is U1's.
    const c1 = (await runOnFixture(db, 'customer', { id: 'C1' }, scope)).summary?.customer as Record<string, unknown>;
    expect(c1).toMatchObject({ owner_id: 'U1', owner_name: '张伟', team_id: 'T11', team_name: '上海组' });
  });

  it('customer_profile grid_customers: C4 listed without its owner', async () => {
    const r = await runOnFixture(db, 'customer_profile', { view: 'grid_customers', limit: 1000 }, scope);
    const c4 = r.rows.find((x) => x.customer_id === 'C4');
    expect(c4).toBeDefined();
    expect(c4).toMatchObject({ owner_id: null, owner_name: null });
    for (const row of r.rows) if (row.owner_id !== null) expect(visible).toContain(row.owner_id);
  });

  it('customer_list: C4 listed without its owner (the 23611b0 fix, kept as a guard)', async () => {
    const r = await runOnFixture(db, 'customer_list', { segment: 'all', period: 'all', limit: 1000 }, scope);
    expect(r.rows.find((x) => x.customer_id === 'C4')).toMatchObject({ owner_id: null, owner_name: null });
    for (const row of r.rows) if (row.owner_id !== null) expect(visible).toContain(row.owner_id);
  });

  it('ltv by owner: no segment is the outside owner U5', async () => {
    const r = await runOnFixture(db, 'ltv', { group_by: 'owner', period: 'all' }, scope);
    const keys = r.rows.map((x) => x.group_key);
    expect(keys).not.toContain('U5');
    for (const k of keys) if (k !== null) expect(visible).toContain(k);
  });

  it('filtering on the outside owner finds nothing (the filter is no side channel)', async () => {
    const ltv = await runOnFixture(db, 'ltv', { owner: 'U5', period: 'all' }, scope);
    expect(ltv.rows.reduce((s, x) => s + (x.customers as number), 0)).toBe(0);
    const grid = await runOnFixture(db, 'customer_profile', { view: 'grid_customers', owner: 'U5', limit: 1000 }, scope);
    expect(grid.rows).toEqual([]);
    const prof = await runOnFixture(db, 'customer_profile', { by: 'region', owner: 'U5', period: 'all' }, scope);
    expect(prof.n).toBe(0);
    const list = await runOnFixture(db, 'customer_list', { segment: 'all', owner: 'U5', period: 'all', limit: 1000 }, scope);
    expect(list.rows).toEqual([]);
  });
});
