/**
 * A board (or cockpit page) at a view, for one audience member, as a picture: the board's own
 * tile definitions (src/lib/boards) say which model calls they need and how results become
 * charts; here the calls go straight to the model runner under the member's scope (the API's
 * semantics: the same parameters the browser would send), and the views are drawn as SVG and
 * rasterised. No browser, no HTTP round trip, no new SQL.
 */
import { getBoard } from '../../../boards/registry';
import { tileQueries } from '../../../boards/load';
import { buildOrg, type OptionRow } from '../../../boards/org';
import { parseState } from '../../../boards/state';
import type { ModelResult as ApiResult } from '../../../api';
import { modelUrl } from '../../../api';
import { translator, type Locale, type MessageKey } from '../../../i18n';
import { columnLabel } from '../../../i18n/columns';
import { paramsFromEntries } from '../../../../../models/common/params';
import type { Scope } from '../../../../../models/common/scope';
import type { CockpitConfig } from '../../config/schema';
import type { Database } from '../../db/database';
import { runModel, type ModelResult } from '../../models/run';
import { boardSvg, type TilePicture } from './svg';
import { findFont, svgToPng, type FontChoice } from './png';

export interface BoardPicture {
  png: Buffer;
  width: number;
  height: number;
  svg: string;
  title: string;
  font: FontChoice;
  /** Tiles that could not be drawn, with why. */
  problems: string[];
  /** Results by call, for the message's key numbers. */
  results: Map<string, ModelResult>;
}

/** A board call's parameters as the model API would receive them from its URL. */
function apiParams(model: string, params: Record<string, unknown>): Record<string, string | string[]> {
  const url = new URL(modelUrl(model, params as never), 'http://x');
  return paramsFromEntries(url.searchParams);
}

export async function renderBoard(
  db: Database,
  config: CockpitConfig,
  o: { board: string; view: string; scope: Scope | null; member: { team?: string; owner?: string }; audienceLabel: string; locale: Locale; now: Date; tiles?: string[] }
): Promise<BoardPicture> {
  const board = getBoard(o.board);
  if (!board) throw new Error(`unknown board "${o.board}"`);
  const q = new URLSearchParams(o.view);
  if (o.member.team && !q.has('team')) q.set('team', o.member.team);
  if (o.member.owner && !q.has('owner')) q.set('owner', o.member.owner);
  const state = parseState(q);
  const t = translator(o.locale);
  const options = await runModel(db, config, 'options', state.asOf ? { as_of: state.asOf } : {}, o.scope, o.now);
  const org = buildOrg(options.rows as unknown as OptionRow[]);
  const qctx = { state, org, period: board.defaultPeriod };
  const vctx = { ...qctx, t, locale: o.locale, currency: config.currency };

  const results = new Map<string, ModelResult>();
  const errors = new Map<string, string>();
  const run = async (model: string, params: Record<string, unknown>) => {
    const key = modelUrl(model, params as never);
    if (results.has(key) || errors.has(key)) return key;
    try {
      results.set(key, await runModel(db, config, model, apiParams(model, params), o.scope, o.now));
    } catch (e) {
      errors.set(key, (e as Error).message);
    }
    return key;
  };

  const wanted = board.tiles.filter((tile) => (o.tiles ? o.tiles.includes(tile.id) : !tile.table) && tile.view);
  const problems: string[] = [];
  const pictures: TilePicture[] = [];
  for (const tile of wanted) {
    const calls = tileQueries(tile, qctx);
    const data: Record<string, ApiResult> = {};
    let failed: string | null = null;
    for (const [name, call] of Object.entries(calls)) {
      const key = await run(call.model, call.params);
      const r = results.get(key);
      if (r) data[name] = r as unknown as ApiResult;
      else failed = errors.get(key) ?? 'failed';
    }
    const title = t(tile.title);
    if (failed) {
      problems.push(`${tile.id}: ${failed}`);
      pictures.push({ id: tile.id, title, subtitle: null, span: tile.span ?? [6, 3], bare: false, view: null, note: failed.slice(0, 120) });
      continue;
    }
    const empty = tile.empty?.(data) ?? false;
    const view = empty ? null : tile.view!(data, vctx);
    const span: [number, number] = tile.span ?? (view?.kind === 'kpis' ? [12, 1] : [6, 3]);
    pictures.push({
      id: tile.id,
      title,
      subtitle: tile.subtitle?.(data, vctx) ?? null,
      span,
      bare: !!tile.bare && view?.kind === 'kpis',
      view,
      note: empty ? (o.locale === 'zh-CN' ? '暂无数据' : 'No data') : null
    });
  }
  const any = [...results.values()].find((r) => r.model !== 'options');
  const period = any ? `${any.period.from} – ${addDaysIso(any.period.to, -1)}` : '';
  const boardTitle = t(board.title);
  const font = findFont(config.alerts.font);
  const { svg, width, height } = boardSvg({
    title: boardTitle,
    subtitle: [o.audienceLabel, state.period ? t(`period.${state.period}` as MessageKey) : null, period].filter(Boolean).join(' · '),
    stamp: t('alerts.as_of', { date: any?.as_of ?? '' }),
    tiles: pictures,
    ctx: { locale: o.locale, currency: config.currency },
    fontFamily: font.family || 'sans-serif',
    label: (k) => columnLabel(k, o.locale)
  });
  const png = await svgToPng(svg, font, 1);
  return { png: png.png, width: png.width, height: png.height, svg, title: boardTitle, font, problems, results };
}

function addDaysIso(d: string, n: number): string {
  const t = new Date(`${d}T00:00:00Z`);
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}
