/**
 * `cockpit <command>`: demo, serve, metric, build, snapshot, sync, import, rejected, alerts. Every command takes --config and --db and
 * answers --help; errors exit non-zero and say what was wrong.
 */
import { CliError, type Command } from './command';

interface Entry {
  name: string;
  summary: string;
  /** Loaded only when run: `cockpit --help` or `cockpit token` need not load DuckDB, the models and the connectors. */
  load(): Promise<Command>;
}

const COMMANDS: Entry[] = [
  { name: 'demo', summary: 'generate the demo company (云帆智能科技) into the database', load: async () => (await import('./commands/demo')).demo },
  { name: 'serve', summary: 'serve the cockpit, boards and HTTP API (generates the demo data if the database is empty)', load: async () => (await import('./commands/serve')).serve },
  { name: 'metric', summary: "print a metric model's result", load: async () => (await import('./commands/metric')).metric },
  { name: 'token', summary: 'sign an access token (and login link) for a role and scope', load: async () => (await import('./commands/token')).token },
  { name: 'build', summary: 'build the web app (done automatically by serve when sources changed)', load: async () => (await import('./commands/build')).build },
  { name: 'snapshot', summary: "freeze today's forecasts so their accuracy can be measured later", load: async () => (await import('./commands/snapshot')).snapshot },
  { name: 'sync', summary: 'load every configured source (Excel, CSV, REST, SQL) into the database in one transaction', load: async () => (await import('./commands/sync')).sync },
  { name: 'import', summary: 'import one spreadsheet (xlsx/csv) with automatic column mapping', load: async () => (await import('./commands/sync')).importCmd },
  { name: 'rejected', summary: 'list or export the rows a sync or import rejected, to fix and import again', load: async () => (await import('./commands/sync')).rejected },
  { name: 'alerts', summary: 'alert rules and scheduled reports: list, test (dry run), run now', load: async () => (await import('./commands/alerts')).alerts }
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'crm-cockpit: analytics and forecasting over your CRM data',
    '',
    'Usage: cockpit <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    '  --config <file>  configuration file (default: ./cockpit.config.json if present)',
    '  --db <file>      DuckDB database file (default: the config\'s "database", data/cockpit.duckdb)',
    '  --help           show help for a command',
    '',
    'Run `cockpit <command> --help` for the options of a command.'
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 1;
  }
  if (name === '--version') {
    const pkg = await import('../../package.json', { with: { type: 'json' } });
    console.log(pkg.default.version);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`cockpit: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const cmd = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof CliError) {
      console.error(`cockpit ${cmd.name}: ${e.message}`);
      return e.exitCode;
    }
    const err = e as Error & { code?: string };
    if (err?.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`cockpit ${cmd.name}: ${err.message}\n\n${cmd.help}`);
      return 2;
    }
    console.error(`cockpit ${cmd.name}: ${err?.stack ?? err}`);
    return 1;
  }
}
