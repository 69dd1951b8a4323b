/**
 * GET /api/models/<name>?<params> — every model in the catalog through one route.
 * JSON by default; an Arrow IPC stream when the request accepts
 * `application/vnd.apache.arrow.stream`. 400 with the zod issues on a bad parameter, 404 for
 * an unknown model, 401 without access.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { ARROW_STREAM, rowsToArrowTable, toArrowIPC } from '$lib/server/db/arrow';
import { ModelError, runModel } from '$lib/server/models/run';
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
    const result = await runModel(db, config, params.name ?? '', raw, locals.scope);
    const headers = { 'cache-control': 'no-store', 'x-query-ms': String(result.ms) };
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
    return json(result, { headers });
  } catch (e) {
    if (e instanceof ModelError) {
      if (e.status === 500) console.error(e.message);
      return json({ error: e.message, issues: e.issues }, { status: e.status });
    }
    throw e;
  }
};
