/**
 * What a message says, independent of the channel: a title, the audience, a one-line summary,
 * key numbers, the rows behind it, a link to the board at the same view and an optional chart
 * image. Channel renderers (channels.ts) turn it into each platform's payload; everything here
 * goes through the i18n catalog and the app's number formats (万/亿 for zh-CN, Intl currency).
 */
import { formatCount, formatMoney, formatMoneyFull, formatPercent } from '../../format';
import { translator, type Locale, type MessageKey, type Translate } from '../../i18n';
import { columnLabel } from '../../i18n/columns';
import type { Condition, LocalizedText, RuleConfig } from './config';
import type { Hit, Row } from './condition';

export interface MessageTable {
  columns: { key: string; label: string; align: 'left' | 'right' }[];
  rows: { cells: string[]; isNew: boolean }[];
  /** Rows left out (beyond the first MAX_ROWS). */
  more: number;
}

export interface MessageImage {
  png: Buffer;
  /** Where a platform can fetch it (public_url); null when the cockpit has no public address. */
  url: string | null;
  alt: string;
  width: number;
  height: number;
}

export interface Message {
  kind: 'alert' | 'recovery' | 'report';
  locale: Locale;
  /** The notification line: `【预警】重点客户商机 3 天未跟进 · 张伟`. */
  title: string;
  heading: string;
  audience: string;
  summary: string;
  facts: { label: string; value: string; note?: string | null }[];
  table: MessageTable | null;
  link: { url: string; label: string } | null;
  image: MessageImage | null;
  footer: string;
  /** Machine-readable facts for the JSON webhook. */
  data: Record<string, unknown>;
}

export const MAX_ROWS = 10;

export const text = (t: LocalizedText | undefined, locale: Locale, fallback: string) =>
  t === undefined ? fallback : typeof t === 'string' ? t : t[locale];

const MONEY = /(amount|outstanding|collected|contracted|receivables|overdue|^due$|forecast|pipeline|target|^gap$|^won$|ltv|acv|arpa|revenue|commit|best_case)/;
const RATIO = /(rate|attainment|probability|share|conversion|retained)/;

/** A value for a person: money compact in the locale, ratios as percentages, days as days. */
export function formatField(field: string, value: unknown, row: Row, locale: Locale, currency: string, full = false): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? '✓' : '—';
  if (typeof value === 'string') return /^\d{4}-\d{2}-\d{2}T/.test(value) ? value.slice(0, 10) : value;
  if (typeof value !== 'number') return String(value);
  const unit = typeof row.unit === 'string' && (field === 'value' || field === 'previous') ? row.unit : null;
  if (/days/.test(field)) return locale === 'zh-CN' ? `${formatCount(value, locale)} 天` : `${formatCount(value, locale)} days`;
  if (unit === 'currency' || (!unit && MONEY.test(field))) return full ? formatMoneyFull(value, locale, currency) : formatMoney(value, locale, currency);
  if (unit === 'ratio' || (!unit && RATIO.test(field))) return formatPercent(value, locale);
  if (field === 'coverage') return `${value.toFixed(1)}×`;
  return Number.isInteger(value) ? formatCount(value, locale) : new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(value);
}

/** A column's heading: the catalog's `col.*`, else a KPI's name, else the field. */
export function fieldLabel(field: string, t: Translate, locale: Locale): string {
  const col = columnLabel(field, locale);
  const kpi = `kpi.${field}` as MessageKey;
  const label = col !== field ? col : t(kpi) !== kpi ? t(kpi) : field;
  // Some catalog strings carry a placeholder for the boards (`未收合计 {amount}`): the bare name here.
  return label.replace(/\s*\{\w+\}/g, '').trim();
}

const DEFAULT_COLUMNS: Record<string, string[]> = {
  deals: ['name', 'customer_name', 'owner_name', 'stage', 'amount', 'days_idle'],
  payment_list: ['customer_name', 'deal_name', 'owner_name', 'due_date', 'outstanding', 'days_overdue'],
  kpis: ['measure', 'value', 'previous']
};
const LABEL_FIELDS = ['group_label', 'name', 'customer_name', 'measure', 'bucket_label', 'stage', 'reason'];

/** The columns a rule's rows are shown with. */
export function columnsFor(rule: Pick<RuleConfig, 'model' | 'columns' | 'condition'>, rows: Row[]): string[] {
  if (rule.columns) return rule.columns;
  if (DEFAULT_COLUMNS[rule.model]) return DEFAULT_COLUMNS[rule.model];
  const sample = rows[0] ?? {};
  const label = LABEL_FIELDS.find((f) => f in sample);
  const c = rule.condition;
  const fields = c.type === 'rows' ? c.where.map((w) => w.field) : [c.field, ...(c.type === 'threshold' && c.of ? [c.of] : [])];
  return [...new Set([...(label ? [label] : []), ...fields])];
}

export function hitTable(rule: Pick<RuleConfig, 'model' | 'columns' | 'condition'>, hits: Hit[], fresh: Set<string>, locale: Locale, currency: string): MessageTable {
  const t = translator(locale);
  const cols = columnsFor(rule, hits.map((h) => h.row));
  return {
    columns: cols.map((key) => ({
      key,
      label: fieldLabel(key, t, locale),
      align: typeof hits[0]?.row[key] === 'number' ? 'right' : 'left'
    })),
    rows: hits.slice(0, MAX_ROWS).map((h) => ({
      cells: cols.map((c) => (c === 'measure' && typeof h.row[c] === 'string' ? fieldLabel(h.row[c] as string, t, locale) : formatField(c, h.row[c], h.row, locale, currency, true))),
      isNew: fresh.has(h.id)
    })),
    more: Math.max(0, hits.length - MAX_ROWS)
  };
}

/** The condition in words: `未跟进天数 不低于 3`. */
export function describeCondition(c: Condition, locale: Locale, currency: string): string {
  const t = translator(locale);
  const op = (o: string) => t(`alerts.op.${o}` as MessageKey);
  const v = (field: string, value: unknown) => formatField(field, value, {}, locale, currency);
  if (c.type === 'rows') {
    return c.where.map((w) => `${fieldLabel(w.field, t, locale)} ${op(w.op)} ${v(w.field, w.value)}`).join(locale === 'zh-CN' ? '，且' : ', and ');
  }
  const label = c.where ? Object.values(c.where).map((x) => (typeof x === 'string' ? fieldLabel(x, t, locale) : String(x))).join(' · ') : fieldLabel(c.field, t, locale);
  if (c.type === 'threshold') {
    const limit = c.of ? `${formatPercent(c.value, locale, 0)} × ${fieldLabel(c.of, t, locale)}` : v(c.field, c.value);
    return `${label} ${op(c.op)} ${limit}`;
  }
  const delta = c.by === 'relative' ? formatPercent(c.value, locale) : v(c.field, c.value);
  return `${label} (${t(`alerts.vs.${c.vs}` as MessageKey)}) ${op(c.op)} ${delta}`;
}

/** The summary line of a firing alert. */
export function firingSummary(rule: RuleConfig, hits: Hit[], considered: number, locale: Locale, currency: string): string {
  const t = translator(locale);
  const c = rule.condition;
  if (c.type === 'rows') {
    const what = rule.model === 'deals' ? 'deals' : rule.model === 'payment_list' ? 'payments' : 'rows';
    return t('alerts.rows_match', { n: formatCount(hits.length, locale), what: t(`alerts.rows_what.${what}` as MessageKey), condition: describeCondition(c, locale, currency) });
  }
  const h = hits[0];
  const label = (row: Row) => {
    const name = LABEL_FIELDS.map((f) => row[f]).find((x) => typeof x === 'string') as string | undefined;
    const field = fieldLabel(c.field, t, locale);
    if (!name) return field;
    return row.measure === name ? fieldLabel(name, t, locale) : `${name} · ${field}`;
  };
  if (c.type === 'threshold') {
    const limit = c.of
      ? `${formatPercent(c.value, locale, 0)} × ${fieldLabel(c.of, t, locale)} (${formatField(c.of, h.row[c.of], h.row, locale, currency)})`
      : formatField(c.field, h.limit, h.row, locale, currency);
    const first = t('alerts.threshold_hit', { label: label(h.row), value: formatField(c.field, h.value, h.row, locale, currency), op: t(`alerts.op.${c.op}` as MessageKey), limit });
    return hits.length > 1 ? `${first} (+${hits.length - 1})` : first;
  }
  const delta = c.by === 'relative' ? formatPercent(h.before ? (h.value! - h.before) / Math.abs(h.before) : null, locale) : formatField(c.field, (h.value ?? 0) - (h.before ?? 0), h.row, locale, currency);
  const first = t('alerts.change_hit', {
    label: label(h.row),
    vs: t(`alerts.vs.${c.vs}` as MessageKey),
    delta,
    before: formatField(c.field, h.before, h.row, locale, currency),
    now: formatField(c.field, h.value, h.row, locale, currency)
  });
  void considered;
  return hits.length > 1 ? `${first} (+${hits.length - 1})` : first;
}

/** Board state keys a rule's parameters carry into its link. */
const VIEW_KEYS = ['period', 'from', 'to', 'team', 'owner', 'region', 'industry', 'source', 'product', 'grade', 'stage', 'status', 'reached', 'category', 'loss_reason', 'competitor', 'customer', 'stalled', 'aging', 'state', 'date_field'];

/** The board a model's numbers are shown on, for a rule without `link`. */
export const MODEL_BOARD: Record<string, string> = {
  deals: 'pipeline',
  deal: 'pipeline',
  funnel: 'pipeline',
  options: 'pipeline',
  payment_list: 'payments',
  payments: 'payments',
  forecast: 'forecast',
  win_loss: 'win-loss',
  cycle_time: 'win-loss',
  kpis: 'wall-overview',
  leaderboard: 'team',
  trend: 'team',
  customer_profile: 'customers',
  ltv: 'customers',
  pipeline_flow: 'pipeline',
  pipeline_flow_deals: 'pipeline',
  deal_risk: 'pipeline'
};

/** A rule's parameters as a board view (`status=open&grade=A&stalled=true`). */
export function viewFromParams(params: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const k of VIEW_KEYS) {
    const v = params[k];
    if (v === undefined || v === null || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
  }
  return q.toString();
}

/**
 * The link that opens a board at a view, for one audience member (their team or own deals), in
 * their language. Cockpit pages (`wall-*`) open `/cockpit?pages=…`. Null without `public_url`.
 */
export function boardLink(publicUrl: string | undefined, board: string, view: string, member: { team?: string; owner?: string }, locale: Locale): string | null {
  if (!publicUrl) return null;
  const q = new URLSearchParams(view);
  if (member.team && !q.has('team')) q.set('team', member.team);
  if (member.owner && !q.has('owner')) q.set('owner', member.owner);
  q.set('lang', locale);
  const base = publicUrl.replace(/\/+$/, '');
  if (board.startsWith('wall-')) {
    const pages = new URLSearchParams({ pages: board.slice(5) });
    for (const [k, v] of q) pages.append(k, v);
    return `${base}/cockpit?${pages}`;
  }
  return `${base}/boards/${board}?${q}`;
}
