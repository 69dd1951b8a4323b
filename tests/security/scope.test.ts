/**
 * Row-level scope, as a property: random scopes (teams with their subtrees, owners, both, ids
 * that match nothing) × every model in the catalog × every `group_by` (and view) it accepts
 * never show a row outside the scope. Checked against an independent oracle — plain SQL on a
 * read-only copy of the database, written here from the scope rules in the claims docs
 * (executive all; manager/viewer: teams with subtrees plus owners; rep: own deals):
 * owners and teams in results belong to the scope, totals are at most the unscoped ones, and
 * the number of deals / payments / customers equals the oracle's count.
 * Then the same through drill-down filters, deal detail, list models, CSV/XLSX exports and
 * the Arrow endpoint; tampered tokens; unknown boards and tiles in the claims.
 */
import ExcelJS from 'exceljs';
import fc from 'fast-check';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnLabel } from '../../src/lib/i18n/columns';
import { AS_OF, lit, litList, qs, sign, startSecServer, type CatalogEntry, type SecServer } from './helpers';

let srv: SecServer;
let exec: string;
let catalog: CatalogEntry[];
let allTeams: string[];
let allUsers: string[];
let allDeals: { id: string; owner: string; name: string }[];
let requests = 0;

type Body = { n: number; rows: Record<string, unknown>[]; summary?: Record<string, unknown>; error?: string; issues?: string[] };

async function call(path: string, token: string, accept?: string): Promise<Response> {
  requests++;
  return fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${token}`, ...(accept ? { accept } : {}) } });
}
async function model(name: string, params: Record<string, string | string[] | undefined>, token: string): Promise<Body> {
  const r = await call(`/api/models/${name}?${qs({ as_of: AS_OF, ...params })}`, token);
  const body = (await r.json()) as Body;
  expect(r.status, `${name} ${JSON.stringify(params)}: ${body.error}`).toBe(200);
  return body;
}

beforeAll(async () => {
  srv = await startSecServer();
  exec = await sign({ sub: 'ceo', role: 'executive' });
  const r = await call('/api/models', exec);
  catalog = (await r.json()).models;
  allTeams = (await srv.oracle(`SELECT team_id FROM teams ORDER BY 1`)).map((x) => x.team_id as string);
  allUsers = (await srv.oracle(`SELECT user_id FROM users ORDER BY 1`)).map((x) => x.user_id as string);
  allDeals = (await srv.oracle(`SELECT opportunity_id AS id, owner_id AS owner, name FROM opportunities ORDER BY 1`)) as typeof allDeals;
});
afterAll(async () => {
  await srv?.stop();
  // The suite stays within its request budget (keeps the run short on a shared machine).
  expect(requests).toBeLessThanOrEqual(450);
});

/** A token's claims as the property generates them. */
interface ScopeClaims {
  role: 'manager' | 'viewer' | 'rep';
  sub: string;
  scope: { team_ids: string[]; owner_ids: string[] };
}

/** What the oracle says a scope may see, from the raw tables. */
interface Visible {
  users: Set<string>;
  teams: Set<string>;
  deals: number;
  payments: number;
  customers: number;
}

async function visible(c: ScopeClaims): Promise<Visible> {
  // The scope rules (src/lib/server/auth/claims.ts docs): a rep sees their owner_ids, else
  // their own deals (sub), never teams; managers and viewers see team subtrees and owners.
  const teamIds = c.role === 'rep' ? [] : c.scope.team_ids;
  const ownerIds = c.role === 'rep' ? (c.scope.owner_ids.length ? c.scope.owner_ids : [c.sub]) : c.scope.owner_ids;
  const sub = await srv.oracle(`WITH RECURSIVE sub(team_id) AS (
      SELECT team_id FROM teams WHERE team_id IN (${litList(teamIds)})
      UNION SELECT t.team_id FROM teams t JOIN sub ON t.parent_id = sub.team_id)
    SELECT team_id FROM sub`);
  const subTeams = sub.map((r) => r.team_id as string);
  const users = (
    await srv.oracle(`SELECT user_id, team_id FROM users WHERE team_id IN (${litList(subTeams)}) OR user_id IN (${litList(ownerIds)})`)
  ) as { user_id: string; team_id: string }[];
  const u = litList(users.map((x) => x.user_id));
  const [{ deals }] = await srv.oracle(`SELECT count(*)::INTEGER AS deals FROM opportunities WHERE owner_id IN (${u})`);
  const [{ payments }] = await srv.oracle(`SELECT count(*)::INTEGER AS payments FROM payments p
      LEFT JOIN opportunities o ON o.opportunity_id = p.opportunity_id
      LEFT JOIN customers c ON c.customer_id = coalesce(p.customer_id, o.customer_id)
      WHERE (CASE WHEN p.opportunity_id IS NOT NULL THEN o.owner_id ELSE c.owner_id END) IN (${u})`);
  const [{ customers }] = await srv.oracle(`SELECT count(*)::INTEGER AS customers FROM customers
      WHERE owner_id IN (${u}) OR customer_id IN (SELECT customer_id FROM opportunities WHERE owner_id IN (${u}))`);
  return {
    users: new Set(users.map((x) => x.user_id)),
    teams: new Set([...subTeams, ...users.map((x) => x.team_id)]),
    deals: deals as number,
    payments: payments as number,
    customers: customers as number
  };
}

/** Every (model, params) the catalog accepts: each group_by, each view, each profile `by`. */
function combos(): { model: string; params: Record<string, string> }[] {
  const out: { model: string; params: Record<string, string> }[] = [];
  for (const m of catalog) {
    if (m.name === 'deal') continue; // needs an id: checked with random deals below
    const props = m.params.properties;
    out.push({ model: m.name, params: {} });
    for (const g of props.group_by?.enum ?? []) out.push({ model: m.name, params: { group_by: g } });
    for (const v of (props.view?.enum ?? []).slice(1)) out.push({ model: m.name, params: { view: v } });
    for (const b of props.by?.enum ?? []) out.push({ model: m.name, params: { by: b } });
    for (const me of (props.method?.enum ?? []).slice(1)) if (m.name === 'funnel') out.push({ model: m.name, params: { method: me } });
  }
  return out;
}

const execCache = new Map<string, Body>();
async function execResult(name: string, params: Record<string, string>) {
  const key = `${name}?${qs(params)}`;
  if (!execCache.has(key)) execCache.set(key, await model(name, { period: 'all', ...params }, exec));
  return execCache.get(key)!;
}

/** The property's assertions for one model result under one scope. */
function checkResult(name: string, params: Record<string, string>, body: Body, unscoped: Body | null, v: Visible) {
  const where = `${name} ${JSON.stringify(params)}`;
  if (unscoped) expect(body.n, where).toBeLessThanOrEqual(unscoped.n);
  if (v.users.size === 0) {
    // Nothing but the configured stages (not data: every count 0) for a scope that matches nothing.
    if (name === 'options') expect(body.rows.filter((r) => r.kind !== 'stage' || r.n !== 0), where).toEqual([]);
    else expect(body.n, `${where}: a scope that matches nothing`).toBe(0);
  }
  for (const row of body.rows) {
    if (row.owner_id != null) expect(v.users.has(row.owner_id as string), `${where}: owner ${row.owner_id}`).toBe(true);
    if (row.team_id != null) expect(v.teams.has(row.team_id as string), `${where}: team ${row.team_id}`).toBe(true);
    if (params.group_by === 'owner' && row.group_key != null) expect(v.users.has(row.group_key as string), `${where}: group ${row.group_key}`).toBe(true);
    if ((params.group_by === 'team' || params.group_by === 'team_leaf') && row.group_key != null) {
      expect(v.teams.has(row.group_key as string), `${where}: group ${row.group_key}`).toBe(true);
    }
    if (name === 'options' && row.kind === 'owner') expect(v.users.has(row.key as string), `options owner ${row.key}`).toBe(true);
    if (name === 'options' && row.kind === 'team') expect(v.teams.has(row.key as string), `options team ${row.key}`).toBe(true);
  }
  const plain = Object.keys(params).length === 0;
  if (name === 'funnel' && plain) expect(body.n, `${where}: deals`).toBe(v.deals);
  if (name === 'deals' && plain) expect(body.summary?.total, `${where}: deals`).toBe(v.deals);
  if (name === 'payment_list' && plain) expect(body.summary?.total, `${where}: payments`).toBe(v.payments);
  if (name === 'payments' && plain) expect(body.n, `${where}: payments`).toBe(v.payments);
  if (name === 'ltv' && plain) expect(body.n, `${where}: customers`).toBe(v.customers);
  if (name === 'customer_list' && plain) expect(body.summary?.total, `${where}: customers`).toBe(v.customers);
}

describe('random scopes × every model × every group_by', () => {
  // To keep the request count bounded, the combinations are dealt out over the runs: each
  // (model, group_by/view) is checked under one random scope, the plain ones under every scope.
  // One test per run (each replays the same seeded property and checks only its own run), so
  // no single test comes near the timeout on a loaded machine; together they check every
  // combination, as one test did before.
  const RUNS = 4;
  let all: ReturnType<typeof combos>;
  let nonEmpty = 0;
  let checked = 0;
  const done: number[] = [];

  for (let mine = 0; mine < RUNS; mine++) {
    it(`never shows a row outside the scope (property, seeded; run ${mine + 1} of ${RUNS})`, async () => {
      all = combos();
      // Every model, every group_by and view it declares (read from its param schema).
      expect(all.length).toBeGreaterThan(60);
      const ids = (xs: string[]) => fc.constantFrom(...xs, 'NO-SUCH-ID', "T11' OR '1'='1");
      const claims: fc.Arbitrary<ScopeClaims> = fc.record({
        role: fc.constantFrom('manager', 'viewer', 'rep') as fc.Arbitrary<ScopeClaims['role']>,
        sub: fc.constantFrom(...allUsers.slice(4, 40), 'ghost'),
        scope: fc.record({
          // Not the company root: a scope that is everything proves little.
          team_ids: fc.uniqueArray(ids(allTeams.filter((t) => t !== 'T00')), { maxLength: 2 }),
          owner_ids: fc.uniqueArray(ids(allUsers), { maxLength: 3 })
        })
      });
      const dealPick = fc.array(fc.integer({ min: 0, max: allDeals.length - 1 }), { minLength: 2, maxLength: 2 });
      let run = 0;
      await fc.assert(
        fc.asyncProperty(claims, dealPick, async (c, picks) => {
          const at = run++;
          if (at !== mine) return; // another test's run: the same seed deals out the same values
          const share = all.filter((x, i) => Object.keys(x.params).length === 0 || i % RUNS === at % RUNS);
          const v = await visible(c);
          if (v.deals > 0) nonEmpty++;
          const token = await sign(c as unknown as Record<string, unknown>);
          for (const { model: name, params } of share) {
            const body = await model(name, { period: 'all', ...params }, token);
            checkResult(name, params, body, Object.keys(params).length === 0 ? await execResult(name, params) : null, v);
            checked++;
          }
          // Deal detail: the deal when its owner is in scope, nothing at all otherwise.
          for (const i of picks) {
            const d = allDeals[i];
            const body = await model('deal', { id: d.id }, token);
            const deal = body.summary?.deal as { name: string } | null;
            if (v.users.has(d.owner)) expect(deal?.name).toBe(d.name);
            else {
              expect(deal, `deal ${d.id} of ${d.owner} is outside the scope`).toBeNull();
              expect(body.rows).toEqual([]);
              expect(body.n).toBe(0);
            }
          }
        }),
        { seed: 20260615, numRuns: RUNS, endOnFailure: true }
      );
      expect(run).toBe(RUNS);
      done.push(mine);
    });
  }

  it('the seeded runs together checked every combination, with restricted scopes that see something', () => {
    expect(done).toEqual([...Array(RUNS).keys()]);
    expect(checked).toBeGreaterThanOrEqual(all.length);
    expect(nonEmpty).toBeGreaterThan(0);
  });

  it('a scope that matches nothing (unknown team and owner) returns nothing in any model', async () => {
    const c: ScopeClaims = { role: 'viewer', sub: 'nobody', scope: { team_ids: ['NO-SUCH-TEAM'], owner_ids: ['U999'] } };
    const v = await visible(c);
    expect(v.users.size).toBe(0);
    const token = await sign(c as unknown as Record<string, unknown>);
    for (const m of catalog) {
      const body = await model(m.name, { period: 'all', ...(m.name === 'deal' ? { id: allDeals[0].id } : {}) }, token);
      checkResult(m.name, {}, body, m.name === 'deal' ? body : await execResult(m.name, {}), v);
      expect(body.rows.filter((r) => r.group_key != null || r.owner_id != null || r.opportunity_id != null), m.name).toEqual([]);
    }
  });
});

describe('drill-down, lists, exports and Arrow stay within the scope', () => {
  const east = { role: 'manager', sub: 'east', scope: { team_ids: ['T11'] } };
  let token: string;
  let v: Visible;
  let scopedDeals: Set<string>;
  let scopedPayments: Set<string>;
  beforeAll(async () => {
    token = await sign(east);
    v = await visible({ role: 'manager', sub: 'east', scope: { team_ids: ['T11'], owner_ids: [] } });
    scopedDeals = new Set((await srv.oracle(`SELECT opportunity_id FROM opportunities WHERE owner_id IN (${litList([...v.users])})`)).map((r) => r.opportunity_id as string));
    scopedPayments = new Set(
      (
        await srv.oracle(`SELECT p.payment_id FROM payments p LEFT JOIN opportunities o ON o.opportunity_id = p.opportunity_id
          LEFT JOIN customers c ON c.customer_id = coalesce(p.customer_id, o.customer_id)
          WHERE (CASE WHEN p.opportunity_id IS NOT NULL THEN o.owner_id ELSE c.owner_id END) IN (${litList([...v.users])})`)
      ).map((r) => r.payment_id as string)
    );
    expect(scopedDeals.size).toBe(v.deals);
    expect(v.deals).toBeGreaterThan(100);
  });

  it('drill filters naming teams or owners outside the scope narrow, never widen', async () => {
    const outsider = allDeals.find((d) => !v.users.has(d.owner))!.owner;
    const insider = [...v.users].find((u) => allDeals.some((d) => d.owner === u))!;
    const funnelN = async (p: Record<string, string | string[]>) => (await model('funnel', { period: 'all', ...p }, token)).n;
    expect(await funnelN({ team: 'R2' })).toBe(0);
    expect(await funnelN({ owner: outsider })).toBe(0);
    expect(await funnelN({ team: 'T00' })).toBe(v.deals);
    expect(await funnelN({ team: ['R2', 'R3', 'T00'], owner: [...allUsers] })).toBe(v.deals);
    const [{ n: insiderDeals }] = await srv.oracle(`SELECT count(*)::INTEGER AS n FROM opportunities WHERE owner_id = ${lit(insider)}`);
    expect(await funnelN({ owner: [insider, outsider] })).toBe(insiderDeals);
    const [{ region, n: regionDeals }] = await srv.oracle(`SELECT c.region, count(*)::INTEGER AS n FROM opportunities o JOIN customers c USING (customer_id)
        WHERE o.owner_id IN (${litList([...v.users])}) GROUP BY 1 ORDER BY 2 DESC LIMIT 1`);
    expect(await funnelN({ region: region as string })).toBe(regionDeals);
    // The deals list behind a drill: only the scope's, whatever the owner filter names.
    const list = await model('deals', { period: 'all', owner: [insider, outsider], limit: '1000' }, token);
    expect(list.summary?.total).toBe(insiderDeals);
    expect(list.rows.every((r) => r.owner_id === insider)).toBe(true);
    const pays = await model('payment_list', { period: 'all', team: 'R3', limit: '1000' }, token);
    expect(pays.summary?.total).toBe(0);
  });

  it('deal detail of a deal outside the scope gives nothing, not the deal', async () => {
    const out = allDeals.find((d) => !v.users.has(d.owner))!;
    const inside = allDeals.find((d) => v.users.has(d.owner))!;
    for (const p of [{}, { team: 'T00' }, { owner: out.owner }, { team: 'R2' }]) {
      const r = await call(`/api/models/deal?${qs({ id: out.id, as_of: AS_OF, ...p })}`, token);
      expect(r.status).toBe(200);
      const text = await r.text();
      const body = JSON.parse(text) as Body;
      expect(body.summary?.deal).toBeNull();
      expect(body.rows).toEqual([]);
      expect(text).not.toContain(out.name);
    }
    const mine = await model('deal', { id: inside.id }, token);
    expect((mine.summary?.deal as { name: string }).name).toBe(inside.name);
  });

  it('CSV exports list exactly the scope’s rows, also with filters trying to escape it', async () => {
    const csv = async (name: string, p: Record<string, string | string[]>) => {
      const r = await call(`/api/models/${name}/export?${qs({ format: 'csv', as_of: AS_OF, period: 'all', lang: 'en', ...p })}`, token);
      expect(r.status).toBe(200);
      const lines = (await r.text()).replace(/^\uFEFF/, '').trim().split('\r\n');
      return lines.slice(1).map((l) => l.split(',')[0]);
    };
    const ids = await csv('deals', {});
    expect(ids.length).toBe(v.deals);
    expect(ids.every((id) => scopedDeals.has(id))).toBe(true);
    expect(await csv('deals', { team: 'R2' })).toEqual([]);
    expect(await csv('deals', { owner: allUsers.filter((u) => !v.users.has(u)) })).toEqual([]);
    const payIds = await csv('payment_list', { team: 'T00' });
    expect(payIds.length).toBe(v.payments);
    expect(payIds.every((id) => scopedPayments.has(id))).toBe(true);
    // An aggregate model: its groups are the scope's owners.
    const r = await call(`/api/models/leaderboard/export?${qs({ format: 'csv', as_of: AS_OF, period: 'all', lang: 'en', group_by: 'owner' })}`, token);
    const [head, ...rest] = (await r.text()).replace(/^\uFEFF/, '').trim().split('\r\n');
    const at = head.split(',').indexOf(columnLabel('group_key', 'en'));
    expect(at).toBeGreaterThanOrEqual(0);
    const groups = rest.map((l) => l.split(',')[at]);
    expect(groups.length).toBeGreaterThan(0);
    expect(groups.every((g) => v.users.has(g))).toBe(true);
  });

  it('XLSX exports list exactly the scope’s rows', async () => {
    const r = await call(`/api/models/payment_list/export?${qs({ format: 'xlsx', as_of: AS_OF, period: 'all', owner: allUsers })}`, token);
    expect(r.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await r.arrayBuffer()) as ArrayBuffer);
    const ws = wb.worksheets[0];
    const ids: string[] = [];
    ws.eachRow((row, i) => {
      if (i > 1) ids.push(String(row.getCell(1).value));
    });
    expect(ids.length).toBe(v.payments);
    expect(ids.every((id) => scopedPayments.has(id))).toBe(true);
    const d = await call(`/api/models/deals/export?${qs({ format: 'xlsx', as_of: AS_OF, period: 'all' })}`, token);
    const wb2 = new ExcelJS.Workbook();
    await wb2.xlsx.load((await d.arrayBuffer()) as ArrayBuffer);
    expect(wb2.worksheets[0].rowCount - 1).toBe(v.deals);
  });

  it('the Arrow endpoint carries only the scope’s rows', async () => {
    const arrow = async (name: string, p: Record<string, string | string[]>) => {
      const r = await call(`/api/models/${name}?${qs({ as_of: AS_OF, period: 'all', ...p })}`, token, 'application/vnd.apache.arrow.stream');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
      return tableFromIPC(new Uint8Array(await r.arrayBuffer()));
    };
    const deals = await arrow('deals', { limit: '1000', owner: allUsers });
    expect(deals.numRows).toBe(Math.min(1000, v.deals));
    expect(deals.getChild('owner_id')!.toArray().every((o: string) => v.users.has(o))).toBe(true);
    expect(deals.schema.metadata.get('n')).toBe(String(v.deals));
    const byOwner = await arrow('funnel', { group_by: 'owner', team: 'T00' });
    const keys = new Set(byOwner.getChild('group_key')!.toArray() as string[]);
    expect(keys.size).toBeGreaterThan(0);
    expect([...keys].every((k) => v.users.has(k))).toBe(true);
    expect(byOwner.schema.metadata.get('n')).toBe(String(v.deals));
  });
});

describe('tokens whose claims were edited or name unknown boards', () => {
  it('a tampered scope (payload edited, signature kept) is refused everywhere with no data', async () => {
    const t = await sign({ sub: 'east', role: 'manager', scope: { team_ids: ['T11'] } });
    const [h, p, s] = t.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    payload.scope = { team_ids: ['T00'] };
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    for (const [path, accept] of [
      [`/api/models/deals?period=all`, undefined],
      [`/api/models/deals?period=all`, 'application/vnd.apache.arrow.stream'],
      [`/api/models/deals/export?format=csv&period=all`, undefined],
      [`/api/models/deal?id=${allDeals[0].id}`, undefined]
    ] as const) {
      const r = await call(path, forged, accept);
      expect(r.status, path).toBe(401);
      const text = await r.text();
      expect(JSON.parse(text)).toEqual({ error: 'unauthorized: invalid signature' });
    }
  });

  it('unknown boards or tiles in the claims grant nothing but the filter options, and the scope still applies', async () => {
    const models = async (claims: Record<string, unknown>) => {
      const t = await sign({ sub: 'p', role: 'manager', scope: { team_ids: ['T11'] }, ...claims });
      const out: Record<string, number> = {};
      for (const m of ['funnel', 'ltv', 'deals', 'options']) out[m] = (await call(`/api/models/${m}?${m === 'options' ? '' : 'period=all&'}${m === 'deals' ? 'limit=15&' : ''}as_of=${AS_OF}`, t)).status;
      return out;
    };
    expect(await models({ boards: ['no-such-board'] })).toEqual({ funnel: 403, ltv: 403, deals: 403, options: 200 });
    expect(await models({ boards: ['../pipeline'] })).toEqual({ funnel: 403, ltv: 403, deals: 403, options: 200 });
    expect(await models({ tiles: ['pipeline/no-such-tile', '__proto__/x', '../../etc/passwd'] })).toEqual({ funnel: 403, ltv: 403, deals: 403, options: 200 });
    expect(await models({ boards: ['pipeline'] })).toEqual({ funnel: 200, ltv: 403, deals: 200, options: 200 });
    const t = await sign({ sub: 'p', role: 'manager', scope: { team_ids: ['T11'] }, boards: ['pipeline'] });
    const [{ n }] = await srv.oracle(`SELECT count(*)::INTEGER AS n FROM opportunities o JOIN users u ON u.user_id = o.owner_id WHERE u.team_id = 'T11'`);
    expect((await model('deals', { period: 'all', limit: '15' }, t)).summary?.total).toBe(n);
  });
});
