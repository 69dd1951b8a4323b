/**
 * A second hand-built CRM for the oracle tests of `trend`, `leaderboard`, `payments` and
 * `forecast` (the first, fixture.ts, belongs to kpis/funnel and stays as it is). Every
 * expected figure in those tests is worked out by hand from the rows below.
 *
 * Report date (as_of) 2026-05-20, a Wednesday; this quarter = [2026-04-01, 2026-07-01).
 *
 * Org: T0 公司 → T1 华东 → T11 上海组, T12 杭州组; T0 → T2 华北.
 * Users: U1 张伟, U2 王芳 in T11; U4 赵磊 in T12; U5 陈静 directly in T1; U3 李娜 in T2.
 * Customers (owner): C1 上海甲 制造业/上海/展会/重点客户 (U1); C2 北京乙 信息技术/北京/官网咨询/普通客户 (U3);
 *   C3 上海丙 零售/上海/官网咨询/普通客户 (U2); C4 杭州丁 制造业/浙江/老客户推荐/重点客户 (U5);
 *   C5 苏州戊 信息技术/江苏/展会/普通客户 (U1).
 *
 * Deals (history: date stage [amount] [expected close] [category]; all at midnight):
 *   D1  C1 U1 won   100,000 A  04-02 初步接洽 (ecd 05-31), 04-06 需求分析, 04-13 方案报价, 04-20 商务谈判, 05-08 赢单
 *   D2  C1 U1 lost        0 B  04-03 初步接洽 50,000 (ecd 05-30), 04-10 需求分析 50,000, 04-28 输单 0  (价格过高)
 *   D3  C2 U3 open  200,000 A  04-15 初步接洽 (ecd 06-10), 04-25 方案报价; expected 06-10
 *   D4  C3 U2 open   40,000 B  05-05 初步接洽; expected 08-15
 *   D5  C2 U3 won    80,000 A  01-05 初步接洽 (ecd 03-20), 01-20 商务谈判, 02-10 赢单
 *   D6  C3 U2 lost   30,000 B  01-10 初步接洽 (ecd 03-25), 03-15 输单  (选择竞品)
 *   D7  C1 U1 open   60,000 A  03-01 初步接洽 (ecd 04-15), 03-10 需求分析, 04-08 商务谈判 (ecd 06-30); probability 0.9
 *   D8  C3 U2 won    25,000 B  04-20 初步接洽 (ecd 05-31), 04-22 需求分析, 04-28 方案报价, 05-02 商务谈判, 05-15 赢单
 *   D9  C4 U5 open  120,000 C  05-01 初步接洽 (ecd 06-20), 05-10 需求分析 (category commit)
 *   D10 C4 U2 open   70,000 A  02-01 初步接洽 (ecd 03-31), 03-10 商务谈判 (ecd 05-31, category omitted)
 *   D11 C5 U3 open   90,000 B  2025-12-01 初步接洽 (ecd 2026-02-28), 2026-01-15 需求分析 (ecd 03-31)
 *   D12 C1 U1 lost   45,000 A  2025-11-10 初步接洽 (ecd 2026-01-31), 11-20 需求分析, 12-05 方案报价, 2026-01-20 输单 (预算不足)
 *   D13 C2 U3 won   150,000 C  2025-06-01 初步接洽 (ecd 08-31), 06-15 需求分析, 07-01 方案报价, 07-20 商务谈判, 08-30 赢单
 *   D14 C3 U2 lost   20,000 B  2025-07-01 初步接洽 (ecd 09-30), 09-15 输单 (选择竞品)
 *   D15 C4 U2 open   30,000 B  05-12 初步接洽 (ecd 06-25)
 *   D16 C5 U1 won    50,000 A  2025-09-01 初步接洽 (ecd 11-30), 09-20 方案报价, 11-25 赢单
 * A deal's current expected close date and category are those of its last version; the
 * category is the stage's default (初步接洽/需求分析 pipeline, 方案报价 best_case, 商务谈判 commit)
 * unless a version names one. Products and sources are in DEALS.
 *
 * Payments (amount, due, paid at, paid amount):
 *   Y1  C1 D1  60,000 due 05-20 paid 05-18 60,000     Y2  C1 D1  30,000 due 05-15 unpaid
 *   Y3  C2 D5  50,000 due 02-15 paid 03-01 (amount)   Y4  C3 D8  15,000 due 06-15 unpaid
 *   Y5  C1 D1  10,000 due 05-01 paid 05-05 4,000      Y6  C2 D13 100,000 due 2025-09-30 paid 2025-10-10
 *   Y7  C2 D13 50,000 due 02-10 unpaid                Y8  C2 —   20,000 due 03-10 unpaid (no deal)
 *   Y9  C2 D5  30,000 due 04-10 unpaid                Y10 C3 —    5,000 no due date, paid 04-12 (a receipt)
 *   Y11 C3 D8  10,000 due 05-25 unpaid                Y12 C5 D16 50,000 due 2025-12-25 paid 2025-12-20
 *
 * Activities: A1 U1 D1 04-05, A2 U1 D1 04-20, A3 U1 D7 05-12, A4 U2 D4 05-06, A5 U3 D3 04-16,
 *   A6 U3 D5 03-01, A7 U4 C4 (no deal) 05-10, A8 U5 D9 05-02, A9 U3 on U1's D1 04-25 (a
 *   colleague's help: visible to T1's manager through the deal, but U3 is not T1's).
 *
 * Targets (won_amount unless said): T0 Q2 500,000; T0 Q1 400,000; T1 Q2 300,000; T2 Q2 200,000;
 *   T11 Q2 250,000; T12 Q2 80,000; U1 Q2 150,000; U2 Q2 60,000; U3 Q2 100,000; U4 Q2 50,000;
 *   T0 Q2 collected_amount 200,000.
 */
import { Database } from '../../src/lib/server/db/database';

export const REVENUE_AS_OF = '2026-05-20';

type Version = [date: string, stage: string, extra?: { amount?: number; ecd?: string; category?: string }];

interface Deal {
  id: string;
  customer: string;
  owner: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  amount: number;
  created: string;
  closed?: string;
  probability?: number;
  loss_reason?: string;
  product: string;
  source: string;
  history: Version[];
}

export const DEALS: Deal[] = [
  { id: 'D1', customer: 'C1', owner: 'U1', stage: '赢单', status: 'won', amount: 100000, created: '2026-04-02', closed: '2026-05-08', product: 'A', source: '展会',
    history: [['2026-04-02', '初步接洽', { ecd: '2026-05-31' }], ['2026-04-06', '需求分析'], ['2026-04-13', '方案报价'], ['2026-04-20', '商务谈判'], ['2026-05-08', '赢单', { ecd: '2026-05-08' }]] },
  { id: 'D2', customer: 'C1', owner: 'U1', stage: '输单', status: 'lost', amount: 0, created: '2026-04-03', closed: '2026-04-28', loss_reason: '价格过高', product: 'B', source: '展会',
    history: [['2026-04-03', '初步接洽', { amount: 50000, ecd: '2026-05-30' }], ['2026-04-10', '需求分析', { amount: 50000 }], ['2026-04-28', '输单', { amount: 0 }]] },
  { id: 'D3', customer: 'C2', owner: 'U3', stage: '方案报价', status: 'open', amount: 200000, created: '2026-04-15', product: 'A', source: '官网咨询',
    history: [['2026-04-15', '初步接洽', { ecd: '2026-06-10' }], ['2026-04-25', '方案报价']] },
  { id: 'D4', customer: 'C3', owner: 'U2', stage: '初步接洽', status: 'open', amount: 40000, created: '2026-05-05', product: 'B', source: '官网咨询',
    history: [['2026-05-05', '初步接洽', { ecd: '2026-08-15' }]] },
  { id: 'D5', customer: 'C2', owner: 'U3', stage: '赢单', status: 'won', amount: 80000, created: '2026-01-05', closed: '2026-02-10', product: 'A', source: '展会',
    history: [['2026-01-05', '初步接洽', { ecd: '2026-03-20' }], ['2026-01-20', '商务谈判'], ['2026-02-10', '赢单', { ecd: '2026-02-10' }]] },
  { id: 'D6', customer: 'C3', owner: 'U2', stage: '输单', status: 'lost', amount: 30000, created: '2026-01-10', closed: '2026-03-15', loss_reason: '选择竞品', product: 'B', source: '展会',
    history: [['2026-01-10', '初步接洽', { ecd: '2026-03-25' }], ['2026-03-15', '输单']] },
  { id: 'D7', customer: 'C1', owner: 'U1', stage: '商务谈判', status: 'open', amount: 60000, created: '2026-03-01', probability: 0.9, product: 'A', source: '展会',
    history: [['2026-03-01', '初步接洽', { ecd: '2026-04-15' }], ['2026-03-10', '需求分析'], ['2026-04-08', '商务谈判', { ecd: '2026-06-30' }]] },
  { id: 'D8', customer: 'C3', owner: 'U2', stage: '赢单', status: 'won', amount: 25000, created: '2026-04-20', closed: '2026-05-15', product: 'B', source: '官网咨询',
    history: [['2026-04-20', '初步接洽', { ecd: '2026-05-31' }], ['2026-04-22', '需求分析'], ['2026-04-28', '方案报价'], ['2026-05-02', '商务谈判'], ['2026-05-15', '赢单', { ecd: '2026-05-15' }]] },
  { id: 'D9', customer: 'C4', owner: 'U5', stage: '需求分析', status: 'open', amount: 120000, created: '2026-05-01', product: 'C', source: '老客户推荐',
    history: [['2026-05-01', '初步接洽', { ecd: '2026-06-20' }], ['2026-05-10', '需求分析', { category: 'commit' }]] },
  { id: 'D10', customer: 'C4', owner: 'U2', stage: '商务谈判', status: 'open', amount: 70000, created: '2026-02-01', product: 'A', source: '老客户推荐',
    history: [['2026-02-01', '初步接洽', { ecd: '2026-03-31' }], ['2026-03-10', '商务谈判', { ecd: '2026-05-31', category: 'omitted' }]] },
  { id: 'D11', customer: 'C5', owner: 'U3', stage: '需求分析', status: 'open', amount: 90000, created: '2025-12-01', product: 'B', source: '展会',
    history: [['2025-12-01', '初步接洽', { ecd: '2026-02-28' }], ['2026-01-15', '需求分析', { ecd: '2026-03-31' }]] },
  { id: 'D12', customer: 'C1', owner: 'U1', stage: '输单', status: 'lost', amount: 45000, created: '2025-11-10', closed: '2026-01-20', loss_reason: '预算不足', product: 'A', source: '展会',
    history: [['2025-11-10', '初步接洽', { ecd: '2026-01-31' }], ['2025-11-20', '需求分析'], ['2025-12-05', '方案报价'], ['2026-01-20', '输单']] },
  { id: 'D13', customer: 'C2', owner: 'U3', stage: '赢单', status: 'won', amount: 150000, created: '2025-06-01', closed: '2025-08-30', product: 'C', source: '官网咨询',
    history: [['2025-06-01', '初步接洽', { ecd: '2025-08-31' }], ['2025-06-15', '需求分析'], ['2025-07-01', '方案报价'], ['2025-07-20', '商务谈判'], ['2025-08-30', '赢单']] },
  { id: 'D14', customer: 'C3', owner: 'U2', stage: '输单', status: 'lost', amount: 20000, created: '2025-07-01', closed: '2025-09-15', loss_reason: '选择竞品', product: 'B', source: '官网咨询',
    history: [['2025-07-01', '初步接洽', { ecd: '2025-09-30' }], ['2025-09-15', '输单']] },
  { id: 'D15', customer: 'C4', owner: 'U2', stage: '初步接洽', status: 'open', amount: 30000, created: '2026-05-12', product: 'B', source: '老客户推荐',
    history: [['2026-05-12', '初步接洽', { ecd: '2026-06-25' }]] },
  { id: 'D16', customer: 'C5', owner: 'U1', stage: '赢单', status: 'won', amount: 50000, created: '2025-09-01', closed: '2025-11-25', product: 'A', source: '展会',
    history: [['2025-09-01', '初步接洽', { ecd: '2025-11-30' }], ['2025-09-20', '方案报价'], ['2025-11-25', '赢单']] }
];

const STAGE_CATEGORY: Record<string, string> = {
  初步接洽: 'pipeline',
  需求分析: 'pipeline',
  方案报价: 'best_case',
  商务谈判: 'commit',
  赢单: 'commit',
  输单: 'omitted'
};

const q = (v: string | number | null | undefined) => (v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`);

/** Each version with the carried-forward amount and expected close date (SCD type 2). */
function versions(d: Deal) {
  let amount = d.amount;
  let ecd: string | undefined;
  return d.history.map(([date, stage, extra], i) => {
    if (extra?.amount !== undefined) amount = extra.amount;
    else if (i === 0) amount = d.amount;
    if (extra?.ecd) ecd = extra.ecd;
    const last = i === d.history.length - 1;
    return {
      date,
      next: d.history[i + 1]?.[0],
      stage,
      amount,
      ecd,
      category: extra?.category ?? STAGE_CATEGORY[stage],
      probability: last ? d.probability : undefined
    };
  });
}

/** The statements that load the fixture (exported so a test can replay it into another database). */
export function revenueFixtureStatements(): string[] {
  return [
    `INSERT INTO teams VALUES ('T0', '公司', NULL, NULL), ('T1', '华东', 'T0', NULL), ('T11', '上海组', 'T1', 'U1'),
       ('T12', '杭州组', 'T1', 'U4'), ('T2', '华北', 'T0', 'U3')`,
    `INSERT INTO users (user_id, name, team_id) VALUES ('U1', '张伟', 'T11'), ('U2', '王芳', 'T11'), ('U3', '李娜', 'T2'),
       ('U4', '赵磊', 'T12'), ('U5', '陈静', 'T1')`,
    `INSERT INTO customers (customer_id, name, industry, region, source, grade, owner_id) VALUES
       ('C1', '上海甲公司', '制造业', '上海', '展会', '重点客户', 'U1'),
       ('C2', '北京乙公司', '信息技术', '北京', '官网咨询', '普通客户', 'U3'),
       ('C3', '上海丙公司', '零售', '上海', '官网咨询', '普通客户', 'U2'),
       ('C4', '杭州丁公司', '制造业', '浙江', '老客户推荐', '重点客户', 'U5'),
       ('C5', '苏州戊公司', '信息技术', '江苏', '展会', '普通客户', 'U1')`,
    ...DEALS.map((d) => {
      const last = versions(d).at(-1)!;
      return `INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, probability, forecast_category,
          expected_close_date, created_at, closed_at, loss_reason, product, source)
        VALUES (${q(d.id)}, ${q(d.id)}, ${q(d.customer)}, ${q(d.owner)}, ${q(d.stage)}, ${q(d.status)}, ${d.amount}, ${q(d.probability)},
                ${q(last.category)}, ${q(d.closed ?? last.ecd)}, ${q(d.created)}, ${q(d.closed)}, ${q(d.loss_reason)}, ${q(d.product)}, ${q(d.source)})`;
    }),
    ...DEALS.flatMap((d) =>
      versions(d).map(
        (v) => `INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, expected_close_date, owner_id, forecast_category, probability, origin)
          VALUES (${q(d.id)}, ${q(v.date)}, ${q(v.next)}, ${q(v.stage)}, ${v.amount}, ${q(v.ecd)}, ${q(d.owner)}, ${q(v.category)}, ${q(v.probability)}, 'source')`
      )
    ),
    `INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount) VALUES
       ('Y1', 'C1', 'D1', 60000, '2026-05-20', '2026-05-18', 60000),
       ('Y2', 'C1', 'D1', 30000, '2026-05-15', NULL, NULL),
       ('Y3', 'C2', 'D5', 50000, '2026-02-15', '2026-03-01', NULL),
       ('Y4', 'C3', 'D8', 15000, '2026-06-15', NULL, NULL),
       ('Y5', 'C1', 'D1', 10000, '2026-05-01', '2026-05-05', 4000),
       ('Y6', 'C2', 'D13', 100000, '2025-09-30', '2025-10-10', 100000),
       ('Y7', 'C2', 'D13', 50000, '2026-02-10', NULL, NULL),
       ('Y8', 'C2', NULL, 20000, '2026-03-10', NULL, NULL),
       ('Y9', 'C2', 'D5', 30000, '2026-04-10', NULL, NULL),
       ('Y10', 'C3', NULL, 5000, NULL, '2026-04-12', NULL),
       ('Y11', 'C3', 'D8', 10000, '2026-05-25', NULL, NULL),
       ('Y12', 'C5', 'D16', 50000, '2025-12-25', '2025-12-20', 50000)`,
    `INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary) VALUES
       ('A1', 'C1', 'D1', 'U1', 'call', '2026-04-05 10:00', '电话沟通需求'),
       ('A2', 'C1', 'D1', 'U1', 'visit', '2026-04-20 14:00', '上门拜访'),
       ('A3', 'C1', 'D7', 'U1', 'call', '2026-05-12 09:30', '报价跟进'),
       ('A4', 'C3', 'D4', 'U2', 'call', '2026-05-06 11:00', '初次电话'),
       ('A5', 'C2', 'D3', 'U3', 'visit', '2026-04-16 15:00', '方案演示'),
       ('A6', 'C2', 'D5', 'U3', 'call', '2026-03-01 10:00', '回款提醒'),
       ('A7', 'C4', NULL, 'U4', 'call', '2026-05-10 16:00', '客户回访'),
       ('A8', 'C4', 'D9', 'U5', 'meeting', '2026-05-02 10:00', '需求会议'),
       ('A9', 'C1', 'D1', 'U3', 'visit', '2026-04-25 14:00', '协助技术交流')`,
    `INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount) VALUES
       ('t1', NULL, 'T0', 'won_amount', '2026-04-01', '2026-07-01', 500000),
       ('t2', NULL, 'T0', 'won_amount', '2026-01-01', '2026-04-01', 400000),
       ('t3', NULL, 'T1', 'won_amount', '2026-04-01', '2026-07-01', 300000),
       ('t4', NULL, 'T2', 'won_amount', '2026-04-01', '2026-07-01', 200000),
       ('t5', NULL, 'T11', 'won_amount', '2026-04-01', '2026-07-01', 250000),
       ('t6', 'U1', NULL, 'won_amount', '2026-04-01', '2026-07-01', 150000),
       ('t7', 'U2', NULL, 'won_amount', '2026-04-01', '2026-07-01', 60000),
       ('t8', 'U3', NULL, 'won_amount', '2026-04-01', '2026-07-01', 100000),
       ('t9', 'U4', NULL, 'won_amount', '2026-04-01', '2026-07-01', 50000),
       ('t10', NULL, 'T0', 'collected_amount', '2026-04-01', '2026-07-01', 200000),
       ('t11', NULL, 'T12', 'won_amount', '2026-04-01', '2026-07-01', 80000)`
  ];
}

/** The revenue fixture in a fresh in-memory database. */
export async function revenueFixtureDb(): Promise<Database> {
  const db = await Database.open(':memory:');
  await db.write(async (tx) => {
    for (const s of revenueFixtureStatements()) await tx.run(s);
  });
  return db;
}
