/**
 * POST /api/import/commit — imports a stored upload with the page's choices in one
 * transaction; `save: true` also adds it as a source to cockpit.config.json. Answers with the
 * report and the rejected rows (sheet, row, column, value, reason).
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { importAccess, parseChoices, UploadError } from '$lib/server/ledgers/upload';
import { importUpload } from '$lib/server/ledgers/service';

export const POST: RequestHandler = async ({ locals, request }) => {
  const a = importAccess(locals);
  if (!a.ok) return json({ error: a.error }, { status: a.status });
  const { db, config, dir } = await app();
  try {
    const body = await request.json().catch(() => null);
    const choices = parseChoices(body);
    const r = await importUpload(db, config, dir, choices, !!(body as { save?: unknown }).save);
    return json(r, { status: r.report.ok ? 200 : 422, headers: { 'cache-control': 'no-store' } });
  } catch (e) {
    return json({ error: e instanceof Error ? e.message : String(e) }, { status: e instanceof UploadError ? 400 : 500 });
  }
};
