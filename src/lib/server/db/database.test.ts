import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { Database, openDatabase } from './database';
import { LATEST_VERSION, MIGRATIONS } from './migrations';
import { rowsToArrowTable, toArrowIPC } from './arrow';
import { sql, unsafeRaw } from './sql';
import { DUCKDB_TYPES, TABLES } from '../../schema/tables';

const dirs: string[] = [];
function tmp() {
  const d = mkdtempSync(join(tmpdir(), 'cockpit-db-'));
  dirs.push(d);
  return join(d, 'test.duckdb');
}
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

describe('migrations', () => {
  it('creates every canonical table with the columns and types of the schema spec', async () => {
    const db = await Database.open(':memory:');
    for (const spec of Object.values(TABLES)) {
      const { rows } = await db.query<{ column_name: string; data_type: string }>(
        sql`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ${spec.name} ORDER BY ordinal_position`
      );
      expect(rows.map((r) => r.column_name), spec.name).toEqual(spec.columns.map((c) => c.name));
      expect(rows.map((r) => r.data_type), spec.name).toEqual(spec.columns.map((c) => DUCKDB_TYPES[c.type]));
    }
    await db.close();
  });

  it('migrates a file made by an older version forward and keeps its data', async () => {
    const path = tmp();
    // An "old" database: only migration 1 applied, with a customer in it.
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)');
    for (const s of MIGRATIONS[0].statements) await c.run(s);
    await c.run(`INSERT INTO schema_migrations VALUES (1, 'canonical tables', now()::TIMESTAMP)`);
    await c.run(`INSERT INTO customers (customer_id, name) VALUES ('C1', '老客户')`);
    c.closeSync();
    inst.closeSync();

    const db = await Database.open(path);
    const v = await db.query<{ v: number }>('SELECT max(version) AS v FROM schema_migrations');
    expect(v.rows[0].v).toBe(LATEST_VERSION);
    expect((await db.query('SELECT name FROM customers')).rows).toEqual([{ name: '老客户' }]);
    expect((await db.query('SELECT count(*) AS n FROM sync_runs')).rows).toEqual([{ n: 0 }]);
    await db.close();
  });

  it('refuses a database from a newer version instead of touching it', async () => {
    const path = tmp();
    const db = await Database.open(path);
    await db.write((tx) => tx.run(`INSERT INTO schema_migrations VALUES (${LATEST_VERSION + 1}, 'future', now()::TIMESTAMP)`));
    await db.close();
    await expect(Database.open(path)).rejects.toThrow(/newer than this program/);
  });
});

describe('reads and writes', () => {
  it('a reader sees the committed data while a write transaction is open, and the new data after', async () => {
    const db = await Database.open(tmp());
    await db.write((tx) => tx.run(`INSERT INTO customers (customer_id, name) VALUES ('C1', 'a')`));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const started = new Promise<void>((r) => (inside = r));
    const writing = db.write(async (tx) => {
      await tx.run(`INSERT INTO customers (customer_id, name) VALUES ('C2', 'b')`);
      inside();
      await gate; // the sync is still running
    });
    await started;
    const during = await db.query<{ n: number }>('SELECT count(*) AS n FROM customers');
    expect(during.rows[0].n).toBe(1);
    release();
    await writing;
    expect((await db.query<{ n: number }>('SELECT count(*) AS n FROM customers')).rows[0].n).toBe(2);
    await db.close();
  });

  it('a failed write leaves the previous data untouched', async () => {
    const db = await Database.open(':memory:');
    await db.write((tx) => tx.run(`INSERT INTO customers (customer_id, name) VALUES ('C1', 'a')`));
    await expect(
      db.write(async (tx) => {
        await tx.run(`DELETE FROM customers`);
        throw new Error('source failed halfway');
      })
    ).rejects.toThrow('source failed halfway');
    expect((await db.query('SELECT customer_id FROM customers')).rows).toEqual([{ customer_id: 'C1' }]);
    await db.close();
  });

  it('converts DuckDB values to JSON-friendly ones', async () => {
    const db = await Database.open(':memory:');
    const { rows, columns } = await db.query(
      `SELECT 12.5::DECIMAL(18,2) AS d, 42::BIGINT AS b, DATE '2026-03-05' AS dt, TIMESTAMP '2026-03-05 08:09:10' AS ts, '{"a":1}'::JSON AS j, [1,2] AS l, 'nan'::DOUBLE AS bad`
    );
    expect(rows[0]).toEqual({ d: 12.5, b: 42, dt: '2026-03-05', ts: '2026-03-05T08:09:10', j: { a: 1 }, l: [1, 2], bad: null });
    expect(columns.map((c) => c.type)).toEqual(['DECIMAL(18,2)', 'BIGINT', 'DATE', 'TIMESTAMP', 'JSON', 'INTEGER[]', 'DOUBLE']);
    await db.close();
  });

  it('openDatabase returns one instance per file per process', async () => {
    const path = tmp();
    const [a, b] = await Promise.all([openDatabase(path), openDatabase(path)]);
    expect(a).toBe(b);
    await a.close();
  });
});

describe('Arrow IPC', () => {
  it('round-trips typed columns and schema metadata', () => {
    const table = rowsToArrowTable(
      [
        { name: 'stage', type: 'VARCHAR' },
        { name: 'reached', type: 'INTEGER' },
        { name: 'amount', type: 'DECIMAL(18,2)' },
        { name: 'day', type: 'DATE' },
        { name: 'big', type: 'BIGINT' }
      ],
      [
        { stage: '初步接洽', reached: 5, amount: 415000.5, day: '2026-04-01', big: 7 },
        { stage: '赢单', reached: 2, amount: null, day: null, big: 9 }
      ],
      { model: 'funnel', n: '5' }
    );
    const back = tableFromIPC(toArrowIPC(table));
    expect(back.numRows).toBe(2);
    expect(back.getChild('stage')!.toArray()).toEqual(['初步接洽', '赢单']);
    expect(Array.from(back.getChild('reached')!.toArray())).toEqual([5, 2]);
    expect(back.getChild('amount')!.get(0)).toBe(415000.5);
    expect(back.getChild('amount')!.get(1)).toBeNull();
    expect(new Date(back.getChild('day')!.get(0)).toISOString().slice(0, 10)).toBe('2026-04-01');
    expect(back.getChild('big')!.get(1)).toBe(9n);
    expect(back.schema.metadata.get('model')).toBe('funnel');
  });
});

describe('reader pool', () => {
  it('opens at most `readers` connections for a burst of queries', async () => {
    const db = await Database.open(':memory:', { readers: 2 });
    const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => db.query<{ i: number }>(`SELECT ${i}::INTEGER AS i`)));
    expect(rows.map((r) => r.rows[0].i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect((db as unknown as { all: unknown[] }).all.length).toBe(2);
    await db.close();
  }, 30_000);

  it('answers a priority query while the pool is busy and ordinary queries wait', async () => {
    const db = await Database.open(':memory:', { readers: 2 });
    // Two streams hold both pooled connections until they are closed.
    const held = [db.stream('SELECT range AS i FROM range(10000)'), db.stream('SELECT range AS i FROM range(10000)')];
    for (const g of held) await g.next();
    let ordinaryDone = false;
    const ordinary = db.query<{ v: number }>('SELECT 1::INTEGER AS v').then((r) => ((ordinaryDone = true), r));
    const first = await db.query<{ v: number }>('SELECT 2::INTEGER AS v', { priority: true });
    expect(first.rows[0].v).toBe(2);
    // Again, on the priority lane's own connection.
    expect((await db.query<{ v: number }>('SELECT 3::INTEGER AS v', { priority: true })).rows[0].v).toBe(3);
    expect(ordinaryDone).toBe(false);
    for (const g of held) await g.return(undefined);
    expect((await ordinary).rows[0].v).toBe(1);
    await db.close();
  }, 30_000);
});

describe('kept prepared statements', () => {
  it('answer from the current data and tables: new rows, a table replaced with other columns and types, other bound values', async () => {
    const db = await Database.open(':memory:', { readers: 1 });
    const q = (min: number) => db.query(sql`SELECT * FROM t WHERE k >= ${min} ORDER BY k`, { prepared: true });
    await db.write((tx) => tx.run(`CREATE TABLE t (k INTEGER, v VARCHAR); INSERT INTO t VALUES (1, 'a'), (2, 'b')`));
    expect((await q(2)).rows).toEqual([{ k: 2, v: 'b' }]);
    // Same text, other value: the kept statement with the new binding.
    expect((await q(1)).rows).toEqual([{ k: 1, v: 'a' }, { k: 2, v: 'b' }]);
    await db.write((tx) => tx.run(`INSERT INTO t VALUES (3, 'c')`));
    expect((await q(2)).rows).toEqual([{ k: 2, v: 'b' }, { k: 3, v: 'c' }]);
    // A derived table is rebuilt with CREATE OR REPLACE (warehouse/facts.ts): other columns and types.
    await db.write((tx) => tx.run(`CREATE OR REPLACE TABLE t AS SELECT 5::DOUBLE AS k, 1.5::DECIMAL(4,1) AS amount, DATE '2026-01-02' AS d`));
    const r = await q(2);
    expect(r.rows).toEqual([{ k: 5, amount: 1.5, d: '2026-01-02' }]);
    expect(r.columns.map((c) => c.type)).toEqual(['DOUBLE', 'DECIMAL(4,1)', 'DATE']);
    // A table gone: the error a fresh statement gives, and nothing kept afterwards.
    await db.write((tx) => tx.run(`DROP TABLE t`));
    await expect(q(2)).rejects.toThrow(/t does not exist/i);
    await db.write((tx) => tx.run(`CREATE TABLE t (k INTEGER)`));
    expect((await q(0)).rows).toEqual([]);
    await db.close();
  }, 30_000);

  it('answer right past the number kept per connection (the least recently used are dropped)', async () => {
    const db = await Database.open(':memory:', { readers: 1 });
    for (let i = 0; i < 100; i++) expect((await db.query(sql`SELECT ${i}::INTEGER + ${i}::INTEGER AS x, ${'n' + i} AS y`, { prepared: true })).rows).toEqual([{ x: 2 * i, y: 'n' + i }]);
    for (let i = 0; i < 100; i++) expect((await db.query(unsafeRaw(`SELECT ${i} AS x`), { prepared: true })).rows).toEqual([{ x: i }]);
    await db.close();
  }, 30_000);
});
