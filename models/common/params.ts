/**
 * Parameters every model shares (metrics.md, common parameters). Values arrive as strings
 * (query string, CLI) or JSON; filters accept one value or several. Unknown parameters are
 * rejected, so a typo (`perid=…`) is a 400, not a silently unfiltered number.
 */
import { z } from 'zod';
import { ALL_FROM, ALL_TO, GRAINS, PERIOD_PRESETS, parseDate } from './period';

/**
 * A date parameter: `YYYY-MM-DD` between ALL_FROM and ALL_TO (1900-01-01 … 2200-01-01), the
 * span `period=all` stands for. Beyond it, periods and comparisons computed from the date run
 * into years of five digits or before year 1, which neither the date helpers nor DuckDB's
 * casts take (`as_of=9999-12-31` used to be a 500).
 */
export const dateString = z.string().superRefine((s, ctx) => {
  try {
    parseDate(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a date YYYY-MM-DD' });
    return;
  }
  if (s < ALL_FROM || s > ALL_TO) ctx.addIssue({ code: 'custom', message: `expected a date between ${ALL_FROM} and ${ALL_TO}, got ${s}` });
});

/** One value or many; always an array after parsing. Empty strings are ignored. */
export const filterList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).map((s) => s.trim()).filter((s) => s.length > 0))
  .pipe(z.array(z.string().max(200)).max(500));

export const FILTERS = ['team', 'owner', 'region', 'industry', 'source', 'product', 'grade'] as const;
export type FilterName = (typeof FILTERS)[number];

export const DIMENSIONS = [
  'team',
  'team_leaf',
  'owner',
  'region',
  'industry',
  'source',
  'product',
  'grade',
  'competitor',
  'stage',
  'month',
  'quarter'
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The shape shared by every model's params. */
export const commonShape = {
  period: z.enum(PERIOD_PRESETS).optional(),
  from: dateString.optional(),
  to: dateString.optional(),
  /** The report date; default today in the configured time zone. */
  as_of: dateString.optional(),
  team: filterList.optional(),
  owner: filterList.optional(),
  region: filterList.optional(),
  industry: filterList.optional(),
  source: filterList.optional(),
  product: filterList.optional(),
  grade: filterList.optional()
};

export const grainParam = z.enum(GRAINS);

/** `group_by` limited to the dimensions a model supports. */
export function groupByParam<const D extends readonly Dimension[]>(dims: D) {
  return z.enum(dims as unknown as [D[number], ...D[number][]]);
}

/**
 * Builds a model's params schema from the common shape plus its own fields, rejecting
 * unknown keys and checking the period fields go together.
 */
export function paramsSchema<S extends z.ZodRawShape>(own: S) {
  return z.strictObject({ ...commonShape, ...own }).superRefine((p, ctx) => {
    const v = p as { period?: string; from?: string; to?: string };
    if ((v.from && !v.to) || (!v.from && v.to)) {
      ctx.addIssue({ code: 'custom', path: [v.from ? 'to' : 'from'], message: 'from and to go together (to is exclusive)' });
    }
    if (v.from && v.to && v.from >= v.to) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `to (${v.to}) must be after from (${v.from}); to is exclusive` });
    }
    if (v.period && v.from) {
      ctx.addIssue({ code: 'custom', path: ['period'], message: 'give either period or from/to, not both' });
    }
  });
}

export type CommonParams = {
  period?: (typeof PERIOD_PRESETS)[number];
  from?: string;
  to?: string;
  as_of?: string;
} & Partial<Record<FilterName, string[]>>;

/**
 * Raw input (URLSearchParams or `key=value` pairs) → a plain object: a repeated key becomes an
 * array, a single one a string.
 */
export function paramsFromEntries(entries: Iterable<[string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of entries) {
    const cur = out[k];
    if (cur === undefined) out[k] = v;
    else if (Array.isArray(cur)) cur.push(v);
    else out[k] = [cur, v];
  }
  return out;
}
