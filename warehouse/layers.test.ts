/**
 * The layers stay one-way (docs/decisions.md, "Layers"): connectors and the demo write the
 * warehouse's tables and call its derived-table builders; models read the warehouse; the API and
 * boards call models. So no source file of a layer imports a layer above it. Tests (and the
 * property tests' shared harness, which runs models through the API runner) may import anything.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(dirname(new URL(import.meta.url).pathname), '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|svelte)$/.test(name) && !/\.test\.ts$|\.shared\.ts$/.test(name)) out.push(rel);
  }
  return out;
}

/** Every relative import of a file, as a path from the repository root. */
export function importsOf(file: string, text = readFileSync(join(root, file), 'utf8')): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1]);
  return specs.map((s) => relative(root, normalize(join(root, dirname(file), s))));
}

const ABOVE_MODELS = ['src/lib/server/models/', 'src/lib/server/export/', 'src/lib/server/alerts/', 'src/lib/server/ledgers/', 'src/lib/server/auth/', 'src/routes/', 'src/cli/'];
const RULES: { layer: string; dirs: string[]; forbidden: string[] }[] = [
  { layer: 'warehouse', dirs: ['warehouse'], forbidden: ['connectors/', 'models/', 'src/lib/server/demo/', ...ABOVE_MODELS] },
  { layer: 'connectors and the demo', dirs: ['connectors', 'src/lib/server/demo'], forbidden: ['models/', ...ABOVE_MODELS] },
  { layer: 'models', dirs: ['models'], forbidden: ['connectors/', 'src/lib/server/demo/', ...ABOVE_MODELS] }
];

function violations(files: string[], forbidden: string[], read?: (f: string) => string) {
  const bad: string[] = [];
  for (const f of files) {
    for (const target of importsOf(f, read?.(f))) {
      if (forbidden.some((p) => target.startsWith(p))) bad.push(`${f} imports ${target}`);
    }
  }
  return bad;
}

describe('layers are one-way', () => {
  for (const rule of RULES) {
    it(`${rule.layer} import nothing from a layer above`, () => {
      const files = rule.dirs.flatMap(sources);
      expect(files.length).toBeGreaterThan(3);
      expect(violations(files, rule.forbidden)).toEqual([]);
    });
  }

  it('the check sees an upward import, static or dynamic', () => {
    const read = () => "import { x } from '../../models/common/pit';\nconst m = await import('../../src/lib/server/models/run');\n";
    expect(violations(['connectors/load/sync.ts'], RULES[1].forbidden, read)).toEqual([
      'connectors/load/sync.ts imports models/common/pit',
      'connectors/load/sync.ts imports src/lib/server/models/run'
    ]);
  });
});
