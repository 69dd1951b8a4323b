/**
 * Loading `cockpit.config.json`: JSON syntax errors with line and column, then every schema
 * problem at once, each as `path: message` (`sources[2].columns.amout: unknown field "amout";
 * did you mean "amount"?`). Errors are values; the CLI and server decide how to report them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { configSchema, type CockpitConfig } from './schema';
import { closest } from './suggest';

export type ConfigResult =
  | { ok: true; config: CockpitConfig; path: string | null; dir: string }
  | { ok: false; path: string | null; issues: string[] };

export const DEFAULT_CONFIG_FILE = 'cockpit.config.json';

/** `sources[2].columns.amount` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

type AnySchema = z.ZodType & { _zod: { def: Record<string, unknown> } };

function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const def = s._zod.def;
    if (['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(def.type as string)) {
      s = def.innerType as AnySchema;
    } else if (def.type === 'pipe') {
      s = def.in as AnySchema;
    } else return s;
  }
}

/** Keys an object schema at `path` accepts, for suggestions on unknown keys. */
function knownKeysAt(schema: AnySchema, path: readonly PropertyKey[], raw?: unknown): string[] {
  let s: AnySchema | undefined = schema;
  let value = raw;
  for (const seg of path) {
    if (!s) return [];
    s = pickOption(unwrap(s), value);
    const def = s._zod.def;
    if (def.type === 'object') s = (def.shape as Record<string, AnySchema>)[String(seg)];
    else if (def.type === 'array') s = def.element as AnySchema;
    else if (def.type === 'record') s = def.valueType as AnySchema;
    else return [];
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[String(seg)] : undefined;
  }
  if (!s) return [];
  s = pickOption(unwrap(s), value);
  return s._zod.def.type === 'object' ? Object.keys(s._zod.def.shape as object) : [];
}

/** For a union (sources by `type`), the option the value's `type` selects; else the schema itself. */
function pickOption(s: AnySchema, value: unknown): AnySchema {
  if (s._zod.def.type !== 'union') return s;
  const options = s._zod.def.options as AnySchema[];
  const type = value && typeof value === 'object' ? (value as Record<string, unknown>).type : undefined;
  for (const o of options) {
    const inner = unwrap(o);
    const shape = inner._zod.def.shape as Record<string, AnySchema> | undefined;
    const lit = shape?.type?._zod.def as { values?: unknown[] } | undefined;
    if (lit?.values?.includes(type)) return inner;
  }
  return s;
}

/** Turns zod issues into one readable line each, with "did you mean" for unknown keys. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], schema: z.ZodType = configSchema, raw?: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema as AnySchema, issue.path, raw);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        lines.push(
          `${formatPath([...issue.path, key])}: unknown field "${key}"${hint ? `; did you mean "${hint}"?` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}`
        );
      }
    } else if (issue.code === 'invalid_value' && 'values' in issue) {
      lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    } else {
      lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}

/**
 * Where a JSON text stops being valid, as "line L, column C". Node's own messages carry a
 * position only for some errors, so a small scanner finds it.
 */
export function jsonErrorLocation(text: string): string {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    } else if (ch === '"') str();
    else if (/[-0-9]/.test(ch ?? '')) {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
      if (!m) fail();
      i += m![0].length;
    } else {
      for (const lit of ['true', 'false', 'null']) if (text.startsWith(lit, i)) return void (i += lit.length);
      fail();
    }
  };
  const str = () => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text[i] === '\n') fail();
      i++;
    }
    if (text[i] !== '"') fail();
    i++;
  };
  let pos = text.length;
  try {
    value();
    ws();
    if (i < text.length) pos = i;
  } catch (p) {
    pos = typeof p === 'number' ? p : text.length;
  }
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

/** Validates an already-parsed config object. */
export function parseConfig(raw: unknown, path: string | null = null, dir = process.cwd()): ConfigResult {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) return { ok: false, path, issues: formatIssues(r.error.issues, configSchema, raw) };
  const config = r.data;
  if (!isAbsolute(config.database) && config.database !== ':memory:') config.database = resolve(dir, config.database);
  return { ok: true, config, path, dir };
}

/**
 * Reads a config file. With no explicit path, `COCKPIT_CONFIG` or `./cockpit.config.json` is
 * used when present, otherwise the defaults (the demo). An explicit path must exist.
 */
export function loadConfig(explicit?: string): ConfigResult {
  const chosen = explicit ?? process.env.COCKPIT_CONFIG;
  const path = chosen ? resolve(chosen) : resolve(DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (chosen) return { ok: false, path, issues: [`config file not found: ${path}`] };
    return parseConfig({}, null, process.cwd());
  }
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, path, issues: [`${path}: invalid JSON at ${jsonErrorLocation(text)}: ${(e as Error).message.split('\n')[0]}`] };
  }
  return parseConfig(raw, path, dirname(path));
}
