/**
 * A listing's CSV export through DuckDB's COPY writer and a pipe is, byte for byte, the export
 * the value path writes (rows streamed to JavaScript and formatted by cells.ts) — for the deals,
 * payments and customers listings, their default and other sorts, filters, and a team-scoped
 * viewer, on the small demo. So the pipe keeps the listing's order, columns, formatting and
 * scope exactly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load';
import { openDatabase, type Database } from '../db/database';
import { generateDemo } from '../demo/generate';
import { openExport } from '../models/run';
import { ALL_SCOPE, type Scope } from '../../../../models/common/scope';
import { csvStream } from './export';
import { pipesInUse } from './pipe';

const AS_OF = '2026-06-15';
const parsed = parseConfig({});
if (!parsed.ok) throw new Error('default config invalid');
const config = parsed.config;
const tmp = mkdtempSync(join(tmpdir(), 'listing-export-'));
let db: Database;

beforeAll(async () => {
  db = await openDatabase(join(tmp, 'demo.duckdb'));
  await generateDemo(db, { scale: 'small', seed: 7, asOf: AS_OF });
}, 300_000);

afterAll(async () => {
  await db?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function exported(model: string, params: Record<string, unknown>, scope: Scope, pipe: boolean): Promise<{ text: string; piped: boolean }> {
  const before = process.env.COCKPIT_EXPORT_PIPE;
  if (!pipe) process.env.COCKPIT_EXPORT_PIPE = '0';
  try {
    const source = await openExport(db, config, model, { as_of: AS_OF, ...params }, scope, new Date(`${AS_OF}T12:00:00Z`), { format: 'csv' });
    const parts: Buffer[] = [];
    const r = csvStream(source, source.columns.map((c) => c.name)).getReader();
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      parts.push(Buffer.from(value));
    }
    return { text: Buffer.concat(parts).toString('utf8'), piped: !!source.csvBytes };
  } finally {
    if (before === undefined) delete process.env.COCKPIT_EXPORT_PIPE;
    else process.env.COCKPIT_EXPORT_PIPE = before;
  }
}

const CASES: [string, Record<string, unknown>][] = [
  ['deals', {}],
  ['deals', { sort: 'name', dir: 'asc', status: 'open' }],
  ['deals', { sort: 'days_idle', q: '科技' }],
  ['deals', { sort: 'risk_count', risk: 'any' }],
  ['payment_list', {}],
  ['payment_list', { sort: 'due_date', dir: 'asc' }],
  ['customer_list', {}],
  ['customer_list', { sort: 'customer_name', dir: 'asc' }]
];

describe('listing CSV export: the pipe writes what the value path writes', () => {
  for (const [model, params] of CASES) {
    it(`${model} ${JSON.stringify(params)}`, async () => {
      const piped = await exported(model, params, ALL_SCOPE, true);
      const values = await exported(model, params, ALL_SCOPE, false);
      expect(piped.piped).toBe(true);
      expect(values.piped).toBe(false);
      expect(piped.text.split('\r\n').length).toBeGreaterThan(2);
      expect(piped.text).toBe(values.text);
      expect(pipesInUse()).toBe(0);
    });
  }

  it('a team-scoped viewer gets the same bytes either way, and fewer rows than everyone', async () => {
    const team = (await db.query<{ team_id: string }>(`SELECT team_id FROM users WHERE team_id IS NOT NULL ORDER BY team_id LIMIT 1`)).rows[0].team_id;
    const scope: Scope = { team_ids: [team], owner_ids: [] };
    const piped = await exported('deals', {}, scope, true);
    const values = await exported('deals', {}, scope, false);
    const all = await exported('deals', {}, ALL_SCOPE, true);
    expect(piped.piped).toBe(true);
    expect(piped.text).toBe(values.text);
    const n = piped.text.split('\r\n').length;
    expect(n).toBeGreaterThan(2);
    expect(n).toBeLessThan(all.text.split('\r\n').length);
  });
});
