/**
 * A streaming parser for PostgreSQL's `COPY … TO STDOUT (FORMAT csv)` output: RFC 4180 quoting
 * (doubled quotes, separators and newlines inside quoted fields). PostgreSQL writes NULL as an
 * unquoted empty field and the empty string as `""`, so the two stay apart: null vs ''.
 */
export class CsvRowParser {
  private buf = '';
  private decoder = new TextDecoder('utf-8');

  /** Rows completed by this chunk (a row split across chunks is kept until its end arrives). */
  push(chunk: Uint8Array | string, out: (string | null)[][] = []): (string | null)[][] {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const buf = this.buf;
    const n = buf.length;
    let rowStart = 0;
    let i = 0;
    let row: (string | null)[] = [];
    outer: while (i < n) {
      // One field starting at i.
      if (buf.charCodeAt(i) === 34 /* " */) {
        let j = i + 1;
        let value = '';
        for (;;) {
          const q = buf.indexOf('"', j);
          if (q < 0) break outer; // the closing quote is in a later chunk
          if (q + 1 >= n) break outer; // cannot tell "" from " + separator yet
          value += buf.slice(j, q);
          if (buf.charCodeAt(q + 1) === 34) {
            value += '"';
            j = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        row.push(value);
      } else {
        let j = i;
        while (j < n) {
          const c = buf.charCodeAt(j);
          if (c === 44 || c === 10 || c === 13) break;
          j++;
        }
        if (j >= n) break; // the field may continue in the next chunk
        row.push(j === i ? null : buf.slice(i, j));
        i = j;
      }
      const c = buf.charCodeAt(i);
      if (c === 44) {
        i++;
        if (i >= n) break; // a trailing separator: the next field is in a later chunk
        continue;
      }
      if (c === 13) {
        if (i + 1 >= n) break;
        if (buf.charCodeAt(i + 1) === 10) i++;
      }
      if (c === 10 || c === 13) {
        i++;
        out.push(row);
        row = [];
        rowStart = i;
        continue;
      }
      if (i >= n) break;
      throw new Error(`malformed CSV from the server near "${buf.slice(Math.max(0, i - 20), i + 20)}"`);
    }
    this.buf = buf.slice(rowStart);
    return out;
  }

  /** The last row when the stream does not end with a newline. */
  end(out: (string | null)[][] = []): (string | null)[][] {
    this.buf += this.decoder.decode();
    if (this.buf.length) {
      const rest = this.buf.endsWith('\n') ? this.buf : this.buf + '\n';
      this.buf = '';
      this.push(rest, out);
      if (this.buf.length) throw new Error('CSV from the server ends inside a quoted field');
    }
    return out;
  }
}
