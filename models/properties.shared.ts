/**
 * Property tests over every model in the catalog, on random small CRMs (tests/helpers/random-crm.ts)
 * loaded into an in-memory DuckDB:
 * - rates are in [0, 1] or null, and no number is NaN or infinite;
 * - the rows of a group_by add up to the ungrouped total (every group_by the model accepts, dealt
 *   out over the runs);
 * - a scoped result is a subset of the unscoped one (its counts and amounts are ≤, row by row);
 * - funnel counts never grow from stage to stage;
 * - where a model has bounds, lower ≤ value ≤ upper;
 * plus each view's own invariants (retained ≤ customers, quadrants cover every customer …).
 *
 * Every model in the catalog must have a spec below and belong to one of PROPERTY_GROUPS: a model
 * added without either fails the "every model has a spec" test. Each group is its own test file
 * (models/properties-<group>.test.ts) so that the three run side by side in `npm test` rather
 * than as one ~3-minute file at the end of the unit suites.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { catalog, MODEL_NAMES } from './index';
import { Database } from '../src/lib/server/db/database';
import { parseConfig } from '../src/lib/server/config/load';
import type { Scope } from './common/scope';
import { ensureFacts } from '../warehouse/facts';
import { runModel, stageInfos, type ModelResult } from '../src/lib/server/models/run';
import { crmArb, loadRandomCrm, periodArb, RANDOM_AS_OF, scopeArb, type RandomCrm } from '../tests/helpers/random-crm';

type Row = Record<string, unknown>;

interface Case {
  /** Params that select the view (besides period and group_by). */
  params: Record<string, unknown>;
  /** A row's identity within its group (stage, bucket, reason …). */
  key: (r: Row) => string;
  /** Fields that add up over the groups of a group_by (none: the case has no group_by). */
  additive?: string[];
  /** Fields a narrower scope can only make smaller (n is always checked unless `nMonotone` is false). */
  monotone?: string[];
  nMonotone?: boolean;
  /** Fields that must be in [0, 1] or null. */
  rates?: string[];
  /** Group-by values to leave out for this case. */
  excludeGroupBy?: string[];
  /** Extra invariants of one result. */
  check?: (r: ModelResult) => void;
  /** Fields that never grow from one row to the next within a group (funnel). */
  nonIncreasing?: string;
  /** [lower, value, upper] field triples. */
  bounds?: [string, string, string][];
  /** Random CRMs to try (default RUNS): more where the interesting case is rare. */
  runs?: number;
  /** The test's timeout in ms (default 300 s). */
  timeout?: number;
}

const byStage = (r: Row) => String(r.stage);
const stageCounts = ['reached', 'reached_amount', 'open_now', 'lost_at'];

/** The properties of each model's views. Models without group_by have no `additive`. */
export const SPECS: Record<string, Case[]> = {
  funnel: [
    {
      params: {},
      key: byStage,
      additive: stageCounts,
      monotone: stageCounts,
      rates: ['step_conversion', 'conversion_from_first'],
      nonIncreasing: 'reached'
    },
    {
      params: { method: 'flow' },
      key: byStage,
      additive: ['entries', 'entered_amount', 'exits_forward', 'exits_lost', 'exits_back'],
      monotone: ['entries', 'entered_amount', 'exits_forward', 'exits_lost', 'exits_back'],
      excludeGroupBy: ['month', 'quarter']
    }
  ],
  kpis: [
    {
      params: {},
      key: (r) => String(r.measure),
      // new customers, win rate and attainment are not monotone by definition (first win among the deals in view …)
      nMonotone: false,
      check: (r) => {
        const m = Object.fromEntries(r.rows.map((x) => [x.measure, x]));
        const wr = m.win_rate as { value: number | null };
        if (wr.value !== null) {
          expect(wr.value).toBeGreaterThanOrEqual(0);
          expect(wr.value).toBeLessThanOrEqual(1);
        }
      },
      monotone: []
    }
  ],
  win_loss: [
    {
      params: {},
      key: () => 'all',
      additive: ['won', 'lost', 'won_amount', 'lost_amount', 'lost_valued_from_history', 'n'],
      monotone: ['won', 'lost', 'won_amount', 'lost_amount', 'lost_valued_from_history'],
      rates: ['win_rate', 'win_rate_value']
    },
    {
      params: { view: 'series', grain: 'quarter' },
      key: (r) => String(r.bucket),
      additive: ['won', 'lost', 'won_amount', 'lost_amount', 'n'],
      monotone: ['won', 'lost', 'won_amount', 'lost_amount'],
      rates: ['win_rate', 'win_rate_value']
    },
    {
      params: { view: 'loss_reasons' },
      key: (r) => String(r.reason),
      additive: ['lost', 'lost_amount'],
      monotone: ['lost', 'lost_amount'],
      rates: ['share', 'share_amount'],
      check: (r) => {
        const groups = new Map<unknown, number>();
        for (const x of r.rows) groups.set(x.group_key, (groups.get(x.group_key) ?? 0) + (x.share as number));
        for (const s of groups.values()) expect(s).toBeCloseTo(1, 9);
      }
    }
  ],
  cycle_time: [
    {
      params: {},
      key: () => 'all',
      additive: ['n', 'invalid'],
      monotone: ['n', 'invalid'],
      check: (r) => {
        for (const x of r.rows) {
          if (x.median_days === null) continue;
          expect(x.median_days as number).toBeLessThanOrEqual((x.p75_days as number) + 1e-9);
          expect(x.p75_days as number).toBeLessThanOrEqual((x.p90_days as number) + 1e-9);
        }
      }
    },
    {
      params: { view: 'time_in_stage' },
      key: byStage,
      monotone: ['n', 'reentered'],
      check: (r) => {
        for (const x of r.rows) {
          expect(x.reentered as number).toBeLessThanOrEqual(x.n as number);
          if (x.n) expect(x.median_days_cumulative as number).toBeGreaterThanOrEqual((x.median_days_latest as number) - 1e-9);
        }
      }
    },
    {
      params: { view: 'stalled', limit: 10000 },
      key: (r) => String(r.opportunity_id),
      // a deal stalled for its owner only because of someone else's follow-up is a rare draw
      runs: 30,
      monotone: ['n'],
      check: (r) => {
        for (const x of r.rows) expect(x.idle_days as number).toBeGreaterThan(x.stalled_after_days as number);
        expect(r.rows.length).toBe(r.n);
      }
    }
  ],
  ltv: [
    ...(['payments', 'won_amount'] as const).map(
      (basis): Case => ({
        params: { basis },
        key: () => 'all',
        additive: ['customers', 'customers_with_revenue', 'historical_ltv', 'won_amount', 'won_deals', 'active_customers', 'active_last_year', 'churned'],
        // churned is not monotone: a customer active this year only through deals the viewer cannot see looks churned to them
        monotone: ['customers', 'customers_with_revenue', 'historical_ltv', 'won_amount', 'won_deals', 'active_customers', 'active_last_year'],
        rates: ['churn'],
        check: (r) => {
          for (const x of r.rows) {
            expect(x.churned as number).toBeLessThanOrEqual(x.active_last_year as number);
            if (x.lifetime_years !== null) expect(x.lifetime_years as number).toBeLessThanOrEqual(10);
          }
        }
      })
    ),
    {
      params: { view: 'cohorts', basis: 'payments' },
      key: (r) => `${r.cohort}|${r.months_since}`,
      // cohorts are by the first win among the deals in view: a scope can move a customer to a later cohort
      nMonotone: false,
      monotone: [],
      rates: ['retained_share'],
      check: (r) => {
        for (const x of r.rows) {
          expect(x.retained as number).toBeLessThanOrEqual(x.customers as number);
          if (x.months_since === 0) expect(x.retained).toBe(x.customers);
        }
      }
    }
  ],
  trend: [
    {
      params: {},
      key: (r) => String(r.bucket),
      additive: ['value', 'n'],
      monotone: ['value', 'n']
    },
    {
      params: { measure: 'win_rate', grain: 'quarter' },
      key: (r) => String(r.bucket),
      additive: ['n'],
      monotone: ['n'],
      rates: ['value']
    }
  ],
  leaderboard: [
    {
      // No ungrouped form (owner is the default): owners, teams and own teams must cover the same deals.
      params: {},
      key: () => 'all',
      additive: ['won_amount', 'won_count', 'lost_count', 'collected_amount', 'collected_n', 'n'],
      monotone: ['won_amount', 'won_count', 'lost_count', 'collected_amount', 'collected_n', 'activities'],
      rates: ['win_rate']
    }
  ],
  payments: [
    {
      params: {},
      key: () => 'all',
      additive: ['contracted', 'contracted_n', 'collected', 'collected_n', 'due', 'due_n', 'overdue', 'overdue_n', 'outstanding', 'receivables', 'n'],
      monotone: ['contracted', 'contracted_n', 'collected', 'collected_n', 'due', 'due_n', 'overdue', 'overdue_n', 'outstanding', 'receivables']
    },
    {
      params: { view: 'aging' },
      key: (r) => String(r.bucket),
      additive: ['amount', 'n'],
      monotone: ['amount', 'n']
    },
    {
      params: { view: 'upcoming' },
      key: (r) => String(r.bucket),
      additive: ['amount', 'n'],
      monotone: ['amount', 'n']
    },
    {
      params: { view: 'overdue', limit: 10000 },
      key: (r) => String(r.payment_id),
      monotone: ['n', 'outstanding']
    }
  ],
  forecast: [
    {
      params: {},
      key: () => 'all',
      additive: ['closed_won', 'closed_won_n', 'weighted_pipeline', 'forecast', 'open_pipeline', 'open_n', 'commit', 'best_case', 'pipeline', 'omitted', 'n'],
      monotone: ['closed_won', 'closed_won_n', 'weighted_pipeline', 'forecast', 'open_pipeline', 'open_n', 'commit', 'best_case', 'pipeline', 'omitted'],
      // categories roll up cumulatively (Salesforce): closed won ≤ commit ≤ best case ≤ pipeline
      bounds: [
        ['closed_won', 'commit', 'best_case'],
        ['commit', 'best_case', 'pipeline']
      ]
    },
    {
      params: { view: 'stages', probabilities: 'learned' },
      key: byStage,
      monotone: ['won', 'lost', 'open_n', 'open_amount'],
      rates: ['configured', 'win_rate', 'learned']
    },
    {
      params: { view: 'accuracy', grain: 'quarter' },
      key: (r) => `${r.bucket}|${r.method}`,
      nMonotone: false,
      monotone: [],
      rates: ['accuracy'],
      excludeGroupBy: ['region', 'industry', 'source', 'product', 'grade', 'stage', 'month', 'quarter'],
      // A run that draws `all` (or a period from before 1900) backtests 12 quarters: a 279 KB
      // statement that DuckDB takes ~10 s of CPU to plan, three times per run (whole, scoped,
      // no scope); at a load of 20 one such run was seen to take over 300 s.
      timeout: 900_000
    }
  ],
  deals: [
    {
      // Every row on one page, so the scoped rows can be matched with the unscoped ones.
      params: { limit: 1000 },
      key: (r) => String(r.opportunity_id),
      monotone: ['amount'],
      rates: ['probability'],
      check: (r) => {
        expect(r.summary?.total).toBe(r.n);
        expect(r.rows.length).toBe(Math.min(r.n, 1000));
        for (const x of r.rows) {
          if (x.stalled) expect(x.status).toBe('open');
          if (x.days_idle !== null) expect(x.status).toBe('open');
          if (x.status === 'lost') expect(x.weighted_amount).toBe(0);
        }
      }
    },
    {
      params: { limit: 1000, stalled: 'true' },
      key: (r) => String(r.opportunity_id),
      monotone: ['amount'],
      check: (r) => {
        for (const x of r.rows) expect([x.status, x.stalled]).toEqual(['open', true]);
      }
    }
  ],
  deal: [
    {
      params: { id: 'O1' },
      key: (r) => `${r.kind}|${r.at}|${r.ref ?? r.stage ?? ''}`,
      monotone: [],
      check: (r) => {
        const deal = r.summary?.deal as { opportunity_id: string } | null;
        if (!deal) return expect(r.rows).toEqual([]);
        expect(deal.opportunity_id).toBe('O1');
        const at = r.rows.map((x) => String(x.at));
        expect(at).toEqual([...at].sort());
        for (const x of r.rows) if (x.days !== null) expect(x.days as number).toBeGreaterThanOrEqual(0);
      }
    }
  ],
  options: [
    {
      params: {},
      key: (r) => `${r.kind}|${r.key}`,
      // the configured stages are offered to everyone, with no scope too
      nMonotone: false,
      monotone: ['n'],
      check: (r) => {
        const teams = r.rows.filter((x) => x.kind === 'team');
        const owners = r.rows.filter((x) => x.kind === 'owner');
        for (const o of owners) expect(o.n as number).toBeLessThanOrEqual(Math.max(0, ...teams.filter((t) => t.key === o.parent).map((t) => t.n as number), o.n as number));
        for (const t of teams) if (t.parent !== null) expect(teams.some((p) => p.key === t.parent)).toBe(true);
      }
    }
  ],
  payment_list: [
    {
      params: { limit: 1000 },
      key: (r) => String(r.payment_id),
      monotone: ['amount', 'outstanding'],
      check: (r) => {
        expect(r.summary?.total).toBe(r.n);
        for (const x of r.rows) {
          if (x.state === 'overdue') expect(x.days_overdue as number).toBeGreaterThan(0);
          else expect(x.aging).toBe('current');
          if (x.state === 'paid') expect(x.outstanding as number).toBeLessThanOrEqual(0);
        }
      }
    }
  ],
  deal_risk: [
    {
      params: {},
      key: (r) => String(r.flag),
      monotone: ['deals', 'amount'],
      rates: ['share'],
      check: (r) => {
        const any = r.rows.find((x) => x.flag === 'any')!;
        for (const x of r.rows) expect(x.deals as number).toBeLessThanOrEqual(any.deals as number);
        expect(any.deals as number).toBeLessThanOrEqual(r.n);
      }
    }
  ],
  customer: [
    {
      params: { id: 'C1' },
      key: (r) => `${r.kind}|${r.at}|${r.ref ?? ''}`,
      // a narrower scope sees fewer of the customer's deals and payments: monthly won amounts only shrink
      monotone: ['amount'],
      nMonotone: true,
      check: (r) => {
        const c = r.summary?.customer as Record<string, number> | null;
        if (!c) {
          expect(r.rows).toEqual([]);
          return;
        }
        const months = r.rows.filter((x) => x.kind === 'won_month');
        expect(months.reduce((s, x) => s + (x.amount as number), 0)).toBeCloseTo(months.length ? (months.at(-1)!.cumulative as number) : 0, 6);
        expect(c.won_deals + c.open_deals + c.lost_deals).toBe(c.deals);
        // overdue is the positive outstanding of payments past due (an overpaid one is negative outstanding, not overdue)
        const positive = r.rows.filter((x) => x.kind === 'payment').reduce((s, x) => s + Math.max(0, x.outstanding as number), 0);
        expect(c.overdue).toBeGreaterThanOrEqual(0);
        expect(c.overdue).toBeLessThanOrEqual(positive + 1e-6);
      }
    }
  ],
  pipeline_flow: [
    {
      params: {},
      key: (r) => String(r.bucket),
      // a scope keeps a subset of the deals, each in the same bucket (scopes follow the current owner)
      monotone: ['deals'],
      check: (r) => {
        const v = Object.fromEntries(r.rows.map((x) => [x.bucket, x.value as number]));
        const parts = ['new', 'pulled_in', 'pushed_out', 'increased', 'decreased', 'won', 'lost', 'removed'].reduce((s, b) => s + v[b], 0);
        expect(v.start + parts).toBe(v.end);
        expect(v.unchanged).toBe(0);
      }
    }
  ],
  pipeline_flow_deals: [
    {
      params: { bucket: 'end', limit: 1000 },
      key: (r) => String(r.opportunity_id),
      monotone: ['after_amount'],
      check: (r) => {
        expect(r.summary?.total).toBe(r.n);
        expect(r.rows.reduce((s, x) => s + (x.change_value as number), 0)).toBe(r.summary?.total_value);
      }
    }
  ],
  customer_list: [
    {
      params: { segment: 'all', limit: 1000 },
      key: (r) => String(r.customer_id),
      // a customer's figures move with the deals and payments in view; the set can only shrink
      monotone: [],
      check: (r) => {
        expect(r.rows.length).toBeLessThanOrEqual(r.n);
        for (const x of r.rows) {
          expect(x.ltv as number).toBeGreaterThanOrEqual(0);
          expect(x.won_deals as number).toBeGreaterThanOrEqual(0);
          expect(x.churned).toBe((x.active_last_year as boolean) && !(x.active_year as boolean));
        }
      }
    },
    {
      params: { segment: 'churned', limit: 1000 },
      key: (r) => String(r.customer_id),
      // churn is not monotone (ltv): a customer active this year only through deals a viewer cannot see looks churned to them
      nMonotone: false,
      monotone: [],
      check: (r) => {
        for (const x of r.rows) expect((x.active_last_year as boolean) && !(x.active_year as boolean)).toBe(true);
      }
    }
  ],
  customer_profile: [
    {
      params: {},
      key: (r) => `${r.dimension}|${r.value}`,
      monotone: ['customers', 'won_customers', 'won_deals', 'won_amount'],
      rates: ['share_customers', 'share_won_amount'],
      check: (r) => {
        for (const d of ['industry', 'region', 'source', 'grade']) {
          expect(r.rows.filter((x) => x.dimension === d).reduce((s, x) => s + (x.customers as number), 0)).toBe(r.n);
        }
      }
    },
    {
      params: { view: 'grid', basis: 'payments' },
      key: (r) => String(r.quadrant),
      // medians move with the scope, so a customer can change quadrant; the total cannot grow
      monotone: [],
      rates: ['share'],
      check: (r) => {
        expect(r.rows.map((x) => x.quadrant)).toEqual(['key_maintain', 'key_develop', 'standard', 'activate']);
        expect(r.rows.reduce((s, x) => s + (x.customers as number), 0)).toBe(r.n);
      }
    }
  ]
};

const cfg = parseConfig({});
if (!cfg.ok) throw new Error('default config invalid');
const config = cfg.config;

const run = (db: Database, name: string, params: Record<string, unknown>, scope: Scope | null = { all: true }) =>
  runModel(db, config, name, { as_of: RANDOM_AS_OF, ...params }, scope);

/**
 * The random CRMs, each loaded (and its derived facts built) once per file rather than once per
 * case: loading and refreshing the facts was about half of each run's time. The CRM is the
 * property's first arbitrary, so the cases that share a seed (the ci-th case of every model)
 * draw the same CRMs, run for run; the cases run seed by seed (see describeProperties) and the
 * CRMs of the current seed stay loaded, each in a database of its own (~14 MB each, up to
 * KEEP of them). A CRM beyond those (a case with more runs, PROPERTY_RUNS, shrinking after a
 * failure) is loaded into one scratch database, as every run used to be. The models only read,
 * so a database holds exactly the loaded CRM whichever case used it before.
 */
const KEEP = 12;
const kept = new Map<string, Promise<Database>>();
let keptSeed: number | null = null;
let scratch: { db: Promise<Database>; key: string | null } | null = null;
const stages = stageInfos(config);

async function loaded(db: Database, crm: RandomCrm): Promise<Database> {
  await loadRandomCrm(db, crm);
  await ensureFacts(db, stages);
  return db;
}

async function closeKept() {
  const dbs = [...kept.values()];
  kept.clear();
  for (const db of dbs) await (await db.catch(() => null))?.close();
}

/** A database holding exactly `crm` (with fresh facts). */
async function dbFor(seed: number, crm: RandomCrm): Promise<Database> {
  if (seed !== keptSeed) {
    await closeKept();
    keptSeed = seed;
  }
  const key = JSON.stringify(crm);
  let db = kept.get(key);
  if (!db && kept.size < KEEP) kept.set(key, (db = Database.open(':memory:').then((d) => loaded(d, crm))));
  if (db) return db;
  scratch ??= { db: Database.open(':memory:'), key: null };
  if (scratch.key !== key) {
    scratch.key = null;
    await loaded(await scratch.db, crm);
    scratch.key = key;
  }
  return scratch.db;
}

/** The options of an enum param (e.g. group_by) of a model, or []. */
function enumOptions(name: string, param: string): string[] {
  const shape = (catalog[name as keyof typeof catalog].params as unknown as { _zod: { def: { shape: Record<string, z.ZodType> } } })._zod.def.shape;
  let s = shape[param] as unknown as { _zod: { def: { type: string; innerType?: unknown; entries?: Record<string, string> } } } | undefined;
  while (s && (s._zod.def.type === 'optional' || s._zod.def.type === 'default')) s = s._zod.def.innerType as typeof s;
  return s && s._zod.def.type === 'enum' ? Object.values(s._zod.def.entries ?? {}) : [];
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);
const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

function sumBy(rows: Row[], key: (r: Row) => string, field: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + num(r[field]));
  return m;
}

function checkNumbers(r: ModelResult, c: Case, label: string) {
  for (const row of r.rows) {
    for (const [k, v] of Object.entries(row)) {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${label}: ${k} is ${v}`);
    }
    for (const f of c.rates ?? []) {
      const v = row[f];
      if (v === null || v === undefined) continue;
      if (typeof v !== 'number' || v < 0 || v > 1) throw new Error(`${label}: rate ${f} = ${v} is outside [0, 1]`);
    }
    for (const [lo, mid, hi] of c.bounds ?? []) {
      if (row[lo] === null || row[mid] === null || row[hi] === null) continue;
      if (!(num(row[lo]) <= num(row[mid]) + 1e-9 && num(row[mid]) <= num(row[hi]) + 1e-9)) {
        throw new Error(`${label}: ${lo} ${row[lo]} ≤ ${mid} ${row[mid]} ≤ ${hi} ${row[hi]} fails`);
      }
    }
  }
  if (c.nonIncreasing) {
    const groups = new Map<unknown, Row[]>();
    for (const row of r.rows) groups.set(row.group_key, [...(groups.get(row.group_key) ?? []), row]);
    for (const list of groups.values()) {
      for (let i = 1; i < list.length; i++) {
        if (num(list[i][c.nonIncreasing]) > num(list[i - 1][c.nonIncreasing])) {
          throw new Error(`${label}: ${c.nonIncreasing} grows from ${list[i - 1].stage} (${list[i - 1][c.nonIncreasing]}) to ${list[i].stage} (${list[i][c.nonIncreasing]})`);
        }
      }
    }
  }
  c.check?.(r);
}

// 5 random CRMs per case in `npm test` (up to 28 deals each; 10 of up to 14 before 7 Dec: a
// query's cost is its planning, not its rows); PROPERTY_RUNS=100 for a deeper search.
const RUNS = Number(process.env.PROPERTY_RUNS ?? 5);

/** The property files and the models each checks (roughly equal running times). */
export const PROPERTY_GROUPS = {
  deals: ['cycle_time', 'deals', 'deal', 'deal_risk', 'options'],
  customers: ['customer', 'customer_list', 'customer_profile', 'pipeline_flow', 'pipeline_flow_deals', 'ltv'],
  revenue: ['forecast', 'funnel', 'kpis', 'leaderboard', 'payments', 'payment_list', 'trend', 'win_loss']
} as const;

/** The property tests of one group's models. */
export function describeProperties(group: keyof typeof PROPERTY_GROUPS) {
describe(`properties of the ${group} models on random CRMs`, () => {
  afterAll(async () => {
    await closeKept();
    if (scratch) await (await scratch.db).close();
    scratch = null;
  });
  if (group === 'deals') {
    it('every model in the catalog has a property spec and a property file', () => {
      expect(MODEL_NAMES.filter((n) => !SPECS[n])).toEqual([]);
      const grouped = Object.values(PROPERTY_GROUPS).flat() as string[];
      expect(MODEL_NAMES.filter((n) => grouped.filter((g) => g === n).length !== 1)).toEqual([]);
      expect(grouped.filter((g) => !(MODEL_NAMES as string[]).includes(g))).toEqual([]);
    });
  }

  // Seed by seed (the first case of every model, then the second …), so each seed's CRMs are
  // loaded once for all the cases that draw them (dbFor).
  const all = (PROPERTY_GROUPS[group] as readonly string[]).flatMap((name) => (SPECS[name] ?? []).map((c, ci) => ({ name, c, ci })));
  all.sort((a, b) => a.ci - b.ci);
  for (const { name, c, ci } of all) {
    const label = `${name} ${JSON.stringify(c.params)}`;
    const groupBys = enumOptions(name, 'group_by').filter((g) => !(c.excludeGroupBy ?? []).includes(g));
    const props = [
      'rates in [0, 1] or null, numbers finite',
      ...(c.nonIncreasing ? [`${c.nonIncreasing} never grows stage to stage`] : []),
      ...(c.bounds ? ['bounds hold'] : []),
      ...(c.additive && groupBys.length ? ['group_by rows add up to the whole'] : []),
      'a scoped result is a subset of the unscoped one'
    ];

    const runs = process.env.PROPERTY_RUNS ? RUNS : (c.runs ?? RUNS);
    /**
     * The group_bys a run checks: dealt out over the case's runs so that together they check
     * every one (a random pick per run used to leave about a third unchecked); after the last
     * run (fast-check shrinking a failure) every one, so the failing one stays in.
     */
    const dealt = (at: number) =>
      at >= runs ? groupBys : groupBys.length <= runs ? [groupBys[at % groupBys.length]] : groupBys.filter((_, i) => i % runs === at);

    // One random CRM per run serves every property of the case, and every case of its seed (dbFor).
    it(`${label}: ${props.join('; ')}`, async () => {
      let at = 0;
      const checkedGroupBys = new Set<string>();
      await fc.assert(
        fc.asyncProperty(crmArb, periodArb, scopeArb, async (crm, period, scope) => {
          const db = await dbFor(4242 + ci, crm);
          const params = { ...c.params, ...period };
          const whole = await run(db, name, params);
          checkNumbers(whole, c, label);

          for (const groupBy of c.additive && groupBys.length ? dealt(at++) : []) {
            checkedGroupBys.add(groupBy);
            const parts = await run(db, name, { ...params, group_by: groupBy });
            checkNumbers(parts, c, `${label} group_by=${groupBy}`);
            for (const f of c.additive ?? []) {
              const a = sumBy(whole.rows, c.key, f);
              const b = sumBy(parts.rows, c.key, f);
              for (const [k, v] of a) {
                if (!close(v, b.get(k) ?? 0)) throw new Error(`${label} group_by=${groupBy}: ${f} at ${k} is ${v} whole, ${b.get(k) ?? 0} summed over groups`);
              }
              for (const [k, v] of b) if (!a.has(k) && v !== 0) throw new Error(`${label} group_by=${groupBy}: ${f} at ${k} only in the groups (${v})`);
            }
            if (parts.n !== whole.n) throw new Error(`${label} group_by=${groupBy}: n ${parts.n} grouped, ${whole.n} whole`);
          }

          const some = await run(db, name, params, scope);
          const none = await run(db, name, params, null);
          checkNumbers(some, c, `${label} scoped`);
          if (c.nMonotone !== false) {
            if (some.n > whole.n) throw new Error(`${label} scope ${JSON.stringify(scope)}: n ${some.n} scoped > ${whole.n}`);
            if (none.n !== 0) throw new Error(`${label}: n ${none.n} without a scope`);
          }
          for (const f of c.monotone ?? []) {
            const a = sumBy(whole.rows, c.key, f);
            const b = sumBy(some.rows, c.key, f);
            for (const [k, v] of b) {
              if (v > (a.get(k) ?? 0) + 1e-6) throw new Error(`${label} scope ${JSON.stringify(scope)}: ${f} at ${k} is ${v} scoped > ${a.get(k) ?? 0} unscoped`);
            }
          }
        }),
        { numRuns: runs, seed: 4242 + ci }
      );
      // Every group_by was checked (dealt above).
      expect([...checkedGroupBys].sort()).toEqual(c.additive ? [...groupBys].sort() : []);
    }, c.timeout ?? 300_000);
  }
});
}
