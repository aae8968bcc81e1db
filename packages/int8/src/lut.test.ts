import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyLut, buildLut } from './lut.js';

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
