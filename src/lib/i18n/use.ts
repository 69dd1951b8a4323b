import { page } from '$app/state';
import { translator, type Locale } from './index';

/** The current page's locale and translator (reactive through `page`). */
export function i18n(): { locale: Locale; t: ReturnType<typeof translator> } {
  const locale = (page.data.locale ?? 'zh-CN') as Locale;
  return { locale, t: translator(locale) };
}

/** A URL for the same path with `lang` set, keeping every other parameter. */
export function withLang(url: URL, lang: Locale): string {
  const u = new URL(url);
  u.searchParams.set('lang', lang);
  return `${u.pathname}${u.search}`;
}
