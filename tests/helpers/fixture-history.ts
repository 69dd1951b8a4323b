/**
 * A second hand-built CRM for the oracle tests of win_loss, cycle_time, ltv,
 * customer_profile and the flow funnel: two and a half years of history with re-entered
 * stages, skipped stages, lost deals whose amount the source zeroed, a won deal closed
 * before it was created, payments (partial, unpaid, one without a deal), follow-ups on deals
 * and on a customer. Every expected figure in those tests is worked out by hand from the
 * rows below (the working is written next to each assertion).
 *
 * Report date (as_of) 2026-06-15. All times are midnight. Default stages:
 * 1 初步接洽, 2 需求分析, 3 方案报价, 4 商务谈判, 赢单 (won), 输单 (lost).
 *
 * Org: T0 公司 → T1 华东 → T11 上海组 (U1 张伟, U2 王芳), T12 杭州组 (U3 李娜);
 *      T0 → T2 华北 → T21 北京组 (U4 刘洋); U5 陈静 sits in T1 华东 itself (a manager who sells).
 *
 * Customers (industry, region, source, grade, owner):
 *   C1 上海甲 制造业 上海 展会     重点客户 U1      C5 北京戊 信息技术 北京 展会     普通客户 U3
 *   C2 杭州乙 信息技术 浙江 官网咨询 普通客户 U2      C6 杭州己 零售     浙江 展会     重点客户 U2
 *   C3 北京丙 零售   北京 老客户推荐 战略客户 U4      C7 南京庚 制造业   江苏 官网咨询 普通客户 U1 (no deals)
 *   C4 上海丁 制造业 上海 官网咨询 普通客户 U5      C8 南京辛 零售     江苏 展会     普通客户 U4
 *
 * Deals (customer, owner, product, amount; stage history = the date each stage was entered):
 *   W1 C1 U1 A 100,000 won  created 2025-01-10: 初步接洽 01-10, 需求分析 01-20, 方案报价 02-01, 商务谈判 02-10, 赢单 2025-02-19
 *   W2 C2 U3 B  50,000 won  created 2025-03-01: 初步接洽 03-01, 方案报价 03-11, 赢单 2025-03-31
 *   W3 C1 U1 A  80,000 won  created 2026-01-05: 初步接洽 01-05, 需求分析 01-12, 商务谈判 01-20, 赢单 2026-02-04
 *   W4 C3 U4 B  60,000 won  created 2026-01-10: 初步接洽 01-10, 需求分析 01-20, 方案报价 02-05, 商务谈判 02-15, 赢单 2026-03-01
 *   W5 C2 U2 A  40,000 won  created 2026-02-01: 初步接洽 02-01, 需求分析 02-11, 方案报价 02-25, 需求分析 03-03 (back),
 *                                               方案报价 03-08, 商务谈判 03-23, 赢单 2026-04-12
 *   W6 C4 U5 B  20,000 won  created 2026-04-01: 初步接洽 04-01, 方案报价 04-11, 商务谈判 04-21, 赢单 2026-05-01; competitor 对手甲
 *   W7 C5 U3 B  10,000 won  created 2026-05-10, closed 2026-05-01 (before creation: invalid cycle); history 赢单 05-01 only
 *   W8 C8 U4 A  30,000 won  created 2024-09-01: 初步接洽 09-01, 赢单 2024-10-01
 *   L1 C3 U4 A       0 lost created 2026-01-15: 初步接洽 01-15 (30,000), 需求分析 01-25 (35,000), 输单 2026-02-20 (0);
 *                          价格过高, competitor 对手甲 — zeroed by the source, last open amount 35,000
 *   L2 C4 U1 B  25,000 lost created 2026-03-01: 初步接洽 03-01, 输单 2026-05-10; 选择竞品, competitor 对手乙
 *   L3 C6 U2 A  15,000 lost created 2026-04-20: 初步接洽 04-20, 需求分析 05-01, 输单 2026-06-01; no reason given
 *   L4 C2 U3 B  12,000 lost created 2025-05-01: 初步接洽 05-01, 输单 2025-06-10; 价格过高
 *   L5 C5 U3 A       0 lost created 2026-06-05: 输单 06-05 only (zeroed, no open history: stays 0); 需求取消
 *   L6 C3 U4 B  20,000 lost created 2026-02-01: 初步接洽 02-01, 输单 2026-03-10; 价格过高
 *   O1 C1 U1 A 120,000 open 方案报价, created 2026-03-15: 初步接洽 03-15 (100,000), 需求分析 03-25 (100,000),
 *                          方案报价 04-20 (100,000), 方案报价 06-01 (120,000: an amount change, not a stage change)
 *   O2 C3 U4 B  70,000 open 需求分析, created 2026-04-01: 初步接洽 04-01, 需求分析 05-01
 *   O3 C5 U3 A  30,000 open 初步接洽, created 2026-06-01: 初步接洽 06-01
 *   O4 C6 U5 B  90,000 open 商务谈判, created 2026-02-01: 初步接洽 02-01, 商务谈判 05-20 (skips two stages)
 *   O5 C4 U2 A  10,000 open 初步接洽, created 2026-05-25: 初步接洽 05-25
 *
 * Payments (customer, deal, amount, due, paid at, paid amount):
 *   P1 C1 W1 60,000 due 2025-03-01 paid 2025-03-05      P6 C2 W5 40,000 due 2026-05-12 unpaid
 *   P2 C1 W1 40,000 due 2025-06-01 paid 2025-06-20      P7 C4 W6 20,000 due 2026-05-31 paid 2026-06-02
 *   P3 C2 W2 50,000 due 2025-04-30 paid 2025-05-10      P8 C1 —   5,000 no due date, paid 2025-09-15 (no deal)
 *   P4 C1 W3 80,000 due 2026-03-01 paid 2026-03-10, 50,000 of it
 *   P5 C3 W4 60,000 due 2026-04-01 paid 2026-04-05      P9 C8 W8 30,000 due 2024-10-31 paid 2024-11-01
 *
 * Activities: A1 O1 U1 2026-05-01; A2 O2 U4 2026-05-10; A3 O4 U5 2026-05-25; A4 O4 U5 2026-03-01;
 *             A5 on customer C4 (no deal) U2 2026-06-12.
 */
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import { runModel } from '../../src/lib/server/models/run';
import type { Scope } from '../../models/common/scope';

export const HISTORY_AS_OF = '2026-06-15';

type Version = [date: string, stage: string, amount?: number];

interface Deal {
  id: string;
  customer: string;
  owner: string;
  product: string;
  amount: number;
  status: 'open' | 'won' | 'lost';
  stage: string;
  created: string;
  closed?: string;
  reason?: string;
  competitor?: string;
  history: Version[];
}

const won = (id: string, customer: string, owner: string, product: string, amount: number, created: string, history: Version[], competitor?: string): Deal => ({
  id, customer, owner, product, amount, status: 'won', stage: '赢单', created, closed: history[history.length - 1][0], history, competitor
});
const lost = (id: string, customer: string, owner: string, product: string, amount: number, created: string, reason: string | undefined, history: Version[], competitor?: string): Deal => ({
  id, customer, owner, product, amount, status: 'lost', stage: '输单', created, closed: history[history.length - 1][0], reason, history, competitor
});
const open = (id: string, customer: string, owner: string, product: string, amount: number, created: string, history: Version[]): Deal => ({
  id, customer, owner, product, amount, status: 'open', stage: history[history.length - 1][1], created, history
});

export const HISTORY_DEALS: Deal[] = [
  won('W1', 'C1', 'U1', 'A', 100000, '2025-01-10', [['2025-01-10', '初步接洽'], ['2025-01-20', '需求分析'], ['2025-02-01', '方案报价'], ['2025-02-10', '商务谈判'], ['2025-02-19', '赢单']]),
  won('W2', 'C2', 'U3', 'B', 50000, '2025-03-01', [['2025-03-01', '初步接洽'], ['2025-03-11', '方案报价'], ['2025-03-31', '赢单']]),
  won('W3', 'C1', 'U1', 'A', 80000, '2026-01-05', [['2026-01-05', '初步接洽'], ['2026-01-12', '需求分析'], ['2026-01-20', '商务谈判'], ['2026-02-04', '赢单']]),
  won('W4', 'C3', 'U4', 'B', 60000, '2026-01-10', [['2026-01-10', '初步接洽'], ['2026-01-20', '需求分析'], ['2026-02-05', '方案报价'], ['2026-02-15', '商务谈判'], ['2026-03-01', '赢单']]),
  won('W5', 'C2', 'U2', 'A', 40000, '2026-02-01', [
    ['2026-02-01', '初步接洽'], ['2026-02-11', '需求分析'], ['2026-02-25', '方案报价'], ['2026-03-03', '需求分析'],
    ['2026-03-08', '方案报价'], ['2026-03-23', '商务谈判'], ['2026-04-12', '赢单']
  ]),
  won('W6', 'C4', 'U5', 'B', 20000, '2026-04-01', [['2026-04-01', '初步接洽'], ['2026-04-11', '方案报价'], ['2026-04-21', '商务谈判'], ['2026-05-01', '赢单']], '对手甲'),
  won('W7', 'C5', 'U3', 'B', 10000, '2026-05-10', [['2026-05-01', '赢单']]),
  won('W8', 'C8', 'U4', 'A', 30000, '2024-09-01', [['2024-09-01', '初步接洽'], ['2024-10-01', '赢单']]),
  lost('L1', 'C3', 'U4', 'A', 0, '2026-01-15', '价格过高', [['2026-01-15', '初步接洽', 30000], ['2026-01-25', '需求分析', 35000], ['2026-02-20', '输单', 0]], '对手甲'),
  lost('L2', 'C4', 'U1', 'B', 25000, '2026-03-01', '选择竞品', [['2026-03-01', '初步接洽'], ['2026-05-10', '输单']], '对手乙'),
  lost('L3', 'C6', 'U2', 'A', 15000, '2026-04-20', undefined, [['2026-04-20', '初步接洽'], ['2026-05-01', '需求分析'], ['2026-06-01', '输单']]),
  lost('L4', 'C2', 'U3', 'B', 12000, '2025-05-01', '价格过高', [['2025-05-01', '初步接洽'], ['2025-06-10', '输单']]),
  lost('L5', 'C5', 'U3', 'A', 0, '2026-06-05', '需求取消', [['2026-06-05', '输单', 0]]),
  lost('L6', 'C3', 'U4', 'B', 20000, '2026-02-01', '价格过高', [['2026-02-01', '初步接洽'], ['2026-03-10', '输单']]),
  open('O1', 'C1', 'U1', 'A', 120000, '2026-03-15', [['2026-03-15', '初步接洽', 100000], ['2026-03-25', '需求分析', 100000], ['2026-04-20', '方案报价', 100000], ['2026-06-01', '方案报价', 120000]]),
  open('O2', 'C3', 'U4', 'B', 70000, '2026-04-01', [['2026-04-01', '初步接洽'], ['2026-05-01', '需求分析']]),
  open('O3', 'C5', 'U3', 'A', 30000, '2026-06-01', [['2026-06-01', '初步接洽']]),
  open('O4', 'C6', 'U5', 'B', 90000, '2026-02-01', [['2026-02-01', '初步接洽'], ['2026-05-20', '商务谈判']]),
  open('O5', 'C4', 'U2', 'A', 10000, '2026-05-25', [['2026-05-25', '初步接洽']])
];

const q = (v: string | number | null | undefined) =>
  v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;

/** The statements that load the fixture (for tests that build variants of it). */
export function historyFixtureStatements(): string[] {
  return [
    `INSERT INTO teams VALUES ('T0', '公司', NULL, NULL), ('T1', '华东', 'T0', 'U5'), ('T11', '上海组', 'T1', 'U1'),
       ('T12', '杭州组', 'T1', NULL), ('T2', '华北', 'T0', NULL), ('T21', '北京组', 'T2', 'U4')`,
    `INSERT INTO users (user_id, name, team_id) VALUES ('U1', '张伟', 'T11'), ('U2', '王芳', 'T11'), ('U3', '李娜', 'T12'),
       ('U4', '刘洋', 'T21'), ('U5', '陈静', 'T1')`,
    `INSERT INTO customers (customer_id, name, industry, region, source, grade, owner_id) VALUES
       ('C1', '上海甲公司', '制造业', '上海', '展会', '重点客户', 'U1'),
       ('C2', '杭州乙公司', '信息技术', '浙江', '官网咨询', '普通客户', 'U2'),
       ('C3', '北京丙公司', '零售', '北京', '老客户推荐', '战略客户', 'U4'),
       ('C4', '上海丁公司', '制造业', '上海', '官网咨询', '普通客户', 'U5'),
       ('C5', '北京戊公司', '信息技术', '北京', '展会', '普通客户', 'U3'),
       ('C6', '杭州己公司', '零售', '浙江', '展会', '重点客户', 'U2'),
       ('C7', '南京庚公司', '制造业', '江苏', '官网咨询', '普通客户', 'U1'),
       ('C8', '南京辛公司', '零售', '江苏', '展会', '普通客户', 'U4')`,
    ...HISTORY_DEALS.map(
      (d) => `INSERT INTO opportunities (opportunity_id, name, customer_id, owner_id, stage, status, amount, created_at, closed_at, loss_reason, product, source, competitor)
        VALUES (${q(d.id)}, ${q(d.id)}, ${q(d.customer)}, ${q(d.owner)}, ${q(d.stage)}, ${q(d.status)}, ${d.amount},
                ${q(d.created)}, ${q(d.closed)}, ${q(d.reason)}, ${q(d.product)}, '展会', ${q(d.competitor)})`
    ),
    ...HISTORY_DEALS.flatMap((d) =>
      d.history.map(([date, stage, amount], i) => {
        const next = d.history[i + 1]?.[0];
        return `INSERT INTO opportunity_versions (opportunity_id, valid_from, valid_to, stage, amount, owner_id, origin)
          VALUES (${q(d.id)}, ${q(date)}, ${q(next)}, ${q(stage)}, ${amount ?? d.amount}, ${q(d.owner)}, 'source')`;
      })
    ),
    `INSERT INTO payments (payment_id, customer_id, opportunity_id, amount, due_date, paid_at, paid_amount) VALUES
       ('P1', 'C1', 'W1', 60000, '2025-03-01', '2025-03-05', 60000),
       ('P2', 'C1', 'W1', 40000, '2025-06-01', '2025-06-20', NULL),
       ('P3', 'C2', 'W2', 50000, '2025-04-30', '2025-05-10', 50000),
       ('P4', 'C1', 'W3', 80000, '2026-03-01', '2026-03-10', 50000),
       ('P5', 'C3', 'W4', 60000, '2026-04-01', '2026-04-05', 60000),
       ('P6', 'C2', 'W5', 40000, '2026-05-12', NULL, NULL),
       ('P7', 'C4', 'W6', 20000, '2026-05-31', '2026-06-02', 20000),
       ('P8', 'C1', NULL, 5000, NULL, '2025-09-15', 5000),
       ('P9', 'C8', 'W8', 30000, '2024-10-31', '2024-11-01', 30000)`,
    `INSERT INTO activities (activity_id, customer_id, opportunity_id, owner_id, type, occurred_at, summary) VALUES
       ('A1', 'C1', 'O1', 'U1', 'visit', '2026-05-01', '拜访'),
       ('A2', 'C3', 'O2', 'U4', 'call', '2026-05-10', '电话'),
       ('A3', 'C6', 'O4', 'U5', 'meeting', '2026-05-25', '会议'),
       ('A4', 'C6', 'O4', 'U5', 'call', '2026-03-01', '电话'),
       ('A5', 'C4', NULL, 'U2', 'call', '2026-06-12', '客户回访')`
  ];
}

/** The fixture in a fresh in-memory database. */
export async function historyFixtureDb(extra: string[] = []): Promise<Database> {
  const db = await Database.open(':memory:');
  await db.write(async (tx) => {
    for (const s of [...historyFixtureStatements(), ...extra]) await tx.run(s);
  });
  return db;
}

/**
 * Runs a catalog model on a database with the given config overrides (stages,
 * stalled_after_days …), as of the fixture's report date unless the params say otherwise.
 */
export async function runOnFixture(
  db: Database,
  name: string,
  params: Record<string, unknown> = {},
  scope: Scope | null = { all: true },
  config: Record<string, unknown> = {}
) {
  const cfg = parseConfig(config);
  if (!cfg.ok) throw new Error(`fixture config invalid: ${cfg.issues.join('; ')}`);
  return runModel(db, cfg.config, name, { as_of: HISTORY_AS_OF, ...params }, scope);
}
