/** POST /api/import/preview — the preview of a stored upload with the page's choices (sheet, entity, header row, unit, date order, mapping). */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { importAccess, parseChoices, UploadError } from '$lib/server/ledgers/upload';
import { preview } from '$lib/server/ledgers/service';

export const POST: RequestHandler = async ({ locals, request }) => {
  const a = importAccess(locals);
  if (!a.ok) return json({ error: a.error }, { status: a.status });
  const { config, dir } = await app();
  try {
    const choices = parseChoices(await request.json().catch(() => null));
    return json(await preview(config, dir, choices), { headers: { 'cache-control': 'no-store' } });
  } catch (e) {
    return json({ error: e instanceof Error ? e.message : String(e) }, { status: e instanceof UploadError ? 400 : 422 });
  }
};
