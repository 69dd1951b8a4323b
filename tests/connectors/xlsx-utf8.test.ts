/**
 * Chinese text in large sheets: exceljs's streaming reader, left alone, corrupts a character
 * split across two zip chunks (U+FFFD). Every cell must come back exactly as written, with
 * inline strings and with shared strings.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { readXlsx } from '../../connectors/file/xlsx';
import type { RawRecord } from '../../connectors/types';
import { parseConfig } from '../../src/lib/server/config/load';

const dir = mkdtempSync(join(tmpdir(), 'xlsx-utf8-'));
const STAGES = ['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单'];
const N = 6000;

describe('the xlsx reader', () => {
  for (const shared of [false, true]) {
    it(`returns every Chinese cell intact (${shared ? 'shared' : 'inline'} strings)`, async () => {
      const file = join(dir, `s${shared}.xlsx`);
      const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: shared, useStyles: false });
      const ws = wb.addWorksheet('商机');
      ws.addRow(['商机编号', '客户名称', '销售阶段']).commit();
      for (let i = 1; i <= N; i++) ws.addRow([`OPP-${i}`, `客户${i}号（上海）`, STAGES[i % 6]]).commit();
      ws.commit();
      await wb.commit();
      const cfg = parseConfig({});
      if (!cfg.ok) throw new Error('config');
      const reader = await readXlsx({ name: 'x', type: 'excel', entity: 'opportunities', path: file }, {
        config: cfg.config,
        baseDir: dir,
        watermark: null,
        events: { warn: () => undefined, skip: () => undefined }
      });
      const all: RawRecord[] = [];
      for await (const b of reader.batches()) all.push(...b);
      expect(all).toHaveLength(N);
      const wrong = all.filter((r, k) => r.values['客户名称'] !== `客户${k + 1}号（上海）` || r.values['销售阶段'] !== STAGES[(k + 1) % 6]);
      expect(wrong.slice(0, 3)).toEqual([]);
      expect(all[N - 1].row).toBe(N + 1);
    });
  }
});
