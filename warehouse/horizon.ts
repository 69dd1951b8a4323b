/**
 * Comparing a horizon of the derived tables (warehouse/facts.ts `factsHorizon`,
 * `revenueHorizon`) with an instant, for the models that leave out the paths for events after
 * the report date when there can be none.
 */

/**
 * Whether something at `horizon` (a facts or revenue horizon: `YYYY-MM-DD HH:MM:SS.ffffff`, null
 * when there is nothing, undefined when not looked up) may be at or after `instant`
 * (`YYYY-MM-DD`, its midnight). Text order is time order only between four-digit years: a
 * horizon in year 10000 or later, before year 0 or infinite (stored data can hold any of them)
 * counts as reaching every instant, so the paths it would leave out stay in.
 */
export function horizonReaches(horizon: string | null | undefined, instant: string): boolean {
  if (horizon === undefined) return true;
  if (horizon === null) return false;
  if (!/^\d{4}-\d{2}-\d{2}/.test(horizon) || !/^\d{4}-\d{2}-\d{2}$/.test(instant)) return true;
  return horizon >= instant;
}
