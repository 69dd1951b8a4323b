/**
 * The frame side of an embed: receives the token and filters from the host page (the SDK) or
 * from `?token=` on first load (then removed from the URL and kept in memory only), reports
 * its height, emits drill / filter / error events, and warns the host a minute before the
 * token expires. An expired or rejected token shows a message in the frame, never a blank one.
 */
import { onUnauthorized, setApiToken } from '$lib/api';
import { takeUrlToken } from './url-token';

const HOST = 'crm-cockpit-host';
const FRAME = 'crm-cockpit';
const WARN_BEFORE_MS = 60_000;

export type EmbedState = 'waiting' | 'ready' | 'expired';

/** What the frame reads from its token (unverified: only to shape the view; the server verifies). */
export interface FrameClaims {
  exp: number | null;
  boards?: string[];
  tiles?: string[];
  filters?: Record<string, string | string[]>;
  locale?: 'zh-CN' | 'en';
  theme?: 'dark' | 'light';
}

/** A JWT's payload, decoded without verifying. */
export function readClaims(token: string): FrameClaims | null {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      Array.from(atob(b64), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')
    );
    const p = JSON.parse(json);
    return {
      exp: typeof p.exp === 'number' ? p.exp : null,
      boards: Array.isArray(p.boards) ? p.boards : undefined,
      tiles: Array.isArray(p.tiles) ? p.tiles : undefined,
      filters: p.filters && typeof p.filters === 'object' ? p.filters : undefined,
      locale: p.locale === 'en' || p.locale === 'zh-CN' ? p.locale : undefined,
      theme: p.theme === 'dark' || p.theme === 'light' ? p.theme : undefined
    };
  } catch {
    return null;
  }
}

/** `exp` of a JWT (seconds), read without verifying: the server verifies on every call. */
export function tokenExpiry(token: string): number | null {
  return readClaims(token)?.exp ?? null;
}

export class EmbedBridge {
  state = $state<EmbedState>('waiting');
  /** Filters set by the host (applied over the board's own; the token's locked filters win on the server). */
  hostFilters = $state<Record<string, string[]> | null>(null);
  /** Bumped whenever a new token arrives, so views can refetch. */
  tokenVersion = $state(0);
  reason = $state<string | null>(null);
  claims = $state<FrameClaims | null>(null);
  private waiters: (() => void)[] = [];
  private hostOrigin: string | null = null;
  private warnTimer: ReturnType<typeof setTimeout> | null = null;
  private expireTimer: ReturnType<typeof setTimeout> | null = null;
  private cleanups: (() => void)[] = [];

  constructor(
    private readonly board: string,
    private readonly tile?: string
  ) {}

  /** Starts listening; call once on mount (client only). */
  start() {
    const fromUrl = takeUrlToken();
    if (fromUrl) this.acceptToken(fromUrl);
    const onMessage = (event: MessageEvent) => {
      if (event.source !== window.parent || window.parent === window) return;
      const msg = event.data;
      if (!msg || msg.source !== HOST || typeof msg.type !== 'string') return;
      this.hostOrigin ??= event.origin;
      if (event.origin !== this.hostOrigin) return;
      if ((msg.type === 'init' || msg.type === 'token') && typeof msg.token === 'string') this.acceptToken(msg.token);
      if ((msg.type === 'init' || msg.type === 'set-filters') && msg.filters && typeof msg.filters === 'object') {
        this.hostFilters = normalise(msg.filters);
      }
    };
    window.addEventListener('message', onMessage);
    this.cleanups.push(() => window.removeEventListener('message', onMessage));
    this.cleanups.push(
      onUnauthorized((error) => {
        this.expire(/expired/.test(error) ? 'token_expired' : 'unauthorized', error);
      })
    );
    // Observe the embed's own content: the document is never shorter than the iframe, so
    // measuring it would let the frame grow but never shrink (e.g. to an expiry message).
    const ro = new ResizeObserver(() => this.reportHeight());
    ro.observe(document.body);
    const watchRoot = () => {
      const root = document.querySelector('[data-embed-root]');
      if (root) ro.observe(root);
      else requestAnimationFrame(watchRoot);
    };
    watchRoot();
    this.cleanups.push(() => ro.disconnect());
    // "ready" carries no data, so it may go to any parent; everything else goes to the host's origin.
    this.send('ready', { board: this.board, tile: this.tile }, '*');
    this.reportHeight();
  }

  stop() {
    this.cleanups.forEach((c) => c());
    if (this.warnTimer) clearTimeout(this.warnTimer);
    if (this.expireTimer) clearTimeout(this.expireTimer);
  }

  /** Tells the host what the user drilled into. */
  drill(detail: { level: string; key: string; label?: string; filters?: Record<string, string[]> }) {
    this.send('drill', { detail: { board: this.board, tile: this.tile, ...detail } });
  }

  filterChanged(filters: Record<string, string[]>) {
    this.send('filter-change', { detail: { filters } });
  }

  private acceptToken(token: string) {
    const exp = tokenExpiry(token);
    const now = Date.now();
    if (exp !== null && exp * 1000 <= now) {
      setApiToken(null);
      this.expire('token_expired', 'token expired');
      return;
    }
    setApiToken(token);
    this.claims = readClaims(token);
    this.state = 'ready';
    this.reason = null;
    this.tokenVersion++;
    this.wake();
    if (this.warnTimer) clearTimeout(this.warnTimer);
    if (this.expireTimer) clearTimeout(this.expireTimer);
    if (exp !== null) {
      const ms = exp * 1000 - now;
      this.warnTimer = setTimeout(() => this.send('token-expiring', { exp }), Math.max(0, ms - WARN_BEFORE_MS));
      this.expireTimer = setTimeout(() => this.expire('token_expired', 'token expired'), ms);
    }
  }

  private expire(code: string, message: string) {
    setApiToken(null);
    this.state = 'expired';
    this.reason = message;
    this.send('error', { detail: { code, message } });
    this.wake();
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  /** Resolves once a token arrived (or was refused), or after `ms` without one. */
  waitForToken(ms = 10_000): Promise<EmbedState> {
    if (this.state !== 'waiting') return Promise.resolve(this.state);
    return new Promise((res) => {
      const timer = setTimeout(() => res(this.state), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        res(this.state);
      });
    });
  }

  /** May the token open this board (or tile)? Mirrors the server's rule (auth/claims.ts). */
  allows(board: string, tile?: string): boolean {
    const c = this.claims;
    if (!c) return true;
    const listed = c.boards ? c.boards.includes('*') || c.boards.includes(board) : !c.tiles;
    if (!tile) return listed;
    return listed || !!c.tiles?.some((t) => t === `${board}/${tile}` || t === `${board}/*`);
  }

  private reportHeight() {
    const root = document.querySelector('[data-embed-root]');
    const h = root ? Math.ceil(root.getBoundingClientRect().bottom + window.scrollY + 8) : Math.ceil(document.documentElement.scrollHeight);
    this.send('resize', { height: h }, '*');
  }

  private send(type: string, payload: Record<string, unknown>, target?: string) {
    if (window.parent === window) return;
    const to = target ?? this.hostOrigin;
    if (!to) return;
    window.parent.postMessage({ source: FRAME, type, ...payload }, to);
  }
}

function normalise(filters: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(filters)) {
    if (typeof v === 'string') out[k] = [v];
    else if (Array.isArray(v)) out[k] = v.filter((x): x is string => typeof x === 'string');
  }
  return out;
}
