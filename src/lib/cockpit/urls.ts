import { modelUrl } from '$lib/api';

/** The cockpit's queries; every number on the page comes from these API calls. */
export function cockpitUrls(url: URL) {
  const asOf = url.searchParams.get('as_of') ?? undefined;
  return {
    kpis: modelUrl('kpis', { period: 'this_quarter', as_of: asOf }),
    // The funnel cohort is the year's: a quarter-old cohort is mostly still in flight.
    funnel: modelUrl('funnel', { period: 'this_year', as_of: asOf }),
    status: '/api/status'
  };
}
