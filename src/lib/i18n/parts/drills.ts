/**
 * UI strings of the drills (every figure and the rows behind it: 回款明细, 客户明细, why a figure is
 * not a sum). zh-CN is the reference: `en` has exactly the same keys. Spread into ../zh-CN.ts and ../en.ts.
 */
export const zh = {
  'tile.customer_list': '客户明细',
  'truth.predictive_not_sum': '推算值（年均收入×毛利率×客户寿命），不是明细之和',
  'truth.customers.all': '{n} 家客户 · 历史LTV合计 {ltv}',
  'truth.customers.with_revenue': '有收入客户 {n} 家 · LTV合计 {ltv} · 平均 {avg}',
  'truth.customers.won': '本期赢单客户 {n} 家 · 赢单 {won}（{deals} 单）· 平均客单价 {acv}',
  'truth.customers.active': '近12个月活跃客户 {n} 家 · 收入 {revenue} · 年均收入 {arpa}；预测LTV据此推算，不是这些客户之和',
  'truth.customers.active_last_year': '去年活跃客户 {n} 家 · 其中流失 {churned} 家 · 流失率 {churn}',
  'kpi.churned_of': '流失 {n} / {of} 家',
  'table.flag_yes': '是',
  'customer.unscheduled': '未定回款日',
  'table.search_customers': '搜索客户、地区、行业、负责人…',
  'col.ltv': '历史LTV',
  'col.won_deals': '赢单数',
  'col.revenue_year': '近12个月收入',
  'col.active_year': '今年活跃',
  'col.active_last_year': '去年活跃',
  'col.churned': '流失',
  'col.basis': '口径',
  'refine.segment': '客户',
  'segment.all': '全部',
  'segment.with_revenue': '有收入',
  'segment.won': '本期赢单',
  'segment.active': '近12个月活跃',
  'segment.active_last_year': '去年活跃',
  'segment.churned': '已流失'
} as const satisfies Record<string, string>;

export const en: Record<keyof typeof zh, string> = {
  'tile.customer_list': 'Customers',
  'truth.predictive_not_sum': 'A projection (ARPA × margin × lifetime), not a sum of rows',
  'truth.customers.all': '{n} {n|customer|customers} · historical LTV {ltv} in all',
  'truth.customers.with_revenue': '{n} {n|customer|customers} with revenue · LTV {ltv} in all · average {avg}',
  'truth.customers.won': '{n} {n|customer|customers} won in the period · {won} in {deals} {deals|deal|deals} · ACV {acv}',
  'truth.customers.active': '{n} {n|customer|customers} active in the last 12 months · revenue {revenue} · ARPA {arpa}; predicted LTV is projected from it, not a sum of these customers',
  'truth.customers.active_last_year': '{n} {n|customer|customers} active last year · {churned} churned · churn {churn}',
  'kpi.churned_of': '{n} of {of} churned',
  'table.flag_yes': 'Yes',
  'customer.unscheduled': 'no date set',
  'table.search_customers': 'Search customers, regions, industries, owners…',
  'col.ltv': 'Historical LTV',
  'col.won_deals': 'Won deals',
  'col.revenue_year': 'Last 12 months',
  'col.active_year': 'Active this year',
  'col.active_last_year': 'Active last year',
  'col.churned': 'Churned',
  'col.basis': 'Basis',
  'refine.segment': 'Customers',
  'segment.all': 'all',
  'segment.with_revenue': 'with revenue',
  'segment.won': 'won in the period',
  'segment.active': 'active in the last 12 months',
  'segment.active_last_year': 'active last year',
  'segment.churned': 'churned'
};
