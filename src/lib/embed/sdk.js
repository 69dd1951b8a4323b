// @ts-check
/**
 * crm-cockpit embed SDK, for host pages (portals). Plain JavaScript with no dependencies:
 * served as a classic script at `/embed.js` (defines `window.CrmCockpit`) and importable
 * from the package as `crm-cockpit/embed`.
 *
 *   const board = CrmCockpit.embed(document.getElementById('pipeline'), {
 *     url: 'https://cockpit.example.com/embed/pipeline',
 *     token,                                   // a short-lived JWT from your backend
 *     onTokenExpiring: () => fetchNewToken(),  // return a fresh token before this one expires
 *     onDrill: (e) => console.log(e),          // {board, tile, level, key, label}
 *     onFilterChange: (e) => console.log(e.filters),
 *   });
 *   board.setFilters({ region: ['上海'] });
 *   board.setToken(newToken);
 *
 * The token never goes into the frame's URL: it is posted to the frame once it says it is
 * ready, only to the frame's origin. Messages are accepted only from that frame's window and
 * origin. The frame reports its height, and the SDK resizes the iframe to fit it.
 */

const HOST = 'crm-cockpit-host';
const FRAME = 'crm-cockpit';
export const version = '1';

/**
 * @typedef {Object} EmbedOptions
 * @property {string} url Board or tile URL, e.g. https://cockpit.example.com/embed/pipeline/funnel
 * @property {string} [token] Access token (JWT) for this viewer
 * @property {Record<string, string | string[]>} [filters] Initial filters (the token's locked filters win)
 * @property {'zh-CN' | 'en'} [locale]
 * @property {'dark' | 'light'} [theme]
 * @property {boolean} [transparent] Transparent background
 * @property {number} [minHeight] Minimum iframe height in px (default 120)
 * @property {string} [title] Accessible title of the frame
 * @property {() => (string | void | Promise<string | void>)} [onTokenExpiring] Called about a minute before the token expires; return a new token (or call setToken)
 * @property {(e: DrillEvent) => void} [onDrill]
 * @property {(e: { filters: Record<string, string[]> }) => void} [onFilterChange]
 * @property {(e: { board: string, tile?: string }) => void} [onReady]
 * @property {(e: { code: string, message: string }) => void} [onError]
 * @property {(e: { height: number }) => void} [onResize]
 */

/**
 * @typedef {Object} DrillEvent
 * @property {string} board
 * @property {string} [tile]
 * @property {string} level   e.g. team, owner, deal
 * @property {string} key     the id drilled into
 * @property {string} [label] what the user clicked
 * @property {Record<string, string[]>} [filters] the filters after the drill
 */

/**
 * @typedef {Object} EmbedHandle
 * @property {HTMLIFrameElement} iframe
 * @property {(token: string) => void} setToken
 * @property {(filters: Record<string, string | string[]>) => void} setFilters
 * @property {() => void} destroy
 */

/**
 * Embeds a crm-cockpit board or tile into `element`.
 * @param {HTMLElement} element
 * @param {EmbedOptions} options
 * @returns {EmbedHandle}
 */
export function embed(element, options) {
  if (!element || typeof element.appendChild !== 'function') throw new Error('CrmCockpit.embed: an element is required');
  if (!options || typeof options.url !== 'string') throw new Error('CrmCockpit.embed: options.url is required');
  const src = new URL(options.url, window.location.href);
  if (src.searchParams.has('token')) throw new Error('CrmCockpit.embed: pass the token as options.token, not in the URL');
  if (options.locale) src.searchParams.set('lang', options.locale);
  if (options.theme) src.searchParams.set('theme', options.theme);
  if (options.transparent) src.searchParams.set('transparent', '1');
  const origin = src.origin;

  const iframe = document.createElement('iframe');
  iframe.src = src.toString();
  iframe.title = options.title || 'crm-cockpit';
  iframe.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-downloads allow-popups allow-forms');
  iframe.setAttribute('referrerpolicy', 'no-referrer');
  iframe.style.width = '100%';
  iframe.style.border = '0';
  iframe.style.display = 'block';
  iframe.style.height = `${options.minHeight || 120}px`;
  if (options.transparent) iframe.setAttribute('allowtransparency', 'true');

  let token = options.token || null;
  let filters = options.filters || null;
  let ready = false;

  /** @param {Record<string, unknown>} msg */
  const post = (msg) => {
    if (iframe.contentWindow) iframe.contentWindow.postMessage({ source: HOST, ...msg }, origin);
  };

  /** @param {MessageEvent} event */
  const onMessage = async (event) => {
    if (event.source !== iframe.contentWindow || event.origin !== origin) return;
    const msg = event.data;
    if (!msg || msg.source !== FRAME || typeof msg.type !== 'string') return;
    switch (msg.type) {
      case 'ready':
        ready = true;
        post({ type: 'init', token, filters });
        options.onReady?.({ board: msg.board, tile: msg.tile });
        break;
      case 'resize': {
        const h = Math.max(options.minHeight || 120, Math.ceil(Number(msg.height) || 0));
        iframe.style.height = `${h}px`;
        options.onResize?.({ height: h });
        break;
      }
      case 'drill':
        options.onDrill?.(msg.detail);
        break;
      case 'filter-change':
        options.onFilterChange?.(msg.detail);
        break;
      case 'token-expiring':
        if (options.onTokenExpiring) {
          try {
            const next = await options.onTokenExpiring();
            if (typeof next === 'string' && next) handle.setToken(next);
          } catch (e) {
            options.onError?.({ code: 'token_refresh_failed', message: e instanceof Error ? e.message : String(e) });
          }
        }
        break;
      case 'error':
        options.onError?.(msg.detail);
        break;
    }
  };
  window.addEventListener('message', onMessage);
  element.appendChild(iframe);

  /** @type {EmbedHandle} */
  const handle = {
    iframe,
    setToken(next) {
      token = next;
      if (ready) post({ type: 'token', token });
    },
    setFilters(next) {
      filters = next;
      if (ready) post({ type: 'set-filters', filters });
    },
    destroy() {
      window.removeEventListener('message', onMessage);
      iframe.remove();
    }
  };
  return handle;
}
