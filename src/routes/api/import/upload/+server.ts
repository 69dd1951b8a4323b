/**
 * POST /api/import/upload — stores an .xlsx/.csv file (the raw body; its name in
 * `x-file-name`, URL-encoded) under uploads/ and answers with its preview (sheets, header,
 * mapping, parsed first rows). Executive or admin token, or the open local demo.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { importAccess, storeUpload, UploadError } from '$lib/server/ledgers/upload';
import { preview } from '$lib/server/ledgers/service';

export const POST: RequestHandler = async ({ locals, request, url }) => {
  const a = importAccess(locals);
  if (!a.ok) return json({ error: a.error }, { status: a.status });
  const { config, dir } = await app();
  let name: string;
  try {
    name = decodeURIComponent(request.headers.get('x-file-name') ?? '');
  } catch {
    return json({ error: 'x-file-name: malformed' }, { status: 400 });
  }
  if (!name) return json({ error: 'x-file-name: the file name is required' }, { status: 400 });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await request.arrayBuffer());
  } catch (e) {
    const status = (e as { status?: number }).status === 413 ? 413 : 400;
    return json({ error: status === 413 ? 'the file is larger than the server accepts (BODY_SIZE_LIMIT)' : 'cannot read the file' }, { status });
  }
  try {
    const file = storeUpload(dir, name, bytes);
    const entity = url.searchParams.get('entity') || undefined;
    return json(await preview(config, dir, { file, entity: entity as never }), { headers: { 'cache-control': 'no-store' } });
  } catch (e) {
    return json({ error: e instanceof Error ? e.message : String(e) }, { status: e instanceof UploadError ? 400 : 422 });
  }
};
