/**
 * `cockpit.config.json`, as a zod schema. Unknown keys are errors (a typo must not be
 * silently ignored), and the loader turns every issue into `path: message` with a suggestion.
 * Connector-specific source options are added by connectors/ (see `sourceSchema`).
 */
import { z } from 'zod';
import { ENTITIES, type EntityName } from '../../schema/tables';
import { sourceUnionSchema } from '../../../../connectors/config';
import { mappableFields } from '../../../../connectors/pipeline/fields';
import { closest } from './suggest';
import { alertsSchema, ALERTS_DEFAULT } from '../alerts/config';

export const FORECAST_CATEGORIES = ['pipeline', 'best_case', 'commit', 'omitted'] as const;

export const stageSchema = z.strictObject({
  name: z.string().min(1),
  probability: z.number().min(0).max(1).optional(),
  outcome: z.enum(['won', 'lost']).optional(),
  forecast_category: z.enum(FORECAST_CATEGORIES).optional(),
  /** Days without a stage change or activity after which an open deal in this stage is stalled. */
  stalled_after_days: z.number().int().positive().optional()
});
export type StageConfig = z.infer<typeof stageSchema>;

export const DEFAULT_STAGES: StageConfig[] = [
  { name: '初步接洽', probability: 0.1, forecast_category: 'pipeline' },
  { name: '需求分析', probability: 0.25, forecast_category: 'pipeline' },
  { name: '方案报价', probability: 0.5, forecast_category: 'best_case' },
  { name: '商务谈判', probability: 0.75, forecast_category: 'commit' },
  { name: '赢单', outcome: 'won', probability: 1, forecast_category: 'commit' },
  { name: '输单', outcome: 'lost', probability: 0, forecast_category: 'omitted' }
];

/** Column mapping: canonical field → source column. Keys are checked against the entity. */
const columnsSchema = z.record(z.string(), z.string().min(1));

export const SOURCE_TYPES = ['excel', 'csv', 'rest', 'postgres', 'mysql'] as const;

/**
 * The fields every source has (name, type, entity, columns); each source type adds its own
 * options (connectors/config.ts registers one schema per type: excel, csv, rest, postgres, mysql).
 */
export const sourceBaseSchema = z.object({
  name: z.string().min(1).regex(/^[\p{L}\p{N}_.-]+$/u, 'use letters (Chinese too), digits, _ . and -'),
  type: z.enum(SOURCE_TYPES),
  entity: z.enum(ENTITIES),
  columns: columnsSchema.optional()
});

function checkColumns(
  source: { entity: EntityName; columns?: Record<string, string> },
  ctx: z.RefinementCtx,
  path: (string | number)[] = ['columns']
) {
  if (!source.columns) return;
  const fields = mappableFields(source.entity);
  for (const key of Object.keys(source.columns)) {
    if (fields.includes(key)) continue;
    const hint = closest(key, fields);
    ctx.addIssue({
      code: 'custom',
      path: [...path, key],
      message: `unknown field "${key}" for ${source.entity}${hint ? `; did you mean "${hint}"?` : ''} (fields: ${fields.join(', ')})`
    });
  }
}

/**
 * A source: checked by the schema its `type` selects (connectors/config.ts). Its `columns`
 * are checked against the entity even when other options are wrong, so every problem is
 * reported at once.
 */
export const sourceSchema = z.any().transform((raw, ctx) => {
  const entity = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).entity : undefined;
  const columns = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).columns : undefined;
  if ((ENTITIES as readonly unknown[]).includes(entity) && columns && typeof columns === 'object') {
    checkColumns({ entity: entity as EntityName, columns: columns as Record<string, string> }, ctx);
  }
  const r = sourceUnionSchema.safeParse(raw);
  if (r.success) return r.data;
  const type = (raw as Record<string, unknown> | null)?.type;
  const option = sourceUnionSchema.options.find((o) => o.shape.type.value === type);
  const known = option ? Object.keys(option.shape) : [];
  for (const issue of r.error.issues) {
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      for (const key of issue.keys) {
        const hint = closest(key, known);
        ctx.addIssue({ code: 'custom', path: [key], message: `unknown field "${key}"${hint ? `; did you mean "${hint}"?` : ` (expected one of: ${known.join(', ')})`}` });
      }
    } else if (issue.path[0] === 'columns' && issue.code !== 'invalid_type') {
      continue; // reported by checkColumns
    } else {
      ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.message });
    }
  }
  return z.NEVER;
});

const DURATION = /^(\d+)(s|m|h|d)$/;
export const durationSchema = z
  .string()
  .regex(DURATION, 'expected a duration such as "30s", "15m", "1h" or "1d"');

/** Milliseconds in a duration such as `15m`. */
export function durationMs(d: string): number {
  const m = DURATION.exec(d);
  if (!m) throw new Error(`invalid duration "${d}"`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** A text shown on screen: one string for both languages, or `{ "zh-CN": …, "en": … }`. */
const localizedText = z.union([
  z.string().trim().min(1).max(120),
  z.strictObject({ 'zh-CN': z.string().trim().min(1).max(120), en: z.string().trim().min(1).max(120) })
]);

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    /** The DuckDB file. Relative paths are relative to the config file. */
    database: z.string().min(1).default('data/cockpit.duckdb'),
    /** Reporting currency (ISO 4217). */
    currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO currency code such as "CNY"').default('CNY'),
    /** Exchange rates into the reporting currency, by currency and month (`YYYY-MM`) or `default`. */
    fx: z.record(z.string().regex(/^[A-Z]{3}$/), z.record(z.string(), z.number().positive())).default({}),
    fiscal_year_start_month: z.number().int().min(1).max(12).default(1),
    /** IANA time zone of the business: "today", periods and the report date follow it. */
    timezone: z.string().default('Asia/Shanghai'),
    stalled_after_days: z.number().int().positive().default(15),
    stages: z.array(stageSchema).min(2).default(DEFAULT_STAGES),
    sources: z.array(sourceSchema).default([]),
    sync: z
      .strictObject({
        every: durationSchema.optional(),
        /** Directories outside the config file's own that file sources may read (absolute, or relative to the config file). */
        allow_dirs: z.array(z.string().min(1)).optional()
      })
      .default({}),
    server: z
      .strictObject({
        port: z.number().int().min(1).max(65535).optional(),
        host: z.string().optional(),
        /** Memory for cached model results (MB); 0 turns the cache off (identical calls in flight still share one query). */
        result_cache_mb: z.number().min(0).max(65536).default(64)
      })
      .default({ result_cache_mb: 64 }),
    /**
     * The company on screen (README, Configuration): its name (one string, or per language),
     * a logo file (PNG, JPEG, SVG or WebP, relative to the config file; served at
     * /branding/logo) and the wall screen's page titles. Unset: the demo company's name on a
     * demo database, else the product's.
     */
    branding: z
      .strictObject({
        company: localizedText.optional(),
        logo: z
          .string()
          .min(1)
          .regex(/\.(png|jpe?g|svg|webp)$/i, 'expected a .png, .jpg, .svg or .webp file')
          .optional(),
        wall_titles: z.strictObject({ overview: localizedText.optional(), forecast: localizedText.optional() }).default({})
      })
      .default({ wall_titles: {} }),
    cockpit: z
      .strictObject({
        /** Seconds between cockpit refreshes. */
        refresh_seconds: z.number().int().min(5).default(60),
        /** Minutes after the last sync when the freshness badge turns into a warning. */
        stale_after_minutes: z.number().int().positive().default(24 * 60)
      })
      .default({ refresh_seconds: 60, stale_after_minutes: 1440 }),
    security: z
      .strictObject({
        /** Expected `aud` of every token. */
        audience: z.string().min(1).default('crm-cockpit'),
        /** Expected `iss` of every token. */
        issuer: z.string().min(1).default('crm-cockpit'),
        /** API requests per minute per token (429 with Retry-After beyond it). */
        requests_per_minute: z.number().int().positive().default(600),
        /** Origins allowed to frame /embed pages (CSP frame-ancestors); `'self'` is always allowed. */
        frame_ancestors: z
          .array(z.string().regex(/^https?:\/\/[^/\s;,']+$/, 'expected an origin such as "https://portal.example.com"'))
          .default([]),
        /** How long a renewable session (`renew_until`) may run, counted from its first token's `iat`. */
        max_renew_days: z.number().int().min(1).max(366).default(90)
      })
      .default({ audience: 'crm-cockpit', issuer: 'crm-cockpit', requests_per_minute: 600, frame_ancestors: [], max_renew_days: 90 }),
    demo: z
      .strictObject({
        scale: z.enum(['small', 'medium', 'large', 'xlarge']).default('medium'),
        seed: z.number().int().default(42)
      })
      .default({ scale: 'medium', seed: 42 }),
    /** Alert rules, scheduled reports and their channels (docs/alerts.md). */
    alerts: alertsSchema.default({ ...ALERTS_DEFAULT, channels: {}, rules: [], reports: [] })
  })
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.stages.forEach((s, i) => {
      if (names.has(s.name)) ctx.addIssue({ code: 'custom', path: ['stages', i, 'name'], message: `duplicate stage "${s.name}"` });
      names.add(s.name);
    });
    const won = cfg.stages.filter((s) => s.outcome === 'won');
    if (won.length !== 1) {
      ctx.addIssue({ code: 'custom', path: ['stages'], message: `exactly one stage must have "outcome": "won" (found ${won.length})` });
    }
    if (!cfg.stages.some((s) => !s.outcome)) {
      ctx.addIssue({ code: 'custom', path: ['stages'], message: 'at least one open stage (without "outcome") is needed' });
    }
    const sourceNames = new Set<string>();
    cfg.sources.forEach((s, i) => {
      if (sourceNames.has(s.name)) ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `duplicate source name "${s.name}"` });
      sourceNames.add(s.name);
      const stageNames = cfg.stages.map((st) => st.name);
      for (const stage of Object.keys(s.stage_dates ?? {})) {
        if (stageNames.includes(stage)) continue;
        const hint = closest(stage, stageNames);
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'stage_dates', stage],
          message: `unknown stage "${stage}"${hint ? `; did you mean "${hint}"?` : ''} (stages: ${stageNames.join(', ')})`
        });
      }
      for (const [from, to] of Object.entries(s.stage_map ?? {})) {
        if (stageNames.includes(to)) continue;
        const hint = closest(to, stageNames);
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'stage_map', from],
          message: `unknown stage "${to}"${hint ? `; did you mean "${hint}"?` : ''} (stages: ${stageNames.join(', ')})`
        });
      }
    });
  });

export type CockpitConfig = z.output<typeof configSchema>;
export type SourceConfig = CockpitConfig['sources'][number];
