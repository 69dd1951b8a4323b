/**
 * SVG → PNG without a browser: @resvg/resvg-js (Rust resvg, a prebuilt binary from npm). resvg
 * draws text only with the fonts it is given, and Chinese needs a CJK font: the configured
 * `alerts.font`, else the first CJK font found in the usual system font folders (Noto Sans CJK,
 * Source Han Sans, WenQuanYi, Microsoft YaHei, PingFang, Droid Sans Fallback). Without one the
 * picture is still drawn, and `cjk` says so, so the caller can warn that Chinese text will show
 * as boxes.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const FONT_DIRS = ['/usr/share/fonts', '/usr/local/share/fonts', join(homedir(), '.fonts'), join(homedir(), '.local/share/fonts'), '/System/Library/Fonts', '/Library/Fonts', 'C:\\Windows\\Fonts'];

/** File names of CJK fonts, most preferred first (regular weights before bold). */
const CJK = [/NotoSansCJK-Regular\.tt[cf]$/i, /NotoSansCJK.*\.(ttc|otf)$/i, /NotoSans(SC|CJKsc)-Regular\.otf$/i, /SourceHanSans.*\.(ttc|otf)$/i, /wqy-(microhei|zenhei)\.tt[cf]$/i, /msyh\.tt[cf]$/i, /PingFang\.ttc$/i, /DroidSansFallback.*\.ttf$/i, /NotoSerifCJK.*\.ttc$/i];
const BOLD = /NotoSansCJK-Bold\.tt[cf]$/i;

export interface FontChoice {
  files: string[];
  family: string;
  /** A CJK font was found: Chinese text renders. */
  cjk: boolean;
  /** Where the font came from, for messages. */
  source: string;
}

function walk(dir: string, depth: number, out: string[]) {
  if (depth > 4 || out.length > 5000) return;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    let s;
    try {
      s = statSync(p);
    } catch {
      continue;
    }
    if (s.isDirectory()) walk(p, depth + 1, out);
    else if (/\.(ttf|ttc|otf)$/i.test(e)) out.push(p);
  }
}

let cached: FontChoice | null = null;

/** The font to draw with: `configured` (a file) wins; else a system CJK font; else none. */
export function findFont(configured?: string, dirs: string[] = FONT_DIRS): FontChoice {
  if (configured) {
    if (!existsSync(configured)) throw new Error(`alerts.font: font file not found: ${configured}`);
    return { files: [configured], family: '', cjk: true, source: configured };
  }
  if (cached && dirs === FONT_DIRS) return cached;
  const files: string[] = [];
  for (const d of dirs) walk(d, 0, files);
  let choice: FontChoice = { files: [], family: 'sans-serif', cjk: false, source: 'system fonts (no CJK font found)' };
  for (const re of CJK) {
    const hit = files.find((f) => re.test(f));
    if (hit) {
      const bold = files.find((f) => BOLD.test(f));
      const family = /NotoSansCJK/i.test(hit) ? 'Noto Sans CJK SC' : /SourceHan/i.test(hit) ? 'Source Han Sans SC' : /wqy-microhei/i.test(hit) ? 'WenQuanYi Micro Hei' : /wqy-zenhei/i.test(hit) ? 'WenQuanYi Zen Hei' : /msyh/i.test(hit) ? 'Microsoft YaHei' : /PingFang/i.test(hit) ? 'PingFang SC' : '';
      choice = { files: bold && /NotoSansCJK-Regular/i.test(hit) ? [hit, bold] : [hit], family, cjk: true, source: hit };
      break;
    }
  }
  if (dirs === FONT_DIRS) cached = choice;
  return choice;
}

export interface Png {
  png: Buffer;
  width: number;
  height: number;
}

/** Rasterises an SVG (2× for sharp text on phones and retina screens unless `scale` says otherwise). */
export async function svgToPng(svg: string, font: FontChoice, scale = 1): Promise<Png> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    font: font.cjk
      ? { loadSystemFonts: false, fontFiles: font.files, defaultFontFamily: font.family || undefined }
      : { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }
  });
  const img = resvg.render();
  return { png: img.asPng(), width: img.width, height: img.height };
}

/** Width and height from a PNG's IHDR, after checking its signature (for tests and sanity). */
export function pngSize(buf: Buffer): { width: number; height: number } | null {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 24 || !buf.subarray(0, 8).equals(sig) || buf.toString('ascii', 12, 16) !== 'IHDR') return null;
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}
