/** Options every source has, whatever its type (see connectors/config.ts). No imports from connectors/ here. */
import { z } from 'zod';
import { ENTITIES } from '../src/lib/schema/tables';

/** Region suffixes stripped by default (上海市 → 上海, 浙江省 → 浙江, 广西壮族自治区 → 广西). */
export const DEFAULT_REGION_SUFFIXES = ['壮族自治区', '回族自治区', '维吾尔自治区', '特别行政区', '自治区', '省', '市'];

/** Options every source has, whatever its type. */
export const sharedSourceShape = {
  name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, _ . and -'),
  entity: z.enum(ENTITIES),
  /** Canonical field → source column (a header, or a dotted path into a JSON record). */
  columns: z.record(z.string(), z.string().min(1)).optional(),
  /** Stage name → column holding the date the deal entered that stage (opportunities). */
  stage_dates: z.record(z.string(), z.string().min(1)).optional(),
  /** Suffixes stripped from regions (default DEFAULT_REGION_SUFFIXES); [] keeps regions as given. */
  region_suffixes: z.array(z.string().min(1)).optional(),
  /** Values for fields the source does not have (e.g. `{"currency": "CNY"}`). */
  defaults: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** Prepended to every id of this source (keeps ids of two sources apart). */
  id_prefix: z.string().optional(),
  /** Map source stage names to configured ones (`{"Closed Won": "赢单"}`). */
  stage_map: z.record(z.string(), z.string()).optional(),
  /** Turn automatic mapping by aliases off: only `columns` map. */
  auto_map: z.boolean().optional()
};

