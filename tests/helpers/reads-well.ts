/**
 * "Reads well" checks run inside a page (Chromium): text that does not fit its box. Used by
 * tests/browser/reads-well.test.ts and scripts/screenshots.ts.
 *
 * A problem is
 * - `clipped`: an element with its own text whose content is wider (or taller) than its box
 *   while its overflow hides it (cut off or shown with an ellipsis) — a KPI number cut on a
 *   phone, a truncated subtitle;
 * - `overlap`: two labels of one chart axis drawn over each other.
 * Vertically, text overflowing its box by less than 0.15em is the font's ascent/descent past a
 * tight line-height, not a cut.
 * A deliberate ellipsis (text-overflow: ellipsis) whose full text is one hover away (a `title`
 * on the element or an ancestor, or an aria-label) is not a problem: long customer and deal
 * names are cut that way on purpose. In `only` (must-fit) regions nothing may be cut.
 * Scrolling containers (tables that scroll sideways) and visually hidden text do not count.
 */
import type { Page } from 'playwright-core';

export interface Problem {
  kind: 'clipped' | 'overlap';
  text: string;
  where: string;
}

/** `only`: a selector; clipped text counts only inside elements matching it (axis overlaps always count). */
export async function textProblems(page: Page, only?: string): Promise<Problem[]> {
  // tsx/esbuild name helpers the serialized function refers to, absent in the page.
  await page.evaluate('window.__name = window.__name || ((f) => f)');
  return page.evaluate((only) => {
    const out: { kind: 'clipped' | 'overlap'; text: string; where: string }[] = [];
    const where = (e: Element) => {
      const tile = e.closest('[data-tile]')?.getAttribute('data-tile');
      const cls = typeof e.className === 'string' ? e.className.split(' ').filter((c) => !c.startsWith('svelte-')).join('.') : '';
      return `${tile ? `tile ${tile} ` : ''}${e.tagName.toLowerCase()}${cls ? `.${cls}` : ''}`;
    };
    const visible = (e: Element) => {
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) return false;
      const s = getComputedStyle(e);
      if (s.visibility === 'hidden' || s.display === 'none') return false;
      // visually-hidden helpers (1px boxes, clip) are for screen readers
      if (e.closest('.visually-hidden, [popover]:not(:popover-open), details:not([open]) > :not(summary)')) return false;
      return true;
    };
    for (const e of document.querySelectorAll('body *')) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && (n.textContent ?? '').trim().length > 0);
      if (!own || !visible(e)) continue;
      if (only && !e.closest(only)) continue;
      const s = getComputedStyle(e);
      // What must fit may not spill out of its box either (a KPI number wider than its card,
      // cut by the card rather than by itself).
      const strict = !!only && s.display !== 'inline';
      const hidesX = strict || ['hidden', 'clip'].includes(s.overflowX);
      const hidesY = ['hidden', 'clip'].includes(s.overflowY);
      if (!hidesX && !hidesY) continue;
      const overX = hidesX && e.scrollWidth > e.clientWidth + 1;
      // A font's ascent and descent (CJK fonts: ~1.45em) reach past a tight line box by a few
      // pixels without cutting any ink; at 4K that exceeds a fixed 2 px. A cut line is a whole
      // line-height taller, so allow 0.15em.
      const overY = hidesY && e.scrollHeight > e.clientHeight + Math.max(2, 0.15 * parseFloat(s.fontSize));
      if (!only && overX && !overY && s.textOverflow === 'ellipsis') {
        const full = [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent ?? '').join('').trim();
        const holder = e.closest('[title], [aria-label]');
        const told = holder && ((holder.getAttribute('title') ?? '') + (holder.getAttribute('aria-label') ?? '')).includes(full.slice(0, 12));
        if (told) continue;
      }
      if (overX || overY) out.push({ kind: 'clipped', text: (e.textContent ?? '').trim().slice(0, 80), where: where(e) });
    }
    // Axis labels: siblings in an axis row must not overlap.
    for (const axis of document.querySelectorAll('.xaxis, .yaxis, [data-axis]')) {
      const labels = [...axis.children].filter((c) => visible(c) && (c.textContent ?? '').trim());
      const rects = labels.map((l) => l.getBoundingClientRect());
      for (let i = 1; i < rects.length; i++) {
        const a = rects[i - 1];
        const b = rects[i];
        const overlapX = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const overlapY = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (overlapX > 1 && overlapY > 1) out.push({ kind: 'overlap', text: `${labels[i - 1].textContent?.trim()} / ${labels[i].textContent?.trim()}`, where: where(axis) });
      }
    }
    return out;
  }, only ?? null);
}
