/**
 * Frozen forecasts (metrics.md, forecast accuracy "from frozen forecasts"): what the
 * `forecast` model said on a day, kept so that its accuracy can be measured once the period
 * is over (`forecast?view=accuracy&basis=snapshots`).
 *
 * A snapshot is one row per owner for each period (this month, this quarter, this year by
 * default): closed won, open pipeline, the forecast with configured and with learned stage
 * probabilities, and the cumulative categories. Rows are additive, so a team's or the
 * company's frozen forecast is the sum of its owners' — and the viewer's scope applies to
 * snapshots as to deals. Snapshots are computed with full access (company-wide learned
 * probabilities). Freezing twice on the same report date replaces that day's rows.
 *
 * A snapshot records the forecast as of `asOf`: the forecast model rebuilds the pipeline as it
 * was at the end of that day from the history (models/common/pit.ts), so an earlier `asOf` is
 * an honest rebuild (no later win, stage or amount leaks in), limited to what the history kept
 * (sources without history: their stage dates and syncs).
 */
import type { CockpitConfig } from '../config/schema';
import type { Database } from '../db/database';
import { join, sql } from '../db/sql';
import { ALL_SCOPE } from '../../../../models/common/scope';
import { todayIn, type PeriodPreset } from '../../../../models/common/period';
import { runModel } from './run';

export const DEFAULT_SNAPSHOT_PERIODS: PeriodPreset[] = ['this_month', 'this_quarter', 'this_year'];

export interface SnapshotResult {
  asOf: string;
  periods: { preset: PeriodPreset; from: string; to: string; owners: number; forecast: number }[];
}

interface OwnerRow {
  group_key: string | null;
  closed_won: number;
  closed_won_n: number;
  open_pipeline: number;
  open_n: number;
  forecast: number;
  commit: number;
  best_case: number;
  pipeline: number;
  p10: number | null;
  p50: number | null;
  p90: number | null;
}

/** Freezes the forecast of each period, per owner, as of `asOf` (default today). */
export async function freezeForecasts(
  db: Database,
  config: CockpitConfig,
  opts: { asOf?: string; periods?: PeriodPreset[]; now?: Date } = {}
): Promise<SnapshotResult> {
  const now = opts.now ?? new Date();
  const asOf = opts.asOf ?? todayIn(config.timezone, now);
  const takenAt = now.toISOString().slice(0, 19).replace('T', ' ');
  const periods = opts.periods ?? DEFAULT_SNAPSHOT_PERIODS;
  const out: SnapshotResult['periods'] = [];
  for (const preset of periods) {
    const base = { view: 'forecast', group_by: 'owner', period: preset, as_of: asOf };
    const configured = await runModel(db, config, 'forecast', { ...base, probabilities: 'configured' }, ALL_SCOPE, now);
    const learned = await runModel(db, config, 'forecast', { ...base, probabilities: 'learned' }, ALL_SCOPE, now);
    const statistical = await runModel(db, config, 'forecast', { ...base, probabilities: 'statistical' }, ALL_SCOPE, now);
    const learnedBy = new Map((learned.rows as unknown as OwnerRow[]).map((r) => [r.group_key, r.forecast]));
    const statBy = new Map((statistical.rows as unknown as OwnerRow[]).map((r) => [r.group_key, r]));
    // The band of the total as the company-wide (ungrouped) forecast states it — the owners'
    // quantiles do not add up to it: the accuracy view uses it for a cell spanning every owner
    // row of the snapshot.
    const { group_by: _g, ...ungrouped } = base;
    const whole = await runModel(db, config, 'forecast', { ...ungrouped, probabilities: 'statistical' }, ALL_SCOPE, now);
    const total = (whole.summary as { band?: { p10: number; p50: number; p90: number } | null }).band ?? null;
    // Every owner any method forecasts (the statistical one adds new-deal flow): rows stay additive.
    const configuredRows = configured.rows as unknown as OwnerRow[];
    const seen = new Set(configuredRows.map((r) => r.group_key));
    const ownerRows = [
      ...configuredRows,
      ...(statistical.rows as unknown as OwnerRow[])
        .filter((r) => !seen.has(r.group_key))
        .map((r) => ({ ...r, closed_won: 0, closed_won_n: 0, open_pipeline: 0, open_n: 0, forecast: 0, commit: 0, best_case: 0, pipeline: 0 }))
    ];
    const rows = ownerRows.map((r) => {
      const st = statBy.get(r.group_key);
      return sql`(${asOf}::DATE, ${takenAt}::TIMESTAMP, ${configured.period.from}::DATE, ${configured.period.to}::DATE, ${r.group_key},
        ${r.closed_won}, ${r.closed_won_n}::INTEGER, ${r.open_pipeline}, ${r.open_n}::INTEGER, ${r.forecast},
        ${learnedBy.get(r.group_key) ?? r.closed_won}, ${r.commit}, ${r.best_case}, ${r.pipeline},
        ${st?.forecast ?? null}::DOUBLE, ${st?.p10 ?? null}::DOUBLE, ${st?.p50 ?? null}::DOUBLE, ${st?.p90 ?? null}::DOUBLE,
        ${total?.p10 ?? null}::DOUBLE, ${total?.p50 ?? null}::DOUBLE, ${total?.p90 ?? null}::DOUBLE, ${ownerRows.length}::INTEGER)`;
    });
    await db.write(async (tx) => {
      await tx.run(
        sql`DELETE FROM forecast_snapshots WHERE as_of = ${asOf}::DATE AND period_from = ${configured.period.from}::DATE AND period_to = ${configured.period.to}::DATE`
      );
      if (rows.length > 0) await tx.run(sql`INSERT INTO forecast_snapshots VALUES ${join(rows)}`);
      // Derived from the CRM data, not CRM data: leave data_version (and the facts) alone.
    }, { derived: true });
    out.push({
      preset,
      from: configured.period.from,
      to: configured.period.to,
      owners: rows.length,
      forecast: configuredRows.reduce((s, r) => s + r.forecast, 0)
    });
  }
  return { asOf, periods: out };
}
