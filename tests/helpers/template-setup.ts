/**
 * Global setup for suites that start servers of their own (security): the small demo company
 * generated once per run (see makeDemoTemplate), provided as `demoTemplate` to copy.
 */
import type { TestProject } from 'vitest/node';
import { DEMO_AS_OF, sharedDemoTemplate } from './global-setup';

export default function setup(project: TestProject) {
  // The same file the api and browser setups copy (generated once per run).
  const { file, release } = sharedDemoTemplate();
  project.provide('demoTemplate', file);
  project.provide('demoAsOf', DEMO_AS_OF);
  return release;
}
