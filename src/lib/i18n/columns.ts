/** Column headings for tables and exports: `col.<name>` from the catalog, else the column name. */
import { translator, type Locale, type MessageKey } from './index';
import { zhCN } from './zh-CN';

export function columnLabel(name: string, locale: Locale): string {
  const key = `col.${name}`;
  return key in zhCN ? translator(locale)(key as MessageKey) : name;
}

/**
 * A field of an entity as the upload page names it (parts/fields.ts `field.<entity>.<name>`:
 * `amount` is 预计成交金额 on a deal, 回款金额 on a payment); a name no entity maps falls back to
 * its column heading.
 */
export function fieldLabel(entity: string, name: string, locale: Locale): string {
  const key = `field.${entity}.${name}`;
  return key in zhCN ? translator(locale)(key as MessageKey) : columnLabel(name, locale);
}
