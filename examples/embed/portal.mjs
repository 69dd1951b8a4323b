/**
 * A partner portal that embeds a crm-cockpit board — the README's Embedding example, runnable:
 *
 *   COCKPIT_SECRET=… npm start                                  # the cockpit, on :3000
 *   COCKPIT_SECRET=… node examples/embed/portal.mjs             # this portal, on :4000
 *
 * and add the portal's origin to the cockpit's config: "security": {"frame_ancestors":
 * ["http://localhost:4000"]}. The portal's backend signs a short-lived token for its signed-in
 * user (here: a manager of 华东, team R1, allowed the pipeline board only); the page loads the
 * SDK from the cockpit and renews the token before it expires. The browser test
 * tests/browser/embed.test.ts serves this very page.
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { SignJWT } from 'jose';

/**
 * Your backend: a token for the signed-in user, never longer-lived than needed.
 * @param {{ id: string, team: string }} user
 * @param {{ secret: string, ttlSeconds?: number }} options
 */
export async function tokenFor(user, { secret, ttlSeconds = 600 }) {
  return new SignJWT({
    sub: user.id,
    role: 'manager', // executive | manager | rep | viewer
    scope: { team_ids: [user.team] }, // a team includes every team below it
    boards: ['pipeline'], // what this token may open (tiles: ["pipeline/funnel"] for one tile)
    locale: 'zh-CN'
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setAudience('crm-cockpit') // security.audience
    .setIssuer('crm-cockpit') // security.issuer
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}

/**
 * Your page. `board` is `pipeline` or `pipeline/funnel` (a single tile).
 * @param {{ cockpitUrl: string, board?: string, query?: string, renew?: boolean }} options
 */
export function portalPage({ cockpitUrl, board = 'pipeline', query = '', renew = true }) {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Partner portal</title></head>
<body style="font-family: sans-serif; margin: 0; padding: 16px; background: #f4f5f7">
  <h1>Partner portal</h1>
  <div id="board" style="max-width: 1200px"></div>
  <pre id="log" style="font-size: 12px; color: #555"></pre>
  <script src="${cockpitUrl}/embed.js"></script>
  <script>
    window.events = [];
    const log = (type, e) => {
      events.push({ type, e });
      document.getElementById('log').textContent += type + ' ' + JSON.stringify(e ?? {}) + '\\n';
    };
    // Your backend's endpoint that returns a fresh token for the signed-in user.
    window.freshToken = (team) => {
      const q = new URLSearchParams(location.search);
      if (team) q.set('team', team);
      return fetch('/token?' + q).then((r) => r.text());
    };
    (async () => {
      window.cockpit = CrmCockpit.embed(document.getElementById('board'), {
        url: '${cockpitUrl}/embed/${board}${query}',
        token: await freshToken(),
        locale: 'zh-CN',
        theme: 'light',
        onReady: (e) => log('ready', e),
        onResize: (e) => log('resize', e),
        onDrill: (e) => log('drill', e), // {board, level: team|owner|deal, key, filters}
        onFilterChange: (e) => log('filter', e),
        onError: (e) => log('error', e), // e.g. {code: 'token_expired'}
        ${renew ? `onTokenExpiring: async () => { log('expiring'); return freshToken(); },` : ''}
      });
    })();
    // Later, from your own UI: cockpit.setFilters({ region: ['上海'] }); cockpit.setToken(newToken);
  </script>
</body></html>`;
}

/**
 * The portal's server: the page and the token endpoint.
 * @param {{ cockpitUrl: string, secret: string, query?: string }} options
 */
export function createPortal({ cockpitUrl, secret, query = '' }) {
  return createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://portal');
    if (url.pathname === '/token') {
      // In a real portal: the user from your session. Here: a 华东 manager (or ?team=).
      const team = url.searchParams.get('team') ?? 'R1';
      const ttl = Number(url.searchParams.get('ttl') ?? 600);
      const token = await tokenFor({ id: `portal-user-${team}`, team }, { secret, ttlSeconds: ttl });
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(token);
      return;
    }
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    if (url.pathname !== '/') return void res.writeHead(404).end();
    const page = portalPage({
      cockpitUrl,
      board: url.searchParams.get('board') ?? 'pipeline',
      query,
      renew: url.searchParams.get('renew') !== '0'
    });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const secret = process.env.COCKPIT_SECRET;
  if (!secret) {
    console.error('portal: set COCKPIT_SECRET to the cockpit server\'s secret');
    process.exit(2);
  }
  const cockpitUrl = process.env.COCKPIT_URL ?? 'http://localhost:3000';
  const port = Number(process.env.PORTAL_PORT ?? 4000);
  createPortal({ cockpitUrl, secret }).listen(port, () => {
    console.log(`portal: http://localhost:${port}/ embeds ${cockpitUrl}/embed/pipeline`);
    console.log(`portal: add "http://localhost:${port}" to security.frame_ancestors in the cockpit's config`);
  });
}
