/**
 * The customer 360 page (/customers/<id>) under tokens: a customer the token's scope covers
 * opens (with only the scope's deals counted), one it does not cover is a 404 that shows
 * nothing of it — page and API alike. Customers are picked with plain SQL on a read-only copy
 * of the database (the oracle), not with the models' code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_OF, lit, sign, startSecServer, type SecServer } from './helpers';

let srv: SecServer;
let rep: string;
let token: string;
let inside: { id: string; name: string; deals: number };
let outside: { id: string; name: string };

beforeAll(async () => {
  let picked: { rep: string; id: string; name: string; deals: number } | null = null;
  srv = await startSecServer(async (conn) => {
    // A rep and the customer they have most deals with; one of those deals is handed to another rep, so the
    // rep's scope has something of this customer to hide. The data version moves so the server rebuilds its facts.
    const rows = (await conn.runAndReadAll(`SELECT o.owner_id AS rep, o.customer_id AS id, c.name, count(*)::INTEGER AS deals, min(o.opportunity_id) AS first
      FROM opportunities o JOIN customers c ON c.customer_id = o.customer_id
      GROUP BY ALL HAVING count(*) >= 2 ORDER BY deals DESC, id, rep LIMIT 1`)).getRowObjectsJson() as Record<string, string | number>[];
    const r = rows[0];
    picked = { rep: String(r.rep), id: String(r.id), name: String(r.name), deals: Number(r.deals) - 1 };
    await conn.run(`UPDATE opportunities SET owner_id = (SELECT min(user_id) FROM users WHERE user_id <> ${lit(picked.rep)}) WHERE opportunity_id = ${lit(String(r.first))}`);
    await conn.run(`UPDATE meta SET value = (value::INTEGER + 1)::VARCHAR WHERE key = 'data_version'`);
  });
  const p = picked as unknown as { rep: string; id: string; name: string; deals: number };
  rep = p.rep;
  inside = { id: p.id, name: p.name, deals: p.deals };
  const [o] = await srv.oracle(`SELECT customer_id AS id, name FROM customers
    WHERE coalesce(owner_id, '') <> ${lit(rep)}
      AND customer_id NOT IN (SELECT customer_id FROM opportunities WHERE owner_id = ${lit(rep)} AND customer_id IS NOT NULL)
    ORDER BY customer_id LIMIT 1`);
  outside = { id: o.id as string, name: o.name as string };
  token = await sign({ sub: rep, role: 'viewer', scope: { team_ids: [], owner_ids: [rep] } });
}, 300_000);
afterAll(() => srv?.stop());

const get = (path: string, t = token) => fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${t}` } });

describe('customer 360 under a token', () => {
  it('opens a customer in scope, counting only the scope’s deals', async () => {
    const page = await get(`/customers/${encodeURIComponent(inside.id)}?as_of=${AS_OF}&lang=en`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(inside.name);
    const api = await (await get(`/api/models/customer?id=${encodeURIComponent(inside.id)}&as_of=${AS_OF}`)).json();
    expect(api.summary.customer.deals).toBe(inside.deals);
    const [all] = await srv.oracle(`SELECT count(*)::INTEGER AS n FROM opportunities WHERE customer_id = ${lit(inside.id)}`);
    expect(all.n as number).toBeGreaterThan(inside.deals); // other reps' deals exist and are not counted
    const exec = await sign({ sub: 'ceo', role: 'executive' });
    const full = await (await get(`/api/models/customer?id=${encodeURIComponent(inside.id)}&as_of=${AS_OF}`, exec)).json();
    expect(full.summary.customer.deals).toBe(all.n);
  }, 120_000);

  it('a customer out of scope is a 404 that shows nothing of it', async () => {
    const page = await get(`/customers/${encodeURIComponent(outside.id)}?as_of=${AS_OF}&lang=en`);
    expect(page.status).toBe(404);
    expect(await page.text()).not.toContain(outside.name);
    const api = await (await get(`/api/models/customer?id=${encodeURIComponent(outside.id)}&as_of=${AS_OF}`)).json();
    expect(api.summary.customer).toBeNull();
    expect(api.rows).toEqual([]);
    // An executive sees it.
    const exec = await sign({ sub: 'ceo', role: 'executive' });
    expect((await get(`/customers/${encodeURIComponent(outside.id)}?as_of=${AS_OF}`, exec)).status).toBe(200);
    // Unknown ids and hostile ones are 404s too (a malformed escape is the hooks' 400), never 500s.
    for (const id of ['NO-SUCH', "C' OR '1'='1", '..%2F..%2Fetc']) {
      expect((await get(`/customers/${id}?as_of=${AS_OF}`)).status, id).toBe(404);
    }
    expect((await get(`/customers/%E0%A4%A?as_of=${AS_OF}`)).status).toBe(400);
  }, 120_000);
});
