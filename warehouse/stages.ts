/**
 * The configured stages as the warehouse's derived tables and the models see them: ordered, with
 * kind, default probability and forecast category. Below the models, because the loader and the
 * demo build facts from them (connectors → warehouse → models: docs/decisions.md, "Layers").
 */
import type { CockpitConfig } from '../src/lib/server/config/schema';

/** A stage as models see it: ordered, with its kind and default probability and category. */
export interface StageInfo {
  name: string;
  /** 1-based position among open stages; the won stage is open count + 1; lost stages 0. */
  index: number;
  kind: 'open' | 'won' | 'lost';
  probability: number;
  forecast_category: string;
  stalled_after_days: number | null;
}

/** Stages from the configuration, as models see them. */
export function stageInfos(config: Pick<CockpitConfig, 'stages'>): StageInfo[] {
  const open = config.stages.filter((s) => !s.outcome);
  return config.stages.map((s) => {
    const openIdx = open.indexOf(s);
    const kind = s.outcome ?? 'open';
    const index = kind === 'open' ? openIdx + 1 : kind === 'won' ? open.length + 1 : 0;
    return {
      name: s.name,
      index,
      kind,
      probability: s.probability ?? (kind === 'won' ? 1 : kind === 'lost' ? 0 : index / (open.length + 1)),
      forecast_category: s.forecast_category ?? (kind === 'lost' ? 'omitted' : kind === 'won' ? 'commit' : 'pipeline'),
      stalled_after_days: s.stalled_after_days ?? null
    };
  });
}
