/**
 * What a file source may read, and how much of it at once.
 *
 * **Paths are confined** to the config file's directory: a source's `path` is resolved against
 * it, symlinks followed, and the real file must lie inside that directory or inside one listed
 * in `sync.allow_dirs` (absolute, or relative to the config file). An absolute path, a `..`
 * escape or a symlink out of the directory is refused with an error naming the source — a
 * config must not be able to read /etc/passwd into rejected_rows.
 *
 * **Rows are bounded**: a row (a CSV line with its quoted line breaks, or a sheet row's XML)
 * longer than `max_row_chars` characters (default 10,000,000) stops the read with an error
 * naming the file and the row — a file without line breaks or with an unclosed quote used to
 * grow one string until the process ran out of memory.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { ReadContext } from '../types';

export const DEFAULT_MAX_ROW_CHARS = 10_000_000;

/** `dir` contains `file` (both real paths). */
function inside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel === '' || (!!rel && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** The real path of a file source, or an error saying why it may not be read. */
export function confinedPath(source: { name: string; path: string }, ctx: Pick<ReadContext, 'baseDir' | 'config'>): string {
  const base = resolve(ctx.baseDir);
  const path = resolve(base, source.path);
  if (!existsSync(path)) throw new Error(`file not found: ${path}`);
  const real = realpathSync(path);
  const allowed = [base, ...(ctx.config.sync?.allow_dirs ?? []).map((d) => resolve(base, d))].filter((d) => existsSync(d)).map((d) => realpathSync(d));
  if (allowed.some((d) => inside(d, real))) return real;
  throw new Error(
    `source "${source.name}": path "${source.path}" is outside the config file's directory (${base})` +
      `${real !== path ? ` (it leads to ${real})` : ''}; move the file there, or add its directory to "sync.allow_dirs"`
  );
}

/** A row longer than the source's limit. */
export class RowTooLong extends Error {
  constructor(where: string, row: string, limit: number) {
    super(`${where}: ${row} is longer than ${limit.toLocaleString('en')} characters (max_row_chars): a file without line breaks, or a quote that is never closed? Nothing was loaded`);
  }
}
