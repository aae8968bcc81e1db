import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { channelRequant, requantizeWith } from './fixed-point.js';
import {
  INT32_MAX,
  INT32_MIN,
  multiplierToReal,
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  requantize,
  roundHalfAway,
  roundingDivideByPOT,
  saturateInt8,
  saturatingRoundingDoublingHighMul,
} from './index.js';
import { EDGES, int32, refMbqm, refRdpot, refSingleRounding, refSrdhm, shiftArb } from './test-reference.js';

const RUNS = { numRuns: 5000 };

describe('saturatingRoundingDoublingHighMul', () => {
  it('equals the BigInt reference on int32 x int32', () => {
    fc.assert(fc.property(int32, int32, (a, b) => saturatingRoundingDoublingHighMul(a, b) === refSrdhm(a, b)), RUNS);
  });

  it('edge cases', () => {
    for (const a of EDGES) for (const b of EDGES) expect(saturatingRoundingDoublingHighMul(a, b)).toBe(refSrdhm(a, b));
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN)).toBe(INT32_MAX);
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MAX)).toBe(-INT32_MAX);
    expect(saturatingRoundingDoublingHighMul(2 ** 30, 2 ** 30)).toBe(2 ** 29);
    expect(saturatingRoundingDoublingHighMul(1, 2 ** 30)).toBe(1); // 0.5 rounds up
    // ties of a negative product go toward zero (the 1 - 2^30 nudge): -0.5 -> 0, -1.5 -> -1
    expect(saturatingRoundingDoublingHighMul(-1, 2 ** 30)).toBe(0);
    expect(saturatingRoundingDoublingHighMul(-3, 2 ** 30)).toBe(-1);
    expect(saturatingRoundingDoublingHighMul(-3, 3 * 2 ** 28)).toBe(-1); // -1.125 -> -1
    expect(Object.is(saturatingRoundingDoublingHighMul(-1, 1), 0)).toBe(true); // never -0
  });
});

describe('roundingDivideByPOT', () => {
  it('equals the BigInt reference for exponents 0..31', () => {
    fc.assert(fc.property(int32, fc.integer({ min: 0, max: 31 }), (x, e) => roundingDivideByPOT(x, e) === refRdpot(x, e)), RUNS);
  });

  it('rounds half away from zero', () => {
    expect([5, -5, 6, -6, 7, -7].map((x) => roundingDivideByPOT(x, 1))).toEqual([3, -3, 3, -3, 4, -4]);
    expect(roundingDivideByPOT(INT32_MIN, 31)).toBe(-1);
    expect(roundingDivideByPOT(INT32_MAX, 31)).toBe(1);
    expect(roundingDivideByPOT(-(2 ** 30), 31)).toBe(-1);
    expect(roundingDivideByPOT(2 ** 30 - 1, 31)).toBe(0);
  });

  it('rejects exponents outside [0, 31]', () => {
    expect(() => roundingDivideByPOT(1, 32)).toThrow(ConfigError);
    expect(() => roundingDivideByPOT(1, -1)).toThrow(/exponent: expected an integer in \[0, 31\], got -1/);
  });
});

describe('multiplyByQuantizedMultiplier', () => {
  it('equals the BigInt reference for shifts -31..30', () => {
    fc.assert(
      fc.property(int32, int32, shiftArb, (x, m, s) => multiplyByQuantizedMultiplier(x, m, s) === refMbqm(x, m, s)),
      RUNS,
    );
  });

  it("reproduces TFLite's MultiplyByQuantizedMultiplierInt32 test values", () => {
    const qm = (x: number, real: number) => {
      const { multiplier, shift } = quantizeMultiplier(real);
      return multiplyByQuantizedMultiplier(x, multiplier, shift);
    };
    expect(qm(0, 0.1)).toBe(0);
    expect(qm(1, 0)).toBe(0);
    expect(qm(10000, 0.00097656)).toBe(10);
    expect(qm(-10000, 0.00097656)).toBe(-10);
    expect(qm(INT32_MIN, 0.00001)).toBe(-21475);
    expect(qm(INT32_MAX, 0.00001)).toBe(21475);
    const expected = roundHalfAway((INT32_MAX * INT32_MAX) / 2 ** 34);
    expect(multiplyByQuantizedMultiplier(INT32_MAX, INT32_MAX, -3)).toBe(expected);
    expect(multiplyByQuantizedMultiplier(-INT32_MAX, INT32_MAX, -3)).toBe(-expected);
  });

  it('is within 1 of x * real (no overflow range)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), fc.double({ min: 1e-6, max: 64, noNaN: true }), (x, real) => {
        const q = quantizeMultiplier(real);
        return Math.abs(multiplyByQuantizedMultiplier(x, q.multiplier, q.shift) - x * real) <= 1 + Math.abs(x * real) * 2 ** -30;
      }),
      RUNS,
    );
  });

  it('pins the default double rounding, not the single-rounding variant', () => {
    // the variants differ on a few percent of typical requantisation inputs
    let differ = 0;
    const samples = fc.sample(
      fc.tuple(fc.integer({ min: -(2 ** 16), max: 2 ** 16 }), fc.integer({ min: 2 ** 30, max: INT32_MAX }), fc.integer({ min: -12, max: 0 })),
      { numRuns: 20000, seed: 7 },
    );
    let witness: [number, number, number] | undefined;
    for (const [x, m, s] of samples) {
      const ours = multiplyByQuantizedMultiplier(x, m, s);
      expect(ours).toBe(refMbqm(x, m, s));
      if (ours !== refSingleRounding(x, m, s)) {
        differ++;
        witness ??= [x, m, s];
      }
    }
    expect(differ / samples.length).toBeGreaterThan(0.005);
    expect(differ / samples.length).toBeLessThan(0.1);
    expect(witness).toBeDefined();
    expect(multiplyByQuantizedMultiplier(...witness!)).not.toBe(refSingleRounding(...witness!));
  });

  it('rejects shifts outside [-31, 30]', () => {
    expect(() => multiplyByQuantizedMultiplier(1, 2 ** 30, 31)).toThrow(ConfigError);
    expect(() => multiplyByQuantizedMultiplier(1, 2 ** 30, -32)).toThrow(/shift: expected an integer in \[-31, 30\]/);
  });
});

describe('quantizeMultiplier', () => {
  it("reproduces TFLite's QuantizeMultiplier test values", () => {
    const q = (r: number) => {
      const { multiplier, shift } = quantizeMultiplier(r);
      return [multiplier, shift];
    };
    expect(q(0)).toEqual([0, 0]);
    expect(q(0.125)).toEqual([1073741824, -2]);
    expect(q(0.25)).toEqual([1073741824, -1]);
    expect(q(0.5)).toEqual([1073741824, 0]);
    expect(q(1)).toEqual([1073741824, 1]);
    expect(q(4)).toEqual([1073741824, 3]);
    expect(q(0.75)).toEqual([1610612736, 0]);
    expect(q(1 - 1e-9)).toEqual([2147483646, 0]);
    expect(q(0.5 - 5e-9)).toEqual([2147483627, -1]);
    expect(q(0.5 - 1e-10)).toEqual([1073741824, 0]); // rounds to 2^31: halved, shift + 1
    expect(q(1 + 1e-11)).toEqual([1073741824, 1]);
    expect(q(1.25)).toEqual([1342177280, 1]);
    expect(q(1.75)).toEqual([1879048192, 1]);
    expect(q(2 - 1e-9)).toEqual([2147483647, 1]);
    expect(q(2 - 1e-11)).toEqual([1073741824, 2]);
    // underflow: shift < -31 flushes to zero
    expect(q(2 ** -31)).toEqual([1073741824, -30]);
    expect(q(2 ** -32)).toEqual([1073741824, -31]);
    expect(q(Math.fround(0.99) * 2 ** -32)).toEqual([0, 0]);
    expect(q(2 ** -33)).toEqual([0, 0]);
    expect(q(Number.MIN_VALUE)).toEqual([0, 0]);
  });

  it('reconstructs the real multiplier within 2^-31 relative', () => {
    fc.assert(
      fc.property(fc.double({ min: 2 ** -31, max: 2 ** 29, noNaN: true }), (real) => {
        const q = quantizeMultiplier(real);
        const ok = q.multiplier >= 2 ** 30 && q.multiplier <= INT32_MAX && q.shift >= -31 && q.shift <= 30;
        return ok && Math.abs(multiplierToReal(q) - real) / real <= 2 ** -31;
      }),
      RUNS,
    );
  });

  it('rejects negative, non-finite and too large multipliers', () => {
    expect(() => quantizeMultiplier(-0.1)).toThrow(ConfigError);
    expect(() => quantizeMultiplier(Number.NaN)).toThrow(/quantizeMultiplier: real: expected a finite number >= 0, got NaN/);
    expect(() => quantizeMultiplier(Infinity)).toThrow(ConfigError);
    expect(() => quantizeMultiplier(2 ** 30)).toThrow(/shift <= 30/);
    expect(quantizeMultiplier(2 ** 30 - 1).shift).toBe(30);
  });
});

describe('requantize and saturation', () => {
  it('clamps to int8 after adding the zero point', () => {
    fc.assert(
      fc.property(int32, int32, shiftArb, fc.integer({ min: -128, max: 127 }), (acc, m, s, zp) => {
        return requantize(acc, m, s, zp) === Math.min(127, Math.max(-128, refMbqm(acc, m, s) + zp));
      }),
      RUNS,
    );
    expect(requantize(1000, 2 ** 30, 0, 10, 0, 50)).toBe(50); // fused relu-like range
    expect([-1000, -129, -128, 0, 127, 128, 1000].map(saturateInt8)).toEqual([-128, -128, -128, 0, 127, 127, 127]);
  });

  it('roundHalfAway is C lround', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, -0.3].map(roundHalfAway)).toEqual([1, 2, 3, -1, -2, -3, 0, 0]);
    expect(Object.is(roundHalfAway(-0.3), 0)).toBe(true);
  });
});

describe("requantizeWith (the kernels' per-channel fast path) equals requantize and the BigInt reference", () => {
  const mult = fc.oneof(fc.constantFrom(0, 1, 2 ** 16 - 1, 2 ** 16, 2 ** 30, 2 ** 31 - 1), fc.integer({ min: 0, max: 2 ** 31 - 1 }));
  const want = (acc: number, m: number, s: number, zp: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, refMbqm(acc, m, s) + zp));
  it('on every int32 edge x multiplier edge x shift', () => {
    for (const m of [0, 1, 65535, 65536, 2 ** 30, 1518500250, 2 ** 31 - 1]) {
      const shifts = Int32Array.from({ length: 62 }, (_, i) => i - 31);
      const rq = channelRequant(new Int32Array(62).fill(m), shifts);
      for (const acc of EDGES) {
        for (let c = 0; c < 62; c++) {
          const got = requantizeWith(acc, rq, c, 3, -128, 127);
          expect(got, `acc ${acc} m ${m} shift ${shifts[c]}`).toBe(requantize(acc, m, shifts[c]!, 3, -128, 127));
          expect(got, `acc ${acc} m ${m} shift ${shifts[c]}`).toBe(want(acc, m, shifts[c]!, 3, -128, 127));
        }
      }
    }
  });
  it('on random int32 accumulators, multipliers, shifts, zero points and clamps', () => {
    fc.assert(
      fc.property(int32, mult, shiftArb, fc.integer({ min: -128, max: 127 }), fc.integer({ min: -128, max: 0 }), fc.integer({ min: 0, max: 127 }), (acc, m, s, zp, lo, hi) => {
        const rq = channelRequant(Int32Array.of(7, m), Int32Array.of(0, s));
        const got = requantizeWith(acc, rq, 1, zp, lo, hi);
        return got === requantize(acc, m, s, zp, lo, hi) && got === want(acc, m, s, zp, lo, hi);
      }),
      { seed: 8, numRuns: 200_000 },
    );
  });
  it('channelRequant rejects a negative multiplier and a shift outside [-31, 30]', () => {
    expect(() => channelRequant(Int32Array.of(-1), Int32Array.of(0))).toThrow(/multipliers\[0\]/);
    expect(() => channelRequant(Int32Array.of(1, 1), Int32Array.of(0, 31))).toThrow(/shifts\[1\]/);
  });
});
