#!/usr/bin/env node
// The `cockpit` command. The CLI runs from TypeScript sources through tsx, so a fresh clone
// needs no build step for it; the web app itself is built by `cockpit serve` when needed.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
