/**
 * What the filter bar offers (筛选项) — `options`: every value a viewer may filter on, from
 * the rows they can see, so a rep never learns the names of other teams' reps or customers'
 * regions they have no deals in.
 *
 * One row per value: `kind` is team, owner, region, industry, source, product, grade,
 * competitor, loss_reason or stage; `key` is what the filter takes, `label` what to show,
 * `parent` the team above (teams), the owner's team (owners) or the stage's kind (open, won,
 * lost), `sort` an order within the kind (the configured pipeline order for stages, lost last;
 * inactive owners after active ones), and `n` the visible deals with that value
 * (teams: in the team and every team below it), so the commonest values come first.
 * Teams whose parent is not visible are roots of the viewer's tree.
 */
import { z } from 'zod';
import { defineModel } from './model';
import { paramsSchema } from './common/params';
import { dealsRelation, hasFilters } from './common/relations';
import { OPTION_DIMS } from '../warehouse/facts';
import { sql, type Sql } from '../src/lib/server/db/sql';

export const OPTION_KINDS = ['team', 'owner', 'region', 'industry', 'source', 'product', 'grade', 'competitor', 'loss_reason', 'stage'] as const;

/**
 * The common filters narrow the deals counted and the values listed. The boards ask for the
 * options without filters (a filter bar lists every value the viewer may choose, whatever is
 * chosen now), so in practice the filters that arrive are a token's locked ones, which the API
 * adds to every call: a portal user locked to one product sees that product's values and
 * counts, never the others'. Teams and owners stay listed (the scope decides who is visible;
 * their counts are of the filtered deals).
 */
const params = paramsSchema({});

const row = z.strictObject({
  kind: z.enum(OPTION_KINDS),
  key: z.string(),
  label: z.string(),
  parent: z.string().nullable(),
  sort: z.number().int(),
  n: z.number().int().nonnegative()
});

export const options = defineModel({
  name: 'options',
  title: { 'zh-CN': '筛选项', en: 'Filter options' },
  definition: {
    'zh-CN': '当前用户可见范围内可供筛选的团队（树）、负责人、地区、行业、来源、产品、客户级别、竞争对手、输单原因和销售阶段，以及每项对应的可见商机数。',
    en: 'The teams (as a tree), owners, regions, industries, sources, products, grades, competitors, loss reasons and stages the viewer can filter on, each with the number of visible deals.'
  },
  dateField: () => 'opportunities.created_at',
  defaultPeriod: 'all',
  // Every board's frame waits for it; its tiles are queued at the same moment.
  priority: true,
  params,
  row,
  query(p) {
    // Unfiltered (the boards' call): the per-owner counts made at sync (option_facts,
    // warehouse/facts.ts), summed over the owners the scope shows; with a token's locked
    // filters, the filtered deals counted here.
    const filtered = hasFilters(p);
    const dim = (kind: keyof typeof OPTION_DIMS) =>
      filtered
        ? sql`SELECT ${kind} AS kind, v AS key, v AS label, NULL::VARCHAR AS parent, 0 AS sort, count(*)::INTEGER AS n
              FROM (SELECT ${sql([OPTION_DIMS[kind]])} AS v FROM d) WHERE v IS NOT NULL AND v <> '' GROUP BY v`
        : sql`SELECT ${kind} AS kind, key, key AS label, NULL::VARCHAR AS parent, 0 AS sort, sum(n)::INTEGER AS n
              FROM option_facts WHERE kind = ${kind} GROUP BY key`;
    const subtree: [string, Sql] = [
      'subtree',
      sql`SELECT tt.ancestor AS team_id, sum(b.n) AS n FROM by_team b JOIN team_tree tt ON tt.team_id = b.team_id GROUP BY tt.ancestor`
    ];
    return {
      ctes: filtered
        ? [
            ['d', sql`SELECT * FROM ${dealsRelation(p)}`],
            ['by_team', sql`SELECT owner_team AS team_id, count(*) AS n FROM d GROUP BY owner_team`, { materialized: true }],
            ['by_owner', sql`SELECT owner_id, count(*) AS n FROM d GROUP BY owner_id`],
            ['by_stage', sql`SELECT stage, count(*) AS n FROM d GROUP BY stage`],
            subtree
          ]
        : [
            ['by_team', sql`SELECT owner_team AS team_id, sum(n) AS n FROM option_facts WHERE kind = 'deals' GROUP BY owner_team`, { materialized: true }],
            ['by_owner', sql`SELECT owner_id, sum(n) AS n FROM option_facts WHERE kind = 'deals' GROUP BY owner_id`],
            ['by_stage', sql`SELECT key AS stage, sum(n) AS n FROM option_facts WHERE kind = 'stage' GROUP BY key`],
            subtree
          ],
      body: sql`
        SELECT 'team' AS kind, t.team_id AS key, t.name AS label,
               CASE WHEN t.parent_id IN (SELECT team_id FROM teams) THEN t.parent_id END AS parent,
               0 AS sort, coalesce(s.n, 0)::INTEGER AS n
        FROM teams t LEFT JOIN subtree s ON s.team_id = t.team_id
        UNION ALL
        SELECT 'owner', u.user_id, u.name, u.team_id, CASE WHEN coalesce(u.active, true) THEN 0 ELSE 1 END, coalesce(b.n, 0)::INTEGER
        FROM users u LEFT JOIN by_owner b ON b.owner_id = u.user_id
        UNION ALL ${dim('region')}
        UNION ALL ${dim('industry')}
        UNION ALL ${dim('source')}
        UNION ALL ${dim('product')}
        UNION ALL ${dim('grade')}
        UNION ALL ${dim('competitor')}
        UNION ALL ${dim('loss_reason')}
        UNION ALL
        SELECT 'stage', s.name, s.name, s.kind, CASE WHEN s.kind = 'lost' THEN 100 + s.idx ELSE s.idx END, coalesce(b.n, 0)::INTEGER
        FROM stages s LEFT JOIN by_stage b ON b.stage = s.name
        ORDER BY kind, sort, n DESC, label`
    };
  },
  finalize(rows) {
    return { rows: rows as z.input<typeof row>[], n: rows.length };
  }
});
