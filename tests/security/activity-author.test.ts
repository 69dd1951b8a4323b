/**
 * An author outside the viewer's scope (docs/decisions.md, 2026-12-06): customer 360 and the deal
 * detail name who wrote each follow-up and who owned a deal before. When that person is outside
 * the viewer's row-level scope, neither their id nor their name is in the API's answer (nor the
 * page): the answer carries the neutral marker and the page says 其他团队成员 / "Another team's
 * member". Set up with plain SQL on the demo: a rep's deal gets a follow-up written by a user of
 * another team, and its first version is given to that user (an earlier owner).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_OF, lit, sign, startSecServer, type SecServer } from './helpers';
import { OUTSIDE_SCOPE } from '../../src/lib/people';

let srv: SecServer;
let rep = '';
let outsider = { id: '', name: '' };
let deal = '';
let customer = '';
let activity = '';

beforeAll(async () => {
  const picked: Record<string, string> = {};
  srv = await startSecServer(async (conn) => {
    const q = async (s: string) => (await conn.runAndReadAll(s)).getRowObjectsJson() as Record<string, string>[];
    // A rep's deal (on a customer the rep owns) with a follow-up and at least two versions.
    const [d] = await q(`SELECT o.opportunity_id AS deal, o.owner_id AS rep, o.customer_id AS customer, min(a.activity_id) AS activity
      FROM opportunities o JOIN customers c ON c.customer_id = o.customer_id AND c.owner_id = o.owner_id
      JOIN activities a ON a.opportunity_id = o.opportunity_id
      WHERE (SELECT count(*) FROM opportunity_versions v WHERE v.opportunity_id = o.opportunity_id) >= 2
      GROUP BY ALL ORDER BY o.opportunity_id LIMIT 1`);
    // A user of another team, with a name.
    const [u] = await q(`SELECT user_id AS id, name FROM users WHERE name IS NOT NULL AND team_id IS DISTINCT FROM (SELECT team_id FROM users WHERE user_id = ${lit(d.rep)})
      ORDER BY user_id LIMIT 1`);
    Object.assign(picked, { ...d, outsider: u.id, outsider_name: u.name });
    await conn.run(`UPDATE activities SET owner_id = ${lit(u.id)} WHERE activity_id = ${lit(d.activity)}`);
    await conn.run(`UPDATE opportunity_versions SET owner_id = ${lit(u.id)}
      WHERE opportunity_id = ${lit(d.deal)} AND valid_from = (SELECT min(valid_from) FROM opportunity_versions WHERE opportunity_id = ${lit(d.deal)})`);
    await conn.run(`UPDATE meta SET value = (value::INTEGER + 1)::VARCHAR WHERE key = 'data_version'`);
  });
  ({ rep, deal, customer, activity } = picked as { rep: string; deal: string; customer: string; activity: string });
  outsider = { id: picked.outsider, name: picked.outsider_name };
}, 300_000);
afterAll(() => srv?.stop());

const get = (path: string, t: string) => fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${t}` } });
/** Whether a JSON answer names the outsider: their id as a value, or their name anywhere. */
function names(body: string) {
  return body.includes(JSON.stringify(outsider.id)) || body.includes(outsider.name);
}

describe('an author outside the scope', () => {
  it('customer 360: the follow-up is there, its author neither by id nor name', async () => {
    const t = await sign({ sub: rep, role: 'viewer', scope: { team_ids: [], owner_ids: [rep] } });
    const res = await get(`/api/models/customer?id=${encodeURIComponent(customer)}&as_of=${AS_OF}`, t);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(names(text), `the answer names ${outsider.id} ${outsider.name}`).toBe(false);
    const row = (JSON.parse(text).rows as Record<string, unknown>[]).find((r) => r.kind === 'activity' && r.ref === activity);
    expect(row, 'the follow-up on the rep’s own deal is listed').toBeDefined();
    expect(row!.who).toBe(OUTSIDE_SCOPE);
    // The rep's own follow-ups keep her name.
    const [me] = await srv.oracle(`SELECT name FROM users WHERE user_id = ${lit(rep)}`);
    const mine = (JSON.parse(text).rows as Record<string, unknown>[]).filter((r) => r.kind === 'activity' && r.ref !== activity);
    for (const r of mine) expect([me.name, OUTSIDE_SCOPE]).toContain(r.who);
    // An executive sees who it was.
    const exec = await sign({ sub: 'ceo', role: 'executive' });
    const full = await (await get(`/api/models/customer?id=${encodeURIComponent(customer)}&as_of=${AS_OF}`, exec)).json();
    expect((full.rows as Record<string, unknown>[]).find((r) => r.ref === activity)?.who).toBe(outsider.name);
  });

  it('deal detail: the follow-up’s author and the earlier owner neither by id nor name', async () => {
    const t = await sign({ sub: rep, role: 'viewer', scope: { team_ids: [], owner_ids: [rep] } });
    const res = await get(`/api/models/deal?id=${encodeURIComponent(deal)}&as_of=${AS_OF}`, t);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(names(text), `the answer names ${outsider.id} ${outsider.name}`).toBe(false);
    const rows = JSON.parse(text).rows as Record<string, unknown>[];
    expect(rows.find((r) => r.kind === 'activity' && r.ref === activity)?.who).toBe(OUTSIDE_SCOPE);
    const handover = rows.find((r) => r.kind === 'owner');
    expect(handover, 'the owner change from the outsider to the rep').toBeDefined();
    expect(handover!.old_value).toBe(OUTSIDE_SCOPE);
    // An executive sees both by name.
    const exec = await sign({ sub: 'ceo', role: 'executive' });
    const full = (await (await get(`/api/models/deal?id=${encodeURIComponent(deal)}&as_of=${AS_OF}`, exec)).json()).rows as Record<string, unknown>[];
    expect(full.find((r) => r.kind === 'owner')?.old_value).toBe(outsider.name);
  });

  it('the customer page shows the neutral label in Chinese and English, and no id or name of the outsider', async () => {
    const t = await sign({ sub: rep, role: 'viewer', scope: { team_ids: [], owner_ids: [rep] } });
    for (const [lang, label] of [['zh-CN', '其他团队成员'], ['en', 'Another team’s member']] as const) {
      const page = await get(`/customers/${encodeURIComponent(customer)}?as_of=${AS_OF}&lang=${lang}`, t);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html.replaceAll('&#39;', "'").replaceAll('’', "'"), lang).toContain(label.replaceAll('’', "'"));
      expect(names(html), lang).toBe(false);
    }
  });
});
