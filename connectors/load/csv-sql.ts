/**
 * Vectorised CSV ingest (issue 15, part 1; docs/connectors.md, "The SQL path for CSV files").
 *
 * A UTF-8 CSV file of deals is read raw by DuckDB's `read_csv` (every cell VARCHAR, the header
 * and the rows above it skipped as our own header detection decides) into a temp table, and
 * mapping, cleaning, unit and date parsing and validation run as SQL over whole columns:
 *
 * - the common value forms (plain text, `12000`/`-3.5` amounts times the column's unit,
 *   `2024-03-05[ 10:00:00]` dates) by DuckDB macros (`vc_*`, defined once per sync);
 * - every other distinct value of a column (`¥3.5万`, `2024年3月5日`, `20240305`, regions, stages,
 *   categories, currencies, name and phone keys …) once through the very JS function the row
 *   path uses (a dictionary joined back), so a value reads the same whichever way it went;
 * - a row the SQL cannot finish exactly — a candidate blank, summary (合计) or note row, a value
 *   that fails to parse, a negative amount, an unknown stage or category, a foreign currency, a
 *   missing required field, a cell JSON cannot quote simply — goes through the JS pipeline
 *   itself (RowShaper + Pipeline.process): rejections, their reasons, warnings and skips are
 *   the JS path's own.
 *
 * Accepted rows are inserted into the same staging tables (with sequence numbers reserved from
 * the Stager, in file order) and land exactly as before. Anything this path does not cover
 * (another encoding, entity or reader feature, a layout DuckDB reads differently — blank lines,
 * lone CRs, quotes inside unquoted fields …) returns `{ path: 'js', why }` before anything is
 * staged, and the caller reads the file with the JS reader.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { extname } from 'node:path';
import type { WriteTx } from '../../src/lib/server/db/database';
import type { SourceConfig } from '../../src/lib/server/config/schema';
import { sql, unsafeRaw } from '../../src/lib/server/db/sql';
import { CsvParser, sniffDelimiter, sniffEncoding } from '../file/csv';
import { confinedPath, DEFAULT_MAX_ROW_CHARS } from '../file/guard';
import { layoutHeader, SCAN_ROWS } from '../file/header';
import type { Rejection } from '../pipeline/pipeline';
import type { RecordMeta } from '../types';
import { cleanRaw, dropTemp, profiled, sqlMapping, type IngestArgs } from './sql-ingest';
import { memoSignature, memoValid, presentColumns, stageHitRefs, type MemoOut } from './sync-memo';

export { MACROS, defineMacros } from './sql-ingest';

export type CsvSqlOutcome = { path: 'sql'; location: string; rows: number; jsRows: number; rejected: Rejection[]; memo?: MemoOut } | { path: 'js'; why: string };

const js = (why: string): CsvSqlOutcome => ({ path: 'js', why });

/**
 * Reads one CSV source through DuckDB into the staging tables, or says why it cannot (then
 * nothing was staged). `onRow` is called per record the JS pipeline processes.
 */
export async function ingestCsvSql(a: IngestArgs): Promise<CsvSqlOutcome> {
  const { source, config, pipe } = a;
  const tx = profiled(a.tx);
  if (source.type !== 'csv') return js('not a CSV source');
  if (source.entity !== 'opportunities') return js(`the SQL path covers deals (opportunities) only, not ${source.entity}`);
  if (source.stage_dates && Object.keys(source.stage_dates).length) return js('stage_dates are read by the JS path');
  const s = source as SourceConfig & { path: string; encoding?: string; delimiter?: string; header_row?: number; max_row_chars?: number };
  if (s.encoding && !['auto', 'utf8', 'utf-8'].includes(s.encoding)) return js(`encoding ${s.encoding}`);
  let path: string;
  try {
    path = confinedPath(s, { baseDir: a.baseDir, config });
  } catch {
    return js('the path is checked by the JS reader');
  }

  // --- The header, exactly as the JS reader finds it (1 MiB chunks, SCAN_ROWS rows at least).
  const fd = openSync(path, 'r');
  let size: number;
  const CHUNK = 1 << 20;
  const buf = Buffer.alloc(CHUNK);
  const headRows: { cells: string[]; line: number }[] = [];
  let delim: string;
  try {
    size = fstatSync(fd).size;
    const n0 = readSync(fd, buf, 0, Math.min(65536, CHUNK), 0);
    const sample = buf.subarray(0, n0);
    const enc = s.encoding && s.encoding !== 'auto' ? { encoding: 'utf-8' } : sniffEncoding(sample);
    if (enc.encoding !== 'utf-8') return js(`encoding ${enc.encoding}`);
    const sampleText = new TextDecoder('utf-8').decode(sample);
    delim = s.delimiter ?? sniffDelimiter(sampleText, extname(path).toLowerCase() === '.tsv' ? '\t' : ',');
    if (delim.length !== 1 || delim === '"' || delim === '\n' || delim === '\r') return js(`delimiter ${JSON.stringify(delim)}`);
    const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
    const parser = new CsvParser(delim, s.max_row_chars ?? DEFAULT_MAX_ROW_CHARS, path);
    const need = SCAN_ROWS + (s.header_row ?? 0);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      pos += n;
      const out: { cells: string[]; line: number }[] = [];
      parser.push(decoder.decode(buf.subarray(0, n), { stream: true }), out);
      headRows.push(...out);
      if (headRows.length >= need) break;
    }
    if (headRows.length < need) {
      const out: { cells: string[]; line: number }[] = [];
      parser.push(decoder.decode(), out);
      parser.end(out);
      headRows.push(...out);
    }
  } catch {
    return js('the JS reader reports this file');
  } finally {
    closeSync(fd);
  }
  if (headRows.length === 0) return js('empty file');
  const layout = layoutHeader(
    headRows.map((r) => ({ cells: r.cells, row: r.line })),
    s.header_row
  );
  if (!layout) return js('no header row');
  const headers = layout.names;
  const width = headers.length;
  const first = headRows[layout.dataStart];
  if (!first) return js('no data rows');
  // DuckDB skips physical lines: the rows above the data must be one line each. (Reading errors
  // are skipped by DuckDB, ignore_errors, so that the transaction survives; the line count
  // below then differs and the file goes to the JS reader.)
  for (let k = 0; k <= layout.dataStart; k++) if (headRows[k].line !== k + 1) return js('line breaks inside the header rows');
  const skip = first.line - 1;
  if (headers.includes('__proto__')) return js('a column named __proto__');

  // --- Physical lines, CRs and quotes of the whole file (DuckDB must read exactly the JS rows).
  let lf = 0;
  let cr = 0;
  let crlf = 0;
  let quotes = false;
  let last = -1;
  {
    const fd2 = openSync(path, 'r');
    const big = Buffer.alloc(4 << 20);
    try {
      let pos = 0;
      let prevCr = false;
      for (;;) {
        const n = readSync(fd2, big, 0, big.length, pos);
        if (n === 0) break;
        pos += n;
        const b = big.subarray(0, n);
        if (!quotes && b.indexOf(0x22) >= 0) quotes = true;
        let i = b.indexOf(0x0a);
        while (i >= 0) {
          lf++;
          if ((i > 0 ? b[i - 1] === 0x0d : prevCr)) crlf++;
          i = b.indexOf(0x0a, i + 1);
        }
        let j = b.indexOf(0x0d);
        while (j >= 0) {
          cr++;
          j = b.indexOf(0x0d, j + 1);
        }
        prevCr = b[n - 1] === 0x0d;
        last = b[n - 1];
      }
    } finally {
      closeSync(fd2);
    }
  }
  if (cr !== crlf) return js('carriage returns without a line feed');
  const lines = lf + (size > 0 && last !== 0x0a ? 1 : 0);

  // --- The mapping (the JS pipeline's own), and what the SQL path needs of it.
  const meta: RecordMeta = { unit: layout.unit, headerRows: layout.rows.map((i) => headRows[i].line) };
  const mapped = sqlMapping(pipe, headers, meta);
  if ('why' in mapped) return js(mapped.why);

  const cols = headers.map((_, k) => `c${k}`);
  const nullstr = '\u0001vcsv-null\u0002';
  try {
    await tx.run(sql`CREATE OR REPLACE TEMP TABLE vc_raw AS SELECT * FROM read_csv(${path}, delim = ${delim}, quote = '"', escape = '"', header = false,
      skip = ${skip}, auto_detect = false, columns = {${unsafeRaw([...cols, 'cx'].map((c) => `'${c}': 'VARCHAR'`).join(', '))}}, null_padding = true,
      nullstr = ${nullstr}, allow_quoted_nulls = false, ignore_errors = true)`);
  } catch (e) {
    await drop(tx);
    return js(`DuckDB's reader: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    const nl = quotes ? cols.map((c) => `coalesce(length(${c}) - length(replace(${c}, chr(10), '')), 0)`).join(' + ') : '0';
    const len = cols.map((c) => `coalesce(length(${c}), 0)`).join(' + ');
    // Row ids of a table made inside a transaction do not start at 0 (the ingest runs before the
    // sync's transaction now, but xlsx and tests call it inside one): rows are numbered from the first one's.
    const { rows: stats } = await tx.query<{ n: number; nl: number; maxlen: number; rid0: string; wider: number }>(
      `SELECT count(*)::BIGINT::DOUBLE AS n, coalesce(sum(${nl}), 0)::DOUBLE AS nl, coalesce(max(${len}), 0)::DOUBLE AS maxlen, coalesce(min(rowid), 0)::VARCHAR AS rid0, count(cx)::DOUBLE AS wider FROM vc_raw`
    );
    const rid0 = BigInt(stats[0].rid0).toString();
    const n = Number(stats[0].n);
    // One column more than the header: a wider row (the JS reader keeps its extra cells as column_N) goes to JS.
    if (Number(stats[0].wider) > 0) return await fail(tx, 'rows wider than the header');
    if (skip + n + Number(stats[0].nl) !== lines) return await fail(tx, 'DuckDB read other rows than the JS reader (blank lines?)');
    if (Number(stats[0].maxlen) + width > (s.max_row_chars ?? DEFAULT_MAX_ROW_CHARS) / 2) return await fail(tx, 'a row near max_row_chars');
    // The first data row must be the one our header detection saw.
    const { rows: firstRow } = await tx.query<Record<string, string | null>>(`SELECT ${cols.join(', ')} FROM vc_raw WHERE rowid = ${rid0}`);
    for (let k = 0; k < width; k++) {
      const v = firstRow[0]?.[`c${k}`] ?? null;
      if ((v ?? undefined) !== first.cells[k] && !(v === null && first.cells[k] === undefined)) return await fail(tx, 'the first data row differs');
    }

    const lineExpr = quotes
      ? `${skip + 1} + m._id + coalesce(sum(${cols.map((c) => `coalesce(length(m.${c}) - length(replace(m.${c}, chr(10), '')), 0)`).join(' + ')}) OVER (ORDER BY m._id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)`
      : `${skip + 1} + m._id`;
    const rawTable = { headers, meta, mapping: mapped.mapping, unmapped: mapped.unmapped, where: path, cellColumns: cols.map((c) => `r.${c}`), cells: (r: Record<string, unknown>) => cols.map((c) => r[c] ?? null) };
    let out: { rows: number; jsRows: number; rejected: Rejection[] };
    let memo: MemoOut | undefined;
    if (!a.memo || Number(stats[0].nl) > 0) {
      out = await cleanRaw(a, { ...rawTable, n, rawId: (alias) => `${alias}.rowid - ${rid0}`, lineSql: lineExpr });
    } else {
      // The memo of raw rows (./sync-memo.ts): every row hashed over its cells, whole columns;
      // rows whose hash the source's memo holds (hits) are not cleaned.
      const signature = memoSignature({ source: s, config, headers, meta, mapping: mapped.mapping, unmapped: mapped.unmapped, delim, skip });
      await tx.run(`CREATE OR REPLACE TEMP TABLE vc_hash AS SELECT rowid - ${rid0} AS pos, hash(${cols.join(', ')}) AS h FROM vc_raw`);
      await tx.run(`CREATE OR REPLACE TEMP TABLE vc_sqlids (pos BIGINT)`);
      const base = a.stager.reserve(3 * n + 3);
      const valid = await memoValid(tx, source.name, signature);
      await tx.run(sql`CREATE OR REPLACE TEMP TABLE vc_hit AS SELECT x.pos, m.* EXCLUDE (source, pos), m.pos AS old_pos
        FROM vc_hash x JOIN sync_memo m ON m.h = x.h WHERE m.source = ${source.name} AND ${valid}`);
      // Hits in their former order, each once (a repeated row, or rows swapped, change which row wins).
      const { rows: hs } = await tx.query<{ n: number; bad: number }>(
        `SELECT count(*)::DOUBLE AS n, count(*) FILTER (WHERE prev >= old_pos)::DOUBLE AS bad FROM (SELECT old_pos, lag(old_pos) OVER (ORDER BY pos) AS prev FROM vc_hit)`
      );
      let hits = Number(hs[0].n);
      if (hits && Number(hs[0].bad)) {
        a.log(`  ${source.name}: memo not used (rows repeated or out of their former order)`);
        await tx.run(`DELETE FROM vc_hit`);
        hits = 0;
      }
      const whole = { ...rawTable, base, keepSqlIds: true, lineSql: `${skip + 1} + m._id` };
      if (!hits) {
        out = await cleanRaw(a, { ...whole, n, rawId: (alias) => `${alias}.rowid - ${rid0}` });
      } else {
        // Pass 1: the rows that are not hits, at their positions in the file.
        await tx.run(`ALTER TABLE vc_raw RENAME TO vc_all`);
        const subset = async (which: 'ANTI' | 'SEMI') => {
          await tx.run(`CREATE OR REPLACE TEMP TABLE vc_raw AS SELECT a.rowid - ${rid0} AS _pos, ${cols.map((c) => `a.${c}`).join(', ')} FROM vc_all a ${which} JOIN vc_hit h ON h.pos = a.rowid - ${rid0}`);
          const k = Number((await tx.query<{ n: number }>(`SELECT count(*)::DOUBLE AS n FROM vc_raw`)).rows[0].n);
          return k ? await cleanRaw(a, { ...whole, n: k, rawId: (alias) => `${alias}._pos` }) : { rows: 0, jsRows: 0, rejected: [] as Rejection[] };
        };
        out = await subset('ANTI');
        a.stager.flush();
        if (await stageHitRefs(tx, source.name, a.src, base, skip)) {
          const { rows: pr } = await tx.query<{ p: number }>(`SELECT coalesce(bit_or(present), 0)::DOUBLE AS p FROM vc_hit`);
          memo = { signature, base, hits, present: presentColumns(Number(pr[0].p)) };
          out = { ...out, rows: out.rows + hits };
          if (!pipe.mappingUsed) {
            pipe.mappingUsed = mapped.mapping;
            pipe.unmappedUsed = mapped.unmapped;
          }
        } else {
          // Pass 2: skipping would not be exact (see stageHitRefs): the hits cleaned too.
          a.log(`  ${source.name}: memo not used (a cleaned row shares a deal id or a customer key with unchanged rows)`);
          const more = await subset('SEMI');
          await tx.run(`DELETE FROM vc_hit`);
          out = { rows: out.rows + more.rows, jsRows: out.jsRows + more.jsRows, rejected: [...out.rejected, ...more.rejected] };
        }
        await tx.run(`DROP TABLE IF EXISTS temp.vc_all`);
      }
      memo ??= { signature, base, hits: 0, present: [] };
      a.log(`  ${source.name}: ${memo.hits.toLocaleString()} of ${n.toLocaleString()} rows unchanged since the last sync (memo), not cleaned`);
    }
    a.log(`  ${source.name}: read by DuckDB (SQL path): ${n.toLocaleString()} rows, ${out.jsRows.toLocaleString()} through the JS pipeline`);
    return { path: 'sql', location: path, ...out, memo };
  } catch (e) {
    await dropTemp(tx, 64).catch(() => undefined);
    throw e;
  }
}

async function fail(tx: WriteTx, why: string): Promise<CsvSqlOutcome> {
  await drop(tx);
  return js(why);
}

async function drop(tx: WriteTx): Promise<void> {
  await dropTemp(tx);
}
