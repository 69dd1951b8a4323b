/**
 * mulberry32: a small, fast, seeded pseudo-random generator in [0, 1). Shared by the Monte Carlo
 * forecast (models/common/simulate.ts) and the demo company's generator, which must both give the
 * same numbers for the same seed on every machine (Math.random cannot be seeded).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
