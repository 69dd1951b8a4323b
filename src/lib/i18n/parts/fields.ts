/**
 * The label of every field a source can map (connectors/pipeline/fields.ts mappableFields: the
 * canonical columns and the reference fields), per entity — `amount` is 预计成交金额 on a deal,
 * 回款金额 on a payment and 目标值 on a target — in both languages: `field.<entity>.<name>`.
 * The upload page's mapping, its preview and the reasons of rejected rows name fields by these;
 * fields.test.ts checks that every mappable field of every entity has both.
 */
import type { EntityName } from '../../schema/tables';

type Labels = Record<string, readonly [zh: string, en: string]>;

const LABELS = {
  teams: {
    team_id: ['团队编号', 'Team ID'],
    name: ['团队名称', 'Team name'],
    parent_id: ['上级团队编号', 'Parent team ID'],
    manager_id: ['团队负责人', 'Manager'],
    parent_name: ['上级团队', 'Parent team'],
    manager_name: ['团队负责人姓名', "Manager's name"]
  },
  users: {
    user_id: ['用户编号', 'User ID'],
    name: ['姓名', 'Name'],
    team_id: ['所属团队', 'Team'],
    email: ['邮箱', 'Email'],
    active: ['在职', 'Active'],
    team_name: ['团队名称', 'Team name'],
    team_parent_id: ['上级团队', 'Parent team']
  },
  customers: {
    customer_id: ['客户编号', 'Customer ID'],
    name: ['客户名称', 'Customer name'],
    industry: ['行业', 'Industry'],
    region: ['所在地区', 'Region'],
    source: ['客户来源', 'Lead source'],
    grade: ['客户级别', 'Grade'],
    owner_id: ['负责人', 'Owner'],
    status: ['客户状态', 'Status'],
    phone: ['联系电话', 'Phone'],
    created_at: ['创建时间', 'Created'],
    last_contact_at: ['最后跟进时间', 'Last contact'],
    owner_name: ['负责人姓名', "Owner's name"]
  },
  opportunities: {
    opportunity_id: ['商机编号', 'Opportunity ID'],
    name: ['商机名称', 'Opportunity name'],
    customer_id: ['客户编号', 'Customer ID'],
    owner_id: ['负责人', 'Owner'],
    stage: ['销售阶段', 'Stage'],
    status: ['状态', 'Status'],
    amount: ['预计成交金额', 'Amount'],
    amount_original: ['原币金额', 'Amount in original currency'],
    currency: ['币种', 'Currency'],
    probability: ['赢率', 'Win probability'],
    forecast_category: ['预测类别', 'Forecast category'],
    expected_close_date: ['预计成交日期', 'Expected close date'],
    created_at: ['创建时间', 'Created'],
    closed_at: ['赢单/输单日期', 'Closed (won or lost)'],
    loss_reason: ['输单原因', 'Loss reason'],
    product: ['产品', 'Product'],
    source: ['商机来源', 'Source'],
    competitor: ['竞争对手', 'Competitor'],
    updated_at: ['更新时间', 'Updated'],
    customer_name: ['客户名称', 'Customer name'],
    customer_industry: ['客户行业', "Customer's industry"],
    customer_region: ['客户地区', "Customer's region"],
    customer_phone: ['客户电话', "Customer's phone"],
    customer_grade: ['客户级别', "Customer's grade"],
    owner_name: ['负责人姓名', "Owner's name"],
    owner_team: ['负责人团队', "Owner's team"]
  },
  payments: {
    payment_id: ['回款编号', 'Payment ID'],
    customer_id: ['客户编号', 'Customer ID'],
    opportunity_id: ['合同/商机编号', 'Contract / deal ID'],
    amount: ['回款金额', 'Payment amount'],
    due_date: ['计划回款日期', 'Planned date'],
    paid_at: ['实际回款日期', 'Date received'],
    paid_amount: ['实收金额', 'Amount received'],
    customer_name: ['客户名称', 'Customer name']
  },
  activities: {
    activity_id: ['跟进编号', 'Activity ID'],
    customer_id: ['客户编号', 'Customer ID'],
    opportunity_id: ['商机编号', 'Opportunity ID'],
    owner_id: ['负责人', 'Owner'],
    type: ['跟进方式', 'Type'],
    occurred_at: ['跟进时间', 'When'],
    summary: ['跟进内容', 'Summary'],
    customer_name: ['客户名称', 'Customer name'],
    owner_name: ['负责人姓名', "Owner's name"]
  },
  targets: {
    target_id: ['目标编号', 'Target ID'],
    owner_id: ['负责人', 'Owner'],
    team_id: ['团队', 'Team'],
    metric: ['目标指标', 'Metric'],
    period_start: ['开始日期', 'Period start'],
    period_end: ['结束日期', 'Period end'],
    amount: ['目标值', 'Target'],
    region: ['区域', 'Region'],
    owner_name: ['负责人姓名', "Owner's name"],
    team_name: ['团队名称', 'Team name']
  }
} as const satisfies Record<EntityName, Labels>;

type L = typeof LABELS;
export type FieldKey = { [E in keyof L]: `field.${E}.${keyof L[E] & string}` }[keyof L];

const catalog = (i: 0 | 1) =>
  Object.fromEntries(Object.entries(LABELS).flatMap(([e, fields]) => Object.entries(fields as Labels).map(([f, l]) => [`field.${e}.${f}`, l[i]]))) as Record<FieldKey, string>;

export const zh = catalog(0);
export const en = catalog(1);
