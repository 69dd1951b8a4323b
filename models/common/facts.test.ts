import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import { parseConfig } from '../../src/lib/server/config/load';
import { stageInfos } from '../../src/lib/server/models/run';
import { ensureFacts, refreshFacts } from './facts';

const cfg = parseConfig({});
if (!cfg.ok) throw new Error('config');
const stages = stageInfos(cfg.config);
let db: Database;
beforeAll(async () => {
  db = await Database.open(':memory:');
  await generateDemo(db, { scale: 'small', seed: 3, asOf: '2026-06-15', stages });
});
afterAll(() => db.close());

const one = async (q: string) => (await db.query(q)).rows[0];

describe('deal_facts, the precomputed per-deal table', () => {
  it('has one row per opportunity', async () => {
    expect(await one(`SELECT (SELECT count(*) FROM deal_facts) = (SELECT count(*) FROM opportunities) AS same`)).toEqual({ same: true });
  });

  it('furthest stage and first entries equal an independent computation from the raw history', async () => {
    const r = await one(`
      WITH st AS (SELECT * FROM (VALUES ('初步接洽',1),('需求分析',2),('方案报价',3),('商务谈判',4),('赢单',5)) t(name, idx)),
      raw AS (
        SELECT o.opportunity_id,
          greatest(coalesce(max(st.idx), 0), coalesce(any_value(cur.idx), 0)) AS furthest,
          min(v.valid_from) FILTER (WHERE st.idx = 2) AS e2
        FROM opportunities o
        LEFT JOIN opportunity_versions v ON v.opportunity_id = o.opportunity_id
        LEFT JOIN st ON st.name = v.stage
        LEFT JOIN st cur ON cur.name = o.stage
        GROUP BY o.opportunity_id
      )
      SELECT count(*) FILTER (WHERE f.furthest_idx <> raw.furthest) AS bad_furthest,
             count(*) FILTER (WHERE f.entered[2] IS DISTINCT FROM raw.e2) AS bad_entry
      FROM deal_facts f JOIN raw USING (opportunity_id)`);
    expect(r).toEqual({ bad_furthest: 0, bad_entry: 0 });
  });

  it('effective amount: a lost deal zeroed by the source keeps its last open amount', async () => {
    const r = await one(`
      SELECT count(*) AS zeroed, count(*) FILTER (WHERE f.effective_amount = (
        SELECT v.amount FROM opportunity_versions v WHERE v.opportunity_id = f.opportunity_id AND v.stage <> '输单' ORDER BY v.valid_from DESC LIMIT 1)) AS restored
      FROM deal_facts f WHERE f.status = 'lost' AND f.amount = 0`);
    expect(r.zeroed as number).toBeGreaterThan(10);
    expect(r.restored).toBe(r.zeroed);
  });

  it('goes stale with any write and is rebuilt before the next use', async () => {
    await db.write((tx) => tx.run(`UPDATE opportunities SET owner_id = 'U006' WHERE opportunity_id = 'OPP-0000001'`));
    await ensureFacts(db, stages);
    expect(await one(`SELECT owner_id FROM deal_facts WHERE opportunity_id = 'OPP-0000001'`)).toEqual({ owner_id: 'U006' });
  });

  it('is rebuilt when the stage configuration changes', async () => {
    const fewer = stages.filter((s) => s.name !== '需求分析').map((s) => (s.kind === 'open' && s.index > 2 ? { ...s, index: s.index - 1 } : s.kind === 'won' ? { ...s, index: s.index - 1 } : s));
    await ensureFacts(db, fewer);
    expect(await one(`SELECT len(entered) AS n FROM deal_facts LIMIT 1`)).toEqual({ n: 4 });
    await db.write((tx) => refreshFacts(tx, stages), { derived: true });
  });
});

describe('stage_facts, the precomputed stints', () => {
  it('one row per stage change, as the stage_events view has them', async () => {
    const r = await one(`SELECT (SELECT count(*) FROM stage_facts) AS facts, (SELECT count(*) FROM stage_events) AS events,
      (SELECT count(*) FROM stage_facts sf ANTI JOIN stage_events e ON e.opportunity_id = sf.opportunity_id AND e.entered_at = sf.entered_at AND e.stage = sf.stage) AS unmatched`);
    expect(r.facts as number).toBeGreaterThan(1000);
    expect(r.facts).toBe(r.events);
    expect(r.unmatched).toBe(0);
  });

  it('each stint ends at the next stage change; days, stint numbers and cumulative days agree with the raw events', async () => {
    const r = await one(`
      WITH e AS (
        SELECT opportunity_id, stage, entered_at,
               lead(entered_at) OVER (PARTITION BY opportunity_id ORDER BY entered_at) AS left_at
        FROM stage_events
      ), k AS (
        SELECT *, (epoch(left_at) - epoch(entered_at)) / 86400.0 AS days,
               count(*) OVER (PARTITION BY opportunity_id, stage ORDER BY entered_at) AS no,
               sum((epoch(left_at) - epoch(entered_at)) / 86400.0) OVER (PARTITION BY opportunity_id, stage ORDER BY entered_at) AS cum
        FROM e
      )
      SELECT count(*) FILTER (WHERE sf.left_at IS DISTINCT FROM k.left_at) AS bad_left,
             count(*) FILTER (WHERE abs(coalesce(sf.days, -1) - coalesce(k.days, -1)) > 1e-9) AS bad_days,
             count(*) FILTER (WHERE sf.stint_no <> k.no) AS bad_no,
             count(*) FILTER (WHERE abs(coalesce(sf.cumulative_days, -1) - coalesce(k.cum, -1)) > 1e-6) AS bad_cum,
             count(*) FILTER (WHERE sf.stint_no > 1) AS reentries
      FROM stage_facts sf JOIN k ON k.opportunity_id = sf.opportunity_id AND k.entered_at = sf.entered_at`);
    expect(r).toMatchObject({ bad_left: 0, bad_days: 0, bad_no: 0, bad_cum: 0 });
  });

  it("each row carries the previous stint's exit (stage, days, cumulative days, stint number)", async () => {
    const r = await one(`
      SELECT count(*) FILTER (WHERE cur.previous_stage IS DISTINCT FROM prev.stage) AS bad_stage,
             count(*) FILTER (WHERE cur.previous_days IS DISTINCT FROM prev.days) AS bad_days,
             count(*) FILTER (WHERE cur.previous_cumulative_days IS DISTINCT FROM prev.cumulative_days) AS bad_cum,
             count(*) FILTER (WHERE cur.previous_stint_no IS DISTINCT FROM prev.stint_no) AS bad_no,
             count(*) FILTER (WHERE prev.opportunity_id IS NOT NULL) AS carried
      FROM stage_facts cur
      LEFT JOIN stage_facts prev ON prev.opportunity_id = cur.opportunity_id AND prev.left_at = cur.entered_at`);
    expect(r.carried as number).toBeGreaterThan(1000);
    expect(r).toMatchObject({ bad_stage: 0, bad_days: 0, bad_cum: 0, bad_no: 0 });
  });
});
