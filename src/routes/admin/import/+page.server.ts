/**
 * /admin/import — the browser onboarding of a ledger (docs/connectors.md, "Upload in the
 * browser"), for an executive or admin token (open in the local demo). Anyone else gets a 403
 * page that says why.
 */
import { error } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { importAccess } from '$lib/server/ledgers/upload';
import { translator } from '$lib/i18n';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  const a = importAccess(locals);
  if (!a.ok) error(a.status, translator(locals.locale)('ledgers.forbidden'));
  const { config } = await app();
  return { stages: config.stages.map((s) => s.name), sources: config.sources.map((s) => s.name) };
};
