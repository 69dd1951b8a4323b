/**
 * GET /alerts/image/<id>.png — a report's chart, for chat platforms that show an image only by
 * URL (DingTalk markdown, Slack image blocks). Public by design, like a signed link: the id is
 * 128 random bits, images are kept 31 days, and nothing else can be reached through this path.
 */
import type { RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { loadImage } from '$lib/server/alerts/store';

export const GET: RequestHandler = async ({ params }) => {
  const m = /^([0-9a-f]{32})\.png$/.exec(params.file ?? '');
  const png = m ? await loadImage((await app()).db, m[1]) : null;
  if (!png) return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
  return new Response(new Uint8Array(png), { headers: { 'content-type': 'image/png', 'cache-control': 'private, max-age=86400', 'content-length': String(png.length) } });
};
