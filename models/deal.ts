/**
 * One deal in full (商机详情) — `deal`: the header (customer, owner, team, stage, amounts,
 * dates) in `summary.deal`, and its history as one chronological event log in `rows`:
 *
 * - `stage`: each entry into a stage (stage_events: a version whose stage differs from the
 *   previous one); `until` is the next entry (null while current), `days` the days spent,
 *   up to the report date for the current open stage (none for a closed deal's last stage).
 * - `amount`, `close_date`, `owner`: a version where the amount, expected close date or owner
 *   differs from the previous version; `old_value` → `new_value` (amounts as numbers in
 *   text, dates as YYYY-MM-DD, owners by name).
 * - `payment`: each payment of the deal, at its due date (or paid date when unplanned), with
 *   `amount`, `due_date`, `paid_at`, `paid_amount`; `days` = days overdue as of the report
 *   date while anything is outstanding past due. The header's `paid_total`, `outstanding` and
 *   `overdue` are as of the report date too (kpis' overdue definition).
 * - `activity`: each follow-up on the deal (type, summary, who).
 * The header also carries the deal's risk flags as of the report date (models/common/risk.ts).
 * A deal outside the viewer's scope or the request's filters (team, owner, region …; the
 * period is ignored), or unknown, has no rows and `summary.deal` null.
 */
import { z } from 'zod';
import { defineModel } from './model';
import { paramsSchema } from './common/params';
import { dealsRelation } from './common/relations';
import { RISK_FLAGS, riskFromFacts } from './common/risk';
import { personName } from './common/people';
import { sql } from '../src/lib/server/db/sql';

const params = paramsSchema({
  /** The opportunity id; none (or an unknown one) finds no deal. */
  id: z.string().max(200).default('')
});

export const DEAL_EVENT_KINDS = ['stage', 'amount', 'close_date', 'owner', 'payment', 'activity'] as const;

const row = z.strictObject({
  kind: z.enum(DEAL_EVENT_KINDS),
  /** When it happened; null when the source gave no date (a payment with neither due nor paid date). */
  at: z.string().nullable(),
  stage: z.string().nullable(),
  until: z.string().nullable(),
  days: z.number().nullable(),
  old_value: z.string().nullable(),
  new_value: z.string().nullable(),
  amount: z.number().nullable(),
  due_date: z.string().nullable(),
  paid_at: z.string().nullable(),
  paid_amount: z.number().nullable(),
  ref: z.string().nullable(),
  type: z.string().nullable(),
  text: z.string().nullable(),
  who: z.string().nullable()
});

export const dealHeader = z.strictObject({
  opportunity_id: z.string(),
  name: z.string().nullable(),
  customer_id: z.string().nullable(),
  customer_name: z.string().nullable(),
  industry: z.string().nullable(),
  region: z.string().nullable(),
  grade: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable(),
  team_id: z.string().nullable(),
  team_name: z.string().nullable(),
  stage: z.string(),
  status: z.string().nullable(),
  amount: z.number().nullable(),
  probability: z.number().nullable(),
  forecast_category: z.string().nullable(),
  expected_close_date: z.string().nullable(),
  created_at: z.string().nullable(),
  closed_at: z.string().nullable(),
  product: z.string().nullable(),
  source: z.string().nullable(),
  competitor: z.string().nullable(),
  loss_reason: z.string().nullable(),
  paid_total: z.number(),
  outstanding: z.number(),
  overdue: z.number(),
  /** Risk flags as of the report date (models/common/risk.ts), with the figures behind them. */
  risk_flags: z.array(z.enum(RISK_FLAGS)),
  pushes: z.number().int(),
  peak_amount: z.number().nullable(),
  days_in_stage: z.number().int().nullable(),
  days_no_activity: z.number().int().nullable()
});

const wire = row.extend({ seq: z.number(), h: z.string().nullable() });

export const deal = defineModel({
  name: 'deal',
  title: { 'zh-CN': '商机详情', en: 'Deal detail' },
  definition: {
    'zh-CN':
      '单个商机的全貌：阶段时间线（来自历史版本，停留天数计至报告日）、金额与预计成交日期的变更、回款计划与实收（逾期天数计至报告日）、跟进记录。',
    en: 'One deal in full: the stage timeline from its history (days in the current stage up to the report date), changes of amount and expected close date, payments planned and received (days overdue as of the report date), and follow-ups.'
  },
  dateField: () => 'opportunity_versions.valid_from',
  defaultPeriod: 'all',
  params,
  row,
  query(p, ctx) {
    const id = p.id;
    // Outstanding as of the report date: amount less what was paid on or before it (as kpis' overdue).
    const outstanding = sql`(amount::DECIMAL(38,2) - CASE WHEN paid_at IS NOT NULL AND paid_at <= ${ctx.asOf}::DATE THEN coalesce(paid_amount, amount)::DECIMAL(38,2) ELSE 0 END)`;
    return {
      ctes: [
        // The filters apply too (a token's locked filters narrow which deals open), the period does not.
        // deal_locator (the scope's: this id, when visible) carries the deal's sort key in deal_facts
        // (closed_at, created_at): joined on it, DuckDB reads one row group of 10M deals, not all.
        // Each branch below has an empty build side but one, and DuckDB does not read the probe
        // side of an inner join whose build side is empty; the others' equality on closed_at or
        // created_at becomes a range filter on the scan, which skips row groups by their min/max.
        [
          'd',
          sql`SELECT r.* FROM (SELECT * FROM deal_locator WHERE closed_at IS NOT NULL) k
                JOIN ${dealsRelation(p)} r ON r.closed_at = k.closed_at AND r.opportunity_id = k.opportunity_id
              UNION ALL
              -- open: closed_at null (deal_facts keeps those last, by created_at)
              SELECT r.* FROM (SELECT * FROM deal_locator WHERE closed_at IS NULL AND created_at IS NOT NULL) k
                JOIN ${dealsRelation(p)} r ON r.created_at = k.created_at AND r.opportunity_id = k.opportunity_id
              WHERE r.closed_at IS NULL
              UNION ALL
              SELECT r.* FROM (SELECT * FROM deal_locator WHERE closed_at IS NULL AND created_at IS NULL) k
                JOIN ${dealsRelation(p)} r ON r.opportunity_id = k.opportunity_id`,
          { materialized: true }
        ],
        // This deal's versions and payments, each read once (every later CTE reads these few rows).
        // Its versions from version_facts (the same rows, stored by the deal's settled instant):
        // joined on that key too, a few row groups are read instead of every version.
        [
          'dv',
          sql`SELECT v.* EXCLUDE (deal_owner_id, settled_key)
              FROM d JOIN version_facts v
                ON v.settled_key = d.pit_settled_key AND v.opportunity_id = d.opportunity_id`,
          { materialized: true }
        ],
        ['dp', sql`SELECT * FROM payment_facts WHERE opportunity_id = ${id} AND opportunity_id IN (SELECT opportunity_id FROM d)`, { materialized: true }],
        [
          'vers',
          sql`SELECT v.*, lag(v.amount) OVER w AS prev_amount, lag(v.expected_close_date) OVER w AS prev_close,
                     lag(v.owner_id) OVER w AS prev_owner, row_number() OVER w AS vn
              FROM dv v
              WINDOW w AS (ORDER BY v.valid_from)`
        ],
        [
          'st',
          // stage_events of this deal, from its own versions (stage_events windows every deal's)
          sql`SELECT e.stage, e.entered_at, lead(e.entered_at) OVER (ORDER BY e.entered_at) AS until, s.kind
              FROM (
                SELECT stage, valid_from AS entered_at, lag(stage) OVER (ORDER BY valid_from) AS previous_stage
                FROM dv
              ) e LEFT JOIN stages s ON s.name = e.stage
              WHERE e.previous_stage IS NULL OR e.previous_stage <> e.stage`
        ],
        [
          'events',
          sql`SELECT 1 AS seq, 'stage' AS kind, entered_at AS at, stage, until,
                -- A closed deal's final stage has no duration; the current open stage counts to the report date.
                CASE WHEN until IS NOT NULL OR kind = 'open'
                     THEN greatest(0, round((epoch(coalesce(until, ${ctx.asOf}::TIMESTAMP)) - epoch(entered_at)) / 86400.0, 1)) END::DOUBLE AS days,
                NULL::VARCHAR AS old_value, NULL::VARCHAR AS new_value, NULL::DOUBLE AS amount, NULL::DATE AS due_date,
                NULL::DATE AS paid_at, NULL::DOUBLE AS paid_amount, NULL::VARCHAR AS ref, NULL::VARCHAR AS type,
                NULL::VARCHAR AS text, NULL::VARCHAR AS who
              FROM st
            UNION ALL
            SELECT 2, 'amount', valid_from, stage, NULL, NULL, prev_amount::VARCHAR, amount::VARCHAR, amount::DOUBLE,
                NULL, NULL, NULL, NULL, NULL, NULL, NULL
              FROM vers WHERE vn > 1 AND prev_amount IS DISTINCT FROM amount
            UNION ALL
            SELECT 3, 'close_date', valid_from, stage, NULL, NULL, prev_close::VARCHAR, expected_close_date::VARCHAR, NULL,
                NULL, NULL, NULL, NULL, NULL, NULL, NULL
              FROM vers WHERE vn > 1 AND prev_close IS DISTINCT FROM expected_close_date
            UNION ALL
            SELECT 4, 'owner', valid_from, stage, NULL, NULL,
                -- owners by name; one outside the viewer's scope neither by id nor name (people.ts)
                ${personName(sql`prev_owner`)}, ${personName(sql`owner_id`)}, NULL,
                NULL, NULL, NULL, NULL, NULL, NULL, NULL
              FROM vers WHERE vn > 1 AND prev_owner IS DISTINCT FROM owner_id
            UNION ALL
            SELECT 5, 'payment', coalesce(due_date, paid_at)::TIMESTAMP, NULL, NULL,
                CASE WHEN due_date < ${ctx.asOf}::DATE AND ${outstanding} > 0 THEN date_diff('day', due_date, ${ctx.asOf}::DATE)::DOUBLE END,
                NULL, NULL, amount::DOUBLE, due_date, paid_at,
                (CASE WHEN paid_at IS NOT NULL THEN coalesce(paid_amount, amount) END)::DOUBLE, payment_id, NULL, NULL, NULL
              FROM dp
            UNION ALL
            SELECT 6, 'activity', a.occurred_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, a.activity_id, a.type, a.summary,
                ${personName(sql`a.owner_id`)}
              FROM deal_activities a
              WHERE a.opportunity_id = ${id} AND a.opportunity_id IN (SELECT opportunity_id FROM d)`
        ],
        [
          'header',
          // The customer's name and segments as deal_facts stores them (from customers): a visible
          // deal's customer is visible, and a restricted scope's customers relation would work out
          // every visible deal's customer first.
          sql`SELECT d.opportunity_id, d.name, d.customer_id, d.customer_name, d.customer_industry AS industry,
                d.customer_region AS region, d.customer_grade AS grade,
                d.owner_id, u.name AS owner_name, u.team_id, t.name AS team_name, d.stage, d.status, d.amount::DOUBLE AS amount,
                coalesce(d.probability, s.probability)::DOUBLE AS probability, d.forecast_category, d.expected_close_date,
                d.created_at, d.closed_at, d.product, d.source, d.competitor, d.loss_reason,
                (SELECT coalesce(sum(coalesce(paid_amount, amount)) FILTER (WHERE paid_at IS NOT NULL AND paid_at <= ${ctx.asOf}::DATE), 0)::DOUBLE
                   FROM dp) AS paid_total,
                (SELECT coalesce(sum(${outstanding}), 0)::DOUBLE
                   FROM dp) AS outstanding,
                (SELECT coalesce(sum(${outstanding}) FILTER (WHERE due_date < ${ctx.asOf}::DATE), 0)::DOUBLE
                   FROM dp) AS overdue,
                coalesce(rk.risk_flags, []::VARCHAR[]) AS risk_flags, coalesce(rk.pushes, 0) AS pushes, rk.peak_amount,
                rk.days_in_stage, rk.days_no_activity
              FROM d
              LEFT JOIN ${riskFromFacts(sql`SELECT * FROM d`, ctx)} rk ON rk.opportunity_id = d.opportunity_id
              LEFT JOIN users u ON u.user_id = d.owner_id
              LEFT JOIN teams t ON t.team_id = u.team_id
              LEFT JOIN stages s ON s.name = d.stage`
        ]
      ],
      // The header rides along as JSON on every row (and alone on a deal without events).
      body: sql`SELECT e.*, (SELECT to_json(header)::VARCHAR FROM header) AS h
        FROM (SELECT 1) one LEFT JOIN events e ON TRUE
        ORDER BY e.at, e.seq, e.ref`,
      deal: id
    };
  },
  finalize(rows) {
    const h = rows[0]?.h as string | null | undefined;
    const ts = (v: unknown) => (typeof v === 'string' ? v.replace(' ', 'T') : v);
    const raw = h ? (JSON.parse(h) as Record<string, unknown>) : null;
    const header = raw ? dealHeader.parse({ ...raw, created_at: ts(raw.created_at), closed_at: ts(raw.closed_at) }) : null;
    const out = header
      ? wire
          .array()
          .parse(rows.filter((r) => r.kind !== null))
          .map(({ seq: _s, h: _h, ...r }) => ({ ...r, at: r.at === null ? null : String(r.at).replace(' ', 'T') }) as z.input<typeof row>)
      : [];
    return { rows: out, n: out.length, summary: { deal: header } };
  }
});
