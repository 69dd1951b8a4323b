/**
 * A board as an SVG picture, drawn from the same tile views the web app renders (TileView:
 * KPI cards, bars, columns, lines, donut, gauge, heatmap, waterfall, funnel, quadrant, stats,
 * rows), so a report shows what the board shows. Plain SVG (rects, paths, text), light theme,
 * laid out on the boards' 12-column grid; resvg turns it into a PNG (png.ts). Every number in
 * the picture is text in the SVG, which the tests read before rasterising.
 */
import { formatChange } from '../../../format';
import type { Locale } from '../../../i18n';
import { fmt, fmtTick } from '../../../boards/format';
import type { ChartItem, ColumnDef, Fmt, KpiCardView, TileView } from '../../../boards/types';

export const WIDTH = 1280;
const PAD = 24;
const GAP = 16;
const ROW = 92;
const HEADER = 84;
const COL = (WIDTH - 2 * PAD - 11 * GAP) / 12;

/** The light theme of src/app.css, resolved (resvg has no CSS variables). */
const C = {
  bg: '#f4f6fb',
  card: '#ffffff',
  border: '#d5dced',
  text: '#0f1b33',
  muted: '#46557a',
  faint: '#5b6a8c',
  accent: '#0369a1',
  good: '#047857',
  bad: '#b91c1c',
  warn: '#92400e',
  track: '#e5eaf3',
  grid: '#e8ecf4',
  series: ['#0284c7', '#4f46e5', '#059669', '#d97706', '#db2777', '#7c3aed', '#0d9488', '#ea580c'],
  funnel: ['#0284c7', '#2563eb', '#4f46e5', '#7c3aed', '#059669']
};
const VARS: Record<string, string> = {
  '--accent': C.accent,
  '--accent-2': '#4f46e5',
  '--accent-3': '#b45309',
  '--good': C.good,
  '--bad': C.bad,
  '--warn': C.warn,
  '--text-faint': C.faint,
  '--text-muted': C.muted,
  ...Object.fromEntries(C.series.map((c, i) => [`--c${i + 1}`, c]))
};
const color = (css: string | undefined, i: number) => {
  const m = css ? /var\((--[a-z0-9-]+)\)/.exec(css) : null;
  return (m && VARS[m[1]]) ?? (css && css.startsWith('#') ? css : C.series[i % C.series.length]);
};
const tone = (t: ChartItem['tone']) => (t === 'good' ? C.good : t === 'bad' ? C.bad : t === 'warn' ? '#d97706' : t === 'muted' ? '#94a3b8' : C.accent);

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Approximate advance width: CJK and full-width characters 1 em, others ~0.56 em. */
export function textWidth(s: string, size: number): number {
  let w = 0;
  for (const ch of s) w += /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/.test(ch) ? 1 : /[A-Z0-9%¥$€]/.test(ch) ? 0.62 : 0.53;
  return w * size;
}
export function clip(s: string, size: number, max: number): string {
  if (textWidth(s, size) <= max) return s;
  let out = '';
  for (const ch of s) {
    if (textWidth(`${out}${ch}…`, size) > max) break;
    out += ch;
  }
  return `${out}…`;
}

interface TextOpts {
  size?: number;
  weight?: number;
  fill?: string;
  anchor?: 'start' | 'middle' | 'end';
  max?: number;
  /** A background-coloured outline so a label stays readable over lines and bars. */
  halo?: boolean;
}
function text(x: number, y: number, s: string, o: TextOpts = {}): string {
  const size = o.size ?? 13;
  const content = o.max ? clip(s, size, o.max) : s;
  const halo = o.halo ? ` stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"` : '';
  return `<text x="${r(x)}" y="${r(y)}" font-size="${size}"${o.weight ? ` font-weight="${o.weight}"` : ''} fill="${o.fill ?? C.text}"${o.anchor && o.anchor !== 'start' ? ` text-anchor="${o.anchor}"` : ''}${halo}>${esc(content)}</text>`;
}
const r = (n: number) => Math.round(n * 10) / 10;
const rect = (x: number, y: number, w: number, h: number, fill: string, extra = '') => `<rect x="${r(x)}" y="${r(y)}" width="${r(Math.max(0, w))}" height="${r(Math.max(0, h))}" fill="${fill}"${extra}/>`;

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
export interface Ctx {
  locale: Locale;
  currency: string;
}
const f = (v: number | null | undefined, format: Fmt, c: Ctx) => fmt(v, format, c.locale, c.currency);

function kpis(cards: KpiCardView[], b: Box, c: Ctx): string {
  const n = Math.max(1, cards.length);
  const w = (b.w - GAP * (n - 1)) / n;
  return cards
    .map((k, i) => {
      const x = b.x + i * (w + GAP);
      const good = k.change === null ? null : (k.change > 0) === (k.goodWhen === 'up');
      const change = k.change !== null ? formatChange(k.change, k.changeKind, c.locale) : null;
      return [
        rect(x, b.y, w, b.h, C.card, ` rx="8" stroke="${C.border}"`),
        text(x + 14, b.y + 24, k.label, { size: 13, fill: C.muted, max: w - 28 }),
        text(x + 14, b.y + 56, f(k.value, k.format, c), { size: 26, weight: 700, max: w - 28 }),
        change ? text(x + 14, b.y + 78, change, { size: 12, weight: 600, fill: good ? C.good : C.bad, max: w - 28 }) : '',
        k.note || k.foot ? text(x + 14 + (change ? textWidth(change, 12) + 10 : 0), b.y + 78, (k.note ?? k.foot)!, { size: 11, fill: C.faint, max: w - 28 - (change ? textWidth(change, 12) + 10 : 0) }) : ''
      ].join('');
    })
    .join('');
}

function bars(items: ChartItem[], format: Fmt, b: Box, c: Ctx, rank?: boolean): string {
  const rowH = 24;
  const shown = items.slice(0, Math.max(1, Math.floor(b.h / rowH)));
  const max = Math.max(0, ...shown.map((i) => Math.max(i.value ?? 0, i.target ?? 0)));
  const labelW = Math.min(b.w * 0.32, 160);
  const valueW = 84;
  const barW = b.w - labelW - valueW - 12;
  return shown
    .map((it, i) => {
      const y = b.y + i * rowH;
      const w = max > 0 ? ((it.value ?? 0) / max) * barW : 0;
      const label = `${rank ? `${i + 1}. ` : ''}${it.label}`;
      return [
        text(b.x, y + 16, label, { size: 12, max: labelW - 8 }),
        rect(b.x + labelW, y + 5, barW, 14, C.track, ' rx="3"'),
        rect(b.x + labelW, y + 5, w, 14, it.tone ? tone(it.tone) : C.accent, ' rx="3"'),
        it.target && max > 0 ? rect(b.x + labelW + (it.target / max) * barW - 1, y + 2, 2, 20, C.text) : '',
        text(b.x + b.w, y + 16, f(it.value, format, c), { size: 12, weight: 600, anchor: 'end' })
      ].join('');
    })
    .join('');
}

function axis(b: Box, min: number, max: number, format: Fmt, c: Ctx): { y: (v: number) => number; svg: string } {
  const y = (v: number) => b.y + b.h - ((v - min) / (max - min || 1)) * b.h;
  const ticks = [min, (min + max) / 2, max];
  const svg = ticks
    .map((t) => `<line x1="${r(b.x)}" x2="${r(b.x + b.w)}" y1="${r(y(t))}" y2="${r(y(t))}" stroke="${C.grid}"/>` + text(b.x - 6, y(t) + 4, fmtTick(t, format, c.locale, c.currency), { size: 10, fill: C.faint, anchor: 'end' }))
    .join('');
  return { y, svg };
}

function legend(series: { label: string; color: string }[], x: number, y: number): string {
  let cx = x;
  return series
    .map((s) => {
      const out = rect(cx, y - 9, 10, 10, s.color, ' rx="2"') + text(cx + 14, y, s.label, { size: 11, fill: C.muted });
      cx += 24 + textWidth(s.label, 11);
      return out;
    })
    .join('');
}

function columns(v: Extract<TileView, { kind: 'columns' }>, b: Box, c: Ctx): string {
  const own = !!v.line && (v.line.format ?? v.format) !== v.format;
  const plot = { x: b.x + 64, y: b.y + 30, w: b.w - (own ? 116 : 70), h: b.h - 54 };
  const cats = v.categories;
  const all = v.series.flatMap((s) => s.values.map((x) => x ?? 0));
  const stackTotals = cats.map((_, i) => v.series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const max = Math.max(1e-9, ...(v.stacked ? stackTotals : all), ...(v.line && !own ? v.line.values.map((x) => x ?? 0) : []));
  const { y, svg } = axis(plot, 0, max, v.format, c);
  const band = plot.w / Math.max(1, cats.length);
  const colors = v.series.map((s, i) => color(s.color, i));
  let out = svg;
  cats.forEach((cat, i) => {
    const x0 = plot.x + i * band + band * 0.15;
    const bw = band * 0.7;
    if (v.stacked) {
      let acc = 0;
      v.series.forEach((s, j) => {
        const val = s.values[i] ?? 0;
        out += rect(x0, y(acc + val), bw, y(acc) - y(acc + val), colors[j]);
        acc += val;
      });
    } else {
      const w = bw / Math.max(1, v.series.length);
      v.series.forEach((s, j) => {
        const val = s.values[i] ?? 0;
        out += rect(x0 + j * w, y(val), w - 1, y(0) - y(val), colors[j]);
      });
    }
    if (cats.length <= 14 || i % Math.ceil(cats.length / 12) === 0) out += text(x0 + bw / 2, plot.y + plot.h + 16, cat.label, { size: 10, fill: C.muted, anchor: 'middle', max: band * Math.max(1, Math.ceil(cats.length / 12)) - 2 });
  });
  const names = [...v.series.map((s, i) => ({ label: s.label, color: colors[i] })), ...(v.line ? [{ label: v.line.label, color: color(v.line.color, 3) }] : [])];
  if (names.length > 1 || v.line) out += legend(names, plot.x, b.y + 8);
  // The values above the columns when there is room (totals when stacked): the model's numbers, readable.
  if (v.stacked && cats.length <= 8) cats.forEach((_, i) => (out += text(plot.x + i * band + band / 2, y(stackTotals[i]) - 4, f(stackTotals[i], v.format, c), { size: 10, fill: C.muted, anchor: 'middle', halo: true })));
  if (!v.stacked && cats.length * v.series.length <= 12) {
    const w = (band * 0.7) / Math.max(1, v.series.length);
    cats.forEach((_, i) =>
      v.series.forEach((s, j) => {
        const val = s.values[i];
        if (val !== null && val !== undefined) out += text(plot.x + i * band + band * 0.15 + j * w + w / 2, y(val) - 4, f(val, v.format, c), { size: 10, fill: C.muted, anchor: 'middle', halo: true });
      })
    );
  }
  let lineSvg = '';
  if (v.line) {
    const lf = v.line.format ?? v.format;
    const lmax = Math.max(1e-9, ...v.line.values.map((x) => x ?? 0));
    // A line in another unit (a rate over amounts) gets its own scale, labelled on the right.
    const ly = own ? (val: number) => plot.y + plot.h - (val / lmax) * plot.h : y;
    const col = color(v.line.color, 3);
    const pts = v.line.values.map((val, i) => (val === null ? null : `${r(plot.x + i * band + band / 2)},${r(ly(val))}`)).filter(Boolean);
    lineSvg += `<polyline points="${pts.join(' ')}" fill="none" stroke="${col}" stroke-width="2"${v.line.dashed ? ' stroke-dasharray="5 4"' : ''}/>`;
    if (own) {
      lineSvg += text(plot.x + plot.w + 6, ly(lmax) + 4, fmtTick(lmax, lf, c.locale, c.currency), { size: 10, fill: col });
      v.line.values.forEach((val, i) => {
        if (val !== null && cats.length <= 8) lineSvg += `<circle cx="${r(plot.x + i * band + band / 2)}" cy="${r(ly(val))}" r="3" fill="${col}"/>` + text(plot.x + i * band + band / 2 + 6, ly(val) + 14, f(val, lf, c), { size: 10, weight: 600, fill: col, halo: true });
      });
    }
  }
  out += lineSvg;
  return out;
}

function line(v: Extract<TileView, { kind: 'line' }>, b: Box, c: Ctx): string {
  const plot = { x: b.x + 64, y: b.y + 20, w: b.w - 70, h: b.h - 44 };
  const vals = v.series.flatMap((s) => s.values.filter((x): x is number => x !== null));
  const min = v.zero === false && vals.length ? Math.min(...vals) : Math.min(0, ...vals);
  const max = Math.max(min + 1e-9, ...vals);
  const { y, svg } = axis(plot, min, max, v.format, c);
  const n = Math.max(1, v.categories.length - 1);
  const x = (i: number) => plot.x + (i / n) * plot.w;
  let out = svg;
  v.series.forEach((s, j) => {
    const pts = s.values.map((val, i) => (val === null ? null : `${r(x(i))},${r(y(val))}`)).filter(Boolean);
    const col = color(s.color, j);
    const lastIdx = s.values.length - 1 - [...s.values].reverse().findIndex((q) => q !== null);
    if (s.area && pts.length) out += `<polygon points="${r(x(0))},${r(y(min))} ${pts.join(' ')} ${r(x(lastIdx))},${r(y(min))}" fill="${col}" fill-opacity="0.12"/>`;
    out += `<polyline points="${pts.join(' ')}" fill="none" stroke="${col}" stroke-width="2.2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`;
    const last = [...s.values].reverse().findIndex((q) => q !== null);
    if (last >= 0) {
      const i = s.values.length - 1 - last;
      out += `<circle cx="${r(x(i))}" cy="${r(y(s.values[i]!))}" r="3.5" fill="${col}"/>` + text(x(i) - 4, y(s.values[i]!) - 8, f(s.values[i], s.format ?? v.format, c), { size: 11, weight: 600, fill: col, anchor: 'end', halo: true });
    }
  });
  const step = Math.ceil(v.categories.length / 8);
  v.categories.forEach((cat, i) => {
    if (i % step === 0 || i === v.categories.length - 1) out += text(x(i), plot.y + plot.h + 16, cat.label, { size: 10, fill: C.muted, anchor: 'middle' });
  });
  if (v.series.length > 1) out += legend(v.series.map((s, i) => ({ label: s.label, color: color(s.color, i) })), plot.x, b.y + 10);
  return out;
}

function arc(cx: number, cy: number, ro: number, ri: number, a0: number, a1: number): string {
  const p = (a: number, rad: number) => `${r(cx + rad * Math.sin(a))},${r(cy - rad * Math.cos(a))}`;
  const large = a1 - a0 > Math.PI ? 1 : 0;
  return `M${p(a0, ro)} A${ro},${ro} 0 ${large} 1 ${p(a1, ro)} L${p(a1, ri)} A${ri},${ri} 0 ${large} 0 ${p(a0, ri)} Z`;
}

function donut(v: Extract<TileView, { kind: 'donut' }>, b: Box, c: Ctx): string {
  const rad = Math.min(b.h, b.w * 0.45) / 2 - 4;
  const cx = b.x + rad + 4;
  const cy = b.y + b.h / 2;
  const total = v.items.reduce((s, i) => s + Math.max(0, i.value ?? 0), 0);
  let a = 0;
  let out = '';
  v.items.forEach((it, i) => {
    const share = total > 0 ? Math.max(0, it.value ?? 0) / total : 0;
    if (share <= 0) return;
    const a1 = a + share * 2 * Math.PI;
    out += `<path d="${arc(cx, cy, rad, rad * 0.62, a, Math.min(a1, a + 2 * Math.PI - 1e-4))}" fill="${it.tone ? tone(it.tone) : C.series[i % C.series.length]}"/>`;
    a = a1;
  });
  out += text(cx, cy + 4, v.center.value, { size: 18, weight: 700, anchor: 'middle', max: rad * 1.2 }) + text(cx, cy + 22, v.center.label, { size: 11, fill: C.muted, anchor: 'middle', max: rad * 1.2 });
  const lx = cx + rad + 20;
  const shown = v.items.slice(0, Math.floor(b.h / 22));
  shown.forEach((it, i) => {
    const y = b.y + 14 + i * 22;
    out += rect(lx, y - 9, 10, 10, it.tone ? tone(it.tone) : C.series[i % C.series.length], ' rx="2"');
    out += text(lx + 16, y, it.label, { size: 12, max: b.x + b.w - lx - 110 });
    out += text(b.x + b.w, y, f(it.value, v.format, c), { size: 12, weight: 600, anchor: 'end' });
  });
  return out;
}

function gauge(v: Extract<TileView, { kind: 'gauge' }>, b: Box, c: Ctx): string {
  // As src/lib/charts/Gauge.svelte: a half ring up to 120 % of the target, the target marked at
  // 100 %, the expected share (time elapsed) as a dot; the ratio in the middle.
  const MAXR = 1.2;
  const rad = Math.min(b.w / 2 - 10, b.h - 64);
  const cx = b.x + b.w / 2;
  const cy = b.y + rad + 8;
  const ratio = v.value !== null && v.target ? v.value / v.target : null;
  const ang = (x: number) => -Math.PI / 2 + (Math.min(MAXR, Math.max(0, x)) / MAXR) * Math.PI;
  const fill = ratio === null ? '#94a3b8' : ratio >= 1 ? C.good : v.expected !== null && v.expected !== undefined && ratio >= v.expected ? C.accent : ratio >= 0.7 ? '#d97706' : C.bad;
  let out = `<path d="${arc(cx, cy, rad, rad * 0.74, ang(0), ang(MAXR))}" fill="${C.track}"/>`;
  if (ratio !== null && ratio > 0) out += `<path d="${arc(cx, cy, rad, rad * 0.74, ang(0), ang(ratio))}" fill="${fill}"/>`;
  const mark = (x: number, r0: number, r1: number) => `x1="${r(cx + r0 * Math.sin(ang(x)))}" y1="${r(cy - r0 * Math.cos(ang(x)))}" x2="${r(cx + r1 * Math.sin(ang(x)))}" y2="${r(cy - r1 * Math.cos(ang(x)))}"`;
  out += `<line ${mark(1, rad * 0.68, rad * 1.06)} stroke="${C.text}" stroke-width="2"/>`;
  if (v.expected !== null && v.expected !== undefined) out += `<circle cx="${r(cx + rad * 1.08 * Math.sin(ang(v.expected)))}" cy="${r(cy - rad * 1.08 * Math.cos(ang(v.expected)))}" r="4" fill="${C.text}"/>`;
  out += text(cx, cy - 8, f(ratio, 'percent', c), { size: 26, weight: 700, fill, anchor: 'middle' });
  out += text(cx, cy + 14, v.label, { size: 12, fill: C.muted, anchor: 'middle', max: b.w - 20 });
  out += text(cx, cy + 34, `${f(v.value, v.format, c)} / ${f(v.target, v.format, c)}`, { size: 13, weight: 600, anchor: 'middle', max: b.w - 20 });
  if (v.sub) out += text(cx, cy + 52, v.sub, { size: 11, fill: C.faint, anchor: 'middle', max: b.w - 20 });
  return out;
}

function heatmap(v: Extract<TileView, { kind: 'heatmap' }>, b: Box, c: Ctx): string {
  const labelW = Math.min(140, b.w * 0.25);
  const rows = v.rows.slice(0, Math.max(1, Math.floor((b.h - 22) / 22)));
  const cw = (b.w - labelW) / Math.max(1, v.cols.length);
  const ch = Math.min(24, (b.h - 22) / Math.max(1, rows.length));
  const max = Math.max(1e-9, ...v.values.flat().map((x) => x ?? 0));
  let out = v.cols.map((col, j) => text(b.x + labelW + j * cw + cw / 2, b.y + 12, col.label, { size: 10, fill: C.muted, anchor: 'middle', max: cw - 2 })).join('');
  rows.forEach((row, i) => {
    const y = b.y + 20 + i * ch;
    out += text(b.x, y + ch / 2 + 4, row.label, { size: 11, max: labelW - 6 });
    v.cols.forEach((_, j) => {
      const val = v.values[i]?.[j] ?? null;
      const k = val === null ? 0 : Math.max(0.06, val / max);
      out += rect(b.x + labelW + j * cw + 1, y + 1, cw - 2, ch - 2, val === null ? C.grid : C.accent, val === null ? '' : ` fill-opacity="${r(k)}"`);
      if (cw > 40 && val !== null) out += text(b.x + labelW + j * cw + cw / 2, y + ch / 2 + 4, f(val, v.format, c), { size: 10, fill: k > 0.55 ? '#ffffff' : C.text, anchor: 'middle', max: cw - 4 });
    });
  });
  return out;
}

function waterfall(v: Extract<TileView, { kind: 'waterfall' }>, b: Box, c: Ctx): string {
  const plot = { x: b.x + 64, y: b.y + 16, w: b.w - 70, h: b.h - 40 };
  let acc = 0;
  const spans = v.steps.map((s) => {
    if (s.total) {
      acc = s.value;
      return { lo: 0, hi: s.value };
    }
    const lo = acc;
    acc += s.value;
    return { lo: Math.min(lo, acc), hi: Math.max(lo, acc) };
  });
  const max = Math.max(1e-9, ...spans.map((s) => s.hi));
  const { y, svg } = axis(plot, 0, max, v.format, c);
  const band = plot.w / Math.max(1, v.steps.length);
  let out = svg;
  v.steps.forEach((s, i) => {
    const x0 = plot.x + i * band + band * 0.15;
    const fill = s.tone === 'target' ? '#94a3b8' : s.total ? C.accent : s.value >= 0 ? C.good : C.bad;
    out += rect(x0, y(spans[i].hi), band * 0.7, y(spans[i].lo) - y(spans[i].hi), fill);
    out += text(x0 + band * 0.35, y(spans[i].hi) - 4, f(s.value, v.format, c), { size: 10, weight: 600, anchor: 'middle' });
    out += text(x0 + band * 0.35, plot.y + plot.h + 16, s.label, { size: 10, fill: C.muted, anchor: 'middle', max: band - 4 });
  });
  return out;
}

function funnel(v: Extract<TileView, { kind: 'funnel' }>, b: Box, c: Ctx): string {
  const rows = v.rows;
  const h = Math.min(40, b.h / Math.max(1, rows.length));
  const max = Math.max(1, ...rows.map((x) => x.reached));
  const labelW = Math.min(120, b.w * 0.22);
  const infoW = 150;
  const area = b.w - labelW - infoW;
  let out = '';
  rows.forEach((row, i) => {
    const y = b.y + i * h;
    const w = Math.max(2, (row.reached / max) * area);
    const x = b.x + labelW + (area - w) / 2;
    out += text(b.x, y + h / 2 + 4, row.stage, { size: 12, max: labelW - 6 });
    out += rect(x, y + 3, w, h - 6, C.funnel[Math.min(i, C.funnel.length - 1)], ' rx="3"');
    out += text(b.x + labelW + area / 2, y + h / 2 + 5, f(row.reached, 'count', c), { size: 12, weight: 700, fill: '#ffffff', anchor: 'middle' });
    out += text(b.x + b.w, y + h / 2 + 4, `${f(row.reached_amount, 'money', c)} · ${f(row.step_conversion, 'percent', c)}`, { size: 11, fill: C.muted, anchor: 'end', max: infoW });
  });
  return out;
}

function quadrant(v: Extract<TileView, { kind: 'quadrant' }>, b: Box, c: Ctx): string {
  const w = (b.w - GAP) / 2;
  const h = (b.h - GAP - 16) / 2;
  let out = text(b.x + b.w / 2, b.y + b.h, v.x, { size: 10, fill: C.faint, anchor: 'middle' });
  v.cells.slice(0, 4).forEach((cell, i) => {
    const x = b.x + (i % 2) * (w + GAP);
    const y = b.y + Math.floor(i / 2) * (h + GAP);
    out += rect(x, y, w, h, tone(cell.tone), ' rx="6" fill-opacity="0.1"');
    out += text(x + 12, y + 22, cell.label, { size: 13, weight: 700, fill: tone(cell.tone), max: w - 24 });
    out += text(x + 12, y + 48, f(cell.count, 'count', c), { size: 20, weight: 700 });
    out += text(x + 12, y + 68, f(cell.value, 'money', c), { size: 12, fill: C.muted });
  });
  return out;
}

function stats(items: { label: string; value: string; tone?: ChartItem['tone'] }[], b: Box): string {
  const per = Math.max(1, Math.floor(b.w / 200));
  const w = b.w / per;
  return items
    .map((it, i) => {
      const x = b.x + (i % per) * w;
      const y = b.y + Math.floor(i / per) * 48;
      if (y + 40 > b.y + b.h) return '';
      return text(x, y + 14, it.label, { size: 11, fill: C.muted, max: w - 8 }) + text(x, y + 36, it.value, { size: 18, weight: 700, fill: it.tone ? tone(it.tone) : C.text, max: w - 8 });
    })
    .join('');
}

function cell(v: unknown, col: ColumnDef, c: Ctx): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number' && col.format && ['money', 'count', 'percent', 'days', 'number', 'multiple'].includes(col.format)) return f(v, col.format as Fmt, c);
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v)) return v.slice(0, 10);
  if (typeof v === 'number') return f(v, 'number', c);
  return String(v);
}

function rows(v: Extract<TileView, { kind: 'rows' }>, b: Box, c: Ctx, label: (k: string) => string): string {
  const cols = [...v.columns].sort((a, z) => (a.priority ?? 0) - (z.priority ?? 0)).slice(0, Math.max(2, Math.floor(b.w / 120)));
  const ordered = v.columns.filter((x) => cols.includes(x));
  const w = b.w / ordered.length;
  const shown = v.rows.slice(0, Math.max(1, Math.floor((b.h - 24) / 22)));
  let out = ordered.map((col, j) => text(col.align === 'right' ? b.x + (j + 1) * w - 6 : b.x + j * w, b.y + 12, label(col.key), { size: 11, weight: 600, fill: C.muted, anchor: col.align === 'right' ? 'end' : 'start', max: w - 8 })).join('');
  out += `<line x1="${b.x}" x2="${b.x + b.w}" y1="${b.y + 18}" y2="${b.y + 18}" stroke="${C.border}"/>`;
  shown.forEach((row, i) => {
    const y = b.y + 36 + i * 22;
    ordered.forEach((col, j) => {
      out += text(col.align === 'right' ? b.x + (j + 1) * w - 6 : b.x + j * w, y, cell(row[col.key], col, c), { size: 12, anchor: col.align === 'right' ? 'end' : 'start', max: w - 8 });
    });
  });
  return out;
}

/** One tile's content in a box. */
export function tileContent(v: TileView, b: Box, c: Ctx, label: (k: string) => string): string {
  switch (v.kind) {
    case 'kpis':
      return kpis(v.cards, b, c);
    case 'bars':
      return bars(v.items, v.format, b, c, v.rank);
    case 'columns':
      return columns(v, b, c);
    case 'line':
      return line(v, b, c);
    case 'donut':
      return donut(v, b, c);
    case 'gauge':
      return gauge(v, b, c);
    case 'heatmap':
      return heatmap(v, b, c);
    case 'waterfall':
      return waterfall(v, b, c);
    case 'funnel':
      return funnel(v, b, c);
    case 'quadrant':
      return quadrant(v, b, c);
    case 'stats':
      return stats(v.items, b);
    // A report image shows the band's and the track record's figures (the web tiles draw them).
    case 'band':
      return stats(
        [
          { label: 'P50', value: f(v.p50, v.format, c) },
          { label: 'P10–P90', value: `${f(v.p10, v.format, c)} – ${f(v.p90, v.format, c)}` },
          { label: label('won_amount'), value: f(v.won, v.format, c) },
          { label: label('target'), value: f(v.target, v.format, c) }
        ],
        b
      );
    case 'track':
      return stats(v.stats, b);
    case 'rows':
      return rows(v, b, c, label);
    case 'table':
      return '';
  }
}

export interface TilePicture {
  id: string;
  title: string;
  subtitle: string | null;
  span: [number, number];
  bare: boolean;
  view: TileView | null;
  /** Shown instead of a chart (no data, an error). */
  note: string | null;
}

/** The whole picture: a header (title, view, as-of) and the tiles on the 12-column grid. */
export function boardSvg(p: { title: string; subtitle: string; stamp: string; tiles: TilePicture[]; ctx: Ctx; fontFamily: string; label: (k: string) => string }): { svg: string; width: number; height: number } {
  let col = 0;
  let top = HEADER;
  let bandRows = 0;
  const parts: string[] = [];
  for (const t of p.tiles) {
    const [cs, rs] = [Math.min(12, t.span[0]), t.span[1]];
    if (col + cs > 12) {
      top += bandRows * ROW + (bandRows - 1) * GAP + GAP;
      col = 0;
      bandRows = 0;
    }
    const x = PAD + col * (COL + GAP);
    const w = cs * COL + (cs - 1) * GAP;
    const h = rs * ROW + (rs - 1) * GAP;
    col += cs;
    bandRows = Math.max(bandRows, rs);
    const inner: Box = t.bare ? { x, y: top, w, h } : { x: x + 16, y: top + (t.subtitle ? 56 : 42), w: w - 32, h: h - (t.subtitle ? 56 : 42) - 14 };
    const body = t.view ? tileContent(t.view, inner, p.ctx, p.label) : text(inner.x, inner.y + 20, t.note ?? '—', { size: 13, fill: C.faint, max: inner.w });
    parts.push(
      `<g id="tile-${esc(t.id)}">`,
      t.bare ? '' : rect(x, top, w, h, C.card, ` rx="10" stroke="${C.border}"`),
      t.bare ? '' : text(x + 16, top + 26, t.title, { size: 15, weight: 700, max: w - 32 }),
      !t.bare && t.subtitle ? text(x + 16, top + 44, t.subtitle, { size: 11, fill: C.faint, max: w - 32 }) : '',
      body,
      '</g>'
    );
  }
  const height = Math.round(top + bandRows * ROW + Math.max(0, bandRows - 1) * GAP + PAD);
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${esc(p.fontFamily)}">`,
    rect(0, 0, WIDTH, height, C.bg),
    rect(0, 0, WIDTH, 4, C.accent),
    text(PAD, 40, p.title, { size: 24, weight: 700, max: WIDTH * 0.6 }),
    text(PAD, 64, p.subtitle, { size: 13, fill: C.muted, max: WIDTH * 0.7 }),
    text(WIDTH - PAD, 40, 'crm-cockpit', { size: 13, weight: 700, fill: C.accent, anchor: 'end' }),
    text(WIDTH - PAD, 64, p.stamp, { size: 12, fill: C.faint, anchor: 'end' }),
    ...parts,
    '</svg>'
  ].join('');
  return { svg, width: WIDTH, height };
}
