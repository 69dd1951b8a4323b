/**
 * A call's category overrides (src/lib/server/forecast-call/calls.ts): a rep overrides only
 * their own open deals, a manager only their team's; a refusal stores nothing and is audited;
 * the overrides are kept with each submission (history) and change the category roll-up beside
 * the rep's call and their team's — by exactly the overridden amounts (worked out here from the
 * oracle copy with plain SQL), never the system's forecast.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_OF, lit, sign, startSecServer, type SecServer } from './helpers';

let srv: SecServer;
let team: string;
let rep: string;
let other: string;
type Deal = { opportunity_id: string; amount: number; forecast_category: string };
let pipe: Deal; // one of rep's open pipeline deals this quarter
let commitDeal: Deal; // one of rep's open commit deals this quarter
let othersDeal: Deal; // an open deal of another rep of the same team
let outsideDeal: Deal; // an open deal outside the team
const period = { period_from: '2026-04-01', period_to: '2026-07-01' };
const Q = `status = 'open' AND expected_close_date >= DATE '2026-04-01' AND expected_close_date < DATE '2026-07-01'`;

beforeAll(async () => {
  srv = await startSecServer();
  // A leaf team with a rep who has an open pipeline deal and an open commit deal this quarter, and a teammate with an open deal.
  const [r] = await srv.oracle(`WITH q AS (SELECT o.*, u.team_id FROM opportunities o JOIN users u ON u.user_id = o.owner_id WHERE ${Q.replaceAll('status', 'o.status').replaceAll('expected_close_date', 'o.expected_close_date')}),
      reps AS (SELECT owner_id, team_id FROM q GROUP BY ALL
        HAVING count(*) FILTER (WHERE forecast_category = 'pipeline') > 0 AND count(*) FILTER (WHERE forecast_category = 'commit') > 0)
    SELECT r.owner_id, r.team_id FROM reps r WHERE EXISTS (SELECT 1 FROM q WHERE q.team_id = r.team_id AND q.owner_id <> r.owner_id)
    ORDER BY 1 LIMIT 1`);
  rep = r.owner_id as string;
  team = r.team_id as string;
  const deal = async (where: string) =>
    (await srv.oracle(`SELECT opportunity_id, amount::DOUBLE AS amount, forecast_category FROM opportunities WHERE ${Q} AND ${where} ORDER BY amount DESC, opportunity_id LIMIT 1`))[0] as unknown as Deal;
  pipe = await deal(`owner_id = ${lit(rep)} AND forecast_category = 'pipeline'`);
  commitDeal = await deal(`owner_id = ${lit(rep)} AND forecast_category = 'commit'`);
  othersDeal = await deal(`owner_id <> ${lit(rep)} AND owner_id IN (SELECT user_id FROM users WHERE team_id = ${lit(team)})`);
  other = (await srv.oracle(`SELECT owner_id FROM opportunities WHERE opportunity_id = ${lit(othersDeal.opportunity_id)}`))[0].owner_id as string;
  outsideDeal = await deal(`owner_id NOT IN (SELECT user_id FROM users WHERE team_id = ${lit(team)})`);
}, 300_000);
afterAll(() => srv?.stop());

const post = (token: string, body: unknown) =>
  fetch(`${srv.base}/api/forecast-call`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
type Row = { level: string; subject: string; commit: number | null; overrides_n: number; category_commit: number; category_best_case: number };
const get = async (token: string, extra = '') =>
  (await (await fetch(`${srv.base}/api/forecast-call?from=2026-04-01&to=2026-07-01&as_of=${AS_OF}${extra}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
    rows: Row[];
    deals?: { opportunity_id: string; system_category: string; override: string | null; override_by: string | null }[];
    history?: { commit: number; overrides: { opportunity_id: string; category: string; system_category: string }[] }[];
  };
const model = async (token: string, filter: string) =>
  (await (await fetch(`${srv.base}/api/models/forecast?from=2026-04-01&to=2026-07-01&as_of=${AS_OF}&${filter}`, { headers: { authorization: `Bearer ${token}` } })).json()).rows[0] as {
    commit: number;
    best_case: number;
    forecast: number;
  };

describe('forecast call category overrides', () => {
  it('a rep overrides their own open deals inside their call; the roll-up beside it moves by exactly those amounts', async () => {
    const t = await sign({ sub: rep, role: 'rep' });
    const before = (await get(t)).rows.find((r) => r.subject === rep)!;
    const system = await model(t, `owner=${rep}`);
    // Nothing overridden yet: the roll-up is the system's categories.
    expect(before.category_commit).toBeCloseTo(system.commit, 2);
    const res = await post(t, {
      ...period,
      level: 'rep',
      subject: rep,
      commit: 500000,
      best_case: 800000,
      overrides: [
        { opportunity_id: pipe.opportunity_id, category: 'commit' },
        { opportunity_id: commitDeal.opportunity_id, category: 'omitted' }
      ]
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const after = await get(t, `&deals=rep:${rep}&history=rep:${rep}`);
    const row = after.rows.find((r) => r.subject === rep)!;
    // pipeline → commit adds its amount to commit and best case; commit → omitted takes its amount from both.
    expect(row.overrides_n).toBe(2);
    expect(row.category_commit).toBeCloseTo(system.commit + pipe.amount - commitDeal.amount, 2);
    expect(row.category_best_case).toBeCloseTo(system.best_case + pipe.amount - commitDeal.amount, 2);
    // The system's forecast is not touched by a call.
    expect((await model(t, `owner=${rep}`)).forecast).toBe(system.forecast);
    const d = new Map(after.deals!.map((x) => [x.opportunity_id, x]));
    expect(d.get(pipe.opportunity_id)).toMatchObject({ system_category: 'pipeline', override: 'commit', override_by: 'rep' });
    expect(d.get(commitDeal.opportunity_id)).toMatchObject({ system_category: 'commit', override: 'omitted' });
    expect(after.history![0].overrides.map((o) => [o.opportunity_id, o.system_category, o.category]).sort()).toEqual(
      [
        [pipe.opportunity_id, 'pipeline', 'commit'],
        [commitDeal.opportunity_id, 'commit', 'omitted']
      ].sort()
    );
  });

  it('refuses an override of a deal that is not the rep’s own, and stores nothing of that call', async () => {
    const t = await sign({ sub: rep, role: 'rep' });
    const n = (await get(t)).rows.find((r) => r.subject === rep)!;
    for (const id of [othersDeal.opportunity_id, outsideDeal.opportunity_id, 'NO-SUCH-DEAL']) {
      const res = await post(t, { ...period, level: 'rep', subject: rep, commit: 1, best_case: 2, overrides: [{ opportunity_id: pipe.opportunity_id, category: 'best_case' }, { opportunity_id: id, category: 'commit' }] });
      expect(res.status).toBe(403);
      expect((await res.json()).error).toContain(id);
    }
    const again = (await get(t, `&history=rep:${rep}`));
    expect(again.rows.find((r) => r.subject === rep)).toMatchObject({ commit: n.commit, overrides_n: 2 });
    expect(again.history).toHaveLength(1);
    // The teammate's deal is not visible to the rep either.
    expect((await get(t, `&deals=rep:${other}`)).deals).toEqual([]);
  });

  it('a call without overrides keeps the last ones; an empty list clears them; the history keeps every set', async () => {
    const t = await sign({ sub: rep, role: 'rep' });
    expect((await post(t, { ...period, level: 'rep', subject: rep, commit: 510000, best_case: 800000 })).status).toBe(200);
    expect((await get(t)).rows.find((r) => r.subject === rep)!.overrides_n).toBe(2);
    expect((await post(t, { ...period, level: 'rep', subject: rep, commit: 520000, best_case: 800000, overrides: [] })).status).toBe(200);
    const cleared = await get(t, `&history=rep:${rep}`);
    const row = cleared.rows.find((r) => r.subject === rep)!;
    expect(row.overrides_n).toBe(0);
    expect(row.category_commit).toBeCloseTo((await model(t, `owner=${rep}`)).commit, 2);
    expect(cleared.history!.map((h) => [h.commit, h.overrides.length])).toEqual([
      [520000, 0],
      [510000, 2],
      [500000, 2]
    ]);
    // Back to one override for the manager's view below.
    expect((await post(t, { ...period, level: 'rep', subject: rep, commit: 530000, best_case: 800000, overrides: [{ opportunity_id: pipe.opportunity_id, category: 'commit' }] })).status).toBe(200);
  });

  it('a manager overrides their team’s deals in the team’s call, not another team’s; the team roll-up carries the reps’ overrides', async () => {
    const m = await sign({ sub: 'mgr', role: 'manager', scope: { team_ids: [team] } });
    const system = await model(m, `team=${team}`);
    const view = await get(m);
    // The rep's override (pipeline → commit) is in the team's roll-up.
    const teamRow = view.rows.find((r) => r.level === 'team' && r.subject === team)!;
    expect(teamRow.category_commit).toBeCloseTo(system.commit + pipe.amount, 2);
    const outside = await post(m, { ...period, level: 'team', subject: team, commit: 1, best_case: 2, overrides: [{ opportunity_id: outsideDeal.opportunity_id, category: 'commit' }] });
    expect(outside.status).toBe(403);
    // The team's own override of the rep's deal wins over the rep's; a teammate's deal too.
    const ok = await post(m, {
      ...period,
      level: 'team',
      subject: team,
      commit: 1000000,
      best_case: 1200000,
      overrides: [
        { opportunity_id: pipe.opportunity_id, category: 'pipeline' },
        { opportunity_id: othersDeal.opportunity_id, category: 'omitted' }
      ]
    });
    expect(ok.status).toBe(200);
    const after = await get(m, `&deals=team:${team}`);
    const row = after.rows.find((r) => r.level === 'team' && r.subject === team)!;
    // pipe back to pipeline (its system category: no change, and it replaces the rep's commit); the teammate's deal out of commit if it was in.
    expect(row.overrides_n).toBe(2);
    expect(row.category_commit).toBeCloseTo(system.commit - (othersDeal.forecast_category === 'commit' ? othersDeal.amount : 0), 2);
    expect(after.deals!.find((d) => d.opportunity_id === pipe.opportunity_id)).toMatchObject({ override: 'pipeline', override_by: 'team' });
    // The rep's own row still shows the rep's call.
    expect(after.rows.find((r) => r.level === 'rep' && r.subject === rep)!.overrides_n).toBe(1);
    // A rep may not override in a team's call at all.
    const t = await sign({ sub: rep, role: 'rep' });
    expect((await post(t, { ...period, level: 'team', subject: team, commit: 1, best_case: 2, overrides: [{ opportunity_id: pipe.opportunity_id, category: 'commit' }] })).status).toBe(403);
  });

  it('every refused override is audited with the deal it named', async () => {
    await srv.kill();
    const inst = await DuckDBInstance.create(srv.dbFile, { access_mode: 'READ_ONLY' });
    const conn = await inst.connect();
    const refused = (await conn.runAndReadAll(`SELECT actor, reason FROM forecast_call_audit WHERE outcome = 'refused' ORDER BY logged_at`)).getRowObjectsJson();
    const stored = (await conn.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM forecast_call_overrides`)).getRowObjectsJson();
    conn.closeSync();
    inst.closeSync();
    // rep: teammate's deal, outside deal, unknown deal, a team's call; manager: outside deal
    expect(refused).toHaveLength(5);
    expect(refused.filter((r) => String(r.reason).includes('may override only its own open deals'))).toHaveLength(4);
    expect(refused.some((r) => r.actor === rep && String(r.reason).includes(othersDeal.opportunity_id))).toBe(true);
    // 2 + 2 (carried over) + 0 + 1 (rep) + 2 (team)
    expect(stored).toEqual([{ n: 7 }]);
  });
});
