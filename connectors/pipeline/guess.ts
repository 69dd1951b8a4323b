/**
 * Which entity a sheet holds, from its header (and its name): a workbook's 商机 sheet and its
 * 回款 sheet both have 客户名称 and 金额, but only one has 销售阶段. Used to pick the sheets of
 * a workbook imported without `sheet` (docs/connectors.md, "Several sheets") and by the upload
 * page to suggest an entity.
 */
import { ENTITIES, type EntityName } from '../../src/lib/schema/tables';
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
