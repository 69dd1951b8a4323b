/**
 * A query is a value: `sql` tagged templates compose into one statement whose
 * user-supplied parts are always bound parameters ($1, $2 …), never spliced.
 *
 * The only ways to put text into a statement are the template's literal parts
 * (written in code), `ident` (checked against a whitelist) and `unsafeRaw`
 * (for constants produced by code, e.g. a date format; never for input).
 */

export type SqlValue = string | number | boolean | null | bigint | readonly string[] | readonly number[];

/**
 * Fragments are recognised by a registered symbol rather than `instanceof`: the CLI (loaded
 * by tsx) and the server bundle each have their own copy of this module, and a fragment made
 * by one is compiled by the other.
 */
const SQL_BRAND = Symbol.for('crm-cockpit.sql');

export function isSql(v: unknown): v is Sql {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[SQL_BRAND] === true;
}

/** A composable SQL fragment: literal text interleaved with bound values and nested fragments. */
export class Sql {
  readonly [SQL_BRAND] = true;
  /** @internal */
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly (SqlValue | Sql)[]
  ) {}

  /** Appends another fragment, separated by a space. */
  append(other: Sql): Sql {
    return sql`${this} ${other}`;
  }
}

/** Tagged template: `sql\`select * from t where id = ${id}\``. Nested `Sql` values are inlined. */
export function sql(strings: TemplateStringsArray | readonly string[], ...values: (SqlValue | Sql | undefined)[]): Sql {
  return new Sql(
    [...strings],
    values.map((v) => (v === undefined ? null : v))
  );
}

/** Text written by the program (not by a user), inlined as is. */
export function unsafeRaw(text: string): Sql {
  return new Sql([text], []);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A quoted identifier. `allowed` is the whitelist it must belong to; an identifier outside it
 * throws, so a column name chosen by a parameter can never be anything but a known column.
 */
export function ident(name: string, allowed?: readonly string[]): Sql {
  if (allowed && !allowed.includes(name)) {
    throw new Error(`identifier "${name}" is not one of: ${allowed.join(', ')}`);
  }
  if (!IDENT.test(name)) throw new Error(`invalid identifier "${name}"`);
  return unsafeRaw(`"${name}"`);
}

/** Joins fragments with a separator (default `, `). */
export function join(parts: readonly Sql[], separator: Sql | string = ', '): Sql {
  const sep = typeof separator === 'string' ? unsafeRaw(separator) : separator;
  if (parts.length === 0) return unsafeRaw('');
  const strings: string[] = [''];
  const values: (SqlValue | Sql)[] = [];
  parts.forEach((p, i) => {
    if (i > 0) {
      values.push(sep);
      strings.push('');
    }
    values.push(p);
    strings.push('');
  });
  return new Sql(strings, values);
}

/** `a AND b AND …`, or `TRUE` when there is nothing to combine. */
export function and(parts: readonly (Sql | null | undefined | false)[]): Sql {
  const real = parts.filter((p): p is Sql => isSql(p));
  return real.length === 0 ? unsafeRaw('TRUE') : sql`(${join(real, ' AND ')})`;
}

export interface CompiledSql {
  text: string;
  params: SqlValue[];
}

/** Flattens a fragment into DuckDB text with `$n` placeholders and its parameter list. */
export function compile(query: Sql): CompiledSql {
  const params: SqlValue[] = [];
  const walk = (q: Sql): string => {
    let out = q.strings[0];
    for (let i = 0; i < q.values.length; i++) {
      const v = q.values[i];
      if (isSql(v)) {
        out += walk(v);
      } else {
        params.push(v);
        out += `$${params.length}`;
      }
      out += q.strings[i + 1];
    }
    return out;
  };
  return { text: walk(query), params };
}
