/**
 * UI strings of one feature area (ledgers), kept in a file of their own so parallel work on
 * different areas never edits the same catalog lines. zh-CN is the reference: `en` must have
 * exactly the same keys (the type says so). Spread into ../zh-CN.ts and ../en.ts.
 */
export const zh = {} as const satisfies Record<string, string>;

export const en: { [K in keyof typeof zh]: string } = {};
