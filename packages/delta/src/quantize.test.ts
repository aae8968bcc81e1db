import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@tinyblocks/core';
import {
  BACKENDS,
  dot,
  finiteDifferences,
  maxRelError,
  projection,
  randomArray,
  tensorFrom,
  useBackend,
} from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { deltaQuantize, deltaSparsityLoss, temporalSparsity } from './index.js';
import { awayFromBoundaries, refLevels, refQuantize, refSparsityLoss, thrIndex } from './test-reference.js';

const SHAPE = [2, 5, 4]; // [batch, time, channels]
const N = 40;
const THR = Float64Array.of(0.1, -0.25, 0.3, 0.17); // per channel; a negative one: |threshold| is used

describe.each(BACKENDS)('deltaQuantize / deltaSparsityLoss on %s', (backend) => {
  it('forward equals round(x/|thr|)*|thr| (with and without relu, per channel and per layer)', async () => {
    await useBackend(backend);
    const x = awayFromBoundaries(randomArray(N, 1, -1, 1), THR);
    for (const relu of [true, false]) {
      for (const thr of [THR, Float64Array.of(0.2)]) {
        const q = tf.tidy(() => deltaQuantize(tensorFrom(x, SHAPE), tensorFrom(thr, [thr.length]), { relu }).dataSync());
        expect(maxRelError(q, refQuantize(x, thr, relu))).toBeLessThan(1e-5);
      }
    }
  });

  it('gradients: x gets the straight-through estimate, threshold gets minus the finite difference (authors)', async () => {
    await useBackend(backend);
    const x = awayFromBoundaries(randomArray(N, 2, -1, 1), THR);
    const r = projection(N, 3);
    for (const relu of [true, false]) {
      const [gx, gt] = tf.tidy(() => {
        const f = (xt: tf.Tensor, tt: tf.Tensor) => tf.sum(tf.mul(deltaQuantize(xt, tt, { relu }), tensorFrom(r, SHAPE)));
        const g = tf.grads(f)([tensorFrom(x, SHAPE), tensorFrom(THR, [4])]);
        return [g[0]!.dataSync(), g[1]!.dataSync()];
      });
      // documented STE: dL/dx = r * step(x) with relu, r without
      const steX = Float64Array.from(x, (v, i) => (relu && v <= 0 ? 0 : r[i]!));
      expect(maxRelError(gx, steX)).toBeLessThan(1e-5);
      // away from rounding boundaries round() is locally constant, so the true derivative wrt
      // threshold is sign(t) * sum r*n; the authors' sign flip makes ours its negative
      const [, fdT] = finiteDifferences((p) => dot(refQuantize(p[0]!, p[1]!, relu), r), [x, THR], 1e-6);
      expect(maxRelError(gt, fdT!.map((v) => -v))).toBeLessThan(1e-4);
      // and the documented closed form -sum r * n * sign(t)
      const n = refLevels(x, THR, relu);
      const formula = Float64Array.from(THR, (t, c) => {
        let s = 0;
        for (let i = 0; i < N; i++) if (thrIndex(i, 4) === c) s -= r[i]! * n[i]!;
        return s * Math.sign(t);
      });
      expect(maxRelError(gt, formula)).toBeLessThan(1e-5);
    }
  });

  it('sparsity loss: value and gradient wrt q equal the float64 reference and its finite differences', async () => {
    await useBackend(backend);
    const q = randomArray(N, 4, -1, 1);
    const cases: Array<{ shape: number[]; axis: 0 | 1; clip?: number }> = [
      { shape: SHAPE, axis: 1 },
      { shape: [10, 2, 2], axis: 0 },
      { shape: [10, 2, 2], axis: 0, clip: 4 }, // clips of 4, 4 and 2 frames
    ];
    for (const { shape, axis, clip } of cases) {
      const opts = { spRate: 0.5, fanOut: 9, timeAxis: axis, ...(clip ? { clipLength: clip } : {}) };
      const [value, g] = tf.tidy(() => {
        const { value: v, grad } = tf.valueAndGrad((qt: tf.Tensor) => deltaSparsityLoss(qt, opts))(tensorFrom(q, shape));
        return [v.dataSync()[0]!, grad.dataSync()];
      });
      const ref = (p: Float64Array[]) => refSparsityLoss(p[0]!, shape, axis, 0.5, 9, clip);
      expect(Math.abs(value - ref([q]))).toBeLessThan(1e-5);
      const [fd] = finiteDifferences(ref, [q]);
      expect(maxRelError(g, fd!)).toBeLessThan(1e-4);
    }
  });

  it('the sparsity penalty pushes every threshold up: d loss / d threshold = -(finite difference) <= 0', async () => {
    await useBackend(backend);
    const thr = Float64Array.of(0.1, 0.25, 0.3, 0.17);
    const x = awayFromBoundaries(randomArray(N, 5, -1, 1), thr);
    const [gx, gt] = tf.tidy(() => {
      const f = (xt: tf.Tensor, tt: tf.Tensor) => deltaSparsityLoss(deltaQuantize(xt, tt), { spRate: 2 });
      const g = tf.grads(f)([tensorFrom(x, SHAPE), tensorFrom(thr, [4])]);
      return [g[0]!.dataSync(), g[1]!.dataSync()];
    });
    const ref = (p: Float64Array[]) => refSparsityLoss(refQuantize(p[0]!, p[1]!, true), SHAPE, 1, 2);
    const [, fdT] = finiteDifferences(ref, [x, thr], 1e-6);
    expect(maxRelError(gt, fdT!.map((v) => -v))).toBeLessThan(1e-4);
    for (const v of gt) expect(v).toBeLessThan(0); // gradient descent raises the thresholds
    // x: the L1 subgradient wrt q, passed straight through round and masked by relu
    const qRef = refQuantize(x, thr, true);
    const [dq] = finiteDifferences((p) => refSparsityLoss(p[0]!, SHAPE, 1, 2), [qRef]);
    expect(maxRelError(gx, dq!.map((v, i) => (x[i]! > 0 ? v : 0)))).toBeLessThan(1e-4);
  });

  it('temporalSparsity counts zero temporal deltas', async () => {
    await useBackend(backend);
    // two sequences of 3 steps, 2 channels: deltas (0,1),(0,0) and (1,0),(0,0) -> 6/8 zero
    const q = tf.tensor3d([[[0, 0], [0, 1], [0, 1]], [[1, 2], [2, 2], [2, 2]]]);
    expect(temporalSparsity(q)).toBeCloseTo(6 / 8, 10);
    // batch as time, clips of 2 frames: only pairs (0,1), (2,3)... are deltas
    const frames = tf.tensor2d([[0, 0], [0, 1], [5, 5], [5, 5]]);
    expect(temporalSparsity(frames, 0, 2)).toBeCloseTo(3 / 4, 10);
    expect(temporalSparsity(frames, 0)).toBeCloseTo(3 / 6, 10);
    tf.dispose([q, frames]);
  });
});

describe('delta ops: typed errors', () => {
  it('names the op, field, expected and got', async () => {
    await useBackend('cpu');
    const x = tf.zeros([2, 3, 4]);
    expect(() => deltaQuantize(x, tf.ones([3]))).toThrow(ShapeError);
    expect(() => deltaQuantize(x, tf.ones([3]))).toThrow('deltaQuantize: threshold: expected a shape that broadcasts to x [2, 3, 4], got [3]');
    expect(() => deltaSparsityLoss(x, { spRate: -1 })).toThrow(ConfigError);
    expect(() => deltaSparsityLoss(x, { spRate: -1 })).toThrow('deltaSparsityLoss: spRate: expected a number >= 0, got -1');
    expect(() => deltaSparsityLoss(x, { timeAxis: 1, clipLength: 2 })).toThrow(
      'deltaSparsityLoss: clipLength: expected an integer > 0, used with timeAxis 0, got 2',
    );
    expect(() => deltaSparsityLoss(tf.zeros([4]), { timeAxis: 1 })).toThrow('deltaSparsityLoss: q: expected rank >= 3, got "rank 1 (shape [4])"');
    x.dispose();
  });
});
