/**
 * The `cockpit` command as a user runs it, on real database files: real processes (`cockpit`)
 * for each command family end to end, the rest in-process (`cockpitIn`, tests/helpers/cli.ts:
 * the same main(), ~1 CPU s less per run).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { cockpit } from '../helpers/global-setup';
import { cockpitIn } from '../helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'cli-'));
const db = join(dir, 'demo.duckdb');
const AS_OF = inject('demoAsOf');
const ROOT = resolve(import.meta.dirname, '../..');

beforeAll(() => {
  // The small demo company (DEMO_SEED, as of AS_OF), generated once per run by the project's
  // setup with `cockpit demo`: a copy is the same data as generating it again here. What
  // `cockpit demo` prints is checked where this file runs it (the --force test below).
  copyFileSync(inject('demoTemplate'), db);
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

  it('every command answers --help', async () => {
    for (const c of ['demo', 'serve', 'metric', 'build']) {
      const r = await cockpitIn([c, '--help']);
      expect(r.status, c).toBe(0);
      expect(r.stdout, c).toContain(`Usage: cockpit ${c}`);
    }
  });

  it('rejects an unknown option by name', async () => {
    const r = await cockpitIn(['demo', '--scal', 'small', '--db', db]);
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

  it('prints a table by default', async () => {
    const r = await cockpitIn(['metric', 'kpis', '--param', `as_of=${AS_OF}`, '--db', db]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Key metrics / 核心指标');
    expect(r.stdout).toContain('won_amount');
  });

  it('takes repeated params as several values', async () => {
    const one = JSON.parse((await cockpitIn(['metric', 'funnel', '-p', 'owner=U006', '-p', 'period=all', '--json', '--db', db])).stdout);
    const two = JSON.parse((await cockpitIn(['metric', 'funnel', '-p', 'owner=U006', '-p', 'owner=U007', '-p', 'period=all', '--json', '--db', db])).stdout);
    expect(one.n).toBeGreaterThan(0);
    expect(two.n).toBeGreaterThan(one.n);
  });

  it('a bad parameter exits 2 and names it', async () => {
    const r = await cockpitIn(['metric', 'funnel', '--param', 'group_by=weekday', '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('group_by:');
  });

  it('an unknown model exits 2 and lists the models', async () => {
    const r = await cockpitIn(['metric', 'funel', '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown model "funel"');
    expect(r.stderr).toContain('funnel');
  });

  it('piped into a reader that stops early (`| head`), it ends quietly instead of printing a stack trace', () => {
    // 1,000 deals as JSON is more than a pipe holds: the writes after `head -c 1` exits fail with EPIPE.
    const cmd = `"${process.execPath}" bin/cockpit.js metric deals --param limit=1000 --param as_of=${AS_OF} --json --db "${db}" | head -c 1`;
    const r = spawnSync('sh', ['-c', `${cmd} >/dev/null`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COCKPIT_CONFIG: '' }, timeout: 180_000 });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('a command whose reader stops early still runs to its end and exits with its own code', async () => {
    // `cockpit demo … | head -n 1`: the generator's progress lines after the first go nowhere, the
    // company is still generated whole (an early exit on EPIPE once left an empty database and exit 0).
    const target = join(dir, 'piped-demo.duckdb');
    const demo = `"${process.execPath}" bin/cockpit.js demo --scale small --as-of ${AS_OF} --db "${target}" 2>&1 | head -n 1`;
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', `${demo} >/dev/null`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COCKPIT_CONFIG: '' }, timeout: 180_000 });
    expect(r.status, r.stderr).toBe(0);
    const inst = await DuckDBInstance.create(target, { access_mode: 'READ_ONLY' });
    const conn = await inst.connect();
    const n = Number((await conn.runAndReadAll('SELECT count(*) AS n FROM opportunities')).getRowObjects()[0].n);
    conn.closeSync();
    inst.closeSync();
    expect(n).toBeGreaterThan(1000);
    // and a failing command keeps its exit code through the pipe
    const bad = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" bin/cockpit.js metric no_such_model --db "${target}" 2>&1 | head -c 1 >/dev/null`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, COCKPIT_CONFIG: '' }, timeout: 180_000 });
    expect(bad.status).toBe(2);
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
    const init = await cockpitIn(['metric', 'kpis', '--db', other]); // creates and migrates the file
    expect(init.status, init.stderr).toBe(0);
    const inst = await DuckDBInstance.create(other);
    const c = await inst.connect();
    await c.run(`INSERT INTO opportunities (opportunity_id, stage, status) VALUES ('REAL-1', '初步接洽', 'open')`);
    c.closeSync();
    inst.closeSync();
    const r = await cockpitIn(['demo', '--scale', 'small', '--db', other]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('did not come from the demo generator');
    const forced = cockpit(['demo', '--scale', 'small', '--db', other, '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/demo data generated in [\d.]+ s: teams 12, users 72, customers 2,000, opportunities 6,000/);
  });

  it('a bad config exits 2 listing every issue with its path', async () => {
    const cfg = join(dir, 'bad.config.json');
    writeFileSync(cfg, JSON.stringify({ curency: 'CNY', fiscal_year_start_month: 0, sources: [{ name: 'x', type: 'csv', entity: 'opportunities', columns: { amout: '金额' } }] }));
    const r = await cockpitIn(['metric', 'kpis', '--config', cfg, '--db', db]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('curency: unknown field "curency"; did you mean "currency"?');
    expect(r.stderr).toContain('fiscal_year_start_month:');
    expect(r.stderr).toContain('sources[0].columns.amout: unknown field "amout" for opportunities; did you mean "amount"?');
  });
});

describe('cockpit import of a targets sheet with a region column', () => {
  // A sales-ops sheet: one company target and its split by customer region, in 万元, the region
  // column headed as Chinese sheets head it (区域, 大区 or 地区).
  for (const header of ['区域', '大区', '地区']) {
    it(`maps “${header}” to the target’s region, and a region’s attainment divides by its own target`, async () => {
      const file = join(dir, `targets-${header}.csv`);
      writeFileSync(
        file,
        `目标编号,团队,开始日期,结束日期,目标金额（万元）,${header}\n` +
          'G-ALL,T00,2026-04-01,2026-07-01,800,\n' +
          'G-SH,T00,2026-04-01,2026-07-01,500,上海\n' +
          'G-BJ,T00,2026-04-01,2026-07-01,300,北京\n'
      );
      const target = join(dir, `targets-${header}.duckdb`);
      const r = await cockpitIn(['import', file, '--entity', 'targets', '--db', target]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('rows 3: loaded 3, updated 0, rejected 0, skipped 0');
      expect(r.stdout).toMatch(new RegExp(`region\\s+← ${header} {2}\\(auto\\)`));
      const inst = await DuckDBInstance.create(target);
      const c = await inst.connect();
      const rows = (await c.runAndReadAll(`SELECT target_id, team_id, region, amount::DOUBLE AS amount FROM targets ORDER BY target_id`)).getRowObjectsJson();
      c.closeSync();
      inst.closeSync();
      expect(rows).toEqual([
        { target_id: 'G-ALL', team_id: 'T00', region: null, amount: 8_000_000 },
        { target_id: 'G-BJ', team_id: 'T00', region: '北京', amount: 3_000_000 },
        { target_id: 'G-SH', team_id: 'T00', region: '上海', amount: 5_000_000 }
      ]);
      // The kpis model reads the regional row for a region, the company row without one.
      const k = async (region: string | null) => {
        const args = ['metric', 'kpis', '--param', 'from=2026-04-01', '--param', 'to=2026-07-01', '--json', '--db', target];
        if (region) args.push('--param', `region=${region}`);
        const out = await cockpitIn(args);
        expect(out.status, out.stderr).toBe(0);
        return JSON.parse(out.stdout).summary as { target: number | null };
      };
      expect((await k('上海')).target).toBe(5_000_000);
      expect((await k(null)).target).toBe(8_000_000);
      expect((await k('广东')).target).toBeNull();
    });
  }
});

describe('cockpit import reports the forecast’s data-quality counts', () => {
  it('counts the open deals the amount fallback and the missing/past-due close-date rules touch', async () => {
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    const file = join(dir, 'dq-deals.csv');
    // O1: no amount, no close date; O2: no amount; O3: close date 60 days past; O4: complete;
    // O5: won 30 days ago with an amount (what the fallback averages).
    writeFileSync(
      file,
      '商机编号,客户名称,商机阶段,金额,预计成交日期,成交日期,负责人\n' +
        'O1,甲公司,初步接洽,,,,张三\n' +
        `O2,乙公司,方案报价,,${day(60)},,张三\n` +
        `O3,丙公司,商务谈判,50000,${day(-60)},,李四\n` +
        `O4,丁公司,初步接洽,80000,${day(60)},,李四\n` +
        `O5,戊公司,赢单,60000,${day(-30)},${day(-30)},李四\n`
    );
    const target = join(dir, 'dq.duckdb');
    const r = cockpit(['import', file, '--entity', 'opportunities', '--json', '--db', target]);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    // Independently, from the stored deals: open ones without an amount (a won amount exists to
    // fall back on), without a close date, with one before yesterday.
    const inst = await DuckDBInstance.create(target);
    const c = await inst.connect();
    const x = (await c.runAndReadAll(`SELECT
        count(*) FILTER (WHERE amount IS NULL)::INTEGER AS no_amount,
        count(*) FILTER (WHERE expected_close_date IS NULL)::INTEGER AS undated,
        count(*) FILTER (WHERE expected_close_date < '${day(-1)}')::INTEGER AS past_due,
        (SELECT count(*) FROM opportunities WHERE status = 'won' AND amount > 0)::INTEGER AS won_with_amount
      FROM opportunities WHERE status = 'open'`)).getRowObjectsJson()[0];
    c.closeSync();
    inst.closeSync();
    expect(x).toEqual({ no_amount: 2, undated: 1, past_due: 1, won_with_amount: 1 });
    expect(report.data_quality).toEqual({ amount_fallback: 2, amount_missing: 0, undated: 1, past_due: 1 });
    // The terminal report says it too.
    const again = await cockpitIn(['import', file, '--entity', 'opportunities', '--db', target]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("open deals the forecast's data-quality rules touched: amount fallback 2, no amount 0, no close date 1, close date past 1");
  }, 60_000);
});
