/**
 * The HTTP API against a real running server (`cockpit serve`) over the small demo company.
 * Figures are checked against independent SQL on the same database file (read-only copy).
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, inject, it } from 'vitest';

const base = inject('baseUrl');
const AS_OF = inject('demoAsOf');
const get = (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);

/** Independent SQL over a copy of the server's database (the server holds the file's lock). */
let oracle: (q: string) => Promise<Record<string, unknown>[]>;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oracle-'));
  // The copy is taken while the server runs; DuckDB checkpoints on write, so the file is whole.
  const file = join(dir, 'copy.duckdb');
  copyFileSync(inject('demoTemplate'), file);
  const inst = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  oracle = async (q) => (await conn.runAndReadAll(q)).getRowObjectsJson() as Record<string, unknown>[];
});

describe('GET /api/models/<name>', () => {
  it('answers the funnel as JSON with its definition, period, n and rows', async () => {
    const res = await get(`/api/models/funnel?period=this_year&as_of=${AS_OF}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = await res.json();
    expect(body.model).toBe('funnel');
    expect(body.date_field).toBe('opportunities.created_at');
    expect(body.period).toEqual({ from: '2026-01-01', to: '2027-01-01', preset: 'this_year' });
    expect(body.definition['zh-CN']).toContain('队列');
    expect(body.definition.en).toContain('cohort');
    expect(body.rows.map((r: { stage: string }) => r.stage)).toEqual(['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单']);
    // Independent: deals created this year; those now won
    const [ind] = await oracle(
      `SELECT count(*)::INTEGER AS cohort, count(*) FILTER (WHERE status = 'won')::INTEGER AS won
       FROM opportunities WHERE created_at >= '2026-01-01' AND created_at < '2027-01-01'`
    );
    expect(body.n).toBe(ind.cohort);
    expect(body.rows[0].reached).toBe(ind.cohort);
    expect(body.rows[4].reached).toBe(ind.won);
  });

  it('answers the same rows as an Arrow IPC stream when asked', async () => {
    const url = `/api/models/funnel?period=this_year&as_of=${AS_OF}`;
    const [jsonRes, arrowRes] = await Promise.all([get(url), get(url, { headers: { accept: 'application/vnd.apache.arrow.stream' } })]);
    expect(arrowRes.status).toBe(200);
    expect(arrowRes.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
    const json = await jsonRes.json();
    const table = tableFromIPC(new Uint8Array(await arrowRes.arrayBuffer()));
    expect(table.numRows).toBe(json.rows.length);
    expect(table.schema.metadata.get('model')).toBe('funnel');
    expect(Number(table.schema.metadata.get('n'))).toBe(json.n);
    const rows = table.toArray().map((r) => r.toJSON());
    rows.forEach((r, i) => {
      expect(r.stage).toBe(json.rows[i].stage);
      expect(Number(r.reached)).toBe(json.rows[i].reached);
      expect(r.reached_amount).toBeCloseTo(json.rows[i].reached_amount, 2);
    });
  });

  it('kpis: won amount this quarter equals an independent sum', async () => {
    const body = await (await get(`/api/models/kpis?period=this_quarter&as_of=${AS_OF}`)).json();
    const won = body.rows.find((r: { measure: string }) => r.measure === 'won_amount');
    const [ind] = await oracle(
      `SELECT coalesce(sum(amount), 0)::DOUBLE AS amount, count(*)::INTEGER AS n FROM opportunities
       WHERE status = 'won' AND closed_at >= '2026-04-01' AND closed_at < '2026-07-01'`
    );
    expect(won.value).toBeCloseTo(ind.amount as number, 2);
    expect(won.n).toBe(ind.n);
  });

  it('a bad parameter is a 400 that names it and says why', async () => {
    const res = await get('/api/models/funnel?period=weekly&grop_by=team&from=2026-13-01');
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.issues).toContain('grop_by: unknown field "grop_by"; did you mean "group_by"?');
    expect(body.issues.some((i: string) => i.startsWith('period:') && i.includes('this_quarter'))).toBe(true);
    expect(body.issues.some((i: string) => i.startsWith('from:') && i.includes('YYYY-MM-DD'))).toBe(true);
  });

  it('an injection attempt in a filter is a bound literal: no rows, no error, tables intact', async () => {
    const res = await get(`/api/models/funnel?owner=${encodeURIComponent("x') OR 1=1; DROP TABLE opportunities; --")}`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.n).toBe(0);
    expect((await get(`/api/models/funnel?as_of=${AS_OF}`)).status).toBe(200);
  });

  it('an unknown model is a 404 that lists the models', async () => {
    const res = await get('/api/models/forcast');
    expect(res.status).toBe(404);
    expect((await res.json()).error).toContain('kpis');
  });

  it('the catalog lists every model with its parameters as JSON Schema', async () => {
    const body = await (await get('/api/models')).json();
    const funnel = body.models.find((m: { name: string }) => m.name === 'funnel');
    expect(Object.keys(funnel.params.properties)).toContain('group_by');
    expect(funnel.title['zh-CN']).toBe('销售漏斗');
  });
});

describe('GET /api/status', () => {
  it('reports the last sync and that the server runs in demo mode', async () => {
    const body = await (await get('/api/status')).json();
    expect(body.demo_mode).toBe(true);
    expect(body.last_synced_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(body.demo).toEqual({ company: '云帆智能科技', scale: 'small' });
  });
});
