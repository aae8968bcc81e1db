import { ConfigError, DataError, Rng } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams, createObserver, MinMaxObserver, PercentileObserver } from './index.js';

/** Exact sample percentile of one tail: the value of rank ceil(p * n) among the sorted values. */
function exactTail(values: number[], p: number): number {
  const s = Float64Array.from(values).sort();
  return s[Math.max(Math.ceil(p * s.length), 1) - 1]!;
}

describe('MinMaxObserver', () => {
  it('tracks the extremes over batches (counts: 0 means absent)', () => {
    const o = new MinMaxObserver();
    o.observe(Float32Array.of(0.5, -1, 2));
    o.observe([3, -0.25]);
    o.observe([100, -100], [0, 0]);
    expect(o.range()).toEqual({ min: -1, max: 3 });
    expect(o.count).toBe(5);
    expect(o.params()).toEqual(chooseQuantParams(-1, 3));
  });

  it('errors: empty, non-finite values, bad counts', () => {
    expect(() => new MinMaxObserver().range()).toThrow(DataError);
    expect(() => new MinMaxObserver().observe([1, Number.NaN])).toThrow(/MinMaxObserver.observe: values\[1\]: expected a finite number, got NaN/);
    expect(() => new MinMaxObserver().observe([1], [1, 2])).toThrow(/counts.length/);
    expect(() => new MinMaxObserver().observe([1], [-1])).toThrow(ConfigError);
  });
});

describe('PercentileObserver', () => {
  it('ignores rare outliers that stretch minmax', () => {
    const rng = new Rng(3);
    const p = new PercentileObserver();
    const m = createObserver('minmax');
    for (let b = 0; b < 10; b++) {
      const batch = Float32Array.from({ length: 10000 }, () => rng.uniform(-1, 2));
      if (b === 4) batch.set([1000, -500, 800], 0);
      p.observe(batch);
      m.observe(batch);
    }
    expect(m.range()).toEqual({ min: -500, max: 1000 });
    const r = p.range();
    expect(r.min).toBeGreaterThan(-1.01);
    expect(r.min).toBeLessThan(-0.98);
    expect(r.max).toBeGreaterThan(1.98);
    expect(r.max).toBeLessThan(2.01);
    expect(p.params().scale).toBeLessThan(m.params().scale / 100);
  });

  it('each tail is within 1/128 (relative) of the exact sample percentile', () => {
    const sample = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400 });
    fc.assert(
      fc.property(sample, sample, fc.constantFrom(50, 90, 99, 99.99, 100), (a, b, pct) => {
        const o = new PercentileObserver({ percentile: pct });
        o.observe(a);
        o.observe(b);
        const all = [...a, ...b];
        const pos = all.filter((v) => v > 0);
        const neg = all.filter((v) => v < 0).map((v) => -v);
        const { min, max } = o.range();
        const close = (got: number, want: number) => Math.abs(got - want) <= want / 128 + 2 ** -40; // below 2^-40: one bin
        const okMax = pos.length ? close(max, exactTail(pos, pct / 100)) : max === Math.max(...all);
        const okMin = neg.length ? close(-min, exactTail(neg, pct / 100)) : min === Math.min(...all);
        return okMax && okMin;
      }),
      { numRuns: 500 },
    );
  });

  it('percentile 100 equals minmax; counts weight the values', () => {
    const o = new PercentileObserver({ percentile: 100 });
    o.observe([-3, 0.001, 7, 5e-20, 1e20]);
    expect(o.range()).toEqual({ min: -3, max: 1e20 });
    const w = new PercentileObserver({ percentile: 50 });
    w.observe([1, 2, 4], [1, 10, 1]);
    const { max } = w.range();
    expect(Math.abs(max - 2)).toBeLessThanOrEqual(2 / 128);
    expect(w.count).toBe(12);
  });

  it('all-positive data: min falls back to the smallest value (chooseQuantParams widens to 0)', () => {
    const o = new PercentileObserver();
    o.observe([0.5, 1, 2]);
    expect(o.range().min).toBe(0.5);
    expect(o.params().zeroPoint).toBe(-128);
  });
});

describe('createObserver', () => {
  it('selects by name and rejects unknown names', () => {
    expect(createObserver('minmax')).toBeInstanceOf(MinMaxObserver);
    expect(createObserver('percentile', { percentile: 99 })).toBeInstanceOf(PercentileObserver);
    expect(() => createObserver('kl' as 'minmax')).toThrow(ConfigError);
    expect(() => createObserver('kl' as 'minmax')).toThrow(/createObserver: method: expected one of 'minmax', 'percentile', got "kl"/);
    expect(() => new PercentileObserver({ percentile: 0 })).toThrow(/percentile: expected a number in \(0, 100\]/);
    expect(() => new PercentileObserver({ binsPerOctave: 0 })).toThrow(/binsPerOctave/);
  });
});
