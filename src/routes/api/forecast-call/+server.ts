/**
 * The forecast call (src/lib/server/forecast-call/calls.ts).
 * GET  /api/forecast-call?from=…&to=…[&as_of=…]  — the calls of the reps and teams in the viewer's
 *      scope, each with the system's forecast (`forecast` model: won + weighted pipeline) and the
 *      target beside it, and whether the viewer may write it; `history=<level>:<subject>` adds
 *      that call's submissions (who, when, what, the category overrides each carried);
 *      `deals=<level>:<subject>` the subject's open deals of the period with their system
 *      category and the override in force. Each row has `category_commit` / `category_best_case`:
 *      the system's category roll-up (won + open deals by category) with the calls' overrides applied.
 * POST /api/forecast-call  {period_from, period_to, level: rep|team, subject, commit, best_case, note?,
 *      overrides?: [{opportunity_id, category}]} — stored when the token may write it and every
 *      overridden deal is the subject's own open deal (403 otherwise); every attempt audited.
 */
import { json, type RequestHandler } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { callDeals, callHistory, readCalls, submitCall, type Actor } from '$lib/server/forecast-call/calls';
import { runModel, stageInfos } from '$lib/server/models/run';
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
  const stages = stageInfos(config);
  const rows = await readCalls(db, actor, { from, to }, stages);
  // The system's forecast and the target beside every call, from the forecast model (same scope).
  const params = { from, to, as_of: asOf, ...locals.lockedFilters };
  const byOwner = await runModel(db, config, 'forecast', { ...params, group_by: 'owner' }, scope);
  const ownerF = new Map(byOwner.rows.map((r) => [r.group_key as string, r]));
  const out = [];
  for (const r of rows) {
    const f = r.level === 'rep' ? ownerF.get(r.subject) : (await runModel(db, config, 'forecast', { ...params, team: r.subject }, scope)).rows[0];
    out.push({
      ...r,
      system_forecast: (f?.forecast as number | undefined) ?? 0,
      closed_won: (f?.closed_won as number | undefined) ?? 0,
      target: (f?.target as number | null | undefined) ?? null,
      category_commit: ((f?.commit as number | undefined) ?? 0) + r.override_commit_delta,
      category_best_case: ((f?.best_case as number | undefined) ?? 0) + r.override_best_case_delta
    });
  }
  const total = (await runModel(db, config, 'forecast', params, scope)).rows[0];
  const history = q.get('history');
  const [hl, ...hs] = (history ?? '').split(':');
  const deals = q.get('deals');
  const [dl, ...ds] = (deals ?? '').split(':');
  return json(
    {
      period: { from, to },
      as_of: asOf,
      rows: out,
      total: total ? { system_forecast: total.forecast, closed_won: total.closed_won, target: total.target } : null,
      history: history && (hl === 'rep' || hl === 'team') ? await callHistory(db, actor, { from, to }, hl, hs.join(':')) : undefined,
      deals: deals && (dl === 'rep' || dl === 'team') ? await callDeals(db, actor, { from, to }, dl, ds.join(':'), stages) : undefined
    },
    { headers: noStore }
  );
};

export const POST: RequestHandler = async ({ locals, request }) => {
  const actor = actorOf(locals);
  if (!actor) return json({ error: 'unauthorized: a token is required' }, { status: 401 });
  const { db, config } = await app();
  const body = await request.json().catch(() => undefined);
  const r = await submitCall(db, actor, body, new Date(), stageInfos(config));
  return json(r, { status: r.status, headers: noStore });
};
