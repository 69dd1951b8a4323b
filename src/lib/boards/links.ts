/**
 * Links between pages that are not a state patch of the same board: a customer's 360° page
 * (/customers/<id>) from every customer name. The page keeps the view's language, report date
 * and token (`withView`).
 */
export const customerHref = (id: unknown): string | null =>
  typeof id === 'string' && id.length > 0 ? `/customers/${encodeURIComponent(id)}` : null;

/** `href` with the current page's `lang`, `as_of` and `token` carried over (when it has none of its own). */
export function withView(href: string, current: URL): string {
  const u = new URL(href, 'http://x');
  for (const k of ['lang', 'as_of', 'token']) {
    const v = current.searchParams.get(k);
    if (v && !u.searchParams.has(k)) u.searchParams.set(k, v);
  }
  return `${u.pathname}${u.search}`;
}
