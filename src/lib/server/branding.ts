/**
 * The company on screen, from `branding` in cockpit.config.json: its name for the viewer's
 * language, whether a logo is configured, and the wall pages' titles. Without a configured
 * name, a demo database shows the demo company's (it is the demo's data) and any other
 * database the product's name — never the demo company's name over someone else's data.
 */
import type { Database } from './db/database';
import type { CockpitConfig } from './config/schema';

type Text = string | { 'zh-CN': string; en: string } | undefined;
const pick = (t: Text, locale: 'zh-CN' | 'en') => (t === undefined ? null : typeof t === 'string' ? t : t[locale]);

export interface Branding {
  /** The configured name; null: none configured. */
  company: string | null;
  /** Whether the database is the generated demo (its company name then applies). */
  demo: boolean;
  logo: boolean;
  wallTitles: Record<string, string>;
}

let demoCache: { version: number; demo: boolean } | null = null;

export async function brandingFor(config: CockpitConfig, db: Database, locale: 'zh-CN' | 'en'): Promise<Branding> {
  const b = config.branding;
  let demo = false;
  try {
    const version = await db.dataVersion();
    if (demoCache?.version !== version) {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::INTEGER AS n FROM meta WHERE key = 'demo.company'`);
      demoCache = { version, demo: (rows[0]?.n ?? 0) > 0 };
    }
    demo = demoCache.demo;
  } catch {
    demo = false;
  }
  const wallTitles: Record<string, string> = {};
  for (const [k, v] of Object.entries(b.wall_titles ?? {})) {
    const t = pick(v as Text, locale);
    if (t) wallTitles[k] = t;
  }
  return { company: pick(b.company as Text, locale), demo, logo: !!b.logo, wallTitles };
}
