/**
 * Which targets apply (data-model.md: a team's target is its own row, never a sum of its
 * members'). A target row counts for a period when it lies inside it
 * (`period_start >= from AND period_end <= to`), for the metric asked (`won_amount` when
 * the row names none).
 *
 * - Ungrouped: the filtered teams' own rows, else the filtered owners', else the top visible
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
  const within = sql`t.period_start >= ${period.from}::DATE AND t.period_end <= ${period.to}::DATE AND coalesce(t.metric, 'won_amount') = ${metric}`;
  const cols = sql`t.period_start, t.period_end, t.amount::DOUBLE AS amount`;
  const teamFilter = has(p.team)
    ? sql`t.team_id IN (SELECT team_id FROM team_tree WHERE list_contains(${p.team}::VARCHAR[], ancestor))`
    : null;
  switch (groupBy) {
    case undefined: {
      if (has(p.team)) return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE ${within} AND list_contains(${p.team}::VARCHAR[], t.team_id)`;
      if (has(p.owner)) return sql`SELECT NULL::VARCHAR AS group_key, ${cols} FROM targets t WHERE ${within} AND list_contains(${p.owner}::VARCHAR[], t.owner_id)`;
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
