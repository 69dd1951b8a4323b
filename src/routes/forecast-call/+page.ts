import { getJson } from '$lib/api';
import type { PageLoad } from './$types';
import type { CallDeal, CallRow } from '$lib/server/forecast-call/calls';

export interface CallView {
  period: { from: string; to: string };
  as_of: string;
  /** The API's rows (src/lib/server/forecast-call/calls.ts) with the system's numbers beside each. */
  rows: (CallRow & { system_forecast: number; closed_won: number; target: number | null; category_commit: number; category_best_case: number })[];
  total: { system_forecast: number; closed_won: number; target: number | null } | null;
  /** With `deals=<level>:<subject>`: that call's open deals and their categories. */
  deals?: CallDeal[];
}

/** /forecast-call?from=…&to=…&as_of=…: the calls the viewer sees (default this quarter). */
export const load: PageLoad = async ({ fetch, url }) => {
  const q = new URLSearchParams();
  for (const k of ['from', 'to', 'as_of']) {
    const v = url.searchParams.get(k);
    if (v) q.set(k, v);
  }
  return { calls: await getJson<CallView>(fetch, `/api/forecast-call?${q}`) };
};
