/**
 * What the CLI, the HTTP API and the admin page ask of alerts: the rules with their next runs and
 * last evaluations, the delivery log, a dry run (what would be sent, per member and channel,
 * secrets masked) and a run now. Plain JSON in and out, so `cockpit alerts` can ask a running
 * server (which holds the database file) exactly what it would otherwise compute itself.
 */
import type { CockpitConfig } from '../config/schema';
import type { Database } from '../db/database';
import { nextRun } from './cron';
import { findItem, runItem, type RunOutcome } from './engine';
import type { ChannelConfig } from './config';
import { redactorFor } from './send';
import * as store from './store';

export interface ItemInfo {
  name: string;
  kind: 'rule' | 'report';
  enabled: boolean;
  source: string;
  audience: string;
  schedule: string;
  next_run: string | null;
  channels: string[];
}

export function items(config: CockpitConfig, now: Date): ItemInfo[] {
  const aud = (a: { role: string; teams?: string[]; owners?: string[]; expand: string }) =>
    [a.role, a.teams ? `teams ${a.teams.join(',')}` : null, a.owners ? `owners ${a.owners.join(',')}` : null, a.expand !== 'none' ? `each ${a.expand === 'children' ? 'child team' : 'leaf team'}` : null].filter(Boolean).join(' · ');
  const next = (s: string, enabled: boolean) => (enabled ? (nextRun(s, now, config.timezone)?.toISOString() ?? null) : null);
  return [
    ...config.alerts.rules.map((r): ItemInfo => ({ name: r.name, kind: 'rule', enabled: r.enabled, source: r.model, audience: aud(r.audience), schedule: r.schedule, next_run: next(r.schedule, r.enabled), channels: r.channels })),
    ...config.alerts.reports.map((r): ItemInfo => ({ name: r.name, kind: 'report', enabled: r.enabled, source: `board ${r.board}`, audience: aud(r.audience), schedule: r.schedule, next_run: next(r.schedule, r.enabled), channels: r.channels }))
  ];
}

export interface Overview {
  timezone: string;
  items: ItemInfo[];
  evaluations: store.EvaluationRow[];
  deliveries: store.DeliveryRow[];
}

export async function overview(db: Database, config: CockpitConfig, now: Date, limit = 50): Promise<Overview> {
  return { timezone: config.timezone, items: items(config, now), evaluations: await store.lastEvaluations(db, limit), deliveries: await store.deliveries(db, limit) };
}

/** Every secret the configured channels read, for masking. */
function allSecrets(config: CockpitConfig, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const c of Object.values(config.alerts.channels) as ChannelConfig[]) {
    for (const k of ['url_env', 'secret_env', 'smtp_url_env'] as const) {
      const name = (c as Record<string, unknown>)[k];
      if (typeof name === 'string' && env[name]) out.push(env[name]!);
    }
  }
  return out;
}

/** A run's outcome as JSON: payloads with secrets masked and images abbreviated. */
export function describeRun(run: RunOutcome, config: CockpitConfig, env: NodeJS.ProcessEnv = process.env) {
  const redactor = redactorFor(...allSecrets(config, env));
  const shorten = (s: string) => s.replace(/[A-Za-z0-9+/]{400,}={0,2}/g, (m) => `<base64, ${Math.floor((m.length * 3) / 4).toLocaleString('en-US')} bytes>`);
  const mask = (s: string) => shorten(redactor.text(s));
  return {
    name: run.name,
    kind: run.kind,
    warnings: run.warnings,
    members: run.members.map((m) => ({
      member: { key: m.member.key, label: m.member.label, role: m.member.role },
      status: m.status,
      state_key: m.stateKey,
      summary: m.summary,
      hits: m.hits.length,
      error: m.error,
      deliveries: m.deliveries.map((d) => ({
        channel: d.channel,
        type: d.type,
        kind: d.kind,
        status: d.status,
        attempts: d.attempts,
        error: d.error,
        ...(d.prepared?.kind === 'http'
          ? {
              requests: d.prepared.requests.map((r) => {
                let body: unknown = r.body;
                try {
                  body = JSON.parse(mask(r.body));
                } catch {
                  body = mask(r.body);
                }
                return { what: r.label, method: 'POST', url: redactor.url(r.url), headers: r.headers, body };
              })
            }
          : {}),
        ...(d.prepared?.kind === 'mail'
          ? {
              mail: {
                smtp: redactor.url(d.prepared.smtpUrl),
                from: d.prepared.mail.from,
                to: d.prepared.mail.to,
                subject: d.prepared.mail.subject,
                text: d.prepared.mail.text,
                html_bytes: Buffer.byteLength(d.prepared.mail.html),
                attachments: d.prepared.mail.attachments.map((a) => ({ filename: a.filename, cid: a.cid, content_type: a.contentType, bytes: a.content.length }))
              }
            }
          : {})
      }))
    }))
  };
}
export type RunDescription = ReturnType<typeof describeRun>;

export interface RunRequest {
  name?: string;
  dryRun?: boolean;
  ignoreQuiet?: boolean;
  /** Only these audience members (keys). */
  members?: string[];
}

/** Runs (or dry-runs) one item or every enabled one. Unknown names are an Error that lists the names. */
export async function runNow(db: Database, config: CockpitConfig, req: RunRequest, now = () => new Date(), env: NodeJS.ProcessEnv = process.env): Promise<RunDescription[]> {
  const names = req.name ? [req.name] : [...config.alerts.rules, ...config.alerts.reports].filter((i) => i.enabled).map((i) => i.name);
  if (req.name && !findItem(config, req.name)) {
    const all = [...config.alerts.rules, ...config.alerts.reports].map((i) => i.name);
    throw new Error(`no rule or report named "${req.name}" (configured: ${all.join(', ') || 'none'})`);
  }
  const out: RunDescription[] = [];
  for (const name of names) {
    const run = await runItem({ db, config, now, env, dryRun: req.dryRun, ignoreQuiet: req.ignoreQuiet, trigger: req.dryRun ? 'test' : 'manual', members: req.members }, name);
    out.push(describeRun(run, config, env));
  }
  return out;
}
