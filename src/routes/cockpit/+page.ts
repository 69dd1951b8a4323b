import { cockpitUrls } from '$lib/cockpit/urls';
import { getJson, type FunnelRow, type KpiRow, type ModelResult, type Status } from '$lib/api';
import type { PageLoad } from './$types';

export const load: PageLoad = async ({ fetch, url }) => {
  const urls = cockpitUrls(url);
  const [kpis, funnel, status] = await Promise.all([
    getJson<ModelResult<KpiRow>>(fetch, urls.kpis),
    getJson<ModelResult<FunnelRow>>(fetch, urls.funnel),
    getJson<Status>(fetch, urls.status)
  ]);
  const refresh = Number(url.searchParams.get('refresh') ?? (status.ok ? status.data.refresh_seconds : 60));
  return {
    kpis: kpis.ok ? kpis.data : null,
    funnel: funnel.ok ? funnel.data : null,
    status: status.ok ? status.data : null,
    error: !kpis.ok ? kpis.error : !funnel.ok ? funnel.error : null,
    refreshSeconds: Number.isFinite(refresh) && refresh >= 1 ? refresh : 60
  };
};
