/**
 * Forecast accuracy (issue 10): the product's own backtest (`forecast?view=accuracy`, monthly
 * periods, each forecast on its first instant from the pipeline as it was then) beside two
 * simple baselines computed here in plain SQL + JS over the final deal table, in the same run:
 * - `pooled`: open deals at the month's start × the pooled rate of open deals won within the
 *   next month at every earlier month start × the mean won amount so far, plus the mean amount
 *   of deals created and won within a month (new flow) over the earlier months;
 * - `pooled + month of quarter`: the same, with rates and new flow taken only from earlier
 *   months at the same place in the quarter (pooled while there are none).
 * Datasets: the Maven CRM sample imported through examples/maven (May–Dec 2017, "won next
 * month") and the demo company, small (6,000 deals) and medium (60,000 deals, what `npm start`
 * generates; affordable since the past states are a range join, docs/decisions.md), 8 months
 * to 2026-11. `BENCH_FORECAST_SETS=medium` (a substring of the names) runs only some.
 * Values are WAPE in % (lower is better); notes carry bias and P10–P90 coverage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, parseConfig } from '../../src/lib/server/config/load';
import type { CockpitConfig } from '../../src/lib/server/config/schema';
import { openDatabase, type Database } from '../../src/lib/server/db/database';
import { generateDemo } from '../../src/lib/server/demo/generate';
import { runModel } from '../../src/lib/server/models/run';
import { runSync } from '../../connectors/load/sync';
import { ALL_SCOPE } from '../../models/common/scope';
import type { BenchRow } from '../run';
import type { Suite } from './index';

const ROOT = resolve(import.meta.dirname, '../..');

interface MonthFacts {
  m: string;
  pos: number;
  open_n: number;
  won_next_n: number;
  won_next_amt: number;
  new_won_amt: number;
  actual: number;
  mean_won_before: number | null;
}

/** Per month start: open deals then, how many of them were won within the month, new flow, actual. */
async function monthFacts(db: Database, to: string): Promise<MonthFacts[]> {
  const r = await db.query<MonthFacts>(`
    WITH ms AS (SELECT unnest(generate_series(
        date_trunc('month', (SELECT min(closed_at) FROM main.opportunities WHERE status IN ('won', 'lost'))), TIMESTAMP '${to}', INTERVAL 1 MONTH)) AS m)
    SELECT strftime(m, '%Y-%m-%d') AS m, ((month(m) - 1) % 3 + 1)::INTEGER AS pos,
      (SELECT count(*) FROM main.opportunities o WHERE o.created_at < m AND (o.closed_at IS NULL OR o.closed_at >= m))::INTEGER AS open_n,
      (SELECT count(*) FROM main.opportunities o WHERE o.created_at < m AND o.status = 'won' AND o.closed_at >= m AND o.closed_at < m + INTERVAL 1 MONTH)::INTEGER AS won_next_n,
      (SELECT coalesce(sum(amount), 0) FROM main.opportunities o WHERE o.created_at < m AND o.status = 'won' AND o.closed_at >= m AND o.closed_at < m + INTERVAL 1 MONTH)::DOUBLE AS won_next_amt,
      (SELECT coalesce(sum(amount), 0) FROM main.opportunities o WHERE o.created_at >= m AND o.status = 'won' AND o.closed_at < m + INTERVAL 1 MONTH)::DOUBLE AS new_won_amt,
      (SELECT coalesce(sum(amount), 0) FROM main.opportunities o WHERE o.status = 'won' AND o.closed_at >= m AND o.closed_at < m + INTERVAL 1 MONTH)::DOUBLE AS actual,
      (SELECT avg(amount) FROM main.opportunities o WHERE o.status = 'won' AND o.closed_at < m)::DOUBLE AS mean_won_before
    FROM ms WHERE m < TIMESTAMP '${to}'
    ORDER BY m`);
  return r.rows;
}

function baseline(facts: MonthFacts[], from: string, seasonal: boolean) {
  const out: { m: string; f: number; a: number }[] = [];
  for (const cur of facts.filter((x) => x.m >= from)) {
    const before = facts.filter((x) => x.m < cur.m);
    const same = before.filter((x) => x.pos === cur.pos);
    const use = seasonal && same.length > 0 ? same : before;
    const n = use.reduce((s, x) => s + x.open_n, 0);
    const rate = n > 0 ? use.reduce((s, x) => s + x.won_next_n, 0) / n : 0;
    const nf = use.length ? use.reduce((s, x) => s + x.new_won_amt, 0) / use.length : 0;
    out.push({ m: cur.m, f: cur.open_n * rate * (cur.mean_won_before ?? 0) + nf, a: cur.actual });
  }
  const sumA = out.reduce((s, x) => s + x.a, 0);
  return {
    wape: out.reduce((s, x) => s + Math.abs(x.f - x.a), 0) / sumA,
    bias: out.reduce((s, x) => s + (x.f - x.a), 0) / sumA
  };
}

async function backtest(db: Database, config: CockpitConfig, from: string, to: string, asOf: string) {
  const r = await runModel(db, config, 'forecast', { view: 'accuracy', grain: 'month', from, to, as_of: asOf }, ALL_SCOPE);
  return r.summary as {
    wape: Record<string, number | null>;
    bias: Record<string, number | null>;
    coverage: Record<string, { covered: number; of: number; mean_half_width: number | null } | null>;
  };
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(x * 100).toFixed(1)}%`);

export async function forecastRows(log: (m: string) => void): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sets: { name: string; open: () => Promise<{ db: Database; config: CockpitConfig; cleanup: () => void }>; from: string; to: string; asOf: string }[] = [
    {
      name: 'Maven CRM (May–Dec 2017)',
      from: '2017-05-01',
      to: '2018-01-01',
      asOf: '2018-01-01',
      async open() {
        const dir = mkdtempSync(join(tmpdir(), 'bench-forecast-'));
        const loaded = loadConfig(join(ROOT, 'examples/maven/cockpit.config.json'));
        if (!loaded.ok) throw new Error(loaded.issues.join('\n'));
        const config = { ...loaded.config, database: join(dir, 'maven.duckdb') };
        const db = await openDatabase(config.database);
        await runSync(db, { config, baseDir: join(ROOT, 'examples/maven') });
        return { db, config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
      }
    },
    {
      name: 'demo company, small (Mar–Oct 2026)',
      from: '2026-03-01',
      to: '2026-11-01',
      asOf: '2026-11-21',
      async open() {
        const dir = mkdtempSync(join(tmpdir(), 'bench-forecast-'));
        const parsed = parseConfig({});
        if (!parsed.ok) throw new Error('default config invalid');
        const db = await openDatabase(join(dir, 'demo.duckdb'));
        await generateDemo(db, { scale: 'small', seed: 42, asOf: '2026-11-21' });
        return { db, config: parsed.config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
      }
    },
    {
      name: 'demo company, medium (Mar–Oct 2026)',
      from: '2026-03-01',
      to: '2026-11-01',
      asOf: '2026-11-21',
      async open() {
        const dir = mkdtempSync(join(tmpdir(), 'bench-forecast-'));
        const parsed = parseConfig({});
        if (!parsed.ok) throw new Error('default config invalid');
        const db = await openDatabase(join(dir, 'demo.duckdb'));
        await generateDemo(db, { scale: 'medium', seed: 42, asOf: '2026-11-21' });
        return { db, config: parsed.config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
      }
    }
  ];
  const only = process.env.BENCH_FORECAST_SETS;
  for (const s of sets.filter((x) => !only || x.name.includes(only))) {
    const { db, config, cleanup } = await s.open();
    try {
      const t0 = performance.now();
      const bt = await backtest(db, config, s.from, s.to, s.asOf);
      const ms = performance.now() - t0;
      const facts = await monthFacts(db, s.to);
      const pooled = baseline(facts, s.from, false);
      const seasonal = baseline(facts, s.from, true);
      const cov = bt.coverage.statistical;
      log(`${s.name}: statistical WAPE ${pct(bt.wape.statistical)}, bias ${pct(bt.bias.statistical)}, covered ${cov?.covered}/${cov?.of}, band ±${pct(cov?.mean_half_width)}; pooled ${pct(pooled.wape)}, + month of quarter ${pct(seasonal.wape)} (${(ms / 1000).toFixed(1)} s)`);
      rows.push({
        case: `${s.name}: statistical (product backtest)`,
        value: (bt.wape.statistical ?? NaN) * 100,
        baseline: pooled.wape * 100,
        baseline_label: 'pooled rate + new flow',
        unit: '% WAPE',
        note: `bias ${pct(bt.bias.statistical)}; P10–P90 covered ${cov?.covered}/${cov?.of}, mean half-width ±${pct(cov?.mean_half_width)}; backtest ${(ms / 1000).toFixed(1)} s`
      });
      rows.push({
        case: `${s.name}: statistical vs baseline with month of quarter`,
        value: (bt.wape.statistical ?? NaN) * 100,
        baseline: seasonal.wape * 100,
        baseline_label: 'pooled + month of quarter',
        unit: '% WAPE',
        note: `baseline bias ${pct(seasonal.bias)}`
      });
      for (const m of ['weighted_configured', 'weighted_learned', 'commit', 'best_case', 'pipeline']) {
        rows.push({ case: `${s.name}: ${m}`, value: (bt.wape[m] ?? NaN) * 100, unit: '% WAPE', note: `bias ${pct(bt.bias[m])}` });
      }
    } finally {
      await db.close();
      cleanup();
    }
  }
  return rows;
}

export const forecastSuite: Suite = {
  name: 'forecast',
  description: 'forecast backtest (monthly, no hindsight): WAPE of the statistical forecast vs simple baselines in the same run',
  run: forecastRows
};
