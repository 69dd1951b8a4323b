/**
 * The reader for each source type (connectors/types.ts, `ReaderFactory`). Modules load on
 * demand, so a sync of CSV files never loads the PostgreSQL driver.
 */
import type { ReaderFactory } from './types';
import type { SourceConfig } from '../src/lib/server/config/schema';

type Loader = () => Promise<ReaderFactory>;

const READERS: Record<SourceConfig['type'], Loader> = {
  excel: async () => (await import('./file/xlsx')).readXlsx as ReaderFactory,
  csv: async () => (await import('./file/csv')).readCsv as ReaderFactory,
  rest: async () => (await import('./rest/reader')).restReader,
  postgres: async () => (await import('./sql/postgres')).postgresReader,
  mysql: async () => (await import('./sql/mysql')).mysqlReader
};

function notYet(type: string): Loader {
  return async () => async () => {
    throw new Error(`the ${type} connector is not available in this build`);
  };
}

/** Registers (or replaces) the reader of a source type. */
export function registerReader(type: SourceConfig['type'], load: Loader) {
  READERS[type] = load;
}

export async function readerFor(type: SourceConfig['type']): Promise<ReaderFactory> {
  return READERS[type]();
}
