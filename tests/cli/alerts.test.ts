/**
 * Alerts as a user runs them, on a small demo database file: `cockpit alerts test` prints the
 * exact payloads with secrets masked and sends nothing; `cockpit alerts run` delivers to a local
 * receiver that verifies the signature; `cockpit alerts` lists rules, evaluations and deliveries.
 * Then with `cockpit serve` holding the database (access control on): the CLI hands the run to
 * the server, /api/alerts and /admin/alerts answer an executive and refuse a rep, and the chart
 * image of a report is served at its capability URL. The first delivery runs the real binary
 * (`run`); the other commands run the same main() in-process (`runIn`, tests/helpers/cli.ts:
 * ~1 CPU s less each).
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEMO_AS_OF, ROOT, startServer } from '../helpers/global-setup';
import { cockpitIn } from '../helpers/cli';
import { KEYS, receiverEnv, startReceivers, type Receivers } from '../helpers/alert-receivers';
import { signToken } from '../../src/lib/server/auth/sign';
import { pngSize } from '../../src/lib/server/alerts/render/png';

const AS_OF = DEMO_AS_OF;
const SECRET = 'alerts-cli-secret-0123456789-abcdefgh';
const dir = mkdtempSync(join(tmpdir(), 'cli-alerts-'));
const db = join(dir, 'demo.duckdb');
const configFile = join(dir, 'cockpit.config.json');
let rx: Receivers;
let env: Record<string, string>;

beforeAll(async () => {
  rx = await startReceivers();
  env = receiverEnv(rx.base);
  // the small demo company, generated once per run by the project's global setup
  copyFileSync(inject('demoTemplate'), db);
  writeFileSync(
    configFile,
    JSON.stringify({
      alerts: {
        public_url: 'http://127.0.0.1:9',
        channels: { hook: { type: 'webhook', url_env: 'HOOK_URL', secret_env: 'HOOK_SECRET' }, wecom: { type: 'wecom', url_env: 'WECOM_URL', audiences: ['R1'] } },
        rules: [
          {
            name: 'overdue-large',
            title: { 'zh-CN': '大额逾期回款', en: 'Large overdue payments' },
            model: 'payment_list',
            params: { state: 'overdue', period: 'all', sort: 'outstanding', as_of: AS_OF, limit: 500 },
            condition: { type: 'rows', where: [{ field: 'outstanding', op: '>=', value: 500000 }] },
            audience: { role: 'manager', teams: ['R1', 'R2', 'R3'] },
            schedule: '0 9 * * 1-5',
            channels: ['hook', 'wecom']
          }
        ],
        reports: [{ name: 'weekly', board: 'payments', view: `period=this_quarter&as_of=${AS_OF}`, audience: { role: 'executive' }, schedule: '0 9 * * 1', channels: ['hook'], locale: 'en' }]
      }
    })
  );
}, 120_000);

afterAll(async () => {
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI as a child process, awaited without blocking: the receivers answer from this process. */
function run(args: string[], extra: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cockpit.js'), 'alerts', ...args, '--config', configFile, '--db', db], {
    cwd: ROOT,
    env: { ...process.env, COCKPIT_CONFIG: '', ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('close', (status) => res({ status, stdout, stderr })));
}

/** The same command in this process (the receivers still answer: the CLI's requests are async). */
const runIn = (args: string[], extra: Record<string, string> = {}) => cockpitIn(['alerts', ...args, '--config', configFile, '--db', db], { ...env, ...extra });

describe('cockpit alerts', () => {
  it('test prints each payload with the secrets masked, and sends nothing', async () => {
    const r = await runIn(['test', 'overdue-large', '--member', 'R1']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('rule overdue-large: 1 audience member(s) — dry run');
    expect(r.stdout).toMatch(/── R1 华东 \(manager\): firing, \d+ row\(s\)/);
    expect(r.stdout).toContain('x-cockpit-signature: t=');
    expect(r.stdout).toContain('"msgtype": "markdown"');
    expect(r.stdout).toContain('key=***');
    expect(r.stdout).not.toContain(KEYS.wecomKey);
    expect(r.stdout).not.toContain(KEYS.webhookSecret);
    expect(rx.received).toHaveLength(0);
  });

  it('run delivers, a second run sends nothing new, and the list shows the log', async () => {
    const first = await run(['run', 'overdue-large']);
    expect(first.status, first.stdout + first.stderr).toBe(0);
    const firing = (first.stdout.match(/: firing, /g) ?? []).length;
    expect(firing).toBeGreaterThan(0);
    // The webhook for every firing region, WeCom for 华东 only (its group); each request verified by the receiver.
    expect(rx.received.filter((x) => x.platform === 'webhook')).toHaveLength(firing);
    expect(rx.received.filter((x) => x.platform === 'wecom')).toHaveLength(1);
    expect(rx.received.flatMap((x) => x.problems)).toEqual([]);
    const second = await runIn(['run', 'overdue-large']);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('duplicate');
    expect(rx.received).toHaveLength(firing + 1);
    const list = await runIn([]);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain('overdue-large  rule    payment_list');
    expect(list.stdout).toMatch(/overdue-large\s+R1 华东\s+firing|overdue-large\s+R\d \S+\s+(firing|ok)/);
    expect(list.stdout).toContain('(webhook)');
    expect(list.stdout).not.toContain(KEYS.wecomKey);
  });

  it('names a missing environment variable, never a value', async () => {
    const r = await runIn(['test', 'overdue-large', '--member', 'R1'], { HOOK_SECRET: '' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('channel "hook": environment variable HOOK_SECRET (named by secret_env) is not set');
  });

  it('with the server holding the database: the CLI asks it; admin page and API for executives only', async () => {
    const server = await startServer(['--db', db, '--config', configFile], { ...env, COCKPIT_SECRET: SECRET });
    try {
      const r = await runIn(['run', 'weekly'], { COCKPIT_SECRET: SECRET });
      expect(r.stderr).toContain('held by the running server');
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const report = rx.received.at(-1)!;
      expect(report.problems).toEqual([]);
      expect(report.headers['x-cockpit-event']).toBe('report');
      const sign = (role: string, extra = {}) => signToken({ secret: SECRET, audience: 'crm-cockpit', issuer: 'crm-cockpit', ttlSeconds: 600, claims: { sub: 'u', role: role as never, ...extra } });
      const exec = await sign('executive');
      const rep = await sign('rep', { scope: { owner_ids: ['U001'] } });
      const api = await fetch(`${server.url}/api/alerts`, { headers: { authorization: `Bearer ${exec}` } });
      expect(api.status).toBe(200);
      const o = (await api.json()) as { items: { name: string }[]; deliveries: { rule: string; status: string }[] };
      expect(o.items.map((i) => i.name)).toEqual(['overdue-large', 'weekly']);
      expect(o.deliveries.some((d) => d.rule === 'weekly' && d.status === 'sent')).toBe(true);
      expect((await fetch(`${server.url}/api/alerts`, { headers: { authorization: `Bearer ${rep}` } })).status).toBe(403);
      expect((await fetch(`${server.url}/api/alerts`)).status).toBe(401);
      const page = await fetch(`${server.url}/admin/alerts?lang=en`, { headers: { authorization: `Bearer ${exec}` } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('Alerts and reports');
      expect(html).toContain('overdue-large');
      expect((await fetch(`${server.url}/admin/alerts`, { headers: { authorization: `Bearer ${rep}` } })).status).toBe(403);
      // The report's chart, at the capability URL the message carried (public_url points elsewhere).
      const imageUrl = String(report.body.image_url);
      const img = await fetch(`${server.url}${new URL(imageUrl).pathname}`);
      expect(img.status).toBe(200);
      expect(img.headers.get('content-type')).toBe('image/png');
      expect(pngSize(Buffer.from(await img.arrayBuffer()))?.width).toBe(1280);
      expect((await fetch(`${server.url}/alerts/image/${'0'.repeat(32)}.png`)).status).toBe(404);
      expect(server.output()).toContain('alerts: 1 rule(s) and 1 report(s) scheduled');
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((res) => server.child.once('exit', res));
    }
  }, 180_000);
});

