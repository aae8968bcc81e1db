import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError } from '@tinyblocks/core';
import { BACKENDS, predictBoth, randomArray, roundTrip, tensorFrom, useBackend } from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { FakeQuant, fakeQuant, fakeQuantGrid, fakeQuantLayer, fakeQuantPerChannel, roundHalfAwayTensor } from './fake-quant.js';
import { chooseQuantParams, dequantizeValue, quantizeValue, quantizeWeightsPerChannel } from '@tinyblocks/int8';

/** dequantize(quantize(x)) with the JS (float64) reference functions. */
function reference(x: ArrayLike<number>, min: number, max: number, qmin = -128, qmax = 127): Float64Array {
  const p = chooseQuantParams(min, max, { qmin, qmax });
  return Float64Array.from(x, (v) => dequantizeValue(quantizeValue(v, p, { qmin, qmax }), p));
}

/** Max |a - b| relative to max(scale, |b|): float32 rounding, far below one grid step. */
function maxError(a: ArrayLike<number>, b: ArrayLike<number>, scale: number): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(scale, Math.abs(b[i]!)));
  return m;
}

const CASES: Array<{ min: number; max: number; qmin?: number; qmax?: number }> = [
  { min: -1, max: 1 },
  { min: -0.37, max: 2.9 }, // asymmetric: zero point off-centre
  { min: 0.5, max: 6 }, // widened to include 0 (relu-like)
  { min: -3, max: -0.2 }, // all negative: widened to include 0
  { min: -1e-3, max: 4e-3 }, // small scale
  { min: -20, max: 150 },
  { min: -1, max: 1, qmin: -8, qmax: 7 }, // a 4-bit grid
];

describe.each(BACKENDS)('fakeQuant on %s', (backend) => {
  it('forward equals dequantize(quantize(x)) with chooseQuantParams on random inputs', async () => {
    await useBackend(backend);
    CASES.forEach(({ min, max, qmin, qmax }, k) => {
      // inputs cover the range and beyond it on both sides (clamping)
      const width = Math.max(max, 0) - Math.min(min, 0);
      const x = Float32Array.from(randomArray(2000, 10 + k, Math.min(min, 0) - 0.3 * width, Math.max(max, 0) + 0.3 * width));
      const y = tf.tidy(() => fakeQuant(tensorFrom(x, [40, 50]), min, max, { qmin, qmax }).dataSync());
      const p = chooseQuantParams(min, max, { qmin, qmax });
      expect(maxError(y, reference(x, min, max, qmin, qmax), p.scale)).toBeLessThan(1e-6);
      // every output is on the grid
      for (const v of y) expect(Math.abs(v / p.scale + p.zeroPoint - Math.round(v / p.scale + p.zeroPoint))).toBeLessThan(1e-3);
    });
  });

  it('rounds half away from zero and clamps to [qmin, qmax] like quantizeValue', async () => {
    await useBackend(backend);
    // min -128, max 127: scale 1, zero point 0, so x is its own code
    const x = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 126.5, 127.5, -128.5, -300, 0, -0.49, 0.49];
    const y = tf.tidy(() => Array.from(fakeQuant(tf.tensor1d(x), -128, 127).dataSync()));
    expect(y).toEqual([-3, -2, -1, 1, 2, 3, 127, 127, -128, -128, 0, -0, 0].map((v) => v + 0));
    expect(Array.from(reference(x, -128, 127))).toEqual(y);
    const r = tf.tidy(() => Array.from(roundHalfAwayTensor(tf.tensor1d([-3.5, -0.5, 0.5, 2.5, 2.4999, -2.5001])).dataSync()));
    expect(r).toEqual([-4, -1, 1, 3, 2, -3]);
  });

  it('gradient is the straight-through estimator: dy inside the nudged range, 0 outside', async () => {
    await useBackend(backend);
    for (const { min, max, qmin, qmax } of CASES) {
      const g = fakeQuantGrid(min, max, { qmin, qmax });
      const width = g.nudgedMax - g.nudgedMin;
      const x = Float32Array.from(randomArray(500, 3, g.nudgedMin - 0.5 * width, g.nudgedMax + 0.5 * width));
      const r = randomArray(500, 4, -1, 1);
      const dx = tf.tidy(() => {
        const rt = tensorFrom(r, [500]);
        return tf.grad((xt: tf.Tensor) => tf.sum(tf.mul(fakeQuant(xt, min, max, { qmin, qmax }), rt)))(tensorFrom(x, [500])).dataSync();
      });
      const lo = Math.fround(g.nudgedMin);
      const hi = Math.fround(g.nudgedMax);
      const expected = Float32Array.from(x, (v, i) => (v >= lo && v <= hi ? r[i]! : 0));
      expect(Array.from(dx)).toEqual(Array.from(expected));
      expect(expected.some((v) => v === 0) && expected.some((v) => v !== 0)).toBe(true);
    }
    // the ends of the nudged range are inside: scale 1 -> [-128, 127] exactly
    const edge = tf.tidy(() => Array.from(tf.grad((xt: tf.Tensor) => tf.sum(fakeQuant(xt, -128, 127)))(tf.tensor1d([-128, 127, -128.01, 127.01])).dataSync()));
    expect(edge).toEqual([1, 1, 0, 0]);
  });

  it('fakeQuantPerChannel equals what quantizeWeightsPerChannel dequantises to; gradient is the identity', async () => {
    await useBackend(backend);
    const shape = [3, 3, 4, 6];
    const w = Float32Array.from(randomArray(3 * 3 * 4 * 6, 7, -0.8, 0.8));
    // channel 2 of the last axis is all zero: scale 1, codes 0
    for (let i = 2; i < w.length; i += 6) w[i] = 0;
    for (const axis of [-1, 2, 0]) {
      const ref = quantizeWeightsPerChannel(w, shape, axis);
      const a = ref.channelAxis;
      const inner = shape.slice(a + 1).reduce((p, q) => p * q, 1);
      const expected = Float64Array.from(ref.values, (q, i) => q * ref.scales[Math.floor(i / inner) % shape[a]!]!);
      const got = tf.tidy(() => fakeQuantPerChannel(tensorFrom(w, shape), axis).dataSync());
      expect(maxError(got, expected, 1e-3)).toBeLessThan(1e-6);
    }
    const r = randomArray(w.length, 8);
    const dw = tf.tidy(() => {
      const rt = tensorFrom(r, shape);
      return tf.grad((wt: tf.Tensor) => tf.sum(tf.mul(fakeQuantPerChannel(wt), rt)))(tensorFrom(w, shape)).dataSync();
    });
    expect(Array.from(dw)).toEqual(Array.from(Float32Array.from(r)));
  });

  it('FakeQuant layer: fixed range, EMA range on training calls, save -> load keeps the range', async () => {
    await useBackend(backend);
    const x = tensorFrom(randomArray(60, 9, -2, 3), [6, 10]);
    const fixed = fakeQuantLayer({ min: -1, max: 2 });
    const y = tf.tidy(() => (fixed.apply(x) as tf.Tensor).dataSync());
    expect(maxError(y, reference(x.dataSync(), -1, 2), 3 / 255)).toBeLessThan(1e-6);
    expect(fixed.grid()).toMatchObject(chooseQuantParams(-1, 2));

    const ema = new FakeQuant({ momentum: 0.5 });
    expect(ema.range()).toBeNull();
    const passed = tf.tidy(() => (ema.apply(x) as tf.Tensor).dataSync()); // no range yet: identity
    expect(Array.from(passed)).toEqual(Array.from(x.dataSync()));
    const [bmin, bmax] = [tf.min(x).dataSync()[0]!, tf.max(x).dataSync()[0]!];
    tf.tidy(() => {
      ema.apply(x, { training: true });
    });
    expect(ema.range()).toEqual({ min: bmin, max: bmax });
    tf.tidy(() => {
      ema.apply(tf.mul(x, 3), { training: true });
    });
    expect(ema.range()!.min).toBeCloseTo(0.5 * bmin + 0.5 * 3 * bmin, 5);
    expect(ema.range()!.max).toBeCloseTo(0.5 * bmax + 0.5 * 3 * bmax, 5);
    const before = ema.range();
    tf.tidy(() => {
      ema.apply(tf.mul(x, 10)); // inference calls do not move it
    });
    expect(ema.range()).toEqual(before);

    const input = tfl.input({ shape: [10] });
    const dense = tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
    const out = new FakeQuant({ name: 'fq', min: -0.7, max: 1.3, momentum: 0.9 }).apply(dense.apply(input)) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const loaded = await roundTrip(model);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    const fq = loaded.getLayer('fq') as FakeQuant;
    expect(fq).toBeInstanceOf(FakeQuant);
    expect(fq.getClassName()).toBe('FakeQuant');
    expect(fq.range()).toEqual({ min: -0.7, max: 1.3 });
    expect(fq.momentum).toBe(0.9);
    x.dispose();
  });
});

describe('FakeQuant configuration', () => {
  it('registers under the tinyblocks prefix and keeps its config', () => {
    expect(tf.serialization.getRegisteredName(FakeQuant)).toBe('tinyblocks>FakeQuant');
    const layer = new FakeQuant({ name: 'q', min: -1, max: 1, qmin: -8, qmax: 7 });
    expect(layer.getConfig()).toMatchObject({ name: 'q', min: -1, max: 1, qmin: -8, qmax: 7 });
    expect(layer.getConfig()['momentum']).toBeUndefined();
    expect(layer.computeOutputShape([null, 3])).toEqual([null, 3]);
  });

  it('rejects bad ranges with typed errors', () => {
    expect(() => new FakeQuant({ name: 'q' })).toThrow(ConfigError);
    expect(() => new FakeQuant({ name: 'q', min: 1, max: -1 })).toThrow("FakeQuant 'q': min: expected a number <= max (-1), got 1");
    expect(() => new FakeQuant({ name: 'q', min: 0 })).toThrow(ConfigError);
    expect(() => new FakeQuant({ name: 'q', momentum: 1 })).toThrow(ConfigError);
    expect(() => new FakeQuant({ name: 'q', min: -1, max: 1, qmin: 1 })).toThrow(ConfigError);
    expect(() => fakeQuant(tf.scalar(1), Number.NaN, 1)).toThrow(ConfigError);
    expect(() => fakeQuantPerChannel(tf.zeros([2, 2]), 2)).toThrow(ConfigError);
  });
});
