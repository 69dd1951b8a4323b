/**
 * Scales for the chart components. Charts draw in a 0–100 "percent space" (an SVG with
 * `preserveAspectRatio="none"` and non-scaling strokes) and place their text as HTML at the
 * same percentages, so they render on the server, need no measuring, and stay crisp at any
 * size from a laptop to a 4K wall.
 */
import { scaleLinear } from 'd3';

export interface YScale {
  /** Value → percent from the top (0 = top of the plot). */
  y: (v: number) => number;
  ticks: number[];
  min: number;
  max: number;
}

/** A nice linear scale over the values (always including 0 when `zero`), with about `count` ticks. */
export function yScale(values: (number | null | undefined)[], zero = true, count = 4): YScale {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (zero) {
    lo = Math.min(0, lo);
    hi = Math.max(0, hi);
  }
  if (lo === hi) hi = lo + (lo === 0 ? 1 : Math.abs(lo) * 0.1);
  const s = scaleLinear().domain([lo, hi]).nice(count).range([100, 0]);
  const [min, max] = s.domain();
  return { y: (v) => s(v), ticks: s.ticks(count), min, max };
}

/** Which of n category labels to show so that about `room` fit. */
export function labelStep(n: number, room: number): number {
  return n <= room ? 1 : Math.ceil(n / room);
}
