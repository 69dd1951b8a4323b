/**
 * The deal risk flags (models/common/risk.ts), in a module with no SQL so the boards (which run
 * in the browser) can import them.
 */
export const RISK_FLAGS = ['pushed', 'stalled_stage', 'shrinking', 'no_activity', 'past_close'] as const;
export type RiskFlag = (typeof RISK_FLAGS)[number];
