/**
 * A zip reader for .xlsx files (user uploads: treat every byte as hostile).
 *
 * It reads the central directory at the end of the file (zip64 included), so parts are found
 * by name whatever their order, and reads an entry stored or deflated (node:zlib's inflateRaw):
 * small parts whole, a worksheet as a stream of chunks, never the whole sheet in memory.
 *
 * Limits, each refused with an error naming the file and the part:
 * - at most `maxEntries` entries (a directory of millions of entries is an attack, not a workbook);
 * - an entry may not inflate past its declared size, nor past `maxEntryBytes`, nor past
 *   `maxRatio` × its compressed size once it is over `ratioFloor` bytes (a zip bomb: deflate
 *   reaches ~1000:1 on repeated bytes; real sheets are 5–30:1, sparse ones up to ~100:1);
 * - all entries read from one file together may not inflate past `maxTotalBytes`;
 * - encrypted entries, methods other than stored/deflate, and CRC mismatches are refused.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInflateRaw, crc32, inflateRawSync } from 'node:zlib';

export interface ZipLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxRatio: number;
  ratioFloor: number;
}

export const ZIP_LIMITS: ZipLimits = {
  maxEntries: 10_000,
  maxEntryBytes: 4 * 1024 ** 3,
  maxTotalBytes: 8 * 1024 ** 3,
  maxRatio: 200,
  ratioFloor: 16 * 1024 ** 2
};

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** An error about a zip file (the message names the file). */
export class ZipError extends Error {}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const EOCD64 = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function u64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('64-bit size out of range');
  return Number(v);
}

export class ZipFile {
  private inflated = 0;
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly byName: Map<string, ZipEntry>,
    readonly limits: ZipLimits
  ) {}

  /** Opens a zip file and reads its central directory. */
  static async open(path: string, limits: Partial<ZipLimits> = {}): Promise<ZipFile> {
    const lim = { ...ZIP_LIMITS, ...limits };
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const entries = await readDirectory(fh, size, path, lim);
      return new ZipFile(path, fh, size, entries, lim);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async close() {
    await this.fh.close();
  }

  /** The entry of a part (names compare without case and without a leading slash, as OOXML part names do). */
  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name.replace(/^\/+/, '').toLowerCase());
  }

  names(): string[] {
    return [...this.byName.values()].map((e) => e.name);
  }

  private fail(e: ZipEntry, why: string): never {
    throw new ZipError(`${this.path}: ${e.name} ${why}`);
  }

  private check(e: ZipEntry) {
    if (e.flags & 1) this.fail(e, 'is encrypted (a password-protected workbook?): save it without a password');
    if (e.method !== 0 && e.method !== 8) this.fail(e, `uses compression method ${e.method} (only stored and deflate are read)`);
    if (e.size > this.limits.maxEntryBytes) this.fail(e, `declares ${e.size.toLocaleString('en')} bytes, over the limit of ${this.limits.maxEntryBytes.toLocaleString('en')}`);
    if (e.size > this.limits.ratioFloor && e.size > this.limits.maxRatio * Math.max(1, e.compressedSize))
      this.fail(e, `would inflate ${Math.round(e.size / Math.max(1, e.compressedSize))}× (limit ${this.limits.maxRatio}×): a zip bomb?`);
  }

  /** Where an entry's data starts (after its local header). */
  private async dataStart(e: ZipEntry): Promise<number> {
    const h = Buffer.alloc(30);
    const { bytesRead } = await this.fh.read(h, 0, 30, e.localOffset);
    if (bytesRead < 30 || h.readUInt32LE(0) !== LOCAL) this.fail(e, 'has no local header where the directory says: the file is damaged');
    const start = e.localOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (start + e.compressedSize > this.size) this.fail(e, 'runs past the end of the file: the file is truncated or damaged');
    return start;
  }

  /** Counts inflated bytes against the limits. */
  private account(e: ZipEntry, entryOut: number, added: number) {
    this.inflated += added;
    if (entryOut > e.size) this.fail(e, `inflates past its declared size of ${e.size.toLocaleString('en')} bytes: the file is damaged or hostile`);
    if (this.inflated > this.limits.maxTotalBytes)
      throw new ZipError(`${this.path}: the workbook inflates past ${this.limits.maxTotalBytes.toLocaleString('en')} bytes (a zip bomb?)`);
  }

  /** A whole entry (for small parts: workbook, relationships, styles). */
  async read(e: ZipEntry): Promise<Buffer> {
    this.check(e);
    const start = await this.dataStart(e);
    const raw = Buffer.alloc(e.compressedSize);
    if (e.compressedSize) await this.fh.read(raw, 0, e.compressedSize, start);
    let out: Buffer;
    if (e.method === 0) out = raw;
    else {
      try {
        out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size + 1) });
      } catch (err) {
        if (err instanceof RangeError) this.fail(e, `inflates past its declared size of ${e.size.toLocaleString('en')} bytes: the file is damaged or hostile`);
        this.fail(e, `cannot be inflated (${(err as Error).message}): the file is damaged`);
      }
    }
    this.account(e, out.length, out.length);
    if (out.length !== e.size) this.fail(e, `has ${out.length} bytes where ${e.size} were declared: the file is damaged`);
    if (crc32(out) >>> 0 !== e.crc) this.fail(e, 'fails its CRC check: the file is damaged');
    return out;
  }

  /** An entry as a stream of inflated chunks (a worksheet, the shared strings). */
  async *stream(e: ZipEntry): AsyncGenerator<Buffer> {
    this.check(e);
    const start = await this.dataStart(e);
    if (e.compressedSize === 0) {
      if (e.size !== 0) this.fail(e, 'is empty where data was declared: the file is damaged');
      return;
    }
    const raw = createReadStream(this.path, { start, end: start + e.compressedSize - 1, highWaterMark: 1 << 20 });
    const src = e.method === 0 ? raw : raw.pipe(createInflateRaw({ chunkSize: 1 << 18 }));
    if (src !== raw) raw.on('error', (err) => (src as NodeJS.ReadableStream & { destroy(e?: Error): void }).destroy(err));
    let out = 0;
    let crc = 0;
    try {
      for await (const chunk of src as AsyncIterable<Buffer>) {
        out += chunk.length;
        this.account(e, out, chunk.length);
        if (out > this.limits.ratioFloor && out > this.limits.maxRatio * e.compressedSize)
          this.fail(e, `inflates over ${this.limits.maxRatio}× its compressed size: a zip bomb?`);
        crc = crc32(chunk, crc);
        yield chunk;
      }
    } catch (err) {
      if (err instanceof ZipError) throw err;
      this.fail(e, `cannot be inflated (${(err as Error).message}): the file is damaged`);
    } finally {
      raw.destroy();
      if (src !== raw) (src as unknown as { destroy(): void }).destroy();
    }
    if (out !== e.size) this.fail(e, `has ${out} bytes where ${e.size} were declared: the file is damaged`);
    if (crc >>> 0 !== e.crc) this.fail(e, 'fails its CRC check: the file is damaged');
  }
}

async function readDirectory(fh: FileHandle, size: number, path: string, lim: ZipLimits): Promise<Map<string, ZipEntry>> {
  const notZip = () => new ZipError(`${path}: not an .xlsx file (no zip directory found; an old .xls, or a password-protected workbook? Save it as .xlsx)`);
  if (size < 22) throw notZip();
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = Buffer.alloc(tailLen);
  await fh.read(tail, 0, tailLen, size - tailLen);
  let at = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) throw notZip();
  let count = tail.readUInt16LE(at + 10);
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = at - 20;
    if (loc >= 0 && tail.readUInt32LE(loc) === EOCD64_LOCATOR) {
      const off = u64(tail, loc + 8);
      const rec = Buffer.alloc(56);
      await fh.read(rec, 0, 56, off);
      if (rec.readUInt32LE(0) !== EOCD64) throw new ZipError(`${path}: damaged zip64 directory`);
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
    }
  }
  if (count > lim.maxEntries) throw new ZipError(`${path}: ${count.toLocaleString('en')} entries in the zip directory, over the limit of ${lim.maxEntries.toLocaleString('en')}: not a workbook`);
  if (cdOffset + cdSize > size || cdSize > count * (46 + 0xffff * 3)) throw new ZipError(`${path}: damaged zip directory`);
  const cd = Buffer.alloc(cdSize);
  await fh.read(cd, 0, cdSize, cdOffset);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw new ZipError(`${path}: damaged zip directory (entry ${n + 1})`);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let usize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localOffset = cd.readUInt32LE(p + 42);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cd.length) throw new ZipError(`${path}: damaged zip directory (entry ${n + 1})`);
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64 sizes and offset live in the extra field (id 1), in this order, for the fields set to ~0.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cd.readUInt16LE(x);
      const len = cd.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        const take = () => {
          if (q + 8 > x + 4 + len) throw new ZipError(`${path}: damaged zip64 field of ${name}`);
          const v = u64(cd, q);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      x += 4 + len;
    }
    const key = name.replace(/^\/+/, '').toLowerCase();
    if (entries.has(key)) throw new ZipError(`${path}: the zip holds "${name}" twice: the file is damaged or hostile`);
    if (localOffset + 30 > size) throw new ZipError(`${path}: ${name} starts past the end of the file`);
    entries.set(key, { name, method, flags, crc, compressedSize, size: usize, localOffset });
    p = end;
  }
  return entries;
}
