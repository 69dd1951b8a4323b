/**
 * The per-source memo of raw rows (issue 15.1; docs/decisions.md, "Re-import: unchanged raw rows
 * recognised before cleaning"): a re-import of a CSV file cleans and stages only the rows whose
 * raw cells are new, and the result equals a full re-import of the file.
 *
 * After a sync of one CSV source of deals through the SQL path, `sync_memo` keeps, for every row
 * SQL staged whose deal id occurs once in the file, a hash of its raw cells (DuckDB `hash()` over
 * the whole row, computed column-wise right after `read_csv`), its position, its deal id, which
 * deal columns it set, and the customer and owner rows it described (the cleaned values, as
 * staged). The next sync of that source hashes the file again; a row whose hash is in the memo
 * (a *hit*) cleans into exactly what the memo says, so it is not cleaned, staged or landed:
 *
 * - its deal row already holds those values (nothing else has written since the memo), so the
 *   full path would compare it equal and write nothing; it counts as updated, as there;
 * - customers and owners are the last non-empty value of all their rows: for every customer or
 *   owner that a cleaned (new) row or a row gone from the file names, the hits' customer/owner
 *   rows are staged from the memo at their own positions, so the arg_max over the file is the
 *   full path's; a customer or owner no cleaned or gone row names keeps its stored row, which
 *   is what the same rows in the same order made;
 * - the columns the source sets (landing's `present`) include the hits' columns.
 *
 * Conditions under which skipping would not be exact make the whole file cleaned (as before):
 * the memo's signature differs (the source's config except its path, the whole config — stages,
 * currency, fx … —, the header, its unit and rows, the mapping, the cleaning code's version),
 * something wrote since the memo (`data_version`), hits out of their former order or repeated,
 * a cell with a line break (line numbers), a cleaned row with a hit's deal id (duplicates are
 * reported), a cleaned customer sharing a normalised name or phone with a customer only hits name
 * (a merge). A memo is written only by a sync of that one source (other sources' rows would
 * interleave) without customer merges, and never for a row the JS pipeline took (rejections and
 * warnings are reported every time), a duplicated deal id, or a won/lost row without a close date
 * when the source sets close dates (landing would clear and derive it again).
 */
import { createHash } from 'node:crypto';
import type { WriteTx } from '../../src/lib/server/db/database';
import type { CockpitConfig, SourceConfig } from '../../src/lib/server/config/schema';
import { sql, unsafeRaw } from '../../src/lib/server/db/sql';
import type { FieldMapping } from '../pipeline/pipeline';
import type { RecordMeta } from '../types';
import { columnsOf } from './stage';
import { MACROS } from './sql-ingest';

/** Bump when cleaning rules change outside what the signature sees (the pipeline's parsers). */
export const MEMO_VERSION = 1;

export interface MemoOut {
  signature: string;
  /** Sequence numbers reserved for the file (`base + 3 * pos + 1…3`). */
  base: number;
  /** Rows recognised and not staged. */
  hits: number;
  /** Deal columns the hits set (landing's `present`). */
  present: string[];
}

export function memoSignature(p: { source: SourceConfig; config: CockpitConfig; headers: string[]; meta: RecordMeta; mapping: FieldMapping[]; unmapped: string[]; delim: string; skip: number }): string {
  const { path: _path, ...source } = p.source as SourceConfig & { path?: string };
  const { sources: _sources, ...config } = p.config;
  const text = JSON.stringify({ v: MEMO_VERSION, macros: MACROS, source, config, headers: p.headers, meta: p.meta, mapping: p.mapping, unmapped: p.unmapped, delim: p.delim, skip: p.skip });
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The source's memo is under this signature and nothing has written since it. Asked while the
 * sync reads, before its landing transaction bumps data_version: the memo's version is the
 * current one.
 */
export async function memoValid(tx: WriteTx, source: string, signature: string): Promise<boolean> {
  const { rows } = await tx.query<{ sig: string; v: number; cur: number | null }>(
    sql`SELECT signature AS sig, data_version::DOUBLE AS v, (SELECT value::DOUBLE FROM meta WHERE key = 'data_version') AS cur FROM sync_memo_state WHERE source = ${source}`
  );
  return rows.length === 1 && rows[0].sig === signature && rows[0].cur !== null && Number(rows[0].v) === Number(rows[0].cur);
}

const OPP = () => columnsOf('opportunities');
export const presentBits = (alias: string) => OPP().map((c, k) => `(CASE WHEN ${alias}."${c}" IS NOT NULL THEN ${2 ** k} ELSE 0 END)`).join(' + ');
export const presentColumns = (bits: number) => OPP().filter((_, k) => Math.floor(bits / 2 ** k) % 2 === 1);

/**
 * After the first (cleaning) pass over the rows that are not hits: the customers and owners
 * whose values must be recomputed from all their rows, whether skipping stays exact, and then
 * the hits' customer/owner rows for them staged from the memo. Returns false when the hits must
 * be cleaned after all (nothing of them staged yet).
 */
export async function stageHitRefs(tx: WriteTx, source: string, src: number, base: number, skip: number): Promise<boolean> {
  if (![src, base, skip].every(Number.isInteger)) throw new Error('memo: integers expected');
  // Customers and owners named by a cleaned row or by a memo row gone from the file.
  await tx.run(sql`CREATE OR REPLACE TEMP TABLE vc_gone AS SELECT m.* FROM sync_memo m ANTI JOIN vc_hit h ON h.h = m.h WHERE m.source = ${source}`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE vc_ac AS SELECT customer_id AS id FROM stg_customers WHERE _src = ${src} AND _ref
    UNION SELECT c_customer_id FROM vc_gone WHERE c_ref`);
  await tx.run(`CREATE OR REPLACE TEMP TABLE vc_au AS SELECT user_id AS id FROM stg_users WHERE _src = ${src} AND _ref
    UNION SELECT u_user_id FROM vc_gone WHERE u_ref`);
  // A cleaned deal with a hit's id: the duplicate is reported and the last row wins — clean all.
  const { rows: dup } = await tx.query<{ n: number }>(`SELECT count(*)::DOUBLE AS n FROM vc_hit h SEMI JOIN stg_opportunities s ON s.opportunity_id = h.opportunity_id AND s._src = ${src} AND NOT s._ref`);
  // A customer only hits name, sharing a normalised name or phone with a recomputed one: the
  // full path would merge them (or adopt one) — clean all. (Every key of every row is compared:
  // a superset of the customers' final keys.)
  const { rows: keys } = await tx.query<{ n: number }>(`WITH k AS (
      SELECT _name_key AS k FROM stg_customers WHERE _src = ${src} AND _ref UNION SELECT _phone_key FROM stg_customers WHERE _src = ${src} AND _ref
      UNION SELECT c_name_key FROM vc_hit WHERE c_ref AND c_customer_id IN (SELECT id FROM vc_ac)
      UNION SELECT c_phone_key FROM vc_hit WHERE c_ref AND c_customer_id IN (SELECT id FROM vc_ac))
    SELECT count(*)::DOUBLE AS n FROM vc_hit WHERE c_ref AND c_customer_id NOT IN (SELECT id FROM vc_ac)
      AND (c_name_key IN (SELECT k FROM k WHERE k <> '') OR c_phone_key IN (SELECT k FROM k WHERE k <> ''))`);
  if (Number(dup[0].n) > 0 || Number(keys[0].n) > 0) {
    await tx.run(`DROP TABLE temp.vc_ac`);
    await tx.run(`DROP TABLE temp.vc_au`);
    return false;
  }
  await tx.run(`INSERT INTO stg_customers (_src, _seq, _row, _ref, customer_id, name, industry, region, phone, grade, _name_key, _phone_key, _orig_id)
    SELECT ${src}, ${base} + 3 * pos + 1, ${skip + 1} + pos, TRUE, c_customer_id, c_name, c_industry, c_region, c_phone, c_grade, c_name_key, c_phone_key, c_orig_id
    FROM vc_hit WHERE c_ref AND c_customer_id IN (SELECT id FROM vc_ac)`);
  await tx.run(`INSERT INTO stg_users (_src, _seq, _row, _ref, user_id, name, team_id)
    SELECT ${src}, ${base} + 3 * pos + 2, ${skip + 1} + pos, TRUE, u_user_id, u_name, u_team_id
    FROM vc_hit WHERE u_ref AND u_user_id IN (SELECT id FROM vc_au)`);
  await tx.run(`DROP TABLE temp.vc_ac`);
  await tx.run(`DROP TABLE temp.vc_au`);
  return true;
}

/**
 * Writes the source's memo after a successful landing (same transaction): kept entries of hits
 * at the same position, new entries for every row SQL staged and hits that moved; everything
 * else of the source's former memo goes. `unclosed`: leave out won/lost rows without a close
 * date (the source sets close dates: landing clears and derives them again on every sync).
 */
export async function writeMemo(tx: WriteTx, source: string, src: number, m: MemoOut, unclosed: boolean): Promise<number> {
  if (!Number.isInteger(src) || !Number.isInteger(m.base)) throw new Error('memo: integer source index and base expected');
  const S = unsafeRaw(String(src));
  const B = unsafeRaw(String(m.base));
  await tx.run(`CREATE OR REPLACE TEMP TABLE vc_dupids AS SELECT opportunity_id FROM stg_opportunities WHERE _src = ${src} AND NOT _ref GROUP BY 1 HAVING count(*) > 1`);
  // Everything but the hits kept at their position goes: with hits, the entries gone from the
  // file (stageHitRefs kept them in vc_gone) and the hits that moved — a small list probed
  // against the memo, not the memo anti-joined with every hit.
  if (m.hits) await tx.run(sql`DELETE FROM sync_memo WHERE source = ${source} AND h IN (SELECT h FROM vc_gone UNION ALL SELECT h FROM vc_hit WHERE pos <> old_pos)`);
  else await tx.run(sql`DELETE FROM sync_memo WHERE source = ${source}`);
  const opp = OPP();
  await tx.run(sql`INSERT INTO sync_memo
    SELECT ${source}, x.h, q.pos, o.opportunity_id, ${unsafeRaw(presentBits('o'))},
           c._seq IS NOT NULL, c.customer_id, c.name, c.industry, c.region, c.phone, c.grade, c._name_key, c._phone_key, c._orig_id,
           u._seq IS NOT NULL, u.user_id, u.name, u.team_id
    FROM vc_sqlids q JOIN vc_hash x ON x.pos = q.pos
    JOIN stg_opportunities o ON o._src = ${S} AND NOT o._ref AND o._seq = ${B} + 3 * q.pos + 3
    LEFT JOIN stg_customers c ON c._src = ${S} AND c._ref AND c._seq = ${B} + 3 * q.pos + 1
    LEFT JOIN stg_users u ON u._src = ${S} AND u._ref AND u._seq = ${B} + 3 * q.pos + 2
    WHERE o.opportunity_id NOT IN (SELECT opportunity_id FROM vc_dupids)
      ${unsafeRaw(unclosed && opp.includes('closed_at') ? `AND NOT (o.status IN ('won', 'lost') AND o.closed_at IS NULL)` : '')}
    UNION ALL
    SELECT ${source}, h, pos, opportunity_id, present, c_ref, c_customer_id, c_name, c_industry, c_region, c_phone, c_grade, c_name_key, c_phone_key, c_orig_id,
           u_ref, u_user_id, u_name, u_team_id
    FROM vc_hit WHERE pos <> old_pos`);
  await tx.run(sql`INSERT OR REPLACE INTO sync_memo_state VALUES (${source}, ${m.signature}, (SELECT value::BIGINT FROM meta WHERE key = 'data_version'))`);
  await tx.run(`DROP TABLE temp.vc_dupids`);
  const { rows } = await tx.query<{ n: number }>(sql`SELECT count(*)::DOUBLE AS n FROM sync_memo WHERE source = ${source}`);
  return Number(rows[0].n);
}

/** The source has no valid memo after this sync. */
export async function dropMemo(tx: WriteTx, source: string): Promise<void> {
  const { rows } = await tx.query<{ n: number }>(sql`SELECT count(*)::DOUBLE AS n FROM sync_memo_state WHERE source = ${source}`);
  if (!Number(rows[0].n)) return;
  await tx.run(sql`DELETE FROM sync_memo WHERE source = ${source}`);
  await tx.run(sql`DELETE FROM sync_memo_state WHERE source = ${source}`);
}

/** The ingest's temp tables of the memo. */
export async function dropMemoTemp(tx: WriteTx): Promise<void> {
  for (const t of ['vc_hash', 'vc_hit', 'vc_sqlids', 'vc_all', 'vc_ac', 'vc_au', 'vc_gone', 'vc_dupids']) await tx.run(`DROP TABLE IF EXISTS temp.${t}`);
}
