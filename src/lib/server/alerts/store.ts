/**
 * The alert log in DuckDB (migration 12): evaluations, deliveries, the last state delivered per
 * (rule, audience member, channel) — the de-duplication key — and report images. These are
 * bookkeeping writes (`derived: true`): they never bump `data_version`, so they never make the
 * models' derived tables look stale. Times are stored in UTC.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database';
import { sql } from '../db/sql';

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, as DuckDB's TIMESTAMP takes it. */
export const utc = (d: Date) => d.toISOString().replace('T', ' ').replace('Z', '');
/** A TIMESTAMP read back (`YYYY-MM-DDTHH:MM:SS[.f]`, UTC) as an ISO instant. */
export const fromUtc = (s: string | null) => (s ? `${s.slice(0, 19)}Z` : null);

export const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;

export interface EvaluationRecord {
  evaluation_id: string;
  rule: string;
  kind: 'rule' | 'report';
  audience: string;
  audience_label: string;
  evaluated_at: Date;
  as_of: string | null;
  trigger: string;
  status: 'firing' | 'ok' | 'error' | 'report';
  state_key: string;
  hits: number;
  summary: string | null;
  /** Per hit id, the values the condition looked at (for "change vs previous evaluation"). */
  detail: unknown;
  error: string | null;
}

export interface DeliveryRecord {
  delivery_id: string;
  evaluation_id: string;
  rule: string;
  audience: string;
  channel: string;
  channel_type: string;
  kind: 'alert' | 'recovery' | 'report';
  state_key: string;
  status: 'sent' | 'failed' | 'deferred';
  attempts: number;
  http_status: number | null;
  error: string | null;
  recipients: string | null;
  created_at: Date;
  sent_at: Date | null;
}

export interface StateRecord {
  state_key: string;
  firing: boolean;
  updated_at: string;
}

const derived = { derived: true } as const;

export async function recordEvaluation(db: Database, e: EvaluationRecord): Promise<void> {
  await db.write(
    (tx) =>
      tx.run(sql`INSERT INTO alert_evaluations VALUES (${e.evaluation_id}, ${e.rule}, ${e.kind}, ${e.audience}, ${e.audience_label},
        ${utc(e.evaluated_at)}::TIMESTAMP, ${e.as_of}::DATE, ${e.trigger}, ${e.status}, ${e.state_key}, ${e.hits}::INTEGER,
        ${e.summary}, ${JSON.stringify(e.detail ?? null)}::JSON, ${e.error})`),
    derived
  );
}

/** Records a channel's delivery and, when it was sent, the state that channel has now been told. */
export async function recordDelivery(db: Database, d: DeliveryRecord, state: { firing: boolean } | null): Promise<void> {
  await db.write(async (tx) => {
    await tx.run(sql`INSERT INTO alert_deliveries VALUES (${d.delivery_id}, ${d.evaluation_id}, ${d.rule}, ${d.audience}, ${d.channel},
      ${d.channel_type}, ${d.kind}, ${d.state_key}, ${d.status}, ${d.attempts}::INTEGER, ${d.http_status}::INTEGER, ${d.error},
      ${d.recipients}, ${utc(d.created_at)}::TIMESTAMP, ${d.sent_at ? utc(d.sent_at) : null}::TIMESTAMP)`);
    if (state) await writeState(tx, d.rule, d.audience, d.channel, d.state_key, state.firing, d.sent_at ?? d.created_at);
  }, derived);
}

type Tx = Parameters<Parameters<Database['write']>[0]>[0];
function writeState(tx: Tx, rule: string, audience: string, channel: string, stateKey: string, firing: boolean, at: Date) {
  return tx.run(sql`INSERT INTO alert_state VALUES (${rule}, ${audience}, ${channel}, ${stateKey}, ${firing}, ${utc(at)}::TIMESTAMP)
    ON CONFLICT (rule, audience, channel) DO UPDATE SET state_key = excluded.state_key, firing = excluded.firing, updated_at = excluded.updated_at`);
}

/** Records a state without a message (a recovery when the rule sends no recovery notices). */
export async function setState(db: Database, rule: string, audience: string, channel: string, stateKey: string, firing: boolean, at: Date): Promise<void> {
  await db.write((tx) => writeState(tx, rule, audience, channel, stateKey, firing, at), derived);
}

/** The last state delivered on each channel for a rule and audience member. */
export async function statesFor(db: Database, rule: string, audience: string): Promise<Map<string, StateRecord>> {
  const { rows } = await db.query<{ channel: string; state_key: string; firing: boolean; updated_at: string }>(
    sql`SELECT channel, state_key, firing, updated_at FROM alert_state WHERE rule = ${rule} AND audience = ${audience}`
  );
  return new Map(rows.map((r) => [r.channel, { state_key: r.state_key, firing: r.firing, updated_at: r.updated_at }]));
}

/** The detail of the last successful evaluation of a rule for an audience member (or null). */
export async function lastDetail(db: Database, rule: string, audience: string): Promise<unknown> {
  const { rows } = await db.query<{ detail: unknown }>(
    sql`SELECT detail FROM alert_evaluations WHERE rule = ${rule} AND audience = ${audience} AND status IN ('firing', 'ok')
        ORDER BY evaluated_at DESC LIMIT 1`
  );
  return rows[0]?.detail ?? null;
}

/** Whether any delivery of a rule waits for the end of quiet hours (the scheduler runs it again then). */
export async function hasDeferred(db: Database, rule: string, since: Date): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    sql`SELECT count(*)::INTEGER AS n FROM alert_deliveries d
        WHERE d.rule = ${rule} AND d.status = 'deferred' AND d.created_at >= ${utc(since)}::TIMESTAMP
          AND NOT EXISTS (SELECT 1 FROM alert_deliveries s WHERE s.rule = d.rule AND s.audience = d.audience
                          AND s.channel = d.channel AND s.created_at > d.created_at AND s.status <> 'deferred')`
  );
  return rows[0].n > 0;
}

export async function saveImage(db: Database, png: Buffer, at: Date): Promise<string> {
  const id = randomBytes(16).toString('hex');
  await db.write(async (tx) => {
    // Images are for the messages of the last month; older ones go.
    await tx.run(sql`DELETE FROM alert_images WHERE created_at < ${utc(new Date(at.getTime() - 31 * 86_400_000))}::TIMESTAMP`);
    await tx.run(sql`INSERT INTO alert_images VALUES (${id}, ${utc(at)}::TIMESTAMP, ${png.toString('base64')})`);
  }, derived);
  return id;
}

export async function loadImage(db: Database, id: string): Promise<Buffer | null> {
  if (!/^[0-9a-f]{32}$/.test(id)) return null;
  const { rows } = await db.query<{ png_base64: string }>(sql`SELECT png_base64 FROM alert_images WHERE image_id = ${id}`);
  return rows[0] ? Buffer.from(rows[0].png_base64, 'base64') : null;
}

/** Drops evaluations and deliveries older than `days` (the log stays bounded). */
export async function prune(db: Database, now: Date, days = 90): Promise<void> {
  const cut = utc(new Date(now.getTime() - days * 86_400_000));
  await db.write(async (tx) => {
    await tx.run(sql`DELETE FROM alert_evaluations WHERE evaluated_at < ${cut}::TIMESTAMP`);
    await tx.run(sql`DELETE FROM alert_deliveries WHERE created_at < ${cut}::TIMESTAMP`);
  }, derived);
}

export interface EvaluationRow {
  evaluation_id: string;
  rule: string;
  kind: string;
  audience: string;
  audience_label: string | null;
  evaluated_at: string;
  as_of: string | null;
  trigger: string;
  status: string;
  hits: number;
  summary: string | null;
  error: string | null;
}

/** The last evaluation per rule and audience member, newest first. */
export async function lastEvaluations(db: Database, limit = 200): Promise<EvaluationRow[]> {
  const { rows } = await db.query<EvaluationRow>(
    sql`SELECT evaluation_id, rule, kind, audience, audience_label, evaluated_at, as_of::VARCHAR AS as_of, trigger, status, hits, summary, error
        FROM alert_evaluations QUALIFY row_number() OVER (PARTITION BY rule, audience ORDER BY evaluated_at DESC) = 1
        ORDER BY evaluated_at DESC, rule, audience LIMIT ${limit}::INTEGER`
  );
  return rows;
}

export interface DeliveryRow {
  delivery_id: string;
  rule: string;
  audience: string;
  channel: string;
  channel_type: string;
  kind: string;
  status: string;
  attempts: number;
  http_status: number | null;
  error: string | null;
  recipients: string | null;
  created_at: string;
  sent_at: string | null;
}

export async function deliveries(db: Database, limit = 200, rule?: string): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    sql`SELECT delivery_id, rule, audience, channel, channel_type, kind, status, attempts, http_status, error, recipients, created_at, sent_at
        FROM alert_deliveries WHERE ${rule ?? null}::VARCHAR IS NULL OR rule = ${rule ?? null}
        ORDER BY created_at DESC, delivery_id LIMIT ${limit}::INTEGER`
  );
  return rows;
}
