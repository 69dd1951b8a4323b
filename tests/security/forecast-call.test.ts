/**
 * The forecast call's writes are authorised by the token, not the request: a rep writes only
 * their own call, a manager only their teams' (not a rep's), every attempt is audited, and the
 * calls survive a restart. Read back through GET with the team roll-up and the system forecast.
 * Users and teams are picked with plain SQL on the oracle copy.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_OF, lit, sign, startSecServer, type SecServer } from './helpers';

let srv: SecServer;
let rep: string;
let other: string;
let team: string;
let outsideTeam: string;
const period = { period_from: '2026-04-01', period_to: '2026-07-01' };

beforeAll(async () => {
  srv = await startSecServer();
  // A leaf team with two reps; another team not below it.
  const [t] = await srv.oracle(`SELECT team_id FROM users GROUP BY team_id HAVING count(*) >= 2 ORDER BY team_id LIMIT 1`);
  team = t.team_id as string;
  const reps = await srv.oracle(`SELECT user_id FROM users WHERE team_id = ${lit(team)} ORDER BY user_id LIMIT 2`);
  rep = reps[0].user_id as string;
  other = reps[1].user_id as string;
  const [o] = await srv.oracle(`SELECT team_id FROM teams WHERE team_id <> ${lit(team)} AND team_id NOT IN (SELECT parent_id FROM teams WHERE parent_id IS NOT NULL)
    ORDER BY team_id LIMIT 1`);
  outsideTeam = o.team_id as string;
}, 300_000);
afterAll(() => srv?.stop());

const post = (token: string, body: unknown) =>
  fetch(`${srv.base}/api/forecast-call`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const get = async (token: string, extra = '') =>
  (await (await fetch(`${srv.base}/api/forecast-call?from=2026-04-01&to=2026-07-01&as_of=${AS_OF}${extra}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
    rows: { level: string; subject: string; commit: number | null; best_case: number | null; rollup_commit: number | null; may_write: boolean; submissions: number; system_forecast: number }[];
    history?: { commit: number; submitted_by: string }[];
  };

describe('forecast call writes', () => {
  it('a rep writes their own call, and only theirs', async () => {
    const t = await sign({ sub: rep, role: 'rep' });
    expect((await post(t, { ...period, level: 'rep', subject: rep, commit: 100000, best_case: 150000 })).status).toBe(200);
    expect((await post(t, { ...period, level: 'rep', subject: rep, commit: 120000, best_case: 160000, note: '上调' })).status).toBe(200);
    const refused = await post(t, { ...period, level: 'rep', subject: other, commit: 1, best_case: 2 });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error).toMatch(/only their own/);
    expect((await post(t, { ...period, level: 'team', subject: team, commit: 1, best_case: 2 })).status).toBe(403);
    expect((await post(t, { ...period, level: 'rep', subject: rep, commit: 200, best_case: 100 })).status).toBe(400); // best case below commit
    const mine = await get(t, `&history=rep:${rep}`);
    expect(mine.rows.map((r) => [r.level, r.subject])).toEqual([['rep', rep]]); // a rep sees only their own row
    expect(mine.rows[0]).toMatchObject({ commit: 120000, best_case: 160000, submissions: 2, may_write: true });
    expect(mine.history!.map((h) => h.commit)).toEqual([120000, 100000]);
  }, 120_000);

  it('a manager writes their team’s call beside the roll-up, not a rep’s and not another team’s', async () => {
    const m = await sign({ sub: 'mgr', role: 'manager', scope: { team_ids: [team] } });
    expect((await post(m, { ...period, level: 'team', subject: team, commit: 300000, best_case: 400000 })).status).toBe(200);
    expect((await post(m, { ...period, level: 'rep', subject: rep, commit: 1, best_case: 1 })).status).toBe(403);
    expect((await post(m, { ...period, level: 'team', subject: outsideTeam, commit: 1, best_case: 1 })).status).toBe(403);
    const view = await get(m);
    const teamRow = view.rows.find((r) => r.level === 'team' && r.subject === team)!;
    // The roll-up is the rep's latest commit (120,000): the other rep has not submitted.
    expect(teamRow).toMatchObject({ commit: 300000, best_case: 400000, rollup_commit: 120000, may_write: true });
    expect(view.rows.find((r) => r.level === 'rep' && r.subject === rep)).toMatchObject({ commit: 120000, may_write: false });
    // The system's forecast beside the rep's call is the forecast model's for that owner.
    const f = await (await fetch(`${srv.base}/api/models/forecast?from=2026-04-01&to=2026-07-01&as_of=${AS_OF}&owner=${rep}`, { headers: { authorization: `Bearer ${m}` } })).json();
    expect(view.rows.find((r) => r.subject === rep)!.system_forecast).toBeCloseTo(f.rows[0].forecast, 6);
    const e = await sign({ sub: 'ceo', role: 'executive' });
    expect((await post(e, { ...period, level: 'rep', subject: rep, commit: 1, best_case: 1 })).status).toBe(403);
    expect((await post(e, { ...period, level: 'team', subject: outsideTeam, commit: 5, best_case: 6 })).status).toBe(200);
  }, 120_000);

  it('every attempt is audited, and the calls survive a restart', async () => {
    await srv.restart();
    const t = await sign({ sub: rep, role: 'rep' });
    expect((await get(t)).rows[0]).toMatchObject({ commit: 120000, submissions: 2 });
    await srv.kill();
    const inst = await DuckDBInstance.create(srv.dbFile, { access_mode: 'READ_ONLY' });
    const conn = await inst.connect();
    const audit = (await conn.runAndReadAll(`SELECT actor, role, outcome, reason FROM forecast_call_audit ORDER BY logged_at, outcome`)).getRowObjectsJson();
    conn.closeSync();
    inst.closeSync();
    const count = (o: string) => audit.filter((a) => a.outcome === o).length;
    expect(count('stored')).toBe(4);
    expect(count('refused')).toBe(5); // rep → other rep, rep → team, manager → rep, manager → outside team, executive → rep
    expect(count('invalid')).toBe(1);
    expect(audit.find((a) => a.outcome === 'refused' && a.actor === rep)?.reason).toMatch(/only their own/);
  }, 300_000);
});
