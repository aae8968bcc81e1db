import { Rng } from '@tinyblocks/core/base';
import { describe, expect, it } from 'vitest';
import { buildLut, chooseLutOutputParams, codeHistogram, quantizeArray } from './index.js';

/** PolyReLU with the default weights (blocks.md): r = relu(x); (r^3 + r^2 + r) / 3. */
const polyrelu = (x: number) => {
  const r = Math.max(x, 0);
  return (r * r * r + r * r + r) / 3;
};

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
