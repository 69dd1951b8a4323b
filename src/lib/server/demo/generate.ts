/**
 * Demo data: a believable Chinese B2B company with three years of history up to `asOf`.
 *
 * Everything is generated in SQL inside DuckDB (1,000,000 opportunities in well under a minute),
 * with a counter-based random number generator: rnd(k, salt) = hash(hash(seed, k, salt)) / 2^64 (the
 * outer hash matters: DuckDB's multi-argument hash alone leaves draws with different salts
 * correlated at 0.9). The
 * same seed, scale and as-of date give the same data on the same DuckDB version, whatever the
 * thread count, because no value depends on evaluation order.
 *
 * The model of a deal: it is created on a working day (volume growing ~25%/year), advances
 * 初步接洽 → 需求分析 → 方案报价 → 商务谈判 with per-stage probabilities adjusted by the rep's skill,
 * sometimes skips a stage, spends a log-normal time in each, and is won (about a quarter of
 * closed deals) or lost with a reason. Wins bunch before quarter ends. Deals whose outcome lies
 * after `asOf` are open in the stage they had reached. Amounts are log-normal by customer
 * grade and product; some deals are discounted in negotiation, some close dates are pushed,
 * some lost deals have their amount zeroed (as some CRMs do). Won deals get instalment plans
 * paid with realistic delays (some overdue, a few never paid); every deal has follow-up
 * activities; reps and teams (regions and the company included) get quarterly targets, and each
 * team's target is also set per customer region (targets.region), adding up to the team's.
 */
import type { Database, WriteTx } from '../db/database';
import type { StageInfo } from '../../../../warehouse/stages';
import { refreshFacts } from '../../../../warehouse/facts';
import { sql, unsafeRaw } from '../db/sql';
import { mulberry32 } from '../../../../warehouse/prng';
import {
  ACTIVITY_TYPES,
  COMPANY,
  COMPETITORS,
  GIVEN_NAMES,
  INDUSTRY_SUFFIXES,
  LOSS_REASONS,
  PRODUCTS,
  REGIONS,
  SOURCES,
  SURNAMES,
  TEAMS,
  TRADE_WORDS
} from './org';

export const SCALES = {
  small: { customers: 2_000, opportunities: 6_000 },
  medium: { customers: 20_000, opportunities: 60_000 },
  large: { customers: 250_000, opportunities: 1_000_000 },
  /** 10M opportunities: the scale the speed targets are set at (issue 15); minutes to build. */
  xlarge: { customers: 2_500_000, opportunities: 10_000_000 }
} as const;
export type Scale = keyof typeof SCALES;

export interface DemoOptions {
  scale: Scale;
  /** The configured stages; when given, derived facts are rebuilt in the same transaction. */
  stages?: StageInfo[];
  seed: number;
  /** The last day of history, `YYYY-MM-DD` (default: today in the business time zone). */
  asOf: string;
  log?: (msg: string) => void;
  /**
   * Insert the large tables in slices of this many rows, each slice committed on its own
   * (bench/make-xlarge.ts at 10M deals). In one transaction, the primary keys' in-memory indexes
   * and the transaction's own storage of 80M new rows exceeded 12 GB (docs/decisions.md, "The
   * 10M demo, second attempt"). A failure part-way then leaves a partly written demo, so every
   * other caller keeps the default: one transaction, all or nothing.
   */
  sliceRows?: number;
}

export interface DemoSummary {
  scale: Scale;
  seed: number;
  asOf: string;
  counts: Record<string, number>;
  ms: number;
}

/** A SQL string literal for program constants (names in org.ts), quotes doubled. */
function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Small deterministic PRNG for the org chart (mulberry32). */
const prng = mulberry32;

interface DemoUser {
  user_id: string;
  name: string;
  team_id: string;
  email: string;
  role: 'executive' | 'director' | 'manager' | 'rep';
  skill: number;
  volume: number;
}

/** The org chart: teams and users, deterministic for a seed. */
export function demoOrg(seed: number) {
  const rand = prng(seed ^ 0x9e3779b9);
  const names = new Set<string>();
  const pickName = () => {
    for (;;) {
      const n = SURNAMES[Math.floor(rand() * SURNAMES.length)] + GIVEN_NAMES[Math.floor(rand() * GIVEN_NAMES.length)];
      if (!names.has(n)) {
        names.add(n);
        return n;
      }
    }
  };
  const normal = () => Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const users: DemoUser[] = [];
  let n = 0;
  const add = (team_id: string, role: DemoUser['role']) => {
    n++;
    const user_id = `U${String(n).padStart(3, '0')}`;
    const u: DemoUser = {
      user_id,
      name: pickName(),
      team_id,
      email: `${user_id.toLowerCase()}@yunfan.example`,
      role,
      skill: role === 'rep' ? Math.max(-0.9, Math.min(0.9, 0.35 * normal())) : 0,
      volume: role === 'rep' ? Math.exp(0.3 * normal()) : 0
    };
    users.push(u);
    return u;
  };
  const teams: { team_id: string; name: string; parent_id: string | null; manager_id: string }[] = [];
  teams.push({ team_id: COMPANY.team_id, name: COMPANY.name, parent_id: null, manager_id: add(COMPANY.team_id, 'executive').user_id });
  for (const r of REGIONS) teams.push({ team_id: r.team_id, name: r.name, parent_id: COMPANY.team_id, manager_id: add(r.team_id, 'director').user_id });
  for (const t of TEAMS) {
    teams.push({ team_id: t.team_id, name: t.name, parent_id: t.parent, manager_id: add(t.team_id, 'manager').user_id });
    for (let i = 0; i < t.reps; i++) add(t.team_id, 'rep');
  }
  return { teams, users };
}

/** Cumulative [lo, hi) ranges of weights, for weighted choice by a uniform draw. */
function ranges<T>(items: T[], weight: (t: T) => number): (T & { lo: number; hi: number })[] {
  const total = items.reduce((s, t) => s + weight(t), 0);
  let acc = 0;
  return items.map((t, i) => {
    const lo = acc / total;
    acc += weight(t);
    return { ...t, lo, hi: i === items.length - 1 ? 1.0000001 : acc / total };
  });
}

function valuesTable(name: string, columns: string[], rows: (string | number | null)[][]): string {
  const body = rows
    .map((r) => `(${r.map((v) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : lit(v))).join(', ')})`)
    .join(',\n');
  return `CREATE OR REPLACE TEMP TABLE ${name} (${columns.join(', ')}) AS VALUES ${body}`;
}

const N_NAME_SPACE = TRADE_WORDS.length * (TRADE_WORDS.length - 1) * INDUSTRY_SUFFIXES.length;

/** Generates demo data and replaces every canonical table's contents in one transaction. */
export async function generateDemo(db: Database, opts: DemoOptions): Promise<DemoSummary> {
  const t0 = performance.now();
  const log = opts.log ?? (() => undefined);
  const size = SCALES[opts.scale];
  if (!size) throw new Error(`unknown scale "${opts.scale}" (${Object.keys(SCALES).join(', ')})`);
  if (!Number.isInteger(opts.seed)) throw new Error(`seed must be an integer, got ${opts.seed}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.asOf)) throw new Error(`as-of date must be YYYY-MM-DD, got "${opts.asOf}"`);
  if (TRADE_WORDS.length !== 120) throw new Error('TRADE_WORDS must have 120 entries');

  const { teams, users } = demoOrg(opts.seed);
  const reps = users.filter((u) => u.role === 'rep');

  // The generator's own tables (g_*) are built before the transaction that replaces the canonical
  // tables (Database.write's `prepare`: each statement commits on its own, on the writer's temp
  // tables), since DuckDB scans a table made inside the running transaction on one thread
  // (docs/decisions.md, "Staging committed before the landing"). Nothing canonical is touched
  // until the transaction: a failure leaves the database as it was.
  const prepare = async (tx: WriteTx) => {
    const run = (q: string) => tx.run(q);
    await tx.run(sql`SET VARIABLE seed = ${opts.seed}::BIGINT`);
    await tx.run(sql`SET VARIABLE as_of = ${opts.asOf}::DATE`);
    await run(`SET VARIABLE now_s = epoch(getvariable('as_of')::TIMESTAMP + INTERVAL 18 HOUR)`);
    await run(`SET VARIABLE start_d = (getvariable('as_of') - INTERVAL 3 YEAR)::DATE`);
    await tx.run(sql`SET VARIABLE n_cust = ${size.customers}::BIGINT`);
    await tx.run(sql`SET VARIABLE n_opp = ${size.opportunities}::BIGINT`);
    await run(`CREATE OR REPLACE TEMP MACRO rnd(k, salt) AS (hash(hash(getvariable('seed'), k, salt)) / 18446744073709551616.0)`);
    await run(
      `CREATE OR REPLACE TEMP MACRO rnorm(k, salt) AS (sqrt(-2 * ln(greatest(rnd(k, salt || '#1'), 1e-12))) * cos(2 * pi() * rnd(k, salt || '#2')))`
    );
    await run(`CREATE OR REPLACE TEMP MACRO adv(base, skill) AS (1 / (1 + exp(-(ln(base / (1 - base)) + skill))))`);
    await run(`CREATE OR REPLACE TEMP MACRO ts(s) AS make_timestamp(floor(s)::BIGINT * 1000000)`);

    // Lookup tables from program constants.
    const teamW = ranges(
      TEAMS.map((t) => ({ team_id: t.team_id, reps: t.reps })),
      (t) => t.reps
    );
    await run(valuesTable('g_team_w', ['team_id', 'lo', 'hi'], teamW.map((t) => [t.team_id, t.lo, t.hi])));
    const cityRows: (string | number)[][] = [];
    for (const t of TEAMS) {
      for (const c of ranges(
        t.cities.map(([city, province, w]) => ({ city, province, w })),
        (c) => c.w
      )) {
        cityRows.push([t.team_id, c.city, c.province, c.lo, c.hi]);
      }
    }
    await run(valuesTable('g_city', ['team_id', 'city', 'province', 'lo', 'hi'], cityRows));
    const repRows: (string | number)[][] = [];
    for (const t of TEAMS) {
      const members = reps.filter((r) => r.team_id === t.team_id);
      for (const r of ranges(members, (m) => m.volume)) repRows.push([r.user_id, r.team_id, r.skill, r.lo, r.hi]);
    }
    await run(valuesTable('g_rep', ['user_id', 'team_id', 'skill', 'lo', 'hi'], repRows));
    await run(valuesTable('g_words', ['idx', 'w'], TRADE_WORDS.map((w, i) => [i, w])));
    await run(valuesTable('g_ind', ['idx', 'suffix', 'industry'], INDUSTRY_SUFFIXES.map(([s, ind], i) => [i, s, ind])));
    await run(valuesTable('g_source', ['name', 'lo', 'hi'], ranges(SOURCES.map(([name, w]) => ({ name, w })), (s) => s.w).map((s) => [s.name, s.lo, s.hi])));
    await run(
      valuesTable(
        'g_product',
        ['name', 'mult', 'lo', 'hi'],
        ranges(PRODUCTS.map(([name, mult, w]) => ({ name, mult, w })), (p) => p.w).map((p) => [p.name, p.mult, p.lo, p.hi])
      )
    );
    await run(valuesTable('g_loss', ['name', 'lo', 'hi'], ranges(LOSS_REASONS.map(([name, w]) => ({ name, w })), (s) => s.w).map((s) => [s.name, s.lo, s.hi])));
    await run(valuesTable('g_comp', ['idx', 'name'], COMPETITORS.map((c, i) => [i, c])));
    await run(
      valuesTable(
        'g_act',
        ['type', 'label', 'lo', 'hi'],
        ranges(ACTIVITY_TYPES.map(([type, w, label]) => ({ type, w, label })), (a) => a.w).map((a) => [a.type, a.label, a.lo, a.hi])
      )
    );
    await run(
      valuesTable('g_stage', ['idx', 'name', 'category'], [
        [1, '初步接洽', 'pipeline'],
        [2, '需求分析', 'pipeline'],
        [3, '方案报价', 'best_case'],
        [4, '商务谈判', 'commit'],
        [5, '赢单', 'commit'],
        [6, '输单', 'omitted']
      ])
    );

    log(`customers: ${size.customers.toLocaleString()}`);
    await run(`CREATE OR REPLACE TEMP TABLE g_customers AS
      WITH b AS (
        SELECT i, rnd(i, 'c.team') AS ut, rnd(i, 'c.city') AS uc, rnd(i, 'c.rep') AS ur, rnd(i, 'c.src') AS us,
               i % ${N_NAME_SPACE} AS j, i // ${N_NAME_SPACE} AS blk
        FROM range(getvariable('n_cust')) t(i)
      ), k AS (
        SELECT *, (j * 1000003 + getvariable('seed')) % ${N_NAME_SPACE} AS kk FROM b
      )
      SELECT i AS cust_idx,
             printf('C%07d', i + 1) AS customer_id,
             city.city || w1.w || w2.w || ind.suffix || CASE WHEN blk = 0 THEN '有限公司' ELSE '股份有限公司' END AS name,
             ind.industry, city.province AS region, src.name AS source,
             CASE WHEN i < getvariable('n_cust') * 0.04 THEN '战略客户'
                  WHEN i < getvariable('n_cust') * 0.22 THEN '重点客户' ELSE '普通客户' END AS grade,
             rep.user_id AS owner_id, rep.skill,
             '1' || (3 + floor(rnd(i, 'c.ph1') * 7)::INTEGER)::VARCHAR
                 || lpad(floor(rnd(i, 'c.ph2') * 1000000000)::BIGINT::VARCHAR, 9, '0') AS phone
      FROM k
      JOIN g_team_w tw ON ut >= tw.lo AND ut < tw.hi
      JOIN g_city city ON city.team_id = tw.team_id AND uc >= city.lo AND uc < city.hi
      JOIN g_rep rep ON rep.team_id = tw.team_id AND ur >= rep.lo AND ur < rep.hi
      JOIN g_words w1 ON w1.idx = kk % 120
      JOIN g_words w2 ON w2.idx = (kk % 120 + 1 + (kk // 120) % 119) % 120
      JOIN g_ind ind ON ind.idx = kk // ${120 * 119}
      JOIN g_source src ON us >= src.lo AND us < src.hi`);

    log(`opportunities: ${size.opportunities.toLocaleString()}`);
    // Creation time: density growing linearly (×1.8 over three years), working days only.
    await run(`CREATE OR REPLACE TEMP TABLE g_o1 AS
      WITH b AS (
        SELECT i,
               floor(power(rnd(i, 'o.cust'), 1.6) * getvariable('n_cust'))::BIGINT AS cust_idx,
               (sqrt(1 + 2 * 0.8 * rnd(i, 'o.t') * 1.4) - 1) / 0.8 AS x
        FROM range(getvariable('n_opp')) t(i)
      ), d AS (
        SELECT b.*, (getvariable('start_d') + floor(x * (getvariable('as_of') - getvariable('start_d')))::INTEGER) AS d0
        FROM b
      )
      SELECT d.i, d.cust_idx,
             epoch(CASE WHEN isodow(d0) >= 6 THEN d0 - (isodow(d0) - 5)::INTEGER ELSE d0 END::TIMESTAMP)
               + (9 + 9 * rnd(d.i, 'o.h')) * 3600 AS created_s,
             c.customer_id, c.owner_id, c.skill, c.grade, c.source AS cust_source, c.name AS cust_name
      FROM d JOIN g_customers c ON c.cust_idx = d.cust_idx`);

    await run(`CREATE OR REPLACE TEMP TABLE g_o2 AS
      WITH p AS (
        SELECT o.*,
          rnd(i, 'a1') < adv(0.72, skill) AS a1,
          rnd(i, 'a2') < adv(0.65, skill) AS a2r,
          rnd(i, 'a3') < adv(0.72, skill) AS a3r,
          rnd(i, 'a4') < adv(0.75, skill) AS a4r,
          least(exp(ln(6) + 0.7 * rnorm(i, 'd1')), 300) AS d1,
          least(exp(ln(12) + 0.7 * rnorm(i, 'd2')), 300) AS d2,
          least(exp(ln(14) + 0.7 * rnorm(i, 'd3')), 300) AS d3,
          least(exp(ln(10) + 0.7 * rnorm(i, 'd4')), 300) AS d4,
          least(exp(ln(24) + 1.0 * rnorm(i, 'dl')), 420) AS dl
        FROM g_o1 o
      ), f AS (
        SELECT *,
          1 + a1::INT + (a1 AND a2r)::INT + (a1 AND a2r AND a3r)::INT AS furthest,
          (a1 AND a2r AND a3r AND a4r) AS won_path
        FROM p
      ), s AS (
        SELECT *,
          furthest >= 3 AND rnd(i, 'skip2') < 0.08 AS skip2,
          furthest >= 4 AND rnd(i, 'skip3') < 0.05 AS skip3
        FROM f
      ), e AS (
        SELECT *,
          created_s + d1 * 86400 AS x2
        FROM s
      ), e2 AS (
        SELECT *,
          CASE WHEN skip2 THEN x2 ELSE x2 + d2 * 86400 END AS x3
        FROM e
      ), e3 AS (
        SELECT *,
          CASE WHEN skip3 THEN x3 ELSE x3 + d3 * 86400 END AS x4
        FROM e2
      )
      SELECT *,
        created_s AS e1,
        CASE WHEN furthest >= 2 AND NOT skip2 THEN x2 END AS e2,
        CASE WHEN furthest >= 3 AND NOT skip3 THEN x3 END AS e3,
        CASE WHEN furthest >= 4 THEN x4 END AS e4,
        CASE furthest WHEN 1 THEN created_s WHEN 2 THEN x2 WHEN 3 THEN x3 ELSE x4 END AS e_last,
        CASE WHEN won_path THEN x4 + d4 * 86400
             ELSE (CASE furthest WHEN 1 THEN created_s WHEN 2 THEN x2 WHEN 3 THEN x3 ELSE x4 END) + dl * 86400 END AS end_raw
      FROM e3`);

    // Quarter-end spike: half of the wins that would land in a quarter's last month are pulled
    // into its final week, as reps chase the quarter.
    await run(`CREATE OR REPLACE TEMP TABLE g_o3 AS
      WITH q AS (
        SELECT *, epoch(date_trunc('quarter', ts(end_raw)) + INTERVAL 3 MONTH) AS qend_s FROM g_o2
      )
      SELECT *,
        CASE WHEN won_path AND qend_s - end_raw < 30 * 86400 AND rnd(i, 'qe') < 0.5
             THEN greatest(end_raw, qend_s - (1 + 6 * rnd(i, 'qe.d')) * 86400 - 8 * 3600)
             ELSE end_raw END AS end_s
      FROM q`);

    await run(`CREATE OR REPLACE TEMP TABLE g_opps AS
      WITH c AS (
        SELECT o.*,
          end_s <= getvariable('now_s') AS closed,
          CASE WHEN e4 IS NOT NULL AND e4 <= getvariable('now_s') THEN 4
               WHEN e3 IS NOT NULL AND e3 <= getvariable('now_s') THEN 3
               WHEN e2 IS NOT NULL AND e2 <= getvariable('now_s') THEN 2 ELSE 1 END AS stage_now,
          prod.name AS product, prod.mult,
          greatest(5000, round(exp(ln(CASE grade WHEN '战略客户' THEN 600000 WHEN '重点客户' THEN 200000 ELSE 60000 END)
                                 + 0.9 * rnorm(i, 'amt')) * prod.mult, -3)) AS amount0,
          created_s + least(exp(ln(45) + 0.4 * rnorm(i, 'plan')), 365) * 86400 AS planned_s
        FROM g_o3 o JOIN g_product prod ON rnd(o.i, 'prod') >= prod.lo AND rnd(o.i, 'prod') < prod.hi
      ), d AS (
        SELECT c.*,
          -- a discount during negotiation, half-way through the stage
          CASE WHEN e4 IS NOT NULL AND rnd(i, 'disc') < 0.35 AND e4 + d4 * 43200 <= least(end_s, getvariable('now_s'))
               THEN e4 + d4 * 43200 END AS disc_s,
          greatest(5000, round(amount0 * (0.85 + 0.1 * rnd(i, 'disc.p')), -3)) AS amount_disc,
          -- an open deal past its planned close date usually gets pushed out
          CASE WHEN NOT closed AND planned_s < getvariable('now_s') - 86400 AND rnd(i, 'push') < 0.6
               THEN greatest(planned_s, CASE stage_now WHEN 4 THEN e4 WHEN 3 THEN e3 WHEN 2 THEN e2 ELSE e1 END) + 86400 END AS push_s
        FROM c
      )
      SELECT d.*,
        CASE WHEN push_s > getvariable('now_s') THEN NULL ELSE push_s END AS push_at,
        (getvariable('as_of') + (7 + floor(50 * rnd(i, 'push.d')))::INTEGER) AS pushed_date,
        CASE WHEN closed AND NOT won_path THEN loss.name END AS loss_reason
      FROM d LEFT JOIN g_loss loss ON rnd(d.i, 'loss') >= loss.lo AND rnd(d.i, 'loss') < loss.hi`);

    await run(`CREATE OR REPLACE TEMP TABLE g_opp_final AS
      SELECT i, customer_id, owner_id, cust_name, product, created_s, end_s, closed, won_path, stage_now,
        printf('OPP-%07d', i + 1) AS opportunity_id, -- printf, not lpad: lpad truncates 'OPP-10000000' at 10M
        CASE WHEN closed THEN (CASE WHEN won_path THEN 5 ELSE 6 END) ELSE stage_now END AS stage_idx,
        CASE WHEN disc_s IS NOT NULL THEN amount_disc ELSE amount0 END AS amount_open,
        CASE WHEN closed AND NOT won_path AND rnd(i, 'zero') < 0.12 THEN 0
             WHEN disc_s IS NOT NULL THEN amount_disc ELSE amount0 END AS amount,
        loss_reason,
        CASE WHEN loss_reason = '选择竞品' OR (loss_reason = '价格过高' AND rnd(i, 'comp.l') < 0.4) OR rnd(i, 'comp') < 0.22
             THEN (SELECT name FROM g_comp WHERE idx = floor(rnd(i, 'comp.w') * ${COMPETITORS.length})) END AS competitor,
        CASE WHEN rnd(i, 'src') < 0.85 THEN cust_source ELSE '官网咨询' END AS source,
        CASE WHEN closed THEN ts(end_s)::DATE
             WHEN push_at IS NOT NULL THEN pushed_date ELSE ts(planned_s)::DATE END AS expected_close_date,
        CASE WHEN NOT closed AND rnd(i, 'prob') < 0.08 THEN round(0.05 + 0.9 * rnd(i, 'prob.v'), 2) END AS probability,
        CASE WHEN NOT closed AND rnd(i, 'fc') < 0.15
             THEN (CASE WHEN stage_now >= 3 AND rnd(i, 'fc.v') < 0.6 THEN 'commit'
                        WHEN rnd(i, 'fc.v') < 0.5 THEN 'best_case' ELSE 'pipeline' END) END AS fc_override,
        e1, e2, e3, e4, disc_s, amount0, planned_s, push_at, pushed_date
      FROM g_opps`);
    // Intermediate tables go as soon as they are used: at 10M deals they filled the memory limit
    // (and spilled) while the tables were written.
    for (const t of ['g_o1', 'g_o2', 'g_o3', 'g_opps']) await run(`DROP TABLE ${t}`);

    log('history');
    // Events: stage entries, the discount, the pushed close date, the outcome; the state at
    // each event is the last non-null value of each attribute (SCD type 2).
    // Every event row also carries the deal's current overrides (probability, forecast category,
    // amount, close date, as its opportunities row has them), which belong to its current version
    // too: carried here, not joined back, since at 10M deals joining 35M versions to the 10M deals
    // ran for over 8 minutes at the memory limit (and an UPDATE afterwards as long).
    const cur = 'o.amount, o.expected_close_date, o.fc_override, o.stage_idx, o.probability';
    await run(`CREATE OR REPLACE TEMP TABLE g_events AS
      SELECT opportunity_id, owner_id, e1 AS t, 1 AS stage_idx, amount0 AS amount, ts(planned_s)::DATE AS ecd,
             o.amount AS o_amount, o.expected_close_date AS o_ecd, o.fc_override AS o_fc, o.stage_idx AS o_stage_idx, o.probability AS o_prob
      FROM g_opp_final o
      UNION ALL SELECT opportunity_id, owner_id, e2, 2, NULL, NULL, ${cur} FROM g_opp_final o WHERE e2 IS NOT NULL AND e2 <= least(end_s, getvariable('now_s'))
      UNION ALL SELECT opportunity_id, owner_id, e3, 3, NULL, NULL, ${cur} FROM g_opp_final o WHERE e3 IS NOT NULL AND e3 <= least(end_s, getvariable('now_s'))
      UNION ALL SELECT opportunity_id, owner_id, e4, 4, NULL, NULL, ${cur} FROM g_opp_final o WHERE e4 IS NOT NULL AND e4 <= least(end_s, getvariable('now_s'))
      UNION ALL SELECT opportunity_id, owner_id, disc_s, NULL, amount, NULL, ${cur} FROM g_opp_final o WHERE disc_s IS NOT NULL
      UNION ALL SELECT opportunity_id, owner_id, push_at, NULL, NULL, pushed_date, ${cur} FROM g_opp_final o WHERE push_at IS NOT NULL AND NOT closed
      UNION ALL SELECT opportunity_id, owner_id, end_s, stage_idx, amount, expected_close_date, ${cur} FROM g_opp_final o WHERE closed`);
    await run(`CREATE OR REPLACE TEMP TABLE g_versions AS
      WITH s AS (
        SELECT opportunity_id, owner_id, t, o_amount, o_ecd, o_fc, o_stage_idx, o_prob,
          last_value(stage_idx IGNORE NULLS) OVER w AS stage_idx,
          last_value(amount IGNORE NULLS) OVER w AS amount,
          last_value(ecd IGNORE NULLS) OVER w AS ecd,
          lead(t) OVER (PARTITION BY opportunity_id ORDER BY t, stage_idx NULLS FIRST) AS t_next
        FROM g_events
        WINDOW w AS (PARTITION BY opportunity_id ORDER BY t, stage_idx NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
      )
      SELECT s.opportunity_id, ts(t) AS valid_from, ts(t_next) AS valid_to, st.name AS stage,
             (CASE WHEN t_next IS NULL THEN o_amount ELSE s.amount END)::DECIMAL(18,2) AS amount,
             CASE WHEN t_next IS NULL THEN o_ecd ELSE ecd END AS expected_close_date,
             s.owner_id,
             CASE WHEN t_next IS NULL THEN coalesce(o_fc, cst.category) ELSE st.category END AS forecast_category,
             CASE WHEN t_next IS NULL THEN o_prob END::DOUBLE AS probability,
             'source' AS origin
      FROM s JOIN g_stage st ON st.idx = s.stage_idx
      JOIN g_stage cst ON cst.idx = s.o_stage_idx`);
    await run(`DROP TABLE g_events`);

    log('payments');
    // Instalment plans: 40% one payment (+30d), 35% two (50% +15d, 50% +90d),
    // 25% three (30% +15d, 60% +90d, 10% retention +365d).
    await run(`CREATE OR REPLACE TEMP TABLE g_payments AS
      WITH w AS (
        SELECT *, rnd(i, 'plan.k') AS uk FROM g_opp_final WHERE closed AND won_path
      ), plan AS (
        SELECT w.*, p.k, p.share, p.offset_days, p.n
        FROM w JOIN (VALUES
          (1, 1, 1.0, 30), (2, 1, 0.5, 15), (2, 2, 0.5, 90), (3, 1, 0.3, 15), (3, 2, 0.6, 90), (3, 3, 0.1, 365)
        ) p(n, k, share, offset_days)
          ON p.n = CASE WHEN uk < 0.4 THEN 1 WHEN uk < 0.75 THEN 2 ELSE 3 END
      ), a AS (
        SELECT *,
          CASE WHEN k = n THEN amount - coalesce(sum(round(amount * share, -2)) OVER (PARTITION BY opportunity_id ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               ELSE round(amount * share, -2) END AS inst_amount,
          (ts(end_s)::DATE + offset_days) AS due_date,
          round(exp(ln(9) + 1.0 * rnorm(i * 7 + k, 'delay'))) - 6 AS delay_days,
          rnd(i * 7 + k, 'default') < 0.06 AS never,
          rnd(i * 7 + k, 'partial') < 0.05 AS partial
        FROM plan
      )
      SELECT 'P' || substr(opportunity_id, 5) || '-' || k AS payment_id, customer_id, opportunity_id,
             inst_amount::DECIMAL(18,2) AS amount, due_date,
             CASE WHEN NOT never AND due_date + delay_days::INTEGER <= getvariable('as_of') THEN due_date + delay_days::INTEGER END AS paid_at,
             CASE WHEN NOT never AND due_date + delay_days::INTEGER <= getvariable('as_of')
                  THEN (CASE WHEN partial THEN round(inst_amount * 0.5, -2) ELSE inst_amount END)::DECIMAL(18,2) END AS paid_amount
      FROM a`);

    log('activities');
    // Follow-ups spread over a deal's active life; about a third of open deals went quiet
    // a few days after their last stage change (stalled deals).
    await run(`CREATE OR REPLACE TEMP TABLE g_activities AS
      WITH o AS (
        SELECT *,
          1 + floor(rnd(i, 'act.n') * (1 + least(stage_now, 4)))::INTEGER AS n_act,
          CASE WHEN NOT closed AND rnd(i, 'quiet') < 0.35
               THEN least(getvariable('now_s'), coalesce(e4, e3, e2, e1) + 5 * 86400)
               ELSE least(getvariable('now_s'), end_s) END AS touch_end
        FROM g_opp_final
      ), x AS (
        SELECT opportunity_id, customer_id, owner_id, i, unnest(range(n_act)) AS k, created_s, touch_end FROM o
      )
      SELECT 'A' || substr(opportunity_id, 5) || '-' || (k + 1) AS activity_id,
             customer_id, opportunity_id, owner_id, act.type,
             ts(created_s + rnd(i * 16 + k, 'act.t') * greatest(touch_end - created_s, 3600)) AS occurred_at,
             act.label AS summary
      FROM x
      JOIN g_act act ON rnd(x.i * 16 + x.k, 'act.type') >= act.lo AND rnd(x.i * 16 + x.k, 'act.type') < act.hi`);

    log('targets');
    await run(`CREATE OR REPLACE TEMP TABLE g_quarters AS
      SELECT q::DATE AS q_start, (q + INTERVAL 3 MONTH)::DATE AS q_end,
             row_number() OVER (ORDER BY q) AS qn
      FROM range(date_trunc('quarter', getvariable('start_d')), date_trunc('quarter', getvariable('as_of')) + INTERVAL 6 MONTH, INTERVAL 3 MONTH) t(q)`);
    // A rep's quarterly target: their average quarterly wins, scaled by the company's growth
    // curve and a stretch factor, rounded to ¥10,000.
    await run(`CREATE OR REPLACE TEMP TABLE g_rep_targets AS
      WITH won AS (
        SELECT owner_id, sum(amount) AS won_total FROM g_opp_final WHERE closed AND won_path GROUP BY owner_id
      ), nq AS (SELECT count(*) AS n FROM g_quarters)
      SELECT r.user_id AS owner_id, q.q_start, q.q_end,
             greatest(50000, round(coalesce(won.won_total, 0) / (nq.n - 2)
                 * (1 + 0.8 * (q.qn - 0.5) / nq.n) / 1.4 * (1.0 + 0.3 * rnd(hash(r.user_id) % 100000 * 100 + q.qn, 'tgt')), -4)) AS amount
      FROM g_rep r CROSS JOIN g_quarters q CROSS JOIN nq LEFT JOIN won ON won.owner_id = r.user_id`);

  };

  const dropGenerated = () =>
    db
      .write(
        async (tx) => {
          const { rows } = await tx.query<{ t: string }>(`SELECT table_name AS t FROM duckdb_tables() WHERE database_name = 'temp' AND table_name LIKE 'g\\_%' ESCAPE '\\'`);
          for (const { t } of rows) await tx.run(`DROP TABLE IF EXISTS temp."${t.replace(/"/g, '""')}"`);
        },
        { untracked: true }
      )
      .catch(() => undefined);
  return db.write(
    async (tx) => {
      const run = (q: string) => tx.run(q);
      log('writing tables');
      // sliceRows: commit and go on in a new transaction on the same connection (temp tables live
      // as long as the connection does).
      const commitPoint = async () => {
        if (!opts.sliceRows) return;
        await tx.connection.run('COMMIT');
        await tx.connection.run('BEGIN TRANSACTION');
      };
      /** Runs `fn` and logs how long it took under `label`. */
      const timed = async (label: string, fn: () => Promise<void>) => {
        const t = performance.now();
        await fn();
        log(`  ${label} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      };
      /** `insert(where)` over `source` (a temp table aliased `alias` in it), in slices of rowids. */
      const sliced = (label: string, source: string, alias: string, insert: (where: string) => string) =>
        timed(label, async () => {
          if (!opts.sliceRows) {
            await run(insert('TRUE'));
          } else {
            // Committed first: a table made inside the open transaction has transaction-local rowids
            // (from 2^55 on) that become 0…n−1 only at its commit, so the first slice saw nothing.
            await commitPoint();
            const n = (await tx.query<{ n: number }>(unsafeRaw(`SELECT count(*)::BIGINT AS n FROM ${source}`))).rows[0].n;
            for (let lo = 0; lo < n; lo += opts.sliceRows) {
              await run(insert(`${alias}.rowid >= ${lo} AND ${alias}.rowid < ${lo + opts.sliceRows}`));
              await commitPoint();
            }
          }
        });
      for (const t of ['opportunity_versions', 'activities', 'payments', 'opportunities', 'customers', 'targets', 'users', 'teams']) {
        await run(`DELETE FROM ${t}`);
      }
      await run(
        valuesTable(
          'g_teams',
          ['team_id', 'name', 'parent_id', 'manager_id'],
          teams.map((t) => [t.team_id, t.name, t.parent_id, t.manager_id])
        )
      );
      await run(`INSERT INTO teams SELECT * FROM g_teams`);
      await run(
        valuesTable(
          'g_users',
          ['user_id', 'name', 'team_id', 'email', 'role'],
          users.map((u) => [u.user_id, u.name, u.team_id, u.email, u.role])
        )
      );
      await run(`INSERT INTO users (user_id, name, team_id, email, active) SELECT user_id, name, team_id, email, TRUE FROM g_users`);

      await timed('customers', () => run(`INSERT INTO customers
        WITH o AS (
          SELECT customer_id, min(created_s) AS first_s, bool_or(closed AND won_path) AS has_won,
                 max(CASE WHEN closed AND won_path THEN end_s END) AS last_won_s, bool_or(NOT closed) AS has_open
          FROM g_opp_final GROUP BY customer_id
        ), a AS (SELECT customer_id, max(occurred_at) AS last_contact FROM g_activities GROUP BY customer_id)
        SELECT c.customer_id, c.name, c.industry, c.region, c.source, c.grade, c.owner_id,
          CASE WHEN o.has_won AND o.last_won_s >= getvariable('now_s') - 540 * 86400 THEN 'customer'
               WHEN o.has_won THEN 'churned'
               WHEN o.has_open THEN 'prospect' ELSE 'lead' END AS status,
          c.phone,
          ts(coalesce(o.first_s - rnd(c.cust_idx, 'c.created') * 60 * 86400,
                      epoch(getvariable('start_d')::TIMESTAMP) + rnd(c.cust_idx, 'c.created2') * (getvariable('now_s') - epoch(getvariable('start_d')::TIMESTAMP)))) AS created_at,
          a.last_contact AS last_contact_at,
          NULL AS attributes
        FROM g_customers c LEFT JOIN o USING (customer_id) LEFT JOIN a USING (customer_id)`));
      await commitPoint();

      await sliced('opportunities', 'g_opp_final', 'o', (where) => `INSERT INTO opportunities
        SELECT o.opportunity_id,
          replace(replace(o.cust_name, '有限公司', ''), '股份', '') || ' · ' || o.product AS name,
          o.customer_id, o.owner_id, st.name AS stage,
          CASE WHEN o.stage_idx = 5 THEN 'won' WHEN o.stage_idx = 6 THEN 'lost' ELSE 'open' END AS status,
          o.amount, o.amount AS amount_original, 'CNY' AS currency,
          o.probability,
          coalesce(o.fc_override, st.category) AS forecast_category,
          o.expected_close_date,
          ts(o.created_s) AS created_at,
          CASE WHEN o.closed THEN ts(o.end_s) END AS closed_at,
          o.loss_reason, o.product, o.source, o.competitor,
          ts(greatest(o.created_s, coalesce(CASE WHEN o.closed THEN o.end_s END, o.push_at, o.disc_s, o.e4, o.e3, o.e2, o.e1))) AS updated_at,
          NULL AS attributes
        FROM g_opp_final o JOIN g_stage st ON st.idx = o.stage_idx
        WHERE ${where}`);
      await sliced('history', 'g_versions', 'v', (where) => `INSERT INTO opportunity_versions SELECT * FROM g_versions v WHERE ${where}`);
      await sliced('payments', 'g_payments', 'p', (where) => `INSERT INTO payments
        SELECT payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount, NULL FROM g_payments p WHERE ${where}`);
      await sliced('activities', 'g_activities', 'a', (where) => `INSERT INTO activities
        SELECT a.activity_id, a.customer_id, a.opportunity_id, a.owner_id, a.type, a.occurred_at,
               a.summary || '：' || c.name, NULL
        FROM g_activities a JOIN g_customers c USING (customer_id)
        WHERE ${where}`);
      await run(`INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount)
        SELECT 'TG-' || owner_id || '-' || strftime(q_start, '%Y%m'), owner_id, NULL, 'won_amount', q_start, q_end, amount
        FROM g_rep_targets`);
      // Team targets (teams, regions, the company): their members' targets with a manager's
      // adjustment; a team's target is its own row, not a sum computed at query time.
      await run(`INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount)
        WITH RECURSIVE tree(team_id, member_team) AS (
          SELECT team_id, team_id FROM teams
          UNION ALL
          SELECT tree.team_id, t.team_id FROM tree JOIN teams t ON t.parent_id = tree.member_team
        ), s AS (
          SELECT tree.team_id, rt.q_start, rt.q_end, sum(rt.amount) AS amount
          FROM tree JOIN users u ON u.team_id = tree.member_team JOIN g_rep_targets rt ON rt.owner_id = u.user_id
          GROUP BY ALL
        )
        SELECT 'TG-' || team_id || '-' || strftime(q_start, '%Y%m'), NULL, team_id, 'won_amount', q_start, q_end,
               round(amount * (0.92 + 0.1 * rnd(hash(team_id) % 100000, 'tt' || strftime(q_start, '%Y%m'))), -4)
        FROM s`);
      // Regional targets (targets.region): each team's quarterly target split over its customers'
      // regions by the share of the team's wins there, rounded to ¥10,000, the largest region
      // taking the rounding so a team's regions add up to its own target exactly. A region the
      // team never sold into gets no row (its attainment there says no target is set).
      await run(`INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount, region)
        WITH RECURSIVE tree(team_id, member_team) AS (
          SELECT team_id, team_id FROM teams
          UNION ALL
          SELECT tree.team_id, t.team_id FROM tree JOIN teams t ON t.parent_id = tree.member_team
        ), won AS (
          SELECT tree.team_id, c.region, sum(o.amount) AS won
          FROM tree JOIN users u ON u.team_id = tree.member_team
          JOIN g_opp_final o ON o.owner_id = u.user_id AND o.closed AND o.won_path
          JOIN g_customers c ON c.customer_id = o.customer_id
          WHERE c.region IS NOT NULL AND o.amount > 0
          GROUP BY ALL
        ), share AS (
          SELECT team_id, region, won / sum(won) OVER (PARTITION BY team_id) AS share,
                 row_number() OVER (PARTITION BY team_id ORDER BY won DESC, region) AS rk
          FROM won
        ), split AS (
          SELECT t.team_id, t.metric, t.period_start, t.period_end, t.amount AS total, s.region,
                 CASE WHEN s.rk > 1 THEN round(t.amount * s.share, -4) END AS part
          FROM targets t JOIN share s ON s.team_id = t.team_id
          WHERE t.team_id IS NOT NULL AND t.region IS NULL
        )
        SELECT 'TG-' || team_id || '-' || region || '-' || strftime(period_start, '%Y%m'), NULL, team_id, metric, period_start, period_end,
               coalesce(part, total - coalesce(sum(part) OVER (PARTITION BY team_id, period_start), 0)), region
        FROM split`);

      const meta: [string, string][] = [
        ['demo.seed', String(opts.seed)],
        ['demo.scale', opts.scale],
        ['demo.as_of', opts.asOf],
        ['demo.company', COMPANY.company]
      ];
      for (const [k, v] of meta) {
        await tx.run(sql`INSERT OR REPLACE INTO meta VALUES (${k}, ${v})`);
      }

      const counts: Record<string, number> = {};
      for (const t of ['teams', 'users', 'customers', 'opportunities', 'opportunity_versions', 'payments', 'activities', 'targets']) {
        const r = await tx.query<{ n: number }>(unsafeRaw(`SELECT count(*) AS n FROM ${t}`));
        counts[t] = r.rows[0].n;
      }
      const runId = `demo-${Date.now()}`;
      await tx.run(
        sql`INSERT INTO sync_runs (run_id, source, kind, started_at, finished_at, status, rows_loaded)
            VALUES (${runId}, 'demo', 'demo', now()::TIMESTAMP - to_milliseconds(${Math.round(performance.now() - t0)}::BIGINT), now()::TIMESTAMP, 'ok', ${counts.opportunities})`
      );
      // The generator's tables go before the derived tables are built: at 10M deals they held
      // most of a 10 GB memory limit, and building deal_facts beside them ran out of memory.
      // (g_o1…g_opps and g_events went as soon as they were used.) A drop inside the transaction
      // frees their memory at its commit: the sliced build commits before the derived tables.
      // On failure they are dropped below (they were committed in \`prepare\`).
      for (const t of ['g_customers', 'g_opp_final', 'g_versions', 'g_payments', 'g_activities', 'g_rep_targets']) {
        await run(`DROP TABLE IF EXISTS ${t}`);
      }
      const stages = opts.stages;
      if (stages) {
        await commitPoint();
        log('derived tables');
        await timed('derived tables', () => refreshFacts(tx, stages));
      }
      return { scale: opts.scale, seed: opts.seed, asOf: opts.asOf, counts, ms: Math.round(performance.now() - t0) };
    },
    { prepare }
  ).catch(async (e) => {
    await dropGenerated();
    throw e;
  });
}
