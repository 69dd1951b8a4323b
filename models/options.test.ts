/** `options` on the hand-built fixture: what the filter bar offers, within the viewer's scope. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureDb, FIXTURE_AS_OF } from '../tests/helpers/fixture';
import { runModel } from '../src/lib/server/models/run';
import { parseConfig } from '../src/lib/server/config/load';
import type { Database } from '../src/lib/server/db/database';
import type { Scope } from './common/scope';

const cfg = parseConfig({});
let db: Database;
beforeAll(async () => (db = await fixtureDb()));
afterAll(() => db.close());

async function options(scope: Scope | null = { all: true }) {
  if (!cfg.ok) throw new Error('config');
  const r = await runModel(db, cfg.config, 'options', { as_of: FIXTURE_AS_OF }, scope);
  const of = (kind: string) => r.rows.filter((x) => x.kind === kind).map((x) => [x.key, x.label, x.parent, x.n]);
  return { r, of };
}

describe('options', () => {
  it('the team tree with deal counts per subtree, owners under their teams', async () => {
    const { of } = await options();
    // T0 all 8 deals; T1 → T11 (U1: O1 O2 O7, U2: O4 O6 O8) 6; T2 (U3: O3 O5) 2
    expect(of('team').sort()).toEqual([
      ['T0', '公司', null, 8],
      ['T1', '华东', 'T0', 6],
      ['T11', '上海组', 'T1', 6],
      ['T2', '华北', 'T0', 2]
    ]);
    expect(of('owner')).toEqual([
      ['U1', '张伟', 'T11', 3],
      ['U2', '王芳', 'T11', 3],
      ['U3', '李娜', 'T2', 2]
    ]);
    expect(of('region')).toEqual([
      ['上海', '上海', null, 6],
      ['北京', '北京', null, 2]
    ]);
    expect(of('loss_reason').map((x) => x[0]).sort()).toEqual(['价格过高', '选择竞品']);
  });

  it('stages in pipeline order with their kind, lost last', async () => {
    const { of } = await options();
    expect(of('stage').map((x) => [x[0], x[2]])).toEqual([
      ['初步接洽', 'open'],
      ['需求分析', 'open'],
      ['方案报价', 'open'],
      ['商务谈判', 'open'],
      ['赢单', 'won'],
      ['输单', 'lost']
    ]);
  });

  it('a manager of 华东 (T1) sees only their subtree, rooted at T1, and only their deals’ values', async () => {
    const { of } = await options({ team_ids: ['T1'], owner_ids: [] });
    expect(of('team').sort()).toEqual([
      ['T1', '华东', null, 6],
      ['T11', '上海组', 'T1', 6]
    ]);
    expect(of('owner').map((x) => x[0])).toEqual(['U1', 'U2']);
    expect(of('region')).toEqual([['上海', '上海', null, 6]]);
  });

  it('no scope: nothing to offer but the configured stages (with no deals)', async () => {
    const { r, of } = await options(null);
    expect(r.rows.filter((x) => x.kind !== 'stage')).toEqual([]);
    expect(of('stage').every((x) => x[3] === 0)).toBe(true);
  });
});
