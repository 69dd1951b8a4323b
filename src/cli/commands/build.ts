import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, type Command } from '../command';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const STAMP = join(ROOT, 'build', '.stamp');
const INPUTS = ['src', 'models', 'connectors', 'static', 'svelte.config.js', 'vite.config.ts', 'package.json'];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

/** True when the web app has not been built, or a source changed since. */
export function buildIsStale(): boolean {
  if (!existsSync(STAMP) || !existsSync(join(ROOT, 'build', 'handler.js'))) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((p) => newest(join(ROOT, p)) > built);
}

/** Builds the SvelteKit app (adapter-node) into build/. */
export async function buildApp(log = (m: string) => console.error(m)): Promise<void> {
  const t0 = performance.now();
  log('building the web app (vite build)…');
  const vite = await import('vite');
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    await vite.build({ root: ROOT, logLevel: 'warn', mode: 'production' });
  } finally {
    process.chdir(cwd);
  }
  writeFileSync(STAMP, new Date().toISOString());
  log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

export const build: Command = {
  name: 'build',
  help: `Usage: cockpit build [--if-stale]

Builds the SvelteKit web app into build/.

  --if-stale   only when build/ is missing or older than the sources`,
  async run(argv) {
    const { values } = parse(argv, { 'if-stale': { type: 'boolean' } });
    if (values['if-stale'] && !buildIsStale()) {
      console.error('build is up to date');
      return 0;
    }
    await buildApp();
    return 0;
  }
};
