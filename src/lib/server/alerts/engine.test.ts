/**
 * Rules end to end on the hand-built fixture (tests/helpers/fixture.ts) with a controlled clock
 * (no sleeps: the injected `sleep` advances the clock): an alert fires once, is not repeated
 * for the same state, recovers, and fires again on a new breach; each rep hears only about
 * their own rows (the token scope rule); quiet hours defer and the end of them delivers.
 * Deliveries go over HTTP to a local receiver that verifies the webhook signature itself.
 *
 * Fixture, as of 2026-05-20: overdue instalments are P2 (U1's deal O1, 40,000 outstanding, due
 * 05-15) and P5 (U1's O1, 6,000 outstanding of 10,000, due 05-01). U2 and U3 have none.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureDb } from '../../../../tests/helpers/fixture';
import { receiverEnv, startReceivers, type Receivers } from '../../../../tests/helpers/alert-receivers';
import { parseConfig } from '../config/load';
import type { CockpitConfig } from '../config/schema';
import type { Database } from '../db/database';
import { runRule } from './engine';
import { createScheduler } from './scheduler';
import { deliveries, lastEvaluations } from './store';

let rx: Receivers;
let clock = new Date('2026-05-20T01:00:00Z'); // 09:00 in Shanghai
const waits: number[] = [];
const sleep = async (ms: number) => {
  waits.push(ms);
  clock = new Date(clock.getTime() + ms);
};

function config(extra: Record<string, unknown> = {}): CockpitConfig {
  const r = parseConfig({
    alerts: {
      public_url: 'https://cockpit.example.com',
      channels: { hook: { type: 'webhook', url_env: 'HOOK_URL', secret_env: 'HOOK_SECRET' } },
      rules: [
        {
          name: 'overdue-large',
          title: { 'zh-CN': '大额逾期回款', en: 'Large overdue payments' },
          model: 'payment_list',
          params: { state: 'overdue', period: 'all', sort: 'outstanding', limit: 200 },
          condition: { type: 'rows', where: [{ field: 'outstanding', op: '>=', value: 20000 }] },
          audience: { role: 'rep' },
          schedule: '0 * * * *',
          channels: ['hook'],
          ...extra
        }
      ]
    }
  });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}

beforeAll(async () => {
  rx = await startReceivers(() => clock.getTime());
});
afterAll(async () => {
  await rx.close();
});

describe('an alert rule over time', () => {
  let db: Database;
  beforeEach(async () => {
    db = await fixtureDb();
    rx.received.length = 0;
    waits.length = 0;
    clock = new Date('2026-05-20T01:00:00Z');
  });

  const run = (cfg: CockpitConfig, opts: { ignoreQuiet?: boolean } = {}) =>
    runRule({ db, config: cfg, now: () => clock, env: receiverEnv(rx.base), sleep, trigger: 'schedule', ...opts }, cfg.alerts.rules[0]);

  it('fires once, stays quiet for the same state, recovers, and fires again on a new breach', async () => {
    const cfg = config();
    // 1. P2 breaches: U1 is told, with P2 only (P5's 6,000 is under the limit); U2, U3 see nothing.
    const first = await run(cfg);
    const byMember = Object.fromEntries(first.members.map((m) => [m.member.key, m]));
    expect(byMember.U1.status).toBe('firing');
    expect(byMember.U1.hits.map((h) => h.id)).toEqual(['P2']);
    expect(byMember.U2.status).toBe('ok');
    expect(byMember.U3.status).toBe('ok');
    expect(rx.received).toHaveLength(1);
    const alert = rx.received[0];
    expect(alert.problems).toEqual([]);
    expect(alert.headers['x-cockpit-event']).toBe('alert.firing');
    expect(alert.body.audience_key).toBe('U1');
    expect((alert.body.hits as { id: string }[]).map((h) => h.id)).toEqual(['P2']);
    expect(JSON.stringify(alert.body.table)).toContain('40');
    expect(alert.body.link).toBe('https://cockpit.example.com/boards/payments?period=all&state=overdue&owner=U1&lang=zh-CN');

    // 2. An hour later nothing changed: no second message.
    clock = new Date('2026-05-20T02:00:00Z');
    const second = await run(cfg);
    expect(second.members.find((m) => m.member.key === 'U1')!.deliveries.map((d) => d.status)).toEqual(['duplicate']);
    expect(rx.received).toHaveLength(1);

    // 3. P2 is paid: U1 gets a recovery notice.
    await db.write((tx) => tx.run(`UPDATE payments SET paid_at = DATE '2026-05-20', paid_amount = 40000 WHERE payment_id = 'P2'`));
    clock = new Date('2026-05-20T03:00:00Z');
    const third = await run(cfg);
    expect(third.members.find((m) => m.member.key === 'U1')!.status).toBe('ok');
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1].headers['x-cockpit-event']).toBe('alert.resolved');
    expect(rx.received[1].problems).toEqual([]);

    // 4. Still fine an hour later: nothing is sent.
    clock = new Date('2026-05-20T04:00:00Z');
    await run(cfg);
    expect(rx.received).toHaveLength(2);

    // 5. A new overdue instalment on U1's O7: a new breach fires again, with the new row.
    await db.write((tx) => tx.run(`INSERT INTO payments VALUES ('P6', 'C1', 'O7', 50000, DATE '2026-05-10', NULL, NULL, NULL)`));
    clock = new Date('2026-05-20T05:00:00Z');
    const fifth = await run(cfg);
    expect(fifth.members.find((m) => m.member.key === 'U1')!.hits.map((h) => h.id)).toEqual(['P6']);
    expect(rx.received).toHaveLength(3);
    expect(rx.received[2].headers['x-cockpit-event']).toBe('alert.firing');
    expect((rx.received[2].body.hits as { id: string }[]).map((h) => h.id)).toEqual(['P6']);

    // The log: three deliveries sent to U1, newest first; the last evaluation of each rep.
    const log = await deliveries(db);
    expect(log.map((d) => [d.audience, d.kind, d.status])).toEqual([
      ['U1', 'alert', 'sent'],
      ['U1', 'recovery', 'sent'],
      ['U1', 'alert', 'sent']
    ]);
    const evals = await lastEvaluations(db);
    expect(evals.filter((e) => e.rule === 'overdue-large').map((e) => [e.audience, e.status]).sort()).toEqual([
      ['U1', 'firing'],
      ['U2', 'ok'],
      ['U3', 'ok']
    ]);
    expect(waits).toEqual([]);
    await db.close();
  });

  it('sends no recovery notice when the rule asks for none, yet fires again on the next breach', async () => {
    const cfg = config({ recovery: false });
    await run(cfg);
    await db.write((tx) => tx.run(`UPDATE payments SET paid_at = DATE '2026-05-20', paid_amount = 40000 WHERE payment_id = 'P2'`));
    clock = new Date('2026-05-20T02:00:00Z');
    await run(cfg);
    expect(rx.received.map((r) => r.headers['x-cockpit-event'])).toEqual(['alert.firing']);
    // Unpaid again (a correction in the CRM): the same rows as the first alert are a new breach.
    await db.write((tx) => tx.run(`UPDATE payments SET paid_at = NULL, paid_amount = NULL WHERE payment_id = 'P2'`));
    clock = new Date('2026-05-20T03:00:00Z');
    await run(cfg);
    expect(rx.received.map((r) => r.headers['x-cockpit-event'])).toEqual(['alert.firing', 'alert.firing']);
    await db.close();
  });

  it('a change condition: silent on its first look, fires when a value moves past the limit, recovers when it stops moving', async () => {
    // "An overdue instalment grew by more than 2,000 since the last check." P5 is 6,000 outstanding (10,000 − 4,000 paid).
    const cfg = config({ condition: { type: 'change', field: 'outstanding', vs: 'previous_evaluation', op: '>', value: 2000 } });
    const first = await run(cfg);
    expect(first.members.find((m) => m.member.key === 'U1')!.status).toBe('ok'); // nothing to compare with yet
    expect(rx.received).toHaveLength(0);
    // A correction: only 1,000 of P5 was paid, so 9,000 is outstanding: +3,000 > 2,000.
    await db.write((tx) => tx.run(`UPDATE payments SET paid_amount = 1000 WHERE payment_id = 'P5'`));
    clock = new Date('2026-05-20T02:00:00Z');
    const second = await run(cfg);
    const u1 = second.members.find((m) => m.member.key === 'U1')!;
    expect(u1.status).toBe('firing');
    expect(u1.hits.map((h) => [h.id, h.before, h.value])).toEqual([['P5', 6000, 9000]]);
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0].headers['x-cockpit-event']).toBe('alert.firing');
    // A smaller move (+1,000: nothing paid after all) is under the limit: the alert recovers.
    await db.write((tx) => tx.run(`UPDATE payments SET paid_amount = 0 WHERE payment_id = 'P5'`));
    clock = new Date('2026-05-20T03:00:00Z');
    const third = await run(cfg);
    expect(third.members.find((m) => m.member.key === 'U1')!.status).toBe('ok');
    expect(rx.received.map((r) => r.headers['x-cockpit-event'])).toEqual(['alert.firing', 'alert.resolved']);
    await db.close();
  });

  it('a manager hears about the whole team; another team’s manager about none of it', async () => {
    const cfg = config({ audience: { role: 'manager', teams: ['T11', 'T2'] } });
    const out = await run(cfg);
    expect(out.members.map((m) => [m.member.key, m.status, m.hits.map((h) => h.id)])).toEqual([
      ['T11', 'firing', ['P2']],
      ['T2', 'ok', []]
    ]);
    expect(rx.received.map((r) => r.body.audience_key)).toEqual(['T11']);
    expect(rx.received[0].body.link).toContain('team=T11');
    await db.close();
  });

  it('defers inside quiet hours and delivers once they end', async () => {
    const cfg = config({ quiet_hours: { from: '22:00', to: '08:00' } });
    clock = new Date('2026-05-19T15:30:00Z'); // 23:30 in Shanghai, report date 2026-05-19: P2 (due 05-15) already overdue
    const night = await run(cfg);
    expect(night.members.find((m) => m.member.key === 'U1')!.deliveries.map((d) => d.status)).toEqual(['deferred']);
    expect(rx.received).toHaveLength(0);
    clock = new Date('2026-05-20T00:05:00Z'); // 08:05
    await run(cfg);
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0].problems).toEqual([]);
    expect((await deliveries(db)).map((d) => d.status)).toEqual(['sent', 'deferred']);
    await db.close();
  });

  it('retries a 503 and a 429 with Retry-After before it succeeds, and records the attempts', async () => {
    rx.failFirst.hook = [
      [503, {}, 'unavailable'],
      [429, { 'retry-after': '7' }, 'slow down']
    ];
    const cfg = config();
    await run(cfg);
    expect(rx.received).toHaveLength(1);
    // The first wait is backoff (0.5–1 s for the first retry), the second the Retry-After.
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(500);
    expect(waits[0]).toBeLessThanOrEqual(1000);
    expect(waits[1]).toBe(7000);
    expect((await deliveries(db)).map((d) => [d.status, d.attempts])).toEqual([['sent', 3]]);
    await db.close();
  });

  it('the schedule runs a rule when its time comes, once per slot, and catches up after quiet hours', async () => {
    const cfg = config({ schedule: '0 23 * * *', quiet_hours: { from: '22:00', to: '08:00' } });
    const all: string[] = [];
    const runs = () => all.filter((l) => l.startsWith('alerts:'));
    clock = new Date('2026-05-19T14:59:30Z'); // 22:59:30 local
    const s = createScheduler(db, cfg, { now: () => clock, env: receiverEnv(rx.base), sleep, log: (m) => all.push(m), intervalMs: 0 });
    await s.tick(clock);
    expect(runs()).toEqual([]);
    clock = new Date('2026-05-19T15:00:10Z'); // 23:00:10: due, but quiet: deferred
    await s.tick(clock);
    expect(runs()).toEqual([expect.stringContaining('alerts: overdue-large (schedule) — 3 audience member(s), 1 firing, 0 sent')]);
    clock = new Date('2026-05-19T15:00:40Z');
    await s.tick(clock); // the same slot is not run again
    expect(runs()).toHaveLength(1);
    clock = new Date('2026-05-19T23:59:50Z'); // 07:59:50, still quiet
    await s.tick(clock);
    clock = new Date('2026-05-20T00:00:20Z'); // 08:00:20: quiet hours over, the deferred alert goes out
    await s.tick(clock);
    expect(runs()[1]).toContain('alerts: overdue-large (catch-up) — 3 audience member(s), 1 firing, 1 sent');
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0].problems).toEqual([]);
    s.stop();
    await db.close();
  });
});
