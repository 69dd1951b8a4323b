/**
 * Refreshes tests/helpers/test-durations.json, the per-file durations the test sequencer
 * (PlannedSequencer in vite.config.ts) plans `npm test` with, from a vitest JSON report:
 *
 *   npx vitest run --reporter=json --outputFile=/tmp/vitest.json
 *   npx tsx scripts/test-durations.ts /tmp/vitest.json
 *
 * Only the proportions matter (a run on a loaded machine is as good a plan as a quiet one).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from '../tests/helpers/global-setup';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { testResults: { name: string; startTime: number; endTime: number }[] };
// The report names files by absolute path, of whichever checkout ran them: key by the path
// below the files' common directory (the checkout's root).
const names = report.testResults.map((r) => r.name);
let root = dirname(names[0]);
while (!names.every((n) => n.startsWith(`${root}/`))) root = dirname(root);
const out: Record<string, number> = {};
for (const r of [...report.testResults].sort((a, b) => a.name.localeCompare(b.name))) {
  out[relative(root, r.name)] = Math.max(1, Math.round((r.endTime - r.startTime) / 1000));
}
writeFileSync(join(ROOT, 'tests/helpers/test-durations.json'), `${JSON.stringify(out, null, 1)}\n`);
console.log(`${Object.keys(out).length} files`);
