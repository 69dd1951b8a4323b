/**
 * Summary and pivot sheets in a workbook read without a sheet name (issue 12): the held-out
 * ledger's `数据透视` sheet (a pivot of amounts by owner and stage; its author says it is junk
 * to be ignored, tests/fixtures/heldout/NOTES.md) is not read as deals or anything else, with a
 * coded reason, while every real table of every fixture is still read — on the upload page's
 * sheet selection (inspect.ts sheetsFor), a configured source read whole (sync.ts), and
 * `cockpit import` without --sheet. Which sheet holds what is stated by hand from the fixtures.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspectFile, sheetsFor, type FilePreview } from '../../connectors/file/inspect';
import { summarySheetWhy } from '../../connectors/pipeline/guess';
import { runSync } from '../../connectors/load/sync';
import { parseConfig } from '../../src/lib/server/config/load';
import type { CockpitConfig } from '../../src/lib/server/config/schema';
import { Database } from '../../src/lib/server/db/database';
import { translator } from '../../src/lib/i18n';
import { warningLabel } from '../../src/lib/i18n/parts/reasons';
import { cockpit, ROOT } from '../helpers/global-setup';

const FIXTURES = join(ROOT, 'tests/fixtures');
const HELDOUT = join(FIXTURES, 'heldout/华南销售台账2025.xlsx');
const dir = mkdtempSync(join(tmpdir(), 'summary-sheets-'));
/** The default stages (src/lib/server/config/schema.ts DEFAULT_STAGES), as the held-out config names them too. */
const STAGES = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];

function heldoutConfig(): CockpitConfig {
  const raw = JSON.parse(readFileSync(join(FIXTURES, 'heldout/cockpit.config.json'), 'utf8'));
  delete raw.sources;
  const r = parseConfig({ ...raw, database: join(dir, 'x.duckdb') });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
}
const defaultConfig = (extra: Record<string, unknown> = {}): CockpitConfig => {
  const r = parseConfig({ database: join(dir, 'y.duckdb'), ...extra });
  if (!r.ok) throw new Error(r.issues.join('\n'));
  return r.config;
};

/** A workbook of our own: a deals sheet named like a summary, a real pivot (Excel's labels), a by-month cross-tab. */
const OWN = join(dir, '销售汇总2025.xlsx');
beforeAll(async () => {
  const wb = new ExcelJS.Workbook();
  // A real deals sheet whose name says 汇总 and which has no id column (its records are named):
  // it has the deals' core fields, so it is read.
  const deals = wb.addWorksheet('商机汇总');
  deals.addRow(['商机名称', '客户名称', '负责人', '销售阶段', '预计成交金额', '创建日期']);
  deals.addRow(['云帆 CRM', '广州云帆', '张伟', '方案报价', 100, '2025-01-15']);
  deals.addRow(['数联 BI', '深圳数联', '李娜', '赢单', 200, '2025-02-03']);
  deals.addRow(['合计', null, null, null, 300, null]);
  // A deals sheet with ids, a 合计 column and stage-date columns named after stages: ids make it records.
  const ids = wb.addWorksheet('统计台账');
  ids.addRow(['商机编号', '销售阶段', '预计成交金额', '赢单', '输单', '合计']);
  ids.addRow(['S-1', '赢单', 100, '2025-03-01', null, 100]);
  // Excel's pivot as Excel writes it: 行标签 / 求和项 / 总计.
  const pivot = wb.addWorksheet('Sheet3');
  pivot.addRow(['行标签', '求和项:预计成交金额', '计数项:商机编号']);
  pivot.addRow(['张伟', 100, 1]);
  pivot.addRow(['李娜', 200, 1]);
  pivot.addRow(['总计', 300, 2]);
  // Targets by month as columns: a cross-tab of totals, not target rows.
  const months = wb.addWorksheet('目标统计');
  months.addRow(['负责人', '1月', '2月', '3月', '合计']);
  months.addRow(['张伟', 10, 20, 30, 60]);
  await wb.xlsx.writeFile(OWN);
});

const picked = (p: FilePreview, e: Parameters<typeof sheetsFor>[1]) => sheetsFor(p, e).picked.map((s) => s.name);
const skippedWhy = (p: FilePreview, e: Parameters<typeof sheetsFor>[1]) => Object.fromEntries(sheetsFor(p, e).skipped.map((s) => [s.sheet.name, s.reason.code]));

describe('summary and pivot sheets in a workbook read whole', () => {
  it('the held-out 数据透视 sheet is read as nothing, with a coded reason in both languages; each real sheet is read as its entity', async () => {
    const p = await inspectFile(HELDOUT, heldoutConfig(), { sampleRows: 1 });
    // NOTES.md: 商机台账 → opportunities, 回款记录 → payments, 目标 → targets; 说明 and 数据透视 junk.
    expect(picked(p, 'opportunities')).toEqual(['商机台账']);
    expect(picked(p, 'payments')).toEqual(['回款记录']);
    expect(picked(p, 'targets')).toEqual(['目标']);
    for (const e of ['opportunities', 'payments', 'targets', 'customers', 'activities', 'users', 'teams'] as const) {
      expect(picked(p, e), e).not.toContain('数据透视');
      expect(['sheet_summary', 'sheet_unmapped'], e).toContain(skippedWhy(p, e)['数据透视']);
    }
    expect(skippedWhy(p, 'opportunities')['数据透视']).toBe('sheet_summary');
    const reason = sheetsFor(p, 'opportunities').skipped.find((s) => s.sheet.name === '数据透视')!.reason;
    const zh = warningLabel(translator('zh-CN'), reason, reason.text);
    expect(zh).toMatch(/^看起来是汇总表或数据透视表（.+），不是逐条记录$/);
    expect(zh).not.toMatch(/[a-z]{3}/i);
    expect(warningLabel(translator('en'), reason, reason.text)).toBe(reason.text);
    expect(reason.text).toMatch(/^it looks like a summary or pivot table \(.+\), not one row per record$/);
  });

  it('a deals sheet is never skipped for looking like a summary; Excel pivots and by-month cross-tabs are', async () => {
    const p = await inspectFile(OWN, defaultConfig(), { sampleRows: 1 });
    expect(picked(p, 'opportunities')).toEqual(['商机汇总', '统计台账']);
    expect(skippedWhy(p, 'opportunities')).toEqual({ Sheet3: 'sheet_summary', 目标统计: 'sheet_summary' });
    expect(picked(p, 'targets')).toEqual([]);
    expect(skippedWhy(p, 'targets')['目标统计']).toBe('sheet_summary');
  });

  it('every table of the other fixtures is read as the entity it holds', async () => {
    // Stated by hand from each file's header.
    const files: [string, Parameters<typeof sheetsFor>[1]][] = [
      ['maven-crm/sales_pipeline.csv', 'opportunities'],
      ['maven-crm/accounts.csv', 'customers'],
      ['deals-gbk.csv', 'opportunities'],
      ['heldout/客户名单.csv', 'customers']
    ];
    for (const [f, entity] of files) {
      const p = await inspectFile(join(FIXTURES, f), defaultConfig(), { sampleRows: 1 });
      expect(p.sheets.length, f).toBe(1);
      expect(sheetsFor(p, entity).skipped.map((s) => s.reason.code), f).toEqual([]);
    }
  });

  it('the rule reads the header and the name: one hint skips a sheet without the core fields, two a sheet with them, none a sheet with ids', () => {
    expect(summarySheetWhy('opportunities', ['负责人', '金额'], '数据透视')?.code).toBe('sheet_summary');
    expect(summarySheetWhy('opportunities', ['商机名称', '销售阶段', '金额'], '商机汇总')).toBeNull();
    expect(summarySheetWhy('opportunities', ['商机名称', '销售阶段', '金额', '赢单', '输单', '总计'], 'Sheet1', STAGES)?.code).toBe('sheet_summary');
    expect(summarySheetWhy('opportunities', ['商机编号', '销售阶段', '金额', '赢单', '输单', '总计'], '数据透视', STAGES)).toBeNull();
    expect(summarySheetWhy('opportunities', ['商机编号', '销售阶段', '金额'], 'Sheet1')).toBeNull();
    // A source that maps its id column by hand (`columns`) is never skipped, whatever its name.
    expect(summarySheetWhy('opportunities', ['No.', 'Phase', 'Total'], 'Sales Report')?.code).toBe('sheet_summary');
    expect(summarySheetWhy('opportunities', ['No.', 'Phase', 'Total'], 'Sales Report', [], ['opportunity_id', 'stage'])).toBeNull();
  });
});

describe('the same rule for a source read whole and for cockpit import without --sheet', () => {
  it('sync: the pivot sheet is skipped with a sheet_summary warning and none of its rows is read', async () => {
    const book = join(dir, 'deals-and-pivot.xlsx');
    const wb = new ExcelJS.Workbook();
    const d = wb.addWorksheet('商机');
    d.addRow(['商机编号', '销售阶段', '负责人', '预计成交金额']);
    d.addRow(['P-1', '初步接洽', '张伟', 100]);
    d.addRow(['P-2', '赢单', '李娜', 200]);
    const pv = wb.addWorksheet('数据透视');
    pv.addRow(['负责人', '初步接洽', '赢单', '总计']);
    pv.addRow(['张伟', 100, null, 100]);
    pv.addRow(['李娜', null, 200, 200]);
    await wb.xlsx.writeFile(book);
    const config = defaultConfig({ database: join(dir, 'sync.duckdb') });
    const db = await Database.open(config.database);
    try {
      const r = await runSync(db, { config, baseDir: dir, sources: [{ name: 'book', type: 'excel', entity: 'opportunities', path: 'deals-and-pivot.xlsx' } as never] });
      expect(r.ok, r.error ?? '').toBe(true);
      const s = r.sources[0];
      // 2 deals loaded; the pivot's 2 rows skipped as unmapped, none rejected.
      expect([s.rows, s.loaded, s.rejected, s.skipped, s.skipped_by.unmapped]).toEqual([4, 2, 0, 2, 2]);
      const refs = (s.warning_refs ?? []).filter(Boolean) as { code: string; params: Record<string, unknown> }[];
      const skip = refs.find((w) => w.code === 'sheet_skipped');
      expect(skip?.params.sheet).toBe('数据透视');
      expect((skip?.params.why as { code: string }).code).toBe('sheet_summary');
      expect((await db.query<{ n: number }>('SELECT count(*)::INTEGER AS n FROM opportunities')).rows[0].n).toBe(2);
    } finally {
      await db.close();
    }
  });

  it('cockpit import of the held-out workbook without --sheet reads 商机台账 only and names 数据透视 as a summary', () => {
    const cfg = join(dir, 'cli.config.json');
    const raw = JSON.parse(readFileSync(join(FIXTURES, 'heldout/cockpit.config.json'), 'utf8'));
    delete raw.sources;
    writeFileSync(cfg, JSON.stringify({ ...raw, database: join(dir, 'cli.duckdb') }));
    const r = cockpit(['import', HELDOUT, '--entity', 'opportunities', '--config', cfg, '--json']);
    expect(r.status, `${r.stderr}\n${r.stdout}`).toBe(0);
    expect(r.stderr).toContain('sheets read as opportunities: "商机台账";');
    expect(r.stderr).toMatch(/"数据透视" \(it looks like a summary or pivot table .*\[sheet_summary\]\)/);
    const t = cockpit(['import', HELDOUT, '--entity', 'targets', '--config', cfg, '--json']);
    expect(t.status, `${t.stderr}\n${t.stdout}`).toBe(0);
    expect(t.stderr).toContain('sheets read as targets: "目标";');
  });
});
