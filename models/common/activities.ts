/**
 * Activities with the common filters applied and their dimensions (metrics.md, common
 * parameters). Deals and payments come filtered from the precomputed facts
 * (relations.ts `dealsRelation` / `paymentsRelation`); activities have no facts table, so
 * this relation joins customers, deals or users only when a filter or the requested dimension
 * needs them (an unneeded join costs tens of milliseconds at 2M activities).
 *
 * An activity belongs to the person who did it (`activities.owner_id`); its customer is its
 * own `customer_id`, else its deal's; `source`/`product` are its deal's. Filters combine with
 * AND, values of one filter with OR; `team` is a team and every team below it.
 */
import { sql, type Sql } from '../../src/lib/server/db/sql';
import type { CommonParams, Dimension } from './params';
import { activityDaysRelation, byRollup, filterWhere, inDays, inPeriod, weighted, type Weighted } from './relations';

const has = (v: string[] | undefined) => !!v && v.length > 0;
const NULL = sql`NULL::VARCHAR`;

/**
 * Activities with the filters applied and their dimensions: `dim_owner` (who did it),
 * `dim_team_leaf` (their team), the customer's region/industry/grade, the deal's
 * source/product; each join made only when a filter or dimension needs it.
 */
export function activitiesRelation(p: CommonParams, dims: readonly (Dimension | undefined)[] = []): Sql {
  const d = dims.filter((x): x is Dimension => !!x);
  const c = has(p.region) || has(p.industry) || has(p.grade) || d.some((x) => ['region', 'industry', 'grade'].includes(x));
  const u = has(p.team) || d.includes('team') || d.includes('team_leaf');
  const o = c || has(p.source) || has(p.product) || d.includes('source') || d.includes('product');
  const col = { region: sql`c.region`, industry: sql`c.industry`, grade: sql`c.grade`, source: sql`o.source`, product: sql`o.product` };
  const cc = (name: 'region' | 'industry' | 'grade') => (c ? col[name] : NULL);
  const oc = (name: 'source' | 'product') => (o ? col[name] : NULL);
  return sql`(
    SELECT a.*, a.owner_id AS dim_owner, ${u ? sql`u.team_id` : NULL} AS dim_team_leaf, ${cc('region')} AS dim_region,
           ${cc('industry')} AS dim_industry, ${oc('source')} AS dim_source, ${oc('product')} AS dim_product, ${cc('grade')} AS dim_grade
    FROM activities a
    ${o ? sql`LEFT JOIN opportunities o ON o.opportunity_id = a.opportunity_id` : sql``}
    ${c ? sql`LEFT JOIN customers c ON c.customer_id = coalesce(a.customer_id, o.customer_id)` : sql``}
    ${u ? sql`LEFT JOIN users u ON u.user_id = a.owner_id` : sql``}
    WHERE ${filterWhere(p, { team: u ? sql`u.team_id` : NULL, owner: sql`a.owner_id`, region: cc('region'), industry: cc('industry'), source: oc('source'), product: oc('product'), grade: cc('grade') })}
  )`;
}

/**
 * The follow-ups done in `period` as weighted rows (as relations.ts datedDeals): `n`, `owner_id`
 * (who did them), `dim_owner`, `dim_team_leaf` — activity_day_facts' rows when the rollups answer
 * the request (no filter but team and owner, grouped by `dims` only by person or team), else
 * each matching follow-up (activitiesRelation's columns), counted by `count`.
 */
export function doneActivities(p: CommonParams, period: { from: string; to: string }, dims: readonly (Dimension | undefined)[] = [], alias = ''): Weighted {
  if (byRollup(p, dims) && dims.every((d) => !d || d === 'owner' || d === 'team' || d === 'team_leaf')) {
    return weighted(sql`(SELECT r.n, r.owner_id, r.dim_owner, r.dim_team_leaf FROM ${activityDaysRelation(p)} r WHERE ${inDays(sql`r.day`, period)})`, true, alias);
  }
  return weighted(sql`(SELECT r.* FROM ${activitiesRelation(p, dims)} r WHERE ${inPeriod(sql`r.occurred_at`, period)})`, false, alias);
}
