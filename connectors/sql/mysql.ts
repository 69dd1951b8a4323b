/**
 * The MySQL/MariaDB reader: mysql2 with a streaming query (rows arrive as the server sends
 * them, the connection pausing while the pipeline catches up), the watermark bound as a
 * parameter of a server-side prepared statement.
 *
 * Dates and timestamps come back as text (`dateStrings`), never through JavaScript Dates, and
 * the session time zone is the business's, so TIMESTAMP columns read as its wall time.
 * DECIMAL and BIGINT values stay text, so no amount or id loses digits.
 */
import mysql from 'mysql2';
import type { RawRecord, ReaderFactory, SourceReader } from '../types';
import { baseQuery, mysqlSourceSchema, parseSqlSource } from './config';
import { connectionFromEnv, WatermarkTracker } from './common';

const quoteIdent = (name: string) => '`' + name.replace(/`/g, '``') + '`';

/** `+08:00` for a zone at this moment (MariaDB often has no named-zone tables loaded). */
function offsetOf(timeZone: string): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' })
    .formatToParts(new Date())
    .find((p) => p.type === 'timeZoneName')?.value;
  const m = /GMT([+-]\d{2}:\d{2})/.exec(part ?? '');
  return m ? m[1] : '+00:00';
}

export const mysqlReader: ReaderFactory = async (source, ctx) => {
  const s = parseSqlSource(mysqlSourceSchema, source);
  const conn = connectionFromEnv(s);
  const fail = (what: string, e: unknown) => new Error(`source "${s.name}": ${what}: ${conn.red.error(e)}`);
  const c = mysql.createConnection({
    uri: conn.url,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    connectTimeout: 10_000
  });
  c.on('error', () => {}); // surfaces through the running query
  const pc = c.promise();
  try {
    await pc.connect();
  } catch (e) {
    c.destroy();
    throw fail(`cannot connect to MySQL at ${conn.shown}`, e);
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await pc.end().catch(() => c.destroy());
  };
  try {
    await pc.query('SET time_zone = ?', [offsetOf(ctx.config.timezone)]);
    // Read-only, for the session and the one transaction the read runs in: a source query
    // cannot change the CRM's database, not even through a stored function that writes.
    await pc.query('SET SESSION TRANSACTION READ ONLY');
    await pc.query('START TRANSACTION READ ONLY');
  } catch (e) {
    await close();
    throw fail('cannot set up the session', e);
  }

  const inner = baseQuery(s, quoteIdent);
  let cols: string[] | null = null;
  async function columns(): Promise<string[]> {
    if (cols) return cols;
    try {
      // A prepared statement (execute) holds exactly one statement, as the read below does.
      const [, fields] = await pc.execute(`SELECT * FROM (${inner}) AS src LIMIT 0`);
      cols = (fields ?? []).map((f) => f.name);
    } catch (e) {
      await close();
      throw fail(`the ${s.table ? `table ${s.table}` : 'query'} failed`, e);
    }
    return cols;
  }
  const incCol = s.incremental?.column;
  const tracker = new WatermarkTracker(incCol ? ctx.watermark : null);
  const batchSize = s.batch_size ?? 5000;

  const reader: SourceReader = {
    location: `${conn.shown} ${s.table ?? 'query'}`,
    headers: columns,
    async *batches(): AsyncIterable<RawRecord[]> {
      const names = await columns();
      if (incCol && !names.includes(incCol)) {
        await close();
        throw new Error(`source "${s.name}": incremental.column "${incCol}" is not a column of the ${s.table ? 'table' : 'query'} (columns: ${names.join(', ')})`);
      }
      const incremental = incCol && ctx.watermark !== null;
      const text = `SELECT * FROM (${inner}) AS src${incremental ? ` WHERE src.${quoteIdent(incCol!)} >= ?` : ''}`;
      // The watermark is a bound parameter of a prepared statement (execute), never spliced.
      // Always a prepared statement, so values come back in one format (binary protocol) full or incremental.
      const stream = c.execute(text, incremental ? [ctx.watermark] : []).stream({ highWaterMark: batchSize });
      // A cancelled sync (server shutdown) stops the read instead of draining the table.
      const onAbort = () => stream.destroy(new Error('the sync was cancelled'));
      ctx.signal?.addEventListener('abort', onAbort, { once: true });
      let row = 0;
      let batch: RawRecord[] = [];
      try {
        for await (const r of stream as AsyncIterable<Record<string, unknown>>) {
          const values: Record<string, unknown> = {};
          for (const name of names) {
            const v = r[name];
            values[name] = Buffer.isBuffer(v) ? v.toString('utf8') : v;
          }
          if (incCol) tracker.see(values[incCol]);
          batch.push({ row: ++row, values });
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
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
