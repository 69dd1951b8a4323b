/**
 * Global setup for suites that start servers of their own (security): the small demo company
 * generated once per run (see makeDemoTemplate), provided as `demoTemplate` to copy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { DEMO_AS_OF, makeDemoTemplate } from './global-setup';

export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'cockpit-template-'));
  project.provide('demoTemplate', makeDemoTemplate(dir));
  project.provide('demoAsOf', DEMO_AS_OF);
  return () => rmSync(dir, { recursive: true, force: true });
}
