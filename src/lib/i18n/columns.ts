/** Column headings for tables and exports: `col.<name>` from the catalog, else the column name. */
import { translator, type Locale, type MessageKey } from './index';
import { zhCN } from './zh-CN';

export function columnLabel(name: string, locale: Locale): string {
  const key = `col.${name}`;
  return key in zhCN ? translator(locale)(key as MessageKey) : name;
}
