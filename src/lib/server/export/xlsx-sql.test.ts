/**
 * XLSX rows written by DuckDB (xlsx-sql.ts) and zipped as they stream (xlsx-zip.ts) read back
 * (with this project's xlsx reader, connectors/file/xlsx.ts: exceljs's reader needs cell
 * references, which these rows leave out) as the same cells the exceljs writer produces for the
 * same rows (export.ts, the reference): text escaped against formula injection and for XML,
 * line breaks kept, numbers as numbers, dates and timestamps as dates, booleans, lists joined,
 * nulls empty and in their column.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWorkbook } from '../../../../connectors/file/xlsx';
import { Database, type ColumnInfo } from '../db/database';
import { sql } from '../db/sql';
import type { ExportSource } from '../models/run';
import { xlsxStream } from './export';
import { copyStream, pipesInUse } from './pipe';
import { XLSX_COPY_OPTIONS, xlsxRowField } from './xlsx-sql';
import { xlsxFromRows } from './xlsx-zip';

let db: Database;
beforeAll(async () => {
  db = await Database.open(':memory:');
  await db.write((tx) =>
    tx.run(`CREATE TABLE t (id INTEGER, s VARCHAR, d DECIMAL(18,2), x DOUBLE, b BOOLEAN, day DATE, "at" TIMESTAMP, flags VARCHAR[]);
      INSERT INTO t VALUES
      (1, '上海甲公司', 535000.00, 0.35, true, '2026-05-20', '2026-05-12 09:00:00', ['pushed', 'stalled']),
      (2, '=HYPERLINK("http://x","y")', -1200.5, 100000.0, false, NULL, '2026-05-12 09:00:00.250', []),
      (3, 'a<b & c>d', 0.10, -0.1, NULL, '2024-02-29', NULL, NULL),
      (4, 'bell' || chr(7) || 'x', NULL, 'nan'::DOUBLE, true, '2026-01-01', '2026-01-01 00:00:00', ['=x']),
      (5, 'two' || chr(10) || 'lines', 12.00, 'inf'::DOUBLE, false, '1900-03-01', '2026-01-01 23:59:59', NULL),
      (6, '-2+3', 7.07, 1e-7, true, '2026-01-01', '2026-01-01 00:00:01', NULL),
      (7, NULL, 1, 1234567890123.5, true, '2026-01-01', '2026-01-01 00:00:01', NULL),
      (8, ' 前后空格 ', 2, 2.5e20, true, '2026-01-01', '2026-01-01 00:00:01', NULL)`)
  );
});
afterAll(() => db.close());

async function bytes(s: ReadableStream<Uint8Array>): Promise<Buffer> {
  return Buffer.from(await new Response(s).arrayBuffer());
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xlsx-sql-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The sheet's rows as cell arrays (the reader's values: text, numbers, booleans, Dates). */
async function sheet(buf: Buffer, name: string): Promise<{ name: string; rows: unknown[][] }> {
  const file = join(dir, name);
  writeFileSync(file, buf);
  const wb = await openWorkbook(file);
  try {
    const rows: unknown[][] = [];
    for await (const batch of wb.rows(wb.sheets[0])) for (const r of batch) rows.push(r.cells);
    return { name: wb.sheets[0].name, rows };
  } finally {
    await wb.close();
  }
}

const headers = ['编号', '名称', '金额', '比例', '是否', '日期', '时间', '风险'];

describe('XLSX written by DuckDB and zipped as it streams', () => {
  it('has the cells the exceljs writer gives the same rows', async () => {
    const query = 'SELECT * FROM t ORDER BY id';
    const gen = db.stream(query);
    const columns = (await gen.next()).value as ColumnInfo[];
    const reference = await sheet(await bytes(xlsxStream({ model: {} as ExportSource['model'], asOf: '2026-06-15', columns, chunks: gen as ExportSource['chunks'] }, headers, '商机明细')), 'ref.xlsx');
    const rows = copyStream(db, sql`SELECT ${xlsxRowField(columns)} FROM t ORDER BY id`, XLSX_COPY_OPTIONS)!;
    const ours = await sheet(await bytes(xlsxFromRows(rows, headers, '商机明细')), 'ours.xlsx');
    expect(pipesInUse()).toBe(0);
    expect(ours.name).toBe('商机明细');
    expect(ours.rows.length).toBe(9);
    expect(ours.rows[0]).toEqual(headers);
    const norm = (v: unknown) => (v === undefined || v === '' ? null : v);
    for (let r = 1; r < 9; r++) {
      for (let c = 0; c < 8; c++) {
        const a = norm(ours.rows[r][c]);
        const e = norm(reference.rows[r][c]);
        if (a instanceof Date || e instanceof Date) expect((a as Date)?.getTime(), `row ${r} col ${c}`).toBe((e as Date)?.getTime());
        else if (typeof e === 'number') expect(a as number, `row ${r} col ${c}`).toBeCloseTo(e, 9);
        else expect(a, `row ${r} col ${c}`).toEqual(e);
      }
    }
    // Spelled out: escaped text, XML-special text, a dropped control character, a line break, a list, a date.
    expect(ours.rows[2][1]).toBe(`'=HYPERLINK("http://x","y")`);
    expect(ours.rows[3][1]).toBe('a<b & c>d');
    expect(ours.rows[4][1]).toBe('bellx');
    expect(ours.rows[5][1]).toBe('two\nlines');
    expect(ours.rows[1][7]).toBe('pushed; stalled');
    expect((ours.rows[1][5] as Date).toISOString()).toBe('2026-05-20T00:00:00.000Z');
    expect(ours.rows[6][1]).toBe("'-2+3");
    expect(norm(ours.rows[7][1])).toBe(null);
    expect(ours.rows[7][2]).toBe(1);
  });

  it('keeps 100,000 rows in order', async () => {
    const cols: ColumnInfo[] = [{ name: 'n', type: 'BIGINT' }];
    const q = sql`SELECT ${xlsxRowField(cols)} FROM (SELECT hash(i) % 1000003 AS n FROM range(100000) r(i)) ORDER BY n DESC`;
    const ws = await sheet(await bytes(xlsxFromRows(copyStream(db, q, XLSX_COPY_OPTIONS)!, ['n'], 'n')), 'order.xlsx');
    expect(ws.rows.length).toBe(100001);
    let breaks = 0;
    for (let r = 2; r < ws.rows.length; r++) if ((ws.rows[r][0] as number) > (ws.rows[r - 1][0] as number)) breaks++;
    expect(breaks).toBe(0);
  });

  it('a cancelled download frees the pipe', async () => {
    const q = sql`SELECT ${xlsxRowField([{ name: 'n', type: 'BIGINT' }])} FROM range(2000000) r(n) ORDER BY n DESC`;
    const r = xlsxFromRows(copyStream(db, q, XLSX_COPY_OPTIONS)!, ['n'], 'n').getReader();
    for (let i = 0; i < 8; i++) expect((await r.read()).done).toBe(false);
    await r.cancel();
    expect(pipesInUse()).toBe(0);
    expect((await db.query('SELECT 42 AS n')).rows[0].n).toBe(42);
  });
});
