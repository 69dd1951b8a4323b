/**
 * The canonical CRM data model (docs/data-model.md is the contract): one spec per table from
 * which the zod row schemas are derived. The DuckDB DDL lives in versioned migrations
 * (src/lib/server/db/migrations.ts) because a migration, once released, never changes;
 * a test checks that the migrated database has exactly the columns and types listed here.
 */
import { z } from 'zod';

export type ColumnType = 'text' | 'decimal' | 'double' | 'integer' | 'date' | 'timestamp' | 'boolean' | 'json';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** Part of the primary key. */
  key?: boolean;
  /** Must be present (not null, not empty) on every row. */
  required?: boolean;
  /** Short description, English and Chinese, used by the data dictionary and import reports. */
  en: string;
  zh: string;
}

export interface TableSpec {
  name: EntityName | InternalTable;
  columns: ColumnSpec[];
}

export const ENTITIES = ['teams', 'users', 'customers', 'opportunities', 'payments', 'activities', 'targets'] as const;
export type EntityName = (typeof ENTITIES)[number];
type InternalTable = 'opportunity_versions';

/** The DuckDB type of each column type; money is DECIMAL(18,2) in the reporting currency. */
export const DUCKDB_TYPES: Record<ColumnType, string> = {
  text: 'VARCHAR',
  decimal: 'DECIMAL(18,2)',
  double: 'DOUBLE',
  integer: 'INTEGER',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  boolean: 'BOOLEAN',
  json: 'JSON'
};

const c = (name: string, type: ColumnType, en: string, zh: string, extra: Partial<ColumnSpec> = {}): ColumnSpec => ({
  name,
  type,
  en,
  zh,
  ...extra
});

export const TABLES: Record<EntityName | InternalTable, TableSpec> = {
  teams: {
    name: 'teams',
    columns: [
      c('team_id', 'text', 'Team id', '团队编号', { key: true, required: true }),
      c('name', 'text', 'Team name', '团队名称', { required: true }),
      c('parent_id', 'text', 'Parent team (company → region → team)', '上级团队'),
      c('manager_id', 'text', 'Manager (a user)', '负责人')
    ]
  },
  users: {
    name: 'users',
    columns: [
      c('user_id', 'text', 'User id', '用户编号', { key: true, required: true }),
      c('name', 'text', 'Name', '姓名', { required: true }),
      c('team_id', 'text', 'Team', '所属团队'),
      c('email', 'text', 'Email', '邮箱'),
      c('active', 'boolean', 'Active', '在职')
    ]
  },
  customers: {
    name: 'customers',
    columns: [
      c('customer_id', 'text', 'Customer id', '客户编号', { key: true, required: true }),
      c('name', 'text', 'Customer name', '客户名称', { required: true }),
      c('industry', 'text', 'Industry', '行业'),
      c('region', 'text', 'Region (province or city)', '所在地区'),
      c('source', 'text', 'Lead source', '客户来源'),
      c('grade', 'text', 'Grade', '客户级别'),
      c('owner_id', 'text', 'Owner', '负责人'),
      c('status', 'text', 'Status', '客户状态'),
      c('phone', 'text', 'Phone', '联系电话'),
      c('created_at', 'timestamp', 'Created', '创建时间'),
      c('last_contact_at', 'timestamp', 'Last contact', '最后跟进时间'),
      c('attributes', 'json', 'Unmapped source columns', '其他字段')
    ]
  },
  opportunities: {
    name: 'opportunities',
    columns: [
      c('opportunity_id', 'text', 'Opportunity id', '商机编号', { key: true, required: true }),
      c('name', 'text', 'Opportunity name', '商机名称'),
      c('customer_id', 'text', 'Customer', '客户'),
      c('owner_id', 'text', 'Owner', '负责人'),
      c('stage', 'text', 'Stage', '销售阶段', { required: true }),
      c('status', 'text', 'Status (open, won, lost)', '状态'),
      c('amount', 'decimal', 'Amount (reporting currency)', '预计成交金额'),
      c('amount_original', 'decimal', 'Amount as the source gave it', '原币金额'),
      c('currency', 'text', 'Original currency', '币种'),
      c('probability', 'double', 'Win probability override', '赢率'),
      c('forecast_category', 'text', 'Forecast category', '预测类别'),
      c('expected_close_date', 'date', 'Expected close date', '预计成交日期'),
      c('created_at', 'timestamp', 'Created', '创建时间'),
      c('closed_at', 'timestamp', 'Closed (won or lost)', '赢单/输单日期'),
      c('loss_reason', 'text', 'Loss reason', '输单原因'),
      c('product', 'text', 'Product', '产品'),
      c('source', 'text', 'Source', '来源'),
      c('competitor', 'text', 'Competitor', '竞争对手'),
      c('updated_at', 'timestamp', 'Updated at the source', '更新时间'),
      c('attributes', 'json', 'Unmapped source columns', '其他字段')
    ]
  },
  opportunity_versions: {
    name: 'opportunity_versions',
    columns: [
      c('opportunity_id', 'text', 'Opportunity id', '商机编号', { required: true }),
      c('valid_from', 'timestamp', 'Version start', '生效时间', { required: true }),
      c('valid_to', 'timestamp', 'Version end (null = current)', '失效时间'),
      c('stage', 'text', 'Stage', '销售阶段', { required: true }),
      c('amount', 'decimal', 'Amount', '金额'),
      c('expected_close_date', 'date', 'Expected close date', '预计成交日期'),
      c('owner_id', 'text', 'Owner', '负责人'),
      c('forecast_category', 'text', 'Forecast category', '预测类别'),
      c('probability', 'double', 'Probability override', '赢率'),
      c('origin', 'text', 'Where the version came from: source, stage_dates, sync', '来源')
    ]
  },
  payments: {
    name: 'payments',
    columns: [
      c('payment_id', 'text', 'Payment id', '回款编号', { key: true, required: true }),
      c('customer_id', 'text', 'Customer', '客户'),
      c('opportunity_id', 'text', 'Contract / won deal', '合同/商机'),
      c('amount', 'decimal', 'Planned or received amount', '回款金额'),
      c('due_date', 'date', 'Planned date', '计划回款日期'),
      c('paid_at', 'date', 'Date received', '实际回款日期'),
      c('paid_amount', 'decimal', 'Amount received', '实收金额'),
      c('attributes', 'json', 'Unmapped source columns', '其他字段')
    ]
  },
  activities: {
    name: 'activities',
    columns: [
      c('activity_id', 'text', 'Activity id', '跟进编号', { key: true, required: true }),
      c('customer_id', 'text', 'Customer', '客户'),
      c('opportunity_id', 'text', 'Opportunity', '商机'),
      c('owner_id', 'text', 'Owner', '负责人'),
      c('type', 'text', 'Type (call, visit, email, meeting, other)', '跟进方式'),
      c('occurred_at', 'timestamp', 'When', '跟进时间'),
      c('summary', 'text', 'Summary', '跟进内容'),
      c('attributes', 'json', 'Unmapped source columns', '其他字段')
    ]
  },
  targets: {
    name: 'targets',
    columns: [
      c('target_id', 'text', 'Target id', '目标编号', { key: true, required: true }),
      c('owner_id', 'text', 'Owner (exactly one of owner and team)', '负责人'),
      c('team_id', 'text', 'Team (exactly one of owner and team)', '团队'),
      c('metric', 'text', 'won_amount, collected_amount or new_customers', '目标指标'),
      c('period_start', 'date', 'Period start', '开始日期', { required: true }),
      c('period_end', 'date', 'Period end (exclusive)', '结束日期', { required: true }),
      c('amount', 'decimal', 'Target', '目标值', { required: true }),
      c('region', 'text', 'Customer region the target covers (empty: every region)', '区域')
    ]
  }
};

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');
const isoTimestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/, 'expected a timestamp YYYY-MM-DD HH:MM:SS');

function zodFor(col: ColumnSpec): z.ZodType {
  let t: z.ZodType;
  switch (col.type) {
    case 'text':
      t = z.string();
      break;
    case 'decimal':
    case 'double':
      t = z.number().finite();
      break;
    case 'integer':
      t = z.number().int();
      break;
    case 'date':
      t = isoDate;
      break;
    case 'timestamp':
      t = isoTimestamp;
      break;
    case 'boolean':
      t = z.boolean();
      break;
    case 'json':
      t = z.record(z.string(), z.unknown());
      break;
  }
  if (col.required) return col.type === 'text' ? (t as z.ZodString).min(1) : t;
  return t.nullable().optional();
}

/** The zod schema of a canonical row, as connectors must produce it after mapping and cleaning. */
export function rowSchema(table: keyof typeof TABLES) {
  const shape: Record<string, z.ZodType> = {};
  for (const col of TABLES[table].columns) shape[col.name] = zodFor(col);
  return z.strictObject(shape);
}

export const rowSchemas = Object.fromEntries(
  (Object.keys(TABLES) as (keyof typeof TABLES)[]).map((t) => [t, rowSchema(t)])
) as Record<keyof typeof TABLES, ReturnType<typeof rowSchema>>;

/** Field names of an entity, for column-mapping validation and suggestions. */
export function fieldNames(table: keyof typeof TABLES): string[] {
  return TABLES[table].columns.map((col) => col.name);
}
