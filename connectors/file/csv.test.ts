import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvParser, sniffDelimiter, sniffEncoding } from './csv';

const parse = (text: string, delim = ',', chunk = 3) => {
  const p = new CsvParser(delim);
  const out: { cells: string[]; line: number }[] = [];
  // Fed in small chunks: quotes, CRLF and quoted newlines split across chunk boundaries.
  for (let i = 0; i < text.length; i += chunk) p.push(text.slice(i, i + chunk), out);
  p.end(out);
  return out;
};

describe('CSV', () => {
  it('parses quoted fields with delimiters, doubled quotes and newlines, whatever the chunking', () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""","line1\nline2"\r\n1,,3\n';
    for (const chunk of [1, 2, 3, 7, 1000]) {
      const rows = parse(text, ',', chunk);
      expect(rows.map((r) => r.cells), `chunk ${chunk}`).toEqual([
        ['a', 'b', 'c'],
        ['x, y', 'say "hi"', 'line1\nline2'],
        ['1', '', '3']
      ]);
      expect(rows.map((r) => r.line)).toEqual([1, 2, 4]);
    }
  });

  it('sniffs the delimiter', () => {
    expect(sniffDelimiter('a;b;c\n1;2;3\n4;5;6\n')).toBe(';');
    expect(sniffDelimiter('a\tb\tc\n1\t2,5\t3\n4\t5\t6\n')).toBe('\t');
    expect(sniffDelimiter('a,b\n"1;2",3\n4,5\n')).toBe(',');
  });

  it('detects UTF-8 with and without BOM, and GBK as Chinese Excel saves it', () => {
    const gbk = readFileSync(join(import.meta.dirname, '../../tests/fixtures/deals-gbk.csv'));
    const enc = sniffEncoding(gbk);
    expect(enc.encoding).toBe('gb18030');
    expect(new TextDecoder(enc.encoding).decode(gbk).split('\r\n')[0]).toBe('客户名称,销售阶段,预计成交金额,所在地区,负责人,商机编号');
    expect(sniffEncoding(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toEqual({ encoding: 'utf-8', bom: 3 });
    const utf8 = new TextEncoder().encode('客户名称,阶段');
    expect(sniffEncoding(utf8).encoding).toBe('utf-8');
    // A sample cut inside a multi-byte character is still UTF-8.
    expect(sniffEncoding(utf8.subarray(0, 4)).encoding).toBe('utf-8');
  });
});

describe('the CSV reader', () => {
  it('finds the header below title lines, numbers rows as the file does, and skips blank and summary rows', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { readCsv } = await import('./csv');
    const { parseConfig } = await import('../../src/lib/server/config/load');
    const dir = mkdtempSync(join(tmpdir(), 'csv-reader-'));
    // A TSV export with a title line and an empty line above the table.
    writeFileSync(join(dir, 'deals.tsv'), '2024 商机导出\n\n商机编号\t销售阶段\t金额\nA-1\t初步接洽\t"1,000"\n\nA-2\t赢单\t2000\n合计\t\t3000\n');
    const cfg = parseConfig({});
    if (!cfg.ok) throw new Error('config');
    const skips: [number, string][] = [];
    const reader = await readCsv({ name: 't', type: 'csv', entity: 'opportunities', path: 'deals.tsv' }, {
      config: cfg.config,
      baseDir: dir,
      watermark: null,
      events: { warn: () => undefined, skip: (row, reason) => skips.push([row, reason]) }
    });
    const recs = [];
    for await (const b of reader.batches()) recs.push(...b);
    expect(await reader.headers()).toEqual(['商机编号', '销售阶段', '金额']);
    expect(recs.map(({ row, values }) => ({ row, values }))).toEqual([
      { row: 4, values: { 商机编号: 'A-1', 销售阶段: '初步接洽', 金额: '1,000' } },
      { row: 6, values: { 商机编号: 'A-2', 销售阶段: '赢单', 金额: '2000' } }
    ]);
    expect(skips).toEqual([
      [5, 'blank'],
      [7, 'summary']
    ]);
  });
});
