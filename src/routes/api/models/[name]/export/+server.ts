/**
 * GET /api/models/<name>/export?format=csv|xlsx&<params> — the rows of a model as a file,
 * streamed. For a row-listing model (deals, payment_list) that is every row matching the
 * filters, search and sort of the table in view — all pages, in the same order; `limit` and
 * `offset` are ignored. The viewer's scope applies exactly as for the JSON API. Column
 * headers are in the request's language (`lang`).
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { ModelError, openExport } from '$lib/server/models/run';
import { CONTENT_TYPES, EXPORT_FORMATS, contentDisposition, csvStream, xlsxStream, type ExportFormat } from '$lib/server/export/export';
import { columnLabel } from '$lib/i18n/columns';
import { paramsFromEntries } from '../../../../../../models/common/params';

export const GET: RequestHandler = async ({ params, url, locals }) => {
  if (!locals.scope) {
    return json({ error: 'unauthorized: a token is required' }, { status: 401, headers: { 'cache-control': 'no-store' } });
  }
  const format = (url.searchParams.get('format') ?? 'csv') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) {
    return json({ error: `format: expected one of ${EXPORT_FORMATS.join(', ')}, got "${format}"` }, { status: 400 });
  }
  const raw = paramsFromEntries(url.searchParams);
  for (const k of ['format', 'lang', 'theme', 'limit', 'offset']) delete raw[k];
  // Filters fixed by the token override whatever the request says (as for the JSON API).
  for (const [k, v] of Object.entries(locals.lockedFilters ?? {})) raw[k] = v;
  const { config, db } = await app();
  try {
    const source = await openExport(db, config, params.name ?? '', raw, locals.scope, new Date(), { format });
    const locale = locals.locale;
    const headers = source.columns.map((c) => columnLabel(c.name, locale));
    const title = source.model.title[locale];
    const body = format === 'csv' ? csvStream(source, headers) : xlsxStream(source, headers, title);
    return new Response(body, {
      headers: {
        'content-type': CONTENT_TYPES[format],
        'content-disposition': contentDisposition(`${source.model.name}-${source.asOf}.${format}`, `${title}-${source.asOf}.${format}`),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff'
      }
    });
  } catch (e) {
    if (e instanceof ModelError) {
      if (e.status === 500) console.error(e.message);
      return json({ error: e.message, issues: e.issues }, { status: e.status });
    }
    throw e;
  }
};
