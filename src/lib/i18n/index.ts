/**
 * i18n: every UI string goes through `t(key, vars)`. zh-CN is the default; en when the browser
 * prefers another language; `?lang=` in the URL wins and is kept in links.
 */
import { en } from './en';
import { zhCN, type Messages } from './zh-CN';

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];
export type MessageKey = keyof Messages;

const CATALOGS: Record<Locale, Messages> = { 'zh-CN': zhCN, en };

export function isLocale(s: string | null | undefined): s is Locale {
  return !!s && (LOCALES as readonly string[]).includes(s);
}

/** Picks a locale: an explicit choice, else the first supported language the browser lists. */
export function negotiateLocale(explicit: string | null | undefined, acceptLanguage: string | null | undefined): Locale {
  if (explicit) {
    if (isLocale(explicit)) return explicit;
    if (explicit.toLowerCase().startsWith('zh')) return 'zh-CN';
    if (explicit.toLowerCase().startsWith('en')) return 'en';
  }
  if (!acceptLanguage) return 'zh-CN';
  const langs = acceptLanguage
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.find((p) => p.trim().startsWith('q='));
      return { tag: tag.toLowerCase(), q: q ? Number(q.trim().slice(2)) : 1 };
    })
    .sort((a, b) => b.q - a.q);
  for (const { tag } of langs) {
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en';
  }
  return 'en';
}

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

const pluralRules = new Map<Locale, Intl.PluralRules>();
const rules = (l: Locale) => pluralRules.get(l) ?? pluralRules.set(l, new Intl.PluralRules(l)).get(l)!;

/** A translator for a locale; `{name}` placeholders are replaced from `vars`. */
export function translator(locale: Locale): Translate {
  const messages = CATALOGS[locale];
  return (key, vars) => {
    const template = messages[key] ?? zhCN[key] ?? key;
    if (!vars) return template;
    // `{n|deal|deals}`: the singular when vars.n is 1 (the plural rules of the locale), else the plural.
    const plural = template.replace(/\{(\w+)\|([^|{}]*)\|([^|{}]*)\}/g, (_, k, one, other) =>
      k in vars && rules(locale).select(Number(String(vars[k]).replace(/[^\d.-]/g, ''))) === 'one' ? one : other
    );
    return plural.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
  };
}

/**
 * A list in the locale's way: 13、27、50 in Chinese, 13, 27, 50 in English (`list.sep`). Lists
 * that the importer sends joined with ", " (rows of a duplicate id, a header's columns) are
 * split and joined again with this.
 */
export function formatList(locale: Locale, items: readonly (string | number)[]): string {
  return items.map(String).join(translator(locale)('list.sep'));
}
