import { mulberry32 } from '../../warehouse/prng';
/**
 * The statistical forecast's band (docs/metrics.md, "Intervals"): a seeded Monte Carlo, so the
 * same data, parameters and seed always give the same P10/P50/P90.
 *
 * Each group's part still to come (open deals × their probability of closing inside the period,
 * plus the new-deal flow) is drawn as normal with the mean and variance the engine computed —
 * Σ amount² p (1 − p) for the deals (the Bernoulli variance of a sum of independent deals) and
 * the new flow's spread across the past windows — cut at 0; then every group of the period is
 * multiplied by one shared period shock exp(σ z − σ²/2) (mean 1), σ = the root mean square of
 * log(actual / predicted) over the past windows the rates were learned from (0.3 when fewer
 * than 4 windows had both; at least 0.05). What is already won is certain.
 */
export interface SimCell {
  won: number;
  mean: number;
  variance: number;
  nfSd: number;
}

export interface Band {
  p10: number;
  p50: number;
  p90: number;
}

/** Default σ when too few past windows: documented in metrics.md. */
export const DEFAULT_SIGMA = 0.3;
export const MIN_SIGMA = 0.05;

export function shockSigma(sigma: number | null | undefined, n: number | null | undefined): number {
  if (sigma === null || sigma === undefined || !Number.isFinite(sigma) || (n ?? 0) < 4) return DEFAULT_SIGMA;
  return Math.max(MIN_SIGMA, sigma);
}

/** The Monte Carlo's seeded generator (shared mulberry32; a zero seed gets a fixed non-zero one). */
const rng = (seed: number) => mulberry32(seed >>> 0 || 0x9e3779b9);

function normal(u: () => number): number {
  // Box–Muller; u() is in [0, 1), 1 − u() in (0, 1].
  return Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

function quantile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** P10/P50/P90 of each cell and of their total, over `draws` joint draws with one shared shock. */
export function simulate(cells: SimCell[], sigma: number, seed: number, draws: number): { cells: Band[]; total: Band } {
  const u = rng(seed);
  const per = cells.map(() => new Float64Array(draws));
  const total = new Float64Array(draws);
  for (let i = 0; i < draws; i++) {
    const z0 = normal(u);
    const shock = Math.exp(sigma * z0 - (sigma * sigma) / 2);
    let sum = 0;
    cells.forEach((c, j) => {
      const sd = Math.sqrt(Math.max(0, c.variance) + c.nfSd * c.nfSd);
      const rest = Math.max(0, c.mean + sd * normal(u)) * shock;
      per[j][i] = c.won + rest;
      sum += c.won + rest;
    });
    total[i] = sum;
  }
  const band = (a: Float64Array): Band => {
    a.sort();
    return { p10: quantile(a, 0.1), p50: quantile(a, 0.5), p90: quantile(a, 0.9) };
  };
  return { cells: per.map(band), total: band(total) };
}
