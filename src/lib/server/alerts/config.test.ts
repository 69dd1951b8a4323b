/**
 * The `alerts` configuration: every problem at once with its path (schema errors, unknown
 * channels, model parameters checked by the model's own schema, row fields, schedules,
 * duplicate names), and schedules and quiet hours computed in the business time zone.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load';
import { isQuiet, nextRun, parseCron, quietEnd } from './cron';

describe('alerts config', () => {
  it('reports every problem at once, with paths and suggestions', () => {
    const r = parseConfig({
      alerts: {
        public_url: 'ftp://x',
        channels: { wc: { type: 'wecom', url_env: 'WECOM_URL' }, bad: { type: 'dingtalk', url: 'https://oapi.dingtalk.com/robot/send?access_token=x' } },
        rules: [
          {
            name: 'stalled',
            model: 'deals',
            params: { perid: 'this_year', status: 'open' },
            condition: { type: 'rows', where: [{ field: 'days_idel', op: '>=', value: 3 }] },
            audience: { role: 'rep' },
            schedule: '0 9 * * 1-5',
            channels: ['wc', 'wx']
          },
          { name: 'stalled', model: 'kpi', condition: { type: 'threshold', field: 'value', op: '<', value: 0.2 }, audience: { role: 'manager' }, schedule: '61 * * * *', channels: ['wc'] }
        ]
      }
    });
    expect(r.ok).toBe(false);
    const issues = (r as { issues: string[] }).issues;
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^alerts\.public_url: /),
        'alerts.channels.bad.url: unknown field "url" (expected one of: type, url_env, secret_env, audiences, message)',
        'alerts.rules[1].audience.teams: a manager audience names its teams, e.g. ["R1", "R2"]',
        'alerts.rules[0].channels[1]: unknown channel "wx"; did you mean "wc"? (channels: wc, bad)',
        'alerts.rules[0].params.perid: unknown parameter "perid" of deals; did you mean "period"?',
        expect.stringMatching(/^alerts\.rules\[0\]\.condition\.where\[0\]\.field: deals rows have no field "days_idel"; did you mean "days_idle"\?/),
        'alerts.rules[1].name: duplicate name "stalled" (also rules[0]); rules and reports share one namespace',
        'alerts.rules[1].schedule: invalid schedule "61 * * * *": minute: "61" is outside 0–59',
        expect.stringMatching(/^alerts\.rules\[1\]\.model: unknown model "kpi"; did you mean "kpis"\?/)
      ])
    );
    expect(issues.some((i) => i.startsWith('alerts.channels.bad.url_env'))).toBe(true);
  });

  it('refuses a secret written into the config instead of an environment variable name', () => {
    const r = parseConfig({ alerts: { channels: { s: { type: 'slack', url_env: 'https://hooks.slack.com/services/T0/B0/xyz' } } } });
    expect((r as { issues: string[] }).issues[0]).toMatch(/^alerts\.channels\.s\.url_env: expected the NAME of an environment variable/);
  });

  it('accepts a complete configuration and fills the defaults', () => {
    const r = parseConfig({
      alerts: {
        channels: { ding: { type: 'dingtalk', url_env: 'D', secret_env: 'DS' } },
        rules: [{ name: 'win-rate', model: 'kpis', params: { period: 'this_quarter' }, condition: { type: 'change', field: 'value', vs: 'previous_period', op: '<', value: -0.05, where: { measure: 'win_rate' } }, audience: { role: 'manager', teams: ['R1'], expand: 'children' }, schedule: '@daily', channels: ['ding'] }],
        reports: [{ name: 'weekly', board: 'wall-overview', audience: { role: 'executive' }, schedule: '0 8 * * 1', channels: ['ding'] }]
      }
    });
    expect(r.ok).toBe(true);
    const a = (r as unknown as { config: { alerts: { attempts: number; locale: string; channels: { ding: { message: string } }; rules: { recovery: boolean }[]; reports: { kpis: string[] }[] } } }).config.alerts;
    expect(a.attempts).toBe(4);
    expect(a.locale).toBe('zh-CN');
    expect(a.channels.ding.message).toBe('actionCard');
    expect(a.rules[0].recovery).toBe(true);
    expect(a.reports[0].kpis).toContain('won_amount');
  });
});

describe('schedules', () => {
  const tz = 'Asia/Shanghai';
  it('runs at wall-clock times in the business time zone', () => {
    // 09:00 on weekdays in Shanghai is 01:00 UTC; 2026-05-22 is a Friday.
    expect(nextRun('0 9 * * 1-5', new Date('2026-05-22T00:30:00Z'), tz)?.toISOString()).toBe('2026-05-22T01:00:00.000Z');
    expect(nextRun('0 9 * * 1-5', new Date('2026-05-22T01:00:00Z'), tz)?.toISOString()).toBe('2026-05-25T01:00:00.000Z'); // Monday
    expect(nextRun('*/15 * * * *', new Date('2026-05-22T01:07:00Z'), tz)?.toISOString()).toBe('2026-05-22T01:15:00.000Z');
    expect(nextRun('@weekly', new Date('2026-05-22T00:00:00Z'), tz)?.toISOString()).toBe('2026-05-23T16:00:00.000Z'); // Sunday 00:00 local
    expect(nextRun('0 8 1 * *', new Date('2026-05-22T00:00:00Z'), tz)?.toISOString()).toBe('2026-06-01T00:00:00.000Z');
    // Day of month OR day of week when both are restricted (crontab(5)): the 15th, or a Monday.
    expect(nextRun('0 0 15 * mon', new Date('2026-05-12T00:00:00Z'), 'UTC')?.toISOString()).toBe('2026-05-15T00:00:00.000Z');
    expect(nextRun('0 0 31 2 *', new Date('2026-01-01T00:00:00Z'), 'UTC')).toBeNull();
  });

  it('skips a wall time that does not exist on a DST change', () => {
    // New York springs forward on 2026-03-08: 02:30 does not exist that day.
    expect(nextRun('30 2 * * *', new Date('2026-03-07T12:00:00Z'), 'America/New_York')?.toISOString()).toBe('2026-03-09T06:30:00.000Z');
  });

  it('parses names and steps, and rejects what crontab rejects', () => {
    expect([...parseCron('0 9 * jan-mar mon,wed').month.values]).toEqual([1, 2, 3]);
    expect([...parseCron('0 9 * * 7').dow.values]).toEqual([0]);
    expect(() => parseCron('0 9 * *')).toThrow(/5 fields/);
    expect(() => parseCron('0 25 * * *')).toThrow(/hour/);
  });

  it('knows quiet hours across midnight and quiet days', () => {
    const q = { from: '22:00', to: '08:00', days: [0] };
    expect(isQuiet(new Date('2026-05-20T14:30:00Z'), q, tz)).toBe(true); // 22:30 Wednesday
    expect(isQuiet(new Date('2026-05-20T23:59:00Z'), q, tz)).toBe(true); // 07:59 Thursday
    expect(isQuiet(new Date('2026-05-21T00:00:00Z'), q, tz)).toBe(false); // 08:00
    expect(isQuiet(new Date('2026-05-24T04:00:00Z'), q, tz)).toBe(true); // Sunday noon
    expect(quietEnd(new Date('2026-05-20T14:30:00Z'), q, tz).toISOString()).toBe('2026-05-21T00:00:00.000Z');
    // Saturday 23:00 → past the quiet Sunday → Monday 08:00.
    expect(quietEnd(new Date('2026-05-23T15:00:00Z'), q, tz).toISOString()).toBe('2026-05-25T00:00:00.000Z');
  });
});
