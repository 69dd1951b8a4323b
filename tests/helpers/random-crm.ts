/**
 * Random small CRMs for property tests (fast-check): a fixed team tree with randomly placed
 * users, random customers, deals with random stage walks (forward, back, skipping, re-entering,
 * amount-only versions, lost deals with zeroed amounts, close dates before creation),
 * payments (partial, unpaid, without a deal), activities (on deals and on customers) and
 * targets. Loaded into an in-memory DuckDB by `loadRandomCrm`.
 */
import fc from 'fast-check';
import type { Database } from '../../src/lib/server/db/database';
import { DEFAULT_STAGES } from '../../src/lib/server/config/schema';

export const RANDOM_AS_OF = '2026-06-15';
const DAY0 = Date.UTC(2024, 0, 1);
/** Day number (since 2024-01-01) → `YYYY-MM-DD`. */
export const dayToDate = (d: number) => new Date(DAY0 + d * 86_400_000).toISOString().slice(0, 10);
const AS_OF_DAY = Math.round((Date.UTC(2026, 5, 15) - DAY0) / 86_400_000);

export const TEAMS: [id: string, name: string, parent: string | null][] = [
  ['T0', '公司', null],
  ['T1', '华东', 'T0'],
  ['T2', '华北', 'T0'],
  ['T11', '上海组', 'T1'],
  ['T12', '杭州组', 'T1']
];
export const USERS = ['U1', 'U2', 'U3', 'U4', 'U5'];
const STAGE_NAMES = DEFAULT_STAGES.map((s) => s.name);
const KIND = new Map(DEFAULT_STAGES.map((s) => [s.name, s.outcome ?? 'open']));

/**
 * The largest CRM drawn, any size up to it (`size: 'max'`; fast-check's default drew at most
 * 10 of each). About three times the deals of before 7 Dec: a model query's cost is nearly all
 * DuckDB planning, not the rows, so the property tests draw fewer but larger CRMs (more deals,
 * payments and activities per query, the same kinds of edge case; docs/decisions.md).
 */
const MAX = { customers: 8, deals: 28, payments: 20, activities: 32, targets: 8 };

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
/** A day in the whole history, or (as often) in the last two months before the report date. */
const dayArb = (slack = 0) => fc.oneof(fc.integer({ min: 0, max: AS_OF_DAY + slack }), fc.integer({ min: AS_OF_DAY - 45, max: AS_OF_DAY + slack }));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 });
const money = fc.integer({ min: 0, max: 200 }).map((x) => x * 1000);

const customerArb = fc.record({
  industry: maybe(pick(['制造业', '零售', '信息技术'])),
  region: maybe(pick(['上海', '北京', '浙江'])),
  source: maybe(pick(['展会', '官网咨询'])),
  grade: maybe(pick(['战略客户', '重点客户', '普通客户'])),
  owner: maybe(pick(USERS)),
  created: maybe(fc.integer({ min: 0, max: AS_OF_DAY + 30 })),
  potential: maybe(money)
});

const dealArb = fc.record({
  customer: maybe(fc.integer({ min: 1, max: MAX.customers })),
  owner: maybe(pick(USERS)),
  product: maybe(pick(['A', 'B'])),
  source: maybe(pick(['展会', '官网咨询'])),
  competitor: maybe(pick(['甲', '乙'])),
  created: dayArb(),
  /** The first version's start relative to creation (a source's history may start a little before). */
  lead: fc.constantFrom(0, 0, 0, -2),
  steps: fc.array(
    fc.record({ stage: pick(STAGE_NAMES), gap: fc.integer({ min: 0, max: 90 }), amount: maybe(money) }),
    { minLength: 1, maxLength: 6 }
  ),
  amount: money,
  zeroLost: fc.boolean(),
  closeShift: fc.constantFrom(0, 0, 0, -40),
  probability: maybe(fc.integer({ min: 0, max: 100 }).map((x) => x / 100)),
  category: maybe(pick(['pipeline', 'best_case', 'commit', 'omitted'])),
  expectedShift: fc.integer({ min: -60, max: 200 }),
  reason: maybe(pick(['价格过高', '选择竞品']))
});

const paymentArb = fc.record({
  deal: maybe(fc.integer({ min: 1, max: MAX.deals })),
  customer: maybe(fc.integer({ min: 1, max: MAX.customers })),
  amount: money,
  due: maybe(fc.integer({ min: 0, max: AS_OF_DAY + 120 })),
  paid: maybe(fc.integer({ min: 0, max: AS_OF_DAY + 10 })),
  partial: maybe(money)
});

const activityArb = fc.record({
  deal: fc.option(fc.integer({ min: 1, max: MAX.deals }), { nil: null, freq: 2 }),
  customer: maybe(fc.integer({ min: 1, max: MAX.customers })),
  owner: maybe(pick(USERS)),
  day: dayArb(5)
});

const targetArb = fc.record({
  team: fc.boolean(),
  who: fc.integer({ min: 0, max: 4 }),
  quarter: fc.integer({ min: 0, max: 10 }),
  metric: pick(['won_amount', 'won_amount', 'collected_amount', 'new_customers']),
  amount: money
});

export const crmArb = fc.record({
  userTeams: fc.array(maybe(pick(TEAMS.map((t) => t[0]))), { minLength: USERS.length, maxLength: USERS.length }),
  customers: fc.array(customerArb, { maxLength: MAX.customers, size: 'max' }),
  deals: fc.array(dealArb, { maxLength: MAX.deals, size: 'max' }),
  payments: fc.array(paymentArb, { maxLength: MAX.payments, size: 'max' }),
  activities: fc.array(activityArb, { maxLength: MAX.activities, size: 'max' }),
  targets: fc.array(targetArb, { maxLength: MAX.targets, size: 'max' })
});
export type RandomCrm = typeof crmArb extends fc.Arbitrary<infer T> ? T : never;

/** A viewer scope over the random org: some teams and/or some owners (possibly none). */
export const scopeArb = fc.record({
  team_ids: fc.subarray(TEAMS.map((t) => t[0]), { maxLength: 2 }),
  owner_ids: fc.subarray(USERS, { maxLength: 2 })
});

/** Periods: presets around the report date and random ranges. */
export const periodArb = fc.oneof(
  pick(['this_year', 'last_year', 'this_quarter', 'last_quarter', 'all', 'this_month']).map((period) => ({ period }) as Record<string, string>),
  fc.tuple(fc.integer({ min: 0, max: AS_OF_DAY + 60 }), fc.integer({ min: 1, max: 400 })).map(([a, len]) => ({ from: dayToDate(a), to: dayToDate(a + len) }))
);

const q = (v: string | number | null | undefined) =>
  v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;
const values = (rows: (string | number | null)[][]) => rows.map((r) => `(${r.map(q).join(', ')})`).join(',\n');

/** The INSERT statements for a random CRM (tables assumed empty). */
export function randomCrmStatements(crm: RandomCrm): string[] {
  const out: string[] = [];
  out.push(`INSERT INTO teams VALUES ${values(TEAMS.map(([id, name, parent]) => [id, name, parent, null]))}`);
  out.push(`INSERT INTO users (user_id, name, team_id) VALUES ${values(USERS.map((u, i) => [u, `用户${i + 1}`, crm.userTeams[i]]))}`);
  if (crm.customers.length) {
    out.push(
      `INSERT INTO customers (customer_id, name, industry, region, source, grade, owner_id, created_at, attributes) VALUES ${values(
        crm.customers.map((c, i) => [
          `C${i + 1}`,
          `客户${i + 1}`,
          c.industry,
          c.region,
          c.source,
          c.grade,
          c.owner,
          c.created === null ? null : dayToDate(c.created),
          c.potential === null ? null : JSON.stringify({ 潜力: c.potential })
        ])
      )}`
    );
  }
  const opps: (string | number | null)[][] = [];
  const versions: (string | number | null)[][] = [];
  crm.deals.forEach((d, i) => {
    const id = `O${i + 1}`;
    let day = d.created + d.lead;
    const steps: { day: number; stage: string; amount: number }[] = [];
    for (const [k, s] of d.steps.entries()) {
      if (k > 0) day += s.gap;
      if (day > AS_OF_DAY) break;
      steps.push({ day, stage: s.stage, amount: s.amount ?? d.amount });
    }
    if (steps.length === 0) steps.push({ day: Math.min(d.created, AS_OF_DAY), stage: d.steps[0].stage, amount: d.amount });
    const last = steps[steps.length - 1];
    const kind = KIND.get(last.stage)!;
    const status = kind === 'won' ? 'won' : kind === 'lost' ? 'lost' : 'open';
    const amount = status === 'lost' && d.zeroLost ? 0 : last.amount;
    if (status === 'lost' && d.zeroLost) last.amount = 0;
    const closed = status === 'open' ? null : dayToDate(Math.max(0, last.day + d.closeShift));
    opps.push([
      id, id, d.customer === null ? null : `C${d.customer}`, d.owner, last.stage, status, amount,
      status === 'open' ? d.probability : null, status === 'open' ? d.category : null,
      dayToDate(Math.max(0, d.created + d.expectedShift)), dayToDate(d.created), closed,
      status === 'lost' ? d.reason : null, d.product, d.source, d.competitor
    ]);
    steps.forEach((s, k) => {
      const next = steps[k + 1];
      versions.push([id, dayToDate(s.day), next ? dayToDate(next.day) : null, s.stage, s.amount, d.owner]);
    });
  });
  if (opps.length) {
    out.push(`INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, probability, forecast_category,
        expected_close_date, created_at, closed_at, loss_reason, product, source, competitor) VALUES ${values(opps)}`);
    // Two versions of one deal may start on the same day; keep the later one (as a sync would).
    const seen = new Map<string, (string | number | null)[]>();
    for (const v of versions) seen.set(`${v[0]}|${v[1]}`, v);
    const kept = [...seen.values()];
    out.push(`INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, owner_id, origin)
      VALUES ${values(kept.map((v) => [...v, 'source']))}`);
  }
  const deals = crm.deals.length;
  const payments = crm.payments.map((p, i) => {
    const deal = p.deal !== null && p.deal <= deals ? `O${p.deal}` : null;
    const dealCustomer = deal ? (opps[p.deal! - 1][2] as string | null) : null;
    const paid = p.paid === null ? null : dayToDate(p.paid);
    return [`P${i + 1}`, deal ? dealCustomer : p.customer === null ? null : `C${p.customer}`, deal, p.amount, p.due === null ? null : dayToDate(p.due), paid, paid ? p.partial : null];
  });
  if (payments.length) out.push(`INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount) VALUES ${values(payments)}`);
  const acts = crm.activities.map((a, i) => {
    const deal = a.deal !== null && a.deal <= deals ? `O${a.deal}` : null;
    return [`A${i + 1}`, deal ? (opps[a.deal! - 1][2] as string | null) : a.customer === null ? null : `C${a.customer}`, deal, a.owner, 'call', dayToDate(a.day), null];
  });
  if (acts.length) out.push(`INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary) VALUES ${values(acts)}`);
  const targets = crm.targets.map((t, i) => {
    const qStart = new Date(Date.UTC(2024, t.quarter * 3, 1)).toISOString().slice(0, 10);
    const qEnd = new Date(Date.UTC(2024, t.quarter * 3 + 3, 1)).toISOString().slice(0, 10);
    return [`G${i + 1}`, t.team ? null : USERS[t.who], t.team ? TEAMS[t.who][0] : null, t.metric, qStart, qEnd, t.amount];
  });
  if (targets.length) out.push(`INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount) VALUES ${values(targets)}`);
  return out;
}

const TABLES = ['opportunity_versions', 'activities', 'payments', 'opportunities', 'customers', 'targets', 'users', 'teams'];

/** Replaces the database's CRM tables with a random CRM. */
export async function loadRandomCrm(db: Database, crm: RandomCrm): Promise<void> {
  await db.write(async (tx) => {
    for (const t of TABLES) await tx.run(`DELETE FROM ${t}`);
    for (const s of randomCrmStatements(crm)) await tx.run(s);
  });
}
