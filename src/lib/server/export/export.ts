/**
 * Streaming exports of a model's rows as CSV or XLSX, paced by the HTTP client so memory stays
 * bounded for a million rows: for a listing, CSV text written by DuckDB's own COPY into a pipe
 * (csv-sql.ts, pipe.ts); otherwise rows pulled from DuckDB one chunk at a time only when the
 * client has read the previous ones. CSV is UTF-8 with a BOM (so Excel on Chinese Windows reads it) and CRLF lines;
 * XLSX is written by exceljs's streaming WorkbookWriter without shared strings, dates and
 * timestamps as real Excel dates. Every text cell is escaped against formula injection.
 */
import { PassThrough, Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import type { ColumnInfo } from '../db/database';
import type { ExportSource } from '../models/run';
import { cellText, csvLine } from './cells';
import { xlsxFromRows } from './xlsx-zip';

export const EXPORT_FORMATS = ['csv', 'xlsx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
};

/** CSV bytes: a header line of `headers`, then every row (DuckDB's text, or rows formatted here). */
export function csvStream(source: ExportSource, headers: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let started = false;
  const bytes = source.csvBytes?.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          controller.enqueue(enc.encode('\uFEFF' + csvLine(headers)));
          return;
        }
        if (bytes) {
          // Lines formatted in SQL and written by DuckDB (csv-sql.ts, pipe.ts).
          const next = await bytes.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
          return;
        }
        const next = await source.chunks.next();
        if (next.done) {
          controller.close();
          return;
        }
        let text = '';
        for (const row of next.value) text += csvLine(row);
        controller.enqueue(enc.encode(text));
      },
      async cancel(reason) {
        await bytes?.cancel(reason);
        await source.chunks.return();
      }
    },
    { highWaterMark: 1 }
  );
}

function isDate(t: string) {
  return t === 'DATE';
}
function isTimestamp(t: string) {
  return t.startsWith('TIMESTAMP');
}

/** An XLSX cell: dates as Excel dates (naive local times kept as they are), text escaped. */
function xlsxCell(v: unknown, col: ColumnInfo): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' && (isDate(col.type) || isTimestamp(col.type))) {
    const d = new Date(isDate(col.type) ? `${v}T00:00:00Z` : `${v.replace(' ', 'T')}Z`);
    return Number.isNaN(d.getTime()) ? cellText(v) : d;
  }
  return cellText(v);
}

/**
 * XLSX bytes: DuckDB's rows zipped (xlsx-zip.ts) when the source has them, else exceljs's
 * streaming writer, paced by the reader (bounded memory).
 */
export function xlsxStream(source: ExportSource, headers: string[], sheetName: string): ReadableStream<Uint8Array> {
  // Rows DuckDB wrote as SpreadsheetML (xlsx-sql.ts): zipped as they come.
  if (source.xlsxRows) return xlsxFromRows(source.xlsxRows, headers, sheetName);
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: false, zip: { zlib: { level: 1 } } } as never);
  const ws = wb.addWorksheet(sheetName.slice(0, 31).replace(/[\\/?*[\]:]/g, ' '), { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = source.columns.map((c, i) => ({
    header: headers[i],
    key: c.name,
    width: Math.min(40, Math.max(10, headers[i].length * 2 + 2)),
    style: isDate(c.type) ? { numFmt: 'yyyy-mm-dd' } : isTimestamp(c.type) ? { numFmt: 'yyyy-mm-dd hh:mm:ss' } : {}
  }));
  ws.getRow(1).font = { bold: true };
  let aborted = false;
  // exceljs's sheet stream writes into the zip entry without waiting (it ignores backpressure),
  // so left alone a fast producer piles the whole sheet up in memory before deflate catches up.
  // Pace it: after each DuckDB chunk, wait until the zip entry's input and the output are small.
  const sheetBacklog = () => {
    const p = (ws as unknown as { stream?: { pipes?: { _writableState?: { length: number }; _readableState?: { length: number } }[] } }).stream?.pipes?.[0];
    return (p?._writableState?.length ?? 0) + (p?._readableState?.length ?? 0);
  };
  const LIMIT = 1 << 20;
  const produce = async () => {
    try {
      for (;;) {
        if (aborted) return;
        const next = await source.chunks.next();
        if (next.done) break;
        for (const row of next.value) ws.addRow(row.map((v, i) => xlsxCell(v, source.columns[i]))).commit();
        while (!aborted && (sheetBacklog() > LIMIT || out.readableLength > out.readableHighWaterMark)) {
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      ws.commit();
      await wb.commit();
    } catch (e) {
      out.destroy(e instanceof Error ? e : new Error(String(e)));
      await source.chunks.return();
    }
  };
  void produce();
  const web = Readable.toWeb(out) as ReadableStream<Uint8Array>;
  // Wrap to notice an aborted download and release the database connection.
  const reader = web.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      aborted = true;
      await reader.cancel(reason);
      await source.chunks.return();
    }
  });
}

/** `attachment; filename="deals-2026-06-15.csv"; filename*=UTF-8''商机明细-2026-06-15.csv` */
export function contentDisposition(asciiName: string, unicodeName: string): string {
  return `attachment; filename="${asciiName.replace(/[^\w.-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(unicodeName)}`;
}
