/**
 * CSV/TSV reader: streams the file, decodes UTF-8 (with or without BOM), UTF-16LE (BOM) or
 * GBK/GB18030 (as Chinese Excel saves "CSV"), sniffs the delimiter, parses RFC 4180 quoting
 * (quoted fields may hold delimiters, quotes and newlines), finds the header row and yields
 * records in batches — memory stays bounded whatever the file size.
 */
import { createReadStream, openSync, readSync, closeSync } from 'node:fs';
import { extname } from 'node:path';
import type { CsvSource } from '../config';
import type { RawRecord, ReadContext, SourceReader } from '../types';
import { layoutHeader, RowShaper, SCAN_ROWS } from './header';
import { confinedPath, DEFAULT_MAX_ROW_CHARS, RowTooLong } from './guard';

export const BATCH = 2048;

/** The encoding of a file from its first bytes: BOM, else UTF-8 when valid, else GB18030. */
export function sniffEncoding(head: Uint8Array): { encoding: string; bom: number } {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return { encoding: 'utf-8', bom: 3 };
  if (head[0] === 0xff && head[1] === 0xfe) return { encoding: 'utf-16le', bom: 2 };
  if (head[0] === 0xfe && head[1] === 0xff) return { encoding: 'utf-16be', bom: 2 };
  // A sample may end inside a multi-byte character: drop an incomplete tail before checking.
  let end = head.length;
  for (let k = 1; k <= 3 && end - k >= 0; k++) {
    const b = head[end - k];
    if ((b & 0xc0) === 0x80) continue;
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (k < need) end -= k;
    }
    break;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
    return { encoding: 'utf-8', bom: 0 };
  } catch {
    return { encoding: 'gb18030', bom: 0 };
  }
}

/** The delimiter that splits the first lines most consistently into the most fields. */
export function sniffDelimiter(sample: string, fallback = ','): string {
  const lines = sample.split(/\r?\n/).filter((l) => l.trim() !== '').slice(0, 20);
  if (lines.length > 1) lines.pop(); // may be cut mid-line
  let best = fallback;
  let bestScore = 0;
  for (const d of [',', '\t', ';', '|']) {
    const counts = lines.map((l) => {
      let n = 0;
      let q = false;
      for (const ch of l) {
        if (ch === '"') q = !q;
        else if (ch === d && !q) n++;
      }
      return n;
    });
    if (!counts.length) continue;
    const sorted = [...counts].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const consistent = counts.filter((c) => c === median).length / counts.length;
    const score = median * consistent;
    if (score > bestScore) {
      bestScore = score;
      best = d;
    }
  }
  return best;
}

/**
 * A streaming RFC 4180 parser: feed text chunks, get complete rows (arrays of strings) and
 * the 1-based line each row started on.
 */
export class CsvParser {
  private field = '';
  private row: string[] = [];
  private quoted = false;
  private afterQuote = false;
  private line = 1;
  private rowLine = 1;
  private fieldStarted = false;
  /** Characters of the row being read, counted at chunk ends (a chunk is at most ~1M characters). */
  private rowChars = 0;
  /**
   * @param maxRow the longest row in characters; a longer one throws `RowTooLong(where, …)`
   *               (checked per chunk, so the row held is at most one chunk past it).
   */
  constructor(
    private readonly delim: string,
    private readonly maxRow = Infinity,
    private readonly where = 'the file'
  ) {}

  feed(text: string, out: { cells: string[]; line: number }[]): void {
    const rowsBefore = out.length;
    this.parse(text, out);
    // Characters since the last row ended in this chunk, or the whole chunk added to the row.
    if (out.length > rowsBefore) this.rowChars = text.length - this.lastRowEnd - 1;
    else this.rowChars += text.length;
    if (this.rowChars > this.maxRow) throw new RowTooLong(this.where, `the row starting at line ${this.rowLine}`, this.maxRow);
  }

  private lastRowEnd = -1;

  private parse(text: string, out: { cells: string[]; line: number }[]): void {
    const d = this.delim;
    let field = this.field;
    let i0 = 0;
    if (this.skipLF) {
      this.skipLF = false;
      if (text[0] === '\n') i0 = 1;
    }
    for (let i = i0; i < text.length; i++) {
      const ch = text[i];
      if (this.quoted) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else if (i + 1 === text.length) {
            // Cannot tell yet whether the quote is doubled: keep it for the next chunk.
            this.field = field;
            this.pendingQuote = true;
            return;
          } else {
            this.quoted = false;
            this.afterQuote = true;
          }
        } else {
          if (ch === '\n') this.line++;
          field += ch;
        }
        continue;
      }
      if (ch === d) {
        this.row.push(field);
        field = '';
        this.afterQuote = false;
        this.fieldStarted = true;
      } else if (ch === '\n' || ch === '\r') {
        if (ch === '\r') {
          if (text[i + 1] === '\n') i++;
          else if (i + 1 === text.length) this.skipLF = true; // a CRLF split across chunks
        }
        this.row.push(field);
        field = '';
        out.push({ cells: this.row, line: this.rowLine });
        this.lastRowEnd = i;
        this.row = [];
        this.afterQuote = false;
        this.fieldStarted = false;
        this.line++;
        this.rowLine = this.line;
      } else if (ch === '"' && field === '' && !this.afterQuote) {
        this.quoted = true;
        this.fieldStarted = true;
      } else {
        field += ch;
        this.fieldStarted = true;
      }
    }
    this.field = field;
  }

  private pendingQuote = false;
  private skipLF = false;

  /** Call with each chunk; handles a quote split across chunks. */
  push(text: string, out: { cells: string[]; line: number }[]): void {
    if (this.pendingQuote) {
      this.pendingQuote = false;
      if (text[0] === '"') {
        this.field += '"';
        text = text.slice(1);
      } else {
        this.quoted = false;
        this.afterQuote = true;
      }
    }
    this.feed(text, out);
  }

  end(out: { cells: string[]; line: number }[]): void {
    if (this.pendingQuote) {
      this.pendingQuote = false;
      this.quoted = false;
    }
    if (this.field !== '' || this.row.length > 0 || this.fieldStarted) {
      this.row.push(this.field);
      out.push({ cells: this.row, line: this.rowLine });
    }
    this.row = [];
    this.field = '';
  }
}

export async function readCsv(source: CsvSource, ctx: ReadContext): Promise<SourceReader> {
  const path = confinedPath(source, ctx);
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(65536);
  const n = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const sample = head.subarray(0, n);
  const enc = source.encoding && source.encoding !== 'auto' ? { encoding: source.encoding === 'utf8' ? 'utf-8' : source.encoding === 'gb2312' ? 'gbk' : source.encoding, bom: -1 } : sniffEncoding(sample);
  const sampleText = new TextDecoder(enc.encoding).decode(sample);
  const delim = source.delimiter ?? sniffDelimiter(sampleText, extname(path).toLowerCase() === '.tsv' ? '\t' : ',');
  let headers: string[] | null = null;

  async function* rows(): AsyncGenerator<{ cells: string[]; line: number }[]> {
    const decoder = new TextDecoder(enc.encoding, { ignoreBOM: false });
    const parser = new CsvParser(delim, source.max_row_chars ?? DEFAULT_MAX_ROW_CHARS, path);
    const stream = createReadStream(path, { highWaterMark: 1 << 20 });
    let out: { cells: string[]; line: number }[] = [];
    for await (const chunk of stream) {
      parser.push(decoder.decode(chunk as Buffer, { stream: true }), out);
      if (out.length) {
        yield out;
        out = [];
      }
    }
    parser.push(decoder.decode(), out);
    parser.end(out);
    if (out.length) yield out;
  }

  const where = path;
  return {
    location: path,
    async headers() {
      return headers;
    },
    async *batches() {
      let shaper: RowShaper | null = null;
      let pending: { cells: string[]; line: number }[] = [];
      let batch: RawRecord[] = [];
      const emit = (r: { cells: string[]; line: number }) => {
        const rec = shaper!.shape(r.cells, r.line);
        if (rec) batch.push(rec);
      };
      const start = (rowsSoFar: { cells: string[]; line: number }[]) => {
        const layout = layoutHeader(rowsSoFar.map((r) => ({ cells: r.cells, row: r.line })), source.header_row);
        if (!layout) throw new Error(`${where}: header row ${source.header_row} not found`);
        headers = layout.names;
        shaper = new RowShaper(headers, ctx.events, where, { unit: layout.unit, headerRows: layout.rows.map((i) => rowsSoFar[i].line) });
        for (const r of rowsSoFar.slice(layout.dataStart)) emit(r);
      };
      for await (const chunk of rows()) {
        if (!shaper) {
          pending.push(...chunk);
          if (pending.length < SCAN_ROWS + (source.header_row ?? 0)) continue;
          start(pending);
          pending = [];
        } else for (const r of chunk) emit(r);
        if (batch.length >= BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (!shaper) {
        if (pending.length === 0) throw new Error(`${where}: the file is empty`);
        start(pending);
      }
      if (batch.length) yield batch;
    }
  };
}
