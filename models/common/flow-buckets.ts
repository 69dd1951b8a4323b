/**
 * The pipeline flow's bars (models/common/pipeline.ts), in a module of their own with no SQL so
 * the boards (which run in the browser) can import them.
 */

/** The waterfall's parts in their order (start and end are the totals around them). */
export const FLOW_PARTS = ['new', 'pulled_in', 'pushed_out', 'increased', 'decreased', 'won', 'lost', 'removed'] as const;
export type FlowPart = (typeof FLOW_PARTS)[number];
/** Every drillable bar: the two totals, the parts, and `unchanged` (deals in both at the same value). */
export const FLOW_BUCKETS = ['start', ...FLOW_PARTS, 'unchanged', 'end'] as const;
export type FlowBucket = (typeof FLOW_BUCKETS)[number];
