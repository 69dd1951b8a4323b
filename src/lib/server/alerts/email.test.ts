/**
 * E-mail against a real SMTP server started here (the `smtp-server` package) with STARTTLS on a
 * self-signed certificate generated for the test and trusted through the channel's `ca_file`,
 * and password authentication. The received message is parsed (mailparser): subject, the
 * numbers in the HTML and the text, and the chart as an inline PNG attachment. A server without
 * STARTTLS is refused (no password in clear), and the password never reaches the log.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb } from '../../../../tests/helpers/fixture';
import { parseConfig } from '../config/load';
import { runReport, runRule } from './engine';
import { deliveries } from './store';
import { pngSize } from './render/png';
import { IMAGE_CID } from './channels';

const PASSWORD = 'smtp-pa55word-7f3a';
let dir: string;
let caFile: string;
let tlsServer: SMTPServer;
let plainServer: SMTPServer;
let tlsPort = 0;
let plainPort = 0;
const mails: { mail: ParsedMail; secure: boolean; user: string | undefined; to: string[] }[] = [];
let clock = new Date('2026-05-20T00:30:00Z');

function listen(s: SMTPServer): Promise<number> {
  return new Promise((res) => s.listen(0, '127.0.0.1', () => res((s.server.address() as { port: number }).port)));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cockpit-smtp-'));
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }]
  } as never);
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, pems.cert);
  const common = {
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth: { username?: string; password?: string }, _s: unknown, cb: (e: Error | null, r?: { user: string }) => void) {
      if (auth.username === 'cockpit' && auth.password === PASSWORD) cb(null, { user: 'cockpit' });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream: NodeJS.ReadableStream, session: { secure: boolean; user?: string; envelope: { rcptTo: { address: string }[] } }, cb: (e?: Error | null) => void) {
      simpleParser(stream as never, { keepCidLinks: true }).then(
        (mail) => {
          mails.push({ mail, secure: session.secure, user: session.user, to: session.envelope.rcptTo.map((r) => r.address) });
          cb();
        },
        (e) => cb(e)
      );
    }
  };
  tlsServer = new SMTPServer({ ...common, secure: false, key: pems.private, cert: pems.cert, logger: false } as never);
  plainServer = new SMTPServer({ ...common, secure: false, disabledCommands: ['STARTTLS'], allowInsecureAuth: true, logger: false } as never);
  tlsPort = await listen(tlsServer);
  plainPort = await listen(plainServer);
});

afterAll(async () => {
  await new Promise<void>((r) => tlsServer.close(() => r()));
  await new Promise<void>((r) => plainServer.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function config(port: number) {
  const r = parseConfig({
    alerts: {
      public_url: 'https://cockpit.example.com',
      locale: 'en',
      channels: { mail: { type: 'email', smtp_url_env: 'SMTP_URL', from: 'crm-cockpit <cockpit@example.com>', ca_file: caFile } },
      reports: [
        {
          name: 'daily',
          title: { 'zh-CN': '每日回款简报', en: 'Daily payments' },
          board: 'payments',
          view: 'period=this_quarter',
          audience: { role: 'manager', teams: ['T11'] },
          schedule: '0 8 * * *',
          channels: ['mail'],
          kpis: ['won_amount', 'collected_amount', 'overdue_amount']
        }
      ],
      rules: [
        {
          name: 'overdue',
          model: 'payment_list',
          params: { state: 'overdue', period: 'all' },
          condition: { type: 'rows', where: [{ field: 'outstanding', op: '>', value: 0 }] },
          audience: { role: 'rep', owners: ['U1'] },
          schedule: '@hourly',
          channels: ['mail']
        }
      ]
    }
  });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

describe('e-mail over SMTP', () => {
  it('sends a report over STARTTLS with the numbers and the chart inline', async () => {
    const db = await fixtureDb();
    // The team's manager (T11 → U1) gets the mail at their address.
    await db.write((tx) => tx.run(`UPDATE users SET email = 'zhang.wei@example.com' WHERE user_id = 'U1'`));
    const cfg = config(tlsPort);
    const env = { SMTP_URL: `smtp://cockpit:${PASSWORD}@127.0.0.1:${tlsPort}` };
    const out = await runReport({ db, config: cfg, now: () => clock, env, slot: clock }, cfg.alerts.reports[0]);
    expect(out.members[0].deliveries.map((d) => [d.status, d.error])).toEqual([['sent', null]]);
    expect(mails).toHaveLength(1);
    const { mail, secure, user, to } = mails[0];
    expect(secure).toBe(true); // upgraded with STARTTLS before AUTH and DATA
    expect(user).toBe('cockpit');
    expect(to).toEqual(['zhang.wei@example.com']);
    expect(mail.subject).toBe('[Report] Daily payments · 上海组');
    // T11 (U1, U2) in Q2 to 05-20: won O1 100,000 + O8 25,000 = ¥125K; collected P1 60,000 + P5 4,000 = ¥64K;
    // overdue P2 40,000 + P5 6,000 = ¥46K.
    for (const part of [mail.html as string, mail.text!]) {
      expect(part).toContain('¥125K');
      expect(part).toContain('¥64K');
      expect(part).toContain('¥46K');
    }
    expect(mail.html).toContain(`cid:${IMAGE_CID}`);
    expect(mail.html).toContain('https://cockpit.example.com/boards/payments?period=this_quarter&amp;team=T11&amp;lang=en');
    const png = mail.attachments.find((a) => a.contentType === 'image/png')!;
    expect(png.cid).toBe(IMAGE_CID);
    expect(pngSize(png.content)).toMatchObject({ width: 1280 });
    await db.close();
  });

  it('refuses a server that offers no STARTTLS, and keeps the password out of the log', async () => {
    const db = await fixtureDb();
    await db.write((tx) => tx.run(`UPDATE users SET email = 'zhang.wei@example.com' WHERE user_id = 'U1'`));
    const cfg = config(plainPort);
    const before = mails.length;
    const out = await runRule({ db, config: cfg, now: () => clock, env: { SMTP_URL: `smtp://cockpit:${PASSWORD}@127.0.0.1:${plainPort}` }, sleep: async () => undefined }, cfg.alerts.rules[0]);
    const d = out.members[0].deliveries[0];
    expect(d.status).toBe('failed');
    expect(d.error).toMatch(/STARTTLS/i);
    expect(mails.length).toBe(before);
    expect(JSON.stringify(await deliveries(db))).not.toContain(PASSWORD);
    await db.close();
  });
});
