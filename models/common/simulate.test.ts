/**
 * The forecast band's Monte Carlo (models/common/simulate.ts): seeded, so a band is
 * reproducible; the shared shock is the only spread when the deals' variance is 0, so the band
 * is then the lognormal's own quantiles, computed here in closed form.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIGMA, MIN_SIGMA, shockSigma, simulate } from './simulate';

describe('simulate', () => {
  it('the same seed gives the same band; another seed a slightly different one', () => {
    const cells = [
      { won: 100, mean: 1000, variance: 200 ** 2, nfSd: 50 },
      { won: 0, mean: 500, variance: 100 ** 2, nfSd: 0 }
    ];
    const a = simulate(cells, 0.2, 7, 4000);
    expect(simulate(cells, 0.2, 7, 4000)).toEqual(a);
    const b = simulate(cells, 0.2, 8, 4000);
    expect(b.total.p50).not.toBe(a.total.p50);
    expect(Math.abs(b.total.p50 - a.total.p50) / a.total.p50).toBeLessThan(0.03);
    for (const band of [...a.cells, a.total]) {
      expect(band.p10).toBeLessThan(band.p50);
      expect(band.p50).toBeLessThan(band.p90);
    }
  });

  it('with no deal variance the band is won + mean × exp(σz − σ²/2) at z = ∓1.2816 (lognormal quantiles)', () => {
    const sigma = 0.2;
    const { cells } = simulate([{ won: 1000, mean: 10000, variance: 0, nfSd: 0 }], sigma, 1, 20000);
    const q = (z: number) => 1000 + 10000 * Math.exp(sigma * z - (sigma * sigma) / 2);
    expect(cells[0].p10 / q(-1.2816)).toBeCloseTo(1, 2);
    expect(cells[0].p50 / q(0)).toBeCloseTo(1, 2);
    expect(cells[0].p90 / q(1.2816)).toBeCloseTo(1, 2);
  });

  it('what is already won is certain; σ falls back to the default with fewer than 4 past windows and never goes below the floor', () => {
    const { cells } = simulate([{ won: 500, mean: 0, variance: 0, nfSd: 0 }], 0.5, 3, 500);
    expect(cells[0]).toEqual({ p10: 500, p50: 500, p90: 500 });
    expect(shockSigma(0.9, 3)).toBe(DEFAULT_SIGMA);
    expect(shockSigma(null, 10)).toBe(DEFAULT_SIGMA);
    expect(shockSigma(0.01, 10)).toBe(MIN_SIGMA);
    expect(shockSigma(0.4, 10)).toBe(0.4);
  });
});
