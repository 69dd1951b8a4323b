/**
 * One measured run of the connectors-remote bench in its own process, so its peak RSS is its
 * own: `tsx connectors-remote-child.ts <mode> <json args>` prints `{rows, ms, rss_mb}`.
 *   pg-reader   the PostgreSQL reader (COPY csv, parsed into records, in batches)
 *   pg-drain    COPY … TO STDOUT through pg-copy-streams, bytes drained, not parsed
 *   rest-reader the REST reader over every page
 *   rest-raw    a plain fetch + JSON.parse loop over the same pages
 */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { configSchema } from '../../src/lib/server/config/schema';
import { postgresReader } from '../../connectors/sql/postgres';
import { restReader } from '../../connectors/rest/reader';
import type { ReaderFactory } from '../../connectors/types';

const [mode, raw] = process.argv.slice(2);
const args = JSON.parse(raw ?? '{}') as Record<string, unknown>;
const config = configSchema.parse({});
const ctx = { config, baseDir: '.', watermark: null, events: { warn: () => {}, skip: () => {} } };

async function drainReader(factory: ReaderFactory, source: Record<string, unknown>): Promise<number> {
  const reader = await factory(source as never, ctx);
  let rows = 0;
  for await (const b of reader.batches()) rows += b.length;
  return rows;
}

const t0 = performance.now();
let rows = 0;
if (mode === 'pg-reader') {
  rows = await drainReader(postgresReader, { name: 'bench', type: 'postgres', entity: 'opportunities', url_env: 'BENCH_PG_URL', query: args.query });
} else if (mode === 'pg-drain') {
  const c = new pg.Client({ connectionString: process.env.BENCH_PG_URL });
  await c.connect();
  const stream = c.query(copyTo(`COPY (${args.query}) TO STDOUT (FORMAT csv, HEADER)`));
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  rows = bytes;
  await c.end();
} else if (mode === 'rest-reader') {
  rows = await drainReader(restReader, {
    name: 'bench', type: 'rest', entity: 'opportunities', base_url: args.url, path: '/api/deals', records_path: 'data.items',
    paging: { type: 'offset', limit: args.limit }
  });
} else if (mode === 'rest-raw') {
  for (let offset = 0; ; offset += Number(args.limit)) {
    const res = await fetch(`${args.url}/api/deals?offset=${offset}&limit=${args.limit}`);
    const body = (await res.json()) as { data: { items: unknown[] } };
    rows += body.data.items.length;
    if (body.data.items.length < Number(args.limit)) break;
  }
} else throw new Error(`unknown mode ${mode}`);
const ms = performance.now() - t0;
console.log(JSON.stringify({ rows, ms, rss_mb: process.resourceUsage().maxRSS / 1024 }));
