/**
 * GET /api/models/<name>?<params> — every model in the catalog through one route.
 * JSON by default; an Arrow IPC stream when the request accepts
 * `application/vnd.apache.arrow.stream`. 400 with the zod issues on a bad parameter, 404 for
 * an unknown model, 401 without access.
 *
 * Answers come through the result cache (src/lib/server/models/cache.ts): the header
 * `x-cockpit-cache` and the JSON's `cache` field say `hit` (from memory), `miss` (computed now)
 * or `coalesced` (computed once for this and identical calls in flight).
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { ARROW_STREAM, rowsToArrowTable, toArrowIPC } from '$lib/server/db/arrow';
import { ModelError, runModelCached } from '$lib/server/models/run';
import { paramsFromEntries } from '../../../../../models/common/params';

export const GET: RequestHandler = async ({ params, url, request, locals }) => {
  if (!locals.scope) {
    return json({ error: 'unauthorized: a token is required' }, { status: 401, headers: { 'cache-control': 'no-store' } });
  }
  const { config, db } = await app();
  try {
    const raw: Record<string, unknown> = paramsFromEntries(url.searchParams);
    delete raw.lang;
    // Filters fixed by the token override whatever the request says.
    for (const [k, v] of Object.entries(locals.lockedFilters ?? {})) raw[k] = v;
    const { entry, state } = await runModelCached(db, config, params.name ?? '', raw, locals.scope);
    const result = entry.result;
    const headers = { 'cache-control': 'no-store', 'x-query-ms': String(result.ms), 'x-cockpit-cache': state };
    if ((request.headers.get('accept') ?? '').includes(ARROW_STREAM)) {
      const table = rowsToArrowTable(result.columns, result.rows, {
        model: result.model,
        n: String(result.n),
        as_of: result.as_of,
        period: JSON.stringify(result.period),
        date_field: result.date_field,
        definition: JSON.stringify(result.definition),
        summary: JSON.stringify(result.summary ?? null)
      });
      return new Response(Buffer.from(toArrowIPC(table)), { headers: { ...headers, 'content-type': ARROW_STREAM } });
    }
    // The cached JSON text with the cache state in front: no serialization on a hit.
    return new Response(`{"cache":"${state}",${entry.json.slice(1)}`, { headers: { ...headers, 'content-type': 'application/json' } });
  } catch (e) {
    if (e instanceof ModelError) {
      if (e.status === 500) console.error(e.message);
      return json({ error: e.message, issues: e.issues }, { status: e.status });
    }
    throw e;
  }
};
