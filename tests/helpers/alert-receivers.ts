/**
 * Local stand-ins for the chat platforms, as real HTTP servers: each checks a request the way
 * the platform documents it — the URL key, the signature (computed here, independently of the
 * sender's code), the timestamp window, the payload's required fields and size limits — and
 * answers as the platform answers (WeCom/DingTalk `{errcode}`, Feishu `{code}`, Slack `ok`).
 * A test can make a receiver answer 429/5xx first (`failFirst`) to exercise retries.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  platform: string;
  url: string;
  headers: IncomingMessage['headers'];
  raw: string;
  body: Record<string, unknown>;
  /** What the receiver found wrong (empty: the request is as documented). */
  problems: string[];
}

export interface Receivers {
  base: string;
  received: Received[];
  /** Answers for the next requests of a platform before the normal answer: [status, headers, body]. */
  failFirst: Record<string, [number, Record<string, string>, string][]>;
  close(): Promise<void>;
}

export const KEYS = {
  wecomKey: 'wecom-key-0f3c9a7e-1111-2222-3333-444455556666',
  dingToken: 'dingtoken9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa',
  dingSecret: 'SECd0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f',
  feishuHook: 'b7f5a9e4-3c21-4d0e-9f88-0a1b2c3d4e5f',
  feishuSecret: 'feishu-secret-9XyZ7wV5uT3s',
  slackPath: '/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
  webhookSecret: 'whsec_3b1f0c8d7e6a5b4c3d2e1f00112233'
};

const HOUR_MS = 3_600_000;

function check(platform: string, url: URL, raw: string, headers: IncomingMessage['headers'], now: number): { problems: string[]; answer: [number, string] } {
  const problems: string[] = [];
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(raw);
  } catch {
    problems.push('body is not JSON');
  }
  if (!String(headers['content-type'] ?? '').startsWith('application/json')) problems.push(`content-type ${headers['content-type']}`);
  if (platform === 'wecom') {
    // developer.work.weixin.qq.com/document/path/91770
    if (url.searchParams.get('key') !== KEYS.wecomKey) return { problems: ['invalid webhook key'], answer: [200, JSON.stringify({ errcode: 93000, errmsg: 'invalid webhook url' })] };
    if (body.msgtype === 'markdown') {
      const content = (body.markdown as { content?: unknown })?.content;
      if (typeof content !== 'string' || !content) problems.push('markdown.content missing');
      else if (Buffer.byteLength(content) > 4096) problems.push(`markdown.content ${Buffer.byteLength(content)} bytes > 4096`);
    } else if (body.msgtype === 'image') {
      const img = body.image as { base64?: string; md5?: string };
      const bytes = Buffer.from(img?.base64 ?? '', 'base64');
      if (bytes.length === 0 || bytes.length > 2 * 1024 * 1024) problems.push('image size');
      if (createHash('md5').update(bytes).digest('hex') !== img?.md5) problems.push('image.md5 is not the md5 of the image');
    } else problems.push(`msgtype ${String(body.msgtype)}`);
    return { problems, answer: [200, JSON.stringify(problems.length ? { errcode: 40008, errmsg: problems.join('; ') } : { errcode: 0, errmsg: 'ok' })] };
  }
  if (platform === 'dingtalk') {
    // open.dingtalk.com/document/robots/customize-robot-security-settings: sign = urlEncode(base64(HmacSHA256(secret, timestamp + "\n" + secret)))
    if (url.searchParams.get('access_token') !== KEYS.dingToken) return { problems: ['token'], answer: [200, JSON.stringify({ errcode: 300001, errmsg: 'token is not exist' })] };
    const ts = url.searchParams.get('timestamp') ?? '';
    const sign = url.searchParams.get('sign') ?? '';
    const expected = createHmac('sha256', KEYS.dingSecret).update(`${ts}\n${KEYS.dingSecret}`).digest('base64');
    if (sign !== expected) problems.push('sign mismatch');
    if (!/^\d{13}$/.test(ts) || Math.abs(now - Number(ts)) > HOUR_MS) problems.push('timestamp not within an hour (ms)');
    if (problems.length) return { problems, answer: [200, JSON.stringify({ errcode: 310000, errmsg: 'sign not match' })] };
    if (body.msgtype === 'actionCard') {
      const a = body.actionCard as Record<string, unknown>;
      for (const k of ['title', 'text', 'singleTitle', 'singleURL']) if (typeof a?.[k] !== 'string' || !a[k]) problems.push(`actionCard.${k} missing`);
    } else if (body.msgtype === 'markdown') {
      const m = body.markdown as Record<string, unknown>;
      for (const k of ['title', 'text']) if (typeof m?.[k] !== 'string' || !m[k]) problems.push(`markdown.${k} missing`);
    } else problems.push(`msgtype ${String(body.msgtype)}`);
    return { problems, answer: [200, JSON.stringify(problems.length ? { errcode: 40035, errmsg: problems.join('; ') } : { errcode: 0, errmsg: 'ok' })] };
  }
  if (platform === 'feishu') {
    // open.feishu.cn/document/client-docs/bot-v3/add-custom-bot: sign = base64(HmacSHA256(key = timestamp + "\n" + secret, data = ""))
    if (url.pathname !== `/open-apis/bot/v2/hook/${KEYS.feishuHook}`) return { problems: ['hook'], answer: [404, '{"code":19001,"msg":"param invalid: incoming webhook access token invalid"}'] };
    const ts = String(body.timestamp ?? '');
    const expected = createHmac('sha256', `${ts}\n${KEYS.feishuSecret}`).update(Buffer.alloc(0)).digest('base64');
    if (body.sign !== expected || !/^\d{10}$/.test(ts) || Math.abs(now / 1000 - Number(ts)) > 3600) {
      return { problems: ['sign match fail or timestamp is not within one hour'], answer: [200, JSON.stringify({ code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' })] };
    }
    if (body.msg_type !== 'interactive') problems.push(`msg_type ${String(body.msg_type)}`);
    const card = body.card as { header?: { title?: { content?: string } }; elements?: unknown[] };
    if (!card?.header?.title?.content) problems.push('card.header.title.content missing');
    if (!Array.isArray(card?.elements) || card.elements.length === 0) problems.push('card.elements missing');
    if (Buffer.byteLength(raw) > 20 * 1024) problems.push('body over 20 KB');
    return { problems, answer: [200, JSON.stringify(problems.length ? { code: 9499, msg: 'Bad Request', data: {} } : { code: 0, msg: 'success', data: {} })] };
  }
  if (platform === 'slack') {
    // docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
    if (url.pathname !== KEYS.slackPath) return { problems: ['no_service'], answer: [404, 'no_service'] };
    if (typeof body.text !== 'string' || !body.text) problems.push('text (the notification fallback) missing');
    const blocks = body.blocks as { type: string; text?: { text?: string }; fields?: unknown[] }[];
    if (!Array.isArray(blocks) || blocks.length === 0 || blocks.length > 50) problems.push('blocks');
    for (const b of blocks ?? []) {
      if (!['header', 'section', 'image', 'actions', 'context', 'divider'].includes(b.type)) problems.push(`block type ${b.type}`);
      if (b.type === 'header' && (b.text?.text?.length ?? 0) > 150) problems.push('header over 150 characters');
      if (b.type === 'section' && (b.text?.text?.length ?? 0) > 3000) problems.push('section text over 3000 characters');
      if (b.type === 'section' && (b.fields?.length ?? 0) > 10) problems.push('more than 10 fields');
    }
    return { problems, answer: problems.length ? [400, 'invalid_blocks'] : [200, 'ok'] };
  }
  // generic webhook: X-Cockpit-Signature: t=<unix s>,v1=<hex hmac_sha256(secret, t + "." + body)> (docs/alerts.md)
  const sig = String(headers['x-cockpit-signature'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
  if (!m) problems.push('X-Cockpit-Signature missing or malformed');
  else {
    const mac = createHmac('sha256', KEYS.webhookSecret).update(`${m[1]}.${raw}`).digest();
    if (!timingSafeEqual(mac, Buffer.from(m[2], 'hex'))) problems.push('signature mismatch');
    if (Math.abs(now / 1000 - Number(m[1])) > 300) problems.push('signature timestamp older than 5 minutes');
  }
  if (headers['x-cockpit-delivery'] !== body.delivery_id) problems.push('X-Cockpit-Delivery differs from delivery_id');
  return { problems, answer: problems.length ? [401, 'bad signature'] : [200, '{"ok":true}'] };
}

/** Starts one server that plays every platform (by path prefix: /wecom, /dingtalk, /feishu, /slack, /hook). */
export async function startReceivers(now: () => number = Date.now): Promise<Receivers> {
  const received: Received[] = [];
  const failFirst: Receivers['failFirst'] = {};
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const [, platform, ...rest] = url.pathname.split('/');
      const path = new URL(`/${rest.join('/')}${url.search}`, 'http://x');
      const queued = failFirst[platform]?.shift();
      if (queued) {
        res.writeHead(queued[0], queued[1]);
        res.end(queued[2]);
        return;
      }
      const name = platform === 'hook' ? 'webhook' : platform;
      const { problems, answer } = check(name, path, raw, req.headers, now());
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // reported in problems
      }
      received.push({ platform: name, url: req.url ?? '', headers: req.headers, raw, body, problems });
      res.writeHead(answer[0], { 'content-type': answer[1].startsWith('{') ? 'application/json' : 'text/plain' });
      res.end(answer[1]);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    received,
    failFirst,
    close: () => new Promise<void>((r) => server.close(() => r()))
  };
}

/** Environment variables for every channel pointing at the receivers. */
export function receiverEnv(base: string): Record<string, string> {
  return {
    WECOM_URL: `${base}/wecom/cgi-bin/webhook/send?key=${KEYS.wecomKey}`,
    DINGTALK_URL: `${base}/dingtalk/robot/send?access_token=${KEYS.dingToken}`,
    DINGTALK_SECRET: KEYS.dingSecret,
    FEISHU_URL: `${base}/feishu/open-apis/bot/v2/hook/${KEYS.feishuHook}`,
    FEISHU_SECRET: KEYS.feishuSecret,
    SLACK_URL: `${base}/slack${KEYS.slackPath}`,
    HOOK_URL: `${base}/hook/cockpit`,
    HOOK_SECRET: KEYS.webhookSecret
  };
}

export const ALL_CHANNELS = {
  wecom: { type: 'wecom', url_env: 'WECOM_URL' },
  ding: { type: 'dingtalk', url_env: 'DINGTALK_URL', secret_env: 'DINGTALK_SECRET' },
  feishu: { type: 'feishu', url_env: 'FEISHU_URL', secret_env: 'FEISHU_SECRET' },
  slack: { type: 'slack', url_env: 'SLACK_URL' },
  hook: { type: 'webhook', url_env: 'HOOK_URL', secret_env: 'HOOK_SECRET' }
} as const;
