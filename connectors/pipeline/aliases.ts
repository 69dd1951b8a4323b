/**
 * Header aliases per entity: the column names Chinese and English CRM exports and ledgers use
 * for each canonical field (docs/connectors.md has this table). Headers are compared after
 * `headerKey` (full-width → half-width, lower case, no spaces, punctuation or a unit suffix
 * such as "(元)"), so `预计成交金额（万元）`, `Amount ` and `AMOUNT` all match.
 */
import type { EntityName } from '../../src/lib/schema/tables';
import { halfWidth, stripHeaderUnit } from './values';

type AliasTable = Record<string, string[]>;

const customerRef: AliasTable = {
  customer_name: ['客户名称', '客户', '公司名称', '客户全称', '企业名称', '单位名称', 'account', 'account name', 'company', 'company name', 'customer', 'customer name', 'client', 'dealname_company'],
  customer_industry: ['行业', '所属行业', '客户行业', 'industry', 'sector'],
  customer_region: ['地区', '所在地区', '区域', '省份', '城市', '所在城市', '客户地区', 'region', 'province', 'city', 'office_location', 'location'],
  customer_phone: ['电话', '联系电话', '手机', '手机号', 'phone', 'telephone', 'mobile'],
  customer_grade: ['客户级别', '客户等级', 'customer grade', 'account tier']
};

const owner = ['负责人', '销售', '销售人员', '销售代表', '业务员', '客户经理', '跟进人', '所有者', '归属人', 'owner', 'owner name', 'sales rep', 'salesperson', 'sales agent', 'sales_agent', 'rep', 'assigned to', 'hubspot_owner_id', 'ownerid'];

export const ALIASES: Record<EntityName, AliasTable> = {
  opportunities: {
    opportunity_id: ['商机编号', '商机id', '商机编码', '机会编号', '项目编号', '编号', 'opportunity id', 'opportunity_id', 'opportunityid', 'deal id', 'deal_id', 'dealid', 'hs_object_id', 'id'],
    name: ['商机名称', '机会名称', '项目名称', '商机', 'opportunity', 'opportunity name', 'deal name', 'dealname', 'name', 'title'],
    customer_id: ['客户编号', '客户id', '客户编码', 'account id', 'accountid', 'customer id', 'customer_id', 'company id'],
    owner_id: owner,
    stage: ['销售阶段', '商机阶段', '阶段', '当前阶段', '状态阶段', 'stage', 'deal stage', 'deal_stage', 'dealstage', 'stagename', 'sales stage'],
    amount: ['预计成交金额', '预估签单金额', '预计金额', '商机金额', '合同金额', '成交金额', '签单金额', '金额', 'amount', 'deal amount', 'value', 'close_value', 'close value', 'deal value', 'expected revenue'],
    currency: ['币种', '货币', 'currency', 'currency code', 'currencyisocode', 'deal_currency_code'],
    probability: ['赢率', '成交概率', '赢单率', '成功率', 'probability', 'win probability', 'hs_deal_stage_probability'],
    forecast_category: ['预测类别', '预测分类', 'forecast category', 'forecastcategory', 'forecast_category', 'forecastcategoryname'],
    expected_close_date: ['预计成交日期', '预计签单日期', '预计结单日期', '预计成交时间', 'expected close date', 'close date', 'closedate', 'close_date', 'expected_close_date'],
    created_at: ['创建时间', '创建日期', '录入日期', '立项日期', 'created', 'created at', 'created date', 'createdate', 'createddate', 'create date'],
    closed_at: ['赢单日期', '输单日期', '赢单/输单日期', '赢单输单日期', '赢/输单日期', '成交/输单日期', '关单日期', '结案日期', '成交日期', '结单日期', '关闭日期', '签约日期', 'closed at', 'closed date', 'won date', 'closed_at'],
    loss_reason: ['输单原因', '丢单原因', '失败原因', 'loss reason', 'lost reason', 'closed lost reason', 'closed_lost_reason'],
    product: ['产品', '产品名称', '意向产品', 'product', 'product name'],
    source: ['商机来源', '来源', '线索来源', 'source', 'lead source', 'leadsource'],
    competitor: ['竞争对手', '竞品', 'competitor', 'competitors'],
    updated_at: ['更新时间', '最后修改时间', '修改时间', 'updated', 'updated at', 'last modified', 'lastmodifieddate', 'hs_lastmodifieddate', 'systemmodstamp'],
    ...customerRef,
    owner_team: ['团队', '所属团队', '销售团队', '部门', '所属部门', 'team', 'sales team', 'department']
  },
  customers: {
    customer_id: ['客户编号', '客户id', '客户编码', '编号', 'account id', 'accountid', 'customer id', 'customer_id', 'id', 'hs_object_id'],
    name: ['客户名称', '公司名称', '客户全称', '企业名称', '单位名称', '客户', 'account', 'account name', 'company', 'company name', 'customer', 'customer name', 'name'],
    industry: customerRef.customer_industry,
    region: customerRef.customer_region,
    source: ['客户来源', '来源', '线索来源', 'source', 'lead source'],
    grade: ['客户级别', '客户等级', '级别', '等级', 'grade', 'tier', 'rating'],
    owner_id: owner,
    status: ['客户状态', '状态', 'status', 'lifecycle stage', 'lifecyclestage'],
    phone: customerRef.customer_phone,
    created_at: ['创建时间', '创建日期', '录入日期', 'created', 'created at', 'createdate', 'createddate'],
    last_contact_at: ['最后跟进时间', '最近跟进时间', '最后联系时间', 'last contact', 'last contacted', 'last_contact_at', 'notes_last_contacted']
  },
  payments: {
    payment_id: ['回款编号', '回款单号', '收款编号', '编号', 'payment id', 'payment_id', 'id'],
    customer_id: ['客户编号', '客户id', 'customer id', 'customer_id'],
    customer_name: customerRef.customer_name,
    opportunity_id: ['合同编号', '商机编号', '合同号', '订单编号', 'contract id', 'opportunity id', 'opportunity_id', 'deal id'],
    amount: ['回款金额', '计划回款金额', '应收金额', '金额', 'amount', 'payment amount'],
    due_date: ['计划回款日期', '应收日期', '到期日', '计划日期', 'due date', 'due_date'],
    paid_at: ['回款日期', '实际回款日期', '到账日期', '收款日期', 'paid at', 'paid date', 'payment date', 'paid_at'],
    paid_amount: ['实收金额', '实际回款金额', '到账金额', '已回款金额', 'paid amount', 'paid_amount', 'received']
  },
  activities: {
    activity_id: ['跟进编号', '记录编号', '活动编号', '编号', 'activity id', 'activity_id', 'id'],
    customer_id: ['客户编号', '客户id', 'customer id', 'customer_id'],
    customer_name: customerRef.customer_name,
    opportunity_id: ['商机编号', 'opportunity id', 'opportunity_id', 'deal id'],
    owner_id: owner,
    type: ['跟进方式', '跟进类型', '活动类型', '类型', 'type', 'activity type'],
    occurred_at: ['跟进时间', '跟进日期', '活动时间', '拜访时间', '日期', 'date', 'occurred at', 'activity date', 'occurred_at'],
    summary: ['跟进内容', '内容', '摘要', '备注', 'summary', 'notes', 'subject', 'description']
  },
  users: {
    user_id: ['用户编号', '员工编号', '工号', '编号', 'user id', 'user_id', 'employee id', 'id'],
    name: ['姓名', '销售', '销售人员', '负责人', '员工姓名', 'name', 'sales agent', 'sales_agent', 'full name'],
    team_id: ['团队', '所属团队', '部门', '所属部门', 'team', 'team id', 'department', 'manager'],
    email: ['邮箱', '电子邮箱', 'email', 'e-mail', 'mail'],
    active: ['在职', '是否在职', '状态', 'active', 'is active', 'isactive'],
    team_parent_id: ['上级团队', '大区', '区域', '上级部门', 'region', 'regional office', 'regional_office', 'parent team']
  },
  teams: {
    team_id: ['团队编号', '部门编号', '编号', 'team id', 'team_id', 'id'],
    name: ['团队名称', '部门名称', '团队', '部门', 'team', 'team name', 'name'],
    parent_id: ['上级团队', '上级部门', '大区', 'parent', 'parent team', 'parent_id'],
    manager_id: ['负责人', '经理', '主管', 'manager', 'manager id', 'manager_id']
  },
  targets: {
    target_id: ['目标编号', '编号', 'target id', 'id'],
    owner_id: ['负责人', '销售', 'owner', 'sales rep', 'owner_id'],
    team_id: ['团队', '部门', 'team', 'team_id'],
    metric: ['指标', '目标类型', 'metric'],
    period_start: ['开始日期', '起始日期', '期间开始', '月份', '目标月份', '月度', '期间', 'period start', 'start', 'period_start'],
    period_end: ['结束日期', '期间结束', 'period end', 'end', 'period_end'],
    amount: ['目标金额', '目标', '金额', 'target', 'amount', 'quota'],
    // The customer region a target covers (targets.region); a team's column is 团队/部门.
    region: ['区域', '大区', '地区', '销售区域', '目标区域', '省份', 'region', 'territory', 'sales region']
  }
};

/** A header as aliases compare it: `预计成交金额（元）` → `预计成交金额`, `Deal Stage` → `dealstage`. */
export function headerKey(h: string): string {
  return halfWidth(stripHeaderUnit(h))
    .toLowerCase()
    .replace(/\((元|万元|万|rmb|cny|¥|%|yyyy-mm-dd)\)$/i, '')
    .replace(/[\s_\-.:：*#/\\]+/g, '');
}

const compiled = new Map<EntityName, Map<string, string>>();

/** Header key → field, for one entity (first alias wins). */
export function aliasIndex(entity: EntityName): Map<string, string> {
  let idx = compiled.get(entity);
  if (!idx) {
    idx = new Map();
    for (const [field, names] of Object.entries(ALIASES[entity])) {
      for (const n of [field, ...names]) {
        const k = headerKey(n);
        if (!idx.has(k)) idx.set(k, field);
      }
    }
    compiled.set(entity, idx);
  }
  return idx;
}

/** How many headers of a row any entity's aliases know (for header-row detection). */
export function knownHeaderCount(cells: readonly string[]): number {
  let n = 0;
  for (const c of cells) {
    const k = headerKey(c);
    if (!k) continue;
    for (const e of Object.keys(ALIASES) as EntityName[]) {
      if (aliasIndex(e).has(k)) {
        n++;
        break;
      }
    }
  }
  return n;
}
