import { ROLES, type Claims, type Role } from '../../lib/server/auth/claims';
import { signToken } from '../../lib/server/auth/sign';
import { durationMs } from '../../lib/server/config/schema';
import { FILTERS } from '../../../models/common/params';
import { CliError, configFrom, parse, type Command } from '../command';

export const token: Command = {
  name: 'token',
  help: `Usage: cockpit token --role executive|manager|rep|viewer [--team ID]... [--owner ID]...
                     [--board ID]... [--tile BOARD/TILE]... [--filter key=value]...
                     [--sub NAME] [--ttl 1h] [--renew-until YYYY-MM-DD]
                     [--locale zh-CN|en] [--theme dark|light] [--url http://host:port]

Signs an HS256 token with COCKPIT_SECRET and prints a login link; the token is on the last line.

  --role         executive (everything), manager (--team subtrees), rep (own deals: --owner,
                 else --sub), viewer (exactly --team/--owner)
  --team, --owner  scope: team ids (each with every team below) and owner (user) ids
  --board, --tile  boards or single tiles (board/tile) the token may open (default: all)
  --filter       a filter the viewer cannot change, e.g. --filter product=CRM 旗舰版
  --sub          subject (who the token is for; default: the role, or the owner for a rep)
  --ttl          lifetime, at most 24h (default 1h): 30m, 8h, 1d
  --renew-until  let the server renew the session cookie daily until this date (wall screens)
  --url          base URL for the login link (default http://localhost:$PORT or 3000)`,
  async run(argv) {
    const { values } = parse(argv, {
      role: { type: 'string' },
      team: { type: 'string', multiple: true },
      owner: { type: 'string', multiple: true },
      board: { type: 'string', multiple: true },
      tile: { type: 'string', multiple: true },
      filter: { type: 'string', multiple: true },
      sub: { type: 'string' },
      ttl: { type: 'string' },
      'renew-until': { type: 'string' },
      locale: { type: 'string' },
      theme: { type: 'string' },
      url: { type: 'string' }
    });
    const role = values.role as Role | undefined;
    if (!role || !ROLES.includes(role)) throw new CliError(`--role: expected one of ${ROLES.join(', ')}`, 2);
    const secret = process.env.COCKPIT_SECRET;
    if (!secret) throw new CliError('COCKPIT_SECRET is not set: export the same secret the server uses (at least 32 characters)', 2);
    if (secret.length < 32) throw new CliError('COCKPIT_SECRET must be at least 32 characters', 2);
    const teams = values.team ?? [];
    const owners = values.owner ?? [];
    if (role === 'manager' && teams.length === 0) throw new CliError('--role manager needs --team (the team whose subtree they manage)', 2);
    if (role === 'viewer' && teams.length === 0 && owners.length === 0) throw new CliError('--role viewer needs --team and/or --owner', 2);
    let ttlSeconds = 3600;
    if (values.ttl) {
      try {
        ttlSeconds = durationMs(values.ttl) / 1000;
      } catch {
        throw new CliError(`--ttl: expected a duration such as 30m, 8h, 1d; got "${values.ttl}"`, 2);
      }
      if (ttlSeconds > 24 * 3600) throw new CliError('--ttl: at most 24h (use --renew-until for wall screens)', 2);
    }
    const filters: Record<string, string[]> = {};
    for (const f of values.filter ?? []) {
      const eq = f.indexOf('=');
      const k = f.slice(0, eq);
      if (eq <= 0 || !(FILTERS as readonly string[]).includes(k)) throw new CliError(`--filter "${f}": expected key=value with key one of ${FILTERS.join(', ')}`, 2);
      (filters[k] ??= []).push(f.slice(eq + 1));
    }
    let renewUntil: number | undefined;
    if (values['renew-until']) {
      const d = Date.parse(`${values['renew-until']}T23:59:59Z`);
      if (!Number.isFinite(d) || d <= Date.now()) throw new CliError(`--renew-until: expected a future date YYYY-MM-DD`, 2);
      renewUntil = Math.floor(d / 1000);
    }
    if (values.locale && !['zh-CN', 'en'].includes(values.locale)) throw new CliError('--locale: zh-CN or en', 2);
    if (values.theme && !['dark', 'light'].includes(values.theme)) throw new CliError('--theme: dark or light', 2);
    const cfg = configFrom(values);
    if (renewUntil) {
      // A session may be renewed for at most security.max_renew_days after its first token.
      const days = cfg.security.max_renew_days;
      const latest = Math.floor(Date.now() / 1000) + days * 86400;
      if (renewUntil - latest >= 86400) throw new CliError(`--renew-until: at most ${days} days ahead (security.max_renew_days)`, 2);
      renewUntil = Math.min(renewUntil, latest);
    }
    const sub = values.sub ?? (role === 'rep' && owners[0] ? owners[0] : role);
    const claims: Omit<Claims, 'exp' | 'iat' | 'nbf' | 'jti'> = {
      sub,
      role,
      ...(teams.length || owners.length ? { scope: { team_ids: teams, owner_ids: owners } } : {}),
      ...(values.board ? { boards: values.board } : {}),
      ...(values.tile ? { tiles: values.tile } : {}),
      ...(Object.keys(filters).length ? { filters } : {}),
      ...(values.locale ? { locale: values.locale as 'zh-CN' | 'en' } : {}),
      ...(values.theme ? { theme: values.theme as 'dark' | 'light' } : {}),
      ...(renewUntil ? { renew_until: renewUntil } : {})
    };
    const jwt = await signToken({ secret, audience: cfg.security.audience, issuer: cfg.security.issuer, ttlSeconds, claims });
    const base = values.url ?? `http://localhost:${process.env.PORT ?? cfg.server.port ?? 3000}`;
    const scopeText = role === 'executive' ? 'everything' : [teams.length ? `teams ${teams.join(', ')} (with subtrees)` : '', owners.length ? `owners ${owners.join(', ')}` : role === 'rep' ? `owner ${sub}` : ''].filter(Boolean).join(' + ');
    console.error(`role ${role}, sees ${scopeText}; expires in ${values.ttl ?? '1h'}${renewUntil ? `, renewable until ${values['renew-until']}` : ''}`);
    console.error(`login link: ${base}/login?token=${jwt}&next=/cockpit`);
    console.log(jwt);
    return 0;
  }
};
