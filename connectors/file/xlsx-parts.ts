/**
 * The parts of an .xlsx the reader needs, parsed by hand for speed (one pass of indexOf and
 * charCodeAt over each chunk, no DOM, no general SAX events): the workbook (sheets in tab
 * order, the 1904 date system), its relationships (where each sheet lives), styles (which
 * cell formats are dates), shared strings and the worksheets' cells.
 *
 * Cell values follow what exceljs's streaming reader gave (xlsx-exceljs.ts, the reference of
 * tests/connectors/xlsx-reader-equal.test.ts) for every workbook Excel, WPS or exceljs write:
 * date-formatted numbers become Dates with exceljs's arithmetic (no 1900 leap-day correction,
 * 1904 system honoured), booleans are booleans, errors null, a formula gives its cached value
 * (a boolean formula its 1/0 like exceljs), empty shared strings null, a row's trailing empty
 * cells dropped. Where exceljs lost or altered data, this reader keeps it (docs/decisions.md,
 * "xlsx reader"): a formula's cached 0 (exceljs: null), every run of an inline rich string
 * (exceljs: the last), the text of a string with a phonetic guide (exceljs: the guide), text
 * decoded once (exceljs decoded inline strings twice), typed ISO dates (t="d"), CDATA, and
 * part names given absolute or with namespace prefixes.
 *
 * XML safety: a document type declaration (DTD, entity declarations) is refused in every part,
 * and only the five predefined entities and character references are decoded.
 */
import { RowTooLong } from './guard';

/** An error about the XML of a part (the message names the file and part). */
export class XmlError extends Error {}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Text with its entities and character references decoded; line ends normalised as XML does. */
export function decodeText(raw: string, where: string): string {
  if (raw.indexOf('\r') >= 0) raw = raw.replace(/\r\n?/g, '\n');
  if (raw.indexOf('&') < 0) return raw;
  return raw.replace(/&([^;&<\s]{0,12});?/g, (m, name: string) => {
    if (!m.endsWith(';')) throw new XmlError(`${where}: a bare "&" in the XML: the file is damaged`);
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (!Number.isFinite(code) || code < 0 || code > 0x10ffff) throw new XmlError(`${where}: bad character reference "${m}"`);
      return String.fromCodePoint(code);
    }
    const v = NAMED[name];
    if (v === undefined) throw new XmlError(`${where}: undefined entity "${m}" (only the five XML entities are read)`);
    return v;
  });
}

/** Tag name without its namespace prefix. */
function local(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

/** The attributes of a tag's text (between the name and `>`), raw names, decoded values. */
export function attributes(s: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out[m[1]] = decodeText(m[2] ?? m[3], where).replace(/[\t\n]/g, ' ');
  return out;
}

/** Refuses a document type declaration; call on any part's text before reading it. */
export function refuseDtd(xml: string, where: string) {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlError(`${where}: the XML declares a document type or entities (<!DOCTYPE/<!ENTITY); refused: an .xlsx never needs one`);
}

/** Every tag `<name …>` (any prefix) in `xml`, with its attributes, in order. */
function tags(xml: string, name: string, where: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const re = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?=[\\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>`, 'g');
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml))) out.push(attributes(m[1], where));
  return out;
}

/** The text between `<name …>` and `</name>` (first occurrence, any prefix), or ''. */
function section(xml: string, name: string): string {
  const open = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?=[\\s>])[^>]*>`).exec(xml);
  if (!open) return '';
  const close = new RegExp(`</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`, 'g');
  close.lastIndex = open.index + open[0].length;
  const c = close.exec(xml);
  return xml.slice(open.index + open[0].length, c ? c.index : xml.length);
}

export interface Relationship {
  id: string;
  type: string;
  /** Part name resolved against the source part's folder, without leading slash. */
  target: string;
  external: boolean;
}

/** Resolves a relationship target against the folder of the part it belongs to. */
export function resolvePart(base: string, target: string): string {
  const parts = target.startsWith('/') ? [] : base.split('/').slice(0, -1);
  for (const seg of target.replace(/^\/+/, '').split('/')) {
    if (seg === '..') parts.pop();
    else if (seg && seg !== '.') parts.push(seg);
  }
  return parts.join('/');
}

/** A relationships part (`…/_rels/x.xml.rels`) of `owner` (the part it describes). */
export function parseRels(xml: string, owner: string, where: string): Relationship[] {
  refuseDtd(xml, where);
  return tags(xml, 'Relationship', where).map((a) => ({
    id: a.Id ?? '',
    type: a.Type ?? '',
    target: a.TargetMode === 'External' ? (a.Target ?? '') : resolvePart(owner, a.Target ?? ''),
    external: a.TargetMode === 'External'
  }));
}

export interface SheetRef {
  name: string;
  rid: string;
  state: string | undefined;
}

/** The workbook part: its sheets in tab order and whether dates count from 1904. */
export function parseWorkbook(xml: string, where: string): { sheets: SheetRef[]; date1904: boolean } {
  refuseDtd(xml, where);
  const pr = tags(xml, 'workbookPr', where)[0];
  const d = pr?.date1904;
  const sheets = tags(section(xml, 'sheets') || xml, 'sheet', where).map((a) => {
    const rid = a['r:id'] ?? Object.entries(a).find(([k]) => k.endsWith(':id'))?.[1] ?? '';
    return { name: a.name ?? '', rid, state: a.state };
  });
  return { sheets, date1904: d === '1' || d === 'true' };
}

/** Built-in number formats exceljs knows (its defaultnumformats, the ids with a format string). */
const BUILTIN_FORMATS: Record<number, string> = {
  0: 'General', 1: '0', 2: '0.00', 3: '#,##0', 4: '#,##0.00', 9: '0%', 10: '0.00%', 11: '0.00E+00', 12: '# ?/?', 13: '# ??/??',
  14: 'mm-dd-yy', 15: 'd-mmm-yy', 16: 'd-mmm', 17: 'mmm-yy', 18: 'h:mm AM/PM', 19: 'h:mm:ss AM/PM', 20: 'h:mm', 21: 'h:mm:ss',
  22: 'm/d/yy "h":mm', 37: '#,##0 ;(#,##0)', 38: '#,##0 ;[Red](#,##0)', 39: '#,##0.00 ;(#,##0.00)', 40: '#,##0.00 ;[Red](#,##0.00)',
  45: 'mm:ss', 46: '[h]:mm:ss', 47: 'mmss.0', 48: '##0.0E+0', 49: '@'
};

/** A format that shows a date or time (exceljs's rule: y m d h M s b outside quotes and brackets). */
export function isDateFormat(fmt: string | undefined): boolean {
  if (!fmt) return false;
  return /[ymdhMsb]+/.test(fmt.replace(/\[[^\]]*]/g, '').replace(/"[^"]*"/g, ''));
}

/**
 * The styles part: for each cell format (`cellXfs` index, a cell's `s`), whether its number
 * format is a date. A custom format with the id of a built-in one wins, as in exceljs.
 */
export function parseStyles(xml: string, where: string): boolean[] {
  refuseDtd(xml, where);
  const custom = new Map<number, string>();
  for (const a of tags(section(xml, 'numFmts'), 'numFmt', where)) {
    if (a.formatCode !== undefined) custom.set(parseInt(a.numFmtId, 10), a.formatCode.replace(/[\\](.)/g, '$1'));
  }
  return tags(section(xml, 'cellXfs'), 'xf', where).map((a) => {
    const id = parseInt(a.numFmtId, 10);
    if (!id) return false;
    return isDateFormat(custom.get(id) || BUILTIN_FORMATS[id]);
  });
}

/** Where a scan stopped in a chunk: a tag or a text run may continue in the next one. */
interface Scan {
  buf: string;
  pos: number;
  /** Characters consumed before `buf` (absolute offset of buf[0]). */
  base: number;
}

/**
 * Skips `<!-- -->`, `<?…?>` and `<![CDATA[…]]>` at `lt`; returns the index after it, -1 when
 * it is not complete yet, and the CDATA text through `cdata`. Refuses a DTD.
 */
function special(buf: string, lt: number, where: string, cdata: (s: string) => void): number {
  const c = buf.charCodeAt(lt + 1);
  if (c === 63 /* ? */) {
    const e = buf.indexOf('?>', lt + 2);
    return e < 0 ? -1 : e + 2;
  }
  if (buf.startsWith('<!--', lt)) {
    const e = buf.indexOf('-->', lt + 4);
    return e < 0 ? -1 : e + 3;
  }
  if (buf.startsWith('<![CDATA[', lt)) {
    const e = buf.indexOf(']]>', lt + 9);
    if (e < 0) return -1;
    cdata(buf.slice(lt + 9, e));
    return e + 3;
  }
  if (buf.length - lt < 9) return -1;
  throw new XmlError(`${where}: the XML declares a document type or entities (<!DOCTYPE/<!ENTITY); refused: an .xlsx never needs one`);
}

/** End of the tag opened at `lt` (index of its `>`), quotes respected; -1 when not complete. */
function tagEnd(buf: string, lt: number): number {
  const n = buf.length;
  let quote = 0;
  for (let i = lt + 1; i < n; i++) {
    const ch = buf.charCodeAt(i);
    if (quote) {
      if (ch === quote) quote = 0;
    } else if (ch === 62 /* > */) return i;
    else if (ch === 34 || ch === 39) quote = ch;
  }
  return -1;
}

/** Decoded text of each `<si>` of the shared strings, streaming over chunks. */
export class SharedStringsParser {
  readonly strings: (string | null)[] = [];
  private s: Scan = { buf: '', pos: 0, base: 0 };
  private inSi = false;
  private inT = false;
  private rph = 0;
  private runs = false;
  private text = '';
  private got = false;
  private siStart = 0;

  constructor(
    private readonly where: string,
    private readonly maxChars: number,
    private readonly errWhere: string
  ) {}

  push(chunk: string) {
    const s = this.s;
    s.buf = s.pos < s.buf.length ? s.buf.slice(s.pos) + chunk : chunk;
    s.base += s.pos;
    s.pos = 0;
    this.scan();
    const open = this.inSi ? s.base + s.buf.length - this.siStart : s.buf.length - s.pos;
    if (open > this.maxChars) throw new RowTooLong(this.errWhere, `text number ${this.strings.length + 1}`, this.maxChars);
  }

  end(): (string | null)[] {
    return this.strings;
  }

  private add(t: string) {
    if (!t) return;
    this.text += t;
    this.got = true;
  }

  private scan() {
    const s = this.s;
    const buf = s.buf;
    let pos = s.pos;
    for (;;) {
      const lt = buf.indexOf('<', pos);
      if (lt < 0) break;
      if (this.inT && lt > pos) this.add(decodeText(buf.slice(pos, lt), this.where));
      const c = buf.charCodeAt(lt + 1);
      if (c === 33 || c === 63) {
        const e = special(buf, lt, this.where, (t) => this.inT && this.add(t));
        if (e < 0) {
          pos = lt;
          break;
        }
        pos = e;
        continue;
      }
      const gt = tagEnd(buf, lt);
      if (gt < 0) {
        pos = lt;
        break;
      }
      pos = gt + 1;
      if (c === 47 /* / */) {
        const name = local(buf.slice(lt + 2, gt).trim());
        if (name === 't') this.inT = false;
        else if (name === 'rPh') this.rph--;
        else if (name === 'si') this.closeSi();
        continue;
      }
      const selfClosing = buf.charCodeAt(gt - 1) === 47;
      let ne = lt + 1;
      while (ne < gt) {
        const ch = buf.charCodeAt(ne);
        if (ch === 32 || ch === 47 || ch === 9 || ch === 10 || ch === 13) break;
        ne++;
      }
      const name = local(buf.slice(lt + 1, ne));
      if (name === 'si') {
        this.inSi = true;
        this.text = '';
        this.got = false;
        this.runs = false;
        this.rph = 0;
        this.siStart = s.base + lt;
        if (selfClosing) this.closeSi();
      } else if (name === 't') {
        if (this.inSi && this.rph === 0 && !selfClosing) this.inT = true;
      } else if (name === 'r') {
        if (this.inSi && this.rph === 0) this.runs = true;
      } else if (name === 'rPh') {
        if (!selfClosing) this.rph++;
      }
    }
    s.pos = pos;
  }

  private closeSi() {
    // exceljs: a string without text is null; a rich string (runs) is its runs' text joined.
    this.strings.push(this.got || this.runs ? this.text : null);
    this.inSi = false;
    this.inT = false;
    if (this.strings.length > 100_000_000) throw new XmlError(`${this.where}: more than 100,000,000 shared strings`);
  }
}

/** One worksheet row: its 1-based number and its cells' values from column A. */
export interface SheetRow {
  number: number;
  cells: unknown[];
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * A worksheet's rows, streaming: `push` a decoded chunk, take the rows it completed. A row
 * whose XML (or whatever lies between two rows) grows past `maxChars` characters stops the read
 * naming the sheet and the row (RowTooLong), as the former reader did.
 */
export class SheetParser {
  private s: Scan = { buf: '', pos: 0, base: 0 };
  private inData = false;
  private row: SheetRow | null = null;
  private lastRow = 0;
  /** Absolute offset of the last `<row` or `</row>`. */
  private mark = 0;
  // the cell being read
  private inCell = false;
  private col = 0;
  private lastCol = 0;
  private style = 0;
  private type: string | undefined;
  private hasF = false;
  private hasV = false;
  private inV = false;
  private inIs = false;
  private rph = 0;
  private text = '';
  private out: SheetRow[] = [];

  constructor(
    private readonly where: string,
    private readonly shared: readonly (string | null)[],
    private readonly dateStyles: readonly boolean[],
    private readonly date1904: boolean,
    private readonly maxChars: number
  ) {}

  /** The rows completed by this chunk. */
  push(chunk: string): SheetRow[] {
    const s = this.s;
    s.buf = s.pos < s.buf.length ? s.buf.slice(s.pos) + chunk : chunk;
    s.base += s.pos;
    s.pos = 0;
    this.scan();
    if (s.base + s.buf.length - this.mark > this.maxChars) throw new RowTooLong(this.where, `row ${this.row?.number ?? (this.lastRow || 1)}`, this.maxChars);
    const out = this.out;
    this.out = [];
    return out;
  }

  /** The end of the sheet: a row left open is returned as it is. */
  end(): SheetRow[] {
    const out = this.out;
    if (this.row) out.push(this.row);
    this.row = null;
    this.out = [];
    return out;
  }

  private scan() {
    const s = this.s;
    const buf = s.buf;
    let pos = s.pos;
    for (;;) {
      const lt = buf.indexOf('<', pos);
      if (lt < 0) break;
      if (this.inV && lt > pos) this.text += decodeText(buf.slice(pos, lt), this.where);
      const c = buf.charCodeAt(lt + 1);
      if (c === 33 || c === 63) {
        const e = special(buf, lt, this.where, (t) => {
          if (this.inV) this.text += t;
        });
        if (e < 0) {
          pos = lt;
          break;
        }
        pos = e;
        continue;
      }
      const gt = tagEnd(buf, lt);
      if (gt < 0) {
        pos = lt;
        break;
      }
      pos = gt + 1;
      if (c === 47 /* / */) {
        this.close(gt === lt + 3 ? buf[lt + 2] : local(buf.slice(lt + 2, gt).trim()), s.base + lt);
        continue;
      }
      const selfClosing = buf.charCodeAt(gt - 1) === 47;
      let ne = lt + 1;
      while (ne < gt) {
        const ch = buf.charCodeAt(ne);
        if (ch === 32 || ch === 47 || ch === 9 || ch === 10 || ch === 13) break;
        ne++;
      }
      let name = ne === lt + 2 ? buf[lt + 1] : buf.slice(lt + 1, ne);
      if (name.length > 1 && name.indexOf(':') >= 0) name = local(name);
      switch (name) {
        case 'c':
          if (this.row) this.openCell(buf, ne, selfClosing ? gt - 1 : gt, selfClosing);
          break;
        case 'v':
          if (this.inCell) {
            this.hasV = true;
            this.text = '';
            this.inV = !selfClosing;
          }
          break;
        case 'f':
          if (this.inCell) this.hasF = true;
          break;
        case 'is':
          if (this.inCell) {
            this.hasV = true;
            this.text = '';
            this.inIs = !selfClosing;
          }
          break;
        case 't':
          if (this.inIs && this.rph === 0 && !selfClosing) this.inV = true;
          break;
        case 'rPh':
          if (this.inIs && !selfClosing) this.rph++;
          break;
        case 'row':
          if (this.inData) {
            const m = /\sr\s*=\s*["'](\d+)/.exec(buf.slice(ne, gt));
            const number = m ? Number(m[1]) : this.lastRow + 1;
            if (this.row) this.out.push(this.row);
            this.row = { number, cells: [] };
            this.lastRow = number;
            this.lastCol = 0;
            this.mark = s.base + lt;
            if (selfClosing) {
              this.out.push(this.row);
              this.row = null;
            }
          }
          break;
        case 'sheetData':
          if (!selfClosing) this.inData = true;
          break;
      }
    }
    s.pos = pos;
  }

  private openCell(buf: string, from: number, to: number, selfClosing: boolean) {
    let col = 0;
    let style = 0;
    let type: string | undefined;
    // Attributes r, s, t (quotes " or ').
    let i = from;
    while (i < to) {
      const eq = buf.indexOf('=', i);
      if (eq < 0 || eq >= to) break;
      let k = eq;
      while (k > i && buf.charCodeAt(k - 1) <= 32) k--;
      let n0 = k;
      while (n0 > i && buf.charCodeAt(n0 - 1) > 32) n0--;
      let q = eq + 1;
      while (q < to && buf.charCodeAt(q) <= 32) q++;
      const quote = buf.charCodeAt(q);
      let end = q + 1;
      while (end < to && buf.charCodeAt(end) !== quote) end++;
      if (end >= to && buf.charCodeAt(end) !== quote) break;
      if (k === n0 + 1) {
        // One-letter names, compared by code (no substring per attribute).
        const key = buf.charCodeAt(n0);
        if (key === 114 /* r */) {
          col = 0;
          for (let j = q + 1; j < end; j++) {
            const ch = buf.charCodeAt(j);
            if (ch >= 65 && ch <= 90) col = col * 26 + ch - 64;
            else if (ch >= 97 && ch <= 122) col = col * 26 + ch - 96;
            else break;
          }
        } else if (key === 115 /* s */) {
          style = 0;
          for (let j = q + 1; j < end; j++) {
            const ch = buf.charCodeAt(j);
            if (ch < 48 || ch > 57) break;
            style = style * 10 + ch - 48;
          }
        } else if (key === 116 /* t */) {
          const len = end - q - 1;
          type = len === 1 && buf.charCodeAt(q + 1) === 115 ? 's' : len === 3 && buf.startsWith('str', q + 1) ? 'str' : buf.slice(q + 1, end);
        }
      }
      i = end + 1;
    }
    this.col = col || this.lastCol + 1;
    this.lastCol = this.col;
    this.style = style;
    this.type = type;
    this.hasF = false;
    this.hasV = false;
    this.inV = false;
    this.inIs = false;
    this.rph = 0;
    this.text = '';
    this.inCell = true;
    if (selfClosing) this.closeCell();
  }

  private close(name: string, at: number) {
    switch (name) {
      case 'v':
        this.inV = false;
        break;
      case 't':
        if (this.inIs) this.inV = false;
        break;
      case 'rPh':
        if (this.rph > 0) this.rph--;
        break;
      case 'is':
        this.inIs = false;
        this.inV = false;
        break;
      case 'c':
        if (this.inCell) this.closeCell();
        break;
      case 'row':
        if (this.row) {
          this.out.push(this.row);
          this.row = null;
        }
        this.mark = at;
        break;
      case 'sheetData':
        this.inData = false;
        break;
    }
  }

  private closeCell() {
    this.inCell = false;
    this.inV = false;
    this.inIs = false;
    const v = this.value();
    if (v === null || v === undefined) return;
    const cells = this.row!.cells;
    const i = this.col - 1;
    while (cells.length < i) cells.push(null);
    cells[i] = v;
  }

  /** The cell's value, as exceljs's streaming reader flattened it (see the file's comment). */
  private value(): unknown {
    if (!this.hasV) return null;
    const text = this.text;
    const t = this.type;
    if (this.hasF) {
      if (t === 'str') return text;
      if (t === 'e') return null;
      const n = parseFloat(text);
      return Number.isNaN(n) ? null : n;
    }
    switch (t) {
      case 's':
        return this.shared[parseInt(text, 10)] ?? null;
      case 'inlineStr':
      case 'str':
        return text;
      case 'e':
        return null;
      case 'b':
        return parseInt(text, 10) !== 0;
      case 'd': {
        const iso = text.trim();
        return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) || !iso.includes('T') ? (iso.includes('T') ? iso : `${iso}T00:00:00Z`) : `${iso}Z`);
      }
      default: {
        const n = parseFloat(text);
        if (this.style && this.dateStyles[this.style]) return new Date(Math.round((n - 25569 + (this.date1904 ? 1462 : 0)) * DAY_MS));
        return n;
      }
    }
  }
}
