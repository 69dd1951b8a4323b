import { PERIOD_PRESETS, type PeriodPreset } from '../../../models/common/period';
import { DEFAULT_SNAPSHOT_PERIODS, freezeForecasts } from '../../lib/server/models/snapshots';
import { CliError, configFrom, databaseFor, parse, type Command } from '../command';

export const snapshot: Command = {
  name: 'snapshot',
  help: `Usage: cockpit snapshot [--period <preset>]... [--as-of YYYY-MM-DD]

Freezes what the forecast model says today, per owner, for each period (default: this_month,
this_quarter, this_year): won so far, open pipeline, the weighted forecast with configured and
with learned stage probabilities, and the commit / best case / pipeline categories. Once a
period is over, its forecast accuracy against these frozen figures is
  cockpit metric forecast --param view=accuracy --param basis=snapshots
Run it once a day (cron, or after each sync); running it again on the same day replaces that
day's snapshot.

  --period    a period preset (repeatable): ${PERIOD_PRESETS.filter((p) => p !== 'all').join(', ')}
  --as-of     the report date (default: today in the configured time zone). An earlier date
              freezes the forecast rebuilt from the history as it was at the end of that day
              (deals created later absent, deals closed later open, amounts and stages as then).
  --config, --db as for every command`,
  async run(argv) {
    const { values } = parse(argv, { period: { type: 'string', multiple: true }, 'as-of': { type: 'string' } });
    const periods = (values.period ?? DEFAULT_SNAPSHOT_PERIODS) as PeriodPreset[];
    for (const p of periods) {
      if (!(PERIOD_PRESETS as readonly string[]).includes(p) || p === 'all') {
        throw new CliError(`--period: unknown period "${p}" (${PERIOD_PRESETS.filter((x) => x !== 'all').join(', ')})`, 2);
      }
    }
    const asOf = values['as-of'];
    if (asOf !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(asOf)) throw new CliError(`--as-of: expected YYYY-MM-DD, got "${asOf}"`, 2);
    const cfg = configFrom(values);
    const db = await databaseFor(cfg);
    try {
      const r = await freezeForecasts(db, cfg, { asOf, periods });
      for (const p of r.periods) {
        console.log(`froze ${p.preset} [${p.from}, ${p.to}) as of ${r.asOf}: ${p.owners} owners, forecast ${Math.round(p.forecast).toLocaleString('en-US')}`);
      }
      return 0;
    } finally {
      await db.close();
    }
  }
};
