/**
 * UI strings of one feature area (speed), kept in a file of their own so parallel work on
 * different areas never edits the same catalog lines. zh-CN is the reference: `en` must have
 * exactly the same keys (the type says so). Spread into ../zh-CN.ts and ../en.ts.
 */
export const zh = {
  'speed.tile_streaming': '正在计算…',
  'speed.load_all': '浏览器未启用脚本：点此等待全部卡片计算完成后再显示页面'
} as const satisfies Record<string, string>;

export const en: { [K in keyof typeof zh]: string } = {
  'speed.tile_streaming': 'Computing…',
  'speed.load_all': 'JavaScript is off: load the page with every tile computed'
};
