/**
 * Lean filtered relations: the same filters and `dim_*` columns as relations.ts, but a join
 * to customers, users or deals is made only when a filter or a requested dimension needs it.
 * At a million deals an unneeded join costs 30–100 ms, most of a model's time budget; a
 * column a relation did not join is NULL.
 *
 * Filters (metrics.md, common parameters): `team` is a team and every team below it (by the
 * owner's team), `owner` the owner, `region`/`industry`/`grade` the customer's,
 * `source`/`product` the deal's. A payment or an activity is filtered through its deal (or
 * its customer when it has none). Filters combine with AND, values of one filter with OR.
 *
 * Attribution of payments and activities:
 * - a payment belongs to its deal's owner, or to its customer's owner when it has no deal
 *   (with every customer attribute joined, also when its deal is unknown, as relations.ts);
 * - an activity belongs to the person who did it (`activities.owner_id`), and its customer is
 *   its own `customer_id`, else its deal's customer.
 */
import { sql, type Sql } from '../../src/lib/server/db/sql';
import type { CommonParams, Dimension } from './params';
import { filterWhere } from './relations';

const has = (v: string[] | undefined) => !!v && v.length > 0;
const NULL = sql`NULL::VARCHAR`;

const CUSTOMER_DIMS: Dimension[] = ['region', 'industry', 'grade'];
const USER_DIMS: Dimension[] = ['team', 'team_leaf'];

function needsCustomer(p: CommonParams, dims: readonly Dimension[]): boolean {
  return has(p.region) || has(p.industry) || has(p.grade) || dims.some((d) => CUSTOMER_DIMS.includes(d));
}

function needsUser(p: CommonParams, dims: readonly Dimension[]): boolean {
  return has(p.team) || dims.some((d) => USER_DIMS.includes(d));
}

/** Whether any common filter is set. */
export function hasFilters(p: CommonParams): boolean {
  return [p.team, p.owner, p.region, p.industry, p.source, p.product, p.grade].some(has);
}

/**
 * Deals with the filters applied and the `dim_*` columns the given dimensions need
 * (`dim_team_leaf`, `dim_owner`, `dim_region`, `dim_industry`, `dim_source`, `dim_product`,
 * `dim_grade`, `dim_stage`), plus every opportunities column.
 */
export function leanDeals(p: CommonParams, dims: readonly (Dimension | undefined)[] = []): Sql {
  const d = dims.filter((x): x is Dimension => !!x);
  const c = needsCustomer(p, d);
  const u = needsUser(p, d);
  const col = { region: sql`c.region`, industry: sql`c.industry`, grade: sql`c.grade` };
  const cc = (name: keyof typeof col) => (c ? col[name] : NULL);
  return sql`(
    SELECT o.*,
           ${u ? sql`u.team_id` : NULL} AS dim_team_leaf, o.owner_id AS dim_owner, ${cc('region')} AS dim_region,
           ${cc('industry')} AS dim_industry, o.source AS dim_source, o.product AS dim_product,
           ${cc('grade')} AS dim_grade, o.stage AS dim_stage
    FROM opportunities o
    ${c ? sql`LEFT JOIN customers c ON c.customer_id = o.customer_id` : sql``}
    ${u ? sql`LEFT JOIN users u ON u.user_id = o.owner_id` : sql``}
    WHERE ${filterWhere(p, { team: u ? sql`u.team_id` : NULL, owner: sql`o.owner_id`, region: cc('region'), industry: cc('industry'), source: sql`o.source`, product: sql`o.product`, grade: cc('grade') })}
  )`;
}

/**
 * Payments with their deal's and customer's dimensions (as relations.ts `paymentsRelation`),
 * each join made only when a filter or dimension needs it. The owner is the deal's; a
 * payment without a deal (`opportunity_id` null) takes its customer's owner, looked up only
 * for those rows when no customer attribute is needed otherwise. `pre`, a condition on the
 * payment row `pm` alone, is applied before any join (DuckDB does not push an expression such
 * as "outstanding > 0" below a join by itself).
 */
export function leanPayments(p: CommonParams, dims: readonly (Dimension | undefined)[] = [], pre?: Sql): Sql {
  const d = dims.filter((x): x is Dimension => !!x);
  const c = needsCustomer(p, d);
  const u = needsUser(p, d);
  const owner = u || has(p.owner) || d.includes('owner');
  const o = c || owner || has(p.source) || has(p.product) || d.includes('source') || d.includes('product');
  const col = { region: sql`c.region`, industry: sql`c.industry`, grade: sql`c.grade`, source: sql`o.source`, product: sql`o.product` };
  const cc = (name: 'region' | 'industry' | 'grade') => (c ? col[name] : NULL);
  const oc = (name: 'source' | 'product') => (o ? col[name] : NULL);
  const ownerExpr = owner ? (c ? sql`coalesce(o.owner_id, c.owner_id)` : sql`coalesce(o.owner_id, cf.owner_id)`) : NULL;
  return sql`(
    SELECT pm.*, ${ownerExpr} AS dim_owner, ${u ? sql`u.team_id` : NULL} AS dim_team_leaf, ${cc('region')} AS dim_region,
           ${cc('industry')} AS dim_industry, ${oc('source')} AS dim_source, ${oc('product')} AS dim_product, ${cc('grade')} AS dim_grade
    FROM ${pre ? sql`(SELECT * FROM payments pm WHERE ${pre})` : sql`payments`} pm
    ${o ? sql`LEFT JOIN opportunities o ON o.opportunity_id = pm.opportunity_id` : sql``}
    ${c ? sql`LEFT JOIN customers c ON c.customer_id = coalesce(pm.customer_id, o.customer_id)` : sql``}
    ${owner && !c
      ? sql`LEFT JOIN (SELECT customer_id, owner_id FROM customers
                       WHERE customer_id IN (SELECT customer_id FROM payments WHERE opportunity_id IS NULL)) cf
              ON pm.opportunity_id IS NULL AND cf.customer_id = pm.customer_id`
      : sql``}
    ${u ? sql`LEFT JOIN users u ON u.user_id = ${ownerExpr}` : sql``}
    WHERE ${filterWhere(p, { team: u ? sql`u.team_id` : NULL, owner: ownerExpr, region: cc('region'), industry: cc('industry'), source: oc('source'), product: oc('product'), grade: cc('grade') })}
  )`;
}

/**
 * Activities with the filters applied and their dimensions: `dim_owner` (who did it),
 * `dim_team_leaf` (their team), the customer's region/industry/grade, the deal's
 * source/product; each join made only when a filter or dimension needs it.
 */
export function leanActivities(p: CommonParams, dims: readonly (Dimension | undefined)[] = []): Sql {
  const d = dims.filter((x): x is Dimension => !!x);
  const c = needsCustomer(p, d);
  const u = needsUser(p, d);
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
