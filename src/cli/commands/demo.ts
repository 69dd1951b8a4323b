import { ensureFacts } from '../../../warehouse/facts';
import { todayIn } from '../../../models/common/period';
import { stageInfos } from '../../../warehouse/stages';
import { generateDemo, SCALES, type Scale } from '../../lib/server/demo/generate';
import { CliError, configFrom, databaseFor, parse, type Command } from '../command';

export const demo: Command = {
  name: 'demo',
  help: `Usage: cockpit demo [--scale small|medium|large|xlarge] [--seed N] [--as-of YYYY-MM-DD] [--force]

Generates three years of a believable Chinese B2B company's CRM data (3 regions, 8 teams,
60 reps; customers, opportunities with full history, payments, activities, targets) and
replaces the database's CRM tables with it. Deterministic for a seed and as-of date.

  --scale     small (6,000 opportunities), medium (60,000, default), large (1,000,000),
              xlarge (10,000,000; minutes and several GB)
  --seed      random seed (default 42, or the config's demo.seed)
  --as-of     last day of history (default: today in the configured time zone)
  --force     replace data that did not come from the demo generator
  --config, --db as for every command`,
  async run(argv) {
    const { values } = parse(argv, {
      scale: { type: 'string' },
      seed: { type: 'string' },
      'as-of': { type: 'string' },
      force: { type: 'boolean' }
    });
    const cfg = configFrom(values);
    const scale = (values.scale ?? cfg.demo.scale) as Scale;
    if (!(scale in SCALES)) throw new CliError(`--scale: unknown scale "${values.scale}" (${Object.keys(SCALES).join(', ')})`, 2);
    const seed = values.seed === undefined ? cfg.demo.seed : Number(values.seed);
    if (!Number.isInteger(seed)) throw new CliError(`--seed: expected an integer, got "${values.seed}"`, 2);
    const asOf = values['as-of'] ?? todayIn(cfg.timezone);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf)) throw new CliError(`--as-of: expected YYYY-MM-DD, got "${asOf}"`, 2);

    const db = await databaseFor(cfg);
    try {
      const existing = await db.query<{ n: number; demo: string | null }>(
        `SELECT (SELECT count(*) FROM opportunities)::INTEGER AS n, (SELECT value FROM meta WHERE key = 'demo.seed') AS demo`
      );
      const { n, demo: isDemo } = existing.rows[0];
      if (n > 0 && isDemo === null && !values.force) {
        throw new CliError(
          `${cfg.database} holds ${n.toLocaleString()} opportunities that did not come from the demo generator; ` +
            `use --force to replace them, or --db to write the demo elsewhere`
        );
      }
      console.error(`generating demo data (scale ${scale}, seed ${seed}, as of ${asOf}) into ${cfg.database}`);
      const r = await generateDemo(db, { scale, seed, asOf, log: (m) => console.error(`  ${m}`) });
      const counts = Object.entries(r.counts)
        .map(([t, c]) => `${t} ${c.toLocaleString()}`)
        .join(', ');
      console.log(`demo data generated in ${(r.ms / 1000).toFixed(1)} s: ${counts}`);
      // The models' derived tables (warehouse/facts.ts) as a step of their own, so its cost
      // is visible; the models would otherwise build them on their first query.
      const t0 = performance.now();
      await ensureFacts(db, stageInfos(cfg));
      console.log(`derived tables for the models built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return 0;
    } finally {
      await db.close();
    }
  }
};
