/**
 * UI strings of one feature area (truth), kept in a file of their own so parallel work on
 * different areas never edits the same catalog lines. zh-CN is the reference: `en` must have
 * exactly the same keys (the type says so). Spread into ../zh-CN.ts and ../en.ts.
 */
export const zh = {
  'truth.target.owner': '对比本人目标',
  'truth.target.team': '对比团队目标',
  'truth.target.company': '对比公司目标',
  'truth.target.region': '对比{region}区域目标',
  'truth.target.none_region': '{region}未设区域目标，不计达成率',
  'truth.target.none_filter': '目标不按{filter}设定，不计达成率',
  'truth.target.none': '本期未设目标',
  'truth.filter.industry': '行业',
  'truth.filter.source': '来源',
  'truth.filter.product': '产品',
  'truth.filter.grade': '客户级别',
  'truth.valued_note': '其中 {k} 个输单商机的金额被来源清零，漏斗按其输单前最后金额计，合计 {value}',
  'truth.team_deals': '所选范围的商机',
  'truth.team_deals_sub': '点击排行榜中的销售查看其本期成交与在途商机',
  'truth.forbidden': '当前登录链接无权查看此内容',
  'truth.forbidden_model': '当前登录链接无权查看「{model}」',
  'truth.unauthorized': '登录已失效，请重新打开登录链接',
  'truth.no_page': '当前登录链接没有可以打开的页面',
  'truth.waterfall_line': '各类别未加权金额合计 {total} · 加权预测 {forecast} · 目标 {target}',
  'truth.weighted_total': '加权合计 {value}（已赢单计全额，在途按金额×赢率）',
  'date_field.forecast_date': '成交/预计成交日期'
} as const satisfies Record<string, string>;

export const en: { [K in keyof typeof zh]: string } = {
  'truth.target.owner': 'against their own target',
  'truth.target.team': "against the team's target",
  'truth.target.company': 'against the company target',
  'truth.target.region': 'against the {region} target',
  'truth.target.none_region': 'No target set for {region}: no attainment',
  'truth.target.none_filter': 'Targets are not set by {filter}: no attainment',
  'truth.target.none': 'No target set for this period',
  'truth.filter.industry': 'industry',
  'truth.filter.source': 'source',
  'truth.filter.product': 'product',
  'truth.filter.grade': 'customer grade',
  'truth.valued_note': '{k} lost deals were zeroed by the source; the funnel counts them at their last open amount: {value} in all',
  'truth.team_deals': 'Deals in view',
  'truth.team_deals_sub': "Click a rep in the leaderboard for their deals closed or open in the period",
  'truth.forbidden': 'This sign-in link may not open this',
  'truth.forbidden_model': 'This sign-in link may not open “{model}”',
  'truth.unauthorized': 'The sign-in has expired: open your sign-in link again',
  'truth.no_page': 'This sign-in link has no page it may open',
  'truth.waterfall_line': 'unweighted by category {total} · weighted forecast {forecast} · target {target}',
  'truth.weighted_total': 'weighted {value} (won in full, open at amount × probability)',
  'date_field.forecast_date': 'close / expected close'
};
