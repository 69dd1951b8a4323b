/**
 * Which targets apply (data-model.md: a team's target is its own row, never a sum of its
 * members'). A target row counts for a period when it lies inside it
 * (`period_start >= from AND period_end <= to`), for the metric asked (`won_amount` when
 * the row names none).
 *
 * - Region: with a `region` filter only the rows set for those regions (`targets.region`),
 *   without one only the rows for every region (region null). With an industry, source,
 *   product or grade filter there is no target: none is set by them.
 * - Ungrouped: the filtered owners' own rows, else the filtered teams', else the top visible
 *   teams' (the company for an executive, the region for a regional manager), falling back to
 *   the visible owners' own rows when no top team has one in the period (a rep) — the rule of
 *   the `kpis` model.
 * - Grouped by `owner`: each owner's rows (owners passing the team/owner filters).
 * - Grouped by `team_leaf` (an owner's own team, i.e. its direct members): the team's own
 *   rows when no team sits below it, else none; by `team`: each group team's own rows,
 *   except the group of the filtered team's direct members (its own row covers the whole
 *   team, not them), which has none. With an owner filter, teams have no target (a team's
 *   target is not a subset of owners').
 * - Any other dimension: no target.
 */
import { and, sql, type Sql } from '../../src/lib/server/db/sql';
import type { CommonParams, Dimension } from './params';

export type TargetMetric = 'won_amount' | 'collected_amount' | 'new_customers';

const has = (v: string[] | undefined): v is string[] => !!v && v.length > 0;

/**
 * The applicable target rows as a relation `(group_key, period_start, period_end, amount)`.
 * Grouping by `team` needs the `group_anchor` and `team_groups` CTEs (relations.ts
 * `teamGroupCtes`).
 */
export function targetRows(p: CommonParams, groupBy: Dimension | undefined, metric: TargetMetric, period: { from: string; to: string }): Sql {
  // Targets are set per team or owner, and optionally per customer region; never per industry,
  // source, product or grade. A figure filtered on one of those has no target (its wins over
  // the whole team's target would be a wrong attainment), a region's figure only its region's.
  if (untargetedFilter(p)) return sql`SELECT NULL::VARCHAR AS group_key, NULL::DATE AS period_start, NULL::DATE AS period_end, NULL::DOUBLE AS amount WHERE FALSE`;
  const region = has(p.region) ? sql`list_contains(${p.region}::VARCHAR[], t.region)` : sql`t.region IS NULL`;
  const within = sql`t.period_start >= ${period.from}::DATE AND t.period_end <= ${period.to}::DATE AND coalesce(t.metric, 'won_amount') = ${metric} AND ${region}`;
  const cols = sql`t.period_start, t.period_end, t.amount::DOUBLE AS amount`;
  const teamFilter = has(p.team)
    ? sql`t.team_id IN (SELECT team_id FROM team_tree WHERE list_contains(${p.team}::VARCHAR[], ancestor))`
    : null;
  switch (groupBy) {
    case undefined: {
      // An owner filter is the narrowest: with a team filter too (the team board after a click
      // on a rep), the figure is hers and so is the target.
      if (has(p.owner)) return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE ${within} AND list_contains(${p.owner}::VARCHAR[], t.owner_id)`;
      if (has(p.team)) return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE ${within} AND list_contains(${p.team}::VARCHAR[], t.team_id)`;
      const top = sql`t.team_id IN (SELECT team_id FROM teams WHERE parent_id IS NULL OR parent_id NOT IN (SELECT team_id FROM teams))`;
      return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE ${within}
        AND (${top} OR (t.owner_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM targets t WHERE ${within} AND ${top})))`;
    }
    case 'owner':
      return sql`SELECT t.owner_id AS group_key, ${cols} FROM targets t LEFT JOIN users u ON u.user_id = t.owner_id
        WHERE ${within} AND t.owner_id IS NOT NULL AND ${and([
          has(p.owner) && sql`list_contains(${p.owner}::VARCHAR[], t.owner_id)`,
          has(p.team) && sql`u.team_id IN (SELECT team_id FROM team_tree WHERE list_contains(${p.team}::VARCHAR[], ancestor))`
        ])}`;
    case 'team_leaf':
      if (has(p.owner)) return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE FALSE`;
      // A team_leaf group is the team's direct members: its own row is theirs only when no team
      // sits below it (the tree is read whole, so a team with hidden children is no leaf).
      return sql`SELECT t.team_id AS group_key, ${cols} FROM targets t WHERE ${within} AND t.team_id IS NOT NULL AND ${teamFilter ?? sql`TRUE`}
        AND NOT EXISTS (SELECT 1 FROM team_tree c WHERE c.ancestor = t.team_id AND c.depth > 0)`;
    case 'team':
      if (has(p.owner)) return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE FALSE`;
      return sql`SELECT t.team_id AS group_key, ${cols} FROM targets t WHERE ${within}
        AND t.team_id IN (SELECT grp FROM team_groups)
        AND NOT ((SELECT count(*) FROM group_anchor) = 1 AND t.team_id IN (SELECT team_id FROM group_anchor))`;
    default:
      return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE FALSE`;
  }
}

/** The first filter no target is set by (industry, source, product, grade), or null. */
export function untargetedFilter(p: CommonParams): 'industry' | 'source' | 'product' | 'grade' | null {
  for (const f of ['industry', 'source', 'product', 'grade'] as const) if (has(p[f])) return f;
  return null;
}

/**
 * What an ungrouped figure's target is (the rule of `targetRows` without a group), for the
 * screen to say: an owner's own, a team's own, the top teams' (company), or none because of a
 * filter targets are not set by; `region` when the target is that region's.
 */
export function targetBasis(p: CommonParams): { basis: 'owner' | 'team' | 'company' | 'none'; region: string[] | null; filter: string | null } {
  const f = untargetedFilter(p);
  if (f) return { basis: 'none', region: null, filter: f };
  return { basis: has(p.owner) ? 'owner' : has(p.team) ? 'team' : 'company', region: has(p.region) ? p.region : null, filter: null };
}
