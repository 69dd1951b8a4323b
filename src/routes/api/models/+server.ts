/** GET /api/models — the catalog: each model's name, title, definition and params (JSON Schema). */
import { json, type RequestHandler } from '@sveltejs/kit';
import { z } from 'zod';
import { catalog } from '../../../../models/index';

export const GET: RequestHandler = async ({ locals }) => {
  if (!locals.scope) return json({ error: 'unauthorized: a token is required' }, { status: 401 });
  const models = Object.values(catalog).map((m) => ({
    name: m.name,
    title: m.title,
    definition: m.definition,
    default_period: m.defaultPeriod,
    params: z.toJSONSchema(m.params, { io: 'input', unrepresentable: 'any' })
  }));
  return json({ models });
};
