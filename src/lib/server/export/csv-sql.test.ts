/**
 * CSV lines formatted by DuckDB (csv-sql.ts) are byte for byte what the JavaScript formatter
 * (cells.ts, the reference) writes for the same rows: nulls, formula-looking text, quotes,
 * commas and line breaks, Chinese text, integers, decimals, integral and fractional doubles,
 * non-finite doubles, booleans, dates and timestamps. So is what DuckDB's own CSV writer
 * writes for the export (csvCopyFields through COPY into a pipe, pipe.ts), which also keeps the
 * order of a million-row sort, ends with the error when COPY fails, and lets go of its pipe and
 * connection when the download is cancelled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../db/database';
import type { ColumnInfo } from '../db/database';
import { csvLine } from './cells';
import { CSV_COPY_OPTIONS, csvCopyFields } from './csv-sql';
import { copyStream, pipesInUse } from './pipe';
import { sql, unsafeRaw } from '../db/sql';

let db: Database;
beforeAll(async () => {
  db = await Database.open(':memory:');
  await db.write((tx) =>
    tx.run(`CREATE TABLE t (id INTEGER, s VARCHAR, d DECIMAL(18,2), x DOUBLE, b BOOLEAN, day DATE, "at" TIMESTAMP, big BIGINT);
      INSERT INTO t VALUES
      (1, '上海甲公司', 535000.00, 0.35, true, '2026-05-20', '2026-05-12 09:00:00', 9007199254740),
      (2, '=HYPERLINK("http://x","y")', -1200.5, 100000.0, false, NULL, '2026-05-12 09:00:00.250', -3),
      (3, 'a,b', 0.10, -0.1, NULL, '2024-02-29', NULL, NULL),
      (4, 'say "hi"', NULL, 'nan'::DOUBLE, true, '2026-01-01', '2026-01-01 00:00:00', 0),
      (5, 'two' || chr(10) || 'lines', 12.00, 'inf'::DOUBLE, false, '2026-01-01', '2026-01-01 23:59:59', 1),
      (6, '-2+3', 7.07, 1e-3, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (7, '@SUM(A1)', 99999999.99, 123456.789, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (8, chr(9) || '=1', 1, 1234567890123.5, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (9, NULL, 0, 0.0, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (10, '', 0.01, -0.0000001, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (11, ' =1 ok', 3.5, 2.5e20, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (12, 'cr' || chr(13) || 'here', 3.5, 1.0/3, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (13, '#1 客户', 3.5, 1.0/3, true, '2026-01-01', '2026-01-01 00:00:01', 2),
      (14, 'a#b', 3.5, 1.0/3, true, '2026-01-01', '2026-01-01 00:00:01', 2)`)
  );
});
afterAll(() => db.close());

async function text(s: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!s) throw new Error('no pipe');
  return new Response(s).text();
}

/**
 * The lines agree; where two texts differ they must be the same fields and numbers that differ
 * only in notation (1e-7 vs 1e-07).
 */
function expectSameLines(a: string[], e: string[]) {
  for (let i = 0; i < e.length; i++) {
    if (a[i] === e[i]) continue;
    const af = a[i].split(',');
    const ef = e[i].split(',');
    expect(af.length, `line ${i}: ${a[i]} vs ${e[i]}`).toBe(ef.length);
    for (let j = 0; j < ef.length; j++) if (af[j] !== ef[j]) expect(Number(af[j]), `line ${i} field ${j}`).toBe(Number(ef[j]));
  }
}

/** The JS formatter's text for a query's rows (the reference). */
async function reference(query: string): Promise<{ text: string; columns: ColumnInfo[] }> {
  const gen = db.stream(query);
  const columns = (await gen.next()).value as ColumnInfo[];
  let text = '';
  for await (const chunk of gen) for (const row of chunk as unknown[][]) text += csvLine(row);
  return { text, columns };
}

describe('CSV written by DuckDB (COPY into a pipe)', () => {
  it('equals the JavaScript formatter row by row', async () => {
    const { text: expected, columns } = await reference('SELECT * FROM t ORDER BY id');
    const actual = await text(copyStream(db, sql`SELECT ${csvCopyFields(columns)} FROM t ORDER BY id`, CSV_COPY_OPTIONS));
    const a = actual.split('\r\n');
    const e = expected.split('\r\n');
    expect(a.length).toBe(15);
    // Empty text and null both as an empty field; '#' quoted; formula text escaped.
    expect(a[9]).toMatch(/^10,,0\.01,/);
    expect(a[12]).toMatch(/^13,"#1 客户",/);
    expect(a[1]).toMatch(/^2,"'=HYPERLINK\(""http:\/\/x"",""y""\)",-1200\.5,/);
    expectSameLines(a, e);
  });

  it('writes lists as the JavaScript formatter does', async () => {
    const q = `SELECT * FROM (VALUES (1, ['pushed', 'stalled']), (2, []::VARCHAR[]), (3, NULL::VARCHAR[]), (4, ['=x', 'a,b'])) l(id, flags) ORDER BY id`;
    const { text: expected, columns } = await reference(q);
    const actual = await text(copyStream(db, sql`SELECT ${csvCopyFields(columns)} FROM (${unsafeRaw(q)}) x ORDER BY id`, CSV_COPY_OPTIONS));
    expect(actual).toBe(expected);
    expect(actual.split('\r\n')).toEqual(['1,pushed; stalled', '2,', '3,', `4,"'=x; a,b"`, '']);
  });

  it('keeps a sort of 300,000 rows in order (the ORDER BY beside the fields)', async () => {
    const cols: ColumnInfo[] = [{ name: 'n', type: 'BIGINT' }, { name: 's', type: 'VARCHAR' }];
    const q = sql`SELECT ${csvCopyFields(cols)} FROM (SELECT hash(i) % 1000003 AS n, 'x' || i AS s FROM range(300000) r(i)) ORDER BY n DESC, s`;
    const lines = (await text(copyStream(db, q, CSV_COPY_OPTIONS))).split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(300000);
    const ns = lines.map((l) => Number(l.split(',')[0]));
    let breaks = 0;
    for (let i = 1; i < ns.length; i++) if (ns[i] > ns[i - 1]) breaks++;
    expect(breaks).toBe(0);
    expect(pipesInUse()).toBe(0);
  });

  it('ends with the error when COPY fails part-way, not with a short file', async () => {
    const q = sql`SELECT CASE WHEN i < 150000 THEN i ELSE error('boom at ' || i) END AS c0 FROM range(200000) r(i)`;
    await expect(text(copyStream(db, q, CSV_COPY_OPTIONS))).rejects.toThrow(/boom at/);
    expect(pipesInUse()).toBe(0);
  });

  it('a cancelled download interrupts COPY and frees its pipe and connection', async () => {
    const s = copyStream(db, sql`SELECT i AS c0, repeat('x', 100) AS c1 FROM range(3000000) r(i) ORDER BY i DESC`, CSV_COPY_OPTIONS)!;
    const r = s.getReader();
    const first = await r.read();
    expect(first.done).toBe(false);
    await r.cancel();
    expect(pipesInUse()).toBe(0);
    // Every reader connection is usable again.
    const counts = await Promise.all([1, 2, 3, 4, 5].map(() => db.query('SELECT count(*)::INTEGER AS n FROM range(10)')));
    expect(counts.map((c) => c.rows[0].n)).toEqual([10, 10, 10, 10, 10]);
  });
});
