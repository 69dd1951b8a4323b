/** Who may see and run alerts over HTTP: an executive token, or anyone in the open local demo. */
export function alertsAccess(locals: App.Locals): { ok: true } | { ok: false; status: 401 | 403; error: string } {
  if (locals.demoMode) return { ok: true };
  if (!locals.viewer) return { ok: false, status: 401, error: 'unauthorized: a token is required' };
  if (locals.viewer.role !== 'executive') return { ok: false, status: 403, error: 'forbidden: only an executive token may see or run alerts' };
  return { ok: true };
}
