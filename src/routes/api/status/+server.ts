/** GET /api/status — freshness (last successful sync), data size and mode, for badges and health checks. */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';

export const GET: RequestHandler = async ({ locals }) => {
  const { db, config } = await app();
  const { rows } = await db.query<{ last_synced_at: string | null; company: string | null; scale: string | null; opportunities: number }>(
    `SELECT (SELECT strftime(max(finished_at), '%Y-%m-%dT%H:%M:%SZ') FROM sync_runs WHERE status = 'ok') AS last_synced_at,
            (SELECT value FROM meta WHERE key = 'demo.company') AS company,
            (SELECT value FROM meta WHERE key = 'demo.scale') AS scale,
            (SELECT count(*) FROM opportunities)::INTEGER AS opportunities`
  );
  const r = rows[0];
  return json(
    {
      ok: true,
      demo_mode: locals.demoMode,
      last_synced_at: r.last_synced_at,
      stale_after_minutes: config.cockpit.stale_after_minutes,
      refresh_seconds: config.cockpit.refresh_seconds,
      currency: config.currency,
      demo: r.scale ? { company: r.company, scale: r.scale } : null,
      // Row counts only for a viewer with access; freshness is fine to show on a locked frame.
      opportunities: locals.scope ? r.opportunities : undefined,
      server_time: new Date().toISOString()
    },
    { headers: { 'cache-control': 'no-store' } }
  );
};
