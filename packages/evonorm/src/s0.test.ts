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
import { EvoNormS0, evoNormS0, evoNormS0Layer, resolveGroups } from './index.js';

type Shape4 = [number, number, number, number];

/**
 * Independent float64 reference from blocks.md (NHWC):
 * y = x * sigmoid(v*x) / groupStd(x) * gamma + beta, groupStd = sqrt(biased var over H, W and
 * the channels of the group + eps).
 */
function reference(
  x: ArrayLike<number>,
  [N, H, W, C]: Shape4,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  v: ArrayLike<number>,
  groups: number,
  eps = 1e-5,
): Float64Array {
  const y = new Float64Array(x.length);
  const cg = C / groups;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) for (let c = g * cg; c < (g + 1) * cg; c++) idx.push(((n * H + h) * W + w) * C + c);
      const mean = idx.reduce((a, i) => a + x[i]!, 0) / idx.length;
      const variance = idx.reduce((a, i) => a + (x[i]! - mean) ** 2, 0) / idx.length;
      const std = Math.sqrt(variance + eps);
      for (const i of idx) {
        const c = i % C;
        const sig = 1 / (1 + Math.exp(-v[c]! * x[i]!));
        y[i] = ((x[i]! * sig) / std) * gamma[c]! + beta[c]!;
      }
    }
  }
  return y;
}

const SHAPE: Shape4 = [2, 3, 3, 4];
const X = randomArray(72, 1, -2, 2);
const GAMMA = Float64Array.of(1.2, -0.5, 0.8, 2);
const BETA = Float64Array.of(0.1, -0.3, 0, 0.7);
const V = Float64Array.of(1, 0.4, -0.6, 1.5);

describe.each(BACKENDS)('EvoNormS0 on %s', (backend) => {
  it('forward equals the formula for several group counts', async () => {
    await useBackend(backend);
    for (const groups of [1, 2, 4]) {
      const y = tf.tidy(() =>
        evoNormS0(tensorFrom(X, SHAPE), Array.from(GAMMA), Array.from(BETA), Array.from(V), { groups }).dataSync(),
      );
      expect(maxRelError(y, reference(X, SHAPE, GAMMA, BETA, V, groups))).toBeLessThan(1e-5);
    }
    // group count matters: 1 group and 4 groups give different outputs
    expect(maxRelError(reference(X, SHAPE, GAMMA, BETA, V, 1), reference(X, SHAPE, GAMMA, BETA, V, 4))).toBeGreaterThan(1e-2);
  });

  it('the layer (default groups 32 -> 4 for 4 channels, eps) equals the formula', async () => {
    await useBackend(backend);
    const layer = evoNormS0Layer({ eps: 0.1 });
    const input = tfl.input({ shape: SHAPE.slice(1) });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    layer.setWeights([tensorFrom(GAMMA, [4]), tensorFrom(BETA, [4]), tensorFrom(V, [4])]);
    const y = tf.tidy(() => (model.predict(tensorFrom(X, SHAPE)) as tf.Tensor).dataSync());
    expect(layer.params().groups).toBe(4);
    expect(maxRelError(y, reference(X, SHAPE, GAMMA, BETA, V, 4, 0.1))).toBeLessThan(1e-5);
  });

  it('gradients for x, gamma, beta and v equal finite differences', async () => {
    await useBackend(backend);
    const r = projection(72, 3);
    const grads = tf.tidy(() => {
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, v: tf.Tensor) =>
        tf.sum(tf.mul(evoNormS0(x, g, b, v, { groups: 2 }), tensorFrom(r, SHAPE)));
      return tf.grads(f)([tensorFrom(X, SHAPE), tensorFrom(GAMMA, [4]), tensorFrom(BETA, [4]), tensorFrom(V, [4])]).map((g) =>
        g.dataSync(),
      );
    });
    const numeric = finiteDifferences((p) => dot(reference(p[0]!, SHAPE, p[1]!, p[2]!, p[3]!, 2), r), [X, GAMMA, BETA, V]);
    for (let i = 0; i < 4; i++) expect(maxRelError(grads[i]!, numeric[i]!)).toBeLessThan(1e-4);
  });

  it('a few training steps lower the loss (gamma, beta and v learn)', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [4, 4, 3] });
    const norm = evoNormS0Layer({ groups: 4 });
    const conv = tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) });
    const head = tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
    const out = head.apply(tfl.layers.flatten().apply(norm.apply(conv.apply(input)))) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const x = tensorFrom(randomArray(32 * 48, 4), [32, 4, 4, 3]);
    const y = tf.tidy(() => tf.sin(tf.reshape(tf.sum(x, [1, 2, 3]), [32, 1])));
    const { before, after } = trainSteps(model, x, y, mse, 30);
    expect(after).toBeLessThan(before * 0.9);
    const p = norm.params();
    for (const [got, init] of [[p.gamma, 1], [p.beta, 0], [p.v, 1]] as const) {
      expect(maxRelError(got, new Array(8).fill(init))).toBeGreaterThan(1e-3);
    }
    tf.dispose([x, y]);
  });

  it('save -> load gives identical outputs and keeps the parameters', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: SHAPE.slice(1) });
    const layer = evoNormS0Layer({ groups: 2, eps: 1e-3 });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    layer.setWeights([tensorFrom(GAMMA, [4]), tensorFrom(BETA, [4]), tensorFrom(V, [4])]);
    const loaded = await roundTrip(model);
    const x = tensorFrom(X, SHAPE);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    const l = loaded.layers[1] as EvoNormS0;
    expect(l).toBeInstanceOf(EvoNormS0);
    expect(l.getClassName()).toBe('EvoNormS0');
    expect(l.params()).toEqual(layer.params());
    expect(l.params().groups).toBe(2);
    x.dispose();
  });
});

describe('EvoNormS0 configuration and API', () => {
  it('resolves groups by reducing until they divide the channel count', () => {
    expect(resolveGroups(32, 64)).toBe(32);
    expect(resolveGroups(32, 12)).toBe(12);
    expect(resolveGroups(32, 40)).toBe(20);
    expect(resolveGroups(3, 8)).toBe(2);
    const layer = evoNormS0Layer();
    layer.apply(tfl.input({ shape: [2, 2, 40] }));
    expect(layer.params().groups).toBe(20);
  });

  it('rejects bad groups and eps with typed errors naming layer, field, expected and got', () => {
    expect(() => evoNormS0Layer({ name: 'en', groups: 2.5 })).toThrow(ConfigError);
    expect(() => evoNormS0Layer({ name: 'en', groups: 2.5 })).toThrow("EvoNormS0 'en': groups: expected an integer > 0, got 2.5");
    expect(() => evoNormS0Layer({ name: 'en', groups: 0 })).toThrow("EvoNormS0 'en': groups: expected an integer > 0, got 0");
    expect(() => evoNormS0Layer({ name: 'en', eps: -1e-5 })).toThrow("EvoNormS0 'en': eps: expected a number > 0, got -0.00001");
  });

  it('rejects a non-NHWC input and a channel mismatch with a ShapeError', async () => {
    await useBackend('cpu');
    expect(() => evoNormS0Layer({ name: 'en' }).apply(tfl.input({ shape: [4, 4] }))).toThrow(ShapeError);
    expect(() => evoNormS0Layer({ name: 'en' }).apply(tfl.input({ shape: [4, 4] }))).toThrow(
      /^EvoNormS0 'en': input: expected rank 4, got "rank 3 \(shape \[.*, 4, 4\]\)"$/,
    );
    const layer = evoNormS0Layer({ name: 'en' });
    layer.apply(tfl.input({ shape: [2, 2, 4] }));
    const x5 = tf.ones([1, 2, 2, 5]);
    expect(() => layer.apply(x5)).toThrow(ShapeError);
    expect(() => layer.apply(x5)).toThrow(`EvoNormS0 'en': input: expected 4 channels in the last axis, got "5 (shape [1, 2, 2, 5])"`);
    x5.dispose();
  });

  it('the functional op checks x and the per-channel parameters', async () => {
    await useBackend('cpu');
    const x3 = tf.ones([2, 3, 4]);
    expect(() => evoNormS0(x3, [1], [0], [1])).toThrow(ShapeError);
    const x = tf.ones([1, 2, 2, 4]);
    expect(() => evoNormS0(x, [1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1])).toThrow(
      'evoNormS0: gamma: expected shape [4] (one per channel), got [3]',
    );
    expect(() => evoNormS0(x, [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1], { eps: 0 })).toThrow(
      'evoNormS0: eps: expected a number > 0, got 0',
    );
    tf.dispose([x3, x]);
  });

  it('registers under the tinyblocks prefix and counts 4 MACs per element + C per sample', async () => {
    await useBackend('cpu');
    expect(tf.serialization.getRegisteredName(EvoNormS0)).toBe('tinyblocks>EvoNormS0');
    const input = tfl.input({ shape: [4, 4, 8] });
    const model = tfl.model({ inputs: input, outputs: evoNormS0Layer().apply(input) as tfl.SymbolicTensor });
    expect(countModel(model).totalMacs).toBe(4 * 128 + 8);
  });
});
