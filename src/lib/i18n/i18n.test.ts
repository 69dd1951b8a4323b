/**
 * Both catalogs say everything: the same keys, no empty text, the same {placeholders}, and
 * every key the code asks for (t('…') and the key families built at run time) exists.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { en } from './en';
import { translator } from './index';
import { zhCN } from './zh-CN';
import { PERIOD_PRESETS } from '../../../models/common/period';
import { REFINEMENTS } from '$lib/boards/state';
import { CUSTOMER_SEGMENTS } from '../../../models/customer-list';
import { AGING_BUCKETS, PAYMENT_STATES } from '../../../models/payment-list';
import { DEAL_EVENT_KINDS } from '../../../models/deal';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|svelte)$/.test(f) && !f.endsWith('.test.ts') ? [p] : [];
  });
}

describe('i18n catalogs', () => {
  it('zh-CN and en have exactly the same keys, none empty, with the same placeholders', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    for (const [k, v] of Object.entries(zhCN)) {
      expect(v.trim().length, k).toBeGreaterThan(0);
      expect(en[k as keyof typeof en].trim().length, k).toBeGreaterThan(0);
      expect(placeholders(en[k as keyof typeof en]), k).toEqual(placeholders(v));
    }
  });

  it('every key the code names exists', () => {
    const root = resolve(import.meta.dirname, '../..');
    const used = new Set<string>();
    for (const f of sources(root)) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\bt\(\s*'([a-z_][a-z0-9_.]*)'/g)) used.add(m[1]);
      for (const m of text.matchAll(/title: '((?:board|tile|cockpit)\.[a-z0-9_.]+)'/g)) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(100);
    expect([...used].filter((k) => !(k in zhCN))).toEqual([]);
  });

  it('key families built at run time are complete', () => {
    const need = [
      ...PERIOD_PRESETS.map((p) => `period.${p}`),
      ...REFINEMENTS.map((r) => `refine.${r}`),
      ...['open', 'won', 'lost'].map((s) => `status.${s}`),
      ...PAYMENT_STATES.map((s) => `pay_state.${s}`),
      ...AGING_BUCKETS.map((a) => `aging.${a}`),
      ...CUSTOMER_SEGMENTS.map((x) => `segment.${x}`),
      ...['created_at', 'closed_at', 'expected_close_date', 'forecast_date', 'none'].map((d) => `date_field.${d}`),
      ...['call', 'visit', 'email', 'meeting', 'other'].map((a) => `activity.${a}`),
      ...['commit', 'best_case', 'pipeline', 'omitted'].map((c) => `category.${c}`),
      ...['key_maintain', 'key_develop', 'standard', 'activate'].map((q) => `quadrant.${q}`),
      ...DEAL_EVENT_KINDS.filter((k) => k !== 'stage' && k !== 'payment' && k !== 'activity').map((k) => `deal.change.${k}`)
    ];
    expect(need.filter((k) => !(k in zhCN))).toEqual([]);
  });

  it('plurals: {n|one|other} picks the singular for 1 in English; Chinese has no such forms', () => {
    const en = translator('en');
    expect(en('unit.n_deals', { n: 1 })).toBe('1 deal');
    expect(en('unit.n_deals', { n: '1,204' })).toBe('1,204 deals');
    expect(en('unit.n_deals', { n: 0 })).toBe('0 deals');
    expect(en('customer.overdue_note', { n: '1' })).toBe('1 overdue payment');
    expect(en('tile.n_payments', { n: 2, c: 1 })).toBe('2 payments · 1 customer');
    expect(translator('zh-CN')('unit.n_deals', { n: 1 })).toBe('1 个');
  });
});
