/**
 * Calibration observers: feed them the float activations of a tensor batch by batch, then ask for
 * the range and the int8 parameters (chooseQuantParams).
 * - 'minmax': the exact extremes seen. Simple; one outlier stretches the grid for everyone.
 * - 'percentile': outlier-robust. Positive values and the magnitudes of negative values go into
 *   two fixed-size log-scale histograms (128 bins per power of two by default). The range is
 *   [-P(neg), P(pos)] with P the chosen percentile (default 99.99) of each tail's own values,
 *   interpolated linearly inside a bin and never beyond the extremes seen: within 1/128 (relative)
 *   of the exact sample percentile (magnitudes below 2^-40 share one bin). Zeros belong to neither
 *   tail; percentile 100 equals minmax.
 */
import { ConfigError, DataError, requireOneOf } from '@tinyblocks/core/base';
import { chooseQuantParams, type QuantParams, type QuantRange } from '@tinyblocks/int8';

export const OBSERVER_METHODS = ['minmax', 'percentile'] as const;
export type ObserverMethod = (typeof OBSERVER_METHODS)[number];

export interface Observer {
  readonly method: ObserverMethod;
  /** Number of values observed so far (sum of counts when counts are given). */
  readonly count: number;
  /** Adds a batch of float values; `counts[i]` (optional) is how many times values[i] occurred. */
  observe(values: ArrayLike<number>, counts?: ArrayLike<number>): void;
  /** The calibrated float range (not yet widened to include 0). */
  range(): { min: number; max: number };
  /** int8 asymmetric parameters for the range (chooseQuantParams). */
  params(qrange?: QuantRange): QuantParams;
}

abstract class BaseObserver implements Observer {
  abstract readonly method: ObserverMethod;
  protected abstract readonly label: string;
  count = 0;
  protected lo = Infinity;
  protected hi = -Infinity;

  observe(values: ArrayLike<number>, counts?: ArrayLike<number>): void {
    const where = { op: `${this.label}.observe` };
    if (counts && counts.length !== values.length) {
      throw new ConfigError(where, 'counts.length', `${values.length} (one per value)`, counts.length);
    }
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const c = counts ? counts[i]! : 1;
      if (!Number.isFinite(v)) throw new DataError(where, `values[${i}]`, 'a finite number', v);
      if (!(c >= 0 && Number.isFinite(c))) throw new ConfigError(where, `counts[${i}]`, 'a finite number >= 0', c);
      if (c === 0) continue;
      if (v < this.lo) this.lo = v;
      if (v > this.hi) this.hi = v;
      this.count += c;
      this.add(v, c);
    }
  }

  protected abstract add(v: number, c: number): void;

  protected checkNotEmpty(): void {
    if (this.count === 0) {
      throw new DataError({ op: `${this.label}.range` }, 'observed values', 'at least one', 0);
    }
  }

  abstract range(): { min: number; max: number };

  params(qrange: QuantRange = {}): QuantParams {
    const { min, max } = this.range();
    return chooseQuantParams(min, max, qrange);
  }
}

/** Running minimum and maximum. */
export class MinMaxObserver extends BaseObserver {
  readonly method = 'minmax';
  protected readonly label = 'MinMaxObserver';

  protected add(): void {}

  range(): { min: number; max: number } {
    this.checkNotEmpty();
    return { min: this.lo, max: this.hi };
  }
}

const E_MIN = -40; // magnitudes below 2^-40 share one underflow bin
const E_MAX = 40; // magnitudes at or above 2^40 share one overflow bin
const LOWEST = 2 ** E_MIN;
const HIGHEST = 2 ** E_MAX;

/**
 * Fixed-size histogram of magnitudes on a log scale: `perOctave` equal bins inside every power of
 * two [2^e, 2^(e+1)), e in [-40, 40). A bin is at most 1/perOctave of its lower edge wide, so a
 * quantile is found to that relative precision whatever the spread of the data (one outlier 1000x
 * the bulk costs no resolution, unlike a linear histogram).
 */
class LogHistogram {
  private counts: Float64Array | null = null; // allocated on first use
  private under = 0;
  private over = 0;
  total = 0;
  maxSeen = 0;

  constructor(private readonly perOctave: number) {}

  add(v: number, c: number): void {
    this.total += c;
    if (v > this.maxSeen) this.maxSeen = v;
    if (v < LOWEST) this.under += c;
    else if (v >= HIGHEST) this.over += c;
    else {
      let e = Math.floor(Math.log2(v));
      if (2 ** e > v) e -= 1; // log2 may be off by one ulp near powers of two
      else if (2 ** (e + 1) <= v) e += 1;
      const sub = Math.min(Math.floor((v / 2 ** e - 1) * this.perOctave), this.perOctave - 1);
      this.counts ??= new Float64Array((E_MAX - E_MIN) * this.perOctave);
      this.counts[(e - E_MIN) * this.perOctave + sub] += c;
    }
  }

  /** The value below which a fraction p of the mass lies (linear inside a bin), <= maxSeen. */
  quantile(p: number): number {
    const target = p * this.total;
    if (target <= this.under) return Math.min((target / this.under) * LOWEST, this.maxSeen);
    let cum = this.under;
    const counts = this.counts ?? new Float64Array(0);
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c > 0 && cum + c >= target) {
        const e = Math.floor(i / this.perOctave) + E_MIN;
        const width = 2 ** e / this.perOctave;
        const lo = 2 ** e + (i % this.perOctave) * width;
        return Math.min(lo + ((target - cum) / c) * width, this.maxSeen);
      }
      cum += c;
    }
    if (this.over === 0) return this.maxSeen; // only reachable through rounding of fractional counts
    // in the overflow bin: interpolate between 2^40 and the largest value seen
    return Math.min(HIGHEST + ((target - cum) / this.over) * (this.maxSeen - HIGHEST), this.maxSeen);
  }
}

export interface PercentileOptions {
  /** Percentile of each tail, in (0, 100]; default 99.99. */
  percentile?: number;
  /** Histogram bins per power of two, an integer in [1, 1024]; default 128 (0.8% resolution). */
  binsPerOctave?: number;
}

/** Clips each tail at a percentile of its own values (fixed-size doubling histograms). */
export class PercentileObserver extends BaseObserver {
  readonly method = 'percentile';
  protected readonly label = 'PercentileObserver';
  readonly percentile: number;
  private readonly pos: LogHistogram;
  private readonly neg: LogHistogram;

  constructor(options: PercentileOptions = {}) {
    super();
    const { percentile = 99.99, binsPerOctave = 128 } = options;
    const where = { op: 'PercentileObserver' };
    if (typeof percentile !== 'number' || !(percentile > 0 && percentile <= 100)) {
      throw new ConfigError(where, 'percentile', 'a number in (0, 100]', percentile);
    }
    if (!Number.isInteger(binsPerOctave) || binsPerOctave < 1 || binsPerOctave > 1024) {
      throw new ConfigError(where, 'binsPerOctave', 'an integer in [1, 1024]', binsPerOctave);
    }
    this.percentile = percentile;
    this.pos = new LogHistogram(binsPerOctave);
    this.neg = new LogHistogram(binsPerOctave);
  }

  protected add(v: number, c: number): void {
    if (v > 0) this.pos.add(v, c);
    else if (v < 0) this.neg.add(-v, c);
  }

  range(): { min: number; max: number } {
    this.checkNotEmpty();
    const p = this.percentile / 100;
    // min/max of the data bound the result when a tail is empty (e.g. all values > 0)
    const min = this.neg.total > 0 ? -this.neg.quantile(p) : this.lo;
    const max = this.pos.total > 0 ? this.pos.quantile(p) : this.hi;
    return { min, max };
  }
}

/** An observer by name: 'minmax' or 'percentile' (options apply to 'percentile'). */
export function createObserver(method: ObserverMethod, options: PercentileOptions = {}): Observer {
  const m = requireOneOf({ op: 'createObserver' }, 'method', method, OBSERVER_METHODS);
  return m === 'minmax' ? new MinMaxObserver() : new PercentileObserver(options);
}
