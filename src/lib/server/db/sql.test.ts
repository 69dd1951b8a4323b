import { describe, expect, it } from 'vitest';
import { and, compile, ident, join, sql, unsafeRaw } from './sql';

describe('sql builder', () => {
  it('binds every interpolated value as a parameter, never as text', () => {
    const evil = "x'; DROP TABLE opportunities; --";
    const c = compile(sql`SELECT * FROM t WHERE a = ${evil} AND b > ${3}`);
    expect(c.text).toBe('SELECT * FROM t WHERE a = $1 AND b > $2');
    expect(c.params).toEqual([evil, 3]);
    expect(c.text).not.toContain('DROP');
  });

  it('inlines nested fragments and numbers their parameters in order', () => {
    const inner = sql`c IN (SELECT id FROM u WHERE name = ${'张伟'})`;
    const c = compile(sql`SELECT ${1} AS one WHERE ${inner} AND d = ${'x'}`);
    expect(c.text).toBe('SELECT $1 AS one WHERE c IN (SELECT id FROM u WHERE name = $2) AND d = $3');
    expect(c.params).toEqual([1, '张伟', 'x']);
  });

  it('joins and ANDs fragments; an empty AND is TRUE', () => {
    expect(compile(join([sql`a = ${1}`, sql`b = ${2}`], ' OR ')).text).toBe('a = $1 OR b = $2');
    expect(compile(and([sql`a = ${1}`, false, null, sql`b`])).text).toBe('(a = $1 AND b)');
    expect(compile(and([])).text).toBe('TRUE');
  });

  it('identifiers must be on the whitelist and well-formed', () => {
    expect(compile(ident('amount', ['amount', 'stage'])).text).toBe('"amount"');
    expect(() => ident('amount; drop', ['amount'])).toThrow(/not one of/);
    expect(() => ident('a"b')).toThrow(/invalid identifier/);
    expect(compile(unsafeRaw('now()')).text).toBe('now()');
  });
});
