/**
 * PLACEHOLDER (REST connector): the REST helper replaces this file with the real options
 * (base_url, auth, pagination, records path, presets …). Until then extra keys pass through.
 */
import { z } from 'zod';
import { sharedSourceShape } from '../shared-options';

export const restSourceSchema = z.object({ ...sharedSourceShape, type: z.literal('rest') }).passthrough();
