/**
 * A small but realistic CRM database for the SQL connector tests and the end-to-end sync test:
 * deals whose stage, owner, account and lost reason are ids into their own tables (as a CRM's
 * database keeps them), not a pre-flattened table. The expected values are this file's data.
 */
import pg from 'pg';
import mysql from 'mysql2/promise';

export const PG_URL = process.env.COCKPIT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.COCKPIT_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export const STAGES = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
export const USERS = ['张伟', '李娜', 'Wang Fang'];
export const ACCOUNTS = ['上海华东机械有限公司', '杭州云栖科技', 'Acme (Shenzhen) Ltd.'];
export const REASONS = ['价格太高', '选择了竞争对手'];

export interface Deal {
  id: number;
  code: string;
  title: string;
  account: number;
  owner: number;
  stage: number;
  amount: string | null;
  close: string;
  reason: number | null;
  /** Business-local wall time (Asia/Shanghai), as the cockpit stores it. */
  created: string;
  updated: string;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** `2024-02-01 10:00:00` + h hours, as wall-clock text. */
export function plusHours(base: string, h: number): string {
  const d = new Date(base.replace(' ', 'T') + 'Z');
  d.setUTCHours(d.getUTCHours() + h);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export function makeDeals(n = 40): Deal[] {
  return Array.from({ length: n }, (_, i) => {
    const stage = i % STAGES.length;
    return {
      id: i + 1,
      code: `D-${1000 + i}`,
      title: i === 3 ? 'Quote "A", comma,\nand a newline' : i === 7 ? '' : `商机 ${i + 1}`,
      account: (i % ACCOUNTS.length) + 1,
      owner: (i % USERS.length) + 1,
      stage: stage + 1,
      amount: i === 5 ? null : (12_000 + i * 1_250.5).toFixed(2),
      close: `2024-${pad(3 + (i % 9))}-${pad(1 + (i % 28))}`,
      reason: STAGES[stage] === '输单' ? (i % 2) + 1 : null,
      created: plusHours('2024-01-01 09:00:00', i * 24),
      updated: plusHours('2024-02-01 10:00:00', i)
    };
  });
}

/** The query a user writes in the source config: names joined in from their tables. */
export function dealsQuery(prefix: string, q: (s: string) => string = (s) => s): string {
  return `SELECT d.code AS deal_no, d.title, a.name AS account, u.name AS owner, s.name AS stage,
  d.amount, d.expected_close, r.reason AS lost_reason, d.created_at, d.updated_at
FROM ${q(prefix + 'crm_deals')} d
JOIN ${q(prefix + 'crm_stages')} s ON s.id = d.stage_id
LEFT JOIN ${q(prefix + 'crm_accounts')} a ON a.id = d.account_id
LEFT JOIN ${q(prefix + 'crm_users')} u ON u.id = d.owner_id
LEFT JOIN ${q(prefix + 'crm_lost_reasons')} r ON r.id = d.lost_reason_id`;
}

export function unique(): string {
  return `crm_t${process.pid}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** A PostgreSQL schema with the CRM tables; the timestamps are timestamptz written at +08:00. */
export async function createPgCrm(schema: string, deals: Deal[]): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL });
  try {
    await c.connect();
  } catch (e) {
    throw new Error(
      `start PostgreSQL: cannot reach ${PG_URL} (${(e as Error).message}). Start it (e.g. "service postgresql start") or set COCKPIT_TEST_PG_URL.`
    );
  }
  const s = pg.escapeIdentifier(schema);
  await c.query(`CREATE SCHEMA ${s}`);
  await c.query(`
    CREATE TABLE ${s}.crm_stages (id int PRIMARY KEY, name text NOT NULL, sort int NOT NULL);
    CREATE TABLE ${s}.crm_users (id int PRIMARY KEY, name text NOT NULL, email text);
    CREATE TABLE ${s}.crm_accounts (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE ${s}.crm_lost_reasons (id int PRIMARY KEY, reason text NOT NULL);
    CREATE TABLE ${s}.crm_deals (
      id int PRIMARY KEY, code text NOT NULL UNIQUE, title text, account_id int REFERENCES ${s}.crm_accounts,
      owner_id int REFERENCES ${s}.crm_users, stage_id int NOT NULL REFERENCES ${s}.crm_stages, amount numeric(14,2),
      expected_close date, lost_reason_id int REFERENCES ${s}.crm_lost_reasons,
      created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`);
  for (const [i, n] of STAGES.entries()) await c.query(`INSERT INTO ${s}.crm_stages VALUES ($1, $2, $3)`, [i + 1, n, i]);
  for (const [i, n] of USERS.entries()) await c.query(`INSERT INTO ${s}.crm_users VALUES ($1, $2, $3)`, [i + 1, n, `u${i + 1}@example.com`]);
  for (const [i, n] of ACCOUNTS.entries()) await c.query(`INSERT INTO ${s}.crm_accounts VALUES ($1, $2)`, [i + 1, n]);
  for (const [i, n] of REASONS.entries()) await c.query(`INSERT INTO ${s}.crm_lost_reasons VALUES ($1, $2)`, [i + 1, n]);
  for (const d of deals) {
    await c.query(`INSERT INTO ${s}.crm_deals VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::timestamp AT TIME ZONE 'Asia/Shanghai',$11::timestamp AT TIME ZONE 'Asia/Shanghai')`, [
      d.id, d.code, d.title, d.account, d.owner, d.stage, d.amount, d.close, d.reason, d.created, d.updated
    ]);
  }
  return c;
}

/** A MySQL database with the CRM tables; DATETIME columns hold business-local wall time. */
export async function createMysqlCrm(db: string, deals: Deal[]): Promise<{ c: mysql.Connection; url: string }> {
  let c: mysql.Connection;
  try {
    c = await mysql.createConnection({ uri: MYSQL_URL, multipleStatements: true });
  } catch (e) {
    throw new Error(
      `start MariaDB/MySQL: cannot reach ${MYSQL_URL} (${(e as Error).message}). Start it (e.g. "service mariadb start") or set COCKPIT_TEST_MYSQL_URL.`
    );
  }
  await c.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
  await c.query(`USE \`${db}\``);
  await c.query(`
    CREATE TABLE crm_stages (id int PRIMARY KEY, name varchar(50) NOT NULL, sort int NOT NULL);
    CREATE TABLE crm_users (id int PRIMARY KEY, name varchar(100) NOT NULL, email varchar(200));
    CREATE TABLE crm_accounts (id int PRIMARY KEY, name varchar(200) NOT NULL);
    CREATE TABLE crm_lost_reasons (id int PRIMARY KEY, reason varchar(200) NOT NULL);
    CREATE TABLE crm_deals (
      id int PRIMARY KEY, code varchar(20) NOT NULL UNIQUE, title text, account_id int, owner_id int, stage_id int NOT NULL,
      amount decimal(14,2), expected_close date, lost_reason_id int, created_at datetime(3) NOT NULL, updated_at datetime(3) NOT NULL,
      FOREIGN KEY (stage_id) REFERENCES crm_stages(id), FOREIGN KEY (owner_id) REFERENCES crm_users(id),
      FOREIGN KEY (account_id) REFERENCES crm_accounts(id), FOREIGN KEY (lost_reason_id) REFERENCES crm_lost_reasons(id))`);
  for (const [i, n] of STAGES.entries()) await c.query('INSERT INTO crm_stages VALUES (?, ?, ?)', [i + 1, n, i]);
  for (const [i, n] of USERS.entries()) await c.query('INSERT INTO crm_users VALUES (?, ?, ?)', [i + 1, n, `u${i + 1}@example.com`]);
  for (const [i, n] of ACCOUNTS.entries()) await c.query('INSERT INTO crm_accounts VALUES (?, ?)', [i + 1, n]);
  for (const [i, n] of REASONS.entries()) await c.query('INSERT INTO crm_lost_reasons VALUES (?, ?)', [i + 1, n]);
  for (const d of deals) {
    await c.query('INSERT INTO crm_deals VALUES (?,?,?,?,?,?,?,?,?,?,?)', [
      d.id, d.code, d.title, d.account, d.owner, d.stage, d.amount, d.close, d.reason, d.created, d.updated
    ]);
  }
  const u = new URL(MYSQL_URL);
  u.pathname = `/${db}`;
  return { c, url: u.toString() };
}
