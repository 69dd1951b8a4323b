/**
 * The fields a source can map per entity: the canonical columns (src/lib/schema/tables.ts)
 * plus *reference fields* that describe a related row carried on the same line — the
 * customer's name, industry and region on an opportunity row, an owner's team on a user
 * row. Reference fields create or update those rows (docs/connectors.md, "One row, several
 * entities").
 */
import { TABLES, type EntityName } from '../../src/lib/schema/tables';

export const REFERENCE_FIELDS: Record<EntityName, string[]> = {
  opportunities: ['customer_name', 'customer_industry', 'customer_region', 'customer_phone', 'customer_grade', 'owner_name', 'owner_team'],
  customers: ['owner_name'],
  payments: ['customer_name'],
  activities: ['customer_name', 'owner_name'],
  users: ['team_name', 'team_parent_id'],
  teams: ['parent_name', 'manager_name'],
  targets: ['owner_name', 'team_name']
};

/** Every field a `columns` key may name for an entity (canonical, then reference fields). */
export function mappableFields(entity: EntityName): string[] {
  return [...TABLES[entity].columns.map((c) => c.name).filter((n) => n !== 'attributes'), ...REFERENCE_FIELDS[entity]];
}
