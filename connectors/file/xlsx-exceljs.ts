/**
 * The former .xlsx reader, kept as the reference the new one (xlsx.ts) is tested equal to
 * (tests/connectors/xlsx-reader-equal.test.ts) and the baseline of the reading benchmark; no
 * import path uses it. exceljs's streaming WorkbookReader, one worksheet at a time (every sheet, or
 * the one named in `sheet`), so a million-row sheet is never held in memory. Cell values are
 * flattened (rich text, formulas' results, hyperlinks' text); date-formatted cells arrive
 * as Dates. The header row is detected per sheet (below title rows and merged banners).
 */
import { Transform } from 'node:stream';
import ExcelJS from 'exceljs';
import type { ExcelSource } from '../config';
import type { RawRecord, ReadContext, SourceReader } from '../types';
import { layoutHeader, RowShaper, SCAN_ROWS } from './header';
import { confinedPath, DEFAULT_MAX_ROW_CHARS, RowTooLong } from './guard';
import { warning } from '../pipeline/reasons';

const BATCH = 2048;

/** A cell value as a plain value: string, number, boolean, Date or null. */
export function cellValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || v instanceof Date) return v;
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.richText)) return (o.richText as { text: string }[]).map((t) => t.text).join('');
  if ('result' in o) return cellValue(o.result);
  if ('formula' in o || 'sharedFormula' in o) return null;
  if ('text' in o) return cellValue(o.text);
  if ('error' in o) return null;
  return String(v);
}

/**
 * exceljs's streaming reader decodes each zip chunk as UTF-8 on its own, so a Chinese
 * character split across two chunks turns into U+FFFD (seen on 1 row in ~2,000). Decoding
 * the chunks with a streaming decoder before its XML parser sees them fixes it: strings
 * pass through its decoder untouched.
 *
 * The same place bounds a row: the characters since the last `<row` or `</row>` (the XML of one
 * row, which the parser would otherwise gather whole, however long a cell) may not exceed
 * `maxRow`; the error names the sheet and the row being read.
 */
async function* utf8Chunks(chunks: AsyncIterable<unknown>, maxRow: number, where: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let since = 0;
  let row = 0;
  const guard = (s: string) => {
    const start = s.lastIndexOf('<row');
    const end = s.lastIndexOf('</row>');
    if (start >= 0) {
      const m = /^<row\b[^>]*?\sr="(\d+)"/.exec(s.slice(start, start + 200));
      row = m ? Number(m[1]) : row + 1;
    }
    const mark = Math.max(start, end);
    since = mark >= 0 ? s.length - mark : since + s.length;
    if (since > maxRow) throw new RowTooLong(where, `row ${row || 1}`, maxRow);
  };
  for await (const c of chunks) {
    const s = typeof c === 'string' ? c : decoder.decode(c as Uint8Array, { stream: true });
    if (!s) continue;
    guard(s);
    yield s;
  }
  const tail = decoder.decode();
  if (tail) yield tail;
}

type PatchedReader = {
  _parseSharedStrings(entry: NodeJS.ReadableStream): AsyncGenerator<unknown>;
};

/**
 * Applies the decoding fix to a workbook reader's shared strings (worksheets: see utf8Chunks),
 * and bounds each shared string (`<si>…</si>`) as a row is bounded: a sheet's huge cell text
 * usually lives here.
 */
function fixSharedStrings(wb: unknown, maxRow: number, path: string) {
  const r = wb as PatchedReader;
  const original = r._parseSharedStrings;
  r._parseSharedStrings = function (entry) {
    entry.setEncoding('utf8');
    let since = 0;
    let index = 0;
    const guarded = new Transform({
      decodeStrings: false,
      transform(chunk, _enc, done) {
        const s = String(chunk);
        const end = s.lastIndexOf('</si>');
        if (end >= 0) index += s.split('</si>').length - 1;
        since = end >= 0 ? s.length - end : since + s.length;
        if (since > maxRow) done(new RowTooLong(`${path} [shared strings]`, `text number ${index + 1}`, maxRow));
        else done(null, s);
      }
    });
    guarded.setEncoding('utf8');
    return original.call(this, entry.pipe(guarded));
  };
}

export async function readXlsxExceljs(source: ExcelSource, ctx: ReadContext): Promise<SourceReader & { sheetNames(): string[] }> {
  const path = confinedPath(source, ctx);
  const maxRow = source.max_row_chars ?? DEFAULT_MAX_ROW_CHARS;
  let headers: string[] | null = null;
  const sheetsSeen: string[] = [];
  return {
    location: path,
    /** The sheets read so far (all of them once `batches()` is done), in workbook order. */
    sheetNames: () => [...sheetsSeen],
    async headers() {
      return headers;
    },
    async *batches() {
      const wb = new ExcelJS.stream.xlsx.WorkbookReader(path, {
        sharedStrings: 'cache',
        hyperlinks: 'ignore',
        styles: 'cache',
        worksheets: 'emit',
        entries: 'ignore'
      });
      fixSharedStrings(wb, maxRow, path);
      let batch: RawRecord[] = [];
      const wanted = source.sheet === undefined ? null : Array.isArray(source.sheet) ? source.sheet : [source.sheet];
      const found = new Set<string>();
      for await (const ws of wb as unknown as AsyncIterable<AsyncIterable<ExcelJS.Row> & { name: string; iterator: AsyncIterable<unknown> }>) {
        const name = ws.name;
        ws.iterator = utf8Chunks(ws.iterator, maxRow, `${path} [${name}]`);
        sheetsSeen.push(name);
        if (wanted && !wanted.includes(name)) {
          // Drain the sheet we skip (the zip is read in order).
          for await (const _ of ws) void _;
          continue;
        }
        found.add(name);
        const where = `${path} [${name}]`;
        const first: { cells: unknown[]; row: number }[] = [];
        let shaper: RowShaper | null = null;
        let lastRow = 0;
        const emit = (cells: unknown[], row: number) => {
          // Rows exceljs does not emit (entirely empty) are blank rows too.
          for (let r = lastRow + 1; r < row; r++) ctx.events.skip(r, 'blank');
          lastRow = row;
          const rec = shaper!.shape(cells, row);
          if (rec) batch.push(rec);
        };
        const start = () => {
          const layout = layoutHeader(first, source.header_row);
          if (!layout) throw new Error(`${where}: header row ${source.header_row} not found`);
          headers = layout.names;
          const meta = { sheet: name, unit: layout.unit, headerRows: layout.rows.map((i) => first[i].row) };
          shaper = new RowShaper(headers, ctx.events, where, meta);
          lastRow = first[layout.dataStart - 1].row;
          for (const r of first.slice(layout.dataStart)) emit(r.cells, r.row);
        };
        for await (const row of ws) {
          const vals = row.values as unknown[];
          const cells: unknown[] = new Array(Math.max(0, vals.length - 1));
          for (let i = 1; i < vals.length; i++) cells[i - 1] = cellValue(vals[i]);
          if (!shaper) {
            first.push({ cells, row: row.number });
            if (first.length >= SCAN_ROWS + (source.header_row ?? 0)) start();
          } else emit(cells, row.number);
          if (batch.length >= BATCH) {
            yield batch;
            batch = [];
          }
        }
        if (!shaper) {
          if (first.length === 0) {
            const w = warning('sheet_empty', { where });
            ctx.events.warn(w.text, w);
            continue;
          }
          start();
        }
        if (batch.length) {
          yield batch;
          batch = [];
        }
      }
      const missing = (wanted ?? []).filter((w) => !found.has(w));
      if (missing.length) throw new Error(`${path}: no sheet named ${missing.map((m) => `"${m}"`).join(', ')} (sheets: ${sheetsSeen.join(', ')})`);
    }
  };
}
