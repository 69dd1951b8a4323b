import { catalog } from '../../../models/index';
import { ALL_SCOPE } from '../../../models/common/scope';
import { ModelError, runModel } from '../../lib/server/models/run';
import { CliError, configFrom, databaseFor, parse, type Command } from '../command';

const modelList = () =>
  Object.values(catalog)
    .map((m) => `  ${m.name.padEnd(18)} ${m.title.en} (${m.title['zh-CN']})`)
    .join('\n');

export const metric: Command = {
  name: 'metric',
  get help() {
    return `Usage: cockpit metric <name> [--param key=value]... [--json]

Runs a metric model on the database and prints its rows (or the whole result as JSON).
The CLI runs with full access: it reads the database file directly.

  --param key=value   a model parameter; repeat a key for several values
                      (period=this_quarter, from=2026-01-01 to=2026-04-01, team=R1, group_by=team …)
  --json              print the full result (rows, n, period, definition) as JSON

Models:
${modelList()}`;
  },
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { param: { type: 'string', multiple: true, short: 'p' }, json: { type: 'boolean' } },
      true
    );
    const name = positionals[0];
    if (!name) throw new CliError(`name a model:\n${modelList()}`, 2);
    if (positionals.length > 1) throw new CliError(`unexpected argument "${positionals[1]}" (parameters go in --param key=value)`, 2);
    const raw: Record<string, string | string[]> = {};
    for (const kv of values.param ?? []) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new CliError(`--param "${kv}": expected key=value`, 2);
      const k = kv.slice(0, eq);
      const v = kv.slice(eq + 1);
      const cur = raw[k];
      raw[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
    }
    const cfg = configFrom(values);
    const db = await databaseFor(cfg);
    try {
      const result = await runModel(db, cfg, name, raw, ALL_SCOPE);
      if (values.json) {
        console.log(JSON.stringify(result, null, 2));
      } else {
        console.log(`${result.title.en} / ${result.title['zh-CN']}  ·  ${result.date_field} in [${result.period.from}, ${result.period.to})  ·  as of ${result.as_of}  ·  n = ${result.n}`);
        console.table(result.rows);
        if (result.summary) console.log(result.summary);
      }
      return 0;
    } catch (e) {
      if (e instanceof ModelError) throw new CliError(e.issues.length ? `${e.message.split(':')[0]}:\n  ${e.issues.join('\n  ')}` : e.message, 2);
      throw e;
    } finally {
      await db.close();
    }
  }
};
