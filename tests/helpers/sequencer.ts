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
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const UNKNOWN_S = 30;

export default class PlannedSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    let table: Record<string, number> = {};
    try {
      table = JSON.parse(readFileSync(join(import.meta.dirname, 'test-durations.json'), 'utf8'));
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
    return order;
  }
}
