/**
 * Deals at risk (风险商机) — `deal_risk`: how many open deals carry each risk flag, and their
 * amount, as of the report date (flags: models/common/risk.ts, metrics.md "Deal risk"). One row
 * per flag in a fixed order, then `any` (deals with at least one flag; a deal with several
 * flags counts once there and once under each of its flags). Every row is the `deals` listing
 * with `status=open&risk=<flag>` and the same filters: its count and amount are that list's
 * total. The period, when not `all`, filters on the expected close date.
 */
import { z } from 'zod';
import { defineModel } from './model';
import { paramsSchema } from './common/params';
import { dealsRelation, inPeriod } from './common/relations';
import { DEFAULT_IDLE_DAYS, RISK_FLAGS, riskFromFacts } from './common/risk';
import { and, sql } from '../src/lib/server/db/sql';

const params = paramsSchema({
  idle_days: z.coerce.number().int().min(1).max(3650).default(DEFAULT_IDLE_DAYS)
});

export const RISK_ROWS = [...RISK_FLAGS, 'any'] as const;

const row = z.strictObject({
  flag: z.enum(RISK_ROWS),
  deals: z.number().int(),
  amount: z.number(),
  /** Share of the open deals (by count) with this flag; null without open deals. */
  share: z.number().nullable(),
  n: z.number().int()
});

export const dealRisk = defineModel({
  name: 'deal_risk',
  title: { 'zh-CN': '风险商机', en: 'Deals at risk' },
  definition: {
    'zh-CN':
      '截至报告日的在途商机风险：预计成交日期被推迟过、在当前阶段停留超过该阶段的停滞天数、金额低于历史最高、超过设定天数（默认 30 天）无跟进、已过预计成交日期。每行等于商机明细中带该风险的在途商机之和；“有任一风险”每个商机只计一次。',
    en: 'Open deals at risk as of the report date: close date pushed later, in their stage longer than its stalled limit, amount below its peak, no follow-up for more than the set days (30 by default), past the expected close date. Each row is the total of the open deals listed with that flag; "any" counts each deal once.'
  },
  dateField: () => 'opportunities.expected_close_date',
  defaultPeriod: 'all',
  params,
  row,
  query: (p, ctx) => ({
    ctes: [
      // The flags from the open deals' own deal_facts rows, read once (riskFromFacts): looking the
      // same deals up again by id read every deal id of the table (10M at 10M deals, most of the
      // tile's time), and joining the amounts back cost as much again.
      [
        'risk_all',
        sql`SELECT k.deal_amount AS amount, k.risk_flags FROM ${riskFromFacts(
          sql`SELECT r.* FROM ${dealsRelation(p)} r
              WHERE ${and([sql`r.status = 'open'`, ctx.period.preset !== 'all' && inPeriod(sql`r.expected_close_date`, ctx.period)])}`,
          ctx,
          p.idle_days
        )} k`
      ],
      // Each deal's flags unnested (a flag appears once in a deal's list) plus one `any` row for a
      // deal with any, grouped once: one pass over the open deals. Per flag a count and a sum with
      // `list_contains` were a nested-loop join of the flags with every open deal, twice (10M
      // deals: ~0.95 s of 1.2 s, profiled).
      ['risk_per_flag', sql`SELECT flag, count(*) AS deals, sum(amount) AS amount
        FROM (SELECT unnest(risk_flags) AS flag, amount FROM risk_all
              UNION ALL
              SELECT 'any' AS flag, amount FROM risk_all WHERE len(risk_flags) > 0)
        GROUP BY flag`]
    ],
    body: sql`SELECT f.flag, f.ord, coalesce(pf.deals, 0)::INTEGER AS deals, coalesce(pf.amount, 0)::DOUBLE AS amount,
        (SELECT count(*) FROM risk_all)::INTEGER AS n
      FROM (SELECT unnest(${[...RISK_ROWS]}::VARCHAR[]) AS flag, unnest(range(${RISK_ROWS.length}::BIGINT)) AS ord) f
      LEFT JOIN risk_per_flag pf ON pf.flag = f.flag
      ORDER BY f.ord`
  }),
  finalize(rows) {
    const out = rows.map((r) => {
      const n = Number(r.n);
      const deals = Number(r.deals);
      return { flag: r.flag as (typeof RISK_ROWS)[number], deals, amount: Number(r.amount), share: n ? deals / n : null, n };
    });
    return { rows: out, n: out[0]?.n ?? 0, summary: { open: out[0]?.n ?? 0 } };
  }
});
