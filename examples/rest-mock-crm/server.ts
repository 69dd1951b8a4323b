/**
 * A small CRM API to try the REST connector by hand (and the one its tests run against):
 * HubSpot CRM v3 deals and companies (cursor paging, search for incremental reads), the
 * Salesforce query API (nextRecordsUrl), and a generic API with offset, page-number and Link
 * header paging. It can rate-limit (429 + Retry-After), fail (500), hang, or start failing
 * permanently halfway through a sync.
 *
 *   npx tsx examples/rest-mock-crm/server.ts --port 4010 --deals 250 --token demo-token
 *   npx tsx examples/rest-mock-crm/server.ts --rate-limit 3      # every 3rd request: 429, Retry-After: 1
 *   npx tsx examples/rest-mock-crm/server.ts --fail-after 2      # every page after the 2nd: 500
 *   curl -X POST 'http://127.0.0.1:4010/_mock/touch?n=5'          # modify 5 deals (for incremental sync)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export const HUBSPOT_STAGES = [
  'appointmentscheduled', 'qualifiedtobuy', 'presentationscheduled', 'decisionmakerboughtin', 'contractsent', 'closedwon', 'closedlost'
];
export const SALESFORCE_STAGES = ['Prospecting', 'Qualification', 'Proposal/Price Quote', 'Negotiation/Review', 'Closed Won', 'Closed Lost'];

export interface Deal {
  id: string;
  name: string;
  amount: string;
  stage: number;
  closedate: string;
  createdate: string;
  modified: number;
  owner: string;
  company: string;
}

export interface Fault {
  /** Which requests: a predicate on the path + query (e.g. `(u) => u.includes('after=')`). */
  match?: (url: string, req: IncomingMessage) => boolean;
  kind: '429' | '500' | 'timeout' | 'garbage';
  /** Retry-After sent with a 429 (seconds as text, or an HTTP date). */
  retryAfter?: string;
  /** How many matching requests it applies to (default 1; Infinity for a permanent failure). */
  times?: number;
}

export interface MockCrmOptions {
  deals?: number;
  /** Required bearer token (HubSpot, Salesforce, generic); none when absent. */
  token?: string;
  /** Required X-API-Key for the generic API (instead of the token). */
  apiKey?: string;
  /** Records per page when the client does not say (Salesforce always uses this). */
  pageSize?: number;
  /** Every n-th request gets 429 with Retry-After: 1. */
  rateLimitEvery?: number;
  /** After this many successful record pages, every further page request gets 500. */
  failAfterPages?: number;
  /** Deals whose index is a multiple of this carry a stage the cockpit does not know. */
  unknownStageEvery?: number;
}

export interface LoggedRequest {
  method: string;
  url: string;
  at: number;
  authorization?: string;
  apiKey?: string;
  status: number;
}

export interface MockCrm {
  url: string;
  server: Server;
  deals: Deal[];
  faults: Fault[];
  log: LoggedRequest[];
  /** Changes deals (amount and stage) and bumps their last-modified time; returns them. */
  touch(ids: string[], patch?: Partial<Pick<Deal, 'amount' | 'stage' | 'name'>>): Deal[];
  /** Adds a new deal, modified now. */
  add(patch?: Partial<Deal>): Deal;
  close(): Promise<void>;
}

const T0 = Date.UTC(2024, 0, 2, 1, 0, 0);

function makeDeals(n: number, unknownStageEvery?: number): Deal[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(1001 + i),
    name: `商机 ${i + 1} · Deal ${i + 1}`,
    amount: (10_000 + ((i * 7919) % 90_000) + (i % 4) * 0.25).toFixed(2),
    stage: unknownStageEvery && (i + 1) % unknownStageEvery === 0 ? -1 : i % HUBSPOT_STAGES.length,
    closedate: new Date(Date.UTC(2024, 2 + (i % 9), 1 + (i % 27))).toISOString(),
    createdate: new Date(T0 + i * 3_600_000).toISOString(),
    modified: T0 + i * 60_000,
    owner: String(501 + (i % 5)),
    company: String(9001 + (i % 20))
  }));
}

export function startMockCrm(opts: MockCrmOptions = {}, port = 0, host = '127.0.0.1'): Promise<MockCrm> {
  const deals = makeDeals(opts.deals ?? 250, opts.unknownStageEvery);
  const faults: Fault[] = [];
  const log: LoggedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let clock = Math.max(...deals.map((d) => d.modified), T0) + 3_600_000;
  let requests = 0;
  let pagesServed = 0;
  const pageSize = opts.pageSize ?? 100;

  const hsStage = (d: Deal) => (d.stage < 0 ? 'mystery_stage' : HUBSPOT_STAGES[d.stage]);
  const sfStage = (d: Deal) => (d.stage < 0 ? 'Mystery' : SALESFORCE_STAGES[d.stage % SALESFORCE_STAGES.length]);
  const hubspotDeal = (d: Deal) => ({
    id: d.id,
    properties: {
      dealname: d.name,
      amount: d.amount,
      dealstage: hsStage(d),
      pipeline: 'default',
      closedate: d.closedate,
      createdate: d.createdate,
      hs_lastmodifieddate: new Date(d.modified).toISOString(),
      hubspot_owner_id: d.owner,
      hs_object_id: d.id
    },
    createdAt: d.createdate,
    updatedAt: new Date(d.modified).toISOString(),
    archived: false
  });
  const companies = Array.from({ length: 20 }, (_, i) => ({
    id: String(9001 + i),
    properties: {
      name: `客户${i + 1}有限公司`,
      industry: ['制造', '零售', '金融', '教育'][i % 4],
      state: ['上海市', '浙江省', '北京市', '广东省'][i % 4],
      phone: `021-5555${String(i).padStart(4, '0')}`,
      hubspot_owner_id: String(501 + (i % 5)),
      createdate: new Date(T0 - 86_400_000 * (i + 1)).toISOString(),
      hs_lastmodifieddate: new Date(T0 + i * 1000).toISOString()
    },
    createdAt: new Date(T0 - 86_400_000 * (i + 1)).toISOString(),
    updatedAt: new Date(T0 + i * 1000).toISOString(),
    archived: false
  }));
  const sfRecord = (d: Deal, base: string) => ({
    attributes: { type: 'Opportunity', url: `${base}/services/data/v59.0/sobjects/Opportunity/006${d.id}` },
    Id: `006${d.id}`,
    Name: d.name,
    StageName: sfStage(d),
    Amount: Number(d.amount),
    CloseDate: d.closedate.slice(0, 10),
    AccountId: `001${d.company}`,
    OwnerId: `005${d.owner}`,
    CreatedDate: d.createdate.replace('Z', '+0000'),
    LastModifiedDate: new Date(d.modified).toISOString().replace('Z', '+0000')
  });
  const generic = (d: Deal) => ({
    id: `OPP-${d.id}`,
    title: d.name,
    stage: hsStage(d),
    value: Number(d.amount),
    owner: d.owner,
    close_date: d.closedate.slice(0, 10),
    updated_at: new Date(d.modified).toISOString()
  });

  const server = createServer((req, res) => {
    void handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: String(e) }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const base = `http://${req.headers.host}`;
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      url: url.pathname + url.search,
      at: Date.now(),
      authorization: req.headers.authorization,
      apiKey: req.headers['x-api-key'] as string | undefined,
      status: 200
    };
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const body = req.method === 'POST' ? await readBody(req) : '';
    if (url.pathname.startsWith('/_mock/')) {
      if (url.pathname === '/_mock/touch') {
        const n = Number(url.searchParams.get('n') ?? 5);
        const changed = mock.touch(deals.slice(0, n).map((d) => d.id));
        return send(200, { touched: changed.map((d) => d.id) });
      }
      return send(404, { message: 'unknown mock endpoint' });
    }
    log.push(entry);
    requests++;

    const fault = faults.find((f) => (f.times ?? 1) > 0 && (!f.match || f.match(entry.url, req)));
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.kind === 'timeout') {
        entry.status = 0;
        hanging.add(res);
        return; // never answers
      }
      if (fault.kind === '429') return send(429, { message: 'rate limited' }, { 'retry-after': fault.retryAfter ?? '1' });
      if (fault.kind === 'garbage') {
        entry.status = 200;
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html>maintenance</html>');
      }
      return send(500, { message: 'internal error' });
    }
    if (opts.rateLimitEvery && requests % opts.rateLimitEvery === 0) return send(429, { message: 'rate limited' }, { 'retry-after': '1' });

    const auth = req.headers.authorization;
    if (opts.apiKey && url.pathname.startsWith('/api/')) {
      if (req.headers['x-api-key'] !== opts.apiKey) return send(401, { message: 'missing or wrong X-API-Key' });
    } else if (opts.token && auth !== `Bearer ${opts.token}`) {
      return send(401, { status: 'error', message: 'Authentication credentials not found.' });
    }
    const page = () => {
      if (opts.failAfterPages !== undefined && pagesServed >= opts.failAfterPages) return false;
      pagesServed++;
      return true;
    };
    // Deals are made and added in id order, and touching one does not move it.
    const sorted = () => deals;

    // HubSpot CRM v3: list with cursor paging, and search (POST) for incremental reads.
    let m = /^\/crm\/v3\/objects\/(deals|companies)(\/search)?$/.exec(url.pathname);
    if (m) {
      if (!page()) return send(500, { message: 'internal error' });
      type HsObject = { id: string; properties: Record<string, string | null> };
      // Deals are turned into HubSpot objects only for the page answered (the list can be long).
      let all: (HsObject | Deal)[] = m[1] === 'deals' ? sorted() : companies;
      const modified = (r: HsObject | Deal) => ('modified' in r ? r.modified : Date.parse(r.properties.hs_lastmodifieddate!));
      let after = Number(url.searchParams.get('after') ?? 0);
      let limit = Number(url.searchParams.get('limit') ?? pageSize);
      if (m[2]) {
        const q = JSON.parse(body || '{}');
        const f = q.filterGroups?.[0]?.filters?.[0];
        if (f) {
          if (f.propertyName !== 'hs_lastmodifieddate' || f.operator !== 'GTE') return send(400, { message: 'unsupported filter' });
          const since = Number(f.value);
          all = all.filter((r) => modified(r) >= since);
          all.sort((a, b) => modified(a) - modified(b));
        }
        after = Number(q.after ?? 0);
        limit = Number(q.limit ?? pageSize);
        // Like HubSpot: the search API pages no further than 10,000 results.
        if (after + limit > 10_000) return send(400, { status: 'error', message: 'VALIDATION_ERROR: paging beyond 10000 results' });
      }
      // Like HubSpot: every requested property is in the answer, null when the object has no value.
      const requested = m[2] ? (JSON.parse(body || '{}').properties as string[] | undefined) : url.searchParams.get('properties')?.split(',');
      const results = all
        .slice(after, after + limit)
        .map((x) => ('modified' in x ? hubspotDeal(x) : x))
        .map((r) => (requested ? { ...r, properties: Object.fromEntries(requested.map((p) => [p, (r.properties as Record<string, string | null>)[p] ?? null])) } : r));
      const more = after + limit < all.length;
      return send(200, {
        ...(m[2] ? { total: all.length } : {}),
        results,
        ...(more ? { paging: { next: { after: String(after + limit), link: `${base}${url.pathname}?after=${after + limit}` } } } : {})
      });
    }

    // Salesforce REST query: the first page by ?q=, then nextRecordsUrl.
    m = /^\/services\/data\/v\d+\.\d\/query(?:\/(\w+)-(\d+))?$/.exec(url.pathname);
    if (m) {
      if (!page()) return send(500, [{ message: 'An unexpected error occurred', errorCode: 'UNKNOWN_EXCEPTION' }]);
      let locator = m[1];
      let start = Number(m[2] ?? 0);
      let rows = sorted();
      let since: number | null = null;
      if (!locator) {
        const q = url.searchParams.get('q') ?? '';
        if (!/^SELECT .+ FROM Opportunity/i.test(q)) return send(400, [{ message: `MALFORMED_QUERY: ${q}`, errorCode: 'MALFORMED_QUERY' }]);
        const w = /LastModifiedDate >= (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)/.exec(q);
        if (/LastModifiedDate/.test(q.split(/ FROM /i)[1] ?? '') && !w) return send(400, [{ message: 'MALFORMED_QUERY', errorCode: 'MALFORMED_QUERY' }]);
        since = w ? Date.parse(w[1]) : null;
        locator = `01g${since ?? 0}`;
      } else {
        since = Number(locator.slice(3)) || null;
      }
      if (since !== null) rows = rows.filter((d) => d.modified >= since!);
      const chunk = rows.slice(start, start + pageSize);
      const done = start + pageSize >= rows.length;
      return send(200, {
        totalSize: rows.length,
        done,
        ...(done ? {} : { nextRecordsUrl: `/services/data/v59.0/query/${locator}-${start + pageSize}` }),
        records: chunk.map((d) => sfRecord(d, base))
      });
    }

    // Generic API: /api/deals?offset&limit | ?page&per_page | /api/deals-link (Link header); ?updated_since=ISO.
    if (url.pathname === '/api/deals' || url.pathname === '/api/deals-link') {
      if (!page()) return send(500, { error: 'internal error' });
      let rows = sorted();
      const since = url.searchParams.get('updated_since');
      if (since) rows = rows.filter((d) => d.modified >= Date.parse(since));
      let start: number;
      let limit: number;
      if (url.searchParams.has('offset')) {
        start = Number(url.searchParams.get('offset'));
        limit = Number(url.searchParams.get('limit') ?? pageSize);
      } else {
        limit = Number(url.searchParams.get('per_page') ?? pageSize);
        start = (Number(url.searchParams.get('page') ?? 1) - 1) * limit;
      }
      const items = rows.slice(start, start + limit).map(generic);
      const headers: Record<string, string> = {};
      if (url.pathname === '/api/deals-link' && start + limit < rows.length) {
        const nextUrl = new URL(url.pathname + url.search, base);
        nextUrl.searchParams.set('page', String(Math.floor(start / limit) + 2));
        nextUrl.searchParams.set('per_page', String(limit));
        headers.link = `<${nextUrl.pathname}${nextUrl.search}>; rel="next", </api/deals-link?page=1>; rel="first"`;
      }
      return send(200, { data: { items, total: rows.length } }, headers);
    }
    return send(404, { message: `no route ${url.pathname}` });
  }

  const mock: MockCrm = {
    url: '',
    server,
    deals,
    faults,
    log,
    touch(ids, patch = {}) {
      return ids.map((id) => {
        const d = deals.find((x) => x.id === id);
        if (!d) throw new Error(`no deal ${id}`);
        clock += 60_000;
        Object.assign(d, patch);
        if (!patch.amount && !patch.stage && !patch.name) d.amount = (Number(d.amount) + 1000).toFixed(2);
        d.modified = clock;
        return d;
      });
    },
    add(patch = {}) {
      clock += 60_000;
      const i = deals.length;
      const d: Deal = { ...makeDeals(i + 1)[i], ...patch, modified: clock };
      deals.push(d);
      return d;
    },
    close() {
      for (const r of hanging) r.destroy();
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    }
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      mock.url = `http://${host}:${a.port}`;
      resolve(mock);
    });
  });
}

// Run as a script: start the server and print how to point the cockpit at it.
if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('rest-mock-crm/server.ts')) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const num = (name: string) => (arg(name) !== undefined ? Number(arg(name)) : undefined);
  const mock = await startMockCrm(
    {
      deals: num('deals'),
      token: arg('token'),
      pageSize: num('page-size'),
      rateLimitEvery: num('rate-limit'),
      failAfterPages: num('fail-after'),
      unknownStageEvery: num('unknown-stage-every')
    },
    num('port') ?? 4010
  );
  console.log(`mock CRM on ${mock.url} (${mock.deals.length} deals)
  HubSpot deals:     ${mock.url}/crm/v3/objects/deals        (preset "hubspot-deals", base_url "${mock.url}")
  HubSpot companies: ${mock.url}/crm/v3/objects/companies
  Salesforce query:  ${mock.url}/services/data/v59.0/query?q=  (preset "salesforce-query")
  generic:           ${mock.url}/api/deals?offset=0&limit=50   ${mock.url}/api/deals?page=1&per_page=50   ${mock.url}/api/deals-link
  modify 5 deals:    curl -X POST '${mock.url}/_mock/touch?n=5'
See examples/rest-mock-crm/cockpit.config.json for a config that reads it.`);
}
