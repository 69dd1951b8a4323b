/**
 * No stored value may crash a page (issue 12). A property test with ONE fixed seed: random
 * hostile values — dates far out of range (year 57343, 0001-01-01, ±infinity), huge and
 * negative amounts, empty, long, unicode and HTML names, unknown stages, missing owners,
 * customers and teams — are written straight into a demo DuckDB file (as a SQL source or a
 * hand edit could store them, past every import rule), then ONE server is started on it and
 * every board (every period preset and a drill into a hostile deal), every cockpit page and
 * every model's every view are requested: none answers 500 and no tile shows an error.
 *
 * One database and one server for all cases keeps this well under a minute.
 */
import fc from 'fast-check';
import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOARDS } from '../../src/lib/boards/registry';
import { WALL_PAGES } from '../../src/lib/boards/wall';
import { AS_OF, qs, sign, startSecServer, type CatalogEntry, type SecServer } from './helpers';

const SEED = 20261206;

const DATES = ['infinity', '-infinity', '57343-04-15', '0001-01-01', '1899-12-31', '9999-12-31', '2200-01-02', '1970-01-01', '2026-02-29x'];
const TIMESTAMPS = ['infinity', '-infinity', '57343-04-15 00:00:00', '0001-01-01 00:00:00', '294246-12-31 23:59:59', '1970-01-01 00:00:00', '2100-06-01 12:00:00'];
const AMOUNTS = ['9999999999999999.99', '-9999999999999999.99', '0', '-0.01', '0.01', '123456789012345.67', '-250000'];
const TEXTS = [
  '',
  ' ',
  'x'.repeat(3000),
  '名'.repeat(400),
  '😀👨‍👩‍👧‍👦🇨🇳',
  '\u202Eevil\u200B\u200D',
  '<script>window.__x=1</script>',
  '<b>bold</b> & "quoted" \'single\'',
  'NaN',
  'null',
  '-Infinity',
  'line\nbreak\ttab',
  '%E0%A4%A',
  '{{x}} ${y}'
];

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
/** A value or NULL. */
const orNull = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 });
const lit = (v: string | null) => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);

/** Samples `n` values from `arb` with the suite's seed (offset per use, so each draw differs). */
let draw = 0;
const sample = <T>(arb: fc.Arbitrary<T>, n: number): T[] => fc.sample(arb, { seed: SEED + draw++, numRuns: n });

/** A DATE literal that DuckDB takes (an invalid one stays a string in a VARCHAR column only). */
const dateLit = (v: string | null) => (v === null ? 'NULL' : /x$/.test(v) ? 'NULL' : `${lit(v)}::DATE`);
const tsLit = (v: string | null) => (v === null ? 'NULL' : `${lit(v)}::TIMESTAMP`);

async function poison(conn: DuckDBConnection): Promise<{ dealIds: string[]; customerIds: string[] }> {
  const ids = async (q: string) => (await conn.runAndReadAll(q)).getRowObjectsJson().map((r) => String(Object.values(r)[0]));
  const deals = await ids(`SELECT opportunity_id FROM opportunities ORDER BY opportunity_id`);
  const customers = await ids(`SELECT customer_id FROM customers ORDER BY customer_id`);
  const payments = await ids(`SELECT payment_id FROM payments ORDER BY payment_id`);
  const users = await ids(`SELECT user_id FROM users ORDER BY user_id`);
  const teams = await ids(`SELECT team_id FROM teams ORDER BY team_id`);
  const stages = await ids(`SELECT DISTINCT stage FROM opportunities ORDER BY 1`);

  const dealEdit = fc.record({
    i: fc.nat(deals.length - 1),
    name: orNull(pick(TEXTS)),
    stage: pick([...stages, '未知阶段', '', '<i>stage</i>']),
    status: orNull(pick(['open', 'won', 'lost'])),
    amount: orNull(pick(AMOUNTS)),
    probability: orNull(pick(['0', '1', '0.5'])),
    expected_close_date: orNull(pick(DATES)),
    created_at: orNull(pick(TIMESTAMPS)),
    closed_at: orNull(pick(TIMESTAMPS)),
    owner_id: orNull(pick([...users.slice(0, 3), 'nobody-记录', ''])),
    customer_id: orNull(pick([...customers.slice(0, 3), 'ghost-customer'])),
    product: orNull(pick(TEXTS)),
    loss_reason: orNull(pick(TEXTS)),
    forecast_category: orNull(pick(['commit', 'best_case', 'pipeline', 'omitted', 'bogus']))
  });
  const picked: string[] = [];
  for (const e of sample(dealEdit, 60)) {
    const id = deals[e.i];
    picked.push(id);
    await conn.run(`UPDATE opportunities SET name = ${lit(e.name)}, stage = ${lit(e.stage)}, status = ${lit(e.status)},
      amount = ${e.amount ?? 'NULL'}, probability = ${e.probability ?? 'NULL'}, expected_close_date = ${dateLit(e.expected_close_date)},
      created_at = ${tsLit(e.created_at)}, closed_at = ${tsLit(e.closed_at)}, owner_id = ${lit(e.owner_id)}, customer_id = ${lit(e.customer_id)},
      product = ${lit(e.product)}, loss_reason = ${lit(e.loss_reason)}, forecast_category = ${lit(e.forecast_category)}
      WHERE opportunity_id = ${lit(id)}`);
    // Its history too: a version at the same hostile times, amounts and stage.
    await conn.run(`UPDATE opportunity_versions SET stage = ${lit(e.stage)}, amount = ${e.amount ?? 'NULL'},
      expected_close_date = ${dateLit(e.expected_close_date)}, owner_id = ${lit(e.owner_id)}
      WHERE opportunity_id = ${lit(id)} AND valid_to IS NULL`);
  }
  for (const e of sample(fc.record({ i: fc.nat(deals.length - 1), from: pick(TIMESTAMPS) }), 15)) {
    await conn.run(`UPDATE opportunity_versions SET valid_from = ${tsLit(e.from)} WHERE opportunity_id = ${lit(deals[e.i])} AND valid_to IS NULL`);
  }
  const customerEdit = fc.record({
    i: fc.nat(customers.length - 1),
    name: pick(TEXTS),
    region: orNull(pick(TEXTS)),
    industry: orNull(pick(TEXTS)),
    grade: orNull(pick(TEXTS)),
    owner_id: orNull(pick(['nobody', ...users.slice(0, 2)])),
    created_at: orNull(pick(TIMESTAMPS)),
    last_contact_at: orNull(pick(TIMESTAMPS))
  });
  const pickedCustomers: string[] = [];
  for (const e of sample(customerEdit, 30)) {
    pickedCustomers.push(customers[e.i]);
    await conn.run(`UPDATE customers SET name = ${lit(e.name)}, region = ${lit(e.region)}, industry = ${lit(e.industry)}, grade = ${lit(e.grade)},
      owner_id = ${lit(e.owner_id)}, created_at = ${tsLit(e.created_at)}, last_contact_at = ${tsLit(e.last_contact_at)}
      WHERE customer_id = ${lit(customers[e.i])}`);
  }
  const paymentEdit = fc.record({
    i: fc.nat(payments.length - 1),
    amount: orNull(pick(AMOUNTS)),
    paid_amount: orNull(pick(AMOUNTS)),
    due_date: orNull(pick(DATES)),
    paid_at: orNull(pick(DATES)),
    opportunity_id: orNull(pick(['ghost-deal', deals[0]]))
  });
  for (const e of sample(paymentEdit, 40)) {
    await conn.run(`UPDATE payments SET amount = ${e.amount ?? 'NULL'}, paid_amount = ${e.paid_amount ?? 'NULL'}, due_date = ${dateLit(e.due_date)},
      paid_at = ${dateLit(e.paid_at)}, opportunity_id = ${lit(e.opportunity_id)} WHERE payment_id = ${lit(payments[e.i])}`);
  }
  for (const e of sample(fc.record({ at: orNull(pick(TIMESTAMPS)), summary: orNull(pick(TEXTS)), type: orNull(pick(TEXTS)) }), 30)) {
    await conn.run(`UPDATE activities SET occurred_at = ${tsLit(e.at)}, summary = ${lit(e.summary)}, type = ${lit(e.type)}
      WHERE activity_id = (SELECT activity_id FROM activities ORDER BY hash(activity_id || ${lit(String(draw++))}) LIMIT 1)`);
  }
  for (const e of sample(fc.record({ i: fc.nat(users.length - 1), name: pick(TEXTS), team: orNull(pick(['ghost-team', teams[0]])) }), 8)) {
    await conn.run(`UPDATE users SET name = ${lit(e.name)}, team_id = ${lit(e.team)} WHERE user_id = ${lit(users[e.i])}`);
  }
  for (const e of sample(fc.record({ i: fc.nat(teams.length - 1), name: pick(TEXTS) }), 4)) {
    await conn.run(`UPDATE teams SET name = ${lit(e.name)} WHERE team_id = ${lit(teams[e.i])}`);
  }
  // Targets: zero, negative and huge amounts, over every kind of period.
  for (const e of sample(fc.record({ amount: pick(AMOUNTS), team: fc.boolean(), start: pick(['2026-04-01', '0001-01-01', '2026-01-01']), end: pick(['2026-07-01', '57343-01-01', 'infinity']) }), 10)) {
    await conn.run(`INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount)
      VALUES ('hostile-' || ${lit(String(draw++))}, ${e.team ? 'NULL' : lit(users[0])}, ${e.team ? lit(teams[0]) : 'NULL'}, 'won_amount', ${lit(e.start)}::DATE, ${lit(e.end)}::DATE, ${e.amount})`);
  }
  // New rows that reference nothing: no customer, no owner, an unknown stage.
  await conn.run(`INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, expected_close_date, created_at, closed_at)
    VALUES ('hostile-orphan', NULL, NULL, NULL, '不存在', NULL, NULL, NULL, NULL, NULL),
           ('hostile-far', '', 'ghost', '', '赢单', 'won', 9999999999999999.99, '57343-04-15', '-infinity', 'infinity')`);
  await conn.run(`UPDATE meta SET value = (value::BIGINT + 1)::VARCHAR WHERE key = 'data_version'`);
  return { dealIds: [...new Set([...picked.slice(0, 12), 'hostile-orphan', 'hostile-far'])], customerIds: [...new Set(pickedCustomers.slice(0, 6))] };
}

let srv: SecServer;
let token: string;
let picked: { dealIds: string[]; customerIds: string[] } = { dealIds: [], customerIds: [] };

beforeAll(async () => {
  srv = await startSecServer(async (conn) => {
    picked = await poison(conn);
  });
  token = await sign({ sub: 'ceo', role: 'executive' });
});
afterAll(async () => {
  if (process.env.HOSTILE_LOG && srv) (await import('node:fs')).writeFileSync(process.env.HOSTILE_LOG, srv.output());
  await srv?.stop();
});

const get = (path: string) => fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });

/** Requests every path (a few at a time) and returns those that failed, with why. */
async function failures(paths: string[], page: boolean): Promise<string[]> {
  const bad: string[] = [];
  const queue = [...paths];
  const worker = async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      const r = await get(p);
      const body = await r.text();
      if (r.status >= 500) bad.push(`${r.status} ${p}: ${body.slice(0, 300)}`);
      else if (page && /data-state="error"/.test(body)) bad.push(`tile error on ${p}: ${(/role="alert">\s*<p>([^<]*)/.exec(body) ?? [])[1] ?? ''}`);
      else if (!page && r.status !== 200 && r.status !== 400) bad.push(`${r.status} ${p}: ${body.slice(0, 300)}`);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return bad;
}

describe(`hostile stored values (one seed: ${SEED})`, () => {
  it('every board, in every period and language, with a hostile deal open, answers without a 500 or a tile error', async () => {
    const paths: string[] = [];
    for (const b of BOARDS) {
      for (const period of ['all', 'this_quarter']) {
        paths.push(`/boards/${b.id}?${qs({ as_of: AS_OF, period, wait: 'all', lang: period === 'all' ? 'en' : 'zh-CN' })}`);
      }
      for (const id of picked.dealIds.slice(b === BOARDS[0] ? 0 : 2, b === BOARDS[0] ? picked.dealIds.length : 3)) paths.push(`/boards/${b.id}?${qs({ as_of: AS_OF, period: 'all', deal: id, wait: 'all' })}`);
    }
    const bad = await failures(paths, true);
    expect(bad, srv.output().split('\n').filter((l) => /error/i.test(l)).slice(0, 10).join('\n')).toEqual([]);
  });

  it('every cockpit page answers without a 500 or a tile error, in both languages', async () => {
    const paths = Object.keys(WALL_PAGES).flatMap((p) => ['zh-CN', 'en'].map((lang) => `/cockpit?${qs({ pages: p, as_of: AS_OF, lang, wait: 'all' })}`));
    expect(await failures(paths, true)).toEqual([]);
  });

  it('every model, in every view, over all time and this quarter, answers 200 (or a 400 naming a parameter), never 500', async () => {
    const cat = (await (await get('/api/models')).json()) as { models: CatalogEntry[] };
    const paths: string[] = [];
    for (const m of cat.models) {
      const props = m.params.properties;
      const views = props.view?.enum ?? [undefined];
      const extra: Record<string, string>[] =
        m.name === 'deal' ? picked.dealIds.map((id) => ({ id })) : m.name === 'customer_profile' && props.id ? picked.customerIds.map((id) => ({ id })) : [{}];
      for (const view of views) {
        for (const e of extra) {
          for (const period of ['all', 'this_quarter']) paths.push(`/api/models/${m.name}?${qs({ as_of: AS_OF, period, view, ...e })}`);
        }
      }
    }
    expect(paths.length).toBeGreaterThan(20);
    expect(await failures(paths, false)).toEqual([]);
  });
});
