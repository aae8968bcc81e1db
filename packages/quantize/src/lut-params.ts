/**
 * 256-entry lookup tables for elementwise nonlinearities on int8 (blocks.md, "Integer inference").
 *
 * INDEXING: the entry for input code q (int8, -128..127) is `table[q + 128]`; in C,
 * `table[(int32_t)q + 128]` (runtime/tb_fixed_point.h, tb_lut_s8).
 * VALUE: `table[q + 128] = clamp(round(f(inScale * (q - inZp)) / outScale) + outZp, -128, 127)`
 * with round half away from zero, as C's lround. The float work happens here, at export; the
 * runtime does one load per value.
 */
import { ConfigError } from '@tinyblocks/core/base';
import { evalOnGrid, type QuantParams, type QuantRange } from '@tinyblocks/int8';
import { createObserver, type ObserverMethod, type PercentileOptions } from './calibrate.js';

export interface LutOutputOptions extends PercentileOptions, QuantRange {
  /** 'minmax' (default) or 'percentile'. */
  method?: ObserverMethod;
  /**
   * Calibration: how often each input code occurs (codeHistogram of the calibration inputs).
   * Without it every grid point counts once, i.e. the range of f over the whole input grid.
   */
  inputCounts?: ArrayLike<number>;
}

/**
 * Output scale and zero point for a table: the range of f over the input grid, weighted by how
 * often each input code occurs when inputCounts is given. Wide-range functions (PolyReLU's cubic)
 * should be calibrated: with inputCounts and method 'percentile', rare extreme inputs no longer
 * stretch the output grid (they saturate instead).
 */
export function chooseLutOutputParams(
  fn: (x: number) => number,
  inScale: number,
  inZp: number,
  options: LutOutputOptions = {},
): QuantParams {
  const { method = 'minmax', inputCounts, percentile, binsPerOctave, qmin, qmax } = options;
  if (inputCounts && inputCounts.length !== 256) {
    throw new ConfigError({ op: 'chooseLutOutputParams' }, 'inputCounts.length', '256', inputCounts.length);
  }
  const y = evalOnGrid(fn, inScale, inZp);
  if (!y.every(Number.isFinite)) {
    throw new ConfigError({ op: 'chooseLutOutputParams' }, 'fn', 'finite values on the input grid', 'a non-finite value');
  }
  const observer = createObserver(method, { percentile, binsPerOctave });
  observer.observe(y, inputCounts ?? new Float64Array(256).fill(1));
  return observer.params({ qmin, qmax });
}
