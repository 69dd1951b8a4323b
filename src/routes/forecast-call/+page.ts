import { getJson } from '$lib/api';
import type { PageLoad } from './$types';

export interface CallView {
  period: { from: string; to: string };
  as_of: string;
  rows: {
    level: 'rep' | 'team';
    subject: string;
    name: string | null;
    team_id: string | null;
    commit: number | null;
    best_case: number | null;
    note: string | null;
    submitted_by: string | null;
    submitted_at: string | null;
    submissions: number;
    rollup_commit: number | null;
    rollup_best_case: number | null;
    may_write: boolean;
    system_forecast: number;
    closed_won: number;
    target: number | null;
  }[];
  total: { system_forecast: number; closed_won: number; target: number | null } | null;
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
