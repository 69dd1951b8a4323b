import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';
import PlannedSequencer from './tests/helpers/sequencer';

export default defineConfig({
  plugins: [sveltekit()],
  server: { port: 3000 },
  // Rolldown's plugin-timing report is noise in `cockpit serve`'s output.
  build: { rolldownOptions: { checks: { bundlerTimings: false } } },
  test: {
    // Vitest's default is one worker per core less one: a single worker on a 2-core machine,
    // which then waits on every spawned server, CLI and Chromium in turn. Most test files wait
    // on such processes rather than compute, so three at a time roughly halve `npm test`.
    maxWorkers: 3,
    // No test may depend on vitest's 5 s default: on a loaded 2-core machine a DuckDB-backed
    // unit test can take several seconds. Projects below raise these further where they spawn
    // servers, CLIs or Chromium.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Starts the browser files one at a time from the beginning, beside the rest, and the
    // longest files first (tests/helpers/sequencer.ts).
    sequence: { sequencer: PlannedSequencer },
    // Each suite gets its own project so `npm test` runs them all and a
    // failing browser test is reported as such, not as a unit failure.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'models/**/*.test.ts'],
          environment: 'node'
        }
      },
      {
        extends: true,
        test: {
          name: 'api',
          include: ['tests/api/**/*.test.ts', 'tests/cli/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['tests/helpers/global-setup.ts'],
          // Each of these spawns CLIs or requests a shared server: at a load of 15 on two cores
          // a test that takes 18 s idle was seen to take over 60 s.
          testTimeout: 300_000,
          hookTimeout: 300_000
        }
      },
      {
        extends: true,
        test: {
          // Connectors run against real files, a real HTTP server started by the test, and the
          // PostgreSQL and MariaDB servers on this machine (URLs from the environment).
          name: 'connectors',
          include: ['connectors/**/*.test.ts', 'tests/connectors/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 300_000
        }
      },
      {
        extends: true,
        test: {
          name: 'security',
          include: ['tests/security/**/*.test.ts'],
          environment: 'node',
          // Each suite serves its own copy of one demo database generated once per run.
          globalSetup: ['tests/helpers/template-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000
        }
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['tests/browser/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['tests/helpers/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000
          // Not `fileParallelism: false`: Vitest runs such a project in a group of its own after
          // all the others, one file at a time with every other worker idle (~7 min at the end
          // of a run on two cores). The sequencer starts the browser files one after another
          // from the beginning instead, beside the other suites.
        }
      }
    ]
  }
});
