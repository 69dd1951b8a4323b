import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from './load';

describe('configuration', () => {
  it('defaults describe the Chinese B2B pipeline and the demo database', () => {
    const r = parseConfig({}, null, '/srv/app');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.stages.map((s) => s.name)).toEqual(['初步接洽', '需求分析', '方案报价', '商务谈判', '赢单', '输单']);
    expect(r.config.database).toBe('/srv/app/data/cockpit.duckdb');
    expect(r.config.fiscal_year_start_month).toBe(1);
    expect(r.config.cockpit.refresh_seconds).toBe(60);
  });

  it('reports every problem at once, each with its path and a suggestion', () => {
    const r = parseConfig({
      fiscal_year_start_month: 13,
      curency: 'CNY',
      stages: [{ name: 'A' }, { name: 'A', outcome: 'won' }, { name: 'B', probabilty: 0.5 }],
      sources: [
        { name: 'crm', type: 'csv', entity: 'customers', columns: { name: '客户名称' } },
        { name: 'ledger', type: 'excel', entity: 'opportunities', columns: { stage: '阶段' } },
        { name: 'deals', type: 'csv', entity: 'opportunities', columns: { amout: '金额', stage: '阶段' } }
      ]
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toContain('curency: unknown field "curency"; did you mean "currency"?');
    expect(r.issues).toContain('stages[2].probabilty: unknown field "probabilty"; did you mean "probability"?');
    expect(r.issues.some((i) => i.startsWith('fiscal_year_start_month:'))).toBe(true);
    expect(r.issues.some((i) => i.startsWith('sources[2].columns.amout: unknown field "amout" for opportunities; did you mean "amount"?'))).toBe(true);
  });

  it('cross-field rules: duplicate stages, exactly one won stage', () => {
    const r = parseConfig({ stages: [{ name: 'A' }, { name: 'A' }, { name: 'W', outcome: 'won' }, { name: 'W2', outcome: 'won' }] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toContain('stages[1].name: duplicate stage "A"');
    expect(r.issues).toContain('stages: exactly one stage must have "outcome": "won" (found 2)');
  });

  it('a JSON syntax error names the file, line and column', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'cockpit.config.json');
    writeFileSync(file, '{\n  "currency": "CNY",\n  "stages": [,]\n}');
    const r = loadConfig(file);
    rmSync(dir, { recursive: true });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues[0]).toContain(file);
    expect(r.issues[0]).toMatch(/line 3, column \d+/);
  });

  it('an explicit config path that does not exist is an error', () => {
    const r = loadConfig('/nonexistent/cockpit.config.json');
    expect(r.ok).toBe(false);
  });
});
