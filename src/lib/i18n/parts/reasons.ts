/**
 * Import rejection reasons (connectors/pipeline/reasons.ts) in both languages: `reason.<code>`.
 * English is the connector's own template (one text for the CLI, the export and the screen);
 * zh-CN is written here, and the type makes it name every code. Spread into ../zh-CN.ts and
 * ../en.ts; `reasonLabel` renders a stored reason (code + parameters, nested reasons too).
 */
import { REASON_TEMPLATES, WARNING_TEMPLATES, type ReasonCode, type ReasonRef, type WarningCode, type WarningRef } from '../../../../connectors/pipeline/reasons';

export type { ReasonParams, WarningRef } from '../../../../connectors/pipeline/reasons';

type ReasonKeys = { [K in ReasonCode as `reason.${K}`]: string };

export const zh: ReasonKeys = {
  'reason.ambiguous_date': '日期有歧义：是日/月还是月/日？请在数据源上设置 "date_order"（"dmy" 或 "mdy"）',
  'reason.date_out_of_range': '日期 {date} 超出合理范围 {min} … {max}（可在数据源上设置 "date_range" 放宽）',
  'reason.invalid_date': '无效日期',
  'reason.implausible_date': '不是合理的日期',
  'reason.invalid_calendar_date': '不是有效的日历日期',
  'reason.invalid_time': '不是有效的时刻',
  'reason.invalid_calendar_date_yyyymmdd': '不是有效的日历日期（按 yyyymmdd 读取）',
  'reason.invalid_calendar_date_order': '不是有效的日历日期（按 {order} 顺序读取）',
  'reason.not_a_date': '不是日期（应如 2024-03-05、2024/3/5、2024年3月5日、20240305）',
  'reason.not_a_date_number': '不是日期',
  'reason.number_not_a_date': '这个数字既不是 {min} … {max} 之间的日期序号，也不是 yyyymmdd',
  'reason.not_finite_number': '不是有限的数字',
  'reason.empty': '为空',
  'reason.not_an_amount': '不是金额（应如 12000、1,200.50、¥3.5万）',
  'reason.not_a_probability': '不是概率（应如 0.3 或 30%）',
  'reason.probability_out_of_range': '概率必须在 0 到 1 之间（0% 到 100%）',
  'reason.not_a_boolean': '不是是/否值（应为 是/否、yes/no、true/false）',
  'reason.not_whole_number': '不是整数',
  'reason.in_field': '{field}：{reason}',
  'reason.in_default': '默认值 defaults.{field}：{reason}',
  'reason.in_stage_date': '进入"{stage}"阶段的日期：{reason}',
  'reason.negative_receipt': '{field}：此处不能为负数（{amount}）（退款或红字发票不是回款）',
  'reason.negative_amount': '{field}：此处不能为负数（{amount}）（退款或红字发票不是商机或目标金额）',
  'reason.required_empty': '{field} 为必填项，但为空',
  'reason.required_unmapped': '{field} 为必填项，但没有列映射到它（请在 "columns" 中映射）',
  'reason.unknown_stage': '未知阶段"{stage}"；已配置的阶段：{stages}',
  'reason.bad_forecast_category': 'forecast_category 必须是以下之一：{categories}',
  'reason.no_fx_rate': '没有 {at} 从 {currency} 到 {base} 的汇率（请添加 "fx": {"{currency}": {"default": …}}）',
  'reason.target_owner_or_team': '目标必须且只能指定 owner_id 和 team_id 之一',
  'reason.unknown_contract': 'opportunity_id：本次导入和数据库中都没有合同/商机"{id}"（请先导入商机，或更正编号）'
};

export const en = Object.fromEntries(Object.entries(REASON_TEMPLATES).map(([k, v]) => [`reason.${k}`, v])) as ReasonKeys;

/** Parameters a reason carries as a list joined with ", " (the configured stages, the categories): said with the locale's separator when `list` is given. */
const REASON_LIST_PARAMS = new Set(['stages', 'categories']);

type T = (key: `reason.${ReasonCode}`, vars?: Record<string, string | number>) => string;

/**
 * A stored reason in the page's language: its code's text with the parameters filled in
 * (`field` as the column's label, `stages`/`categories` joined by `list`, nested reasons rendered
 * the same way). Without a known code
 * (a row rejected before codes were stored), the English text as stored.
 */
export function reasonLabel(
  t: T,
  r: { code?: string | null; params?: ReasonRef['params'] | null; reason?: string | null },
  field?: (name: string) => string,
  list?: (items: string[]) => string
): string {
  if (!r.code || !(r.code in REASON_TEMPLATES)) return r.reason ?? '';
  const vars: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(r.params ?? {})) {
    if (typeof v === 'object') vars[k] = reasonLabel(t, v, field, list);
    else if (k === 'field' && field) vars[k] = field(String(v));
    else if (REASON_LIST_PARAMS.has(k) && list) vars[k] = list(String(v).split(', '));
    else vars[k] = v;
  }
  return t(`reason.${r.code as ReasonCode}`, vars);
}

/**
 * Import warnings (connectors/pipeline/reasons.ts WARNING_TEMPLATES): `warning.<code>`, zh-CN
 * written here (the type makes it name every code), en the connector's own template.
 */
type WarningKeys = { [K in WarningCode as `warning.${K}`]: string };

export const warningsZh: WarningKeys = {
  'warning.note_skipped': '{where} 第 {row} 行：说明行"{note}"已跳过',
  'warning.summary_row_skipped': '{where} 第 {row} 行：合计行"{label}"已跳过',
  'warning.sheet_empty': '{where}：工作表为空',
  'warning.sheet_skipped': '工作表"{sheet}"（列：{columns}）未导入：{why}',
  'warning.unnamed_sheet_skipped': '一个工作表（列：{columns}）未导入：{why}',
  'warning.sheet_unmapped': '没有一列能对应到字段',
  'warning.sheet_looks_like': '看起来是{entity}（有{fields}等列）',
  'warning.sheet_summary': '看起来是汇总表或数据透视表（{hint}），不是逐条记录',
  'warning.summary_hint_aggregate': '有透视列"{column}"',
  'warning.summary_hint_values': '以阶段或期间为列：{columns}',
  'warning.summary_hint_total': '有合计列"{column}"',
  'warning.summary_hint_name': '表名为"{name}"',
  'warning.source_error': '数据源设置有误：{message}',
  'warning.duplicate_id': '{id}"{value}"重复，出现在第 {rows} 行：以第 {last} 行为准，第 {earlier} 行已跳过',
  'warning.customer_merged_name': '客户"{from}"已合并到"{into}"（名称相同：{key}）',
  'warning.customer_merged_phone': '客户"{from}"已合并到"{into}"（电话相同：{key}）',
  'warning.stubs_created': '根据引用新建了 {n} 条{entity}（以编号命名；添加{entity}数据源可补全）',
  'warning.closed_at_derived': '{n} 个赢单或输单商机没有成交日期：已按进入结果阶段的时间（来自历史记录）设置 closed_at；如要使用源数据的日期，请映射成交日期列',
  'warning.more_warnings': '……更多警告未显示',
  'warning.request_retry': '{request}：{error}{retry_after}；{seconds} 秒后重试（第 {attempt} 次，共 {max} 次）',
  'warning.hubspot_search_cap': 'HubSpot 搜索最多返回 {cap} 条结果：从 hs_lastmodifieddate {from} 起继续读取',
  'warning.watermark_not_a_time': '第 {row} 条记录：{field} = {value} 不是时间，不推进增量水位'
};

export const warningsEn = Object.fromEntries(Object.entries(WARNING_TEMPLATES).map(([k, v]) => [`warning.${k}`, v])) as WarningKeys;

/** Parameters the importer sends as a list joined with ", " (rows of a duplicate id, a sheet's columns): said with the locale's separator. */
const WARNING_LIST_PARAMS = new Set(['rows', 'earlier', 'columns']);

type WT = (key: `warning.${WarningCode}`, vars?: Record<string, string | number>) => string;

/**
 * An import warning in the page's language: its code's text with the parameters filled in —
 * nested warnings rendered the same way, field names (`id`, each of `fields`) through `field`,
 * an entity (`entity`) through `entity`, a location (`where`: file [sheet]) through `where`, lists
 * (`rows`, `earlier`, `columns`, `fields`) joined by `list` (formatList: 、 in Chinese). Without a
 * known code, the English text as sent.
 */
export function warningLabel(
  t: WT,
  w: { code?: string | null; params?: WarningRef['params'] | null } | null | undefined,
  text: string,
  labels: { field?: (name: string) => string; entity?: (name: string) => string; where?: (location: string) => string; list?: (items: string[]) => string } = {}
): string {
  if (!w?.code || !(w.code in WARNING_TEMPLATES)) return text;
  const vars: Record<string, string | number> = {};
  const list = labels.list ?? ((xs: string[]) => xs.join(', '));
  for (const [k, v] of Object.entries(w.params ?? {})) {
    if (typeof v === 'object') vars[k] = warningLabel(t, v, '', labels);
    else if (k === 'entity' && labels.entity) vars[k] = labels.entity(String(v));
    else if (k === 'where' && labels.where) vars[k] = labels.where(String(v));
    else if (k === 'id' && labels.field) vars[k] = labels.field(String(v));
    else if (k === 'fields') vars[k] = list(String(v).split(', ').map(labels.field ?? ((f) => f)));
    else if (WARNING_LIST_PARAMS.has(k)) vars[k] = list(String(v).split(', '));
    else vars[k] = v;
  }
  return t(`warning.${w.code as WarningCode}`, vars);
}
