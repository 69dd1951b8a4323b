/**
 * POST /api/sync — runs the configured sources now (body: `{"sources": ["name", …]}`, default
 * all) and answers with the sync report. Single-flight: a request while a sync runs joins it
 * (`joined: true`) instead of starting another. Needs an executive token once security is
 * configured; open only in demo mode. The CLI uses it when the server holds the database.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { syncOnce } from '../../../../connectors/load/server-sync';

export const POST: RequestHandler = async ({ locals, request }) => {
  if (!locals.demoMode) {
    if (!locals.viewer) return json({ error: 'unauthorized: a token is required' }, { status: 401 });
    if (locals.viewer.role !== 'executive') return json({ error: 'forbidden: only an executive token may run a sync' }, { status: 403 });
  }
  const { db, config, dir } = await app();
  let body: { sources?: unknown } = {};
  let text: string;
  try {
    text = await request.text();
  } catch (e) {
    // adapter-node stops reading past BODY_SIZE_LIMIT (512K by default) with a 413.
    const status = (e as { status?: number }).status === 413 ? 413 : 400;
    return json({ error: status === 413 ? 'the body is too large (BODY_SIZE_LIMIT)' : 'cannot read the body' }, { status });
  }
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    return json({ error: 'the body must be JSON, e.g. {"sources": ["crm"]}' }, { status: 400 });
  }
  const only = Array.isArray(body.sources) ? body.sources.filter((s): s is string => typeof s === 'string') : [];
  const unknown = only.filter((n) => !config.sources.some((s) => s.name === n));
  if (unknown.length) return json({ error: `unknown source "${unknown[0]}"; sources: ${config.sources.map((s) => s.name).join(', ')}` }, { status: 400 });
  if (config.sources.length === 0) return json({ error: 'no sources configured' }, { status: 400 });
  const { joined, report } = syncOnce(db, config, dir, only);
  const r = await report;
  return json({ joined, report: r }, { status: r.ok ? 200 : 500, headers: { 'cache-control': 'no-store' } });
};
