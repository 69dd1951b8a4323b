import { getJson, type Status } from '$lib/api';
import { loadBoard } from '$lib/boards/load';
import { WALL_PAGES } from '$lib/boards/wall';
import type { PageLoad } from './$types';

/**
 * `/cockpit?pages=overview,forecast&rotate=30&refresh=60`: the pages to play (unknown names
 * are skipped), seconds per page, and seconds between refreshes (default from the config).
 */
export const load: PageLoad = async ({ fetch, url }) => {
  const names = (url.searchParams.get('pages') ?? 'overview')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => Object.hasOwn(WALL_PAGES, s));
  const pages = names.length ? [...new Set(names)] : ['overview'];
  const [datas, status] = await Promise.all([Promise.all(pages.map((p) => loadBoard(fetch, url, WALL_PAGES[p]))), getJson<Status>(fetch, '/api/status')]);
  const num = (k: string, fallback: number, min: number) => {
    const v = Number(url.searchParams.get(k) ?? fallback);
    return Number.isFinite(v) && v >= min ? v : fallback;
  };
  const defaultRefresh = status.ok ? status.data.refresh_seconds : 60;
  return {
    pages,
    boards: datas,
    status: status.ok ? status.data : null,
    refreshSeconds: num('refresh', defaultRefresh, 1),
    rotateSeconds: num('rotate', 30, 5)
  };
};
