/**
 * One customer in full (客户360) — `customer`: the profile and totals in `summary.customer`,
 * and in `rows` what the customer page draws besides its deals (which come from the `deals`
 * listing with `customer=<id>`) and its quadrant (from `customer_profile`
 * `view=grid_customers&customer=<id>`, so the medians are the grid's):
 *
 * - `won_month`: won amount per close month (`at` = the month's first day, `amount`,
 *   `cumulative`), every month from the first win to the report date's month, empty months 0;
 * - `payment`: each payment of the customer (its own, or of its deals when it has none):
 *   `amount`, `due_date`, `paid_at`, `paid_amount`, `outstanding` and `days` overdue as of the
 *   report date (payment_list's definitions), `ref` = payment id, `deal` = the deal's name;
 * - `activity`: each follow-up on the customer or its deals (`type`, `text`, `who`, `deal`).
 * Header totals as of the report date: won (count, amount), open (count, amount), lost count;
 * paid_total, outstanding and overdue (amount and count) like the payments board; the last
 * follow-up. Everything goes through the viewer's scope: a customer the viewer cannot see, or
 * unknown, has no rows and `summary.customer` null (the page answers 404); the deals, payments
 * and follow-ups of other owners that the scope hides are not counted.
 * The period does not apply (everything up to the report date); filters do not either.
 */
import { z } from 'zod';
import { defineModel } from './model';
import { paramsSchema } from './common/params';
import { addDays } from './common/period';
import { sql } from '../src/lib/server/db/sql';
import { outstandingAt, overdueAt } from './common/receivables';
import { personName } from './common/people';

const params = paramsSchema({
  /** The customer id; none (or an unknown one) finds no customer. */
  id: z.string().max(200).default('')
});

export const CUSTOMER_EVENT_KINDS = ['won_month', 'payment', 'activity'] as const;

const row = z.strictObject({
  kind: z.enum(CUSTOMER_EVENT_KINDS),
  /** null for a payment with neither a due date nor a paid date (still listed: its amount is outstanding). */
  at: z.string().nullable(),
  amount: z.number().nullable(),
  cumulative: z.number().nullable(),
  due_date: z.string().nullable(),
  paid_at: z.string().nullable(),
  paid_amount: z.number().nullable(),
  outstanding: z.number().nullable(),
  days: z.number().int().nullable(),
  ref: z.string().nullable(),
  deal: z.string().nullable(),
  type: z.string().nullable(),
  text: z.string().nullable(),
  who: z.string().nullable()
});

export const customerHeader = z.strictObject({
  customer_id: z.string(),
  name: z.string().nullable(),
  industry: z.string().nullable(),
  region: z.string().nullable(),
  source: z.string().nullable(),
  grade: z.string().nullable(),
  status: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  team_id: z.string().nullable(),
  team_name: z.string().nullable(),
  created_at: z.string().nullable(),
  deals: z.number().int(),
  won_deals: z.number().int(),
  won_amount: z.number(),
  open_deals: z.number().int(),
  open_amount: z.number(),
  lost_deals: z.number().int(),
  first_won_at: z.string().nullable(),
  paid_total: z.number(),
  outstanding: z.number(),
  overdue: z.number(),
  overdue_payments: z.number().int(),
  last_activity_at: z.string().nullable()
});
export type CustomerHeader = z.infer<typeof customerHeader>;

const wire = row.extend({ seq: z.number(), h: z.string().nullable() });

export const customer = defineModel({
  name: 'customer',
  title: { 'zh-CN': '客户360', en: 'Customer 360' },
  definition: {
    'zh-CN':
      '单个客户的全貌：资料与级别、负责人与团队、全部商机、按月赢单金额（含累计）、回款计划与实收（未收与逾期计至报告日，口径同回款明细）、跟进记录，以及价值×潜力象限（口径同客户画像）。只包含当前账号可见的商机、回款与跟进。',
    en: 'One customer in full: profile and grade, owner and team, all deals, won amount by month (with the running total), payments planned and received (outstanding and overdue as of the report date, as in the payments list), follow-ups, and the value × potential quadrant (as in the customer profile). Only the deals, payments and follow-ups the viewer may see count.'
  },
  dateField: () => 'opportunities.closed_at',
  defaultPeriod: 'all',
  params,
  row,
  query(p, ctx) {
    const id = p.id;
    const D = ctx.asOf;
    const dayEnd = addDays(D, 1);
    // The payments board's definitions (models/common/receivables.ts): totals count only what is
    // still owed, so an overpaid instalment does not cancel another's debt.
    const outstanding = outstandingAt(D, 'cp');
    return {
      ctes: [
        ['cu', sql`SELECT * FROM customers WHERE customer_id = ${id}`, { materialized: true }],
        ['cd', sql`SELECT * FROM opportunities WHERE customer_id = ${id} AND customer_id IN (SELECT customer_id FROM cu)`, { materialized: true }],
        // A payment or follow-up belongs to the customer by its own customer_id, or, when it has
        // none, by its deal's. Payments: payment_facts has that customer (effective_customer_id)
        // and the deal's name precomputed, and is scoped like payments (a visible payment tied to a
        // deal has a visible deal). Follow-ups: two constant-id branches, the second through the
        // customer's few deals. Both replace `coalesce(x.customer_id, d.customer_id) = id` over a
        // join of every payment/activity with every deal (3.4 s at 1M deals).
        [
          'cp',
          sql`SELECT pf.* FROM payment_facts pf WHERE pf.effective_customer_id = ${id} AND ${id} IN (SELECT customer_id FROM cu)`,
          { materialized: true }
        ],
        [
          'ca0',
          sql`SELECT * FROM activities WHERE customer_id = ${id} AND ${id} IN (SELECT customer_id FROM cu) AND occurred_at < ${dayEnd}::TIMESTAMP
              UNION ALL
              SELECT * FROM activities
              WHERE customer_id IS NULL AND opportunity_id IN (SELECT opportunity_id FROM cd) AND occurred_at < ${dayEnd}::TIMESTAMP`,
          { materialized: true }
        ],
        [
          'ca',
          // The deal's name from the customer's deals; a follow-up on this customer tied to another
          // customer's deal looks that one up (no such row, no scan: the lookup's list is empty).
          sql`SELECT a.*, coalesce(d.name, o.name) AS deal_name FROM ca0 a
              LEFT JOIN cd d ON d.opportunity_id = a.opportunity_id
              LEFT JOIN (SELECT opportunity_id, name FROM opportunities
                         WHERE opportunity_id IN (SELECT opportunity_id FROM ca0 WHERE opportunity_id NOT IN (SELECT opportunity_id FROM cd))) o
                ON o.opportunity_id = a.opportunity_id`,
          { materialized: true }
        ],
        [
          'wins',
          sql`SELECT date_trunc('month', closed_at)::DATE AS month, sum(coalesce(amount, 0))::DOUBLE AS amount
              FROM cd WHERE status = 'won' AND closed_at < ${dayEnd}::TIMESTAMP GROUP BY 1`
        ],
        [
          'months',
          sql`SELECT unnest(range((SELECT min(month) FROM wins)::TIMESTAMP, date_trunc('month', ${D}::DATE)::TIMESTAMP + INTERVAL 1 MONTH, INTERVAL 1 MONTH))::DATE AS month
              WHERE (SELECT min(month) FROM wins) IS NOT NULL`
        ],
        [
          'events',
          sql`SELECT 1 AS seq, 'won_month' AS kind, m.month::TIMESTAMP AS at, coalesce(w.amount, 0)::DOUBLE AS amount,
                sum(coalesce(w.amount, 0)) OVER (ORDER BY m.month)::DOUBLE AS cumulative,
                NULL::DATE AS due_date, NULL::DATE AS paid_at, NULL::DOUBLE AS paid_amount, NULL::DOUBLE AS outstanding,
                NULL::INTEGER AS days, NULL::VARCHAR AS ref, NULL::VARCHAR AS deal, NULL::VARCHAR AS type, NULL::VARCHAR AS text, NULL::VARCHAR AS who
              FROM months m LEFT JOIN wins w ON w.month = m.month
            UNION ALL
            SELECT 2, 'payment', coalesce(cp.due_date, cp.paid_at)::TIMESTAMP, cp.amount::DOUBLE, NULL, cp.due_date, cp.paid_at,
                (CASE WHEN cp.paid_at IS NOT NULL THEN coalesce(cp.paid_amount, cp.amount) END)::DOUBLE, ${outstanding}::DOUBLE,
                CASE WHEN ${outstanding} > 0 AND cp.due_date < ${D}::DATE THEN date_diff('day', cp.due_date, ${D}::DATE)::INTEGER END,
                cp.payment_id, cp.deal_name, NULL, NULL, NULL
              FROM cp
            UNION ALL
            SELECT 3, 'activity', ca.occurred_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ca.activity_id, ca.deal_name, ca.type, ca.summary,
                -- the author by name; one outside the viewer's scope neither by id nor name (people.ts)
                ${personName(sql`ca.owner_id`)}
              FROM ca`
        ],
        [
          'header',
          // A customer seen through one of the viewer's deals may be owned by someone outside the scope:
          // that owner (and their team) is not shown (users is the scoped table: u finds only visible owners).
          sql`SELECT c.customer_id, c.name, c.industry, c.region, c.source, c.grade, c.status, u.user_id AS owner_id, u.name AS owner_name,
                u.team_id, t.name AS team_name, c.created_at,
                (SELECT count(*) FROM cd)::INTEGER AS deals,
                (SELECT count(*) FROM cd WHERE status = 'won')::INTEGER AS won_deals,
                (SELECT coalesce(sum(amount), 0) FROM cd WHERE status = 'won')::DOUBLE AS won_amount,
                (SELECT count(*) FROM cd WHERE status = 'open')::INTEGER AS open_deals,
                (SELECT coalesce(sum(amount), 0) FROM cd WHERE status = 'open')::DOUBLE AS open_amount,
                (SELECT count(*) FROM cd WHERE status = 'lost')::INTEGER AS lost_deals,
                (SELECT min(closed_at) FROM cd WHERE status = 'won')::DATE::VARCHAR AS first_won_at,
                (SELECT coalesce(sum(coalesce(paid_amount, amount)) FILTER (WHERE paid_at IS NOT NULL AND paid_at <= ${D}::DATE), 0) FROM cp)::DOUBLE AS paid_total,
                (SELECT coalesce(sum(${outstanding}) FILTER (WHERE ${outstanding} > 0), 0) FROM cp)::DOUBLE AS outstanding,
                (SELECT coalesce(sum(${outstanding}) FILTER (WHERE ${overdueAt(D, 'cp')}), 0) FROM cp)::DOUBLE AS overdue,
                (SELECT count(*) FILTER (WHERE ${overdueAt(D, 'cp')}) FROM cp)::INTEGER AS overdue_payments,
                (SELECT max(occurred_at) FROM ca)::VARCHAR AS last_activity_at
              FROM cu c LEFT JOIN users u ON u.user_id = c.owner_id LEFT JOIN teams t ON t.team_id = u.team_id`
        ]
      ],
      body: sql`SELECT e.*, (SELECT to_json(header)::VARCHAR FROM header) AS h
        FROM (SELECT 1) one LEFT JOIN events e ON TRUE
        ORDER BY e.seq, e.at, e.ref`
    };
  },
  finalize(rows) {
    const h = rows[0]?.h as string | null | undefined;
    const ts = (v: unknown) => (typeof v === 'string' ? v.replace(' ', 'T') : v);
    const raw = h ? (JSON.parse(h) as Record<string, unknown>) : null;
    const header = raw ? customerHeader.parse({ ...raw, created_at: ts(raw.created_at), last_activity_at: ts(raw.last_activity_at) }) : null;
    const out = header
      ? wire
          .array()
          .parse(rows.filter((r) => r.kind !== null))
          .map(({ seq: _s, h: _h, ...r }) => ({ ...r, at: r.at === null ? null : String(r.at).replace(' ', 'T') }) as z.input<typeof row>)
      : [];
    return { rows: out, n: out.length, summary: { customer: header } };
  }
});
