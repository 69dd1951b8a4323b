/**
 * The PostgreSQL reader: `COPY (query) TO STDOUT (FORMAT csv, HEADER)` through pg-copy-streams,
 * parsed as it streams, in batches — the fastest way rows leave PostgreSQL, with memory bounded
 * by the batch size whatever the table's size.
 *
 * The session runs in the business time zone (config `timezone`), so `timestamptz` values come
 * out as the business's wall time; their offset is dropped, as the pipeline stores naive local
 * timestamps.
 */
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { RawRecord, ReaderFactory, SourceReader } from '../types';
import { baseQuery, parseSqlSource, postgresSourceSchema } from './config';
import { connectionFromEnv, WatermarkTracker, wallTime } from './common';
import { CsvRowParser } from './csv-stream';

const { Client, escapeIdentifier, escapeLiteral } = pg;

export const postgresReader: ReaderFactory = async (source, ctx) => {
  const s = parseSqlSource(postgresSourceSchema, source);
  const conn = connectionFromEnv(s);
  const fail = (what: string, e: unknown) => new Error(`source "${s.name}": ${what}: ${conn.red.error(e)}`);
  const client = new Client({ connectionString: conn.url, application_name: 'crm-cockpit' });
  client.on('error', () => {}); // a dropped connection surfaces through the running query
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw fail(`cannot connect to PostgreSQL at ${conn.shown}`, e);
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.end().catch(() => {});
  };
  try {
    // SET cannot take bound parameters; the zone name is quoted as a literal by the driver.
    // Everything this session does is read-only (the default for its transactions, and the one
    // transaction it runs in): a source query cannot change the CRM's database, not even through
    // a function that writes.
    await client.query(
      `SET TIME ZONE ${escapeLiteral(ctx.config.timezone)}; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; ` +
        `SET default_transaction_read_only = on; BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`
    );
  } catch (e) {
    await close();
    throw fail('cannot set up the session', e);
  }

  const inner = baseQuery(s, escapeIdentifier);
  const incCol = s.incremental?.column;
  // COPY cannot take bound parameters ($1), so the watermark goes in as a literal quoted by
  // the driver's escapeLiteral (doubling quotes and backslashes, E'' when needed); the
  // column name is quoted by escapeIdentifier. Both come from our own stored state, and
  // are escaped all the same.
  const where = incCol && ctx.watermark ? ` WHERE src.${escapeIdentifier(incCol)} >= ${escapeLiteral(ctx.watermark)}` : '';
  /** What COPY reads: the user's query (or table) as a subquery, plus the watermark. */
  const select = `SELECT * FROM (${inner}) AS src${where}`;
  let cols: string[] | null = null;
  /** Columns of type timestamptz (OID 1184), whose offset is dropped. */
  let tz: boolean[] = [];
  async function columns(): Promise<string[]> {
    if (cols) return cols;
    try {
      // The extended protocol (Parse/Bind/Execute) takes exactly one statement: a query that
      // smuggles in `…; DELETE …` fails here. COPY (which pg-copy-streams sends through the
      // simple protocol) then gets the same text with our own suffixes, none of which holds a
      // ";", a quote, "$" or "*/": a query that parses here as one statement stays one there.
      // (`queryMode` is pg's, missing from @types/pg.)
      const probe = { text: `SELECT * FROM (${inner}) AS src LIMIT 0`, queryMode: 'extended' } as pg.QueryConfig;
      const r: pg.QueryResult = await client.query(probe);
      cols = r.fields.map((f) => f.name);
      tz = r.fields.map((f) => f.dataTypeID === 1184);
    } catch (e) {
      await close();
      throw fail(`the ${s.table ? `table ${s.table}` : 'query'} failed`, e);
    }
    return cols;
  }
  const tracker = new WatermarkTracker(incCol ? ctx.watermark : null);
  const batchSize = s.batch_size ?? 5000;

  const reader: SourceReader = {
    location: `${conn.shown} ${s.table ?? 'query'}`,
    headers: columns,
    async *batches(): AsyncIterable<RawRecord[]> {
      const names = await columns();
      const incIdx = incCol ? names.indexOf(incCol) : -1;
      if (incCol && incIdx < 0) {
        await close();
        throw new Error(`source "${s.name}": incremental.column "${incCol}" is not a column of the ${s.table ? 'table' : 'query'} (columns: ${names.join(', ')})`);
      }
      const copySql = `COPY (${select}) TO STDOUT (FORMAT csv, HEADER)`;
      const stream = client.query(copyTo(copySql));
      // A cancelled sync (server shutdown) stops the read instead of draining the table.
      const onAbort = () => stream.destroy(new Error('the sync was cancelled'));
      ctx.signal?.addEventListener('abort', onAbort, { once: true });
      const parser = new CsvRowParser();
      let header = true;
      let row = 0;
      let batch: RawRecord[] = [];
      let rows: (string | null)[][] = [];
      const take = (r: (string | null)[]) => {
        if (header) {
          header = false;
          return;
        }
        const values: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) {
          const v = r[i];
          values[names[i]] = v === undefined ? null : v !== null && tz[i] ? wallTime(v) : v;
        }
        if (incIdx >= 0) tracker.see(values[names[incIdx]]);
        batch.push({ row: ++row, values });
      };
      try {
        for await (const chunk of stream) {
          rows.length = 0;
          parser.push(chunk as Buffer, rows);
          for (const r of rows) {
            take(r);
            if (batch.length >= batchSize) {
              yield batch;
              batch = [];
            }
          }
        }
        rows.length = 0;
        for (const r of parser.end(rows)) take(r);
        if (batch.length) yield batch;
      } catch (e) {
        if ((e as Error).message?.startsWith(`source "${s.name}"`)) throw e;
        throw fail(`reading ${s.table ? `table ${s.table}` : 'the query'} failed after ${row} rows`, e);
      } finally {
        ctx.signal?.removeEventListener('abort', onAbort);
        if (!stream.destroyed) stream.destroy();
        await close();
      }
    },
    watermark: () => (incCol ? tracker.value : null),
    close
  };
  return reader;
};
