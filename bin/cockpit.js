#!/usr/bin/env node
// The `cockpit` command. The CLI runs from TypeScript sources through tsx, so a fresh clone
// needs no build step for it; the web app itself is built by `cockpit serve` when needed.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The board definitions (src/lib/boards, drawn by alert reports) import through SvelteKit's
// `$lib` alias, which tsx resolves from .svelte-kit/tsconfig.json. A fresh clone has none until
// the first build or `svelte-kit sync`, so make it once (quick, no build).
const root = fileURLToPath(new URL('..', import.meta.url));
const kit = `${root}node_modules/@sveltejs/kit/svelte-kit.js`;
if (!existsSync(`${root}.svelte-kit/tsconfig.json`) && existsSync(kit)) {
  spawnSync(process.execPath, [kit, 'sync'], { cwd: root, stdio: 'ignore' });
}

// `cockpit metric … | head`: the reader closed the pipe, which is how such a pipeline ends,
// not an error to print a stack trace for. What is written after that goes nowhere; the command
// itself runs to its end and exits with its own code (a sync cut off here would otherwise stop
// half-way and report success, and a server whose log reader died would stop serving).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    stream.write = (_chunk, encoding, callback) => {
      const done = typeof encoding === 'function' ? encoding : callback;
      if (done) process.nextTick(done);
      return true;
    };
  });
}

register();
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
