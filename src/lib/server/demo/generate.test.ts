import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../db/database';
import { generateDemo } from './generate';
import { stageInfos } from '../../../../warehouse/stages';
import { parseConfig } from '../config/load';

const AS_OF = '2026-06-15';
let db: Database;
const one = async <T = Record<string, unknown>>(q: string) => (await db.query<T>(q)).rows[0];

beforeAll(async () => {
  db = await Database.open(':memory:');
  await generateDemo(db, { scale: 'small', seed: 11, asOf: AS_OF });
});
afterAll(() => db.close());

describe('demo company', () => {
  it('company → 3 regions → 8 teams, 60 reps plus managers, directors and an executive', async () => {
    const regions = await db.query<{ name: string }>(`SELECT name FROM teams WHERE parent_id = 'T00' ORDER BY team_id`);
    expect(regions.rows.map((r) => r.name)).toEqual(['华东', '华北', '华南']);
    expect(await one(`SELECT count(*) AS n FROM teams WHERE parent_id IN ('R1', 'R2', 'R3')`)).toEqual({ n: 8 });
    // reps are the members of leaf teams who are not the team's manager
    expect(
      await one(`SELECT count(*) AS n FROM users u JOIN teams t ON t.team_id = u.team_id WHERE t.parent_id LIKE 'R%' AND u.user_id <> t.manager_id`)
    ).toEqual({ n: 60 });
  });

  it('has the scale’s size and three years of history up to the as-of date', async () => {
    expect(await one(`SELECT count(*) AS n FROM customers`)).toEqual({ n: 2000 });
    expect(await one(`SELECT count(*) AS n FROM opportunities`)).toEqual({ n: 6000 });
    const r = await one<{ lo: string; hi: string }>(`SELECT min(created_at)::DATE::VARCHAR AS lo, max(created_at)::DATE::VARCHAR AS hi FROM opportunities`);
    expect(r.lo >= '2023-06-15').toBe(true);
    expect(r.hi <= AS_OF).toBe(true);
    expect(r.hi >= '2026-06-01').toBe(true);
  });

  it('about a quarter of closed deals are won, with loss reasons on lost deals', async () => {
    const r = await one<{ rate: number; lost_without_reason: number }>(
      `SELECT count(*) FILTER (WHERE status = 'won') / count(*) AS rate,
              count(*) FILTER (WHERE status = 'lost' AND loss_reason IS NULL) AS lost_without_reason
       FROM opportunities WHERE status IN ('won', 'lost')`
    );
    expect(r.rate).toBeGreaterThan(0.2);
    expect(r.rate).toBeLessThan(0.3);
    expect(r.lost_without_reason).toBe(0);
  });

  it('history: every deal has exactly one current version, in its current stage, and versions chain', async () => {
    const r = await one<Record<string, number>>(`
      WITH v AS (SELECT *, lead(valid_from) OVER (PARTITION BY opportunity_id ORDER BY valid_from) AS nxt FROM opportunity_versions)
      SELECT
        (SELECT count(*) FROM opportunities o WHERE (SELECT count(*) FROM opportunity_versions v WHERE v.opportunity_id = o.opportunity_id AND valid_to IS NULL) <> 1) AS bad_current,
        (SELECT count(*) FROM opportunities o JOIN opportunity_versions v ON v.opportunity_id = o.opportunity_id AND v.valid_to IS NULL WHERE v.stage <> o.stage) AS stage_mismatch,
        (SELECT count(*) FROM v WHERE nxt IS DISTINCT FROM valid_to) AS broken_chain,
        (SELECT count(*) FROM opportunities WHERE status <> 'open' AND (closed_at IS NULL OR closed_at < created_at)) AS bad_close`);
    expect(r).toEqual({ bad_current: 0, stage_mismatch: 0, broken_chain: 0, bad_close: 0 });
  });

  it('payments: instalments of won deals that add up to the contract, some paid late, some overdue', async () => {
    const r = await one<Record<string, number>>(`
      SELECT
        (SELECT count(*) FROM payments p JOIN opportunities o USING (opportunity_id) WHERE o.status <> 'won') AS not_won,
        (SELECT count(*) FROM (SELECT p.opportunity_id FROM payments p JOIN opportunities o USING (opportunity_id)
                               GROUP BY p.opportunity_id, o.amount HAVING sum(p.amount) <> o.amount)) AS mismatched,
        (SELECT count(*) FROM payments WHERE paid_at > due_date) AS late,
        (SELECT count(*) FROM payments WHERE paid_at IS NULL AND due_date < DATE '${AS_OF}') AS overdue`);
    expect(r.not_won).toBe(0);
    expect(r.mismatched).toBe(0);
    expect(r.late).toBeGreaterThan(100);
    expect(r.overdue).toBeGreaterThan(20);
  });

  it('wins bunch in the last week of a quarter', async () => {
    const r = await one<{ share: number }>(`
      SELECT avg((date_trunc('quarter', closed_at) + INTERVAL 3 MONTH - closed_at < INTERVAL 7 DAY)::INT) AS share
      FROM opportunities WHERE status = 'won'`);
    // 7 of ~91 days would be 7.7% without the spike
    expect(r.share).toBeGreaterThan(0.15);
  });

  it('targets per rep and per team (regions and the company too) for every quarter', async () => {
    const r = await one<Record<string, number>>(`
      SELECT count(DISTINCT owner_id) AS reps, count(DISTINCT team_id) AS teams,
             count(*) FILTER (WHERE team_id = 'T00' AND region IS NULL AND period_start = DATE '2026-04-01') AS company_q2,
             sum(amount) FILTER (WHERE team_id = 'T00' AND region IS NULL AND period_start = DATE '2026-04-01')::DOUBLE AS company_q2_amount,
             count(*) FILTER (WHERE team_id = 'T00' AND region IS NOT NULL AND period_start = DATE '2026-04-01') AS company_q2_regions,
             sum(amount) FILTER (WHERE team_id = 'T00' AND region IS NOT NULL AND period_start = DATE '2026-04-01')::DOUBLE AS company_q2_regions_amount
      FROM targets`);
    // one company target per quarter, and the same target split over the regions it sells in
    expect({ reps: r.reps, teams: r.teams, company_q2: r.company_q2 }).toEqual({ reps: 60, teams: 12, company_q2: 1 });
    expect(r.company_q2_regions).toBeGreaterThan(1);
    expect(r.company_q2_regions_amount).toBeCloseTo(r.company_q2_amount, 2);
  });

  it('is deterministic for a seed and different for another', async () => {
    const fingerprint = async (d: Database) =>
      (await d.query<{ h: number }>(`SELECT sum(hash(opportunity_id, amount, stage, created_at, closed_at) % 1000000007)::DOUBLE AS h FROM opportunities`)).rows[0].h;
    const again = await Database.open(':memory:');
    await generateDemo(again, { scale: 'small', seed: 11, asOf: AS_OF });
    const other = await Database.open(':memory:');
    await generateDemo(other, { scale: 'small', seed: 12, asOf: AS_OF });
    expect(await fingerprint(again)).toBe(await fingerprint(db));
    expect(await fingerprint(other)).not.toBe(await fingerprint(db));
    await again.close();
    await other.close();
  });

  it('built in committed slices (the 10M build), it holds exactly the rows of the one-transaction build', async () => {
    // Every table's rows, hashed whole (every column), summed: order-independent, and a missing,
    // doubled or altered row changes it.
    const tables = ['customers', 'opportunities', 'opportunity_versions', 'payments', 'activities', 'targets', 'deal_facts'];
    const fingerprint = async (d: Database) => {
      const out: Record<string, string> = {};
      for (const t of tables) {
        const r = (await d.query<{ n: number; h: string }>(`SELECT count(*)::INTEGER AS n, sum(hash(x::VARCHAR))::VARCHAR AS h FROM ${t} x`)).rows[0];
        out[t] = `${r.n}:${r.h}`;
      }
      return out;
    };
    const cfg = parseConfig({});
    if (!cfg.ok) throw new Error(cfg.issues.join('; '));
    const stages = stageInfos(cfg.config);
    const whole = await Database.open(':memory:');
    await generateDemo(whole, { scale: 'small', seed: 11, asOf: AS_OF, stages });
    const sliced = await Database.open(':memory:');
    // 6,000 deals in slices of 1,000 rows: several commits per table, the last slice partial.
    await generateDemo(sliced, { scale: 'small', seed: 11, asOf: AS_OF, stages, sliceRows: 1_000 });
    const a = await fingerprint(whole);
    expect(Number(a.opportunities.split(':')[0])).toBe(6000);
    expect(Number(a.deal_facts.split(':')[0])).toBe(6000);
    expect(await fingerprint(sliced)).toEqual(a);
    await whole.close();
    await sliced.close();
  });
});
