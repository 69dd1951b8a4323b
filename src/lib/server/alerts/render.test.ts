/**
 * Report pictures: the payments board of the hand-built fixture drawn to SVG and PNG without a
 * browser. The SVG's text holds the model's numbers (worked out by hand below); the PNG is a
 * valid PNG (signature, IHDR, decoded here with zlib) whose pixels show a page: the theme's
 * background and accent bar, and dark text pixels where the Chinese title is (a CJK font works).
 *
 * Fixture as of 2026-05-20, this quarter [04-01, 07-01): collected P1 60,000 + P5 4,000 = 64,000;
 * overdue P2 40,000 (5 days) + P5 6,000 (19 days) = 46,000, both in 1–30 days; not yet due
 * P4 25,000 (06-15).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fixtureDb } from '../../../../tests/helpers/fixture';
import { parseConfig } from '../config/load';
import { BOARDS } from '../../boards/registry';
import { WALL_PAGES } from '../../boards/wall';
import { BOARD_IDS } from './config';
import { renderBoard } from './render/board';
import { findFont, pngSize } from './render/png';

const cfg = (() => {
  const r = parseConfig({});
  if (!r.ok) throw new Error(r.issues.join());
  return r.config;
})();
const now = new Date('2026-05-20T01:00:00Z');

/** Decodes an 8-bit RGB(A) non-interlaced PNG into RGBA rows (the five PNG filters). */
function decodePng(buf: Buffer): { width: number; height: number; px: (x: number, y: number) => [number, number, number, number] } {
  const { width, height } = pngSize(buf)!;
  const colorType = buf[25];
  expect(buf[24]).toBe(8); // bit depth
  expect(buf[28]).toBe(0); // not interlaced
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  expect(channels).toBeGreaterThan(0);
  const idat: Buffer[] = [];
  for (let i = 8; i < buf.length; ) {
    const len = buf.readUInt32BE(i);
    const type = buf.toString('ascii', i + 4, i + 8);
    if (type === 'IDAT') idat.push(buf.subarray(i + 8, i + 8 + len));
    i += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0;
      const v = raw[y * (stride + 1) + 1 + x];
      const p = a + b - c;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      out[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return {
    width,
    height,
    px: (x, y) => {
      const i = y * stride + x * channels;
      return [out[i], out[i + 1], out[i + 2], channels === 4 ? out[i + 3] : 255];
    }
  };
}

const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe('report pictures', () => {
  it('draws the payments board with the model’s numbers into a valid PNG', async () => {
    const db = await fixtureDb();
    const pic = await renderBoard(db, cfg, { board: 'payments', view: 'period=this_quarter', scope: { all: true }, member: {}, audienceLabel: 'Company', locale: 'en', now });
    expect(pic.problems).toEqual([]);
    const words = texts(pic.svg);
    expect(words).toContain('¥64K'); // collected
    expect(words).toContain('¥46K'); // overdue, and the 1–30 days bucket
    expect(words).toContain('¥25K'); // not yet due
    expect(words).toContain('Payments');
    const png = decodePng(pic.png);
    expect([png.width, png.height]).toEqual([pic.width, pic.height]);
    expect(png.width).toBe(1280);
    // Page background, the accent bar along the top, and the title's dark text pixels.
    expect(png.px(4, png.height - 4).slice(0, 3)).toEqual([0xf4, 0xf6, 0xfb]);
    expect(png.px(640, 1).slice(0, 3)).toEqual([0x03, 0x69, 0xa1]);
    let dark = 0;
    for (let y = 16; y < 48; y++) for (let x = 24; x < 160; x++) if (png.px(x, y)[0] < 90) dark++;
    expect(dark).toBeGreaterThan(150);
    await db.close();
  });

  it('renders Chinese text with a CJK font (fonts-noto-cjk here) and says so when there is none', async () => {
    const db = await fixtureDb();
    const font = findFont();
    expect(font.cjk, `no CJK font found (${font.source}); install fonts-noto-cjk`).toBe(true);
    const pic = await renderBoard(db, cfg, { board: 'payments', view: 'period=this_quarter', scope: { all: true }, member: {}, audienceLabel: '全公司', locale: 'zh-CN', now });
    expect(texts(pic.svg)).toContain('¥6.4万');
    expect(texts(pic.svg)).toContain('回款分析');
    const png = decodePng(pic.png);
    let dark = 0;
    // "回款分析" at 24 px bold, x 24…120, baseline 40.
    for (let y = 16; y < 46; y++) for (let x = 24; x < 124; x++) if (png.px(x, y)[0] < 90) dark++;
    expect(dark).toBeGreaterThan(300);
    const empty = mkdtempSync(join(tmpdir(), 'no-fonts-'));
    const none = findFont(undefined, [empty]);
    expect(none).toMatchObject({ cjk: false, source: 'system fonts (no CJK font found)' });
    rmSync(empty, { recursive: true });
    expect(() => findFont('/nonexistent/font.ttc')).toThrow('alerts.font: font file not found: /nonexistent/font.ttc');
    await db.close();
  });

  it('scopes the picture: a rep’s board shows only their own payments', async () => {
    const db = await fixtureDb();
    // U2 owns O8 (P4 25,000, not yet due) and nothing overdue.
    const pic = await renderBoard(db, cfg, { board: 'payments', view: 'period=this_quarter', scope: { team_ids: [], owner_ids: ['U2'] }, member: { owner: 'U2' }, audienceLabel: '王芳', locale: 'en', now });
    const words = texts(pic.svg);
    expect(words).toContain('¥25K');
    expect(words).not.toContain('¥46K');
    expect(words).not.toContain('¥64K');
    await db.close();
  });

  it('knows every board and cockpit page of the registry', () => {
    expect([...BOARD_IDS].sort()).toEqual([...BOARDS.map((b) => b.id), ...Object.values(WALL_PAGES).map((b) => b.id)].sort());
  });
});
