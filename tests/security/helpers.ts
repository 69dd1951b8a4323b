/**
 * Shared by the security suites: a real server on a fresh demo database (COCKPIT_SECRET set,
 * so every call needs a token), tokens minted in-process with jose, and a read-only copy of
 * the database as an independent oracle (plain SQL written here, not the models' code).
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { SignJWT } from 'jose';
import { inject } from 'vitest';
import { DEMO_AS_OF, startServer } from '../helpers/global-setup';

export const SECRET = 'security-suite-secret-0123456789-abcdef';
export const AS_OF = DEMO_AS_OF;

export interface SecServer {
  base: string;
  dir: string;
  dbFile: string;
  output: () => string;
  oracle: (q: string) => Promise<Record<string, unknown>[]>;
  /** Stops the server process (the database file stays). */
  kill: () => Promise<void>;
  /** Stops the server and removes its files. */
  stop: () => Promise<void>;
  /** Stops the server and starts it again on the same files; `base` is then the new address. */
  restart: () => Promise<void>;
}

/**
 * Generates the small demo company into a temp DuckDB file, lets `prepare` edit it (e.g. XSS
 * payloads as names), copies it for the oracle and serves it with tokens required.
 */
export async function startSecServer(
  prepare?: (conn: DuckDBConnection) => Promise<void>,
  opts: { env?: NodeJS.ProcessEnv; config?: Record<string, unknown>; files?: Record<string, string> } = {}
): Promise<SecServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sec-suite-'));
  const dbFile = join(dir, 'demo.duckdb');
  // the small demo company (DEMO_SEED, as of AS_OF), generated once per run by the project's setup
  copyFileSync(inject('demoTemplate'), dbFile);
  if (prepare) {
    const inst = await DuckDBInstance.create(dbFile);
    const conn = await inst.connect();
    await prepare(conn);
    conn.closeSync();
    inst.closeSync();
  }
  const copy = join(dir, 'oracle.duckdb');
  copyFileSync(dbFile, copy);
  const inst = await DuckDBInstance.create(copy, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  const oracle = async (q: string) => (await conn.runAndReadAll(q)).getRowObjectsJson() as Record<string, unknown>[];
  let child: ChildProcess | null = null;
  try {
    for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), text);
    const args = ['--db', dbFile];
    if (opts.config) {
      const cfg = join(dir, 'cockpit.config.json');
      writeFileSync(cfg, JSON.stringify(opts.config));
      args.push('--config', cfg);
    }
    const s = await startServer(args, { COCKPIT_SECRET: SECRET, ...opts.env });
    child = s.child;
    const kill = async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    };
    const srv: SecServer = {
      base: s.url,
      dir,
      dbFile,
      output: s.output,
      oracle,
      kill,
      restart: async () => {
        await kill();
        const again = await startServer(args, { COCKPIT_SECRET: SECRET, ...opts.env });
        child = again.child;
        srv.base = again.url;
        srv.output = again.output;
      },
      stop: async () => {
        await kill();
        conn.closeSync();
        inst.closeSync();
        rmSync(dir, { recursive: true, force: true });
      }
    };
    return srv;
  } catch (e) {
    conn.closeSync();
    inst.closeSync();
    throw e;
  }
}

const enc = new TextEncoder();

/** An HS256 token for the suite's secret, valid 10 minutes. */
export async function sign(payload: Record<string, unknown>): Promise<string> {
  const { sub, ...rest } = payload;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(sub ?? 'tester'))
    .setAudience('crm-cockpit')
    .setIssuer('crm-cockpit')
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(enc.encode(SECRET));
}

/** A query string from an object (arrays repeat the key). */
export function qs(o: Record<string, string | string[] | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  }
  return p.toString();
}

/** The model catalog as GET /api/models describes it (JSON Schema params). */
export interface CatalogEntry {
  name: string;
  params: { properties: Record<string, { enum?: string[]; type?: string; anyOf?: unknown[] }> };
}

/** A literal SQL string (for the oracle's own queries). */
export const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
export const litList = (xs: string[]) => (xs.length ? xs.map(lit).join(', ') : 'NULL');
