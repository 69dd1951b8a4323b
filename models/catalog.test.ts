import { describe, expect, it } from 'vitest';
import { catalog } from './index';
import { compile } from '../src/lib/server/db/sql';
import { buildContext, stageInfos } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Model } from './model';

const cfg = parseConfig({});

describe('the model catalog', () => {
  for (const m of Object.values(catalog) as unknown as Model[]) {
    it(`${m.name}: reads only the scoped relations, never main.*, and documents itself`, () => {
      if (!cfg.ok) throw new Error('config');
      const params = m.params.parse({ as_of: '2026-05-20' }) as Record<string, unknown>;
      const ctx = buildContext(m, params, cfg.config);
      const q = m.query(params as never, ctx);
      const text = [...(q.ctes ?? []).map(([, body]) => compile(body).text), compile(q.body).text].join('\n');
      expect(text).not.toMatch(/\bmain\./);
      // deal_lookup is the scope layer's unscoped primary-key lookup behind deal_locator: never read by a model
      expect(text).not.toMatch(/\bdeal_lookup\b/);
      expect(m.definition['zh-CN'].length).toBeGreaterThan(20);
      expect(m.definition.en.length).toBeGreaterThan(20);
      expect(m.title['zh-CN'] && m.title.en).toBeTruthy();
      expect(m.dateField(params as never)).toMatch(/^[a-z_]+\.[a-z_]+$/);
      expect(stageInfos(cfg.config).length).toBeGreaterThan(0);
    });
  }
});
