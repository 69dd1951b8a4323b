/**
 * Channel payloads: one Message rendered the way each platform renders well, signed as each
 * platform documents. Pure functions of (message, channel config, secrets, time): the dry run
 * prints exactly what `send.ts` would post.
 *
 * - 企业微信 group robot — https://developer.work.weixin.qq.com/document/path/91770
 *   POST JSON to the webhook URL (the key is in its query, no signature). `msgtype: markdown`,
 *   `markdown.content` ≤ 4096 bytes, a subset of markdown plus `<font color="info|comment|warning">`;
 *   `msgtype: image` with `image.base64` and `image.md5` (md5 of the raw bytes, ≤ 2 MB, JPG/PNG).
 *   20 messages per minute per robot; answers `{errcode: 0}`, 45009 when over the limit.
 * - 钉钉 custom robot — https://open.dingtalk.com/document/robots/custom-robot-access and
 *   https://open.dingtalk.com/document/robots/customize-robot-security-settings
 *   "加签": `timestamp` (ms) and `sign = urlEncode(base64(HmacSHA256(key = secret, data =
 *   timestamp + "\n" + secret)))` as query parameters (valid for an hour). `msgtype: actionCard`
 *   (`title`, markdown `text`, `singleTitle`, `singleURL`) or `markdown` (`title`, `text`).
 *   20 messages per minute; answers `{errcode: 0}`, 130101 "send too fast".
 * - 飞书 / Lark custom bot — https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
 *   "签名校验": `timestamp` (seconds, string) and `sign = base64(HmacSHA256(key = timestamp +
 *   "\n" + secret, data = ""))` in the JSON body; `msg_type: interactive` with a `card` (header
 *   with a colour template, `div`/`lark_md`, `fields`, `hr`, `action` buttons, `note`). Body ≤
 *   20 KB; 100 per minute and 5 per second (https://open.feishu.cn/document/server-docs/api-call-guide/frequency-control);
 *   answers `{code: 0}`, 19021 for a bad signature, 11232 when rate limited.
 * - Slack incoming webhook — https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
 *   POST `{text, blocks}` (Block Kit: header, section with mrkdwn text or fields, image by URL,
 *   actions with a URL button, context); answers `ok`; 429 with Retry-After when rate limited.
 * - Generic webhook (ours, docs/alerts.md): JSON, `X-Cockpit-Signature: t=<unix seconds>,v1=<hex
 *   HMAC-SHA256(secret, t + "." + body)>`, `X-Cockpit-Event`, `X-Cockpit-Delivery` (an id to
 *   de-duplicate on).
 * - E-mail: HTML and text alternatives, the chart inline (`cid:`), sent by nodemailer (send.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import type { ChannelConfig } from './config';
import type { Message } from './message';
import type { Member } from './audience';

export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** What this request is, for logs and the dry run (`markdown`, `image`, `card` …). */
  label: string;
  /** Platform answer check: returns an error text for a 2xx answer that is a failure, with `retry` for rate limits. */
  platform: 'wecom' | 'dingtalk' | 'feishu' | 'slack' | 'webhook';
}

export interface MailJob {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  attachments: { filename: string; content: Buffer; cid: string; contentType: string }[];
}

export type Prepared = { kind: 'http'; requests: HttpRequest[] } | { kind: 'mail'; mail: MailJob; smtpUrl: string };

export interface Secrets {
  url?: string;
  secret?: string;
  smtpUrl?: string;
}

/** Environment variables a channel reads; a missing one is an error that names it, never its value. */
export function secretsFor(name: string, c: ChannelConfig, env: NodeJS.ProcessEnv): Secrets {
  const need = (v: string, field: string) => {
    const val = env[v];
    if (val === undefined || val === '') throw new Error(`channel "${name}": environment variable ${v} (named by ${field}) is not set`);
    return val;
  };
  if (c.type === 'email') return { smtpUrl: need(c.smtp_url_env, 'smtp_url_env') };
  return { url: need(c.url_env, 'url_env'), secret: 'secret_env' in c && c.secret_env ? need(c.secret_env, 'secret_env') : undefined };
}

// ---------------------------------------------------------------- text helpers

/** Markdown-significant characters in data (customer names …) are escaped, so a name cannot inject links. */
const md = (s: string) => s.replace(/([\\`*_[\]()#>~|<])/g, '\\$1');
const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const slackEsc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

const KIND_COLOR = { alert: 'warning', recovery: 'info', report: 'comment' } as const;

function rowLines(m: Message, esc: (s: string) => string, bold: (s: string) => string): string[] {
  if (!m.table) return [];
  const newMark = m.locale === 'zh-CN' ? '【新】' : '[new] ';
  return m.table.rows.map((r) => {
    const [first, ...rest] = r.cells;
    const tail = rest.map((c, i) => `${m.table!.columns[i + 1].label} ${esc(c)}`).join(' · ');
    return `${r.isNew ? newMark : ''}${bold(esc(first))}${tail ? ` · ${tail}` : ''}`;
  });
}

/** Joins lines, dropping rows from the end until the text fits `max` bytes (the platform's limit). */
function fit(head: string[], rows: string[], tail: (dropped: number) => string[], max: number): string {
  for (let keep = rows.length; keep >= 0; keep--) {
    const text = [...head, ...rows.slice(0, keep), ...tail(rows.length - keep)].join('\n');
    if (bytes(text) <= max) return text;
  }
  return [...head, ...tail(rows.length)].join('\n').slice(0, Math.floor(max / 3));
}

function moreLine(m: Message, dropped: number): string | null {
  const n = (m.table?.more ?? 0) + dropped;
  if (!n) return null;
  return m.locale === 'zh-CN' ? `另有 ${n} 条未列出` : `${n} more not listed`;
}

// ---------------------------------------------------------------- 企业微信

export function wecomPayloads(m: Message, withImage: boolean): { markdown: object; image: object | null } {
  const color = KIND_COLOR[m.kind];
  const head = [
    `## <font color="${color}">${md(m.title)}</font>`,
    `> ${md(m.audience)}`,
    '',
    `**${md(m.summary)}**`,
    ...m.facts.map((f) => `${md(f.label)}：**${md(f.value)}**${f.note ? ` <font color="comment">${md(f.note)}</font>` : ''}`),
    ''
  ];
  const rows = rowLines(m, md, (s) => `**${s}**`);
  const tail = (dropped: number) =>
    [moreLine(m, dropped), m.link ? `\n[${md(m.link.label)}](${m.link.url})` : null, `<font color="comment">${md(m.footer)}</font>`].filter((x): x is string => x !== null);
  const content = fit(head, rows, tail, 4096);
  const image =
    withImage && m.image && m.image.png.length <= 2 * 1024 * 1024
      ? { msgtype: 'image', image: { base64: m.image.png.toString('base64'), md5: createHash('md5').update(m.image.png).digest('hex') } }
      : null;
  return { markdown: { msgtype: 'markdown', markdown: { content } }, image };
}

// ---------------------------------------------------------------- 钉钉

/** `timestamp` (ms) and `sign` for a DingTalk robot with 加签. */
export function dingtalkSign(secret: string, timestampMs: number): { timestamp: string; sign: string } {
  const sign = createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
  return { timestamp: String(timestampMs), sign: encodeURIComponent(sign) };
}

function dingtalkMarkdown(m: Message): string {
  const head = [
    `### ${md(m.title)}`,
    `> ${md(m.audience)}`,
    '',
    `**${md(m.summary)}**`,
    '',
    ...m.facts.map((f) => `- ${md(f.label)}：**${md(f.value)}**${f.note ? `（${md(f.note)}）` : ''}`),
    ...(m.image?.url ? ['', `![${md(m.image.alt)}](${m.image.url})`] : []),
    ''
  ];
  const rows = rowLines(m, md, (s) => `**${s}**`).map((l) => `- ${l}`);
  // DingTalk documents no hard size limit for markdown; 18,000 bytes stays well inside its 20 KB body.
  return fit(head, rows, (d) => [moreLine(m, d), '', `###### ${md(m.footer)}`].filter((x): x is string => x !== null), 18_000);
}

export function dingtalkPayload(m: Message, style: 'actionCard' | 'markdown'): object {
  const text = dingtalkMarkdown(m);
  if (style === 'actionCard' && m.link) {
    return { msgtype: 'actionCard', actionCard: { title: m.title, text, singleTitle: m.link.label, singleURL: m.link.url, btnOrientation: '0' } };
  }
  return { msgtype: 'markdown', markdown: { title: m.title, text: m.link ? `${text}\n\n[${md(m.link.label)}](${m.link.url})` : text } };
}

// ---------------------------------------------------------------- 飞书

/** `sign` for a Feishu/Lark bot with 签名校验: HMAC-SHA256 keyed by `timestamp\nsecret` over nothing. */
export function feishuSign(secret: string, timestampS: number): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');
}

export function feishuCard(m: Message): object {
  const template = m.kind === 'alert' ? 'red' : m.kind === 'recovery' ? 'green' : 'blue';
  const elements: object[] = [{ tag: 'div', text: { tag: 'lark_md', content: `**${md(m.audience)}**\n${md(m.summary)}` } }];
  if (m.facts.length) {
    elements.push({
      tag: 'div',
      fields: m.facts.map((f) => ({ is_short: true, text: { tag: 'lark_md', content: `**${md(f.label)}**\n${md(f.value)}${f.note ? `\n${md(f.note)}` : ''}` } }))
    });
  }
  const rows = rowLines(m, md, (s) => `**${s}**`);
  if (rows.length) {
    elements.push({ tag: 'hr' });
    const more = moreLine(m, 0);
    elements.push({ tag: 'div', text: { tag: 'lark_md', content: [...rows, ...(more ? [more] : [])].join('\n') } });
  }
  const actions: object[] = [];
  if (m.link) actions.push({ tag: 'button', text: { tag: 'plain_text', content: m.link.label }, type: 'primary', url: m.link.url });
  if (m.image?.url) actions.push({ tag: 'button', text: { tag: 'plain_text', content: m.image.alt }, type: 'default', url: m.image.url });
  if (actions.length) elements.push({ tag: 'action', actions });
  elements.push({ tag: 'note', elements: [{ tag: 'plain_text', content: m.footer }] });
  return { config: { wide_screen_mode: true }, header: { template, title: { tag: 'plain_text', content: m.title } }, elements };
}

// ---------------------------------------------------------------- Slack

export function slackPayload(m: Message): object {
  const blocks: object[] = [
    { type: 'header', text: { type: 'plain_text', text: m.title.slice(0, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: `*${slackEsc(m.audience)}*\n${slackEsc(m.summary)}` } }
  ];
  if (m.facts.length) {
    blocks.push({ type: 'section', fields: m.facts.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: `*${slackEsc(f.label)}*\n${slackEsc(f.value)}${f.note ? `  _${slackEsc(f.note)}_` : ''}` })) });
  }
  const rows = rowLines(m, slackEsc, (s) => `*${s}*`).map((l) => `• ${l}`);
  if (rows.length) {
    const more = moreLine(m, 0);
    // A section's text is at most 3,000 characters.
    let textOut = [...rows, ...(more ? [more] : [])].join('\n');
    while (textOut.length > 3000 && rows.length > 1) {
      rows.pop();
      textOut = [...rows, moreLine(m, (m.table?.rows.length ?? 0) - rows.length)].join('\n');
    }
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: textOut } });
  }
  if (m.image?.url) blocks.push({ type: 'image', image_url: m.image.url, alt_text: m.image.alt });
  if (m.link) blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: m.link.label }, url: m.link.url, style: 'primary' }] });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: slackEsc(m.footer) }] });
  return { text: `${m.title}: ${m.summary}`, blocks };
}

// ---------------------------------------------------------------- generic webhook

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` */
export function webhookSignature(secret: string, body: string, timestampS: number): string {
  return `t=${timestampS},v1=${createHmac('sha256', secret).update(`${timestampS}.${body}`, 'utf8').digest('hex')}`;
}

export function webhookBody(m: Message, deliveryId: string, includeImage: boolean): object {
  return {
    event: m.kind === 'alert' ? 'alert.firing' : m.kind === 'recovery' ? 'alert.resolved' : 'report',
    delivery_id: deliveryId,
    title: m.title,
    heading: m.heading,
    audience: m.audience,
    summary: m.summary,
    facts: m.facts,
    table: m.table,
    link: m.link?.url ?? null,
    image_url: m.image?.url ?? null,
    ...(includeImage && m.image ? { image_png_base64: m.image.png.toString('base64') } : {}),
    ...m.data
  };
}

// ---------------------------------------------------------------- e-mail

export const IMAGE_CID = 'chart@crm-cockpit';

export function mailBodies(m: Message): { text: string; html: string } {
  const color = m.kind === 'alert' ? '#b42318' : m.kind === 'recovery' ? '#067647' : '#1f4b99';
  const facts = m.facts
    .map(
      (f) => `<td style="padding:8px 16px 8px 0;vertical-align:top"><div style="color:#667085;font-size:12px">${html(f.label)}</div>
<div style="font-size:22px;font-weight:700;color:#101828">${html(f.value)}</div>${f.note ? `<div style="color:#667085;font-size:12px">${html(f.note)}</div>` : ''}</td>`
    )
    .join('');
  const table = m.table
    ? `<table cellpadding="0" cellspacing="0" style="border-collapse:collapse;width:100%;font-size:13px;margin:12px 0">
<tr>${m.table.columns.map((c) => `<th style="text-align:${c.align};padding:6px 8px;border-bottom:2px solid #d0d5dd;color:#475467">${html(c.label)}</th>`).join('')}</tr>
${m.table.rows
  .map(
    (r) =>
      `<tr${r.isNew ? ' style="background:#fffaeb"' : ''}>${r.cells.map((c, i) => `<td style="text-align:${m.table!.columns[i].align};padding:6px 8px;border-bottom:1px solid #eaecf0">${html(c)}</td>`).join('')}</tr>`
  )
  .join('\n')}
</table>${m.table.more ? `<p style="color:#667085;font-size:12px">${html(moreLine(m, 0) ?? '')}</p>` : ''}`
    : '';
  const htmlOut = `<!doctype html><html lang="${m.locale}"><head><meta charset="utf-8"><title>${html(m.title)}</title></head>
<body style="margin:0;padding:24px;background:#f2f4f7;font-family:-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;color:#101828">
<div style="max-width:1320px;margin:0 auto;background:#fff;border-radius:8px;border-top:4px solid ${color};padding:24px">
<div style="color:${color};font-size:13px;font-weight:600">${html(m.audience)}</div>
<h1 style="font-size:20px;margin:4px 0 12px">${html(m.title)}</h1>
<p style="font-size:15px;margin:0 0 12px">${html(m.summary)}</p>
${facts ? `<table cellpadding="0" cellspacing="0"><tr>${facts}</tr></table>` : ''}
${table}
${m.image ? `<img src="cid:${IMAGE_CID}" alt="${html(m.image.alt)}" width="${Math.min(m.image.width, 1272)}" style="display:block;max-width:100%;height:auto;margin:12px 0;border:1px solid #eaecf0">` : ''}
${m.link ? `<p><a href="${html(m.link.url)}" style="display:inline-block;background:#1f4b99;color:#fff;text-decoration:none;padding:10px 18px;border-radius:6px">${html(m.link.label)}</a></p>` : ''}
<p style="color:#98a2b3;font-size:12px;margin-top:24px">${html(m.footer)}</p>
</div></body></html>`;
  const textOut = [
    m.title,
    m.audience,
    '',
    m.summary,
    ...m.facts.map((f) => `${f.label}: ${f.value}${f.note ? ` (${f.note})` : ''}`),
    '',
    ...(m.table ? [m.table.columns.map((c) => c.label).join(' | '), ...m.table.rows.map((r) => r.cells.join(' | ')), moreLine(m, 0) ?? ''] : []),
    ...(m.link ? [`${m.link.label}: ${m.link.url}`] : []),
    '',
    m.footer
  ].join('\n');
  return { text: textOut, html: htmlOut };
}

// ---------------------------------------------------------------- prepare

const json = { 'content-type': 'application/json; charset=utf-8' };

/** The requests (or the e-mail) a channel sends for a message to a member, signed at `now`. */
export function prepare(name: string, c: ChannelConfig, m: Message, member: Member, secrets: Secrets, now: Date, deliveryId: string): Prepared {
  switch (c.type) {
    case 'wecom': {
      const p = wecomPayloads(m, c.image);
      const requests: HttpRequest[] = [{ url: secrets.url!, headers: json, body: JSON.stringify(p.markdown), label: 'markdown', platform: 'wecom' }];
      if (p.image) requests.push({ url: secrets.url!, headers: json, body: JSON.stringify(p.image), label: 'image', platform: 'wecom' });
      return { kind: 'http', requests };
    }
    case 'dingtalk': {
      const url = new URL(secrets.url!);
      if (secrets.secret) {
        const s = dingtalkSign(secrets.secret, now.getTime());
        url.searchParams.set('timestamp', s.timestamp);
        // Already URL-encoded as the documentation says: appended as is, not encoded twice.
        return { kind: 'http', requests: [{ url: `${url.toString()}&sign=${s.sign}`, headers: json, body: JSON.stringify(dingtalkPayload(m, c.message)), label: c.message, platform: 'dingtalk' }] };
      }
      return { kind: 'http', requests: [{ url: url.toString(), headers: json, body: JSON.stringify(dingtalkPayload(m, c.message)), label: c.message, platform: 'dingtalk' }] };
    }
    case 'feishu': {
      const ts = Math.floor(now.getTime() / 1000);
      const body = { ...(secrets.secret ? { timestamp: String(ts), sign: feishuSign(secrets.secret, ts) } : {}), msg_type: 'interactive', card: feishuCard(m) };
      return { kind: 'http', requests: [{ url: secrets.url!, headers: json, body: JSON.stringify(body), label: 'interactive card', platform: 'feishu' }] };
    }
    case 'slack':
      return { kind: 'http', requests: [{ url: secrets.url!, headers: json, body: JSON.stringify(slackPayload(m)), label: 'blocks', platform: 'slack' }] };
    case 'webhook': {
      const body = JSON.stringify(webhookBody(m, deliveryId, c.include_image));
      const headers: Record<string, string> = { ...json, 'x-cockpit-event': (webhookBody(m, deliveryId, false) as { event: string }).event, 'x-cockpit-delivery': deliveryId };
      if (secrets.secret) headers['x-cockpit-signature'] = webhookSignature(secrets.secret, body, Math.floor(now.getTime() / 1000));
      return { kind: 'http', requests: [{ url: secrets.url!, headers, body, label: 'json', platform: 'webhook' }] };
    }
    case 'email': {
      const { text, html: h } = mailBodies(m);
      return {
        kind: 'mail',
        smtpUrl: secrets.smtpUrl!,
        mail: {
          from: c.from,
          to: c.to ?? member.emails,
          subject: m.title,
          text,
          html: h,
          attachments: m.image ? [{ filename: 'report.png', content: m.image.png, cid: IMAGE_CID, contentType: 'image/png' }] : []
        }
      };
    }
  }
}
