/**
 * Starts a real crm-cockpit server for the API and browser suites: a fresh DuckDB file with
 * the small demo company (fixed seed and as-of date), served by `cockpit serve` on a free
 * port, exactly as a user runs it. The build must exist (npm test builds it first).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DEMO_AS_OF = '2026-06-15';
export const DEMO_SEED = 7;

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
    dbPath: string;
    demoAsOf: string;
    /** A closed, never-served DuckDB file with the small demo company: copy it, never open it. */
    demoTemplate: string;
  }
}

export function cockpit(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [join(ROOT, 'bin/cockpit.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, COCKPIT_CONFIG: '', ...env },
    timeout: 180_000
  });
}

/** Starts `cockpit serve` and resolves with its URL once it prints it. */
export function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cockpit.js'), 'serve', '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: ROOT,
    env: { ...process.env, COCKPIT_CONFIG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 120 s:\n${out}`)), 120_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /running at (http:\/\/localhost:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ url: m[1].replace('localhost', '127.0.0.1'), child, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}

/**
 * Generates the small demo company (seed DEMO_SEED, as of DEMO_AS_OF) once into `dir`. Suites
 * that need a database of their own copy this file (a few ms) instead of running `cockpit demo`
 * again (~5 s each): the generator is deterministic, so the copy is the same data.
 */
export function makeDemoTemplate(dir: string): string {
  const file = join(dir, 'template.duckdb');
  const gen = cockpit(['demo', '--scale', 'small', '--seed', String(DEMO_SEED), '--as-of', DEMO_AS_OF, '--db', file]);
  if (gen.status !== 0) throw new Error(`cockpit demo failed:\n${gen.stderr}`);
  return file;
}

const SHARED = Symbol.for('crm-cockpit.test-template');
type Shared = { file: string; dir: string; users: number };

/**
 * The demo template shared by every project's global setup in this run (api, browser and
 * security each needed one; all global setups run in vitest's main process, so the first one
 * generates it and the others copy the same file — ~3 CPU s and up to half a minute under
 * load each). `release` removes it when the last project's teardown runs.
 */
export function sharedDemoTemplate(): { file: string; release: () => void } {
  const g = globalThis as unknown as Record<symbol, Shared | undefined>;
  let s = g[SHARED];
  if (!s) {
    const dir = mkdtempSync(join(tmpdir(), 'cockpit-template-'));
    s = g[SHARED] = { dir, file: makeDemoTemplate(dir), users: 0 };
  }
  s.users++;
  const shared = s;
  let released = false;
  return {
    file: shared.file,
    release: () => {
      if (released) return;
      released = true;
      if (--shared.users === 0) {
        rmSync(shared.dir, { recursive: true, force: true });
        g[SHARED] = undefined;
      }
    }
  };
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'cockpit-test-'));
  const { file: template, release } = sharedDemoTemplate();
  const dbPath = join(dir, 'demo.duckdb');
  copyFileSync(template, dbPath);
  const { url, child, output } = await startServer(['--db', dbPath]);
  project.provide('baseUrl', url);
  project.provide('dbPath', dbPath);
  project.provide('demoAsOf', DEMO_AS_OF);
  project.provide('demoTemplate', template);
  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    // The server's own account of any failure a test saw (a 500 says only "internal error").
    const errors = output().split('\n').filter((l) => /error|exception|warn/i.test(l));
    if (errors.length) {
      const file = join(tmpdir(), `cockpit-test-server-${project.name}.log`);
      writeFileSync(file, output());
      console.error(`[${project.name}] the shared test server logged ${errors.length} error lines (full log: ${file}):\n${errors.slice(0, 40).join('\n')}`);
    }
    rmSync(dir, { recursive: true, force: true });
    release();
  };
}
