/**
 * Loading the cockpit (`/cockpit?pages=overview,forecast&rotate=30&refresh=60`): the pages to
 * play (unknown names are skipped), each a board loaded like `/boards/<id>`, and the status.
 * Shared by the streamed server render (src/routes/cockpit/+page.server.ts) and the browser's
 * load (+page.ts).
 */
import { getJson, type Fetched, type Status } from '$lib/api';
import { loadBoard, type BoardData } from '$lib/boards/load';
import { WALL_PAGES } from '$lib/boards/wall';

/** The wall pages `?pages=` names, in order, without repeats; `overview` when none is known. */
export function wallPages(url: URL): string[] {
  const names = (url.searchParams.get('pages') ?? 'overview')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => Object.hasOwn(WALL_PAGES, s));
  return names.length ? [...new Set(names)] : ['overview'];
}

export interface CockpitData {
  pages: string[];
  boards: BoardData[];
  status: Status | null;
}

/** Every page's board and the status; `budgetMs` streams the slow tiles (see loadBoard). */
export async function loadCockpit(fetchFn: typeof fetch, url: URL, budgetMs?: number): Promise<CockpitData> {
  const pages = wallPages(url);
  const [boards, status] = await Promise.all([
    Promise.all(pages.map((p) => loadBoard(fetchFn, url, WALL_PAGES[p], undefined, budgetMs))),
    getJson<Status>(fetchFn, '/api/status') as Promise<Fetched<Status>>
  ]);
  return { pages, boards, status: status.ok ? status.data : null };
}
