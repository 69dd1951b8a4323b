/**
 * `alerts` in cockpit.config.json: rules (a model + parameters + a condition, an audience, a
 * schedule and channels), scheduled reports (a board rendered to PNG plus the key numbers) and
 * the channels they go to. Validated like the rest of the config: unknown keys are errors, and
 * every problem is reported at once with its path (`alerts.rules[1].params.perid: …`), model
 * parameters included (checked against the model's own schema). Secrets are never values here:
 * channels name the environment variables that hold webhook URLs, signing secrets and SMTP URLs.
 * docs/alerts.md is the user's reference.
 */
import { z } from 'zod';
import { catalog } from '../../../../models/index';
import { closest } from '../config/suggest';
// A bad schedule is a config error, not a scheduler crash.
import { cronError } from './cron';

const ENV = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the NAME of an environment variable (e.g. "WECOM_WEBHOOK_URL"), never the secret itself');
const NAME = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'use lower-case letters, digits, - and _');
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time such as "22:00"');
export const LOCALES = ['zh-CN', 'en'] as const;
export type AlertLocale = (typeof LOCALES)[number];

/** Boards and cockpit pages a report can render (src/lib/boards/registry.ts; a test checks they agree). */
export const BOARD_IDS = ['pipeline', 'forecast', 'win-loss', 'customers', 'payments', 'team', 'wall-overview', 'wall-forecast', 'wall-movement'] as const;

export const quietHoursSchema = z.strictObject({
  /** Start of the quiet period (local time in the configured time zone). */
  from: HHMM,
  /** End (exclusive); before `from` means it runs past midnight (22:00 → 08:00). */
  to: HHMM,
  /** Weekdays that are quiet all day (0 = Sunday … 6 = Saturday). */
  days: z.array(z.number().int().min(0).max(6)).max(7).optional()
});
export type QuietHours = z.infer<typeof quietHoursSchema>;

/** Who a channel is for: audience member keys (team or owner ids); absent = everyone. */
const audiences = z.array(z.string().min(1)).min(1).optional();

export const channelSchema = z.discriminatedUnion('type', [
  // 企业微信 group robot: the key is in the webhook URL, no signature.
  z.strictObject({ type: z.literal('wecom'), url_env: ENV, audiences, image: z.boolean().default(true) }),
  // 钉钉 custom robot, "加签" (signature) when secret_env is set.
  z.strictObject({ type: z.literal('dingtalk'), url_env: ENV, secret_env: ENV.optional(), audiences, message: z.enum(['actionCard', 'markdown']).default('actionCard') }),
  // 飞书 / Lark custom bot, "签名校验" when secret_env is set.
  z.strictObject({ type: z.literal('feishu'), url_env: ENV, secret_env: ENV.optional(), audiences }),
  z.strictObject({ type: z.literal('slack'), url_env: ENV, audiences }),
  // Any HTTP endpoint: JSON body, X-Cockpit-Signature when secret_env is set.
  z.strictObject({ type: z.literal('webhook'), url_env: ENV, secret_env: ENV.optional(), audiences, include_image: z.boolean().default(false) }),
  z.strictObject({
    type: z.literal('email'),
    /** smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465 (TLS). */
    smtp_url_env: ENV,
    from: z.string().min(3),
    /** Fixed recipients; absent = each audience member's own address (users.email; a team's manager). */
    to: z.array(z.string().email()).min(1).optional(),
    /** Refuse to send over a connection that did not upgrade to TLS (default true). */
    require_tls: z.boolean().default(true),
    /** A PEM file with the CA that signed the server's certificate (a company CA). */
    ca_file: z.string().min(1).optional(),
    audiences
  })
]);
export type ChannelConfig = z.infer<typeof channelSchema>;
export type ChannelType = ChannelConfig['type'];

const OPS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type Op = (typeof OPS)[number];

/** Picks the rows a condition looks at: `{"measure": "win_rate"}`. */
const rowSelector = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional();

const clause = z.strictObject({ field: z.string().min(1), op: z.enum(OPS), value: z.union([z.number(), z.string(), z.boolean(), z.null()]) });

export const conditionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('threshold'),
    field: z.string().min(1),
    op: z.enum(OPS),
    value: z.number(),
    /** Compare with `value × row[of]` instead of `value` ("forecast < 0.8 × target"). */
    of: z.string().min(1).optional(),
    where: rowSelector
  }),
  z.strictObject({
    type: z.literal('change'),
    field: z.string().min(1),
    /** The last evaluation of this rule for the same audience, or the model's previous period. */
    vs: z.enum(['previous_evaluation', 'previous_period']),
    /** `absolute`: now − before; `relative`: (now − before) / |before|. */
    by: z.enum(['absolute', 'relative']).default('absolute'),
    op: z.enum(OPS),
    value: z.number(),
    where: rowSelector
  }),
  z.strictObject({ type: z.literal('rows'), where: z.array(clause).default([]), min_rows: z.number().int().min(1).default(1) })
]);
export type Condition = z.infer<typeof conditionSchema>;

export const audienceSchema = z
  .strictObject({
    /** executive: the whole company; manager: a team with every team below; rep: one person's own deals. */
    role: z.enum(['executive', 'manager', 'rep']),
    /** manager: the teams (one message each); rep: the reps in these teams' subtrees. */
    teams: z.array(z.string().min(1)).min(1).optional(),
    /** rep: these reps (user ids). */
    owners: z.array(z.string().min(1)).min(1).optional(),
    /** manager: one message per listed team (`none`), per direct child team, or per leaf team below. */
    expand: z.enum(['none', 'children', 'leaves']).default('none')
  })
  .superRefine((a, ctx) => {
    if (a.role === 'manager' && !a.teams) ctx.addIssue({ code: 'custom', path: ['teams'], message: 'a manager audience names its teams, e.g. ["R1", "R2"]' });
    if (a.role !== 'manager' && a.expand !== 'none') ctx.addIssue({ code: 'custom', path: ['expand'], message: 'expand applies to manager audiences' });
    if (a.role === 'executive' && (a.teams || a.owners)) ctx.addIssue({ code: 'custom', path: [a.teams ? 'teams' : 'owners'], message: 'an executive audience sees the whole company; use role "manager" or "rep" to narrow it' });
    if (a.role === 'manager' && a.owners) ctx.addIssue({ code: 'custom', path: ['owners'], message: 'owners applies to rep audiences' });
  });
export type AudienceConfig = z.infer<typeof audienceSchema>;

const localized = z.union([z.string().min(1), z.strictObject({ 'zh-CN': z.string().min(1), en: z.string().min(1) })]);
export type LocalizedText = z.infer<typeof localized>;

/** Where a message's link leads: a board (or cockpit page) and its view (`period=this_month&stalled=true`). */
const linkSchema = z.strictObject({ board: z.enum(BOARD_IDS), view: z.string().max(2000).default('') });

const common = {
  name: NAME,
  title: localized.optional(),
  audience: audienceSchema,
  /** Cron (`m h dom mon dow`, in the configured time zone) or @hourly / @daily / @weekly. */
  schedule: z.string().min(1),
  channels: z.array(z.string().min(1)).min(1),
  locale: z.enum(LOCALES).optional(),
  /** Overrides `alerts.quiet_hours`; `false` sends at any hour. */
  quiet_hours: z.union([quietHoursSchema, z.literal(false)]).optional(),
  enabled: z.boolean().default(true)
};

export const ruleSchema = z.strictObject({
  ...common,
  model: z.string().min(1),
  params: z.record(z.string(), z.unknown()).default({}),
  condition: conditionSchema,
  /** The field that identifies a row (default: opportunity_id, payment_id, group_key, measure …). */
  key: z.string().min(1).optional(),
  /** Fields shown per row in the message (default by model). */
  columns: z.array(z.string().min(1)).max(8).optional(),
  link: linkSchema.optional(),
  /** Send a "recovered" notice when the condition stops holding. */
  recovery: z.boolean().default(true)
});
export type RuleConfig = z.infer<typeof ruleSchema>;

export const reportSchema = z.strictObject({
  ...common,
  board: z.enum(BOARD_IDS),
  /** The board's view as its URL query (`period=this_month&team=R1`); the link opens the same view. */
  view: z.string().max(2000).default(''),
  /** Tiles to draw (default: every chart tile of the board; tables are listed as links). */
  tiles: z.array(z.string().min(1)).optional(),
  /** Key numbers from the kpis model, in this order. */
  kpis: z
    .array(z.enum(['won_amount', 'collected_amount', 'new_customers', 'new_opportunities', 'win_rate', 'weighted_forecast', 'target_attainment', 'overdue_amount']))
    .default(['won_amount', 'weighted_forecast', 'target_attainment', 'win_rate', 'collected_amount', 'overdue_amount'])
});
export type ReportConfig = z.infer<typeof reportSchema>;

export const alertsSchema = z
  .strictObject({
    /** The cockpit's address as recipients reach it: links and chart images point here. */
    public_url: z.url({ protocol: /^https?$/ }).optional(),
    locale: z.enum(LOCALES).default('zh-CN'),
    quiet_hours: quietHoursSchema.optional(),
    /** A font file with CJK glyphs for report images (default: found among the system fonts). */
    font: z.string().min(1).optional(),
    /** Attempts per delivery (429/5xx/network errors are retried with backoff, Retry-After respected). */
    attempts: z.number().int().min(1).max(10).default(4),
    /** The longest Retry-After we wait; a platform asking for more fails the delivery (retried next run). */
    max_retry_after_seconds: z.number().int().min(1).max(3600).default(120),
    channels: z.record(NAME, channelSchema).default({}),
    rules: z.array(ruleSchema).default([]),
    reports: z.array(reportSchema).default([])
  })
  .superRefine((a, ctx) => checkAlerts(a as unknown as Raw, ctx), { when: () => true });
export type AlertsConfig = z.output<typeof alertsSchema>;

export const ALERTS_DEFAULT = { locale: 'zh-CN', attempts: 4, max_retry_after_seconds: 120, channels: {}, rules: [], reports: [] } as const;

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : null);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Checks across keys (channel references, model parameters and fields, schedules, unique
 * names). Runs even when other keys are invalid (`when`), on values that may not have parsed,
 * so every problem is reported in one pass.
 */
function checkAlerts(cfg: Raw, ctx: z.RefinementCtx) {
  const names = new Map<string, string>();
  const channels = obj(cfg.channels) ?? {};
  const channelNames = Object.keys(channels);
  const checkCommon = (kind: 'rules' | 'reports', i: number, r: Raw) => {
    if (typeof r.name === 'string') {
      const seen = names.get(r.name);
      if (seen) ctx.addIssue({ code: 'custom', path: [kind, i, 'name'], message: `duplicate name "${r.name}" (also ${seen}); rules and reports share one namespace` });
      names.set(r.name, `${kind}[${i}]`);
    }
    list(r.channels).forEach((c, j) => {
      if (typeof c !== 'string' || Object.hasOwn(channels, c)) return;
      const hint = closest(c, channelNames);
      ctx.addIssue({ code: 'custom', path: [kind, i, 'channels', j], message: `unknown channel "${c}"${hint ? `; did you mean "${hint}"?` : ''} (channels: ${channelNames.join(', ') || 'none defined in alerts.channels'})` });
    });
    const err = typeof r.schedule === 'string' ? cronError(r.schedule) : null;
    if (err) ctx.addIssue({ code: 'custom', path: [kind, i, 'schedule'], message: err });
  };
  list(cfg.rules).forEach((raw, i) => {
    const r = obj(raw);
    if (!r) return;
    checkCommon('rules', i, r);
    if (typeof r.model !== 'string') return;
    if (!Object.hasOwn(catalog, r.model)) {
      const hint = closest(r.model, Object.keys(catalog));
      ctx.addIssue({ code: 'custom', path: ['rules', i, 'model'], message: `unknown model "${r.model}"${hint ? `; did you mean "${hint}"?` : ''} (models: ${Object.keys(catalog).join(', ')})` });
      return;
    }
    const model = catalog[r.model as keyof typeof catalog];
    const parsed = (model.params as z.ZodType).safeParse(r.params ?? {});
    if (!parsed.success) {
      const def = (model.params as unknown as { _zod: { def: { in?: { shape?: object }; shape?: object } } })._zod.def;
      const known = Object.keys(def.shape ?? def.in?.shape ?? {});
      for (const issue of parsed.error.issues) {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [null];
        for (const k of keys) {
          const hint = k ? closest(k, known) : null;
          ctx.addIssue({
            code: 'custom',
            path: ['rules', i, 'params', ...(issue.path as (string | number)[]), ...(k ? [k] : [])],
            message: k ? `unknown parameter "${k}" of ${r.model}${hint ? `; did you mean "${hint}"?` : ''}` : issue.message
          });
        }
      }
    }
    // Union row schemas (one per view) have no single shape: only plain objects are checked.
    const rowKeys = Object.keys((model.row as unknown as { shape?: object }).shape ?? {});
    if (!rowKeys.length) return;
    const fields: [unknown, (string | number)[]][] = [];
    const c = obj(r.condition) ?? {};
    list(c.where).forEach((w, j) => fields.push([obj(w)?.field, ['condition', 'where', j, 'field']]));
    if (obj(c.where)) for (const k of Object.keys(obj(c.where)!)) fields.push([k, ['condition', 'where', k]]);
    fields.push([c.field, ['condition', 'field']], [c.of, ['condition', 'of']], [r.key, ['key']]);
    list(r.columns).forEach((f, j) => fields.push([f, ['columns', j]]));
    for (const [f, path] of fields) {
      if (typeof f !== 'string' || rowKeys.includes(f)) continue;
      const hint = closest(f, rowKeys);
      ctx.addIssue({ code: 'custom', path: ['rules', i, ...path], message: `${r.model} rows have no field "${f}"${hint ? `; did you mean "${hint}"?` : ''} (fields: ${rowKeys.join(', ')})` });
    }
  });
  list(cfg.reports).forEach((raw, i) => {
    const r = obj(raw);
    if (r) checkCommon('reports', i, r);
  });
}
