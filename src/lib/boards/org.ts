/**
 * The organisation as the viewer sees it (from the `options` model): the team tree, owners,
 * and the other filter values. Drill-down walks this tree — company → region → team → rep —
 * and the breadcrumbs are its path. Pure functions; the same on server and client.
 */
import type { ViewState } from './state';

export interface OptionRow {
  kind: string;
  key: string;
  label: string;
  parent: string | null;
  sort: number;
  n: number;
}

export interface TeamNode {
  id: string;
  name: string;
  parent: string | null;
  children: string[];
  n: number;
}

export interface Org {
  teams: Map<string, TeamNode>;
  owners: Map<string, { id: string; name: string; team: string | null; n: number }>;
  /** Teams whose parent the viewer cannot see: the tops of their tree. */
  roots: string[];
  /** Filter values by kind (region, industry, source, product, grade, competitor, loss_reason, stage). */
  values: Record<string, OptionRow[]>;
}

export function buildOrg(rows: OptionRow[]): Org {
  const teams = new Map<string, TeamNode>();
  const owners: Org['owners'] = new Map();
  const values: Record<string, OptionRow[]> = {};
  for (const r of rows) {
    if (r.kind === 'team') teams.set(r.key, { id: r.key, name: r.label, parent: r.parent, children: [], n: r.n });
    else if (r.kind === 'owner') owners.set(r.key, { id: r.key, name: r.label, team: r.parent, n: r.n });
    else (values[r.kind] ??= []).push(r);
  }
  for (const t of teams.values()) if (t.parent && teams.has(t.parent)) teams.get(t.parent)!.children.push(t.id);
  for (const t of teams.values()) t.children.sort((a, b) => teams.get(b)!.n - teams.get(a)!.n || a.localeCompare(b));
  const roots = [...teams.values()].filter((t) => !t.parent || !teams.has(t.parent)).map((t) => t.id);
  return { teams, owners, roots, values };
}

/** The team and its ancestors, top first (only the part the viewer can see). */
export function teamPath(org: Org, teamId: string | null): TeamNode[] {
  const path: TeamNode[] = [];
  const seen = new Set<string>();
  let cur = teamId ? org.teams.get(teamId) : undefined;
  while (cur && !seen.has(cur.id)) {
    seen.add(cur.id);
    path.unshift(cur);
    cur = cur.parent ? org.teams.get(cur.parent) : undefined;
  }
  return path;
}

/** Where the view is in the tree: what the team-level charts break the numbers down by next. */
export type DrillLevel = { by: 'team'; team: string | null } | { by: 'owner'; team: string | null };

/**
 * The next breakdown of the current view: by the child teams of the drilled team (of the
 * top of the tree when none), or — at a team with no teams below it, or once an owner is
 * chosen — by its reps.
 */
export function drillLevel(org: Org, s: ViewState): DrillLevel {
  if (s.filters.owner.length) return { by: 'owner', team: s.team };
  if (s.team) {
    const node = org.teams.get(s.team);
    return node && node.children.length > 0 ? { by: 'team', team: s.team } : { by: 'owner', team: s.team };
  }
  // A single visible root with children: start one level below it (the regions).
  if (org.roots.length === 1) {
    const root = org.teams.get(org.roots[0])!;
    return root.children.length > 0 ? { by: 'team', team: null } : { by: 'owner', team: null };
  }
  return { by: 'team', team: null };
}

export interface Crumb {
  label: string;
  /** What clicking it sets: the team (null = the top) and owners. */
  team: string | null;
  owner: string[];
  deal: string | null;
  current: boolean;
}

/**
 * 全公司 › 华东 › 上海一组 › 张伟 › 商机: the path of the drilled team, then the owner(s), then
 * the open deal. The first crumb is the top of the viewer's tree (its name when it is one
 * team, `allLabel` otherwise) and leads back to no team filter.
 */
export function breadcrumbs(org: Org, s: ViewState, allLabel: string, dealLabel?: string | null): Crumb[] {
  const crumbs: Crumb[] = [];
  const path = teamPath(org, s.team);
  const single = org.roots.length === 1 ? org.teams.get(org.roots[0]) : undefined;
  crumbs.push({ label: single?.name ?? allLabel, team: null, owner: [], deal: null, current: false });
  for (const t of path) {
    if (single && t.id === single.id) continue;
    crumbs.push({ label: t.name, team: t.id, owner: [], deal: null, current: false });
  }
  if (s.team && path.length === 0) crumbs.push({ label: s.team, team: s.team, owner: [], deal: null, current: false });
  if (s.filters.owner.length) {
    const names = s.filters.owner.map((o) => org.owners.get(o)?.name ?? o);
    crumbs.push({ label: names.join('、'), team: s.team, owner: s.filters.owner, deal: null, current: false });
  }
  if (s.deal) crumbs.push({ label: dealLabel ?? s.deal, team: s.team, owner: s.filters.owner, deal: s.deal, current: false });
  crumbs[crumbs.length - 1].current = true;
  return crumbs;
}

/** A readable name for a filter value (teams and owners by name). */
export function valueLabel(org: Org, kind: string, key: string): string {
  if (kind === 'team') return org.teams.get(key)?.name ?? key;
  if (kind === 'owner') return org.owners.get(key)?.name ?? key;
  return org.values[kind]?.find((r) => r.key === key)?.label ?? key;
}
