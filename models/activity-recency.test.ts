/**
 * The last activity on a deal before an instant t is read from the deal's row of `deal_facts`
 * (`last_activity_at`, and `activity_times` for the deals with activities at or after t:
 * warehouse/facts.ts, models/common/pit.ts `lastActivityBefore`) instead of joining every
 * activity on every request. Proven here on a real DuckDB (the small demo company):
 * - per deal, equal to `max(occurred_at)` of its raw activities before t, for every deal at the
 *   report date, at past dates (where many deals have activities after t, which must not
 *   count) and at instants that are exactly an activity's time;
 * - the statistical forecast (whose close-in-period rate has an activity-recency lift) as of a
 *   past date equals the same forecast on a copy of the database with every activity after that
 *   date deleted: nothing after the report date leaks in;
 * - the weighted forecast no longer depends on activities at all (it never used them).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/lib/server/config/load';
import { openDatabase, type Database } from '../src/lib/server/db/database';
import { sql } from '../src/lib/server/db/sql';
import { generateDemo } from '../src/lib/server/demo/generate';
import { runModel, stageInfos } from '../src/lib/server/models/run';
import { ensureFacts } from '../warehouse/facts';
import { lastActivityBefore } from './common/pit';
import { ALL_SCOPE } from './common/scope';

const AS_OF = '2026-06-30';
const PAST = '2026-03-15';
const tmp = mkdtempSync(join(tmpdir(), 'activity-recency-'));
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const config = parsed.config;
let db: Database;

beforeAll(async () => {
  db = await openDatabase(join(tmp, 'demo.duckdb'));
  await generateDemo(db, { scale: 'small', seed: 11, asOf: AS_OF });
  await ensureFacts(db, stageInfos(config));
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Per deal: the fact's answer and the raw one at instant `t` ('YYYY-MM-DD HH:MM:SS'), and how many deals differ. */
async function compareAt(t: string) {
  const r = await db.query<{ deals: number; differ: number; later: number; older: number; none: number }>(sql`
    WITH raw AS (
      SELECT o.opportunity_id, (SELECT max(a.occurred_at) FROM main.activities a
                                WHERE a.opportunity_id = o.opportunity_id AND a.occurred_at < ${t}::TIMESTAMP) AS at
      FROM main.opportunities o
    ),
    fact AS (SELECT f.opportunity_id, f.last_activity_at, ${lastActivityBefore(sql`f`, sql`${t}::TIMESTAMP`)} AS at FROM main.deal_facts f)
    SELECT count(*)::INTEGER AS deals,
      count(*) FILTER (WHERE fact.at IS DISTINCT FROM raw.at OR fact.opportunity_id IS NULL OR raw.opportunity_id IS NULL)::INTEGER AS differ,
      -- deals with activities at or after t (the list path), and among them those with some before t
      count(*) FILTER (WHERE fact.last_activity_at >= ${t}::TIMESTAMP)::INTEGER AS later,
      count(*) FILTER (WHERE fact.last_activity_at >= ${t}::TIMESTAMP AND raw.at IS NOT NULL)::INTEGER AS older,
      count(*) FILTER (WHERE raw.at IS NULL)::INTEGER AS none
    FROM raw FULL JOIN fact ON fact.opportunity_id = raw.opportunity_id`);
  return r.rows[0];
}

describe('the last activity before t from deal_facts = max(occurred_at) of the raw activities before t', () => {
  it('at the end of the report date: every deal', async () => {
    const c = await compareAt('2026-07-01 00:00:00');
    expect(c.differ).toBe(0);
    const n = (await db.query<{ n: number }>('SELECT count(*)::INTEGER AS n FROM main.opportunities')).rows[0].n;
    expect(c.deals).toBe(n);
    expect(c.deals - c.none).toBeGreaterThan(1000);
  }, 120_000);

  for (const t of ['2026-03-16 00:00:00', '2025-11-01 00:00:00', '2025-01-01 00:00:00']) {
    it(`at a past instant (${t}): deals with later activities count only those before it`, async () => {
      const c = await compareAt(t);
      expect(c.differ).toBe(0);
      // Not vacuous: many deals have activities after t, and many of them some before t too.
      expect(c.later).toBeGreaterThan(200);
      expect(c.older).toBeGreaterThan(50);
    }, 120_000);
  }

  it('at instants that are exactly an activity’s time (strictly before: that activity does not count)', async () => {
    const r = await db.query<{ t: string }>(`SELECT DISTINCT strftime(occurred_at, '%Y-%m-%d %H:%M:%S') AS t FROM main.activities
      WHERE opportunity_id IS NOT NULL AND occurred_at < '2026-06-01' ORDER BY hash(t) LIMIT 12`);
    expect(r.rows.length).toBe(12);
    for (const { t } of r.rows) {
      const c = await compareAt(t);
      expect(c.differ, t).toBe(0);
      expect(c.later, t).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('the forecast as of a past date sees no later activity', () => {
  let cut: Database;
  const cutPath = join(tmp, 'cut.duckdb');

  beforeAll(async () => {
    // A copy with every activity from the end of PAST on deleted (its facts rebuilt by the next model run).
    await db.close();
    copyFileSync(join(tmp, 'demo.duckdb'), cutPath);
    db = await openDatabase(join(tmp, 'demo.duckdb'));
    cut = await openDatabase(cutPath);
    await cut.write(async (tx) => {
      await tx.run(`DELETE FROM activities WHERE occurred_at >= TIMESTAMP '${PAST}' + INTERVAL 1 DAY`);
    });
  }, 300_000);

  afterAll(async () => {
    await cut?.close();
  });

  it('many open deals then have activities after it (the list path is exercised)', async () => {
    const r = await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM main.deal_facts
      WHERE last_activity_at >= TIMESTAMP '${PAST}' + INTERVAL 1 DAY AND created_at < '${PAST}' AND (closed_at IS NULL OR closed_at > '${PAST}')`);
    expect(r.rows[0].n).toBeGreaterThan(200);
  });

  for (const [label, params] of [
    ['statistical, this quarter', { period: 'this_quarter', probabilities: 'statistical' }],
    ['statistical, next month, by owner', { from: '2026-04-01', to: '2026-05-01', probabilities: 'statistical', group_by: 'owner' }],
    ['configured, this quarter', { period: 'this_quarter' }]
  ] as const) {
    it(`${label}: the same rows and summary as on the copy without later activities`, async () => {
      const a = await runModel(db, config, 'forecast', { as_of: PAST, ...params }, ALL_SCOPE);
      const b = await runModel(cut, config, 'forecast', { as_of: PAST, ...params }, ALL_SCOPE);
      expect((a.rows[0] as Record<string, number>).forecast).toBeGreaterThan(0);
      expect(JSON.stringify(roundAll(a.rows))).toBe(JSON.stringify(roundAll(b.rows)));
      expect(JSON.stringify(roundAll(a.summary))).toBe(JSON.stringify(roundAll(b.summary)));
    }, 300_000);
  }

  it('activity recency matters to the statistical forecast (so the equality above is not vacuous)', async () => {
    const none = join(tmp, 'none.duckdb');
    await cut.close();
    copyFileSync(cutPath, none);
    cut = await openDatabase(cutPath);
    const noActs = await openDatabase(none);
    try {
      await noActs.write(async (tx) => {
        await tx.run('DELETE FROM activities');
      });
      const params = { as_of: PAST, period: 'this_quarter', probabilities: 'statistical' };
      const a = await runModel(db, config, 'forecast', params, ALL_SCOPE);
      const b = await runModel(noActs, config, 'forecast', params, ALL_SCOPE);
      const fa = (a.rows[0] as Record<string, number>).weighted_pipeline;
      const fb = (b.rows[0] as Record<string, number>).weighted_pipeline;
      expect(Math.abs(fa - fb) / fa).toBeGreaterThan(1e-4);
    } finally {
      await noActs.close();
    }
  }, 300_000);
});

/** Numbers rounded to 9 significant digits (DOUBLE sums in another order), the rest as is. */
function roundAll(v: unknown): unknown {
  if (typeof v === 'number') return Number(v.toPrecision(9));
  if (Array.isArray(v)) return v.map(roundAll);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundAll(x)]));
  return v;
}
