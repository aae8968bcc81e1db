/** Independent float64 references for the tests (straight from blocks.md; no tfjs). */

export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Index of the threshold used by flat element i when a threshold of `tSize` values broadcasts
 *  over the trailing axes (tSize 1 = one per layer). */
export const thrIndex = (i: number, tSize: number): number => i % tSize;

export function refQuantize(x: ArrayLike<number>, threshold: ArrayLike<number>, relu: boolean): Float64Array {
  return Float64Array.from(x, (v, i) => {
    const thr = Math.abs(threshold[thrIndex(i, threshold.length)]!);
    const xr = relu ? Math.max(v, 0) : v;
    return roundHalfEven(xr / thr) * thr;
  });
}

/** round(x'/thr) per element, the n of the documented gradient. */
export function refLevels(x: ArrayLike<number>, threshold: ArrayLike<number>, relu: boolean): Float64Array {
  return Float64Array.from(x, (v, i) => roundHalfEven((relu ? Math.max(v, 0) : v) / Math.abs(threshold[thrIndex(i, threshold.length)]!)));
}

/** spRate*fanOut*sum|q_t - q_{t-1}|/count over `shape` with time on `axis` (0 or 1); clip splits axis 0. */
export function refSparsityLoss(
  q: ArrayLike<number>,
  shape: number[],
  axis: 0 | 1,
  spRate = 1,
  fanOut = 1,
  clipLength?: number,
): number {
  const steps = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = axis === 1 ? shape[0]! : 1;
  let sum = 0;
  let count = 0;
  for (let o = 0; o < outer; o++) {
    for (let t = 1; t < steps; t++) {
      if (clipLength !== undefined && t % clipLength === 0) continue;
      for (let k = 0; k < inner; k++) {
        const a = q[(o * steps + t) * inner + k]!;
        const b = q[(o * steps + t - 1) * inner + k]!;
        sum += Math.abs(a - b);
        count++;
      }
    }
  }
  return count ? (spRate * fanOut * sum) / count : 0;
}

/** Moves x away from rounding boundaries (x/thr within 0.02 of k+0.5) and, for relu, from 0. */
export function awayFromBoundaries(x: Float64Array, threshold: ArrayLike<number>): Float64Array {
  return x.map((v, i) => {
    const thr = Math.abs(threshold[thrIndex(i, threshold.length)]!);
    let u = v;
    if (Math.abs(u) < 0.02) u += 0.05;
    const frac = Math.abs(u / thr) % 1;
    if (Math.abs(frac - 0.5) < 0.02) u += 0.05 * thr;
    return u;
  });
}
