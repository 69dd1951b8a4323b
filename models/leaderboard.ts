/**
 * Leaderboards (metrics.md, `leaderboard`): per owner or per team, ranked by a chosen measure.
 *
 * - won_amount, won_count: deals won in the period (`opportunities.closed_at`).
 * - collected_amount: Σ paid_amount (amount when none) of payments paid in the period
 *   (`payments.paid_at`), credited to the deal's owner (the customer's owner for a payment
 *   without a deal).
 * - new_customers: customers whose first won deal (among the deals in view) closed in the
 *   period, credited to the owner of that deal.
 * - win_rate = won / (won + lost) by count among deals closed in the period, with
 *   `win_rate_n` = won + lost; null when none closed.
 * - activities: follow-ups done in the period (`activities.occurred_at`) by the person (only
 *   people the viewer may see are counted).
 * - target: the owner's or team's own target rows inside the period (common/targets.ts);
 *   attainment = won_amount / target, null without a target.
 *
 * `group_by`: `owner` (default), `team` (the direct children of the filtered team, each with
 * every team below it; the filtered team's own direct members form a group of their own,
 * without a target), or `team_leaf` (each owner's own team). A row appears for every owner or
 * team with something in the period or a target for it. Ranking is `rank()` over the chosen
 * measure, highest first (ties share a rank; a null win rate or attainment ranks last).
 * `n` is the deals closed in the period (won + lost), of every row ranked (also those a
 * `limit` leaves out).
 */
import { z } from 'zod';
import { defineModel } from './model';
import { groupByParam, paramsSchema, type Dimension } from './common/params';
import { datedDeals, dealsRelation, dimensionKey, dimensionLabel, hasFilters, inPeriod, paidPayments, teamGroupCtes } from './common/relations';
import { doneActivities } from './common/activities';
import { targetRows } from './common/targets';
import { ident, sql } from '../src/lib/server/db/sql';

export const LEADERBOARD_MEASURES = ['won_amount', 'won_count', 'collected_amount', 'new_customers', 'win_rate', 'activities', 'attainment'] as const;

const params = paramsSchema({
  group_by: groupByParam(['owner', 'team', 'team_leaf'] as const).default('owner'),
  rank_by: z.enum(LEADERBOARD_MEASURES).default('won_amount'),
  /** Keep only the first `limit` rows of the ranking (ties at the cut are kept). */
  limit: z.coerce.number().int().min(1).max(10_000).optional()
});

const row = z.strictObject({
  rank: z.number().int().positive(),
  group_key: z.string().nullable(),
  group_label: z.string().nullable(),
  /** For an owner: their team (id and name); for a team: null. */
  team_id: z.string().nullable(),
  team_label: z.string().nullable(),
  won_amount: z.number(),
  won_count: z.number().int().nonnegative(),
  lost_count: z.number().int().nonnegative(),
  win_rate: z.number().min(0).max(1).nullable(),
  win_rate_n: z.number().int().nonnegative(),
  collected_amount: z.number(),
  collected_n: z.number().int().nonnegative(),
  new_customers: z.number().int().nonnegative(),
  activities: z.number().int().nonnegative(),
  target: z.number().nullable(),
  attainment: z.number().nullable(),
  n: z.number().int().nonnegative()
});

/** The date each column is filtered on. */
const DATE_FIELDS = {
  won_amount: 'opportunities.closed_at',
  win_rate: 'opportunities.closed_at',
  new_customers: 'opportunities.closed_at',
  collected_amount: 'payments.paid_at',
  activities: 'activities.occurred_at',
  target: 'targets.period_start'
};

export const leaderboard = defineModel({
  name: 'leaderboard',
  title: { 'zh-CN': '业绩排行', en: 'Leaderboard' },
  definition: {
    'zh-CN':
      '按负责人或团队（团队含其下所有团队）排名。赢单金额按成交日期；回款按实际回款日期、记在商机负责人名下；新客户为首次赢单落在本期的客户；赢单率=赢单数/(赢单数+输单数)，附样本数；跟进次数按跟进时间；目标为本人或本团队落在本期内的目标，达成率=赢单金额/目标。',
    en: 'Ranked per owner or per team (a team includes every team below it). Won amount by close date; collected by payment date, credited to the deal owner; new customers: first win in the period; win rate = won / (won + lost), with its n; activities by date; target: the owner’s or team’s own target inside the period, attainment = won / target.'
  },
  // The ranking measure's date; every column's is in the summary's date_fields.
  dateField: (p) => (p.rank_by === 'collected_amount' ? 'payments.paid_at' : p.rank_by === 'activities' ? 'activities.occurred_at' : 'opportunities.closed_at'),
  defaultPeriod: 'this_quarter',
  params,
  row,
  query(p, ctx) {
    const g = p.group_by as Dimension;
    const key = dimensionKey(g, ctx);
    const period = ctx.period;
    const deals = dealsRelation(p);
    const label = dimensionLabel(g, sql`m.group_key`, ctx);
    const isTeam = g === 'team';
    // Sort key: highest first, a null (no win rate, no target) last, then by group key.
    const measure = ident(p.rank_by, LEADERBOARD_MEASURES);
    const closed = datedDeals(p, 'closed', period, { dims: [g], alias: 'r' });
    const paid = paidPayments(p, period, [g], 'r');
    const acts = doneActivities(p, period, [g], 'r');
    return {
      ctes: [
        ...(isTeam ? teamGroupCtes(p) : []),
        // Won, lost and collected per owner or team, over the dated deals and payments received
        // (relations.ts: the rollups by owner and day when the filters allow, else the rows).
        ['closed', sql`SELECT ${key} AS group_key,
            coalesce(sum(r.amount) FILTER (WHERE r.status = 'won'), 0)::DOUBLE AS won_amount,
            ${closed.count(sql`r.status = 'won'`)} AS won_count,
            ${closed.count(sql`r.status = 'lost'`)} AS lost_count
          FROM ${closed.from} r WHERE r.status IN ('won', 'lost') GROUP BY 1`],
        ['collected', sql`SELECT ${key} AS group_key, sum(r.collected)::DOUBLE AS collected_amount, ${paid.count()} AS collected_n
          FROM ${paid.from} r GROUP BY 1`],
        ['won_upto', sql`SELECT r.customer_id, r.closed_at, ${key} AS group_key FROM ${deals} r
          WHERE r.status = 'won' AND r.customer_id IS NOT NULL AND r.closed_at < ${period.to}::TIMESTAMP`],
        [
          'first_won',
          hasFilters(p)
            ? sql`SELECT customer_id FROM won_upto GROUP BY customer_id HAVING min(closed_at) >= ${period.from}::TIMESTAMP`
            : // unfiltered: the viewer's deals, whose first wins customer_facts has (scoped like them)
              sql`SELECT customer_id FROM customer_facts WHERE ${inPeriod(sql`first_won_at`, period)}`
        ],
        ['firsts', sql`SELECT w.customer_id, arg_min(w.group_key, w.closed_at) AS group_key
          FROM won_upto w WHERE w.closed_at >= ${period.from}::TIMESTAMP AND w.customer_id IN (SELECT customer_id FROM first_won)
          GROUP BY w.customer_id`],
        ['new_cust', sql`SELECT group_key, count(*)::INTEGER AS new_customers FROM firsts GROUP BY 1`],
        ['acts', sql`SELECT ${key} AS group_key, ${acts.count()} AS activities
          FROM ${acts.from} r
          -- by the people the viewer may see (a visible deal's activity by someone else is theirs, not on this board)
          WHERE r.owner_id IN (SELECT user_id FROM users) GROUP BY 1`],
        ['tgt', sql`SELECT group_key, sum(amount)::DOUBLE AS target FROM (${targetRows(p, g, 'won_amount', period)}) GROUP BY 1`],
        ['keys', sql`SELECT group_key FROM closed UNION SELECT group_key FROM collected UNION SELECT group_key FROM new_cust
            UNION SELECT group_key FROM acts UNION SELECT group_key FROM tgt`],
        ['m', sql`SELECT k.group_key,
            coalesce(c.won_amount, 0)::DOUBLE AS won_amount, coalesce(c.won_count, 0)::INTEGER AS won_count,
            coalesce(c.lost_count, 0)::INTEGER AS lost_count,
            coalesce(c.won_count, 0)::DOUBLE / nullif(coalesce(c.won_count, 0) + coalesce(c.lost_count, 0), 0) AS win_rate,
            (coalesce(c.won_count, 0) + coalesce(c.lost_count, 0))::INTEGER AS win_rate_n,
            coalesce(co.collected_amount, 0)::DOUBLE AS collected_amount, coalesce(co.collected_n, 0)::INTEGER AS collected_n,
            coalesce(nc.new_customers, 0)::INTEGER AS new_customers, coalesce(a.activities, 0)::INTEGER AS activities,
            t.target
          FROM keys k
          LEFT JOIN closed c ON c.group_key IS NOT DISTINCT FROM k.group_key
          LEFT JOIN collected co ON co.group_key IS NOT DISTINCT FROM k.group_key
          LEFT JOIN new_cust nc ON nc.group_key IS NOT DISTINCT FROM k.group_key
          LEFT JOIN acts a ON a.group_key IS NOT DISTINCT FROM k.group_key
          LEFT JOIN tgt t ON t.group_key IS NOT DISTINCT FROM k.group_key`],
        ['ranked', sql`SELECT m.*, m.won_amount / nullif(m.target, 0) AS attainment FROM m`]
      ],
      body: sql`SELECT * FROM (
          SELECT (rank() OVER (ORDER BY m.${measure} DESC NULLS LAST))::INTEGER AS rank,
            m.group_key::VARCHAR AS group_key,
            ${label}::VARCHAR AS group_label,
            ${g === 'owner' ? sql`(SELECT team_id FROM users WHERE user_id = m.group_key)` : sql`NULL`}::VARCHAR AS team_id,
            ${g === 'owner' ? sql`(SELECT t.name FROM users u JOIN teams t ON t.team_id = u.team_id WHERE u.user_id = m.group_key)` : sql`NULL`}::VARCHAR AS team_label,
            m.won_amount, m.won_count, m.lost_count, m.win_rate, m.win_rate_n, m.collected_amount, m.collected_n,
            m.new_customers, m.activities,
            m.target, m.attainment,
            m.win_rate_n AS n, (sum(m.win_rate_n) OVER ())::INTEGER AS total_n
          FROM ranked m
        ) WHERE ${p.limit === undefined ? sql`TRUE` : sql`rank <= ${p.limit}`}
        ORDER BY rank, group_key NULLS LAST`
    };
  },
  finalize(rows) {
    // n counts every ranked row's deals, also those cut by `limit`.
    const n = Number((rows[0] as { total_n?: number } | undefined)?.total_n ?? 0);
    return { rows: rows.map(({ total_n: _t, ...r }) => r) as z.input<typeof row>[], n, summary: { date_fields: DATE_FIELDS } };
  }
});
