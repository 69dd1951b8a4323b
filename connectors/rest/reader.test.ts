/**
 * The REST reader against a real HTTP server on 127.0.0.1 (examples/rest-mock-crm): every paging
 * style, auth from environment variables, incremental reads by watermark, and 429 / 500 / hanging
 * requests injected by the server. Expected records come from the server's own data, not from
 * the reader.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/lib/server/config/schema';
import { startMockCrm, HUBSPOT_STAGES, type MockCrm } from '../../examples/rest-mock-crm/server';
import type { RawRecord, ReadContext } from '../types';
import { restReader, parseRetryAfter, nextFromLink, backoffMs, soqlSince } from './reader';

const TOKEN = 'tok-7f3a9c1e5b2d';
const KEY = 'key-91b2c3d4e5f6';
process.env.TEST_REST_TOKEN = TOKEN;
process.env.TEST_REST_KEY = KEY;
// Short waits between retries; a whole answer may take up to 30 s (a 200-record page from the
// 10,300-deal server took over 300 ms at a load of 15). Tests about timeouts set their own.
const FAST = { max_attempts: 3, base_ms: 5, cap_ms: 20, timeout_ms: 30_000 };

function ctx(watermark: string | null = null) {
  const warnings: string[] = [];
  const c: ReadContext = {
    config: configSchema.parse({}),
    baseDir: '.',
    watermark,
    events: { warn: (m) => warnings.push(m), skip: () => {} }
  };
  return { c, warnings };
}

async function read(source: Record<string, unknown>, watermark: string | null = null) {
  const { c, warnings } = ctx(watermark);
  const reader = await restReader({ name: 'crm', type: 'rest', entity: 'opportunities', ...source } as never, c);
  const records: RawRecord[] = [];
  const batches: number[] = [];
  for await (const b of reader.batches()) {
    batches.push(b.length);
    records.push(...b);
  }
  return { records, batches, warnings, watermark: reader.watermark?.() ?? null, location: reader.location };
}

async function readError(source: Record<string, unknown>, watermark: string | null = null) {
  const { c, warnings } = ctx(watermark);
  const got: RawRecord[] = [];
  try {
    const reader = await restReader({ name: 'crm', type: 'rest', entity: 'opportunities', ...source } as never, c);
    for await (const b of reader.batches()) got.push(...b);
  } catch (e) {
    return { message: (e as Error).message, got, warnings };
  }
  throw new Error('expected the read to fail');
}

let crm: MockCrm;
beforeAll(async () => {
  crm = await startMockCrm({ deals: 250, token: TOKEN, apiKey: KEY, unknownStageEvery: 50 });
});
afterAll(() => crm.close());

const iso = (ms: number) => new Date(ms).toISOString();

describe('HubSpot deals preset', () => {
  const source = () => ({ preset: 'hubspot-deals', base_url: crm.url, auth: { type: 'bearer', token_env: 'TEST_REST_TOKEN' }, retry: FAST });

  it('reads every deal through paging.next.after and returns the newest hs_lastmodifieddate', async () => {
    crm.log.length = 0;
    const r = await read(source());
    expect(r.records.map((x) => x.values.id)).toEqual(crm.deals.map((d) => d.id));
    expect(r.batches).toEqual([100, 100, 50]);
    expect(r.records.map((x) => x.row)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    // Records are passed on as the API gave them (the pipeline maps columns and stages).
    const first = r.records[0].values as { properties: Record<string, string> };
    expect(first.properties.dealstage).toBe('appointmentscheduled');
    expect((r.records[49].values as typeof first).properties.dealstage).toBe('mystery_stage');
    expect(first.properties.dealname).toBe(crm.deals[0].name);
    expect(r.watermark).toBe(iso(Math.max(...crm.deals.map((d) => d.modified))));
    expect(crm.log.map((l) => l.url)).toEqual([
      expect.stringMatching(/^\/crm\/v3\/objects\/deals\?properties=dealname%2Camount%2Cdealstage.*&limit=100$/),
      expect.stringContaining('after=100'),
      expect.stringContaining('after=200')
    ]);
    expect(crm.log.every((l) => l.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(r.location).toBe(`${crm.url}/crm/v3/objects/deals`);
    expect(HUBSPOT_STAGES[5]).toBe('closedwon');
  });

  it('reads only deals modified since the watermark, through the search endpoint', async () => {
    const before = Math.max(...crm.deals.map((d) => d.modified));
    crm.touch(['1003', '1100', '1201']);
    crm.log.length = 0;
    const r = await read(source(), iso(before));
    const expected = crm.deals.filter((d) => d.modified >= before).map((d) => d.id);
    expect(expected).toHaveLength(4); // the newest deal of the last sync (>=) and the three touched ones
    expect(r.records.map((x) => x.values.id).sort()).toEqual(expected.sort());
    expect(crm.log[0].method).toBe('POST');
    expect(crm.log[0].url).toBe('/crm/v3/objects/deals/search');
    expect(r.watermark).toBe(iso(Math.max(...crm.deals.map((d) => d.modified))));
  });

  it('continues past the 10,000-result cap of HubSpot search with a new query from the newest change seen', async () => {
    const big = await startMockCrm({ deals: 10_300, token: TOKEN });
    try {
      const r = await read({ ...source(), base_url: big.url, paging: { type: 'cursor', limit: 200 } }, iso(Date.UTC(2024, 0, 1)));
      const ids = r.records.map((x) => x.values.id as string);
      expect(new Set(ids)).toEqual(new Set(big.deals.map((d) => d.id)));
      // The 10,000th deal (the newest of the first query) starts the second query and is read twice.
      expect(ids.length).toBe(10_301);
      expect(ids.filter((id) => id === big.deals[9_999].id)).toHaveLength(2);
      expect(r.warnings).toEqual([`HubSpot search stops at 10000 results: continuing from hs_lastmodifieddate ${iso(big.deals[9_999].modified)}`]);
      expect(big.log.filter((l) => l.status === 400)).toHaveLength(0);
    } finally {
      await big.close();
    }
  });

  it('fails with the status and the URL, never the token, when the token is wrong', async () => {
    process.env.TEST_REST_BAD = 'wrong-token-abcdef';
    const e = await readError({ ...source(), auth: { type: 'bearer', token_env: 'TEST_REST_BAD' } });
    expect(e.message).toContain('HTTP 401');
    expect(e.message).toContain(`${crm.url}/crm/v3/objects/deals`);
    expect(e.message).not.toContain('wrong-token-abcdef');
  });

  it('says which environment variable is missing', async () => {
    const e = await readError({ ...source(), auth: { type: 'bearer', token_env: 'NO_SUCH_TOKEN_VAR' } });
    expect(e.message).toBe('source "crm": environment variable NO_SUCH_TOKEN_VAR (named by auth.token_env) is not set');
  });
});

describe('Salesforce query preset', () => {
  const source = () => ({ preset: 'salesforce-query', base_url: crm.url, auth: { type: 'bearer', token_env: 'TEST_REST_TOKEN' }, retry: FAST });

  it('follows nextRecordsUrl until done and drops the attributes metadata', async () => {
    crm.log.length = 0;
    const r = await read(source());
    expect(r.records).toHaveLength(crm.deals.length);
    expect(r.records[0].values).toEqual({
      Id: `006${crm.deals[0].id}`,
      Name: crm.deals[0].name,
      StageName: 'Prospecting',
      Amount: Number(crm.deals[0].amount),
      CloseDate: crm.deals[0].closedate.slice(0, 10),
      AccountId: `001${crm.deals[0].company}`,
      OwnerId: `005${crm.deals[0].owner}`,
      CreatedDate: crm.deals[0].createdate.replace('Z', '+0000'),
      LastModifiedDate: iso(crm.deals[0].modified).replace('Z', '+0000')
    });
    expect(crm.log.map((l) => decodeURIComponent(l.url.replace(/\+/g, ' ')))).toEqual([
      '/services/data/v59.0/query?q=SELECT Id, Name, StageName, Amount, CloseDate, AccountId, OwnerId, CreatedDate, LastModifiedDate FROM Opportunity',
      '/services/data/v59.0/query/01g0-100',
      '/services/data/v59.0/query/01g0-200'
    ]);
  });

  it('adds LastModifiedDate >= the watermark to the SOQL on an incremental read', async () => {
    const since = crm.deals[240].modified;
    crm.log.length = 0;
    const r = await read(source(), iso(since));
    const expected = crm.deals.filter((d) => d.modified >= since).map((d) => `006${d.id}`);
    expect(r.records.map((x) => x.values.Id).sort()).toEqual(expected.sort());
    expect(decodeURIComponent(crm.log[0].url.replace(/\+/g, ' '))).toContain(
      `FROM Opportunity WHERE LastModifiedDate >= ${iso(since).replace('.000Z', 'Z')}`
    );
  });
});

describe('generic API', () => {
  const base = () => ({ base_url: crm.url, records_path: 'data.items', auth: { type: 'api_key', key_env: 'TEST_REST_KEY', header: 'X-API-Key' }, retry: FAST });
  const ids = () => [...crm.deals].sort((a, b) => Number(a.id) - Number(b.id)).map((d) => `OPP-${d.id}`);

  it('pages by offset/limit', async () => {
    crm.log.length = 0;
    const r = await read({ ...base(), path: '/api/deals', paging: { type: 'offset', limit: 60 } });
    expect(r.records.map((x) => x.values.id)).toEqual(ids());
    expect(r.batches).toEqual([60, 60, 60, 60, 10]);
    expect(crm.log.every((l) => l.apiKey === KEY)).toBe(true);
  });

  it('pages by page number', async () => {
    const r = await read({ ...base(), path: '/api/deals', paging: { type: 'page', page_param: 'page', size_param: 'per_page', size: 100 } });
    expect(r.records.map((x) => x.values.id)).toEqual(ids());
    expect(r.batches).toEqual([100, 100, 50]);
  });

  it('follows the Link header', async () => {
    crm.log.length = 0;
    const r = await read({ ...base(), path: '/api/deals-link', paging: { type: 'link_header', limit_param: 'per_page', limit: 120 } });
    expect(r.records.map((x) => x.values.id)).toEqual(ids());
    expect(crm.log.map((l) => l.url)).toEqual(['/api/deals-link?per_page=120', '/api/deals-link?per_page=120&page=2', '/api/deals-link?per_page=120&page=3']);
  });

  it('sends the watermark as an updated-since parameter and keeps the newest value seen', async () => {
    const since = crm.deals[245].modified;
    crm.log.length = 0;
    const r = await read(
      { ...base(), path: '/api/deals', paging: { type: 'offset', limit: 100 }, incremental: { field: 'updated_at', param: 'updated_since' } },
      iso(since)
    );
    expect(crm.log[0].url).toContain(`updated_since=${encodeURIComponent(iso(since))}`);
    expect(r.records.map((x) => x.values.id).sort()).toEqual(crm.deals.filter((d) => d.modified >= since).map((d) => `OPP-${d.id}`).sort());
    expect(r.watermark).toBe(iso(Math.max(...crm.deals.map((d) => d.modified))));
  });

  it('sends basic auth from environment variables and masks the password', async () => {
    const open = await startMockCrm({ deals: 10 });
    try {
      process.env.TEST_REST_USER = 'ops';
      process.env.TEST_REST_PASSWORD = 'pw-4c8e1a77';
      const auth = { type: 'basic', username_env: 'TEST_REST_USER', password_env: 'TEST_REST_PASSWORD' };
      const r = await read({ base_url: open.url, path: '/api/deals', records_path: 'data.items', auth, retry: FAST });
      expect(r.records).toHaveLength(10);
      expect(open.log[0].authorization).toBe(`Basic ${Buffer.from('ops:pw-4c8e1a77').toString('base64')}`);
      // An answer echoing the credentials back is masked, in either form.
      const e = await readError({ base_url: `${open.url}/ops:pw-4c8e1a77`, path: 'x', records_path: 'data.items', auth, retry: FAST });
      expect(e.message).toContain('HTTP 404');
      expect(e.message).not.toContain('pw-4c8e1a77');
    } finally {
      await open.close();
    }
  });

  it('masks an API key sent as a query parameter in errors', async () => {
    const e = await readError({ ...base(), path: '/api/deals', auth: { type: 'api_key', key_env: 'TEST_REST_KEY', query_param: 'api_key' } });
    expect(e.message).toContain('HTTP 401'); // this API wants the key in a header
    expect(e.message).toContain('api_key=***');
    expect(e.message).not.toContain(KEY);
  });

  it('names the records path and the keys it found when the path is wrong', async () => {
    const e = await readError({ ...base(), path: '/api/deals', records_path: 'items' });
    expect(e.message).toContain('records_path "items" is not an array in the response (top-level keys: data)');
  });
});

describe('rate limits, errors and timeouts', () => {
  const source = () => ({ preset: 'hubspot-deals', base_url: crm.url, auth: { type: 'bearer', token_env: 'TEST_REST_TOKEN' }, retry: FAST });

  it('waits for Retry-After on 429 and then reads everything', async () => {
    crm.log.length = 0;
    crm.faults.push({ kind: '429', retryAfter: '1', match: (u) => u.includes('after=100') });
    const r = await read(source());
    expect(r.records).toHaveLength(crm.deals.length);
    const [limited, retried] = crm.log.filter((l) => l.url.includes('after=100'));
    expect(limited.status).toBe(429);
    expect(retried.status).toBe(200);
    // The server saw the retry no sooner than it asked (a lower bound, never a flaky upper one).
    expect(retried.at - limited.at).toBeGreaterThanOrEqual(990);
    expect(r.warnings).toEqual([expect.stringMatching(/HTTP 429.*\(Retry-After\); retrying in 1\.0 s \(attempt 2 of 3\)/)]);
  });

  it('takes Retry-After as an HTTP date too', async () => {
    crm.faults.push({ kind: '429', retryAfter: new Date(Date.now() + 1000).toUTCString(), match: (u) => u.includes('after=200') });
    const r = await read(source());
    expect(r.records).toHaveLength(crm.deals.length);
    expect(r.warnings).toEqual([expect.stringMatching(/HTTP 429 Too Many Requests \(Retry-After\); retrying in [01]\.\d s/)]);
  });

  it('retries 500s and a request that never answers, then succeeds', async () => {
    crm.faults.push({ kind: '500', times: 2, match: (u) => u.includes('after=200') });
    crm.faults.push({ kind: 'timeout', match: (u) => u.includes('after=100') });
    const r = await read({ ...source(), retry: { ...FAST, timeout_ms: 3_000 } });
    expect(r.records.map((x) => x.values.id)).toEqual(crm.deals.map((d) => d.id));
    expect(r.warnings).toHaveLength(3);
    expect(r.warnings[0]).toContain('no complete answer within 3000 ms');
    expect(r.warnings[1]).toContain('HTTP 500');
  });

  it('fails cleanly when a page keeps failing halfway, naming the URL and the status', async () => {
    crm.faults.push({ kind: '500', times: Infinity, match: (u) => u.includes('after=200') });
    try {
      const e = await readError(source());
      expect(e.got).toHaveLength(200); // the pages before were read; the loader must not land them
      expect(e.message).toBe(
        `source "crm": GET ${crm.url}/crm/v3/objects/deals?properties=${encodeURIComponent(
          'dealname,amount,dealstage,pipeline,closedate,createdate,hs_lastmodifieddate,hubspot_owner_id,closed_lost_reason,deal_currency_code'
        )}&limit=100&after=200 failed after 3 attempts: HTTP 500 Internal Server Error`
      );
    } finally {
      crm.faults.length = 0;
    }
  });

  it('fails when a request never answers within the attempts', async () => {
    crm.faults.push({ kind: 'timeout', times: Infinity });
    try {
      const e = await readError({ ...source(), retry: { ...FAST, max_attempts: 2, timeout_ms: 150 } });
      expect(e.message).toMatch(/GET .*\/crm\/v3\/objects\/deals\?.* failed after 2 attempts: no complete answer within 150 ms/);
    } finally {
      crm.faults.length = 0;
    }
  });

  it('does not retry an answer that is not JSON', async () => {
    crm.faults.push({ kind: 'garbage' });
    const e = await readError(source());
    expect(e.message).toContain('with a body that is not JSON (content-type text/html)');
  });
});

describe('hostile answers (issue 11.5)', () => {
  // A server of our own: an endless body, a body bigger than it says, a huge declared length.
  let server: http.Server;
  let url = '';
  const hits: Record<string, number> = {};
  const closed: Record<string, boolean> = {};
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      hits[path] = (hits[path] ?? 0) + 1;
      res.on('close', () => (closed[path] = true));
      if (path === '/endless') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"results": [');
        const chunk = Buffer.from('{"id": "x", "name": "' + 'y'.repeat(64 * 1024) + '"},');
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
      } else if (path === '/declared') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(50 * 2 ** 30) });
        res.write('{"results": [');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ results: [{ id: 'a' }, { id: 'b' }] }));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('stops reading an endless body at max_response_bytes, says so, and does not retry', async () => {
    // The size limit must trip first: the whole-answer timeout is generous here (at a load of
    // 15, 4 MB from this local server once took longer than FAST's 300 ms).
    const e = await readError({ base_url: url, path: '/endless', records_path: 'results', max_response_bytes: 4 * 2 ** 20, retry: { ...FAST, timeout_ms: 120_000 } });
    expect(e.message).toMatch(/^source "crm": GET http:\/\/127\.0\.0\.1:\d+\/endless answered more than 4,194,304 bytes \(max_response_bytes\); not retried/);
    expect(hits['/endless']).toBe(1);
    expect(e.warnings).toEqual([]);
    for (let i = 0; i < 100 && !closed['/endless']; i++) await new Promise((r) => setTimeout(r, 100));
    expect(closed['/endless']).toBe(true);
  });

  it('refuses a declared Content-Length over the limit before reading it', async () => {
    const e = await readError({ base_url: url, path: '/declared', records_path: 'results', retry: FAST });
    expect(e.message).toContain('answered more than 134,217,728 bytes (max_response_bytes)');
    expect(hits['/declared']).toBe(1);
  });

  it('reads an answer within the limit as before', async () => {
    const r = await read({ base_url: url, path: '/small', records_path: 'results', max_response_bytes: 1024 });
    expect(r.records.map((x) => x.values.id)).toEqual(['a', 'b']);
  });
});

describe('config', () => {
  it('fills a preset into the parsed config, the user’s columns and stage map winning key by key', () => {
    const cfg = configSchema.parse({
      sources: [
        { name: 'hs', type: 'rest', entity: 'opportunities', preset: 'hubspot-deals', auth: { type: 'bearer', token_env: 'T' },
          columns: { amount: 'properties.amount_in_home_currency' }, stage_map: { closedwon: '商务谈判' } }
      ]
    });
    const s = cfg.sources[0] as Record<string, unknown>;
    expect(s.base_url).toBe('https://api.hubapi.com');
    expect(s.columns).toMatchObject({ opportunity_id: 'id', stage: 'properties.dealstage', amount: 'properties.amount_in_home_currency' });
    expect(s.stage_map).toMatchObject({ appointmentscheduled: '初步接洽', closedwon: '商务谈判', closedlost: '输单' });
    expect(s.paging).toEqual({ type: 'cursor', cursor_path: 'paging.next.after', cursor_param: 'after', limit_param: 'limit', limit: 100 });
  });

  it('reports a preset on the wrong entity and a secret in headers through the config loader', () => {
    const r = configSchema.safeParse({
      sources: [{ name: 'sf', type: 'rest', entity: 'payments', preset: 'salesforce-query', headers: { Authorization: 'Bearer x' } }]
    });
    expect(r.success).toBe(false);
    const msgs = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(msgs).toEqual(
      expect.arrayContaining([
        'sources.0.entity: preset "salesforce-query" reads opportunities, not payments',
        'sources.0.base_url: the Salesforce instance URL is required (e.g. "https://acme.my.salesforce.com")',
        'sources.0.headers.Authorization: credentials go in "auth" (read from an environment variable), not in headers'
      ])
    );
  });

  it('rejects unknown keys and credentials in plain headers', async () => {
    const e = await readError({ base_url: 'http://127.0.0.1:1', pagging: {}, headers: { Authorization: 'Bearer x' } });
    expect(e.message).toContain('Unrecognized key: "pagging"');
    const e2 = await readError({ base_url: 'http://127.0.0.1:1', headers: { Authorization: 'Bearer x' } });
    expect(e2.message).toBe('source.crm.headers.Authorization: credentials go in "auth" (read from an environment variable), not in headers');
  });

  it('adds the watermark to SOQL where the query says, or as WHERE / AND', () => {
    const t = Date.UTC(2024, 2, 1, 4, 0, 0, 250);
    expect(soqlSince('SELECT Id FROM Opportunity', 'LastModifiedDate', t)).toBe('SELECT Id FROM Opportunity WHERE LastModifiedDate >= 2024-03-01T04:00:00Z');
    expect(soqlSince('SELECT Id FROM Opportunity WHERE IsClosed = false', 'LastModifiedDate', t)).toBe(
      'SELECT Id FROM Opportunity WHERE IsClosed = false AND LastModifiedDate >= 2024-03-01T04:00:00Z'
    );
    expect(soqlSince('SELECT Id FROM Opportunity WHERE SystemModstamp >= {since} ORDER BY SystemModstamp', 'X', t)).toBe(
      'SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-03-01T04:00:00Z ORDER BY SystemModstamp'
    );
    expect(() => soqlSince('SELECT Id FROM Opportunity ORDER BY Name', 'LastModifiedDate', t)).toThrow(/must say where the condition goes with \{since\}/);
  });

  it('parses Retry-After, Link headers and backoff', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.UTC(2015, 9, 21, 7, 28, 0))).toBe(5000);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(nextFromLink('<https://x/a?page=1>; rel="prev", <https://x/a?page=3>; rel="next"')).toBe('https://x/a?page=3');
    expect(nextFromLink('<https://x/a?page=1>; rel=first')).toBeNull();
    // Doubling from 100 ms, capped at 1 s; jitter keeps each delay in [step/2, step].
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 100, 1000, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 100, 1000, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
  });
});
