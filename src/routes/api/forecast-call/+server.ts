/**
 * The forecast call (src/lib/server/forecast-call/calls.ts).
 * GET  /api/forecast-call?from=…&to=…[&as_of=…]  — the calls of the reps and teams in the viewer's
 *      scope, each with the system's forecast (`forecast` model: won + weighted pipeline) and the
 *      target beside it, and whether the viewer may write it; `history=<level>:<subject>` adds
 *      that call's submissions (who, when, what).
 * POST /api/forecast-call  {period_from, period_to, level: rep|team, subject, commit, best_case, note?}
 *      — stored when the token may write it (403 otherwise); every attempt audited.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { runModel } from '$lib/server/models/run';
import { callHistory, readCalls, submitCall, type Actor } from '$lib/server/forecast-call/calls';
import { dateString } from '../../../../models/common/params';
import { resolvePreset, todayIn } from '../../../../models/common/period';

function actorOf(locals: App.Locals): Actor | null {
  if (locals.demoMode) return { demo: true };
  if (!locals.viewer) return null;
  return { demo: false, claims: locals.viewer, scope: locals.scope };
}

const noStore = { 'cache-control': 'no-store' };

export const GET: RequestHandler = async ({ locals, url }) => {
  const actor = actorOf(locals);
  if (!actor) return json({ error: 'unauthorized: a token is required' }, { status: 401 });
  const { db, config } = await app();
  const q = url.searchParams;
  const asOf = q.get('as_of') ?? todayIn(config.timezone);
  const fallback = resolvePreset('this_quarter', dateString.safeParse(asOf).success ? asOf : todayIn(config.timezone), config.fiscal_year_start_month);
  const from = q.get('from') ?? fallback.from;
  const to = q.get('to') ?? fallback.to;
  for (const [k, v] of [['from', from], ['to', to], ['as_of', asOf]] as const) {
    if (!dateString.safeParse(v).success) return json({ error: `${k}: expected a date YYYY-MM-DD, got ${v}` }, { status: 400 });
  }
  if (from >= to) return json({ error: 'to must be after from (exclusive end)' }, { status: 400 });
  const scope = actor.demo ? { all: true as const } : actor.scope;
  const rows = await readCalls(db, actor, { from, to });
  // The system's forecast and the target beside every call, from the forecast model (same scope).
  const params = { from, to, as_of: asOf, ...locals.lockedFilters };
  const byOwner = await runModel(db, config, 'forecast', { ...params, group_by: 'owner' }, scope);
  const ownerF = new Map(byOwner.rows.map((r) => [r.group_key as string, r]));
  const out = [];
  for (const r of rows) {
    const f = r.level === 'rep' ? ownerF.get(r.subject) : (await runModel(db, config, 'forecast', { ...params, team: r.subject }, scope)).rows[0];
    out.push({ ...r, system_forecast: (f?.forecast as number | undefined) ?? 0, closed_won: (f?.closed_won as number | undefined) ?? 0, target: (f?.target as number | null | undefined) ?? null });
  }
  const total = (await runModel(db, config, 'forecast', params, scope)).rows[0];
  const history = q.get('history');
  const [hl, ...hs] = (history ?? '').split(':');
  return json(
    {
      period: { from, to },
      as_of: asOf,
      rows: out,
      total: total ? { system_forecast: total.forecast, closed_won: total.closed_won, target: total.target } : null,
      history: history && (hl === 'rep' || hl === 'team') ? await callHistory(db, actor, { from, to }, hl, hs.join(':')) : undefined
    },
    { headers: noStore }
  );
};

export const POST: RequestHandler = async ({ locals, request }) => {
  const actor = actorOf(locals);
  if (!actor) return json({ error: 'unauthorized: a token is required' }, { status: 401 });
  const { db } = await app();
  const body = await request.json().catch(() => undefined);
  const r = await submitCall(db, actor, body);
  return json(r, { status: r.status, headers: noStore });
};
