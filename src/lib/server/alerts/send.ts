/**
 * Sending, with retries a chat platform can trust: 429 and 5xx answers, platform rate-limit codes
 * in a 200 answer (WeCom 45009, DingTalk 130101, Feishu 11232) and network errors are retried
 * with exponential backoff and jitter, honouring `Retry-After` (seconds or a date; Feishu's
 * `x-ogw-ratelimit-reset`) up to `maxRetryAfterS` — a platform that asks for longer fails the
 * delivery now, and the next run tries again (the state was not marked delivered). Other 4xx
 * answers and platform errors (a bad signature, a wrong key) are not retried. Every error text
 * passes through the Redactor: webhook keys, signing secrets and SMTP passwords never reach the
 * log or the database.
 */
import { readFileSync } from 'node:fs';
import { Redactor } from '../../../../connectors/secrets';
import type { HttpRequest, MailJob } from './channels';

export interface SendOptions {
  attempts: number;
  maxRetryAfterS: number;
  /** Injected by tests (no real waiting). */
  sleep?: (ms: number) => Promise<void>;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Random in [0, 1) for jitter (tests pass a constant). */
  random?: () => number;
  redactor: Redactor;
}

export interface SendResult {
  ok: boolean;
  attempts: number;
  status: number | null;
  error: string | null;
  /** Waits between attempts, in ms (for the log and the tests). */
  waits: number[];
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rate-limit or transient error codes each platform answers inside a 200. */
const RETRY_CODES: Record<string, number[]> = { wecom: [45009, -1], dingtalk: [130101, -1], feishu: [11232, 99991400] };

/** A 2xx answer that is nonetheless a failure: `{error, retry}`; null when it is a success. */
export function platformError(platform: HttpRequest['platform'], status: number, body: string): { error: string; retry: boolean } | null {
  if (platform === 'slack' || platform === 'webhook') return null;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { error: `answered ${status} with a body that is not JSON`, retry: false };
  }
  const code = platform === 'feishu' ? (parsed.code ?? parsed.StatusCode) : parsed.errcode;
  if (code === 0 || code === undefined) return null;
  const msg = String(parsed.msg ?? parsed.errmsg ?? parsed.StatusMessage ?? '');
  return { error: `${platform} error ${code}: ${msg}`, retry: RETRY_CODES[platform]?.includes(Number(code)) ?? false };
}

/** Seconds to wait from Retry-After (delta-seconds or an HTTP date) or Feishu's reset header. */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | null {
  const ra = headers.get('retry-after') ?? headers.get('x-ogw-ratelimit-reset');
  if (!ra) return null;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra.trim());
  const at = Date.parse(ra);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}

function backoffMs(attempt: number, random: () => number): number {
  const base = Math.min(30_000, 1000 * 2 ** (attempt - 1));
  return Math.round(base / 2 + (base / 2) * random());
}

/** POSTs one request with retries. */
export async function sendHttp(req: HttpRequest, o: SendOptions): Promise<SendResult> {
  const sleep = o.sleep ?? realSleep;
  const doFetch = o.fetch ?? fetch;
  const random = o.random ?? Math.random;
  const waits: number[] = [];
  let status: number | null = null;
  let error = 'not sent';
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    let retry = false;
    let wait: number | null = null;
    try {
      const res = await doFetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal: AbortSignal.timeout(o.timeoutMs ?? 15_000), redirect: 'error' });
      status = res.status;
      const body = await res.text();
      if (res.ok) {
        const pe = platformError(req.platform, res.status, body);
        if (!pe) return { ok: true, attempts: attempt, status, error: null, waits };
        error = pe.error;
        retry = pe.retry;
      } else {
        error = `HTTP ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}`;
        retry = res.status === 429 || res.status === 408 || res.status >= 500;
        if (retry) {
          const ra = retryAfterSeconds(res.headers);
          if (ra !== null) {
            if (ra > o.maxRetryAfterS) {
              return { ok: false, attempts: attempt, status, error: o.redactor.text(`${error} (asked to retry after ${ra} s, more than max_retry_after_seconds ${o.maxRetryAfterS}: retried on the next run)`), waits };
            }
            wait = Math.ceil(ra * 1000);
          }
        }
      }
    } catch (e) {
      error = (e as Error).name === 'TimeoutError' ? `timed out after ${(o.timeoutMs ?? 15_000) / 1000} s` : `network error: ${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause?: Error }).cause!.message})` : ''}`;
      retry = true;
    }
    if (!retry || attempt === o.attempts) break;
    const ms = wait ?? backoffMs(attempt, random);
    waits.push(ms);
    await sleep(ms);
  }
  return { ok: false, attempts: waits.length + 1, status, error: o.redactor.text(error), waits };
}

export interface MailOptions {
  requireTls: boolean;
  caFile?: string;
  attempts: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  redactor: Redactor;
}

/**
 * Sends an e-mail over SMTP (nodemailer): `smtps://` is TLS from the start, `smtp://` upgrades with
 * STARTTLS, and with `requireTls` (the default) a server that does not offer STARTTLS is refused
 * rather than given the password in clear. Temporary failures (4xx SMTP answers, network errors)
 * are retried with backoff.
 */
export async function sendMail(smtpUrl: string, mail: MailJob, o: MailOptions): Promise<SendResult> {
  const { default: nodemailer } = await import('nodemailer');
  const sleep = o.sleep ?? realSleep;
  const random = o.random ?? Math.random;
  const waits: number[] = [];
  if (mail.to.length === 0) return { ok: false, attempts: 0, status: null, error: 'no recipient: the audience member has no e-mail address (users.email) and the channel lists no "to"', waits };
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    requireTLS: o.requireTls && smtpUrl.startsWith('smtp:'),
    tls: o.caFile ? { ca: readFileSync(o.caFile) } : undefined,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000
  } as never);
  let error = 'not sent';
  let status: number | null = null;
  try {
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
      try {
        await transport.sendMail(mail);
        return { ok: true, attempts: attempt, status: 250, error: null, waits };
      } catch (e) {
        const err = e as Error & { responseCode?: number; code?: string };
        status = err.responseCode ?? null;
        error = `smtp: ${err.message}`;
        const temporary = status === null ? err.code !== 'EAUTH' && err.code !== 'EENVELOPE' : status >= 400 && status < 500;
        if (!temporary || attempt === o.attempts) return { ok: false, attempts: attempt, status, error: o.redactor.text(error), waits };
        const ms = Math.round(Math.min(30_000, 1000 * 2 ** (attempt - 1)) * (0.5 + random() / 2));
        waits.push(ms);
        await sleep(ms);
      }
    }
  } finally {
    transport.close();
  }
  return { ok: false, attempts: o.attempts, status, error: o.redactor.text(error), waits };
}

/** A Redactor that knows a channel's secrets (and masks credential-like URL parts). */
export function redactorFor(...secrets: (string | undefined)[]): Redactor {
  const r = new Redactor();
  for (const s of secrets) {
    if (!s) continue;
    r.add(s);
    try {
      const u = new URL(s);
      for (const v of u.searchParams.values()) r.add(v);
      if (u.password) r.add(decodeURIComponent(u.password));
      // Path segments that look like keys (Slack's T…/B…/secret, Feishu's hook id).
      for (const seg of u.pathname.split('/')) if (seg.length >= 16) r.add(seg);
    } catch {
      // not a URL
    }
  }
  return r;
}
