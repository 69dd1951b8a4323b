/**
 * The `cockpit` command run inside the test's own process: the same `main(argv)` that
 * bin/cockpit.js calls, with what it prints captured and its exit code returned, shaped like
 * `cockpit()` from global-setup.ts (a real `node bin/cockpit.js` process).
 *
 * Why: a spawned CLI pays ~1 CPU s before it does anything (Node, tsx's loader, zod, DuckDB's
 * native module, the models), and the CLI suites spawned it ~100 times. In-process, those are
 * loaded once per file. Each suite still runs the real binary for every command family it
 * covers (`cockpit()`), so bin/cockpit.js, tsx and the exit status of a real process stay
 * tested end to end; the in-process runs check what the commands print, exit with and write.
 *
 * Runs are serialised (one at a time): the capture swaps the global console, and
 * process.env is set for the run exactly as `cockpit()` sets the child's environment
 * (COCKPIT_CONFIG empty unless given) and restored afterwards. The database a command opens is
 * closed by the command itself, as in a real process, so a test can open the file next.
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

let queue: Promise<unknown> = Promise.resolve();

export function cockpitIn(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const run = queue.then(() => once(args, env));
  queue = run.catch(() => undefined);
  return run;
}

async function once(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const { main } = await import('../../src/cli/main');
  const out = new Sink();
  const err = new Sink();
  const saved = globalThis.console;
  const overrides: NodeJS.ProcessEnv = { COCKPIT_CONFIG: '', ...env };
  const before = new Map(Object.keys(overrides).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  globalThis.console = new Console({ stdout: out, stderr: err, colorMode: false });
  let status: number;
  try {
    status = await main(args);
  } catch (e) {
    // What Node prints for an error that escapes main: the stack, exit code 1.
    err.text += `${(e as Error)?.stack ?? e}\n`;
    status = 1;
  } finally {
    globalThis.console = saved;
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return { status, stdout: out.text, stderr: err.text };
}
