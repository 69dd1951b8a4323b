/**
 * The SQL path for CSV files (connectors/load/csv-sql.ts) against the JS path it replaces.
 *
 * 1. Each value macro against the JS function it mirrors, value by value: every cell of the
 *    CSV fixtures, a list of ledger forms, and seeded random strings over the characters the
 *    parsers care about. A macro may decline a value (NULL: the JS parser takes it); what it
 *    answers must be what JS answers.
 * 2. Whole imports: each CSV (the Maven fixture and messy ledgers written here) imported through
 *    both paths into two DuckDB files; every canonical table, the history, the rejected rows and
 *    the report must be identical, and the SQL path must have been the one that ran.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../warehouse/prng';
import { expectSameImport, importOnce, type Imported } from '../helpers/both-paths';
import { MACROS } from '../../connectors/load/csv-sql';
import { cleanText, isBlank, parseAmount, parseDate, PLACEHOLDER } from '../../connectors/pipeline/values';
import { CsvParser } from '../../connectors/file/csv';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'csv-sql-'));

// ---------------------------------------------------------------- values
/** Deterministic pseudo-random numbers (the demo's and the forecast's mulberry32). */
const rng = mulberry32;

const FORMS = [
  '', ' ', '  ', '\t', '\u3000', '\u00a0', '\u2003x\u2003', ' a  b ', 'Ａｂｃ　１２３', '１２３４５', '－', '-', '--', '—', '/', 'N/A', 'n/a', 'NA', 'null', 'NULL', '无', '暂无', ' - ',
  '0', '-0', '1', '12000', '-3.5', '1234.567', '1234.565', '0.005', '-0.005', '1.005', '2.675', '999999999999999', '1e5', '.5', '5.', '+5', '0012', '1,200.50', '¥3.5万', '12万', '(1,000)', '1000-', 'RMB 100', '100元',
  '2024-03-05', '2024-3-5', '2024/03/05', '2024年3月5日', '20240305', '2024-02-29', '2023-02-29', '2024-13-01', '2024-00-10', '2024-01-32', '0999-01-01', '1969-12-31', '1970-01-01', '2100-12-31', '2101-01-01',
  '2024-03-05 10:20:30', '2024-03-05 24:00:00', '2024-03-05 23:60:00', '2024-03-05 23:59:60', '2024-03-05T10:20:30', '2024-03-05 10:20', '45000', '25/4/15', '15/04/2025',
  '合计', '总计：', 'Total', 'ＴＯＴＡＬ', 'sub-total', '华南区小计', '注：以上为预计', 'Note: x', '说明:', 'summary', 'assumption',
  'a"b', 'a\\b', 'line\nbreak', 'cr\r\nlf', 'tab\there', 'bell\u0007', 'é', '😀', '客户A', 'ACME Corp.', "O'Brien"
];

function randomStrings(n: number, seed: number): string[] {
  const r = rng(seed);
  const alphabet = [...'0123456789-.,/:年月日万亿元¥￥ ()（）１２３－．，　\u00a0\tabcxyzTOAL合计注kKmM', '\u2003', '\n', '"', '\\'];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.floor(r() * 12);
    let s = '';
    for (let k = 0; k < len; k++) s += alphabet[Math.floor(r() * alphabet.length)];
    out.push(s);
  }
  // Numbers and dates shaped as the fast paths accept them, with random digits.
  for (let i = 0; i < n; i++) {
    const d = () => String(Math.floor(r() * 10));
    out.push(`${r() < 0.3 ? '-' : ''}${Array.from({ length: 1 + Math.floor(r() * 9) }, d).join('')}${r() < 0.5 ? '.' + Array.from({ length: 1 + Math.floor(r() * 4) }, d).join('') : ''}`);
    const y = 1960 + Math.floor(r() * 150);
    const p = (x: number) => String(x).padStart(2, '0');
    out.push(`${y}-${p(Math.floor(r() * 14))}-${p(Math.floor(r() * 33))}${r() < 0.5 ? ` ${p(Math.floor(r() * 26))}:${p(Math.floor(r() * 62))}:${p(Math.floor(r() * 62))}` : ''}`);
  }
  return out;
}

function fixtureCells(): string[] {
  const out: string[] = [];
  const files = readdirSync(join(ROOT, 'tests/fixtures/maven-crm')).map((f) => join(ROOT, 'tests/fixtures/maven-crm', f));
  files.push(join(ROOT, 'tests/fixtures/heldout/客户名单.csv'), join(ROOT, 'tests/fixtures/deals-gbk.csv'));
  for (const f of files) {
    const bytes = readFileSync(f);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      text = new TextDecoder('gb18030').decode(bytes);
    }
    const rows: { cells: string[]; line: number }[] = [];
    const p = new CsvParser(',');
    p.push(text, rows);
    p.end(rows);
    for (const r of rows) out.push(...r.cells);
  }
  return [...new Set(out)];
}

let con: DuckDBConnection;
let values: string[];

beforeAll(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  con = await inst.connect();
  for (const m of MACROS) await con.run(m);
  values = [...new Set([...FORMS, ...fixtureCells(), ...randomStrings(3000, 15)])];
  await con.run(`CREATE TABLE v (i INTEGER, s VARCHAR)`);
  const app = await con.createAppender('v');
  values.forEach((s, i) => {
    app.appendInteger(i);
    app.appendVarchar(s);
    app.endRow();
  });
  app.closeSync();
});

async function column<T>(expr: string): Promise<T[]> {
  const r = await con.runAndReadAll(`SELECT ${expr} AS x FROM v ORDER BY i`);
  return r.getRowObjectsJS().map((x) => x.x as T);
}

describe('the value macros answer as the JS parsers', () => {
  it('vc_clean is cleanText, vc_blank is isBlank, vc_placeholder is PLACEHOLDER on trimmed text', async () => {
    expect(values.length).toBeGreaterThan(6000);
    const clean = await column<string>('vc_clean(s)');
    const blank = await column<boolean>('vc_blank(s)');
    const ph = await column<boolean>('vc_placeholder(s)');
    values.forEach((s, i) => {
      expect([s, clean[i]]).toEqual([s, cleanText(s)]);
      expect([s, blank[i]]).toEqual([s, isBlank(s)]);
      expect([s, ph[i]]).toEqual([s, PLACEHOLDER.test(s.trim())]);
    });
  });

  it('vc_amount is parseAmount (unit 1 and 10,000) where it answers, and answers plain numbers', async () => {
    for (const unit of [1, 10000, 0.01]) {
      const got = await column<number | null>(`vc_amount(s, ${unit}::DOUBLE)`);
      let answered = 0;
      values.forEach((s, i) => {
        if (got[i] === null) return;
        answered++;
        const p = parseAmount(s, unit);
        expect([s, p.ok && p.value]).toEqual([s, got[i]]);
      });
      expect(answered).toBeGreaterThan(2500);
    }
    expect(await con.runAndReadAll(`SELECT vc_amount('1.005', 1::DOUBLE) a, vc_amount('-2.675', 1::DOUBLE) b`).then((r) => r.getRowObjectsJS()[0])).toEqual({
      a: Math.round(1.005 * 100) / 100,
      b: Math.round(-2.675 * 100) / 100
    });
  });

  it('vc_date is parseDate (default and narrowed range) where it answers', async () => {
    for (const [lo, hi] of [
      ['1970-01-01', '2100-12-31'],
      ['2000-01-01', '2030-06-30']
    ]) {
      const got = await column<string | null>(`vc_date(s, '${lo}', '${hi}')`);
      let answered = 0;
      values.forEach((s, i) => {
        if (got[i] === null) return;
        answered++;
        const p = parseDate(s, 'Asia/Shanghai', { min: lo, max: hi });
        expect([s, p.ok && p.value]).toEqual([s, got[i]]);
      });
      expect(answered).toBeGreaterThan(500);
    }
  });

  it('vc_json is JSON.stringify for the strings it is used on', async () => {
    const got = await column<string>('vc_json(s)');
    const odd = await column<boolean>('vc_json_odd(s)');
    values.forEach((s, i) => {
      if (!odd[i]) expect(got[i]).toBe(JSON.stringify(s));
      else expect(/[\x00-\x07\x0b\x0e-\x1f]/.test(s)).toBe(true);
    });
  });

  it('vc_sumword flags every summary or note label (a superset: the JS row shaper decides)', async () => {
    const got = await column<boolean>('vc_sumword(s)');
    const SUMMARY = /^(合计|总计|小计|共计|总合计|累计|total|totals|subtotal|sub-total|grandtotal|sum)[:：]?$/i;
    const LOOSE = /^(?:.{1,8}(?:合计|小计|总计)|(?:合计|小计|总计)[(:：].{0,12})$/;
    const NOTE = /^(?:注|备注|说明|注释|附注|note|notes)\s*\d*\s*[:：]/i;
    values.forEach((s, i) => {
      const t = cleanText(s).replace(/\s+/g, '');
      if (SUMMARY.test(t) || LOOSE.test(t) || NOTE.test(cleanText(s))) expect([s, got[i]]).toEqual([s, true]);
    });
  });
});

// ---------------------------------------------------------------- whole imports
const HEAD = '商机编号,商机名称,客户名称,负责人,销售阶段,预计成交金额（万元）,币种,赢率,预测类别,创建日期,预计成交日期,赢单/输单日期,所在地区,备注,2024';

/** A messy deals ledger: every value form the parsers know, rejections, skips, quoting. */
function messy(n: number, seed: number): string {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const stages = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单', ' 赢单 ', '签约', '未知阶段', ''];
  const amounts = ['12', '3.5', '-2', '1,200.50', '¥3.5万', '120000元', '１２', '(5)', '-', 'N/A', '', 'abc', '2亿', '0.005', '7k', ' 8 '];
  const dates = ['2024-03-05', '2024/3/5', '2024年3月5日', '20240305', '45000', '2024-02-30', '2024-03-05 10:20:30', '1960-01-01', '', '-', '25/4/15', '15/04/2025', '2024-03', '2024-03-05T08:00:00Z'];
  const names = ['上海某某科技有限公司', ' 杭州 云端 ', 'ＡＢＣ公司', 'O\'Brien & Co', '客户"引号"', '多行\n客户', '', '北京（集团）', 'acme, inc.'];
  const owners = ['张伟', '李娜', ' 王 芳 ', '', 'u1'];
  const regions = ['上海市', '浙江省', '广东', '新疆维吾尔自治区', '', '　'];
  const fcs = ['pipeline', 'Best Case', 'commit', 'omitted', '', 'maybe'];
  const probs = ['30%', '0.4', '55', '', '120%', 'x'];
  const currencies = ['', '', 'CNY', 'cny', 'USD', 'ß'];
  const notes = ['', '', 'VIP', 'tab\there', 'bell\u0007', '"quoted"', 'a\\b', '第二行\n第三行', '客户要求, 分期'];
  const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = ['2024年商机台账', '单位：万元', HEAD];
  for (let i = 1; i <= n; i++) {
    const k = r();
    if (k < 0.01) {
      lines.push(',,,,,,,,,,,,,,');
      continue;
    }
    if (k < 0.02) {
      lines.push(`合计,,,,,${Math.floor(r() * 1000)},,,,,,,,,`);
      continue;
    }
    if (k < 0.025) {
      lines.push('注：金额单位为万元,,,,,,,,,,,,,,');
      continue;
    }
    const id = r() < 0.01 ? '' : r() < 0.05 ? `D-${Math.floor(r() * n)}` : `D-${i}`;
    const cells = [id, `商机${i}`, pick(names), pick(owners), pick(stages), pick(amounts), pick(currencies), pick(probs), pick(fcs), pick(dates), pick(dates), pick(dates), pick(regions), pick(notes), r() < 0.5 ? String(i) : ''];
    lines.push(cells.map(quote).join(','));
  }
  lines.push('总计,,,,,9999,,,,,,,,,');
  return lines.join('\r\n') + '\r\n';
}

const CLEAN_HEAD = '商机编号,客户名称,负责人,销售阶段,预计成交金额,创建日期,所在地区';
/** `pad`: characters added to each customer's name (long rows reach the first MiB in fewer rows). */
function clean(n: number, pad = 0): string {
  const stages = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
  const out = [CLEAN_HEAD];
  const suffix = pad ? ` ${'有限公司'.repeat(Math.ceil(pad / 4)).slice(0, pad)}` : '';
  for (let i = 1; i <= n; i++) out.push(`OPP-${i},客户${i % 200}${suffix},销售${i % 30},${stages[i % 6]},${1000 + ((i * 7919) % 900000)},2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')},${['上海市', '浙江省'][i % 2]}`);
  return out.join('\n') + '\n';
}

interface Case {
  name: string;
  file: string;
  text?: string;
  source: Record<string, unknown>;
  extra?: Record<string, unknown>;
  /** The path expected to run. */
  path: 'sql' | 'js';
}

const CASES: Case[] = [
  { name: 'clean', file: 'clean.csv', text: clean(3000), source: {}, path: 'sql' },
  { name: 'messy', file: 'messy.csv', text: messy(3000, 7), source: { stage_map: { 签约: '赢单' } }, path: 'sql' },
  {
    name: 'messy with options',
    file: 'messy2.csv',
    text: messy(2000, 11),
    source: { id_prefix: 'x:', date_order: 'dmy', date_range: ['2000-01-01', '2030-12-31'], defaults: { currency: 'CNY', probability: '0.5' }, units: { amount: '元' } },
    extra: { fx: { USD: { default: 7.1 } } },
    path: 'sql'
  },
  {
    name: 'maven pipeline',
    file: join(ROOT, 'tests/fixtures/maven-crm/sales_pipeline.csv'),
    source: { columns: { opportunity_id: 'opportunity_id', owner_id: 'sales_agent', product: 'product', customer_name: 'account', stage: 'deal_stage', created_at: 'engage_date', closed_at: 'close_date', amount: 'close_value' } },
    extra: { stages: [{ name: 'Prospecting' }, { name: 'Engaging' }, { name: 'Won', outcome: 'won' }, { name: 'Lost', outcome: 'lost' }] },
    path: 'sql'
  },
  { name: 'blank lines', file: 'blank.csv', text: 'x\n' + clean(50).replace('\nOPP-3', '\n\nOPP-3'), source: {}, path: 'js' },
  { name: 'a quote inside an unquoted field', file: 'q.csv', text: clean(20) + 'OPP-99,a"b,u,赢单,5,2024-01-01,上海\n', source: {}, path: 'sql' },
  { name: 'text after a closing quote', file: 'q2.csv', text: clean(20) + 'OPP-99,"a"b,u,赢单,5,2024-01-01,上海\nOPP-100,c,u,赢单,5,2024-01-01,上海\n', source: {}, path: 'js' },
  // Within the rows the header is found in, a wider row widens the header (column_8): both paths read it so.
  { name: 'a row wider than the header', file: 'wide.csv', text: clean(20) + 'OPP-99,a,u,赢单,5,2024-01-01,上海,extra\n', source: {}, path: 'sql' },
  // Past the first MiB (what DuckDB samples) in 3,000 rows of ~400 bytes rather than 25,000 short ones.
  { name: 'a row wider than the header past the first MiB', file: 'wide2.csv', text: clean(3000, 110) + 'OPP-99,a,u,赢单,-5,2024-01-01,上海,extra\n', source: {}, path: 'js' },
  { name: 'gbk', file: join(ROOT, 'tests/fixtures/deals-gbk.csv'), source: {}, path: 'js' }
];


function importWith(c: Case, path: 'sql' | 'js', tag: string): Promise<Imported> {
  const file = c.text !== undefined ? join(dir, c.file) : c.file;
  if (c.text !== undefined) writeFileSync(file, c.text);
  const config = { database: join(dir, 'x.duckdb'), sync: { allow_dirs: [join(ROOT, 'tests/fixtures')] }, ...(c.extra ?? {}), sources: [{ name: 'deals', type: 'csv', entity: 'opportunities', path: file, ...c.source }] };
  return importOnce({ config, dbFile: join(dir, `${tag}-${path}.duckdb`), baseDir: dir, envVar: 'COCKPIT_CSV_PATH', path });
}

describe('a CSV import through the SQL path equals the JS path', () => {
  afterAll(() => undefined);
  CASES.forEach((c, k) => {
    it(`${c.name}: same tables, history, rejected rows and report (${c.path} path)`, async () => {
      if (c.name.endsWith('past the first MiB')) expect(Buffer.byteLength(c.text!)).toBeGreaterThan(2 ** 20);
      const a = await importWith(c, 'js', `c${k}`);
      const b = await importWith(c, 'sql', `c${k}`);
      expectSameImport(a, b, c.path);
      if (c.name.startsWith('messy')) {
        // The ledger exercised what it is meant to: loads, rejections and skipped summary rows.
        const s = a.report.sources[0];
        expect(s.loaded).toBeGreaterThan(100);
        expect(s.rejected).toBeGreaterThan(100);
        expect(s.skipped_by.summary).toBeGreaterThan(10);
        expect(s.skipped_by.blank).toBeGreaterThan(5);
      }
    });
  });
});
