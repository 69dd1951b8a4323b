/**
 * The same Excel/CSV scenarios as files.test.ts (first sync, a second sync that changes and
 * adds deals, a failed sync rolled back, customer merges and adoption), landed in slices of
 * two keys: a large sync lands its rows and history in slices of ~1M keys within its one
 * transaction (docs/connectors.md, "Memory and speed"), and slicing must not change any result.
 */
process.env.COCKPIT_SYNC_SLICE_KEYS = '2';
await import('./files.test');
export {};
