import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chooseQuantParams,
  dequantizeArray,
  dequantizeValue,
  quantizeArray,
  quantizeBias,
  quantizeValue,
  quantizeWeightsPerChannel,
} from './index.js';

const RUNS = { numRuns: 2000 };
const real = fc.double({ min: -1e4, max: 1e4, noNaN: true, noDefaultInfinity: true });

describe('chooseQuantParams', () => {
  it("reproduces TFLite's ChooseQuantizationParams test values (uint8 range)", () => {
    const u8 = { qmin: 0, qmax: 255 };
    const a = chooseQuantParams(-10, 30, u8);
    expect(a.zeroPoint).toBe(64);
    expect(a.scale).toBeCloseTo(0.156863, 5);
    expect(chooseQuantParams(0, 30, u8)).toEqual({ scale: 30 / 255, zeroPoint: 0 });
    const c = chooseQuantParams(-10, 0, u8);
    expect(c.zeroPoint).toBe(255);
    expect(c.scale).toBeCloseTo(0.039216, 5);
  });

  it('int8 defaults: ReLU6 output and a symmetric range', () => {
    expect(chooseQuantParams(0, 6)).toEqual({ scale: 6 / 255, zeroPoint: -128 });
    expect(chooseQuantParams(-6, 0)).toEqual({ scale: 6 / 255, zeroPoint: 127 });
    expect(chooseQuantParams(-1, 1)).toEqual({ scale: 2 / 255, zeroPoint: -1 }); // zp -0.5 rounds away from 0
  });

  it('widens the range to include 0; min = max = 0 gives scale 1', () => {
    expect(chooseQuantParams(2, 6)).toEqual(chooseQuantParams(0, 6));
    expect(chooseQuantParams(-6, -2)).toEqual(chooseQuantParams(-6, 0));
    expect(chooseQuantParams(0, 0)).toEqual({ scale: 1, zeroPoint: 0 });
    expect(chooseQuantParams(0, Number.MIN_VALUE)).toEqual({ scale: 1, zeroPoint: 0 }); // scale underflows
  });

  it('0 is exactly representable and the grid covers [min, max] to half a step', () => {
    fc.assert(
      fc.property(real, real, fc.double({ min: 0, max: 1, noNaN: true }), (a, b, t) => {
        const [min, max] = a <= b ? [a, b] : [b, a];
        const p = chooseQuantParams(min, max);
        const rmin = Math.min(min, 0);
        const rmax = Math.max(max, 0);
        if (!Number.isInteger(p.zeroPoint) || p.zeroPoint < -128 || p.zeroPoint > 127 || !(p.scale > 0)) return false;
        if (quantizeValue(0, p) !== p.zeroPoint || dequantizeValue(p.zeroPoint, p) !== 0) return false;
        // every x in [rmin, rmax] (ends included) round-trips within half a step
        const x = rmin + t * (rmax - rmin);
        const tol = (p.scale / 2) * (1 + 1e-9);
        return [rmin, rmax, x].every((v) => Math.abs(dequantizeValue(quantizeValue(v, p), p) - v) <= tol);
      }),
      RUNS,
    );
  });

  it('rejects bad input', () => {
    expect(() => chooseQuantParams(1, -1)).toThrow(/chooseQuantParams: min: expected a number <= max \(-1\), got 1/);
    expect(() => chooseQuantParams(Number.NaN, 1)).toThrow(ConfigError);
    expect(() => chooseQuantParams(-1, Infinity)).toThrow(ConfigError);
    expect(() => chooseQuantParams(-1e308, 1e308)).toThrow(/max - min: expected a finite width/);
    expect(() => chooseQuantParams(-1, 1, { qmin: 1, qmax: 10 })).toThrow(/qmin\/qmax/);
  });
});

describe('quantizeValue / dequantizeValue', () => {
  it('rounds half away from zero and clamps', () => {
    const p = { scale: 0.5, zeroPoint: 3 };
    expect([0.25, -0.25, 0.75, -0.75, 100, -100].map((x) => quantizeValue(x, p))).toEqual([4, 2, 5, 1, 127, -128]);
    expect(dequantizeValue(5, p)).toBe(1);
    const q = quantizeArray([0.25, 100], p);
    expect(q).toEqual(Int8Array.of(4, 127));
    expect(dequantizeArray(q, p)).toEqual(Float32Array.of(0.5, 62));
  });
});

describe('quantizeWeightsPerChannel', () => {
  it('symmetric int8 in [-127, 127] per output channel (axis -1), error <= half a step', () => {
    const shape = [3, 3, 2, 5];
    const n = 90;
    fc.assert(
      fc.property(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: n, maxLength: n }), (w) => {
        const r = quantizeWeightsPerChannel(Float32Array.from(w), shape, -1);
        const wf = Float32Array.from(w);
        for (let c = 0; c < 5; c++) {
          let maxAbs = 0;
          let maxQ = 0;
          for (let i = c; i < n; i += 5) {
            maxAbs = Math.max(maxAbs, Math.abs(wf[i]!));
            maxQ = Math.max(maxQ, Math.abs(r.values[i]!));
            if (Math.abs(r.values[i]! * r.scales[c]! - wf[i]!) > (r.scales[c]! / 2) * (1 + 1e-9)) return false;
          }
          if (maxAbs > 0 && (r.scales[c] !== maxAbs / 127 || maxQ !== 127)) return false;
        }
        return r.channelAxis === 3 && r.values.every((q) => q >= -127 && q <= 127);
      }),
      { numRuns: 300 },
    );
  });

  it('channel axis 0 and 1 on a [2, 3] matrix; an all-zero channel gets scale 1, never NaN', () => {
    const w = Float32Array.of(1, -2, 0, 0.5, 4, 0);
    const rows = quantizeWeightsPerChannel(w, [2, 3], 0);
    expect(Array.from(rows.scales)).toEqual([2 / 127, 4 / 127]);
    expect(Array.from(rows.values)).toEqual([64, -127, 0, 16, 127, 0]);
    const cols = quantizeWeightsPerChannel(w, [2, 3], 1);
    expect(Array.from(cols.scales)).toEqual([1 / 127, 4 / 127, 1]);
    expect(Array.from(cols.values)).toEqual([127, -64, 0, 64, 127, 0]);
  });

  it('rejects a shape that does not match, a bad axis, non-finite weights', () => {
    const w = new Float32Array(6);
    expect(() => quantizeWeightsPerChannel(w, [2, 2], 0)).toThrow(/shape: expected positive integers with product 6, got \[2, 2\]/);
    expect(() => quantizeWeightsPerChannel(w, [2, 3], 2)).toThrow(/channelAxis: expected an integer in \[-2, 1\], got 2/);
    expect(() => quantizeWeightsPerChannel(Float32Array.of(1, Number.NaN), [2], 0)).toThrow(/weights\[1\]/);
  });
});

describe('quantizeBias', () => {
  it('int32 with scale inScale * wScale[c], saturated', () => {
    const b = quantizeBias([0.5, -0.25, 1], 0.5, [0.1, 0.25, 2]);
    expect(Array.from(b)).toEqual([10, -2, 1]); // 0.5/0.05, -0.25/0.125 = -2, 1/1
    expect(Array.from(quantizeBias([0.375, -0.375], 0.25, 1))).toEqual([2, -2]); // 1.5 -> 2, half away
    expect(Array.from(quantizeBias([1e10, -1e10], 1e-3, 1e-3))).toEqual([2147483647, -2147483647]);
  });

  it('rejects mismatched lengths and bad scales', () => {
    expect(() => quantizeBias([1, 2], 1, [1])).toThrow(/wScales.length: expected 2/);
    expect(() => quantizeBias([1], 0, [1])).toThrow(/inScale/);
    expect(() => quantizeBias([1], 1, [0])).toThrow(/wScales\[0\]/);
  });
});
