/**
 * Running a rule or a report: for each audience member, run the model through the model runner
 * under that member's scope, evaluate the condition, and tell each channel what it has not been
 * told yet. The state per (rule, member, channel) is the de-duplication key: the same breaching
 * rows are never sent twice; a new set is a new alert; an empty set after a firing one is a
 * recovery (a notice when the rule asks for it); a breach after that fires again. Deliveries
 * inside quiet hours are deferred (logged, state untouched) and go out at the end of them.
 * The clock is injected (`now`), so tests drive time without sleeping.
 */
import { formatChange } from '../../format';
import { translator, type Locale, type MessageKey } from '../../i18n';
import type { CockpitConfig } from '../config/schema';
import type { Database } from '../db/database';
import { runModel, type ModelResult } from '../models/run';
import { resolveAudience, type Member } from './audience';
import { prepare, secretsFor, type Prepared } from './channels';
import type { ChannelConfig, ReportConfig, RuleConfig } from './config';
import { evaluate, keyFieldOf, rowId, stateKey, type Hit } from './condition';
import { isQuiet, quietEnd } from './cron';
import { boardLink, describeCondition, firingSummary, formatField, hitTable, MODEL_BOARD, text, viewFromParams, type Message, type MessageImage } from './message';
import { sendHttp, sendMail, redactorFor, type SendResult } from './send';
import * as store from './store';

export interface EngineOptions {
  db: Database;
  config: CockpitConfig;
  now?: () => Date;
  env?: NodeJS.ProcessEnv;
  /** Evaluate and build the payloads, send and record nothing. */
  dryRun?: boolean;
  /** Send even inside quiet hours (a person running `cockpit alerts run --now`). */
  ignoreQuiet?: boolean;
  trigger?: string;
  /** The schedule slot a scheduled report run belongs to (its de-duplication key). */
  slot?: Date;
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
  random?: () => number;
  log?: (m: string) => void;
  /** Only these audience members (keys): `cockpit alerts test <rule> --member U006`. */
  members?: string[];
}

export interface DeliveryOutcome {
  channel: string;
  type: ChannelConfig['type'];
  kind: 'alert' | 'recovery' | 'report';
  /** sent | failed | deferred | duplicate (already told) | dry-run */
  status: string;
  attempts: number;
  error: string | null;
  prepared?: Prepared;
}

export interface MemberOutcome {
  member: Member;
  status: 'firing' | 'ok' | 'error' | 'report';
  stateKey: string;
  summary: string;
  hits: Hit[];
  message: Message | null;
  deliveries: DeliveryOutcome[];
  error: string | null;
}

export interface RunOutcome {
  name: string;
  kind: 'rule' | 'report';
  members: MemberOutcome[];
  /** Problems with the item itself (an unknown team in the audience …). */
  warnings: string[];
}

/** Minimum spacing between posts to one robot (WeCom and DingTalk: 20 per minute; Feishu 5/s; Slack ~1/s). */
const PACE_MS: Record<string, number> = { wecom: 3100, dingtalk: 3100, feishu: 250, slack: 1000, webhook: 0, email: 0 };

export function quietFor(config: CockpitConfig, item: RuleConfig | ReportConfig) {
  return item.quiet_hours === false ? null : (item.quiet_hours ?? config.alerts.quiet_hours ?? null);
}

function localeOf(config: CockpitConfig, item: RuleConfig | ReportConfig): Locale {
  return item.locale ?? config.alerts.locale;
}

const heading = (item: RuleConfig | ReportConfig, locale: Locale) => text(item.title, locale, item.name);

function titleFor(kind: Message['kind'], head: string, who: string, locale: Locale) {
  const t = translator(locale);
  const k = t(`alerts.kind.${kind}` as MessageKey);
  return locale === 'zh-CN' ? `【${k}】${head} · ${who}` : `[${k}] ${head} · ${who}`;
}

class Sender {
  private last = new Map<string, number>();
  /** Channels that failed every attempt in this run: later members get one attempt, not a new round of backoff. */
  private broken = new Set<string>();
  constructor(private o: EngineOptions) {}

  private async pace(channel: string, type: string) {
    const gap = PACE_MS[type] ?? 0;
    const prev = this.last.get(channel);
    const now = (this.o.now ?? (() => new Date()))().getTime();
    if (prev !== undefined && gap > 0 && now - prev < gap) await (this.o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(gap - (now - prev));
    this.last.set(channel, (this.o.now ?? (() => new Date()))().getTime());
  }

  async send(name: string, c: ChannelConfig, p: Prepared, secrets: ReturnType<typeof secretsFor>): Promise<SendResult & { recipients: string | null }> {
    const redactor = redactorFor(secrets.url, secrets.secret, secrets.smtpUrl);
    const common = { attempts: this.broken.has(name) ? 1 : this.o.config.alerts.attempts, sleep: this.o.sleep, random: this.o.random, redactor };
    if (p.kind === 'mail') {
      const r = await sendMail(p.smtpUrl, p.mail, { ...common, requireTls: c.type === 'email' ? c.require_tls : true, caFile: c.type === 'email' ? c.ca_file : undefined });
      if (!r.ok && r.attempts > 1) this.broken.add(name);
      return { ...r, recipients: p.mail.to.join(', ') || null };
    }
    let total = 0;
    let last: SendResult = { ok: true, attempts: 0, status: null, error: null, waits: [] };
    for (const req of p.requests) {
      await this.pace(name, c.type);
      last = await sendHttp(req, { ...common, maxRetryAfterS: this.o.config.alerts.max_retry_after_seconds, fetch: this.o.fetch });
      total += last.attempts;
      if (!last.ok) {
        if (last.attempts > 1) this.broken.add(name);
        break;
      }
    }
    return { ...last, attempts: total, recipients: null };
  }
}

function channelsFor(config: CockpitConfig, item: RuleConfig | ReportConfig, member: Member): [string, ChannelConfig][] {
  return item.channels.map((n) => [n, config.alerts.channels[n]] as [string, ChannelConfig]).filter(([, c]) => c && (!c.audiences || c.audiences.includes(member.key)));
}

/**
 * Delivers (or, in a dry run, prepares) one message on every channel of a member that needs it.
 * `decide(channel)` says what the channel needs: a kind to send, or null (already told).
 */
async function deliver(
  o: EngineOptions,
  sender: Sender,
  item: RuleConfig | ReportConfig,
  member: Member,
  evaluationId: string,
  key: string,
  decide: (channel: string) => { kind: Message['kind']; firing: boolean; message: Message } | { silent: true; firing: boolean } | 'duplicate' | 'nothing'
): Promise<DeliveryOutcome[]> {
  const now = (o.now ?? (() => new Date()))();
  const env = o.env ?? process.env;
  const quiet = !o.ignoreQuiet && isQuiet(now, quietFor(o.config, item), o.config.timezone);
  const out: DeliveryOutcome[] = [];
  for (const [name, c] of channelsFor(o.config, item, member)) {
    const d = decide(name);
    if (d === 'nothing') continue;
    if (d === 'duplicate') {
      out.push({ channel: name, type: c.type, kind: 'alert', status: 'duplicate', attempts: 0, error: null });
      continue;
    }
    if ('silent' in d) {
      if (!o.dryRun) await store.setState(o.db, item.name, member.key, name, key, d.firing, now);
      continue;
    }
    const deliveryId = store.newId('dl');
    let secrets: ReturnType<typeof secretsFor>;
    let prepared: Prepared;
    try {
      secrets = secretsFor(name, c, env);
      prepared = prepare(name, c, d.message, member, secrets, now, deliveryId);
    } catch (e) {
      const error = (e as Error).message;
      out.push({ channel: name, type: c.type, kind: d.kind, status: 'failed', attempts: 0, error });
      if (!o.dryRun) await store.recordDelivery(o.db, { delivery_id: deliveryId, evaluation_id: evaluationId, rule: item.name, audience: member.key, channel: name, channel_type: c.type, kind: d.kind, state_key: key, status: 'failed', attempts: 0, http_status: null, error, recipients: null, created_at: now, sent_at: null }, null);
      continue;
    }
    if (o.dryRun) {
      out.push({ channel: name, type: c.type, kind: d.kind, status: quiet ? 'dry-run (quiet hours: would be deferred)' : 'dry-run', attempts: 0, error: null, prepared });
      continue;
    }
    if (quiet) {
      out.push({ channel: name, type: c.type, kind: d.kind, status: 'deferred', attempts: 0, error: null });
      await store.recordDelivery(o.db, { delivery_id: deliveryId, evaluation_id: evaluationId, rule: item.name, audience: member.key, channel: name, channel_type: c.type, kind: d.kind, state_key: key, status: 'deferred', attempts: 0, http_status: null, error: `quiet hours until ${quietEnd(now, quietFor(o.config, item), o.config.timezone).toISOString()}`, recipients: null, created_at: now, sent_at: null }, null);
      continue;
    }
    const r = await sender.send(name, c, prepared, secrets);
    const sentAt = (o.now ?? (() => new Date()))();
    out.push({ channel: name, type: c.type, kind: d.kind, status: r.ok ? 'sent' : 'failed', attempts: r.attempts, error: r.error });
    await store.recordDelivery(
      o.db,
      { delivery_id: deliveryId, evaluation_id: evaluationId, rule: item.name, audience: member.key, channel: name, channel_type: c.type, kind: d.kind, state_key: key, status: r.ok ? 'sent' : 'failed', attempts: r.attempts, http_status: r.status, error: r.error, recipients: r.recipients, created_at: now, sent_at: r.ok ? sentAt : null },
      r.ok ? { firing: d.firing } : null
    );
    o.log?.(`${item.name} → ${member.key} via ${name}: ${r.ok ? 'sent' : `failed: ${r.error}`}`);
  }
  return out;
}

/** What every run starts with: the time, the language, the audience members and a sender. */
async function begin(o: EngineOptions, item: RuleConfig | ReportConfig) {
  const now = (o.now ?? (() => new Date()))();
  const locale = localeOf(o.config, item);
  const t = translator(locale);
  const { members: all, unknown } = await resolveAudience(o.db, item.audience, t('alerts.company'));
  return {
    now,
    locale,
    t,
    currency: o.config.currency,
    members: o.members ? all.filter((m) => o.members!.includes(m.key)) : all,
    warnings: unknown.map((u) => `audience: no team or user "${u}"`),
    sender: new Sender(o)
  };
}

/** Runs one rule for every member of its audience. */
export async function runRule(o: EngineOptions, rule: RuleConfig): Promise<RunOutcome> {
  const { now, locale, t, currency, members, warnings, sender } = await begin(o, rule);
  const outcomes: MemberOutcome[] = [];
  for (const member of members) {
    const evaluationId = store.newId('ev');
    let result: ModelResult;
    let previous: Record<string, number | null> | null = null;
    const last = (o.dryRun ? null : ((await store.lastDetail(o.db, rule.name, member.key)) as { values?: Record<string, number | null>; ids?: string[] } | null)) ?? null;
    try {
      result = await runModel(o.db, o.config, rule.model, rule.params, member.scope, now);
      const cond = rule.condition;
      if (cond.type === 'change') {
        if (cond.vs === 'previous_evaluation') previous = last?.values ?? null;
        else {
          if (!result.previous_period) throw new Error(`${rule.model} has no previous period for these parameters`);
          const { period: _p, from: _f, to: _t, ...rest } = rule.params as Record<string, unknown>;
          const prev = await runModel(o.db, o.config, rule.model, { ...rest, from: result.previous_period.from, to: result.previous_period.to }, member.scope, now);
          const k = keyFieldOf(prev.rows, rule.key);
          previous = Object.fromEntries(prev.rows.map((row, i) => [rowId(row, k, i), typeof row[cond.field] === 'number' ? (row[cond.field] as number) : null]));
        }
      }
    } catch (e) {
      const error = (e as Error).message;
      if (!o.dryRun) {
        await store.recordEvaluation(o.db, { evaluation_id: evaluationId, rule: rule.name, kind: 'rule', audience: member.key, audience_label: member.label, evaluated_at: now, as_of: null, trigger: o.trigger ?? 'manual', status: 'error', state_key: 'error', hits: 0, summary: null, detail: null, error });
      }
      outcomes.push({ member, status: 'error', stateKey: 'error', summary: error, hits: [], message: null, deliveries: [], error });
      continue;
    }
    const keyField = keyFieldOf(result.rows, rule.key);
    const ev = evaluate(rule.condition, result.rows, keyField, previous);
    const key = stateKey(rule.name, member.key, ev.hits);
    const firing = ev.hits.length > 0;
    const before = new Set(last?.ids ?? []);
    const fresh = new Set(last ? ev.hits.map((h) => h.id).filter((id) => !before.has(id)) : []);
    const cond = describeCondition(rule.condition, locale, currency);
    const summary = firing ? firingSummary(rule, ev.hits, ev.considered, locale, currency) : t('alerts.ok_summary', { condition: cond });
    const board = rule.link?.board ?? MODEL_BOARD[rule.model] ?? 'pipeline';
    const view = rule.link ? rule.link.view : viewFromParams(rule.params);
    const url = boardLink(o.config.alerts.public_url, board, view, member.view, locale);
    const data = {
      rule: rule.name,
      audience_key: member.key,
      state: firing ? 'firing' : 'ok',
      state_key: key,
      as_of: result.as_of,
      evaluated_at: now.toISOString(),
      model: rule.model,
      params: result.params,
      condition: rule.condition,
      hits: ev.hits.map((h) => ({ id: h.id, value: h.value, compared_with: h.before ?? h.limit, row: h.row }))
    };
    const makeMessage = (kind: 'alert' | 'recovery'): Message => ({
      kind,
      locale,
      title: titleFor(kind, heading(rule, locale), member.label, locale),
      heading: heading(rule, locale),
      audience: `${member.label} · ${t('alerts.as_of', { date: result.as_of })}`,
      summary: kind === 'recovery' ? t('alerts.recovered_summary', { condition: cond }) : fresh.size && fresh.size < ev.hits.length ? `${summary}${locale === 'zh-CN' ? '；' : '; '}${t('alerts.new_since', { n: fresh.size })}` : summary,
      facts: [],
      table: kind === 'alert' ? hitTable(rule, ev.hits, fresh, locale, currency) : null,
      link: url ? { url, label: t('alerts.open_board') } : null,
      image: null,
      footer: t('alerts.footer', { rule: rule.name }),
      data: { ...data, event_kind: kind }
    });
    const message = firing ? makeMessage('alert') : null;
    if (!o.dryRun) {
      await store.recordEvaluation(o.db, {
        evaluation_id: evaluationId,
        rule: rule.name,
        kind: 'rule',
        audience: member.key,
        audience_label: member.label,
        evaluated_at: now,
        as_of: result.as_of,
        trigger: o.trigger ?? 'manual',
        status: firing ? 'firing' : 'ok',
        state_key: key,
        hits: ev.hits.length,
        summary,
        detail: { values: ev.values, ids: ev.hits.map((h) => h.id) },
        error: null
      });
    }
    const states = o.dryRun ? new Map<string, store.StateRecord>() : await store.statesFor(o.db, rule.name, member.key);
    const deliveries = await deliver(o, sender, rule, member, evaluationId, key, (channel) => {
      const st = states.get(channel);
      if (firing) return st?.state_key === key ? 'duplicate' : { kind: 'alert', firing: true, message: message! };
      if (!st?.firing) return 'nothing';
      return rule.recovery ? { kind: 'recovery', firing: false, message: makeMessage('recovery') } : { silent: true, firing: false };
    });
    outcomes.push({ member, status: firing ? 'firing' : 'ok', stateKey: key, summary, hits: ev.hits, message: message, deliveries, error: null });
  }
  return { name: rule.name, kind: 'rule', members: outcomes, warnings };
}

/** Runs one scheduled report for every member of its audience. */
export async function runReport(o: EngineOptions, report: ReportConfig): Promise<RunOutcome> {
  const { now, locale, t, currency, members, warnings, sender } = await begin(o, report);
  const { renderBoard } = await import('./render/board');
  const { reportKpis } = await import('./report');
  const outcomes: MemberOutcome[] = [];
  const key = o.slot ? `report:${o.slot.toISOString().slice(0, 16)}` : `report:${o.trigger ?? 'manual'}:${now.toISOString()}`;
  for (const member of members) {
    const evaluationId = store.newId('ev');
    let image: MessageImage | null = null;
    const problems: string[] = [];
    let kpi: Awaited<ReturnType<typeof reportKpis>>;
    try {
      kpi = await reportKpis(o.db, o.config, report, member, now);
    } catch (e) {
      const error = (e as Error).message;
      if (!o.dryRun) await store.recordEvaluation(o.db, { evaluation_id: evaluationId, rule: report.name, kind: 'report', audience: member.key, audience_label: member.label, evaluated_at: now, as_of: null, trigger: o.trigger ?? 'manual', status: 'error', state_key: 'error', hits: 0, summary: null, detail: null, error });
      outcomes.push({ member, status: 'error', stateKey: 'error', summary: error, hits: [], message: null, deliveries: [], error });
      continue;
    }
    try {
      const pic = await renderBoard(o.db, o.config, { board: report.board, view: report.view, scope: member.scope, member: member.view, audienceLabel: member.label, locale, now, tiles: report.tiles });
      problems.push(...pic.problems);
      if (!pic.font.cjk && locale === 'zh-CN') problems.push(t('alerts.no_cjk_font'));
      let url: string | null = null;
      if (o.config.alerts.public_url && !o.dryRun) {
        const id = await store.saveImage(o.db, pic.png, now);
        url = `${o.config.alerts.public_url.replace(/\/+$/, '')}/alerts/image/${id}.png`;
      }
      image = { png: pic.png, url, alt: t('alerts.chart_alt', { board: pic.title }), width: pic.width, height: pic.height };
    } catch (e) {
      problems.push(`image: ${(e as Error).message}`);
    }
    const link = boardLink(o.config.alerts.public_url, report.board, report.view, member.view, locale);
    const summary = kpi.periodText;
    const message: Message = {
      kind: 'report',
      locale,
      title: titleFor('report', heading(report, locale), member.label, locale),
      heading: heading(report, locale),
      audience: `${member.label} · ${t('alerts.as_of', { date: kpi.asOf })}`,
      summary,
      facts: kpi.facts,
      table: null,
      link: link ? { url: link, label: t('alerts.open_report') } : null,
      image,
      footer: t('alerts.footer_report', { report: report.name }),
      data: { report: report.name, audience_key: member.key, as_of: kpi.asOf, evaluated_at: now.toISOString(), board: report.board, view: report.view, kpis: kpi.values, image_problems: problems }
    };
    if (!o.dryRun) {
      await store.recordEvaluation(o.db, { evaluation_id: evaluationId, rule: report.name, kind: 'report', audience: member.key, audience_label: member.label, evaluated_at: now, as_of: kpi.asOf, trigger: o.trigger ?? 'manual', status: 'report', state_key: key, hits: 0, summary, detail: { kpis: kpi.values, problems }, error: problems.length ? problems.join('; ') : null });
    }
    const states = o.dryRun ? new Map<string, store.StateRecord>() : await store.statesFor(o.db, report.name, member.key);
    const deliveries = await deliver(o, sender, report, member, evaluationId, key, (channel) => (states.get(channel)?.state_key === key ? 'duplicate' : { kind: 'report', firing: false, message }));
    outcomes.push({ member, status: 'report', stateKey: key, summary, hits: [], message, deliveries, error: problems.length ? problems.join('; ') : null });
  }
  return { name: report.name, kind: 'report', members: outcomes, warnings };
}

/** A rule or report by name. */
export function findItem(config: CockpitConfig, name: string): { kind: 'rule'; item: RuleConfig } | { kind: 'report'; item: ReportConfig } | null {
  const rule = config.alerts.rules.find((r) => r.name === name);
  if (rule) return { kind: 'rule', item: rule };
  const report = config.alerts.reports.find((r) => r.name === name);
  return report ? { kind: 'report', item: report } : null;
}

export function runItem(o: EngineOptions, name: string): Promise<RunOutcome> {
  const found = findItem(o.config, name);
  if (!found) throw new Error(`no rule or report named "${name}"`);
  return found.kind === 'rule' ? runRule(o, found.item) : runReport(o, found.item);
}

/** A KPI fact line for reports: value and change in the report's locale. */
export function kpiFact(row: Record<string, unknown>, locale: Locale, currency: string) {
  const t = translator(locale);
  const measure = String(row.measure);
  const value = formatField('value', row.value, row, locale, currency);
  const change = typeof row.change === 'number' ? formatChange(row.change, row.change_kind === 'points' ? 'points' : 'relative', locale) : null;
  return { label: t(`kpi.${measure}` as MessageKey), value, note: change ? (locale === 'zh-CN' ? `较上期 ${change}` : `${change} vs previous`) : null };
}
