/**
 * A small hand-built CRM for oracle tests: every expected figure in the model tests is worked
 * out by hand from the rows below (the working is written next to each assertion).
 *
 * Org: T0 公司 → T1 华东 → T11 上海组; T0 → T2 华北. Users: U1, U2 in T11; U3 in T2.
 * Report date (as_of) 2026-05-20: this quarter = [2026-04-01, 2026-07-01); the previous
 * quarter to the same point = [2026-01-01, 2026-02-20) (50 days elapsed).
 *
 * Deals (stage history, all at midnight):
 *   O1 C1 U1 won  100,000  created 04-02; 初步接洽 04-02, 需求分析 04-05, 方案报价 04-12, 商务谈判 04-20, 赢单 05-10
 *   O2 C1 U1 lost       0  created 04-03; 初步接洽 04-03 (50,000), 需求分析 04-10 (50,000), 输单 05-01 (0)
 *   O3 C2 U3 open 200,000  created 04-15; 初步接洽 04-15, 方案报价 04-25 (skips 需求分析); expected 06-10
 *   O4 C3 U2 open  40,000  created 05-05; 初步接洽 05-05; expected 08-15
 *   O5 C2 U3 won   80,000  created 01-05; 初步接洽 01-05, 商务谈判 01-20, 赢单 02-10
 *   O6 C3 U2 lost  30,000  created 01-10; 初步接洽 01-10, 输单 03-15
 *   O7 C1 U1 open  60,000  created 03-01, probability 0.9; 初步接洽 03-01, 需求分析 03-10, 商务谈判 04-08; expected 06-30
 *   O8 C3 U2 won   25,000  created 04-20; 初步接洽 04-20, 需求分析 04-22, 方案报价 04-28, 商务谈判 05-02, 赢单 05-15
 * Payments:
 *   P1 O1 60,000 due 05-20 paid 05-18 (60,000)   P2 O1 40,000 due 05-15 unpaid
 *   P3 O5 80,000 due 02-15 paid 03-01 (amount)   P4 O8 25,000 due 06-15 unpaid
 *   P5 O1 10,000 due 05-01 paid 05-05 (4,000 of it)
 * Targets (won_amount): T0 Q2 500,000, T0 Q1 400,000, T1 Q2 300,000, U1 Q2 150,000.
 */
import { Database } from '../../src/lib/server/db/database';

export const FIXTURE_AS_OF = '2026-05-20';

type Version = [date: string, stage: string, amount?: number];

const DEALS: {
  id: string;
  customer: string;
  owner: string;
  stage: string;
  status: 'open' | 'won' | 'lost';
  amount: number;
  created: string;
  closed?: string;
  expected?: string;
  probability?: number;
  loss_reason?: string;
  product: string;
  source: string;
  history: Version[];
}[] = [
  { id: 'O1', customer: 'C1', owner: 'U1', stage: '赢单', status: 'won', amount: 100000, created: '2026-04-02', closed: '2026-05-10', expected: '2026-05-10', product: 'A', source: '展会',
    history: [['2026-04-02', '初步接洽'], ['2026-04-05', '需求分析'], ['2026-04-12', '方案报价'], ['2026-04-20', '商务谈判'], ['2026-05-10', '赢单']] },
  { id: 'O2', customer: 'C1', owner: 'U1', stage: '输单', status: 'lost', amount: 0, created: '2026-04-03', closed: '2026-05-01', expected: '2026-05-30', loss_reason: '价格过高', product: 'B', source: '展会',
    history: [['2026-04-03', '初步接洽', 50000], ['2026-04-10', '需求分析', 50000], ['2026-05-01', '输单', 0]] },
  { id: 'O3', customer: 'C2', owner: 'U3', stage: '方案报价', status: 'open', amount: 200000, created: '2026-04-15', expected: '2026-06-10', product: 'A', source: '官网咨询',
    history: [['2026-04-15', '初步接洽'], ['2026-04-25', '方案报价']] },
  { id: 'O4', customer: 'C3', owner: 'U2', stage: '初步接洽', status: 'open', amount: 40000, created: '2026-05-05', expected: '2026-08-15', product: 'B', source: '官网咨询',
    history: [['2026-05-05', '初步接洽']] },
  { id: 'O5', customer: 'C2', owner: 'U3', stage: '赢单', status: 'won', amount: 80000, created: '2026-01-05', closed: '2026-02-10', expected: '2026-02-10', product: 'A', source: '展会',
    history: [['2026-01-05', '初步接洽'], ['2026-01-20', '商务谈判'], ['2026-02-10', '赢单']] },
  { id: 'O6', customer: 'C3', owner: 'U2', stage: '输单', status: 'lost', amount: 30000, created: '2026-01-10', closed: '2026-03-15', expected: '2026-03-01', loss_reason: '选择竞品', product: 'B', source: '展会',
    history: [['2026-01-10', '初步接洽'], ['2026-03-15', '输单']] },
  { id: 'O7', customer: 'C1', owner: 'U1', stage: '商务谈判', status: 'open', amount: 60000, created: '2026-03-01', expected: '2026-06-30', probability: 0.9, product: 'A', source: '展会',
    history: [['2026-03-01', '初步接洽'], ['2026-03-10', '需求分析'], ['2026-04-08', '商务谈判']] },
  { id: 'O8', customer: 'C3', owner: 'U2', stage: '赢单', status: 'won', amount: 25000, created: '2026-04-20', closed: '2026-05-15', expected: '2026-05-15', product: 'B', source: '官网咨询',
    history: [['2026-04-20', '初步接洽'], ['2026-04-22', '需求分析'], ['2026-04-28', '方案报价'], ['2026-05-02', '商务谈判'], ['2026-05-15', '赢单']] }
];

const q = (v: string | number | null | undefined) => (v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`);

/** The fixture in a fresh in-memory database. */
export async function fixtureDb(): Promise<Database> {
  const db = await Database.open(':memory:');
  const stmts = [
    `INSERT INTO teams VALUES ('T0', '公司', NULL, NULL), ('T1', '华东', 'T0', NULL), ('T11', '上海组', 'T1', 'U1'), ('T2', '华北', 'T0', NULL)`,
    `INSERT INTO users (user_id, name, team_id) VALUES ('U1', '张伟', 'T11'), ('U2', '王芳', 'T11'), ('U3', '李娜', 'T2')`,
    `INSERT INTO customers (customer_id, name, industry, region, source, grade, owner_id) VALUES
       ('C1', '上海甲公司', '制造业', '上海', '展会', '重点客户', 'U1'),
       ('C2', '北京乙公司', '信息技术', '北京', '官网咨询', '普通客户', 'U3'),
       ('C3', '上海丙公司', '零售', '上海', '官网咨询', '普通客户', 'U2')`,
    ...DEALS.map(
      (d) => `INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, probability, expected_close_date, created_at, closed_at, loss_reason, product, source)
        VALUES (${q(d.id)}, ${q(d.id)}, ${q(d.customer)}, ${q(d.owner)}, ${q(d.stage)}, ${q(d.status)}, ${d.amount}, ${q(d.probability)}, ${q(d.expected)},
                ${q(d.created)}, ${q(d.closed)}, ${q(d.loss_reason)}, ${q(d.product)}, ${q(d.source)})`
    ),
    ...DEALS.flatMap((d) =>
      d.history.map(([date, stage, amount], i) => {
        const next = d.history[i + 1]?.[0];
        return `INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, owner_id, origin)
          VALUES (${q(d.id)}, ${q(date)}, ${q(next)}, ${q(stage)}, ${amount ?? d.amount}, ${q(d.owner)}, 'source')`;
      })
    ),
    `INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount) VALUES
       ('P1', 'C1', 'O1', 60000, '2026-05-20', '2026-05-18', 60000),
       ('P2', 'C1', 'O1', 40000, '2026-05-15', NULL, NULL),
       ('P3', 'C2', 'O5', 80000, '2026-02-15', '2026-03-01', NULL),
       ('P4', 'C3', 'O8', 25000, '2026-06-15', NULL, NULL),
       ('P5', 'C1', 'O1', 10000, '2026-05-01', '2026-05-05', 4000)`,
    `INSERT INTO targets (target_id, owner_id, team_id, metric, period_start, period_end, amount) VALUES
       ('t1', NULL, 'T0', 'won_amount', '2026-04-01', '2026-07-01', 500000),
       ('t2', NULL, 'T0', 'won_amount', '2026-01-01', '2026-04-01', 400000),
       ('t3', NULL, 'T1', 'won_amount', '2026-04-01', '2026-07-01', 300000),
       ('t4', 'U1', NULL, 'won_amount', '2026-04-01', '2026-07-01', 150000)`
  ];
  await db.write(async (tx) => {
    for (const s of stmts) await tx.run(s);
  });
  return db;
}
