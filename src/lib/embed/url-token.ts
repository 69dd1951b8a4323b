/**
 * A token given in an embed URL (`/embed/pipeline?token=…`, for hosts that cannot use the SDK)
 * is taken out of the address bar before the router starts (hooks.client.ts `init`), so it
 * never reaches the history, the page's `url`, links built from it, or a Referer. The frame
 * bridge then picks it up from memory.
 */
let pending: string | null = null;

export function captureUrlToken(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (!token) return;
  url.searchParams.delete('token');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
  if (url.pathname === '/embed' || url.pathname.startsWith('/embed/')) pending = token;
}

/** The token captured from the URL, once. */
export function takeUrlToken(): string | null {
  const t = pending;
  pending = null;
  return t;
}
