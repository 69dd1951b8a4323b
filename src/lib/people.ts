/**
 * A person the viewer may not see (docs/decisions.md, 2026-12-06 "An author outside the
 * viewer's scope"): where a model names who wrote a follow-up or who owned a deal before, and
 * that person is outside the viewer's row-level scope, the API sends this marker instead of
 * their id or name, and the screen shows a neutral label (`people.outside_scope`).
 */
export const OUTSIDE_SCOPE = '~outside_scope';

/** A person's name as the screen shows it: the neutral label for the marker, else the value. */
export function personLabel(v: unknown, t: (key: 'people.outside_scope') => string): string | null {
  if (v === OUTSIDE_SCOPE) return t('people.outside_scope');
  return v === null || v === undefined ? null : String(v);
}
