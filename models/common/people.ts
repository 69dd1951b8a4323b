/**
 * Who did something (a follow-up's author, a deal's earlier owner), as the viewer may see it:
 * `users` is the scoped table (models/common/scope.ts), so a person outside the viewer's scope
 * is not in it. Their id and name are then replaced by OUTSIDE_SCOPE (src/lib/people.ts; the
 * screen shows a neutral label), never sent (docs/decisions.md, 2026-12-06).
 */
import { sql, type Sql } from '../../src/lib/server/db/sql';
import { OUTSIDE_SCOPE } from '../../src/lib/people';

/** The name of user `id` (their id when they have no name), OUTSIDE_SCOPE when not visible, NULL when `id` is. */
export function personName(id: Sql): Sql {
  return sql`(CASE WHEN ${id} IS NULL THEN NULL
    WHEN ${id} IN (SELECT user_id FROM users) THEN coalesce((SELECT name FROM users WHERE user_id = ${id}), ${id})
    ELSE ${OUTSIDE_SCOPE} END)`;
}
