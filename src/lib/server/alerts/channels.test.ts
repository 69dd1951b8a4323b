/**
 * Every chat channel against a local HTTP server that checks the platform's documented payload
 * and signature (tests/helpers/alert-receivers.ts computes the signatures itself): WeCom
 * markdown + image (md5), DingTalk actionCard with 加签, Feishu interactive card with 签名校验,
 * Slack blocks, the generic webhook's X-Cockpit-Signature. A wrong secret is refused by the
 * receiver and the delivery fails (and is retried on the next run); secrets never reach the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb } from '../../../../tests/helpers/fixture';
import { ALL_CHANNELS, KEYS, receiverEnv, startReceivers, type Receivers } from '../../../../tests/helpers/alert-receivers';
import { parseConfig } from '../config/load';
import type { CockpitConfig } from '../config/schema';
import { runReport, runRule } from './engine';
import { deliveries, loadImage } from './store';
import { pngSize } from './render/png';
import { dingtalkSign, feishuSign, webhookSignature } from './channels';

let rx: Receivers;
let clock = new Date('2026-05-20T01:00:00Z');
const sleep = async (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

function config(alerts: Record<string, unknown>): CockpitConfig {
  const r = parseConfig({ alerts: { public_url: 'https://cockpit.example.com', channels: ALL_CHANNELS, ...alerts } });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

const RULE = {
  name: 'overdue',
  title: { 'zh-CN': '逾期回款', en: 'Overdue payments' },
  model: 'payment_list',
  params: { state: 'overdue', period: 'all', sort: 'outstanding' },
  condition: { type: 'rows', where: [{ field: 'outstanding', op: '>', value: 0 }] },
  audience: { role: 'rep', owners: ['U1'] },
  schedule: '@hourly'
};

beforeAll(async () => {
  rx = await startReceivers(() => clock.getTime());
});
afterAll(() => rx.close());

describe('channels', () => {
  it('signatures match the documented algorithms on known values', () => {
    // Independent recomputation with the documented recipe (see the receivers) on fixed inputs.
    const ding = dingtalkSign('SECabc', 1700000000000);
    expect(ding.timestamp).toBe('1700000000000');
    expect(decodeURIComponent(ding.sign)).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(ding.sign).not.toMatch(/[+/=]/); // URL-encoded once
    expect(feishuSign('s', 1700000000)).not.toBe(feishuSign('s', 1700000001));
    expect(webhookSignature('k', '{}', 1700000000)).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
  });

  it('posts each platform its documented payload, signed, and the receivers accept them', async () => {
    rx.received.length = 0;
    const db = await fixtureDb();
    const cfg = config({ rules: [{ ...RULE, channels: ['wecom', 'ding', 'feishu', 'slack', 'hook'] }] });
    const out = await runRule({ db, config: cfg, now: () => clock, env: receiverEnv(rx.base), sleep }, cfg.alerts.rules[0]);
    const u1 = out.members[0];
    expect(u1.deliveries.map((d) => [d.channel, d.status, d.error])).toEqual([
      ['wecom', 'sent', null],
      ['ding', 'sent', null],
      ['feishu', 'sent', null],
      ['slack', 'sent', null],
      ['hook', 'sent', null]
    ]);
    expect(rx.received.map((r) => [r.platform, r.problems])).toEqual([
      ['wecom', []],
      ['dingtalk', []],
      ['feishu', []],
      ['slack', []],
      ['webhook', []]
    ]);
    const [wecom, ding, feishu, slack] = rx.received.map((r) => r.body);
    // The numbers are in every message: P2 40,000 and P5 6,000 outstanding.
    const md = (wecom.markdown as { content: string }).content;
    expect(md).toContain('¥40,000');
    expect(md).toContain('¥6,000');
    expect(md).toContain('<font color="warning">【预警】逾期回款 · 张伟</font>');
    const card = ding.actionCard as { title: string; text: string; singleURL: string };
    expect(card.text).toContain('¥40,000');
    expect(card.singleURL).toBe('https://cockpit.example.com/boards/payments?period=all&state=overdue&owner=U1&lang=zh-CN');
    expect(JSON.stringify(feishu.card)).toContain('¥40,000');
    expect((feishu.card as { header: { template: string } }).header.template).toBe('red');
    expect(slack.text).toContain('逾期回款');
    expect(JSON.stringify(slack.blocks)).toContain('¥6,000');
    await db.close();
  });

  it('a wrong signing secret is refused by the receiver; the next run with the right one delivers', async () => {
    rx.received.length = 0;
    const db = await fixtureDb();
    const cfg = config({ rules: [{ ...RULE, channels: ['ding', 'feishu', 'hook'] }] });
    const env = { ...receiverEnv(rx.base), DINGTALK_SECRET: 'SECwrong', FEISHU_SECRET: 'wrong', HOOK_SECRET: 'wrong' };
    const bad = await runRule({ db, config: cfg, now: () => clock, env, sleep }, cfg.alerts.rules[0]);
    expect(bad.members[0].deliveries.map((d) => [d.channel, d.status])).toEqual([
      ['ding', 'failed'],
      ['feishu', 'failed'],
      ['hook', 'failed']
    ]);
    expect(bad.members[0].deliveries.map((d) => d.error)).toEqual([
      'dingtalk error 310000: sign not match',
      'feishu error 19021: sign match fail or timestamp is not within one hour from current time',
      'HTTP 401: bad signature'
    ]);
    expect(rx.received.every((r) => r.problems.length > 0)).toBe(true);
    // Not delivered, so not de-duplicated: the next run sends.
    const good = await runRule({ db, config: cfg, now: () => clock, env: receiverEnv(rx.base), sleep }, cfg.alerts.rules[0]);
    expect(good.members[0].deliveries.map((d) => d.status)).toEqual(['sent', 'sent', 'sent']);
    await db.close();
  });

  it('keeps webhook keys out of the log even when a platform echoes them', async () => {
    rx.received.length = 0;
    const db = await fixtureDb();
    rx.failFirst.wecom = [[400, {}, `invalid key ${KEYS.wecomKey} in url ${receiverEnv(rx.base).WECOM_URL}`]];
    const cfg = config({ rules: [{ ...RULE, channels: ['wecom'] }] });
    const out = await runRule({ db, config: cfg, now: () => clock, env: receiverEnv(rx.base), sleep }, cfg.alerts.rules[0]);
    const error = out.members[0].deliveries[0].error!;
    expect(error).toContain('HTTP 400');
    expect(error).not.toContain(KEYS.wecomKey);
    const logged = JSON.stringify(await deliveries(db));
    expect(logged).not.toContain(KEYS.wecomKey);
    await db.close();
  });

  it('a report sends its key numbers and chart: WeCom as an image message, Slack by URL', async () => {
    rx.received.length = 0;
    const db = await fixtureDb();
    const cfg = config({
      reports: [
        {
          name: 'daily',
          title: { 'zh-CN': '每日回款简报', en: 'Daily payments' },
          board: 'payments',
          view: 'period=this_quarter',
          audience: { role: 'executive' },
          schedule: '0 8 * * *',
          channels: ['wecom', 'slack'],
          kpis: ['won_amount', 'collected_amount', 'overdue_amount']
        }
      ]
    });
    const out = await runReport({ db, config: cfg, now: () => clock, env: receiverEnv(rx.base), sleep, slot: clock }, cfg.alerts.reports[0]);
    expect(out.members[0].deliveries.map((d) => d.status)).toEqual(['sent', 'sent']);
    expect(rx.received.map((r) => [r.platform, r.body.msgtype ?? 'blocks', r.problems])).toEqual([
      ['wecom', 'markdown', []],
      ['wecom', 'image', []],
      ['slack', 'blocks', []]
    ]);
    // Q2 to 05-20: won 100,000 (O1) + 25,000 (O8) = 12.5万; collected 60,000 (P1) + 4,000 (P5) = 6.4万;
    // overdue at 05-20: P2 40,000 + P5 6,000 = 4.6万.
    const md = (rx.received[0].body.markdown as { content: string }).content;
    expect(md).toContain('本期赢单金额：**¥12.5万**');
    expect(md).toContain('本期回款：**¥6.4万**');
    expect(md).toContain('逾期应收：**¥4.6万**');
    const png = Buffer.from((rx.received[1].body.image as { base64: string }).base64, 'base64');
    expect(pngSize(png)?.width).toBe(1280);
    const image = (rx.received[2].body.blocks as { type: string; image_url?: string }[]).find((b) => b.type === 'image')!;
    const id = /\/alerts\/image\/([0-9a-f]{32})\.png$/.exec(image.image_url!)![1];
    expect((await loadImage(db, id))!.equals(png)).toBe(true);
    // The same schedule slot is not sent twice.
    const again = await runReport({ db, config: cfg, now: () => clock, env: receiverEnv(rx.base), sleep, slot: clock }, cfg.alerts.reports[0]);
    expect(again.members[0].deliveries.map((d) => d.status)).toEqual(['duplicate', 'duplicate']);
    await db.close();
  }, 300_000);
});
