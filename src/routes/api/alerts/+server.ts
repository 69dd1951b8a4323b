/**
 * GET /api/alerts — the rules and reports with their next runs, the last evaluation per audience
 * member and the latest deliveries (`?limit=`, default 50). Executive tokens only (open in the
 * local demo). `cockpit alerts` asks this when the server holds the database.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { alertsAccess } from '$lib/server/alerts/access';
import { overview } from '$lib/server/alerts/service';

export const GET: RequestHandler = async ({ locals, url }) => {
  const a = alertsAccess(locals);
  if (!a.ok) return json({ error: a.error }, { status: a.status });
  const { db, config } = await app();
  const limit = Math.max(1, Math.min(1000, Math.floor(Number(url.searchParams.get('limit') ?? 50)) || 50));
  return json(await overview(db, config, new Date(), limit), { headers: { 'cache-control': 'no-store' } });
};
