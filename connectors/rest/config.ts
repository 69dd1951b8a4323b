/**
 * Configuration of a REST source (`"type": "rest"`), and the presets that fill it for HubSpot
 * CRM v3 objects and the Salesforce REST query API. See docs/connectors.md, "## REST".
 */
import { z } from 'zod';
import { sharedSourceShape } from '../shared-options';
import { ENV_NAME } from '../secrets';

const envName = z.string().regex(ENV_NAME, 'expected the NAME of an environment variable (e.g. "HUBSPOT_TOKEN"), not a secret');

/** The largest REST response body read by default: 128 MiB (a page of a few thousand records is a few MB). */
export const DEFAULT_MAX_RESPONSE_BYTES = 128 * 2 ** 20;

export const REST_PRESETS = ['hubspot-deals', 'hubspot-companies', 'salesforce-query'] as const;
export type RestPreset = (typeof REST_PRESETS)[number];

const authSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer'), token_env: envName }),
  z.strictObject({
    type: z.literal('api_key'),
    key_env: envName,
    /** Header carrying the key (default `X-API-Key`), or … */
    header: z.string().min(1).optional(),
    /** … a query parameter carrying it (masked in every message). */
    query_param: z.string().min(1).optional()
  }),
  z.strictObject({
    type: z.literal('basic'),
    username: z.string().optional(),
    username_env: envName.optional(),
    password_env: envName
  })
]);

const pagingSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('offset'),
    offset_param: z.string().default('offset'),
    limit_param: z.string().default('limit'),
    limit: z.number().int().positive().default(100),
    start: z.number().int().min(0).default(0)
  }),
  z.strictObject({
    type: z.literal('page'),
    page_param: z.string().default('page'),
    size_param: z.string().optional(),
    size: z.number().int().positive().default(100),
    start: z.number().int().min(0).default(1)
  }),
  z.strictObject({
    type: z.literal('cursor'),
    /** Where the next cursor is in the response body (HubSpot: `paging.next.after`). */
    cursor_path: z.string().default('paging.next.after'),
    /** The query parameter the cursor goes back in. */
    cursor_param: z.string().default('after'),
    limit_param: z.string().optional(),
    limit: z.number().int().positive().optional()
  }),
  z.strictObject({
    type: z.literal('next_url'),
    /** Where the next page's URL (absolute or relative to base_url) is in the body (Salesforce: `nextRecordsUrl`). */
    next_path: z.string().default('nextRecordsUrl'),
    /** A boolean in the body that is true on the last page (Salesforce: `done`). */
    done_path: z.string().optional()
  }),
  z.strictObject({
    type: z.literal('link_header'),
    limit_param: z.string().optional(),
    limit: z.number().int().positive().optional()
  })
]);
export type RestPaging = z.output<typeof pagingSchema>;

const incrementalSchema = z.strictObject({
  /** The record field holding its last-modified time (dotted path); the max seen is the watermark. */
  field: z.string().min(1),
  /** The query parameter that asks for records updated since the watermark. */
  param: z.string().min(1).optional(),
  /** How the watermark is written into `param`. */
  format: z.enum(['iso', 'epoch_ms', 'epoch_s', 'date']).default('iso')
});

const retrySchema = z.strictObject({
  /** Attempts per request, the first included. */
  max_attempts: z.number().int().min(1).max(20).default(5),
  /** Backoff before the 2nd attempt; doubles each time, capped, with full jitter. */
  base_ms: z.number().int().min(0).default(500),
  cap_ms: z.number().int().min(0).default(30_000),
  /** A request without a complete answer after this long is abandoned and retried. */
  timeout_ms: z.number().int().positive().default(30_000),
  /** The longest Retry-After honoured; a longer one fails the sync rather than hanging it. */
  max_retry_after_s: z.number().int().min(0).default(300)
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const restOptionsSchema = z.strictObject({
  ...sharedSourceShape,
  type: z.literal('rest'),
  preset: z.enum(REST_PRESETS).optional(),
  /** `https://api.hubapi.com`, `https://acme.my.salesforce.com`, `http://127.0.0.1:4010/api`. */
  base_url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as "https://api.hubapi.com"' }).optional(),
  path: z.string().optional(),
  /** Extra query parameters sent with every request. */
  query: z.record(z.string(), scalar).optional(),
  /** Extra (non-secret) headers. Credentials go in `auth`, from environment variables. */
  headers: z.record(z.string(), z.string()).optional(),
  auth: authSchema.optional(),
  paging: pagingSchema.optional(),
  /** Where the array of records is in the body (`results`, `records`, `data.items`); empty = the body itself. */
  records_path: z.string().optional(),
  incremental: incrementalSchema.optional(),
  /** HubSpot: properties to request (joined into `properties=`). */
  properties: z.array(z.string().min(1)).optional(),
  /** Salesforce: the SOQL query (without the incremental condition, which is added). */
  soql: z.string().min(1).optional(),
  /** Salesforce REST API version (`v59.0`). */
  api_version: z.string().regex(/^v\d+\.\d$/, 'expected a version such as "v59.0"').optional(),
  retry: retrySchema.optional(),
  /** The largest response body read (bytes, default 128 MiB): a bigger one fails the source, without retrying. */
  max_response_bytes: z.number().int().min(1024).optional()
});

type RestOptions = z.output<typeof restOptionsSchema>;

/**
 * The REST source schema registered in connectors/config.ts. Cross-field rules are checked, and
 * the preset's defaults (URL, paging, records path, properties, `columns`, `stage_map`) are
 * written into the parsed config, so the pipeline maps preset sources like any other. The
 * user's own settings win, key by key for `columns` and `stage_map`.
 */
export const restSourceSchema = restOptionsSchema
  .superRefine((s, ctx) => {
    const at = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (s.preset && s.entity !== PRESET_ENTITY[s.preset]) {
      at(['entity'], `preset "${s.preset}" reads ${PRESET_ENTITY[s.preset]}, not ${s.entity}`);
    }
    if (!s.base_url && s.preset !== 'hubspot-deals' && s.preset !== 'hubspot-companies') {
      at(['base_url'], s.preset === 'salesforce-query' ? 'the Salesforce instance URL is required (e.g. "https://acme.my.salesforce.com")' : 'required');
    }
    if (s.auth?.type === 'api_key' && s.auth.header && s.auth.query_param) at(['auth'], 'give "header" or "query_param", not both');
    if (s.auth?.type === 'basic' && s.auth.username && s.auth.username_env) at(['auth'], 'give "username" or "username_env", not both');
    for (const h of Object.keys(s.headers ?? {})) {
      if (/^(authorization|cookie|x-api-key|proxy-authorization)$/i.test(h)) {
        at(['headers', h], 'credentials go in "auth" (read from an environment variable), not in headers');
      }
    }
    if (s.soql && s.preset !== 'salesforce-query') at(['soql'], 'only the "salesforce-query" preset takes a SOQL query');
    if (s.incremental && !s.incremental.param && !s.preset) {
      at(['incremental', 'param'], 'the query parameter that asks for records updated since the watermark is required');
    }
  })
  .overwrite((s) => {
    if (!s.preset) return s;
    const d = presetDefaults(s.preset, s.api_version ?? 'v59.0');
    return {
      ...s,
      base_url: s.base_url ?? d.base_url,
      path: s.path ?? d.path,
      paging: s.paging ?? d.paging,
      records_path: s.records_path ?? d.records_path,
      properties: s.properties ?? d.properties,
      columns: { ...d.columns, ...(s.columns ?? {}) },
      incremental: s.incremental ?? d.incremental,
      stage_map: d.stage_map || s.stage_map ? { ...(d.stage_map ?? {}), ...(s.stage_map ?? {}) } : undefined,
      ...(s.preset === 'salesforce-query' ? { soql: s.soql ?? SALESFORCE_SOQL, api_version: s.api_version ?? 'v59.0' } : {})
    };
  });

export type RestSourceConfig = RestOptions;

/** The source paths a preset maps by default (JSON APIs leave empty fields out; these read as null). */
export function presetColumnPaths(preset: RestPreset): string[] {
  return Object.values(presetDefaults(preset, 'v59.0').columns);
}

/** A REST source with its preset applied and every default filled. */
export interface RestSource extends Omit<RestOptions, 'base_url' | 'paging' | 'retry' | 'records_path' | 'path' | 'max_response_bytes'> {
  base_url: string;
  max_response_bytes: number;
  path: string;
  paging: RestPaging;
  records_path: string;
  retry: z.output<typeof retrySchema>;
  /** HubSpot incremental reads go through the search endpoint (POST), not the list endpoint. */
  hubspot_search?: { object: string };
}

const HUBSPOT_DEAL_PROPERTIES = [
  'dealname', 'amount', 'dealstage', 'pipeline', 'closedate', 'createdate', 'hs_lastmodifieddate',
  'hubspot_owner_id', 'closed_lost_reason', 'deal_currency_code'
];
const HUBSPOT_COMPANY_PROPERTIES = [
  'name', 'domain', 'industry', 'city', 'state', 'country', 'phone', 'lifecyclestage',
  'hubspot_owner_id', 'createdate', 'hs_lastmodifieddate'
];
const SALESFORCE_SOQL =
  'SELECT Id, Name, StageName, Amount, CloseDate, AccountId, OwnerId, CreatedDate, LastModifiedDate FROM Opportunity';

/**
 * HubSpot's default sales pipeline stage ids and Salesforce's standard opportunity stages, onto
 * the default Chinese B2B stages. A config with its own stages overrides this with `stage_map`.
 */
export const HUBSPOT_STAGE_MAP: Record<string, string> = {
  appointmentscheduled: '初步接洽',
  qualifiedtobuy: '需求分析',
  presentationscheduled: '方案报价',
  decisionmakerboughtin: '商务谈判',
  contractsent: '商务谈判',
  closedwon: '赢单',
  closedlost: '输单'
};
export const SALESFORCE_STAGE_MAP: Record<string, string> = {
  Prospecting: '初步接洽',
  Qualification: '需求分析',
  'Needs Analysis': '需求分析',
  'Value Proposition': '方案报价',
  'Id. Decision Makers': '方案报价',
  'Perception Analysis': '方案报价',
  'Proposal/Price Quote': '方案报价',
  'Negotiation/Review': '商务谈判',
  'Closed Won': '赢单',
  'Closed Lost': '输单'
};

interface PresetDefaults {
  base_url?: string;
  path: string;
  paging: RestPaging;
  records_path: string;
  properties?: string[];
  columns: Record<string, string>;
  incremental: z.output<typeof incrementalSchema>;
  stage_map?: Record<string, string>;
}

function presetDefaults(preset: RestPreset, apiVersion: string): PresetDefaults {
  const cursor: RestPaging = { type: 'cursor', cursor_path: 'paging.next.after', cursor_param: 'after', limit_param: 'limit', limit: 100 };
  switch (preset) {
    case 'hubspot-deals':
      return {
        base_url: 'https://api.hubapi.com',
        path: '/crm/v3/objects/deals',
        paging: cursor,
        records_path: 'results',
        properties: HUBSPOT_DEAL_PROPERTIES,
        columns: {
          opportunity_id: 'id',
          name: 'properties.dealname',
          amount: 'properties.amount',
          stage: 'properties.dealstage',
          expected_close_date: 'properties.closedate',
          created_at: 'properties.createdate',
          updated_at: 'properties.hs_lastmodifieddate',
          owner_id: 'properties.hubspot_owner_id',
          loss_reason: 'properties.closed_lost_reason'
        },
        incremental: { field: 'properties.hs_lastmodifieddate', format: 'epoch_ms' },
        stage_map: HUBSPOT_STAGE_MAP
      };
    case 'hubspot-companies':
      return {
        base_url: 'https://api.hubapi.com',
        path: '/crm/v3/objects/companies',
        paging: cursor,
        records_path: 'results',
        properties: HUBSPOT_COMPANY_PROPERTIES,
        columns: {
          customer_id: 'id',
          name: 'properties.name',
          industry: 'properties.industry',
          region: 'properties.state',
          phone: 'properties.phone',
          owner_id: 'properties.hubspot_owner_id',
          status: 'properties.lifecyclestage',
          created_at: 'properties.createdate'
        },
        incremental: { field: 'properties.hs_lastmodifieddate', format: 'epoch_ms' }
      };
    case 'salesforce-query':
      return {
        path: `/services/data/${apiVersion}/query`,
        paging: { type: 'next_url', next_path: 'nextRecordsUrl', done_path: 'done' },
        records_path: 'records',
        columns: {
          opportunity_id: 'Id',
          name: 'Name',
          stage: 'StageName',
          amount: 'Amount',
          expected_close_date: 'CloseDate',
          customer_id: 'AccountId',
          owner_id: 'OwnerId',
          created_at: 'CreatedDate',
          updated_at: 'LastModifiedDate'
        },
        incremental: { field: 'LastModifiedDate', format: 'iso' },
        stage_map: SALESFORCE_STAGE_MAP
      };
  }
}

const PRESET_ENTITY: Record<RestPreset, string> = {
  'hubspot-deals': 'opportunities',
  'hubspot-companies': 'customers',
  'salesforce-query': 'opportunities'
};

/**
 * A REST source as the reader needs it: validated (again, so a reader called directly gets the
 * same errors as `cockpit sync`), preset applied, every default filled. Throws one error listing
 * every problem, each as `source.NAME.path: message`.
 */
export function resolveRestSource(input: unknown): RestSource {
  const parsed = restSourceSchema.safeParse(input);
  if (!parsed.success) {
    const name = (input as { name?: unknown })?.name;
    const lines = parsed.error.issues.map((i) => `${['source', String(name ?? '?'), ...i.path.map(String)].join('.')}: ${i.message}`);
    throw new Error(lines.join('\n'));
  }
  const s = parsed.data;
  const out: RestSource = {
    ...s,
    base_url: s.base_url!,
    path: s.path ?? '',
    paging: s.paging ?? { type: 'none' },
    records_path: s.records_path ?? '',
    retry: retrySchema.parse(s.retry ?? {}),
    max_response_bytes: s.max_response_bytes ?? DEFAULT_MAX_RESPONSE_BYTES
  };
  if ((s.preset === 'hubspot-deals' || s.preset === 'hubspot-companies') && !s.incremental?.param) {
    out.hubspot_search = { object: s.preset === 'hubspot-deals' ? 'deals' : 'companies' };
  }
  return out;
}
