/**
 * Filtered relations and dimensions shared by models.
 *
 * Filters (metrics.md): `team` is a team and every team below it (by the deal owner's team),
 * `owner` the deal owner, `region`/`industry`/`grade` the customer's, `source`/`product` the
 * deal's. A payment or activity is filtered through its deal (or its customer when it has no
 * deal). All filters combine with AND; values within one filter with OR.
 *
 * Dimensions: `competitor` is the deal's competitor; `team` groups by the direct children of
 * the filtered team (or of the visible root team when no team is filtered; by the visible top teams themselves when there are
 * several), deals owned by members of the filtered team itself form a group of their own;
 * `team_leaf` groups by each owner's own team; `month`/`quarter` by the model's date field
 * (quarters follow the fiscal year).
 */
import { and, sql, unsafeRaw, type Sql } from '../../src/lib/server/db/sql';
import type { ModelContext } from '../model';
import { FILTERS, type CommonParams, type Dimension, type FilterName } from './params';

const has = (v: string[] | undefined): v is string[] => !!v && v.length > 0;

/**
 * Whether any of the common filters is set. Without one, `dealsRelation` is every deal the
 * viewer may see, so per-customer facts over those deals (`customer_facts`, scoped like the
 * deals: warehouse/facts.ts) give the same answer as aggregating the relation.
 */
export function hasFilters(p: Partial<Record<FilterName, unknown>>): boolean {
  return FILTERS.some((k) => Array.isArray(p[k]) && (p[k] as unknown[]).length > 0);
}

/**
 * Deals (from the precomputed `deal_facts`, warehouse/facts.ts) with the filters applied
 * and dimension columns added: `dim_team_leaf`, `dim_owner`, `dim_region`, `dim_industry`,
 * `dim_source`, `dim_product`, `dim_grade`, `dim_stage`, `dim_competitor`, plus every `deal_facts` column
 * (every opportunities column, `furthest_idx`, `entered`, `effective_amount`, …).
 */
export function dealsRelation(p: CommonParams, rows: 'deal_facts' | 'deal_facts_rows' = 'deal_facts'): Sql {
  // deal_facts_rows: the same rows with `fact_rowid` first (scope.ts), for a listing that sorts
  // the row ids alone and reads the page's rows by them.
  return sql`(
    SELECT f.*,
           f.owner_team AS dim_team_leaf, f.owner_id AS dim_owner, f.customer_region AS dim_region,
           f.customer_industry AS dim_industry, f.source AS dim_source, f.product AS dim_product,
           f.customer_grade AS dim_grade, f.stage AS dim_stage, f.competitor AS dim_competitor
    FROM ${unsafeRaw(rows)} f
    WHERE ${filterWhere(p, { team: sql`f.owner_team`, owner: sql`f.owner_id`, region: sql`f.customer_region`, industry: sql`f.customer_industry`, source: sql`f.source`, product: sql`f.product`, grade: sql`f.customer_grade` })}
  )`;
}

/** The filters the rollups by owner and day cannot answer (the customer's or the deal's own dimensions). */
const NOT_BY_OWNER = ['region', 'industry', 'source', 'product', 'grade'] as const;

/**
 * Whether the rollups by owner and day (`deal_day_facts`, `payment_day_facts`: warehouse/facts.ts)
 * answer a request with these filters exactly: they are keyed by owner (and the owner's team), so
 * the scope and the `team` and `owner` filters select whole rows; any other filter needs the
 * deals themselves. `COCKPIT_ROLLUPS=0` turns them off (every model then reads deal_facts and
 * payment_facts; the tests compare both paths).
 */
export function rollupServes(p: Partial<Record<FilterName, unknown>>): boolean {
  if (process.env.COCKPIT_ROLLUPS === '0') return false;
  return !NOT_BY_OWNER.some((k) => Array.isArray(p[k]) && (p[k] as unknown[]).length > 0);
}

const onlyByOwner = (p: CommonParams, team: Sql, owner: Sql) =>
  filterWhere(p, { team, owner, region: sql`NULL`, industry: sql`NULL`, source: sql`NULL`, product: sql`NULL`, grade: sql`NULL` });

/** A rollup by owner (or author) and day with the team and owner filters applied and `dim_owner`, `dim_team_leaf`; `where` narrows it further. */
function byOwnerRows(table: 'deal_day_facts' | 'payment_day_facts' | 'activity_day_facts', p: CommonParams, where?: Sql): Sql {
  return sql`(
    SELECT d.*, d.owner_team AS dim_team_leaf, d.owner_id AS dim_owner
    FROM ${unsafeRaw(table)} d
    WHERE ${and([where ?? false, onlyByOwner(p, sql`d.owner_team`, sql`d.owner_id`)])}
  )`;
}

/**
 * The rows of one role of `deal_day_facts` (`closed`: by close date; `created`; `expected`: open
 * deals by expected close date) with the team and owner filters applied and the `dim_owner`,
 * `dim_team_leaf` columns: `day`, `status`, `n`, `amount`, `effective_amount`, `weighted`,
 * `from_history`. Only where `rollupServes(p)`.
 */
export function dealDaysRelation(p: CommonParams, role: 'closed' | 'created' | 'expected' | 'any'): Sql {
  return byOwnerRows('deal_day_facts', p, sql`d.role = ${unsafeRaw(`'${role}'`)}`);
}

/** `payment_day_facts` with the team and owner filters applied: `day` (paid), `n`, `collected`. Only where `rollupServes(p)`. */
export function paymentDaysRelation(p: CommonParams): Sql {
  return byOwnerRows('payment_day_facts', p);
}

/** `activity_day_facts` (follow-ups per author and day) with the team and owner filters (the author's) applied: `day`, `n`, `dim_owner`, `dim_team_leaf`. Only where `rollupServes(p)`. */
export function activityDaysRelation(p: CommonParams): Sql {
  return byOwnerRows('activity_day_facts', p);
}

/** The groupings a rollup row has: its owner, the owner's team, and its date (month, quarter). */
const ROLLUP_DIMENSIONS: ReadonlySet<string> = new Set(['owner', 'team', 'team_leaf', 'month', 'quarter']);

/** Whether the rollups answer a request with these filters grouped by `dims` (rollupServes, and every grouping one a rollup row has). */
export function byRollup(p: CommonParams, dims: readonly (Dimension | undefined)[]): boolean {
  return rollupServes(p) && dims.every((d) => !d || ROLLUP_DIMENSIONS.has(d));
}

/** Each role's date on a deal_facts row `r`, and which deals have one (warehouse/facts.ts DAY_ROLES). */
const ROLE_DATES = {
  closed: { date: sql`r.closed_at`, has: sql`r.closed_at IS NOT NULL` },
  created: { date: sql`r.created_at`, has: sql`r.created_at IS NOT NULL` },
  expected: { date: sql`r.expected_close_date`, has: sql`r.status = 'open' AND r.expected_close_date IS NOT NULL` }
} as const;

/**
 * Rows that each stand for `n` deals, payments or follow-ups (a rollup's) or for one (the rows
 * themselves): `from` is the relation (aliased by the caller), `count(cond)` the number of records
 * behind the rows that meet `cond` — Σ n over rollup rows, count(*) over single ones (summing a
 * column of ones cost the per-deal path a tenth of its time at 10M deals).
 */
export interface Weighted {
  from: Sql;
  count: (cond?: Sql) => Sql;
}

export function weighted(from: Sql, rollup: boolean, alias = ''): Weighted {
  const n = unsafeRaw(alias ? `${alias}.n` : 'n');
  return {
    from,
    count: (cond) =>
      rollup
        ? sql`coalesce(sum(${n})${cond ? sql` FILTER (WHERE ${cond})` : sql``}, 0)::INTEGER`
        : sql`count(*)${cond ? sql` FILTER (WHERE ${cond})` : sql``}::INTEGER`
  };
}

/**
 * The deals dated by `role` in `period`, the one relation the period tiles sum (kpis, win/loss,
 * trend, the leaderboard): `d` (the role's date, TIMESTAMP), `status`, `n` (deals in the row),
 * `amount` (Σ amount), `value` (Σ effective amount, null as 0), `weighted` (Σ amount × win
 * probability), `from_history` (lost deals valued at their last open amount), `dim_owner`,
 * `dim_team_leaf`. When the rollups answer the request (no filter but team and owner, grouped by
 * `dims` only by owner, team or date), they are deal_day_facts' rows; otherwise each matching deal
 * is a row with n = 1 (and every dealsRelation column, for the other groupings; `perDeal` asks for
 * these rows whatever the filters, for a caller that reads other deal columns). Either way a
 * measure is written once: amounts are Σ amount, counts `count(cond)` (Weighted; `alias`: the
 * caller's alias of the rows, when its conditions are qualified).
 */
export function datedDeals(
  p: CommonParams,
  role: keyof typeof ROLE_DATES,
  period: { from: string; to: string },
  opts: { dims?: readonly (Dimension | undefined)[]; perDeal?: boolean; alias?: string } = {}
): Weighted {
  if (!opts.perDeal && byRollup(p, opts.dims ?? [])) {
    return weighted(
      sql`(
      SELECT r.day::TIMESTAMP AS d, r.status, r.n, r.amount, r.effective_amount AS value, r.weighted, r.from_history, r.dim_owner, r.dim_team_leaf
      FROM ${dealDaysRelation(p, role)} r WHERE ${inDays(sql`r.day`, period)}
    )`,
      true,
      opts.alias
    );
  }
  const { date, has } = ROLE_DATES[role];
  return weighted(
    sql`(
    SELECT r.*, ${date}::TIMESTAMP AS d, 1 AS n, coalesce(r.effective_amount, 0) AS value, r.amount * r.win_probability AS weighted,
           (r.status = 'lost' AND coalesce(r.amount, 0) = 0 AND coalesce(r.last_open_amount, 0) <> 0)::INTEGER AS from_history
    FROM ${dealsRelation(p)} r WHERE ${has} AND ${inPeriod(date, period)}
  )`,
    false,
    opts.alias
  );
}

/**
 * The payments received in `period` as weighted rows (see datedDeals): `d` (paid_at, DATE), `n`,
 * `collected` (Σ paid amount, the amount when none), `dim_owner`, `dim_team_leaf`; payment_day_facts'
 * rows when the rollups answer the request, else each matching payment with n = 1.
 */
export function paidPayments(p: CommonParams, period: { from: string; to: string }, dims: readonly (Dimension | undefined)[] = [], alias = ''): Weighted {
  if (byRollup(p, dims)) {
    return weighted(sql`(SELECT r.day AS d, r.n, r.collected, r.dim_owner, r.dim_team_leaf FROM ${paymentDaysRelation(p)} r WHERE ${inDays(sql`r.day`, period)})`, true, alias);
  }
  return weighted(
    sql`(
    SELECT r.*, r.paid_at AS d, 1 AS n, coalesce(r.paid_amount, r.amount) AS collected
    FROM ${paymentsRelation(p)} r WHERE ${inPeriod(sql`r.paid_at`, period)}
  )`,
    false,
    alias
  );
}

/**
 * Whether `customersRelation(p)` holds every customer that any revenue event or deal names: the
 * viewer sees everything (ctx.everyCustomerListed, set by the runner only for that scope, with
 * every customer of customer_facts in `customers`) and no filter narrows the customers. Then a
 * semi join of events or per-customer rows with that relation keeps every row, and the customer
 * figures leave it out (models/customer-list.ts, models/ltv.ts).
 */
export function everyCustomerInView(p: Partial<Record<FilterName, unknown>>, ctx: { everyCustomerListed?: boolean }): boolean {
  return !!ctx.everyCustomerListed && !hasFilters(p);
}

/**
 * Customers with the filters applied, for customer-level models (LTV, profile): `team` and
 * `owner` are the customer's owner (and the owner's team with every team below it), `region`,
 * `industry`, `source`, `grade` the customer's own; `product` keeps customers with at least
 * one deal of that product (the model restricts the revenue it counts to those deals).
 * Adds `dim_team_leaf`, `dim_owner`, `dim_region`, `dim_industry`, `dim_source`, `dim_grade`.
 */
export function customersRelation(p: CommonParams): Sql {
  return sql`(
    -- A customer seen through one of the viewer's deals may be owned by someone outside the scope:
    -- its owner is neither a segment nor a filter match (users is the scoped table, so u finds only visible owners).
    SELECT c.*,
           u.team_id AS dim_team_leaf, u.user_id AS dim_owner, c.region AS dim_region, c.industry AS dim_industry,
           c.source AS dim_source, c.grade AS dim_grade
    FROM customers c
    LEFT JOIN users u ON u.user_id = c.owner_id
    WHERE ${and([
      filterWhere({ ...p, product: undefined }, { team: sql`u.team_id`, owner: sql`u.user_id`, region: sql`c.region`, industry: sql`c.industry`, source: sql`c.source`, product: sql`NULL`, grade: sql`c.grade` }),
      has(p.product) && sql`c.customer_id IN (SELECT customer_id FROM opportunities WHERE list_contains(${p.product}::VARCHAR[], product))`
    ])}
  )`;
}

/**
 * Payments (from the precomputed `payment_facts`) with the filters applied and dimension
 * columns added; a payment's owner is its deal's owner, or its customer's when it has no deal.
 */
export function paymentsRelation(p: CommonParams, rows: 'payment_facts' | 'payment_facts_rows' = 'payment_facts'): Sql {
  // payment_facts_rows: the same rows with `fact_rowid` first (scope.ts), for the listing's page.
  return sql`(
    SELECT pf.*,
           pf.owner_id AS dim_owner, pf.owner_team AS dim_team_leaf, pf.customer_region AS dim_region,
           pf.customer_industry AS dim_industry, pf.source AS dim_source, pf.product AS dim_product, pf.customer_grade AS dim_grade
    FROM ${unsafeRaw(rows)} pf
    WHERE ${filterWhere(p, { team: sql`pf.owner_team`, owner: sql`pf.owner_id`, region: sql`pf.customer_region`, industry: sql`pf.customer_industry`, source: sql`pf.source`, product: sql`pf.product`, grade: sql`pf.customer_grade` })}
  )`;
}

type FilterColumns = Record<'team' | 'owner' | 'region' | 'industry' | 'source' | 'product' | 'grade', Sql>;

/** The WHERE condition for the common filters over the given column expressions. */
export function filterWhere(p: CommonParams, cols: FilterColumns): Sql {
  return and([
    has(p.team) && sql`${cols.team} IN (SELECT team_id FROM team_tree WHERE list_contains(${p.team}::VARCHAR[], ancestor))`,
    has(p.owner) && sql`list_contains(${p.owner}::VARCHAR[], ${cols.owner})`,
    has(p.region) && sql`list_contains(${p.region}::VARCHAR[], ${cols.region})`,
    has(p.industry) && sql`list_contains(${p.industry}::VARCHAR[], ${cols.industry})`,
    has(p.source) && sql`list_contains(${p.source}::VARCHAR[], ${cols.source})`,
    has(p.product) && sql`list_contains(${p.product}::VARCHAR[], ${cols.product})`,
    has(p.grade) && sql`list_contains(${p.grade}::VARCHAR[], ${cols.grade})`
  ]);
}

/** `ts >= from AND ts < to` for a period on a timestamp or date column. */
export function inPeriod(column: Sql, period: { from: string; to: string }): Sql {
  return sql`(${column} >= ${period.from}::TIMESTAMP AND ${column} < ${period.to}::TIMESTAMP)`;
}

/** `day >= from AND day < to` for a period on a DATE column (a rollup's `day`: compared as dates, so its zone maps apply). */
export function inDays(column: Sql, period: { from: string; to: string }): Sql {
  return sql`(${column} >= ${period.from}::DATE AND ${column} < ${period.to}::DATE)`;
}

/** Fiscal quarter start of a date expression. */
export function fiscalQuarterStart(date: Sql, fyStartMonth: number): Sql {
  const shift = fyStartMonth - 1;
  return sql`(date_trunc('quarter', ${date} - to_months(${shift}::INTEGER)) + to_months(${shift}::INTEGER))::DATE`;
}

/**
 * CTEs needed by the `team` dimension: `group_anchor` (the filtered teams, or the visible
 * top teams) and `team_groups(leaf, grp)` mapping every team to its group.
 */
export function teamGroupCtes(p: CommonParams): [string, Sql][] {
  const teamFilter = p.team ?? [];
  return [
    [
      'group_anchor',
      sql`SELECT unnest(${teamFilter}::VARCHAR[]) AS team_id WHERE len(${teamFilter}::VARCHAR[]) > 0
          UNION ALL
          SELECT team_id FROM teams
          WHERE len(${teamFilter}::VARCHAR[]) = 0 AND (parent_id IS NULL OR parent_id NOT IN (SELECT team_id FROM teams))`
    ],
    [
      'team_groups',
      unsafeRaw(`SELECT tt.team_id AS leaf,
          arg_max(CASE WHEN (SELECT count(*) FROM group_anchor) = 1
               THEN coalesce((SELECT c.team_id FROM teams c JOIN team_tree t2 ON t2.ancestor = c.team_id
                              WHERE c.parent_id = tt.ancestor AND t2.team_id = tt.team_id), tt.ancestor)
               ELSE tt.ancestor END, tt.depth * -1) AS grp
        FROM team_tree tt WHERE tt.ancestor IN (SELECT team_id FROM group_anchor)
        GROUP BY tt.team_id`)
    ]
  ];
}

/**
 * The group key of a dimension over a relation aliased `r` (which has the `dim_*` columns).
 * `date` is the model's date column for `month`/`quarter`.
 */
export function dimensionKey(dim: Dimension, ctx: ModelContext, date?: Sql): Sql {
  switch (dim) {
    case 'team':
      return sql`(SELECT grp FROM team_groups WHERE leaf = r.dim_team_leaf)`;
    case 'team_leaf':
      return sql`r.dim_team_leaf`;
    case 'owner':
      return sql`r.dim_owner`;
    case 'region':
      return sql`r.dim_region`;
    case 'industry':
      return sql`r.dim_industry`;
    case 'source':
      return sql`r.dim_source`;
    case 'product':
      return sql`r.dim_product`;
    case 'competitor':
      return sql`r.dim_competitor`;
    case 'grade':
      return sql`r.dim_grade`;
    case 'stage':
      return sql`r.dim_stage`;
    case 'month':
      if (!date) throw new Error('month needs a date column');
      return sql`strftime(date_trunc('month', ${date}), '%Y-%m')`;
    case 'quarter':
      if (!date) throw new Error('quarter needs a date column');
      return sql`strftime(${fiscalQuarterStart(date, ctx.fiscalYearStartMonth)}, '%Y-%m-%d')`;
  }
}

/** A readable label for a group key column `key` (team and user names; quarter as 2026-Q1). */
export function dimensionLabel(dim: Dimension, key: Sql, ctx: ModelContext): Sql {
  switch (dim) {
    case 'team':
    case 'team_leaf':
      return sql`coalesce((SELECT name FROM teams WHERE team_id = ${key}), ${key})`;
    case 'owner':
      return sql`coalesce((SELECT name FROM users WHERE user_id = ${key}), ${key})`;
    case 'quarter': {
      // Fiscal years that do not start in January are named after the calendar year they end in.
      const shift = ctx.fiscalYearStartMonth - 1;
      const year = shift === 0 ? sql`year(${key}::DATE)` : sql`year(${key}::DATE + to_months(${12 - shift}::INTEGER))`;
      return sql`(${year}::VARCHAR || '-Q' || (((month(${key}::DATE) - ${ctx.fiscalYearStartMonth}::INTEGER + 12) % 12) // 3 + 1)::VARCHAR)`;
    }
    default:
      return key;
  }
}
