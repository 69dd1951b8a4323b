/**
 * Hostile file sources (issue 11.2 and the source-path finding): a CSV with a line that never
 * ends, an unclosed quote, a sheet cell of hundreds of thousands of characters (inline and as a
 * shared string) stop the sync with an error naming the file and row, record the failed run and
 * keep the previous data; a source path outside the config file's directory (absolute, `..`, a
 * symlink) is refused unless `sync.allow_dirs` lists its directory. Hostile .xlsx archives (zip
 * bombs, lying sizes, a DTD with entity expansion, an undefined entity, a directory of 10,001
 * entries, a file that is no zip, a truncated one) are refused with an error naming the file.
 */
import { mkdirSync, mkdtempSync, openSync, closeSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/lib/server/db/database';
import { parseConfig } from '../../src/lib/server/config/load';
import type { CockpitConfig } from '../../src/lib/server/config/schema';
import { runSync } from '../../connectors/load/sync';
import { makeZip, workbookParts, type ZipPart } from './zip-writer';

const root = mkdtempSync(join(tmpdir(), 'hostile-files-'));
const dir = join(root, 'project');
const outside = join(root, 'elsewhere');
mkdirSync(dir);
mkdirSync(outside);
let db: Database;

function config(sources: unknown[], extra: Record<string, unknown> = {}): CockpitConfig {
  const r = parseConfig({ database: join(dir, 'x.duckdb'), sources, ...extra });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}
const GOOD = '商机编号,商机名称,负责人,销售阶段,预计成交金额,创建日期\nH-1,正常商机,张伟,初步接洽,1000,2026-01-05\nH-2,第二个,李娜,需求分析,2000,2026-01-06\n';
const deals = async () => (await db.query<{ id: string }>(`SELECT opportunity_id AS id FROM opportunities ORDER BY 1`)).rows.map((r) => r.id);
const lastRun = async (source: string) =>
  (await db.query<{ status: string; error: string }>(`SELECT status, error FROM sync_runs WHERE source = '${source}' ORDER BY finished_at DESC LIMIT 1`)).rows[0];

beforeAll(async () => {
  db = await Database.open(join(dir, 'cockpit.duckdb'));
  writeFileSync(join(dir, 'deals.csv'), GOOD);
  const r = await runSync(db, { config: config([{ name: 'deals', type: 'csv', entity: 'opportunities', path: 'deals.csv' }]), baseDir: dir });
  expect(r.ok, r.error ?? '').toBe(true);
  expect(await deals()).toEqual(['H-1', 'H-2']);
});
afterAll(() => db?.close());

describe('a row that never ends (11.2)', () => {
  it('a line without a newline, bigger than the default limit: failed run naming the file and line, previous data kept', async () => {
    // 24 M characters on line 3 and no newline (the default limit is 10 M).
    const file = join(dir, 'endless.csv');
    const fd = openSync(file, 'w');
    writeSync(fd, GOOD.split('\n').slice(0, 2).join('\n') + '\nH-3,');
    const block = 'x'.repeat(1 << 20);
    for (let i = 0; i < 24; i++) writeSync(fd, block);
    closeSync(fd);
    const r = await runSync(db, { config: config([{ name: 'endless', type: 'csv', entity: 'opportunities', path: 'endless.csv' }]), baseDir: dir });
    expect(r.ok).toBe(false);
    expect(r.error).toContain(file);
    expect(r.error).toContain('line 3');
    expect(r.error).toMatch(/10,000,000 characters \(max_row_chars\)/);
    expect(await lastRun('endless')).toMatchObject({ status: 'failed' });
    expect((await lastRun('endless')).error).toContain('line 3');
    expect(await deals()).toEqual(['H-1', 'H-2']);
  });

  it('an unclosed quote swallowing the rest of the file, under a lowered limit', async () => {
    const lines = Array.from({ length: 4000 }, (_, i) => `H-${i + 10},名称${i},张伟,初步接洽,${i},2026-02-01`);
    writeFileSync(join(dir, 'quote.csv'), `${GOOD}H-9,"没有闭合的引号,张伟,初步接洽,1,2026-02-01\n${lines.join('\n')}\n`);
    const r = await runSync(db, {
      config: config([{ name: 'quote', type: 'csv', entity: 'opportunities', path: 'quote.csv', max_row_chars: 50_000 }]),
      baseDir: dir
    });
    expect(r.ok).toBe(false);
    expect(r.error).toContain('the row starting at line 4');
    expect(r.error).toContain('50,000 characters');
    expect(await lastRun('quote')).toMatchObject({ status: 'failed' });
    expect(await deals()).toEqual(['H-1', 'H-2']);
  });

  for (const shared of [false, true]) {
    it(`an xlsx cell of 300,000 characters (${shared ? 'a shared string' : 'an inline string'}): the sheet and row are named`, async () => {
      const file = join(dir, `big-${shared}.xlsx`);
      const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: shared });
      const ws = wb.addWorksheet('商机');
      ws.addRow(['商机编号', '商机名称', '负责人', '销售阶段', '预计成交金额']).commit();
      ws.addRow(['X-1', '正常', '张伟', '初步接洽', 100]).commit();
      ws.addRow(['X-2', '长'.repeat(300_000), '张伟', '初步接洽', 100]).commit();
      ws.commit();
      await wb.commit();
      const name = `big${shared}`;
      const r = await runSync(db, {
        config: config([{ name, type: 'excel', entity: 'opportunities', path: `big-${shared}.xlsx`, max_row_chars: 100_000 }]),
        baseDir: dir
      });
      expect(r.ok).toBe(false);
      expect(r.error).toContain(file);
      expect(r.error).toContain(shared ? '[shared strings]: text number' : '[商机]: row 3');
      expect(await lastRun(name)).toMatchObject({ status: 'failed' });
      expect(await deals()).toEqual(['H-1', 'H-2']);
      // Under the default limit the same sheet loads.
      const ok = await runSync(db, { config: config([{ name, type: 'excel', entity: 'opportunities', path: `big-${shared}.xlsx` }]), baseDir: dir });
      expect(ok.ok, ok.error ?? '').toBe(true);
      await db.write((tx) => tx.run(`DELETE FROM opportunity_versions WHERE opportunity_id LIKE 'X-%'; DELETE FROM opportunities WHERE opportunity_id LIKE 'X-%'`));
    });
  }
});

describe('source paths are confined to the config file’s directory', () => {
  beforeAll(() => {
    writeFileSync(join(outside, 'secret.csv'), GOOD.replace(/H-/g, 'S-'));
    symlinkSync(join(outside, 'secret.csv'), join(dir, 'link.csv'));
  });
  const attempt = (path: string, extra: Record<string, unknown> = {}) =>
    runSync(db, { config: config([{ name: 'sneaky', type: 'csv', entity: 'opportunities', path }], extra), baseDir: dir });

  it('refuses an absolute path, a .. escape and a symlink out, naming the source', async () => {
    for (const path of ['/etc/passwd', join(outside, 'secret.csv'), '../elsewhere/secret.csv', 'sub/../../elsewhere/secret.csv', 'link.csv']) {
      const r = await attempt(path);
      expect(r.ok, path).toBe(false);
      expect(r.error, path).toContain('source "sneaky"');
      expect(r.error, path).toMatch(/outside the config file's directory/);
      expect(r.error, path).toContain('sync.allow_dirs');
    }
    expect(await deals()).toEqual(['H-1', 'H-2']);
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM rejected_rows WHERE source = 'sneaky'`);
    expect(rows[0].n).toBe(0);
  });

  it('reads from a directory listed in sync.allow_dirs, and an absolute path inside its own directory', async () => {
    expect((await attempt(join(dir, 'deals.csv'))).ok).toBe(true);
    const r = await attempt('../elsewhere/secret.csv', { sync: { allow_dirs: ['../elsewhere'] } });
    expect(r.ok, r.error ?? '').toBe(true);
    expect(await deals()).toEqual(['H-1', 'H-2', 'S-1', 'S-2']);
    expect((await attempt('/etc/passwd', { sync: { allow_dirs: ['../elsewhere'] } })).ok).toBe(false);
  });
});

describe('hostile .xlsx archives (user uploads)', () => {
  const line = (r: number, cells: (string | number)[]) =>
    `<row r="${r}">${cells.map((v, i) => (typeof v === 'number' ? `<c r="${'ABCDEF'[i]}${r}"><v>${v}</v></c>` : `<c r="${'ABCDEF'[i]}${r}" t="inlineStr"><is><t>${v}</t></is></c>`)).join('')}</row>`;
  const HEAD = line(1, ['商机编号', '商机名称', '负责人', '销售阶段', '预计成交金额', '创建日期']);
  const ROW = line(2, ['Z-1', '手工', '张伟', '初步接洽', 5, '2026-01-05']);
  const book = (rows: string, extra: Partial<Parameters<typeof workbookParts>[0]> = {}) => workbookParts({ sheets: [{ name: '商机', rows }], ...extra });
  const withSheet = (parts: ZipPart[], patch: (p: ZipPart) => void) => {
    patch(parts.find((p) => p.name === 'xl/worksheets/sheet1.xml')!);
    return parts;
  };
  const attempt = async (name: string, bytes: Buffer) => {
    const file = join(dir, `${name}.xlsx`);
    writeFileSync(file, bytes);
    const r = await runSync(db, { config: config([{ name, type: 'excel', entity: 'opportunities', path: `${name}.xlsx` }]), baseDir: dir });
    expect(r.ok, name).toBe(false);
    expect(r.error, name).toContain(file);
    expect(await lastRun(name)).toMatchObject({ status: 'failed' });
    expect(await deals()).not.toContain('Z-1');
    return r.error!;
  };

  it('a well-formed hand-made workbook loads (the cases below differ from it by one thing)', async () => {
    const file = join(dir, 'handmade.xlsx');
    writeFileSync(file, makeZip(book(HEAD + ROW)));
    const r = await runSync(db, { config: config([{ name: 'handmade', type: 'excel', entity: 'opportunities', path: 'handmade.xlsx' }]), baseDir: dir });
    expect(r.ok, r.error ?? '').toBe(true);
    expect(r.sources[0].rejections, JSON.stringify(r.sources[0].rejections)).toEqual([]);
    expect(await deals()).toContain('Z-1');
    await db.write((tx) => tx.run(`DELETE FROM opportunity_versions WHERE opportunity_id = 'Z-1'; DELETE FROM opportunities WHERE opportunity_id = 'Z-1'`));
  });

  it('a zip bomb: a sheet of 24 MiB of blanks in 24 KiB (declared honestly, then with a small declared size)', async () => {
    const blanks = ' '.repeat(24 * 1024 * 1024);
    const honest = await attempt('bomb', makeZip(withSheet(book(HEAD + ROW), (p) => (p.data = String(p.data).replace('<sheetData>', `<sheetData>${blanks}`)))));
    expect(honest).toMatch(/xl\/worksheets\/sheet1\.xml would inflate \d+× \(limit 200×\): a zip bomb\?/);
    const lying = await attempt('bomb2', makeZip(withSheet(book(HEAD + ROW), (p) => {
      p.data = String(p.data).replace('<sheetData>', `<sheetData>${blanks}`);
      p.declaredSize = 4096;
    })));
    expect(lying).toMatch(/xl\/worksheets\/sheet1\.xml inflates past its declared size of 4,096 bytes/);
  });

  it('a DTD with nested entities (billion laughs), an undefined entity', async () => {
    const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>';
    const dtd = await attempt('dtd', makeZip(withSheet(book(HEAD + ROW), (p) => (p.data = String(p.data).replace(/^<\?xml[^>]*>/, laughs)))));
    expect(dtd).toMatch(/\[商机\]: the XML declares a document type or entities/);
    const ss = await attempt('dtd2', makeZip(book(HEAD + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>', { sharedStrings: ['<si><t>&lol2;</t></si>'] }).map((p) =>
      p.name === 'xl/sharedStrings.xml' ? { ...p, data: String(p.data).replace(/^<\?xml[^>]*>/, laughs) } : p
    )));
    expect(ss).toMatch(/sharedStrings\.xml\]: the XML declares a document type or entities/);
    const undef = await attempt('entity', makeZip(withSheet(book(HEAD + ROW), (p) => (p.data = String(p.data).replace('<t>Z-1</t>', '<t>&xxe;</t>')))));
    expect(undef).toContain('undefined entity "&xxe;"');
  });

  it('a directory of 10,001 entries, a file that is no zip, a truncated workbook', async () => {
    const many = book(HEAD + ROW);
    for (let i = 0; many.length <= 10_000; i++) many.push({ name: `xl/media/pad${i}.bin`, data: 'x', method: 0 });
    expect(await attempt('many', makeZip(many))).toContain('10,001 entries in the zip directory, over the limit of 10,000');
    expect(await attempt('notzip', Buffer.from('商机编号,预计成交金额\nZ-1,5\n'))).toMatch(/not an \.xlsx file .*old \.xls, or a password-protected workbook/);
    const whole = makeZip(book(HEAD + ROW));
    expect(await attempt('truncated', whole.subarray(0, whole.length - 30))).toMatch(/not an \.xlsx file|damaged/);
    const sheetAt = whole.indexOf('xl/worksheets/sheet1.xml') + 30; // inside the sheet's compressed data
    const broken = Buffer.from(whole);
    broken.fill(0xff, sheetAt, sheetAt + 20);
    expect(await attempt('corrupt', broken)).toMatch(/xl\/worksheets\/sheet1\.xml (cannot be inflated|fails its CRC check|has \d+ bytes where)/);
  });
});
