/**
 * `cockpit sync`, `cockpit import` and `cockpit rejected` (docs/connectors.md).
 *
 * The database file is held open by one process. When `cockpit serve` runs on it, the CLI
 * cannot open it: it finds the server through `<db>.server.json` (written by the server on
 * start) and hands the sync to it (`POST /api/sync`, single-flight on the server).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { loadConfig } from '../../lib/server/config/load';
import type { CockpitConfig, SourceConfig } from '../../lib/server/config/schema';
import { ENTITIES, type EntityName } from '../../lib/schema/tables';
import { mappableFields } from '../../../connectors/pipeline/fields';
import type { SyncReport } from '../../../connectors/load/sync';
import { anythingLoaded, formatReport } from '../../../connectors/load/report';
import { serverFileFor } from '../../../connectors/load/server-file';
import { closest } from '../../lib/server/config/suggest';
import { SOURCE_NAME } from '../../../connectors/shared-options';
import { CliError, databaseFor, parse, type Command } from '../command';

/** The config, its directory (relative source paths) and the --db override. */
function configAndDir(values: { config?: string; db?: string }): { cfg: CockpitConfig; dir: string } {
  const r = loadConfig(values.config);
  if (!r.ok) throw new CliError(`invalid configuration${r.path ? ` (${r.path})` : ''}:\n  ${r.issues.join('\n  ')}`, 2);
  const db = values.db ?? process.env.COCKPIT_DB;
  if (db) r.config.database = resolve(db);
  return { cfg: r.config, dir: r.dir };
}

interface ServerInfo {
  url: string;
  pid: number;
}

/** The running server for this database, if `<db>.server.json` names a live one. */
export async function runningServer(db: string): Promise<ServerInfo | null> {
  const f = serverFileFor(db);
  if (!existsSync(f)) return null;
  try {
    const info = JSON.parse(readFileSync(f, 'utf8')) as ServerInfo;
    try {
      process.kill(info.pid, 0);
    } catch {
      return null; // stale file from a server that died
    }
    return info;
  } catch {
    return null;
  }
}

export async function tokenFor(cfg: CockpitConfig): Promise<string | null> {
  if (process.env.COCKPIT_TOKEN) return process.env.COCKPIT_TOKEN;
  const secret = process.env.COCKPIT_SECRET;
  if (!secret) return null;
  const { signToken } = await import('../../lib/server/auth/sign');
  return signToken({
    secret,
    audience: cfg.security.audience,
    issuer: cfg.security.issuer,
    ttlSeconds: 3600,
    claims: { sub: 'cockpit-cli', role: 'executive' }
  });
}

/** Runs the sync in the running server (when one holds the database). */
async function syncViaServer(server: ServerInfo, cfg: CockpitConfig, source: string[] | undefined): Promise<SyncReport> {
  const token = await tokenFor(cfg);
  const res = await fetch(`${server.url}/api/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ sources: source ?? [] })
  });
  const body = (await res.json().catch(() => ({}))) as { error?: string; report?: SyncReport };
  if (res.status === 401 || res.status === 403) {
    throw new CliError(`the server at ${server.url} refused the sync (${body.error ?? res.status}): set COCKPIT_SECRET (as the server has it) or COCKPIT_TOKEN to an executive token`);
  }
  if (!body.report) throw new CliError(`the server at ${server.url} answered ${res.status}: ${body.error ?? 'no report'}`);
  return body.report;
}

function finish(report: SyncReport, json: boolean, mapping: boolean): number {
  if (json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatReport(report, { mapping }));
  return anythingLoaded(report) ? 0 : 1;
}

export const sync: Command = {
  name: 'sync',
  help: `Usage: cockpit sync [--source NAME]... [--json]

Reads the sources in the config's "sources", maps and checks every row, and lands them all in
one transaction: the database shows the old data or the new, never half. Prints a report per
source (loaded, updated, rejected with row/column/value/reason, skipped, warnings) and
exits 1 when nothing could be loaded. When \`cockpit serve\` holds the database, the sync runs
in the server.

  --source NAME  run only this source (repeatable)
  --json         print the report as JSON
  --config, --db as for every command`,
  async run(argv) {
    const { values } = parse(argv, { source: { type: 'string', multiple: true }, json: { type: 'boolean' } });
    const { cfg, dir } = configAndDir(values);
    for (const n of values.source ?? []) {
      if (!cfg.sources.some((s) => s.name === n)) {
        const hint = closest(n, cfg.sources.map((s) => s.name));
        throw new CliError(`--source: no source named "${n}"${hint ? `; did you mean "${hint}"?` : ''} (sources: ${cfg.sources.map((s) => s.name).join(', ') || 'none'})`, 2);
      }
    }
    if (cfg.sources.length === 0) throw new CliError('no sources configured: add "sources" to cockpit.config.json (see docs/connectors.md)', 2);
    const server = await runningServer(cfg.database);
    if (server) {
      console.error(`the database ${cfg.database} is held by the running server (${server.url}, pid ${server.pid}): the server runs the sync`);
      return finish(await syncViaServer(server, cfg, values.source), !!values.json, false);
    }
    // Loaded here, not at start-up: every other command stays fast.
    const { runSync } = await import('../../../connectors/load/sync');
    const db = await databaseFor(cfg);
    try {
      const report = await runSync(db, { config: cfg, baseDir: dir, only: values.source, log: (m) => console.error(m) });
      return finish(report, !!values.json, false);
    } finally {
      await db.close();
    }
  }
};

export const importCmd: Command = {
  name: 'import',
  help: `Usage: cockpit import FILE --entity ENTITY [--sheet NAME]... [--map field=column]... [--unit 万元]
                     [--date-order ymd|dmy|mdy] [--header-row N] [--name NAME] [--json]

Imports one .xlsx, .csv or .tsv file as ${ENTITIES.join(', ')}. Columns map automatically by their
Chinese or English names (客户名称/Account → customer name, 销售阶段/Stage → stage …); --map
overrides. Without --sheet, a workbook's sheets that hold the entity are read (a 回款 sheet
is not read as deals) and the others are listed. Prints the mapping it used and the report;
exits 1 when nothing could be loaded.

  --entity E        what the rows are: ${ENTITIES.join(', ')}
  --sheet NAME      the sheet(s) of a workbook (repeatable; default: the sheets that hold E)
  --map field=col   map a canonical field to a column (repeatable), e.g. --map amount=合同额
  --unit U          unit of amounts without their own (元 千元 万元 百万 亿元); a （万元） header
                    or a 单位：万元 line in the sheet wins
  --date-order O    how 25/4/15 or 15/4/2025 read: ymd (default), dmy, mdy
  --header-row N    the header's row (default: detected)
  --name NAME       the source's name in reports (default: import-<file name>)
  --json            print the report as JSON
  --config, --db as for every command`,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      {
        entity: { type: 'string' },
        sheet: { type: 'string', multiple: true },
        map: { type: 'string', multiple: true },
        unit: { type: 'string' },
        'date-order': { type: 'string' },
        'header-row': { type: 'string' },
        name: { type: 'string' },
        json: { type: 'boolean' }
      },
      true
    );
    const file = positionals[0];
    if (!file) throw new CliError('name the file to import: cockpit import FILE --entity opportunities', 2);
    if (positionals.length > 1) throw new CliError(`unexpected argument "${positionals[1]}"`, 2);
    const entity = values.entity as EntityName | undefined;
    if (!entity || !ENTITIES.includes(entity)) {
      const hint = values.entity ? closest(values.entity, ENTITIES) : undefined;
      throw new CliError(`--entity: expected one of ${ENTITIES.join(', ')}${hint ? `; did you mean "${hint}"?` : ''}`, 2);
    }
    const path = resolve(file);
    if (!existsSync(path)) throw new CliError(`file not found: ${path}`, 2);
    const { fileType, inspectFile, sheetsFor } = await import('../../../connectors/file/inspect');
    const type = fileType(path);
    if (!type) throw new CliError(`${path}: unsupported file type "${extname(path)}" (.xlsx, .csv, .tsv; save .xls as .xlsx first)`, 2);
    if (values.sheet?.length && type !== 'excel') throw new CliError('--sheet applies to .xlsx files only', 2);
    const columns: Record<string, string> = {};
    const fields = mappableFields(entity);
    for (const kv of values.map ?? []) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new CliError(`--map "${kv}": expected field=column`, 2);
      const f = kv.slice(0, eq);
      if (!fields.includes(f)) {
        const hint = closest(f, fields);
        throw new CliError(`--map: unknown field "${f}" for ${entity}${hint ? `; did you mean "${hint}"?` : ''} (fields: ${fields.join(', ')})`, 2);
      }
      columns[f] = kv.slice(eq + 1);
    }
    const { unitFactor } = await import('../../../connectors/pipeline/values');
    if (values.unit && unitFactor(values.unit) === null) throw new CliError(`--unit: unknown unit "${values.unit}" (元, 千元, 万元, 百万, 千万, 亿元)`, 2);
    const order = values['date-order'];
    if (order && !['ymd', 'dmy', 'mdy'].includes(order)) throw new CliError(`--date-order: expected ymd, dmy or mdy, got "${order}"`, 2);
    const headerRow = values['header-row'] ? Number(values['header-row']) : undefined;
    if (headerRow !== undefined && !(Number.isInteger(headerRow) && headerRow > 0)) throw new CliError(`--header-row: expected a row number (1, 2, …), got "${values['header-row']}"`, 2);
    const { cfg } = configAndDir(values);
    const name = (values.name ?? `import-${basename(path).replace(/[^\p{L}\p{N}_.-]+/gu, '_')}`).slice(0, 120);
    if (!SOURCE_NAME.test(name)) throw new CliError(`--name: "${name}" may hold letters, digits, _ . and - only`, 2);
    let sheets = values.sheet;
    if (type === 'excel' && !sheets?.length) {
      // A workbook without --sheet: the sheets that hold this entity, the others listed.
      const preview = await inspectFile(path, cfg, { headerRow, sampleRows: 1 });
      const { picked, skipped } = sheetsFor(preview, entity);
      const list = (xs: { sheet: { name: string | null }; why: string; reason: { code: string } }[]) => xs.map((x) => `"${x.sheet.name}" (${x.why} [${x.reason.code}])`).join('; ');
      if (picked.length === 0) {
        throw new CliError(
          `${basename(path)}: no sheet holds ${entity}${skipped.length ? `: ${list(skipped)}` : ' (the workbook has no table)'}; sheets: ${preview.sheetNames.join(', ')}. Name one with --sheet`,
          2
        );
      }
      sheets = picked.map((p) => p.name!);
      console.error(`sheets read as ${entity}: ${sheets.map((x) => `"${x}"`).join(', ')}${skipped.length ? `; not read: ${list(skipped)}` : ''}`);
    }
    const source = {
      name,
      type,
      entity,
      path,
      ...(Object.keys(columns).length ? { columns } : {}),
      ...(sheets?.length ? { sheet: sheets.length === 1 ? sheets[0] : sheets } : {}),
      ...(values.unit ? { unit: values.unit } : {}),
      ...(order ? { date_order: order } : {}),
      ...(headerRow ? { header_row: headerRow } : {})
    } as SourceConfig;
    if (await runningServer(cfg.database)) {
      throw new CliError(`the database ${cfg.database} is held by the running server: stop \`cockpit serve\` to import a file, or add it to "sources" and run \`cockpit sync\``);
    }
    const { runSync } = await import('../../../connectors/load/sync');
    const db = await databaseFor(cfg);
    try {
      const report = await runSync(db, { config: cfg, baseDir: dirname(path), sources: [source], kind: 'import', log: (m) => console.error(m) });
      return finish(report, !!values.json, true);
    } finally {
      await db.close();
    }
  }
};

export const rejected: Command = {
  name: 'rejected',
  help: `Usage: cockpit rejected [--run ID] [--out rejected.xlsx|rejected.csv]

Without --out, lists the rejected rows of the run — every source the sync or import read
(default: the latest run with rejections). With --out, writes them in their original columns,
plus cockpit_source, cockpit_sheet, cockpit_row, cockpit_column, cockpit_field,
cockpit_reason and cockpit_reason_zh (the reason in Chinese) (an .xlsx has one sheet per source and sheet), so they can be fixed and
imported again (\`cockpit import\` ignores those columns).

  --run ID    a run id from the sync report (default: the latest run with rejected rows)
  --out FILE  .xlsx or .csv
  --config, --db as for every command`,
  async run(argv) {
    const { values } = parse(argv, { run: { type: 'string' }, out: { type: 'string' } });
    const { cfg } = configAndDir(values);
    if (values.out && !/\.(xlsx|csv)$/i.test(values.out)) throw new CliError('--out: the file must end in .xlsx or .csv', 2);
    const { exportRejected } = await import('../../../connectors/load/rejected');
    const db = await databaseFor(cfg);
    try {
      const r = await exportRejected(db, { run: values.run, out: values.out ? resolve(values.out) : undefined });
      if (!r.run) throw new CliError(values.run ? `no rejected rows for run "${values.run}"` : 'no run has rejected rows');
      if (values.out) console.log(`${r.rows} rejected rows of run ${r.run} (sources: ${r.source}) written to ${resolve(values.out)}`);
      else {
        console.log(`run ${r.run} (sources: ${r.source}): ${r.rows} rejected rows`);
        for (const l of r.lines) console.log(`  ${l}`);
      }
      return 0;
    } finally {
      await db.close();
    }
  }
};
