/**
 * The schedule inside `cockpit serve` (like the sync schedule, connectors/load/server-sync.ts):
 * every 30 s it runs the rules and reports whose cron time has come since the last tick (in the
 * business time zone, each run tagged with its slot so a report is never sent twice for one
 * slot), and, when an item's quiet hours have just ended, runs it again if deliveries were
 * deferred. One run per item at a time; a failing run is logged and the schedule goes on.
 * `tick(at)` is exported for tests, which drive it with their own clock.
 */
import type { CockpitConfig } from '../config/schema';
import type { Database } from '../db/database';
import { isQuiet, nextRun } from './cron';
import { quietFor, runReport, runRule, type EngineOptions } from './engine';
import type { ReportConfig, RuleConfig } from './config';
import { hasDeferred, prune } from './store';

export interface Scheduler {
  tick(at?: Date): Promise<void>;
  stop(): void;
}

export function createScheduler(db: Database, config: CockpitConfig, o: Partial<EngineOptions> & { log?: (m: string) => void; intervalMs?: number } = {}): Scheduler {
  const now = o.now ?? (() => new Date());
  const log = o.log ?? ((m: string) => console.error(m));
  const items: (RuleConfig | ReportConfig)[] = [...config.alerts.rules, ...config.alerts.reports].filter((i) => i.enabled);
  let last = now();
  let lastPrune = 0;
  const running = new Map<string, Promise<void>>();
  const wasQuiet = new Map<string, boolean>();

  const start = (item: RuleConfig | ReportConfig, trigger: string, slot: Date) => {
    if (running.has(item.name)) return;
    const opts: EngineOptions = { ...o, db, config, now, trigger, slot };
    const isRule = config.alerts.rules.includes(item as RuleConfig);
    const p = (isRule ? runRule(opts, item as RuleConfig) : runReport(opts, item as ReportConfig))
      .then((r) => {
        const sent = r.members.flatMap((m) => m.deliveries).filter((d) => d.status === 'sent').length;
        const failed = r.members.flatMap((m) => m.deliveries).filter((d) => d.status === 'failed');
        const firing = r.members.filter((m) => m.status === 'firing').length;
        log(`alerts: ${item.name} (${trigger}) — ${r.members.length} audience member(s)${isRule ? `, ${firing} firing` : ''}, ${sent} sent${failed.length ? `, ${failed.length} failed: ${failed[0].error}` : ''}`);
      })
      .catch((e) => log(`alerts: ${item.name} failed: ${e instanceof Error ? e.message : e}`))
      .finally(() => running.delete(item.name));
    running.set(item.name, p);
  };

  async function tick(at = now()) {
    for (const item of items) {
      const quiet = isQuiet(at, quietFor(config, item), config.timezone);
      const due = nextRun(item.schedule, last, config.timezone);
      if (due && due.getTime() <= at.getTime()) start(item, 'schedule', due);
      else if (wasQuiet.get(item.name) && !quiet && (await hasDeferred(db, item.name, new Date(at.getTime() - 7 * 86_400_000)))) start(item, 'catch-up', at);
      wasQuiet.set(item.name, quiet);
    }
    last = at;
    if (at.getTime() - lastPrune > 86_400_000) {
      lastPrune = at.getTime();
      await prune(db, at).catch((e) => log(`alerts: pruning the log failed: ${e.message}`));
    }
    await Promise.all(running.values());
  }

  let timer: NodeJS.Timeout | null = null;
  if (o.intervalMs !== 0 && items.length) {
    timer = setInterval(() => void tick().catch((e) => log(`alerts: ${e.message}`)), o.intervalMs ?? 30_000);
    timer.unref();
  }
  return { tick, stop: () => timer && clearInterval(timer) };
}
