/**
 * POST /api/alerts/run — evaluates a rule or report now (body `{"name": "...", "dry_run": true,
 * "members": ["U006"], "ignore_quiet_hours": false}`; no name: every enabled one) and answers
 * with what was sent — or, in a dry run, what would be, secrets masked. Executive tokens only.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { alertsAccess } from '$lib/server/alerts/access';
import { runNow } from '$lib/server/alerts/service';

export const POST: RequestHandler = async ({ locals, request }) => {
  const a = alertsAccess(locals);
  if (!a.ok) return json({ error: a.error }, { status: a.status });
  let body: Record<string, unknown>;
  try {
    const text = await request.text();
    body = text ? JSON.parse(text) : {};
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error();
  } catch {
    return json({ error: 'the body must be a JSON object, e.g. {"name": "overdue", "dry_run": true}' }, { status: 400 });
  }
  const name = typeof body.name === 'string' ? body.name : undefined;
  const members = Array.isArray(body.members) ? body.members.filter((m): m is string => typeof m === 'string') : undefined;
  const { db, config } = await app();
  try {
    const runs = await runNow(db, config, { name, dryRun: body.dry_run === true, ignoreQuiet: body.ignore_quiet_hours === true, members });
    return json({ runs }, { headers: { 'cache-control': 'no-store' } });
  } catch (e) {
    const msg = (e as Error).message;
    return json({ error: msg }, { status: msg.startsWith('no rule or report named') ? 404 : 500 });
  }
};
