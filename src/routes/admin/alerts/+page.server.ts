/**
 * /admin/alerts — rules and reports, their last evaluations and the delivery log, for executives
 * (open in the local demo). Anyone else gets a 403 page that says why.
 */
import { error } from '@sveltejs/kit';
import { app } from '$lib/server/app';
import { alertsAccess } from '$lib/server/alerts/access';
import { overview } from '$lib/server/alerts/service';
import { translator } from '$lib/i18n';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals }) => {
  const a = alertsAccess(locals);
  if (!a.ok) error(a.status, translator(locals.locale)('alerts.admin.forbidden'));
  const { db, config } = await app();
  return { overview: await overview(db, config, new Date(), 100) };
};
