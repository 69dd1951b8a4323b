import { describe, expect, it } from 'vitest';
import { breadcrumbs, buildOrg, drillLevel, teamPath, type OptionRow } from './org';
import { applyPatch, emptyState } from './state';

// 全公司 → 华东 (R1) → 上海一组 (T11), 杭州组 (T13); 全公司 → 华北 (R2) → 北京一组 (T21)
const rows: OptionRow[] = [
  { kind: 'team', key: 'T00', label: '全公司', parent: null, sort: 0, n: 100 },
  { kind: 'team', key: 'R1', label: '华东', parent: 'T00', sort: 0, n: 60 },
  { kind: 'team', key: 'R2', label: '华北', parent: 'T00', sort: 0, n: 40 },
  { kind: 'team', key: 'T11', label: '上海一组', parent: 'R1', sort: 0, n: 35 },
  { kind: 'team', key: 'T13', label: '杭州组', parent: 'R1', sort: 0, n: 25 },
  { kind: 'team', key: 'T21', label: '北京一组', parent: 'R2', sort: 0, n: 40 },
  { kind: 'owner', key: 'U6', label: '张伟', parent: 'T11', sort: 0, n: 20 },
  { kind: 'region', key: '上海', label: '上海', parent: null, sort: 0, n: 50 }
];
const org = buildOrg(rows);

describe('the org tree and drill-down', () => {
  it('builds the tree with children by size and finds the path to a team', () => {
    expect(org.roots).toEqual(['T00']);
    expect(org.teams.get('R1')?.children).toEqual(['T11', 'T13']);
    expect(teamPath(org, 'T11').map((t) => t.name)).toEqual(['全公司', '华东', '上海一组']);
  });

  it('company → regions → teams → reps', () => {
    const s0 = emptyState();
    expect(drillLevel(org, s0)).toEqual({ by: 'team', team: null });
    const s1 = applyPatch(s0, { team: 'R1' });
    expect(drillLevel(org, s1)).toEqual({ by: 'team', team: 'R1' });
    const s2 = applyPatch(s1, { team: 'T11' });
    expect(drillLevel(org, s2)).toEqual({ by: 'owner', team: 'T11' });
    const s3 = applyPatch(s2, { filters: { owner: ['U6'] } });
    expect(drillLevel(org, s3)).toEqual({ by: 'owner', team: 'T11' });
  });

  it('breadcrumbs 全公司 › 华东 › 上海一组 › 张伟 › the deal, each leading back up', () => {
    const s = applyPatch(applyPatch(emptyState(), { team: 'T11' }), { filters: { owner: ['U6'] }, deal: 'OPP-1' });
    const c = breadcrumbs(org, s, '全部', '某商机');
    expect(c.map((x) => x.label)).toEqual(['全公司', '华东', '上海一组', '张伟', '某商机']);
    expect(c.map((x) => [x.team, x.owner, x.deal])).toEqual([
      [null, [], null],
      ['R1', [], null],
      ['T11', [], null],
      ['T11', ['U6'], null],
      ['T11', ['U6'], 'OPP-1']
    ]);
    expect(c.filter((x) => x.current).map((x) => x.label)).toEqual(['某商机']);
  });

  it('a manager whose tree starts at a region sees it as the top; several roots show "all"', () => {
    const mine = buildOrg(rows.filter((r) => r.key !== 'T00' && r.key !== 'R2' && r.key !== 'T21').map((r) => (r.key === 'R1' ? { ...r, parent: null } : r)));
    expect(breadcrumbs(mine, applyPatch(emptyState(), { team: 'T13' }), '全部').map((x) => x.label)).toEqual(['华东', '杭州组']);
    expect(drillLevel(mine, emptyState())).toEqual({ by: 'team', team: null });
    const two = buildOrg(rows.filter((r) => r.kind === 'team' && (r.key === 'T11' || r.key === 'T21')).map((r) => ({ ...r, parent: null })));
    expect(breadcrumbs(two, emptyState(), '全部').map((x) => x.label)).toEqual(['全部']);
    expect(drillLevel(two, emptyState())).toEqual({ by: 'team', team: null });
  });
});
