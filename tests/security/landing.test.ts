/**
 * Every token lands on a page it may open (issue 12): a rep's login link (`next=/cockpit`, as
 * `cockpit token` prints it) for a token of the pipeline board lands on the pipeline board, not
 * on a cockpit full of "forbidden: this token may not use the model trend"; the navigation
 * offers only the boards it may open; a cockpit token is kept to its pages; a token of one
 * tile lands on that tile's embed; an unlimited token goes where its link says. One server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AS_OF, sign, startSecServer, type SecServer } from './helpers';

let srv: SecServer;
beforeAll(async () => {
  srv = await startSecServer();
});
afterAll(async () => {
  await srv?.stop();
});

/** Follows a login link like a browser: the cookie it sets is sent on every redirect after it. */
async function land(token: string, next: string): Promise<{ path: string; status: number; html: string; hops: string[] }> {
  let url = `${srv.base}/login?token=${token}&next=${encodeURIComponent(next)}`;
  let cookie = '';
  const hops: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    const set = /cockpit_session=[^;]*/.exec(r.headers.get('set-cookie') ?? '');
    if (set) cookie = set[0];
    if (r.status !== 303 && r.status !== 302) {
      const u = new URL(url);
      return { path: `${u.pathname}${u.search}`, status: r.status, html: await r.text(), hops };
    }
    url = new URL(r.headers.get('location')!, url).href;
    hops.push(url.replace(srv.base, ''));
  }
  throw new Error(`too many redirects: ${hops.join(' → ')}`);
}

const navLinks = (html: string) => [...html.matchAll(/data-board-link="([^"]+)"/g)].map((m) => m[1]);

describe('a token lands on what it may open', () => {
  it('a rep of the pipeline board, sent to /cockpit, lands on the pipeline board: no refused tile, only its board in the navigation', async () => {
    const t = await sign({ sub: 'U001', role: 'rep', scope: { team_ids: [], owner_ids: ['U001'] }, boards: ['pipeline'] });
    const r = await land(t, `/cockpit?as_of=${AS_OF}`);
    expect(r.status).toBe(200);
    expect(r.path.startsWith('/boards/pipeline'), r.hops.join(' → ')).toBe(true);
    expect(r.html.includes('forbidden'), 'no raw refusal on screen').toBe(false);
    expect(/data-state="error"/.test(r.html), 'no tile in error').toBe(false);
    expect(navLinks(r.html)).toEqual(['pipeline']);
    expect(r.html.includes('data-testid="cockpit-link"'), 'no cockpit link').toBe(false);
  });

  it('a board it may not open sends it to its landing; the board it may open is served', async () => {
    const t = await sign({ sub: 'U001', role: 'rep', scope: { team_ids: [], owner_ids: ['U001'] }, boards: ['team', 'payments'] });
    const r = await land(t, '/boards/pipeline?lang=en');
    expect(r.path).toBe('/boards/payments?lang=en');
    expect(navLinks(r.html)).toEqual(['payments', 'team']);
    expect((await land(t, '/boards/team')).path).toBe('/boards/team');
  });

  it('a cockpit token keeps to its cockpit pages', async () => {
    const t = await sign({ sub: 'tv', role: 'executive', boards: ['wall-overview'] });
    expect((await land(t, '/boards/pipeline')).path).toBe('/cockpit?pages=overview');
    const both = await land(t, '/cockpit?pages=overview,forecast&rotate=10');
    expect(both.path).toBe('/cockpit?pages=overview&rotate=10');
    expect(both.status).toBe(200);
    expect(both.html.includes('forbidden')).toBe(false);
  });

  it('a token of one tile lands on that tile’s embed', async () => {
    const t = await sign({ sub: 'p', role: 'manager', scope: { team_ids: ['R1'] }, tiles: ['pipeline/funnel'] });
    expect((await land(t, '/cockpit')).path).toBe('/embed/pipeline/funnel');
  });

  it('an unlimited token goes where its link says, with every board and the cockpit in the navigation', async () => {
    const t = await sign({ sub: 'ceo', role: 'executive' });
    const r = await land(t, `/boards/team?as_of=${AS_OF}`);
    expect(r.path).toBe(`/boards/team?as_of=${AS_OF}`);
    expect(navLinks(r.html)).toEqual(['pipeline', 'forecast', 'win-loss', 'customers', 'payments', 'team']);
    expect(r.html.includes('data-testid="cockpit-link"')).toBe(true);
    expect((await land(t, '/cockpit')).path).toBe('/cockpit');
  });

  it('the API still refuses what the token may not call (403), whatever the pages do', async () => {
    const t = await sign({ sub: 'U001', role: 'rep', scope: { team_ids: [], owner_ids: ['U001'] }, boards: ['pipeline'] });
    const r = await fetch(`${srv.base}/api/models/trend?as_of=${AS_OF}`, { headers: { authorization: `Bearer ${t}` } });
    expect(r.status).toBe(403);
  });
});
