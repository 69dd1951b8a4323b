/** Options every source has, whatever its type (see connectors/config.ts). No imports from connectors/ here. */
import { z } from 'zod';
import { ENTITIES } from '../src/lib/schema/tables';
import { unitFactor } from './pipeline/values';

/** Region suffixes stripped by default (上海市 → 上海, 浙江省 → 浙江, 广西壮族自治区 → 广西). */
export const DEFAULT_REGION_SUFFIXES = ['壮族自治区', '回族自治区', '维吾尔自治区', '特别行政区', '自治区', '省', '市'];

/** Source names: letters of any script (华南台账), digits, `_ . -`. */
export const SOURCE_NAME = /^[\p{L}\p{N}_.-]+$/u;

const unitSchema = z.string().refine((u) => unitFactor(u) !== null, { message: 'unknown unit (expected 元, 千元, 万元, 百万, 千万, 亿元)' });
const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');

/** Options every source has, whatever its type. */
export const sharedSourceShape = {
  name: z.string().min(1).max(120).regex(SOURCE_NAME, 'use letters (Chinese too), digits, _ . and -'),
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
  auto_map: z.boolean().optional(),
  /**
   * The unit of amounts that carry none of their own, for every amount column without a unit in
   * its header or a `单位：` line: `元` (default), `千元`, `万元`, `百万`, `亿元`.
   */
  unit: unitSchema.optional(),
  /** Per field or column: `{"amount": "万元"}` or `{"合同额": "万元"}` (wins over headers and `unit`). */
  units: z.record(z.string(), unitSchema).optional(),
  /** How dates with a two-digit year or the year last are read: `ymd` (25/4/15, default), `dmy` (15/4/25), `mdy` (4/15/2025). */
  date_order: z.enum(['ymd', 'dmy', 'mdy']).optional(),
  /** Plausible dates, inclusive (default ["1970-01-01", "2100-12-31"]): others are rejected. */
  date_range: z.tuple([isoDay, isoDay]).optional()
};

