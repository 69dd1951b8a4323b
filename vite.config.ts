import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The order `npm test` starts its files in. Vitest's own order runs project after project and
 * puts a project limited to one file at a time (the browser suite) in a group of its own after
 * every other group: on two cores the ten browser files then ran one by one for ~7 minutes at
 * the end with the other workers idle.
 *
 * Here every project shares one pool (see vite.config.ts) and the order is planned from each
 * file's duration in a recent run (tests/helpers/test-durations.json; refresh it with
 * scripts/test-durations.ts): a list schedule over the pool's workers that always gives a free
 * worker the longest file left, except that the browser files go one at a time, each as soon
 * as the previous one is expected to end. So the browser chain runs from the start beside the
 * rest, and the long property suites do not start last. A file the table does not know counts
 * as 30 s. The plan only orders the files; a wrong estimate costs time, never a test.
 */
const UNKNOWN_S = 30;

class PlannedSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    let table: Record<string, number> = {};
    try {
      table = JSON.parse(readFileSync(join(import.meta.dirname, 'tests/helpers/test-durations.json'), 'utf8'));
    } catch {
      // No table: every file is unknown and the plan is just "browser files one at a time".
    }
    const root = this.ctx.config.root;
    const weight = (f: TestSpecification) => table[relative(root, f.moduleId)] ?? UNKNOWN_S;
    const serial = (f: TestSpecification) => f.project.name === 'browser';
    const byWeight = (a: TestSpecification, b: TestSpecification) => weight(b) - weight(a);
    const browser = files.filter(serial).sort(byWeight);
    const rest = files.filter((f) => !serial(f)).sort(byWeight);
    const workers = Math.max(1, Number(this.ctx.config.maxWorkers) || 1);
    const free = Array.from({ length: workers }, () => 0); // when each worker is next free
    let browserFreeAt = 0;
    const order: TestSpecification[] = [];
    while (browser.length || rest.length) {
      const w = free.indexOf(Math.min(...free));
      const now = free[w];
      let next: TestSpecification | undefined;
      if (browser.length && (browserFreeAt <= now || !rest.length)) {
        next = browser.shift()!;
        browserFreeAt = Math.max(now, browserFreeAt) + weight(next);
        free[w] = browserFreeAt;
      } else {
        next = rest.shift()!;
        free[w] = now + weight(next);
      }
      order.push(next);
    }
    // COCKPIT_TEST_PLAN=1 npm test prints the plan (to see that the table was found).
    if (process.env.COCKPIT_TEST_PLAN) console.error(`test plan (${Object.keys(table).length} known durations):\n${order.map((f) => `  ${weight(f)} s ${relative(root, f.moduleId)}`).join('\n')}`);
    return order;
  }
}

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
    // longest files first (PlannedSequencer above).
    sequence: { sequencer: PlannedSequencer },
    // Each suite gets its own project so `npm test` runs them all and a
    // failing browser test is reported as such, not as a unit failure.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'models/**/*.test.ts', 'warehouse/**/*.test.ts'],
          environment: 'node',
          // The unit files (~60, most under 3 s) share their workers instead of each paying a
          // fresh process and fresh imports (vitest, zod, DuckDB's native module, the models):
          // 50 small unit files took 123 CPU s instead of 180 (docs/decisions.md, 7 Dec). No unit
          // test sets process.env, globals, timers or mocks, and each opens its own database.
          // Still the forks pool: threads were no cheaper here (133 CPU s), and DuckDB and resvg
          // are native modules.
          isolate: false
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
