/**
 * Row fields several listing models share, so a deal's identity reads the same in every table
 * (deals, stalled deals, pipeline-flow deals) and is declared once.
 */
import { z } from 'zod';

/** A deal and who it belongs to: the first columns of every deal listing. */
export const dealIdentityShape = {
  opportunity_id: z.string(),
  name: z.string().nullable(),
  customer_id: z.string().nullable(),
  customer_name: z.string().nullable(),
  owner_id: z.string().nullable(),
  owner_name: z.string().nullable()
};
