/**
 * 回款明细 (`payment_list?received=true`, the payments board's `received` tile, the drill of the
 * collected card) through tokens: a scoped token sees exactly its own received payments (counted
 * and summed by an independent query on a copy of the database), and the new parameter does not
 * widen any other tile's token — a token for the overdue list cannot list received payments, and
 * a token for the received list cannot turn it into anything else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_OF, litList, qs, sign, startSecServer, type SecServer } from './helpers';

let srv: SecServer;
beforeAll(async () => {
  srv = await startSecServer();
});
afterAll(async () => {
  await srv?.stop();
});

const FROM = '2025-01-01';
const TO = '2026-01-01';

async function get(path: string, token: string) {
  const r = await fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: r.status === 200 && !path.includes('/export') ? ((await r.json()) as { rows: Record<string, unknown>[]; summary: Record<string, number> }) : null };
}
const list = (extra: Record<string, string> = {}) =>
  `/api/models/payment_list?${qs({ as_of: AS_OF, from: FROM, to: TO, received: 'true', limit: '15', sort: 'paid_at', dir: 'desc', ...extra })}`;

/** Received payments paid in [FROM, TO) whose owner (the deal's, else the customer's) is one of `owners`: count and Σ paid. */
async function oracle(owners: string[]) {
  const [r] = await srv.oracle(`SELECT count(*)::INTEGER AS n, coalesce(sum(coalesce(p.paid_amount, p.amount)), 0)::DOUBLE AS paid
      FROM payments p
      LEFT JOIN opportunities o ON o.opportunity_id = p.opportunity_id
      LEFT JOIN customers c ON c.customer_id = coalesce(p.customer_id, o.customer_id)
      WHERE p.paid_at IS NOT NULL AND p.paid_at >= DATE '${FROM}' AND p.paid_at < DATE '${TO}'
        AND (CASE WHEN p.opportunity_id IS NOT NULL THEN o.owner_id ELSE c.owner_id END) IN (${litList(owners)})`);
  return r as { n: number; paid: number };
}
async function teamOwners(team: string) {
  const rows = await srv.oracle(`WITH RECURSIVE sub(team_id) AS (SELECT '${team}' UNION SELECT t.team_id FROM teams t JOIN sub ON t.parent_id = sub.team_id)
      SELECT user_id FROM users WHERE team_id IN (SELECT team_id FROM sub)`);
  return rows.map((r) => r.user_id as string);
}

describe('the received list (回款明细) under a token', () => {
  it('a manager limited to the received tile sees her region’s received payments, no one else’s', async () => {
    const t = await sign({ sub: 'm', role: 'manager', scope: { team_ids: ['R1'] }, tiles: ['payments/received'] });
    const r = await get(list(), t);
    expect(r.status).toBe(200);
    const want = await oracle(await teamOwners('R1'));
    expect(want.n, 'the demo has received payments in R1 last year').toBeGreaterThan(15);
    expect(r.body!.summary.total).toBe(want.n);
    expect(r.body!.summary.total_paid).toBeCloseTo(want.paid, 2);
    const r1 = new Set(await teamOwners('R1'));
    for (const row of r.body!.rows) {
      expect(r1.has(row.owner_id as string), `${row.payment_id} of ${row.owner_id}`).toBe(true);
      expect(row.paid_at, String(row.payment_id)).not.toBeNull();
    }
    // Asking for another region's payments through a filter gives nothing outside the scope.
    const other = await get(list({ team: 'R2' }), t);
    expect(other.status).toBe(200);
    expect(other.body!.summary.total).toBe(0);
    // The export of the same listing: allowed (it is a table tile).
    expect((await get(`/api/models/payment_list/export?${qs({ format: 'csv', from: FROM, to: TO, received: 'true', sort: 'paid_at', dir: 'desc' })}`, t)).status).toBe(200);
  });

  it('a rep sees only the payments of her own deals and customers', async () => {
    const [{ owner }] = await srv.oracle(`SELECT o.owner_id AS owner FROM payments p JOIN opportunities o USING (opportunity_id)
        WHERE p.paid_at >= DATE '${FROM}' AND p.paid_at < DATE '${TO}' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`);
    const t = await sign({ sub: owner, role: 'rep', tiles: ['payments/received'] });
    const r = await get(list({ limit: '15' }), t);
    expect(r.status).toBe(200);
    const want = await oracle([owner as string]);
    expect(want.n).toBeGreaterThan(0);
    expect(r.body!.summary.total).toBe(want.n);
    expect(r.body!.summary.total_paid).toBeCloseTo(want.paid, 2);
    expect(new Set(r.body!.rows.map((x) => x.owner_id))).toEqual(new Set([owner]));
  });

  it('the received tile’s token may not drop received=true, add a state or a bigger page', async () => {
    const t = await sign({ sub: 'm', role: 'executive', tiles: ['payments/received'] });
    expect((await get(list(), t)).status).toBe(200);
    expect((await get(list({ received: 'false' }), t)).status).toBe(403);
    expect((await get(list({ state: 'overdue' }), t)).status).toBe(403);
    expect((await get(list({ limit: '1000' }), t)).status).toBe(403);
    expect((await get(`/api/models/payment_list?${qs({ as_of: AS_OF, period: 'all', state: 'overdue', limit: '15', sort: 'days_overdue', dir: 'desc' })}`, t)).status).toBe(403);
  });

  it('the overdue list’s token is not widened by the new parameter', async () => {
    const t = await sign({ sub: 'm', role: 'manager', scope: { team_ids: ['R1'] }, tiles: ['payments/overdue'] });
    const overdue = `/api/models/payment_list?${qs({ as_of: AS_OF, period: 'all', state: 'overdue', limit: '15', sort: 'days_overdue', dir: 'desc' })}`;
    const ok = await fetch(`${srv.base}${overdue}`, { headers: { authorization: `Bearer ${t}` } });
    expect(ok.status, await ok.text()).toBe(200);
    expect((await get(list(), t)).status).toBe(403);
    expect((await get(`${overdue}&received=true`, t)).status).toBe(403);
    expect((await get(`/api/models/payment_list/export?${qs({ format: 'csv', from: FROM, to: TO, received: 'true' })}`, t)).status).toBe(403);
  });
});

/**
 * The payments board's two newer listings — 本期应收明细 (`due`: payment_list by due date, the
 * collection rate's denominator) and 本期签约明细 (`contracted`: deals won in the period, the
 * contracted card's and DSO's) — give a token limited to them exactly those calls, and widen no
 * other tile's token.
 */
describe('the due and contracted lists under a token', () => {
  const due = (extra: Record<string, string> = {}) =>
    `/api/models/payment_list?${qs({ as_of: AS_OF, period: 'this_quarter', date_field: 'due_date', limit: '15', sort: 'due_date', dir: 'desc', ...extra })}`;
  const won = (extra: Record<string, string> = {}) =>
    `/api/models/deals?${qs({ as_of: AS_OF, period: 'this_quarter', status: 'won', date_field: 'closed_at', limit: '15', sort: 'closed_at', dir: 'desc', ...extra })}`;

  it('a token for the due list lists what falls due, and cannot turn it into received or overdue payments', async () => {
    const t = await sign({ sub: 'm', role: 'executive', tiles: ['payments/due'] });
    const ok = await fetch(`${srv.base}${due()}`, { headers: { authorization: `Bearer ${t}` } });
    expect(ok.status, await ok.text()).toBe(200);
    expect((await get(due({ received: 'true' }), t)).status).toBe(403);
    expect((await get(due({ state: 'overdue' }), t)).status).toBe(403);
    expect((await get(due({ limit: '1000' }), t)).status).toBe(403);
    expect((await get(won(), t)).status).toBe(403);
  });

  it('a token for the contracted list lists won deals only', async () => {
    const t = await sign({ sub: 'm', role: 'executive', tiles: ['payments/contracted'] });
    const ok = await fetch(`${srv.base}${won()}`, { headers: { authorization: `Bearer ${t}` } });
    expect(ok.status, await ok.text()).toBe(200);
    expect((await get(won({ status: 'open' }), t)).status).toBe(403);
    expect((await get(won({ status: 'lost' }), t)).status).toBe(403);
    expect((await get(due(), t)).status).toBe(403);
  });

  it('the overdue and received tokens gain neither listing', async () => {
    for (const tile of ['payments/overdue', 'payments/received']) {
      const t = await sign({ sub: 'm', role: 'executive', tiles: [tile] });
      expect((await get(due(), t)).status, tile).toBe(403);
      expect((await get(won(), t)).status, tile).toBe(403);
    }
  });
});

/**
 * 期末应收明细 (`receivables_end`: payment_list?at_period_end=true, DSO's numerator) under tokens:
 * a scoped token lists exactly its own receivables at the period end, as an independent query
 * on the oracle copy counts and sums them (a planned instalment — it has a due date — not tied to
 * a deal closed after that day, less what had been paid by then, still owed); the flag is fixed
 * on its tile, so it widens no other tile's token, and its token cannot list anything else.
 */
describe('the receivables-at-period-end list (期末应收明细) under a token', () => {
  /** The period is last year: its last day, 2025-12-31, is before the report date. */
  const DAY = '2025-12-31';
  const ends = (extra: Record<string, string> = {}) =>
    `/api/models/payment_list?${qs({ as_of: AS_OF, from: FROM, to: TO, at_period_end: 'true', limit: '15', sort: 'outstanding', dir: 'desc', ...extra })}`;

  /** Receivables owed on DAY whose owner (the deal's, else the customer's) is one of `owners` (all when null): count, Σ owed, the owners seen. */
  async function owedOn(owners: string[] | null) {
    const [r] = await srv.oracle(`WITH owed AS (
        SELECT p.payment_id, CASE WHEN p.opportunity_id IS NOT NULL THEN o.owner_id ELSE c.owner_id END AS owner,
               p.amount::DECIMAL(38,2) - CASE WHEN p.paid_at IS NOT NULL AND p.paid_at <= DATE '${DAY}' THEN coalesce(p.paid_amount, p.amount)::DECIMAL(38,2) ELSE 0 END AS owed
        FROM payments p
        LEFT JOIN opportunities o ON o.opportunity_id = p.opportunity_id
        LEFT JOIN customers c ON c.customer_id = coalesce(p.customer_id, o.customer_id)
        WHERE p.due_date IS NOT NULL AND (o.closed_at IS NULL OR o.closed_at < DATE '${DAY}' + INTERVAL 1 DAY))
      SELECT count(*)::INTEGER AS n, coalesce(sum(owed), 0)::DOUBLE AS owed FROM owed
      WHERE owed > 0 ${owners ? `AND owner IN (${litList(owners)})` : ''}`);
    return r as { n: number; owed: number };
  }

  it('a manager limited to the tile sees her region’s receivables on the period’s last day, no one else’s', async () => {
    const t = await sign({ sub: 'm', role: 'manager', scope: { team_ids: ['R1'] }, tiles: ['payments/receivables_end'] });
    const r = await get(ends(), t);
    expect(r.status).toBe(200);
    const owners = await teamOwners('R1');
    const want = await owedOn(owners);
    expect(want.n, 'the demo owes R1 something at the end of last year').toBeGreaterThan(15);
    expect(r.body!.summary.total).toBe(want.n);
    expect(r.body!.summary.total_outstanding).toBeCloseTo(want.owed, 2);
    expect(r.body!.summary.outstanding_at as unknown).toBe(DAY);
    // fewer than the whole company's: the scope narrows it
    expect((await owedOn(null)).n).toBeGreaterThan(want.n);
    const r1 = new Set(owners);
    for (const row of r.body!.rows) {
      expect(r1.has(row.owner_id as string), `${row.payment_id} of ${row.owner_id}`).toBe(true);
      expect(row.outstanding as number, String(row.payment_id)).toBeGreaterThan(0);
    }
    // another region through a filter: nothing outside the scope
    const other = await get(ends({ team: 'R2' }), t);
    expect(other.status).toBe(200);
    expect(other.body!.summary.total).toBe(0);
  });

  it('an executive token for the tile sees the company’s receivables, equal to the payments model’s', async () => {
    const t = await sign({ sub: 'x', role: 'executive', tiles: ['payments/receivables_end', 'payments/summary'] });
    const r = await get(ends(), t);
    expect(r.status).toBe(200);
    const want = await owedOn(null);
    expect(r.body!.summary.total).toBe(want.n);
    expect(r.body!.summary.total_outstanding).toBeCloseTo(want.owed, 2);
  });

  it('the tile’s token may not drop the flag, add a state, received or a bigger page, or list the other payments tiles', async () => {
    const t = await sign({ sub: 'm', role: 'executive', tiles: ['payments/receivables_end'] });
    expect((await get(ends(), t)).status).toBe(200);
    expect((await get(ends({ at_period_end: 'false' }), t)).status).toBe(403);
    expect((await get(ends({ state: 'overdue' }), t)).status).toBe(403);
    expect((await get(ends({ received: 'true' }), t)).status).toBe(403);
    expect((await get(ends({ limit: '1000' }), t)).status).toBe(403);
    expect((await get(list(), t)).status).toBe(403);
    expect((await get(`/api/models/payment_list?${qs({ as_of: AS_OF, period: 'all', state: 'overdue', limit: '15', sort: 'days_overdue', dir: 'desc' })}`, t)).status).toBe(403);
    expect((await get(`/api/models/payment_list?${qs({ as_of: AS_OF, period: 'this_quarter', date_field: 'due_date', limit: '15', sort: 'due_date', dir: 'desc' })}`, t)).status).toBe(403);
  });

  it('the other payments tiles’ tokens gain no receivables listing from the new parameter', async () => {
    for (const tile of ['payments/overdue', 'payments/received', 'payments/due', 'payments/contracted', 'payments/summary']) {
      const t = await sign({ sub: 'm', role: 'executive', tiles: [tile] });
      expect((await get(ends(), t)).status, tile).toBe(403);
    }
    const overdue = await sign({ sub: 'm', role: 'executive', tiles: ['payments/overdue'] });
    const q = `/api/models/payment_list?${qs({ as_of: AS_OF, period: 'all', state: 'overdue', limit: '15', sort: 'days_overdue', dir: 'desc' })}`;
    expect((await get(q, overdue)).status).toBe(200);
    expect((await get(`${q}&at_period_end=true`, overdue)).status).toBe(403);
  });
});
