import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, ShapeError, countModel } from '@tinyblocks/core';
import {
  BACKENDS,
  dot,
  finiteDifferences,
  maxRelError,
  mse,
  predictBoth,
  projection,
  randomArray,
  roundTrip,
  tensorFrom,
  trainSteps,
  useBackend,
} from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { PolyNorm, polyNorm, polyNormLayer } from './index.js';

/**
 * Independent float64 reference from blocks.md, rows of length `depth` (the last axis):
 * y = w0*norm(x^3) + w1*norm(x^2) + w2*norm(x) + b, norm(z) = z / sqrt(mean(z^2) + eps).
 */
function reference(x: ArrayLike<number>, depth: number, w: ArrayLike<number>, b: number, eps = 1e-6): Float64Array {
  const y = new Float64Array(x.length).fill(b);
  for (let row = 0; row < x.length; row += depth) {
    for (let k = 1; k <= 3; k++) {
      let ms = 0;
      for (let i = 0; i < depth; i++) ms += x[row + i]! ** (2 * k) / depth;
      const scale = w[3 - k]! / Math.sqrt(ms + eps);
      for (let i = 0; i < depth; i++) y[row + i] += scale * x[row + i]! ** k;
    }
  }
  return y;
}

describe.each(BACKENDS)('PolyNorm on %s', (backend) => {
  it('forward equals the formula (normalised over the last axis, w0 on the cube)', async () => {
    await useBackend(backend);
    const x = randomArray(4 * 3 * 8, 1, -3, 3);
    for (const [w, b, eps] of [
      [[1 / 3, 1 / 3, 1 / 3], 0, 1e-6],
      [[0.5, -1.25, 2], 0.75, 1e-6],
      [[-0.1, 0, 0.3], -2, 0.5],
    ] as Array<[number[], number, number]>) {
      const y = tf.tidy(() => polyNorm(tensorFrom(x, [4, 3, 8]), w, b, eps).dataSync());
      expect(maxRelError(y, reference(x, 8, w, b, eps))).toBeLessThan(1e-5);
    }
  });

  it('gradients for x, w and b equal finite differences', async () => {
    await useBackend(backend);
    const x = randomArray(4 * 6, 2, -2, 2);
    const w = Float64Array.of(0.4, -0.7, 1.3);
    const b = Float64Array.of(0.2);
    const r = projection(24, 3);
    const grads = tf.tidy(() => {
      const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(polyNorm(xt, wt, bt), tensorFrom(r, [4, 6])));
      return tf.grads(f)([tensorFrom(x, [4, 6]), tensorFrom(w, [3]), tf.scalar(b[0]!)]).map((g) => g.dataSync());
    });
    const numeric = finiteDifferences((p) => dot(reference(p[0]!, 6, p[1]!, p[2]![0]!), r), [x, w, b]);
    for (let i = 0; i < 3; i++) expect(maxRelError(grads[i]!, numeric[i]!)).toBeLessThan(1e-4);
  });

  it('a few training steps lower the loss (w and b learn)', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [6] });
    const act = polyNormLayer();
    const hidden = tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) });
    const head = tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
    const model = tfl.model({ inputs: input, outputs: head.apply(act.apply(hidden.apply(input))) as tfl.SymbolicTensor });
    const x = tensorFrom(randomArray(64 * 6, 4), [64, 6]);
    const y = tf.tidy(() => tf.sin(tf.sum(x, 1, true)));
    const { before, after } = trainSteps(model, x, y, mse, 30);
    expect(after).toBeLessThan(before * 0.9);
    const { w, b } = act.params();
    expect(maxRelError(w, [1 / 3, 1 / 3, 1 / 3])).toBeGreaterThan(1e-3);
    expect(Math.abs(b)).toBeGreaterThan(1e-4);
    tf.dispose([x, y]);
  });

  it('save -> load gives identical outputs and keeps w, b and eps', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [2, 5] });
    const layer = polyNormLayer({ wInit: [0.1, -0.2, 0.9], bInit: 0.3, eps: 0.01 });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    const x = tensorFrom(randomArray(30, 5), [3, 2, 5]);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(maxRelError(a, reference(x.dataSync(), 5, [0.1, -0.2, 0.9], 0.3, 0.01))).toBeLessThan(1e-5);
    const l = loaded.layers[1] as PolyNorm;
    expect(l).toBeInstanceOf(PolyNorm);
    expect(l.getClassName()).toBe('PolyNorm');
    expect(l.eps).toBe(0.01);
    expect(maxRelError(l.params().w, [0.1, -0.2, 0.9])).toBeLessThan(1e-6);
    expect(l.params().b).toBeCloseTo(0.3, 6);
    x.dispose();
  });
});

describe('PolyNorm configuration and API', () => {
  it('rejects a non-positive eps and a bad wInit with typed errors naming layer, field, expected and got', () => {
    expect(() => polyNormLayer({ name: 'pn', eps: 0 })).toThrow(ConfigError);
    expect(() => polyNormLayer({ name: 'pn', eps: 0 })).toThrow("PolyNorm 'pn': eps: expected a number > 0, got 0");
    expect(() => polyNormLayer({ name: 'pn', wInit: [1, Number.NaN, 2] })).toThrow(
      "PolyNorm 'pn': wInit: expected an array of 3 finite numbers, got [1, NaN, 2]",
    );
  });

  it('rejects a rank-1 input (nothing to normalise per sample)', () => {
    const layer = polyNormLayer({ name: 'pn' });
    expect(() => layer.apply(tfl.input({ batchShape: [4] }))).toThrow(ShapeError);
    expect(() => polyNormLayer({ name: 'pn' }).apply(tfl.input({ batchShape: [4] }))).toThrow(
      "PolyNorm 'pn': input: expected rank >= 2 (batch, ..., features), got \"rank 1\"",
    );
  });

  it('the functional op rejects a bad eps and a non-scalar b', async () => {
    await useBackend('cpu');
    const x = tf.ones([2, 3]);
    expect(() => polyNorm(x, [1, 1, 1], 0, -1)).toThrow('polyNorm: eps: expected a number > 0, got -1');
    const b2 = tf.zeros([2]);
    expect(() => polyNorm(x, [1, 1, 1], b2)).toThrow(ShapeError);
    expect(() => polyNorm(x, [1, 1, 1], b2)).toThrow('polyNorm: b: expected a scalar (shape []), got [2]');
    tf.dispose([x, b2]);
  });

  it('registers under the tinyblocks prefix and counts 7 MACs per element + 3 per vector', async () => {
    await useBackend('cpu');
    expect(tf.serialization.getRegisteredName(PolyNorm)).toBe('tinyblocks>PolyNorm');
    const input = tfl.input({ shape: [4, 5] });
    const model = tfl.model({ inputs: input, outputs: polyNormLayer().apply(input) as tfl.SymbolicTensor });
    expect(countModel(model).totalMacs).toBe(7 * 20 + 3 * 4);
  });
});
