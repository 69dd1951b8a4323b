/**
 * A report's key numbers: the kpis model at the report's board view, under the member's scope,
 * with the same parameters the board's own KPI cards use (period, report date, filters).
 */
import { modelUrl } from '../../api';
import { getBoard } from '../../boards/registry';
import { commonParams, parseState } from '../../boards/state';
import { translator, type MessageKey } from '../../i18n';
import { paramsFromEntries } from '../../../../models/common/params';
import type { CockpitConfig } from '../config/schema';
import type { Database } from '../db/database';
import { runModel } from '../models/run';
import type { Member } from './audience';
import type { ReportConfig } from './config';
import { kpiFact } from './engine';

export async function reportKpis(db: Database, config: CockpitConfig, report: ReportConfig, member: Member, now: Date) {
  const locale = report.locale ?? config.alerts.locale;
  const t = translator(locale);
  const board = getBoard(report.board)!;
  const q = new URLSearchParams(report.view);
  if (member.view.team && !q.has('team')) q.set('team', member.view.team);
  if (member.view.owner && !q.has('owner')) q.set('owner', member.view.owner);
  const state = parseState(q);
  const url = new URL(modelUrl('kpis', commonParams(state, board.defaultPeriod)), 'http://x');
  const r = await runModel(db, config, 'kpis', paramsFromEntries(url.searchParams), member.scope, now);
  const rows = r.rows as Record<string, unknown>[];
  const facts = report.kpis.map((m) => rows.find((x) => x.measure === m)).filter((x): x is Record<string, unknown> => !!x).map((row) => kpiFact(row, locale, config.currency));
  const preset = state.period ?? (state.from ? null : board.defaultPeriod);
  const last = new Date(`${r.period.to}T00:00:00Z`);
  last.setUTCDate(last.getUTCDate() - 1);
  const periodText = [preset ? t(`period.${preset}` as MessageKey) : null, `${r.period.from} – ${last.toISOString().slice(0, 10)}`].filter(Boolean).join(' · ');
  return {
    asOf: r.as_of,
    periodText: `${t('alerts.key_numbers')} · ${periodText}`,
    facts,
    values: Object.fromEntries(rows.map((x) => [String(x.measure), { value: x.value, previous: x.previous, change: x.change }]))
  };
}
