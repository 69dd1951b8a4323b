/** GET /api/import/rejected?run=ID&format=xlsx|csv — a run's rejected rows to fix and upload again. */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { importAccess } from '$lib/server/ledgers/upload';
import { rejectedFile } from '$lib/server/ledgers/service';

export const GET: RequestHandler = async ({ locals, url }) => {
  const a = importAccess(locals);
  if (!a.ok) return json({ error: a.error }, { status: a.status });
  const run = url.searchParams.get('run') ?? '';
  const format = url.searchParams.get('format') === 'csv' ? 'csv' : 'xlsx';
  if (!/^[0-9a-f-]{36}$/.test(run)) return json({ error: 'run: expected a run id' }, { status: 400 });
  const { db } = await app();
  const bytes = await rejectedFile(db, run, format);
  if (!bytes) return json({ error: `no rejected rows for run ${run}` }, { status: 404 });
  return new Response(bytes as unknown as BodyInit, {
    headers: {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'content-disposition': `attachment; filename="rejected.${format}"; filename*=UTF-8''${encodeURIComponent(`rejected-${run.slice(0, 8)}.${format}`)}`,
      'cache-control': 'no-store'
    }
  });
};
