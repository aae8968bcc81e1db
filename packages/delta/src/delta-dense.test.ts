import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@tinyblocks/core';
import { randomArray, tensorFrom, useBackend } from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { DeltaDense, deltaQuantize, runDeltaDense, temporalSparsity } from './index.js';

/** Plain dense layer, float64: y = bias + W^T x with W [in, out] row-major. */
function dense(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const out = bias.length;
  return Float64Array.from(bias, (b, j) => {
    let s = b;
    for (let i = 0; i < x.length; i++) s += w[i * out + j]! * x[i]!;
    return s;
  });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** A slowly drifting signal: consecutive frames are close, as in video. */
function frames(T: number, n: number, seed: number): Float32Array[] {
  const base = randomArray(n, seed, -1, 1);
  const drift = randomArray(T * n, seed + 1, -0.05, 0.05);
  let cur = Float64Array.from(base);
  return Array.from({ length: T }, (_, t) => {
    cur = cur.map((v, i) => v + drift[t * n + i]!);
    return Float32Array.from(cur);
  });
}

describe('DeltaDense (float delta-network reference)', () => {
  const IN = 6;
  const OUT = 3;
  const W = randomArray(IN * OUT, 11, -1, 1);
  const B = randomArray(OUT, 12, -0.5, 0.5);
  const X = frames(20, IN, 13);
  const wAbs = Array.from({ length: IN }, (_, i) => W.slice(i * OUT, (i + 1) * OUT).reduce((a, v) => a + Math.abs(v), 0));

  it('outputs approach the dense outputs as thr -> 0 and stay within sum_i thr*|W_i|', () => {
    let prevErr = Infinity;
    for (const thr of [0.2, 0.05, 0.01, 0.001]) {
      const run = runDeltaDense(X, W, B, thr);
      const err = Math.max(...run.outputs.map((y, t) => maxAbsDiff(y, dense(X[t]!, W, B))));
      expect(err).toBeLessThanOrEqual(thr * Math.max(...wAbs) * IN + 1e-12);
      expect(err).toBeLessThanOrEqual(prevErr);
      prevErr = err;
    }
    const exact = runDeltaDense(X, W, B, 0);
    exact.outputs.forEach((y, t) => expect(maxAbsDiff(y, dense(X[t]!, W, B))).toBeLessThan(1e-9));
    expect(exact.macs).toBe(exact.denseMacs); // every input changes every frame here
  });

  it('counts executed and skipped MACs exactly', () => {
    // in 3, out 2, thr 0.1; xhat starts at 0
    const w = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const xs = [
      [1, 0, 0], // d = [1, 0, 0]: 1 sent
      [1, 0.05, 0], // d = [0, 0.05, 0]: 0.05 < thr, 0 sent
      [1, 0.05, 2], // d = [0, 0.05, 2]: 1 sent
      [0, 0.15, 2], // d = [-1, 0.15, 0]: 2 sent (xhat_1 was still 0)
    ];
    const run = runDeltaDense(xs, w, [0.5, -0.5], 0.1);
    expect(run.macs).toBe(4 * 2);
    expect(run.denseMacs).toBe(4 * 3 * 2);
    expect(run.zeroDeltas).toBe(8);
    expect(run.zeroFraction).toBeCloseTo(8 / 12, 12);
    // acc = bias + W^T xhat; xhat after each step: [1,0,0], [1,0,0], [1,0,2], [0,0.15,2]
    const xhat = [[1, 0, 0], [1, 0, 0], [1, 0, 2], [0, 0.15, 2]];
    run.outputs.forEach((y, t) => expect(maxAbsDiff(y, dense(xhat[t]!, w.flat(), [0.5, -0.5]))).toBeLessThan(1e-12));
  });

  it('on the output of a Delta layer: exact dense result and zero deltas = temporal sparsity', async () => {
    await useBackend('cpu');
    const thr = 0.1;
    // q: quantized frames [T, IN] (timeAxis 0); every change of q is a multiple of thr
    const q = tf.tidy(() => deltaQuantize(tensorFrom(X.flatMap((f) => Array.from(f)), [20, IN]), thr));
    const run = runDeltaDense(q as tf.Tensor2D, W, B, thr * 0.999);
    const qRows = Array.from({ length: 20 }, (_, t) => q.dataSync().slice(t * IN, (t + 1) * IN));
    run.outputs.forEach((y, t) => expect(maxAbsDiff(y, dense(qRows[t]!, W, B))).toBeLessThan(1e-5));
    const zerosAtStart = qRows[0]!.filter((v) => v === 0).length; // the first frame is a delta from 0
    expect(run.zeroDeltas).toBe(zerosAtStart + Math.round(temporalSparsity(q, 0) * 19 * IN));
    expect(run.macs).toBe((20 * IN - run.zeroDeltas) * OUT);
    q.dispose();
  });

  it('streams step by step and resets', () => {
    const layer = new DeltaDense(W, B, 0.05);
    const a = X.map((x) => layer.step(x));
    const stats = layer.getStats();
    layer.reset();
    expect(layer.getStats().steps).toBe(0);
    const b = X.map((x) => layer.step(x));
    expect(b).toEqual(a);
    expect(layer.getStats()).toEqual(stats);
  });

  it('rejects a bad threshold with a typed error', () => {
    expect(() => new DeltaDense(W, B, -0.1)).toThrow(ConfigError);
    expect(() => new DeltaDense(W, B, [0.1, 0.2])).toThrow('DeltaDense: thr: expected a number >= 0 or 6 of them, got [0.1, 0.2]');
  });
});
