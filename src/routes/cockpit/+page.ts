import { loadCockpit } from '$lib/cockpit/load';
import type { PageLoad } from './$types';

/**
 * `/cockpit?pages=overview,forecast&rotate=30&refresh=60`: the pages to play, seconds per page,
 * and seconds between refreshes (default from the config). The first load takes the server's
 * streamed data (./+page.server.ts); a load in the browser fetches everything itself.
 */
export const load: PageLoad = async ({ fetch, url, data }) => {
  const { pages, boards, status } =
    data.streamed && data.streamed.href === url.pathname + url.search ? data.streamed : await loadCockpit(fetch, url);
  const num = (k: string, fallback: number, min: number) => {
    const v = Number(url.searchParams.get(k) ?? fallback);
    return Number.isFinite(v) && v >= min ? v : fallback;
  };
  const defaultRefresh = status ? status.refresh_seconds : 60;
  return {
    pages,
    boards,
    status,
    refreshSeconds: num('refresh', defaultRefresh, 1),
    rotateSeconds: num('rotate', 30, 5)
  };
};
