/**
 * `cockpit <command>`: demo, serve, metric, build, snapshot, sync, import, rejected. Every command takes --config and --db and
 * answers --help; errors exit non-zero and say what was wrong.
 */
import { CliError, type Command } from './command';
import { build } from './commands/build';
import { demo } from './commands/demo';
import { metric } from './commands/metric';
import { serve } from './commands/serve';
import { snapshot } from './commands/snapshot';
import { token } from './commands/token';
import { importCmd, rejected, sync } from './commands/sync';

const COMMANDS: Command[] = [demo, serve, metric, token, build, snapshot, sync, importCmd, rejected];

/** Commands added by later parts (connectors, tokens) register here. */
export function registerCommand(c: Command) {
  COMMANDS.push(c);
}

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
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`cockpit: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
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
