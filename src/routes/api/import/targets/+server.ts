/**
 * POST /api/import/targets — targets typed on the upload page (`{"rows": [{owner_id | team_id,
 * metric, period_start, period_end, amount}], "unit": "万元"}`): written to a CSV under
 * uploads/ and imported like an uploaded targets file (same rules, one transaction).
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { importAccess, targetsCsv, UploadError } from '$lib/server/ledgers/upload';
import { importUpload } from '$lib/server/ledgers/service';

export const POST: RequestHandler = async ({ locals, request }) => {
  const a = importAccess(locals);
  if (!a.ok) return json({ error: a.error }, { status: a.status });
  const { db, config, dir } = await app();
  try {
    const body = (await request.json().catch(() => null)) as { rows?: unknown; unit?: unknown } | null;
    if (!body) throw new UploadError('the body must be JSON: {"rows": [...]}');
    const file = targetsCsv(dir, body.rows);
    const unit = typeof body.unit === 'string' && body.unit ? body.unit : undefined;
    const r = await importUpload(db, config, dir, { file, entity: 'targets', name: 'targets-entered', unit }, false);
    return json(r, { status: r.report.ok ? 200 : 422, headers: { 'cache-control': 'no-store' } });
  } catch (e) {
    return json({ error: e instanceof Error ? e.message : String(e) }, { status: e instanceof UploadError ? 400 : 500 });
  }
};
