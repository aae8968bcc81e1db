import { ConfigError, Rng } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyLut, buildLut, chooseLutOutputParams, codeHistogram, quantizeArray } from './index.js';

/** PolyReLU with the default weights (blocks.md): r = relu(x); (r^3 + r^2 + r) / 3. */
const polyrelu = (x: number) => {
  const r = Math.max(x, 0);
  return (r * r * r + r * r + r) / 3;
};
const crrelu = (x: number) => Math.max(x, 0) + 0.01 * x * Math.exp(-(x * x) / 2);

/** Direct computation, written independently: C's lround and a saturating int8 cast. */
function direct(f: (x: number) => number, q: number, inS: number, inZp: number, outS: number, outZp: number): number {
  const v = f(inS * (q - inZp)) / outS;
  const r = Math.sign(v) * Math.floor(Math.abs(v) + 0.5);
  return Math.min(127, Math.max(-128, r + outZp));
}

const scale = fc.double({ min: 1e-3, max: 1, noNaN: true });
const zp = fc.integer({ min: -128, max: 127 });

describe('buildLut', () => {
  it('table[q + 128] equals the direct computation for every q', () => {
    const fns = [polyrelu, crrelu, Math.tanh, (x: number) => 1 / (1 + Math.exp(-x))];
    fc.assert(
      fc.property(fc.constantFrom(...fns), scale, zp, scale, zp, (f, inS, inZp, outS, outZp) => {
        const t = buildLut(f, inS, inZp, outS, outZp);
        for (let q = -128; q <= 127; q++) if (t[q + 128] !== direct(f, q, inS, inZp, outS, outZp)) return false;
        return t.length === 256;
      }),
      { numRuns: 300 },
    );
  });

  it('indexing and rounding: identity at half scale rounds half away from zero', () => {
    const t = buildLut((x) => x, 1, 0, 2, 0);
    expect([-3, -1, 0, 1, 3, 127, -128].map((q) => t[q + 128])).toEqual([-2, -1, 0, 1, 2, 64, -64]);
    const shifted = buildLut((x) => x, 1, 10, 1, -5); // x = q - 10, out = x - 5
    expect(shifted[128]).toBe(-15);
    expect(shifted[0]).toBe(-128); // saturates
  });

  it('applyLut is one load per value', () => {
    const t = buildLut(Math.tanh, 4 / 255, 0, 1 / 127, 0);
    const input = Int8Array.of(-128, -1, 0, 1, 127);
    expect(Array.from(applyLut(t, input))).toEqual(Array.from(input, (q) => t[q + 128]));
  });

  it('rejects bad parameters and NaN outputs', () => {
    expect(() => buildLut(Math.tanh, 0, 0, 1, 0)).toThrow(/inScale: expected a finite number > 0/);
    expect(() => buildLut(Math.tanh, 1, 0, 1, 200)).toThrow(/outZp: expected an integer in \[-128, 127\]/);
    expect(() => buildLut(Math.sqrt, 1, 0, 1, 0)).toThrow(ConfigError); // sqrt of negatives
  });
});

describe('chooseLutOutputParams', () => {
  it('without calibration: the range of f over the whole input grid', () => {
    const inS = 8 / 255;
    const inZp = -128; // inputs in [0, 8]
    const p = chooseLutOutputParams(polyrelu, inS, inZp);
    const top = polyrelu(inS * (127 - inZp));
    expect(p.zeroPoint).toBe(-128);
    expect(p.scale).toBeCloseTo(top / 255, 12);
  });

  it("PolyReLU's wide range: calibrated percentile params give small inputs far finer steps", () => {
    const rng = new Rng(5);
    const inS = 8 / 255;
    const inZp = -128;
    // calibration inputs: mostly small, a rare tail up to 8
    const xs = Float32Array.from({ length: 20000 }, (_, i) => (i % 2000 === 0 ? rng.uniform(6, 8) : Math.abs(rng.normal()) * 0.7));
    const counts = codeHistogram(quantizeArray(xs, { scale: inS, zeroPoint: inZp }));
    const wide = chooseLutOutputParams(polyrelu, inS, inZp);
    const calibrated = chooseLutOutputParams(polyrelu, inS, inZp, { inputCounts: counts, method: 'percentile', percentile: 99.9 });
    expect(calibrated.scale).toBeLessThan(wide.scale / 5);
    // the mean int8 error over the calibration data drops, although the rare tail saturates
    const err = (p: { scale: number; zeroPoint: number }) => {
      const t = buildLut(polyrelu, inS, inZp, p.scale, p.zeroPoint);
      const q = quantizeArray(xs, { scale: inS, zeroPoint: inZp });
      let s = 0;
      for (let i = 0; i < xs.length; i++) s += Math.abs(p.scale * (t[q[i]! + 128]! - p.zeroPoint) - polyrelu(inS * (q[i]! - inZp)));
      return s / xs.length;
    };
    expect(err(calibrated)).toBeLessThan(err(wide) / 2);
  });

  it('rejects bad input counts and non-finite outputs', () => {
    expect(() => chooseLutOutputParams(Math.tanh, 1, 0, { inputCounts: [1, 2] })).toThrow(/inputCounts.length: expected 256, got 2/);
    expect(() => chooseLutOutputParams((x) => 1 / x, 1, 0)).toThrow(/finite values/);
    expect(() => chooseLutOutputParams(Math.tanh, 1, 0, { method: 'kl' as 'minmax' })).toThrow(/method/);
  });
});
