/**
 * WCAG 2.1 AA contrast of the design tokens in app.css, both themes: body and muted text,
 * links, the good/bad/warning colours used for small text (4.5:1), and chart marks against
 * the tile background (3:1, non-text contrast). Luminance per WCAG's definition.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const css = readFileSync(resolve(import.meta.dirname, '../app.css'), 'utf8');

function tokens(selector: RegExp): Record<string, string> {
  const block = css.slice(css.search(selector));
  const body = block.slice(block.indexOf('{') + 1, block.indexOf('}'));
  return Object.fromEntries([...body.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map((m) => [m[1], m[2]]));
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

const themes = {
  dark: tokens(/:root,\s*\[data-theme='dark'\]/),
  light: tokens(/\[data-theme='light'\]\s*\{/)
};

describe('WCAG AA contrast of the design tokens', () => {
  it('the checker agrees with known values', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#767676', '#ffffff')).toBeCloseTo(4.54, 2);
  });

  for (const [name, t] of Object.entries(themes)) {
    it(`${name}: text 4.5:1 on every surface it sits on`, () => {
      for (const bg of ['bg', 'bg-elev', 'bg-elev-2']) {
        for (const fg of ['text', 'text-muted', 'text-faint', 'accent', 'good', 'bad', 'warn']) {
          expect(contrast(t[fg], t[bg]), `${fg} on ${bg}: ${t[fg]} / ${t[bg]}`).toBeGreaterThanOrEqual(4.5);
        }
      }
      expect(contrast(t['heat-text'], t.heat), 'heatmap text on the strongest cell').toBeGreaterThanOrEqual(4.5);
    });

    it(`${name}: chart marks 3:1 against the tile (non-text contrast)`, () => {
      for (const c of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'accent', 'good', 'bad', 'warn']) {
        expect(contrast(t[c], t['bg-elev']), `${c} ${t[c]} on ${t['bg-elev']}`).toBeGreaterThanOrEqual(3);
      }
    });
  }
});
