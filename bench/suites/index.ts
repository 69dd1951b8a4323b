import type { BenchRow } from '../run';
import { cockpit } from './cockpit';
import { connectorsRemote } from './connectors-remote';
import { connectorsFiles } from './connectors-files';
import { demo } from './demo';
import { exportSuite } from './export';
import { forecastSuite } from './forecast';
import { load } from './load';
import { models } from './models';
import { pages } from './pages';
import { startup } from './startup';

export interface Suite {
  name: string;
  description: string;
  run(log: (m: string) => void): Promise<BenchRow[]>;
}

/** Every suite `npm run bench` runs, in order. */
export const suites: Suite[] = [demo, startup, models, cockpit, pages, exportSuite, forecastSuite, connectorsFiles, connectorsRemote, load];
