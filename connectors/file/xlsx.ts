/**
 * .xlsx reader: the zip's directory (zip.ts) and a hand-written scanner of the workbook's XML
 * (xlsx-parts.ts), one worksheet at a time in tab order (every sheet, or the ones named in
 * `sheet`), each streamed chunk by chunk, so a million-row sheet is never held in memory (the
 * shared strings are, as Excel's own format needs). Cell values are plain: string, number,
 * boolean, Date (date-formatted cells) or null; they equal what the former exceljs-based reader
 * gave (xlsx-exceljs.ts; tests/connectors/xlsx-reader-equal.test.ts), at ~4× its speed. The
 * header row is detected per sheet (below title rows and merged banners).
 *
 * Hostile files: zip bombs, oversized directories, DTDs and entity declarations are refused,
 * and a row (or a shared string) longer than `max_row_chars` stops the read, each with an error
 * naming the file (and the sheet and row).
 */
import { StringDecoder } from 'node:string_decoder';
import type { ExcelSource } from '../config';
import type { RawRecord, ReadContext, SourceReader } from '../types';
import { layoutHeader, RowShaper, SCAN_ROWS } from './header';
import { confinedPath, DEFAULT_MAX_ROW_CHARS } from './guard';
import { parseRels, parseStyles, parseWorkbook, resolvePart, SharedStringsParser, SheetParser, type SheetRow } from './xlsx-parts';
import { ZipFile, type ZipLimits } from './zip';
import { warning } from '../pipeline/reasons';

const BATCH = 2048;
const WORKSHEET = /\/worksheet$/;

export interface WorkbookSheet {
  name: string;
  /** The worksheet part (`xl/worksheets/sheet1.xml`). */
  part: string;
}

/** An opened workbook: its worksheets in tab order and a streaming reader of each one's rows. */
export interface Workbook {
  sheets: WorkbookSheet[];
  rows(sheet: WorkbookSheet): AsyncGenerator<SheetRow[]>;
  close(): Promise<void>;
}

/** A part may start with a byte order mark (only its first chunk is passed here). */
function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

async function text(zip: ZipFile, part: string): Promise<string | null> {
  const e = zip.entry(part);
  return e ? new TextDecoder('utf-8').decode(await zip.read(e)) : null;
}

/** Opens a workbook: reads its directory, workbook, relationships, styles and shared strings. */
export async function openWorkbook(path: string, opts: { maxRowChars?: number; limits?: Partial<ZipLimits> } = {}): Promise<Workbook> {
  const maxRow = opts.maxRowChars ?? DEFAULT_MAX_ROW_CHARS;
  const zip = await ZipFile.open(path, opts.limits);
  try {
    const where = (part: string) => `${path} [${part}]`;
    const rootRels = await text(zip, '_rels/.rels');
    const doc = rootRels ? parseRels(rootRels, '', where('_rels/.rels')).find((r) => /\/officeDocument$/.test(r.type) && !r.external) : undefined;
    const bookPart = doc && zip.entry(doc.target) ? doc.target : 'xl/workbook.xml';
    const bookXml = await text(zip, bookPart);
    if (bookXml === null) throw new Error(`${path}: not an Excel workbook (no ${bookPart} inside the zip)`);
    const book = parseWorkbook(bookXml, where(bookPart));
    const relsPart = resolvePart(bookPart, `_rels/${bookPart.split('/').pop()}.rels`);
    const relsXml = await text(zip, relsPart);
    const rels = relsXml ? parseRels(relsXml, bookPart, where(relsPart)) : [];
    const byId = new Map(rels.map((r) => [r.id, r]));
    const sheets: WorkbookSheet[] = [];
    for (const s of book.sheets) {
      const rel = byId.get(s.rid);
      if (!rel || rel.external || !WORKSHEET.test(rel.type) || !zip.entry(rel.target)) continue; // chart sheets, dialog sheets
      sheets.push({ name: s.name, part: rel.target });
    }
    const stylesRel = rels.find((r) => /\/styles$/.test(r.type) && !r.external);
    const stylesPart = stylesRel?.target ?? 'xl/styles.xml';
    const stylesXml = await text(zip, stylesPart);
    const dateStyles = stylesXml ? parseStyles(stylesXml, where(stylesPart)) : [];
    const ssRel = rels.find((r) => /\/sharedStrings$/.test(r.type) && !r.external);
    const ssEntry = zip.entry(ssRel?.target ?? 'xl/sharedStrings.xml');
    let shared: (string | null)[] = [];
    if (ssEntry) {
      const p = new SharedStringsParser(where(ssEntry.name), maxRow, `${path} [shared strings]`);
      const dec = new StringDecoder('utf8');
      let first = true;
      for await (const chunk of zip.stream(ssEntry)) {
        p.push(first ? stripBom(dec.write(chunk)) : dec.write(chunk));
        first = false;
      }
      p.push(dec.end());
      shared = p.end();
    }
    return {
      sheets,
      async *rows(sheet) {
        const e = zip.entry(sheet.part)!;
        const parser = new SheetParser(`${path} [${sheet.name}]`, shared, dateStyles, book.date1904, maxRow);
        // StringDecoder keeps a character split across two chunks whole (and is faster than TextDecoder).
        const dec = new StringDecoder('utf8');
        let first = true;
        for await (const chunk of zip.stream(e)) {
          const rows = parser.push(first ? stripBom(dec.write(chunk)) : dec.write(chunk));
          first = false;
          if (rows.length) yield rows;
        }
        const last = [...parser.push(dec.end()), ...parser.end()];
        if (last.length) yield last;
      },
      close: () => zip.close()
    };
  } catch (e) {
    await zip.close();
    throw e;
  }
}

export async function readXlsx(source: ExcelSource, ctx: ReadContext): Promise<SourceReader & { sheetNames(): string[] }> {
  const path = confinedPath(source, ctx);
  const maxRow = source.max_row_chars ?? DEFAULT_MAX_ROW_CHARS;
  let headers: string[] | null = null;
  const sheetsSeen: string[] = [];
  return {
    location: path,
    /** The sheets read so far (all of them once `batches()` is done), in tab order. */
    sheetNames: () => [...sheetsSeen],
    async headers() {
      return headers;
    },
    async *batches() {
      const wb = await openWorkbook(path, { maxRowChars: maxRow });
      try {
        let batch: RawRecord[] = [];
        const wanted = source.sheet === undefined ? null : Array.isArray(source.sheet) ? source.sheet : [source.sheet];
        const found = new Set<string>();
        for (const sheet of wb.sheets) {
          const name = sheet.name;
          sheetsSeen.push(name);
          if (wanted && !wanted.includes(name)) continue;
          found.add(name);
          const where = `${path} [${name}]`;
          const first: { cells: unknown[]; row: number }[] = [];
          let shaper: RowShaper | null = null;
          let lastRow = 0;
          const emit = (cells: unknown[], row: number) => {
            // Rows the sheet does not have (entirely empty) are blank rows too.
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
          for await (const rows of wb.rows(sheet)) {
            for (const row of rows) {
              if (!shaper) {
                first.push({ cells: row.cells, row: row.number });
                if (first.length >= SCAN_ROWS + (source.header_row ?? 0)) start();
              } else emit(row.cells, row.number);
              if (batch.length >= BATCH) {
                yield batch;
                batch = [];
              }
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
      } finally {
        await wb.close();
      }
    }
  };
}
