/**
 * Who a rule or report speaks to, resolved from the organisation (teams and users) each time it
 * runs, and what each member may see: the scope comes from `scopeFromClaims`, the very function
 * that turns a token into a scope, so a rep's alert is computed exactly as that rep's own
 * dashboard is — their own deals and nothing else.
 */
import type { Database } from '../db/database';
import { scopeFromClaims, type Claims } from '../auth/claims';
import type { Scope } from '../../../../models/common/scope';
import type { AudienceConfig } from './config';

export interface Member {
  /** `all`, a team id or a user id: the de-duplication key's audience part. */
  key: string;
  label: string;
  role: AudienceConfig['role'];
  scope: Scope;
  /** What a link to the board should filter on for this member. */
  view: { team?: string; owner?: string };
  /** The member's own e-mail addresses (a rep's; a team manager's). */
  emails: string[];
}

interface TeamRow {
  team_id: string;
  name: string;
  parent_id: string | null;
  manager_id: string | null;
}
interface UserRow {
  user_id: string;
  name: string;
  team_id: string | null;
  email: string | null;
  active: boolean | null;
}

/** The org (structure only: team tree and people). */
export async function loadOrg(db: Database): Promise<{ teams: TeamRow[]; users: UserRow[] }> {
  const [teams, users] = await Promise.all([
    db.query<TeamRow>('SELECT team_id, name, parent_id, manager_id FROM main.teams ORDER BY team_id'),
    db.query<UserRow>('SELECT user_id, name, team_id, email, active FROM main.users ORDER BY user_id')
  ]);
  return { teams: teams.rows, users: users.rows };
}

function claims(sub: string, role: Claims['role'], scope?: Claims['scope']): Claims {
  return { sub, role, scope, exp: 0 };
}

/** The members of an audience, in a stable order. Unknown team or owner ids are reported. */
export async function resolveAudience(db: Database, a: AudienceConfig, companyLabel: string): Promise<{ members: Member[]; unknown: string[] }> {
  if (a.role === 'executive') {
    return { members: [{ key: 'all', label: companyLabel, role: 'executive', scope: scopeFromClaims(claims('alerts', 'executive')), view: {}, emails: [] }], unknown: [] };
  }
  const { teams, users } = await loadOrg(db);
  const byId = new Map(teams.map((t) => [t.team_id, t]));
  const children = new Map<string, string[]>();
  for (const t of teams) if (t.parent_id) children.set(t.parent_id, [...(children.get(t.parent_id) ?? []), t.team_id]);
  const subtree = (id: string): string[] => {
    const out: string[] = [];
    const walk = (x: string, depth: number) => {
      out.push(x);
      if (depth < 32) for (const c of children.get(x) ?? []) walk(c, depth + 1);
    };
    walk(id, 0);
    return out;
  };
  const unknown = [...(a.teams ?? []).filter((t) => !byId.has(t)), ...(a.owners ?? []).filter((o) => !users.some((u) => u.user_id === o))];
  const emailOf = (userId: string | null) => {
    const e = users.find((u) => u.user_id === userId)?.email;
    return e ? [e] : [];
  };

  if (a.role === 'manager') {
    const listed = (a.teams ?? []).filter((t) => byId.has(t));
    let chosen: string[] = listed;
    if (a.expand === 'children') chosen = listed.flatMap((t) => children.get(t) ?? []);
    else if (a.expand === 'leaves') chosen = listed.flatMap((t) => subtree(t).filter((x) => !children.has(x)));
    const members = [...new Set(chosen)].map((id): Member => {
      const t = byId.get(id)!;
      return {
        key: id,
        label: t.name,
        role: 'manager',
        scope: scopeFromClaims(claims(t.manager_id ?? `team:${id}`, 'manager', { team_ids: [id] })),
        view: { team: id },
        emails: emailOf(t.manager_id)
      };
    });
    return { members, unknown };
  }

  // rep: each person sees their own deals (the token rule: scope.owner_ids = [sub]).
  let people: UserRow[];
  if (a.owners) people = users.filter((u) => a.owners!.includes(u.user_id));
  else if (a.teams) {
    const inTeams = new Set(a.teams.filter((t) => byId.has(t)).flatMap(subtree));
    people = users.filter((u) => u.team_id && inTeams.has(u.team_id));
  } else people = users;
  const members = people
    .filter((u) => u.active !== false || a.owners)
    .map((u): Member => ({
      key: u.user_id,
      label: u.name,
      role: 'rep',
      scope: scopeFromClaims(claims(u.user_id, 'rep')),
      view: { owner: u.user_id },
      emails: u.email ? [u.email] : []
    }));
  return { members, unknown };
}
