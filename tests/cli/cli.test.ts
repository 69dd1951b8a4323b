/** The `cockpit` command as a user runs it: real processes, real database files. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { cockpit, DEMO_SEED } from '../helpers/global-setup';

const dir = mkdtempSync(join(tmpdir(), 'cli-'));
const db = join(dir, 'demo.duckdb');
const AS_OF = inject('demoAsOf');

beforeAll(() => {
  const r = cockpit(['demo', '--scale', 'small', '--seed', String(DEMO_SEED), '--as-of', AS_OF, '--db', db]);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/demo data generated in [\d.]+ s: teams 12, users 72, customers 2,000, opportunities 6,000/);
});

describe('cockpit', () => {
  it('lists its commands with --help, and rejects an unknown one', () => {
    const help = cockpit(['--help']);
    expect(help.status).toBe(0);
    for (const c of ['demo', 'serve', 'metric', 'build']) expect(help.stdout).toContain(`  ${c}`);
    const bad = cockpit(['sevre']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown command "sevre"');
  });

  it('every command answers --help', () => {
    for (const c of ['demo', 'serve', 'metric', 'build']) {
      const r = cockpit([c, '--help']);
      expect(r.status, c).toBe(0);
      expect(r.stdout, c).toContain(`Usage: cockpit ${c}`);
    }
  });

  it('rejects an unknown option by name', () => {
    const r = cockpit(['demo', '--scal', 'small', '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("'--scal'");
  });
});

describe('cockpit metric', () => {
  it('prints a model as JSON, with the same figures the API serves for the same data', async () => {
    const r = cockpit(['metric', 'funnel', '--param', 'period=this_year', '--param', `as_of=${AS_OF}`, '--json', '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    const cli = JSON.parse(r.stdout);
    const api = await (await fetch(`${inject('baseUrl')}/api/models/funnel?period=this_year&as_of=${AS_OF}`)).json();
    expect(cli.rows).toEqual(api.rows);
    expect(cli.n).toBe(api.n);
  });

  it('prints a table by default', () => {
    const r = cockpit(['metric', 'kpis', '--param', `as_of=${AS_OF}`, '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Key metrics / 核心指标');
    expect(r.stdout).toContain('won_amount');
  });

  it('takes repeated params as several values', async () => {
    const one = JSON.parse(cockpit(['metric', 'funnel', '-p', 'owner=U006', '-p', 'period=all', '--json', '--db', db]).stdout);
    const two = JSON.parse(cockpit(['metric', 'funnel', '-p', 'owner=U006', '-p', 'owner=U007', '-p', 'period=all', '--json', '--db', db]).stdout);
    expect(one.n).toBeGreaterThan(0);
    expect(two.n).toBeGreaterThan(one.n);
  });

  it('a bad parameter exits 2 and names it', () => {
    const r = cockpit(['metric', 'funnel', '--param', 'group_by=weekday', '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('group_by:');
  });

  it('an unknown model exits 2 and lists the models', () => {
    const r = cockpit(['metric', 'funel', '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown model "funel"');
    expect(r.stderr).toContain('funnel');
  });

  it('the server’s database is locked: the CLI says so instead of failing obscurely', () => {
    const r = cockpit(['metric', 'kpis', '--db', inject('dbPath')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('in use by another process');
  });
});

describe('cockpit demo and configuration', () => {
  it('refuses to replace data that did not come from the generator, unless --force', async () => {
    const other = join(dir, 'real.duckdb');
    const init = cockpit(['metric', 'kpis', '--db', other]); // creates and migrates the file
    expect(init.status, init.stderr).toBe(0);
    const inst = await DuckDBInstance.create(other);
    const c = await inst.connect();
    await c.run(`INSERT INTO opportunities (opportunity_id, stage, status) VALUES ('REAL-1', '初步接洽', 'open')`);
    c.closeSync();
    inst.closeSync();
    const r = cockpit(['demo', '--scale', 'small', '--db', other]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('did not come from the demo generator');
    expect(cockpit(['demo', '--scale', 'small', '--db', other, '--force']).status).toBe(0);
  });

  it('a bad config exits 2 listing every issue with its path', () => {
    const cfg = join(dir, 'bad.config.json');
    writeFileSync(cfg, JSON.stringify({ curency: 'CNY', fiscal_year_start_month: 0, sources: [{ name: 'x', type: 'csv', entity: 'opportunities', columns: { amout: '金额' } }] }));
    const r = cockpit(['metric', 'kpis', '--config', cfg, '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('curency: unknown field "curency"; did you mean "currency"?');
    expect(r.stderr).toContain('fiscal_year_start_month:');
    expect(r.stderr).toContain('sources[0].columns.amout: unknown field "amout" for opportunities; did you mean "amount"?');
  });
});
