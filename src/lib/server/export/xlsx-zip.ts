/**
 * A streaming .xlsx writer for rows DuckDB has already written as SpreadsheetML (xlsx-sql.ts):
 * the workbook's small parts are fixed text, the sheet is its header row plus DuckDB's bytes,
 * deflated as they come (zlib, level 1) into a zip written front to back (sizes and CRC in a
 * data descriptor after each entry, the central directory at the end). The reader's pace sets
 * the pace: nothing is deflated before the client has taken the previous output.
 * No ZIP64: a sheet over 4 GiB (far beyond Excel's 1,048,576 rows) fails with an error.
 */
import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';
import { XLSX_STYLE } from './xlsx-sql';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/[\x00-\x08\x0B\x0C\x0E-\x1F]/g, '');

const HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const CONTENT_TYPES = `${HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`;
const RELS = `${HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`;
const WORKBOOK_RELS = `${HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`;
// cellXfs: 0 plain, 1 date, 2 date and time, 3 bold (the header) — XLSX_STYLE.
const STYLES = `${HEAD}<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>`;
if (XLSX_STYLE.header !== 3) throw new Error('styles.xml and XLSX_STYLE disagree');

function workbook(sheetName: string): string {
  return `${HEAD}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="${esc(sheetName)}" sheetId="1" r:id="rId1"/></sheets></workbook>`;
}

/** The sheet's text before DuckDB's rows: frozen header row, column widths, the header. */
function sheetHead(headers: string[]): string {
  const cols = headers.map((h, i) => `<col min="${i + 1}" max="${i + 1}" width="${Math.min(40, Math.max(10, h.length * 2 + 2))}" customWidth="1"/>`).join('');
  const header = headers.map((h) => `<c t="inlineStr" s="${XLSX_STYLE.header}"><is><t>${esc(h)}</t></is></c>`).join('');
  return `${HEAD}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><cols>${cols}</cols><sheetData><row r="1">${header}</row>\n`;
}
const SHEET_TAIL = '</sheetData></worksheet>';

interface Entry {
  name: Buffer;
  offset: number;
  crc: number;
  csize: number;
  size: number;
}

// DOS time and date of 1980-01-01 00:00 (the zip epoch): the parts carry no meaningful time.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

function localHeader(name: Buffer, descriptor: boolean, crc = 0, csize = 0, size = 0): Buffer {
  const b = Buffer.alloc(30);
  b.writeUInt32LE(0x04034b50, 0);
  b.writeUInt16LE(20, 4); // version needed
  b.writeUInt16LE(descriptor ? 0x0008 : 0, 6); // bit 3: sizes in a data descriptor
  b.writeUInt16LE(8, 8); // deflate
  b.writeUInt16LE(DOS_TIME, 10);
  b.writeUInt16LE(DOS_DATE, 12);
  b.writeUInt32LE(crc, 14);
  b.writeUInt32LE(csize, 18);
  b.writeUInt32LE(size, 22);
  b.writeUInt16LE(name.length, 26);
  b.writeUInt16LE(0, 28);
  return Buffer.concat([b, name]);
}

function centralDirectory(entries: Entry[], descriptorNames: Set<Buffer>, at: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (const e of entries) {
    const b = Buffer.alloc(46);
    b.writeUInt32LE(0x02014b50, 0);
    b.writeUInt16LE(20, 4); // version made by
    b.writeUInt16LE(20, 6);
    b.writeUInt16LE(descriptorNames.has(e.name) ? 0x0008 : 0, 8);
    b.writeUInt16LE(8, 10);
    b.writeUInt16LE(DOS_TIME, 12);
    b.writeUInt16LE(DOS_DATE, 14);
    b.writeUInt32LE(e.crc, 16);
    b.writeUInt32LE(e.csize, 20);
    b.writeUInt32LE(e.size, 24);
    b.writeUInt16LE(e.name.length, 28);
    b.writeUInt32LE(e.offset, 42);
    parts.push(b, e.name);
    size += b.length + e.name.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(size, 12);
  end.writeUInt32LE(at, 16);
  parts.push(end);
  return Buffer.concat(parts);
}

const U32 = 0xffffffff;

/**
 * The .xlsx bytes: a workbook of one sheet named `sheetName` with a bold, frozen header row of
 * `headers`, then `rows` (a row's cells and `</row>` per line, as COPY writes them; each line
 * gets its `<row r="N">` here).
 */
export function xlsxFromRows(rows: ReadableStream<Uint8Array>, headers: string[], sheetName: string): ReadableStream<Uint8Array> {
  const reader = rows.getReader();
  let rowsDone = false;
  async function* parts(): AsyncGenerator<Uint8Array> {
    const entries: Entry[] = [];
    const streamed = new Set<Buffer>();
    let offset = 0;
    const small = (name: string, text: string): Buffer => {
      const data = Buffer.from(text, 'utf8');
      const packed = deflateRawSync(data);
      const n = Buffer.from(name);
      const head = localHeader(n, false, crc32(data), packed.length, data.length);
      entries.push({ name: n, offset, crc: crc32(data), csize: packed.length, size: data.length });
      offset += head.length + packed.length;
      return Buffer.concat([head, packed]);
    };
    try {
      yield small('[Content_Types].xml', CONTENT_TYPES);
      yield small('_rels/.rels', RELS);
      yield small('xl/workbook.xml', workbook(sheetName.slice(0, 31).replace(/[\\/?*[\]:]/g, ' ')));
      yield small('xl/_rels/workbook.xml.rels', WORKBOOK_RELS);
      yield small('xl/styles.xml', STYLES);
      // The sheet, deflated as DuckDB's rows arrive.
      const name = Buffer.from('xl/worksheets/sheet1.xml');
      const head = localHeader(name, true);
      const entry: Entry = { name, offset, crc: 0, csize: 0, size: 0 };
      streamed.add(name);
      offset += head.length;
      yield head;
      const deflate = createDeflateRaw({ level: 1 });
      const out: Buffer[] = [];
      deflate.on('data', (b: Buffer) => out.push(b));
      const feed = (b: Uint8Array) =>
        new Promise<void>((res, rej) => {
          entry.crc = crc32(b, entry.crc);
          entry.size += b.length;
          if (entry.size > U32) rej(new Error('xlsx: the sheet is over 4 GiB (no ZIP64)'));
          deflate.write(b, (e) => (e ? rej(e) : res()));
        });
      const drain = function* () {
        while (out.length) {
          const b = out.shift()!;
          entry.csize += b.length;
          yield b;
        }
      };
      await feed(Buffer.from(sheetHead(headers), 'utf8'));
      yield* drain();
      // Each line DuckDB wrote is a row's cells and `</row>`: open it with its row number.
      let row = 1;
      let atLineStart = true;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        const pieces: Buffer[] = [];
        let from = 0;
        for (;;) {
          if (atLineStart && from < buf.length) {
            pieces.push(Buffer.from(`<row r="${++row}">`, 'latin1'));
            atLineStart = false;
          }
          const nl = buf.indexOf(10, from);
          if (nl === -1) {
            pieces.push(buf.subarray(from));
            break;
          }
          pieces.push(buf.subarray(from, nl + 1));
          from = nl + 1;
          atLineStart = true;
        }
        await feed(Buffer.concat(pieces));
        yield* drain();
      }
      rowsDone = true;
      await feed(Buffer.from(SHEET_TAIL, 'utf8'));
      await new Promise<void>((res, rej) => deflate.end((e?: Error | null) => (e ? rej(e) : res())));
      await new Promise<void>((res) => (deflate.readableEnded ? res() : deflate.once('end', () => res())));
      yield* drain();
      const desc = Buffer.alloc(16);
      desc.writeUInt32LE(0x08074b50, 0);
      desc.writeUInt32LE(entry.crc, 4);
      desc.writeUInt32LE(entry.csize, 8);
      desc.writeUInt32LE(entry.size, 12);
      offset += entry.csize;
      entries.push(entry);
      yield desc;
      offset += desc.length;
      if (offset > U32) throw new Error('xlsx: the file is over 4 GiB (no ZIP64)');
      yield centralDirectory(entries, streamed, offset);
    } finally {
      if (!rowsDone) await reader.cancel().catch(() => undefined);
    }
  }
  const gen = parts();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await gen.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel() {
        await gen.return(undefined);
      }
    },
    { highWaterMark: 1 }
  );
}
