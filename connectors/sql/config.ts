/**
 * PLACEHOLDER (SQL connectors): the SQL helper replaces this file with the real options
 * (url_env, table or query, watermark column …). Until then extra keys pass through.
 */
import { z } from 'zod';
import { sharedSourceShape } from '../shared-options';

export const postgresSourceSchema = z.object({ ...sharedSourceShape, type: z.literal('postgres') }).passthrough();
export const mysqlSourceSchema = z.object({ ...sharedSourceShape, type: z.literal('mysql') }).passthrough();
