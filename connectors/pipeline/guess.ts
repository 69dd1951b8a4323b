/**
 * Which entity a sheet holds, from its header (and its name): a workbook's 商机 sheet and its
 * 回款 sheet both have 客户名称 and 金额, but only one has 销售阶段. Used to pick the sheets of
 * a workbook imported without `sheet` (docs/connectors.md, "Several sheets") and by the upload
 * page to suggest an entity.
 */
import { ENTITIES, type EntityName } from '../../src/lib/schema/tables';
import { headerKey } from './aliases';
import { REFERENCE_FIELDS } from './fields';
import { resolveMapping } from './pipeline';
import { warning, type Warning } from './reasons';

/** Fields a sheet must map to hold the entity (one of each inner list). */
const CORE: Record<EntityName, string[][]> = {
  opportunities: [['stage'], ['opportunity_id', 'name']],
  payments: [['amount', 'paid_amount'], ['paid_at', 'due_date']],
  customers: [['name']],
  activities: [['occurred_at']],
  targets: [['amount'], ['period_start']],
  users: [['name'], ['user_id', 'team_id', 'email']],
  teams: [['name'], ['team_id', 'parent_id', 'manager_id']]
};

/** Sheet names that say what they hold. */
const NAMES: Record<EntityName, RegExp> = {
  opportunities: /商机|机会|台账|项目|合同|订单|deal|opportunit|pipeline/i,
  payments: /回款|收款|到账|应收|payment|receiv/i,
  customers: /客户|customer|account|compan/i,
  activities: /跟进|拜访|活动|activit|visit/i,
  targets: /目标|指标|任务|target|quota/i,
  users: /人员|员工|销售名单|user|staff|rep/i,
  teams: /团队|部门|team|department/i
};

export interface EntityGuess {
  entity: EntityName;
  score: number;
  /** Fields mapped automatically (for the preview). */
  fields: string[];
}

/** Every entity's score for a header (best first); 0 when the sheet lacks the entity's core fields. */
export function scoreEntities(headers: string[], sheetName = ''): EntityGuess[] {
  const out: EntityGuess[] = [];
  for (const entity of ENTITIES) {
    const { mapping } = resolveMapping({ name: 'guess', entity }, headers, false);
    const fields = mapping.map((m) => m.field);
    const hasCore = CORE[entity].every((any) => any.some((f) => fields.includes(f)));
    const refs = REFERENCE_FIELDS[entity];
    let score = 0;
    if (hasCore) {
      for (const f of fields) score += refs.includes(f) ? 0.5 : 1;
      if (NAMES[entity].test(sheetName)) score += 3;
    }
    out.push({ entity, score, fields });
  }
  return out.sort((a, b) => b.score - a.score);
}

/** The entity a sheet most likely holds, or null when none fits. */
export function guessEntity(headers: string[], sheetName = ''): EntityGuess | null {
  const best = scoreEntities(headers, sheetName)[0];
  return best && best.score > 0 ? best : null;
}

/**
 * Why a sheet does not belong to a source of `entity` read without a sheet name, or null when
 * it may: it fits another entity better (a 回款 sheet beside the 商机 sheet). A sheet that fits
 * nothing is left to the source (its rows are checked as usual).
 */
export function sheetMismatch(entity: EntityName, headers: string[], sheetName = ''): string | null {
  return sheetMismatchWhy(entity, headers, sheetName)?.text ?? null;
}

/** `sheetMismatch` as a coded warning (`sheet_looks_like`), for a screen to say in its language. */
export function sheetMismatchWhy(entity: EntityName, headers: string[], sheetName = ''): Warning | null {
  const scores = scoreEntities(headers, sheetName);
  const mine = scores.find((s) => s.entity === entity)!;
  const best = scores[0];
  if (best.entity !== entity && best.score > mine.score) return warning('sheet_looks_like', { entity: best.entity, fields: best.fields.join(', ') });
  return null;
}

/**
 * Summary and pivot sheets (a 数据透视 or 汇总 sheet beside the ledger): totals by owner and
 * stage, not one row per record. Their headers often map a field or two (负责人, a stage name), so
 * without this a workbook read whole would take them for records. The hints are read from the
 * header and the sheet's name only, so the upload page, `cockpit import` and a configured source
 * without `sheet` (connectors/load/sync.ts) decide alike.
 */
const SUMMARY_NAME = /透视|汇总|统计|报表|分析|概览|总览|看板|pivot|summary|report|dashboard|overview|statistic/i;
/** A header that is a total: the 总计 column of a pivot. */
const TOTAL_HEADER = /^(总计|合计|小计|汇总|总额|total|totals|grandtotal|subtotal|sum)$/;
/** Excel's pivot labels (zh and en): 求和项:金额, 计数项:商机编号, 行标签, Sum of Amount, Row Labels. */
const AGGREGATE_HEADER = /^(求和项|计数项|平均值项|最大值项|最小值项|乘积项|行标签|列标签|sumof|countof|averageof|maxof|minof|rowlabels|columnlabels)/;
/** Periods as columns (1月 … 12月, Q1, 一季度, 2025-01): a cross-tab by period. */
const PERIOD_HEADER = /^(\d{1,2}月|q[1-4]|[一二三四]季度|\d{4}(年|-|\/)?\d{1,2}月?|\d{4}年?q[1-4])$/;

/** The entity's own id column: a list of records names each one. */
const OWN_ID: Record<EntityName, string> = {
  opportunities: 'opportunity_id',
  payments: 'payment_id',
  customers: 'customer_id',
  activities: 'activity_id',
  targets: 'target_id',
  users: 'user_id',
  teams: 'team_id'
};

/** Why a sheet looks like a summary: the first hint found (coded, nested in `sheet_summary`). */
export function summaryHints(headers: string[], sheetName: string, stageNames: string[] = []): Warning[] {
  const keys = headers.map((h) => ({ h, k: headerKey(String(h ?? '')).replace(/[（）()]/g, '') }));
  const hints: Warning[] = [];
  const agg = keys.find((x) => AGGREGATE_HEADER.test(x.k));
  if (agg) hints.push(warning('summary_hint_aggregate', { column: agg.h }));
  const stages = new Set(stageNames.map((s) => headerKey(s)));
  const asColumns = keys.filter((x) => stages.has(x.k) || PERIOD_HEADER.test(x.k));
  if (asColumns.length >= 2) hints.push(warning('summary_hint_values', { columns: asColumns.map((x) => x.h).join(', ') }));
  const total = keys.find((x) => TOTAL_HEADER.test(x.k));
  if (total) hints.push(warning('summary_hint_total', { column: total.h }));
  if (SUMMARY_NAME.test(sheetName)) hints.push(warning('summary_hint_name', { name: sheetName }));
  return hints;
}

/**
 * Why a sheet read without a sheet name is a summary rather than `entity`'s records, or null.
 * A sheet with the entity's own id column is never one (a real ledger names its records); a
 * sheet that has the entity's core fields needs two hints from its header (a total column and
 * stages or months as columns, say), so a real deals sheet named 商机汇总 is still read; a sheet
 * without them needs one hint (its name is enough). `mapped`: the fields the source's mapping
 * gives the header (its `columns` included); without it, the automatic mapping.
 */
export function summarySheetWhy(entity: EntityName, headers: string[], sheetName = '', stageNames: string[] = [], mapped?: string[]): Warning | null {
  const hints = summaryHints(headers, sheetName, stageNames);
  if (!hints.length) return null;
  // The fields the source maps (its `columns` too), else those mapped automatically.
  const fields = mapped ?? scoreEntities(headers, sheetName).find((s) => s.entity === entity)!.fields;
  if (fields.includes(OWN_ID[entity])) return null;
  const hasCore = CORE[entity].every((any) => any.some((f) => fields.includes(f)));
  const structural = hints.filter((h) => h.code !== 'summary_hint_name');
  if (hasCore && structural.length < 2) return null;
  const first = hints[0];
  return warning('sheet_summary', { hint: { code: first.code, params: first.params } });
}
