/**
 * Source options in `cockpit.config.json`, per source type (docs/connectors.md).
 *
 * `sources` is a discriminated union on `type`. Each connector kind registers its own
 * schema here: the file kinds (excel, csv) below, REST in connectors/rest/config.ts and
 * PostgreSQL/MySQL in connectors/sql/config.ts. Every schema extends `sharedSourceShape`
 * and is strict, so a misspelt option is an error with a "did you mean" hint.
 *
 * This module must not import src/lib/server/config/schema.ts (which imports it).
 */
import { z } from 'zod';
import { restSourceSchema } from './rest/config';
import { mysqlSourceSchema, postgresSourceSchema } from './sql/config';

export { DEFAULT_REGION_SUFFIXES, sharedSourceShape } from './shared-options';
import { sharedSourceShape } from './shared-options';

export const excelSourceSchema = z.strictObject({
  ...sharedSourceShape,
  type: z.literal('excel'),
  /** The .xlsx file, relative to the config file. */
  path: z.string().min(1),
  /** A sheet name, or several; default: every sheet that fits the entity (others are skipped with a warning). */
  sheet: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** 1-based row of the header; default: detected (the first row that looks like a header). */
  header_row: z.number().int().positive().optional(),
  /** The longest row read, in characters of its sheet XML (default 10,000,000): longer stops the read. */
  max_row_chars: z.number().int().min(1024).optional()
});

export const csvSourceSchema = z.strictObject({
  ...sharedSourceShape,
  type: z.literal('csv'),
  /** The .csv/.tsv/.txt file, relative to the config file. */
  path: z.string().min(1),
  /** One character; default: sniffed from the first lines (, tab ; |). */
  delimiter: z.string().length(1).optional(),
  /** auto (BOM, else UTF-8 if valid, else GB18030), utf-8, gbk, gb18030, utf-16le. */
  encoding: z.enum(['auto', 'utf-8', 'utf8', 'gbk', 'gb18030', 'gb2312', 'utf-16le']).optional(),
  header_row: z.number().int().positive().optional(),
  /** The longest row read, in characters (default 10,000,000): a longer one stops the read with an error naming it. */
  max_row_chars: z.number().int().min(1024).optional()
});

/**
 * The registry: one schema per source type. REST and SQL register theirs from their own
 * modules (placeholders until those connectors land).
 */
export const SOURCE_SCHEMAS = [excelSourceSchema, csvSourceSchema, restSourceSchema, postgresSourceSchema, mysqlSourceSchema] as const;

export const sourceUnionSchema = z.discriminatedUnion('type', SOURCE_SCHEMAS);

export type ExcelSource = z.output<typeof excelSourceSchema>;
export type CsvSource = z.output<typeof csvSourceSchema>;
export type FileSource = ExcelSource | CsvSource;
