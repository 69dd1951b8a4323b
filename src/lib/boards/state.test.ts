import { describe, expect, it } from 'vitest';
import { applyPatch, commonParams, emptyState, parseState, stateHref, stateParams } from './state';

const url = (q: string) => new URL(`http://x/boards/pipeline?${q}`);

describe('view state in the URL', () => {
  it('reads period, filters, refinements, the open deal and table state', () => {
    const s = parseState(
      url('period=this_quarter&team=R1&owner=U5&owner=U6&region=上海&stage=方案报价&deal=OPP-1&deals.sort=amount&deals.dir=asc&deals.page=3&deals.q=上海&lang=en').searchParams
    );
    expect(s).toMatchObject({
      period: 'this_quarter',
      team: 'R1',
      deal: 'OPP-1',
      refine: { stage: ['方案报价'] },
      tables: { deals: { sort: 'amount', dir: 'asc', page: 3, q: '上海' } }
    });
    expect(s.filters.owner).toEqual(['U5', 'U6']);
    expect(s.filters.region).toEqual(['上海']);
  });

  it('ignores what is malformed instead of trusting it', () => {
    const s = parseState(url('period=weekly&from=2026-13-01&to=2026-01-01&as_of=yesterday&deals.page=-4&deals.sort=amount;drop&x.y.z=1').searchParams);
    expect(s.period).toBeNull();
    expect(s.from).toBeNull();
    expect(s.asOf).toBeNull();
    expect(s.tables.deals).toEqual({ sort: null, dir: null, page: 1, q: '' });
  });

  it('a custom range wins over a preset, and needs from < to', () => {
    expect(parseState(url('period=this_year&from=2026-01-01&to=2026-04-01').searchParams)).toMatchObject({ period: null, from: '2026-01-01', to: '2026-04-01' });
    expect(parseState(url('from=2026-04-01&to=2026-01-01').searchParams)).toMatchObject({ from: null, to: null });
  });

  it('round-trips: parse(href(state)) = state, keeping unrelated parameters', () => {
    const u = url('team=R1&owner=U5&reached=需求分析&date_field=created_at&deals.page=2&lang=en&theme=dark&embed_x=1');
    const s = parseState(u.searchParams);
    const href = stateHref(u, s);
    const back = new URL(`http://x${href}`);
    expect(parseState(back.searchParams)).toEqual(s);
    expect(back.searchParams.get('lang')).toBe('en');
    expect(back.searchParams.get('theme')).toBe('dark');
    expect(back.searchParams.get('embed_x')).toBe('1');
  });

  it('drilling into a team clears the owner and sends tables back to page 1; sorting keeps the filters', () => {
    const s = parseState(url('team=R1&owner=U5&deals.page=4&deals.sort=amount').searchParams);
    const next = applyPatch(s, { team: 'T11' });
    expect(next.team).toBe('T11');
    expect(next.filters.owner).toEqual([]);
    expect(next.tables.deals).toMatchObject({ page: 1, sort: 'amount' });
    const sorted = applyPatch(s, { tables: { deals: { sort: 'closed_at', dir: 'asc' } } });
    expect(sorted.team).toBe('R1');
    expect(sorted.tables.deals).toMatchObject({ sort: 'closed_at', dir: 'asc', page: 1 });
    expect(applyPatch(s, { tables: { deals: { page: 5 } } }).tables.deals.page).toBe(5);
  });

  it('opening a deal changes nothing else; a refinement replaces or merges', () => {
    const s = parseState(url('team=R1&stage=A&deals.page=2').searchParams);
    const open = applyPatch(s, { deal: 'OPP-9' });
    expect(open).toEqual({ ...s, deal: 'OPP-9' });
    expect(applyPatch(s, { refine: { loss_reason: ['价格过高'] } }).refine).toEqual({ stage: ['A'], loss_reason: ['价格过高'] });
    expect(applyPatch(s, { refine: { status: ['lost'] }, replaceRefine: true }).refine).toEqual({ status: ['lost'] });
    expect(applyPatch(s, { refine: { stage: [] } }).refine).toEqual({});
  });

  it('model parameters: the board default period unless the state says otherwise', () => {
    expect(commonParams(emptyState(), 'this_year')).toMatchObject({ period: 'this_year', team: null, owner: [] });
    const s = parseState(url('from=2026-01-01&to=2026-02-01&as_of=2026-06-15&industry=零售').searchParams);
    expect(commonParams(s, 'this_year')).toMatchObject({ from: '2026-01-01', to: '2026-02-01', as_of: '2026-06-15', industry: ['零售'] });
    expect(commonParams(s, 'this_year').period).toBeUndefined();
  });

  it('serialises in a stable order without defaults', () => {
    const s = applyPatch(emptyState(), { team: 'R1', filters: { owner: ['U1'] }, refine: { stage: ['S'] } });
    expect(stateParams(s)).toEqual([
      ['team', 'R1'],
      ['owner', 'U1'],
      ['stage', 'S']
    ]);
  });
});
