/**
 * GET /branding/logo — the logo file `branding.logo` names (relative to the config file, and
 * inside its directory or an allowed one, like every configured path); 404 when none is set.
 */
import { error, type RequestHandler } from '@sveltejs/kit';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { app } from '$lib/server/app';

const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', svg: 'image/svg+xml', webp: 'image/webp' };
const MAX_BYTES = 2 * 1024 * 1024;

export const GET: RequestHandler = async () => {
  const { config, dir } = await app();
  const logo = config.branding.logo;
  if (!logo) error(404, 'no logo configured (branding.logo)');
  const file = isAbsolute(logo) ? logo : resolve(dir, logo);
  const ext = (/\.([a-z]+)$/i.exec(file)?.[1] ?? '').toLowerCase();
  const type = TYPES[ext];
  if (!type) error(404, 'the logo must be a .png, .jpg, .svg or .webp file');
  let size = 0;
  try {
    size = (await stat(file)).size;
  } catch {
    error(404, `logo file not found: ${logo}`);
  }
  if (size > MAX_BYTES) error(404, 'the logo file is larger than 2 MB');
  const body = await readFile(file);
  return new Response(new Uint8Array(body), {
    headers: {
      'content-type': type,
      'cache-control': 'public, max-age=300',
      // An SVG is shown as an image (<img> runs no script); opened directly, it is a download,
      // never a document of this origin.
      'content-disposition': 'attachment; filename="logo"',
      'x-content-type-options': 'nosniff'
    }
  });
};
