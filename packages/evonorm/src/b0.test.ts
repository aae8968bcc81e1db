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
import { EvoNormB0, batchVariance, evoNormB0, evoNormB0Layer } from './index.js';

type Shape4 = [number, number, number, number];
const EPS = 1e-5;

/** Biased variance over N, H, W per channel, in float64. */
function batchVar(x: ArrayLike<number>, [N, H, W, C]: Shape4): Float64Array {
  const m = N * H * W;
  const mean = new Float64Array(C);
  const out = new Float64Array(C);
  for (let i = 0; i < x.length; i++) mean[i % C] += x[i]! / m;
  for (let i = 0; i < x.length; i++) out[i % C] += (x[i]! - mean[i % C]!) ** 2 / m;
  return out;
}

/**
 * Independent float64 reference from blocks.md (NHWC):
 * y = x / max(sqrt(bvar + eps), v*x + instanceStd(x)) * gamma + beta, instanceStd over H, W.
 * `bvar` null means training: the batch variance of x itself. Also returns the smallest gap
 * between the two sides of the max (finite differences need it away from 0).
 */
function reference(
  x: ArrayLike<number>,
  shape: Shape4,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  v: ArrayLike<number>,
  bvar: ArrayLike<number> | null,
  eps = EPS,
): { y: Float64Array; instWins: number; minGap: number } {
  const [N, H, W, C] = shape;
  const bv = bvar ?? batchVar(x, shape);
  const y = new Float64Array(x.length);
  let instWins = 0;
  let minGap = Infinity;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const idx: number[] = [];
      for (let p = 0; p < H * W; p++) idx.push((n * H * W + p) * C + c);
      const mean = idx.reduce((a, i) => a + x[i]!, 0) / idx.length;
      const istd = Math.sqrt(idx.reduce((a, i) => a + (x[i]! - mean) ** 2, 0) / idx.length + eps);
      const bstd = Math.sqrt(bv[c]! + eps);
      for (const i of idx) {
        const inst = v[c]! * x[i]! + istd;
        if (inst > bstd) instWins++;
        minGap = Math.min(minGap, Math.abs(inst - bstd));
        y[i] = (x[i]! / Math.max(bstd, inst)) * gamma[c]! + beta[c]!;
      }
    }
  }
  return { y, instWins, minGap };
}

const SHAPE: Shape4 = [3, 2, 3, 4];
const X = randomArray(72, 7, -2, 2);
const GAMMA = Float64Array.of(1.2, -0.5, 0.8, 2);
const BETA = Float64Array.of(0.1, -0.3, 0, 0.7);
const V = Float64Array.of(1, 0.4, -0.6, 1.5);
const MOVING = Float64Array.of(0.5, 2, 1, 3);

/** A model with just the layer, its parameters and moving variance set to the constants above. */
function layerModel(args = {}): { model: tfl.LayersModel; layer: EvoNormB0 } {
  const layer = evoNormB0Layer(args);
  const input = tfl.input({ shape: SHAPE.slice(1) });
  const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
  layer.setWeights([GAMMA, BETA, V, MOVING].map((p) => tensorFrom(p, [4])));
  return { model, layer };
}

describe.each(BACKENDS)('EvoNormB0 on %s', (backend) => {
  it('inference uses the moving variance (not the batch one) and equals the formula', async () => {
    await useBackend(backend);
    const { model } = layerModel();
    const y = tf.tidy(() => (model.predict(tensorFrom(X, SHAPE)) as tf.Tensor).dataSync());
    const ref = reference(X, SHAPE, GAMMA, BETA, V, MOVING);
    expect(ref.instWins).toBeGreaterThan(5); // both sides of the max are exercised
    expect(ref.instWins).toBeLessThan(67);
    expect(maxRelError(y, ref.y)).toBeLessThan(1e-5);
    expect(maxRelError(y, reference(X, SHAPE, GAMMA, BETA, V, null).y)).toBeGreaterThan(1e-2);
  });

  it('training uses the batch variance, equals the formula, and updates the moving variance', async () => {
    await useBackend(backend);
    const { layer } = layerModel({ momentum: 0.8 });
    const x = tensorFrom(X, SHAPE);
    const y = tf.tidy(() => (layer.apply(x, { training: true }) as tf.Tensor).dataSync());
    const ref = reference(X, SHAPE, GAMMA, BETA, V, null);
    expect(ref.instWins).toBeGreaterThan(5);
    expect(ref.instWins).toBeLessThan(67);
    expect(maxRelError(y, ref.y)).toBeLessThan(1e-5);
    const bv = batchVar(X, SHAPE);
    const expected = Array.from(MOVING, (m, c) => 0.8 * m + 0.2 * bv[c]!);
    expect(maxRelError(layer.params().movingVariance, expected)).toBeLessThan(1e-5);
    // inference does not touch it
    tf.tidy(() => layer.apply(x, { training: false }) as tf.Tensor);
    tf.tidy(() => layer.apply(x) as tf.Tensor);
    expect(maxRelError(layer.params().movingVariance, expected)).toBeLessThan(1e-5);
    x.dispose();
  });

  it('gradients (training: through the batch variance too) equal finite differences', async () => {
    await useBackend(backend);
    const r = projection(72, 3);
    expect(reference(X, SHAPE, GAMMA, BETA, V, null).minGap).toBeGreaterThan(1e-3);
    const grads = tf.tidy(() => {
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, v: tf.Tensor) =>
        tf.sum(tf.mul(evoNormB0(x, g, b, v, batchVariance(x)), tensorFrom(r, SHAPE)));
      return tf.grads(f)([X, GAMMA, BETA, V].map((p, i) => tensorFrom(p, i === 0 ? SHAPE : [4]))).map((g) => g.dataSync());
    });
    const loss = (p: Float64Array[]) => dot(reference(p[0]!, SHAPE, p[1]!, p[2]!, p[3]!, null).y, r);
    const numeric = finiteDifferences(loss, [X, GAMMA, BETA, V]);
    for (let i = 0; i < 4; i++) expect(maxRelError(grads[i]!, numeric[i]!)).toBeLessThan(1e-4);
  });

  it('gradients (inference: a given batch variance) equal finite differences, incl. d/dvariance', async () => {
    await useBackend(backend);
    const r = projection(72, 4);
    expect(reference(X, SHAPE, GAMMA, BETA, V, MOVING).minGap).toBeGreaterThan(1e-3);
    const grads = tf.tidy(() => {
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, v: tf.Tensor, m: tf.Tensor) =>
        tf.sum(tf.mul(evoNormB0(x, g, b, v, m), tensorFrom(r, SHAPE)));
      const inputs = [X, GAMMA, BETA, V, MOVING].map((p, i) => tensorFrom(p, i === 0 ? SHAPE : [4]));
      return tf.grads(f)(inputs).map((g) => g.dataSync());
    });
    const loss = (p: Float64Array[]) => dot(reference(p[0]!, SHAPE, p[1]!, p[2]!, p[3]!, p[4]!).y, r);
    const numeric = finiteDifferences(loss, [X, GAMMA, BETA, V, MOVING]);
    for (let i = 0; i < 5; i++) expect(maxRelError(grads[i]!, numeric[i]!)).toBeLessThan(1e-4);
  });

  it('a few training steps lower the loss (gamma, beta and v learn)', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [4, 4, 3] });
    const norm = evoNormB0Layer();
    const conv = tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) });
    const head = tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
    const out = head.apply(tfl.layers.flatten().apply(norm.apply(conv.apply(input)))) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const x = tensorFrom(randomArray(32 * 48, 4), [32, 4, 4, 3]);
    const y = tf.tidy(() => tf.sin(tf.reshape(tf.sum(x, [1, 2, 3]), [32, 1])));
    const { before, after } = trainSteps(model, x, y, mse, 30);
    expect(after).toBeLessThan(before * 0.9);
    const p = norm.params();
    for (const [got, init] of [[p.gamma, 1], [p.beta, 0], [p.v, 1], [p.movingVariance, 1]] as const) {
      expect(maxRelError(got, new Array(8).fill(init))).toBeGreaterThan(1e-3);
    }
    tf.dispose([x, y]);
  });

  it('save -> load gives identical outputs and keeps the moving variance', async () => {
    await useBackend(backend);
    const { model, layer } = layerModel({ momentum: 0.5, eps: 1e-3 });
    const x = tensorFrom(X, SHAPE);
    tf.tidy(() => layer.apply(x, { training: true }) as tf.Tensor); // moves the moving variance off MOVING
    const loaded = await roundTrip(model);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    const l = loaded.layers[1] as EvoNormB0;
    expect(l).toBeInstanceOf(EvoNormB0);
    expect(l.getClassName()).toBe('EvoNormB0');
    expect(l.momentum).toBe(0.5);
    expect(l.params()).toEqual(layer.params());
    expect(maxRelError(l.params().movingVariance, MOVING)).toBeGreaterThan(1e-2);
    x.dispose();
  });
});

describe('EvoNormB0 configuration and API', () => {
  it('rejects bad momentum and eps with typed errors naming layer, field, expected and got', () => {
    expect(() => evoNormB0Layer({ name: 'bn', momentum: 1 })).toThrow(ConfigError);
    expect(() => evoNormB0Layer({ name: 'bn', momentum: 1 })).toThrow("EvoNormB0 'bn': momentum: expected a number in [0, 1), got 1");
    expect(() => evoNormB0Layer({ name: 'bn', momentum: -0.1 })).toThrow(
      "EvoNormB0 'bn': momentum: expected a number in [0, 1), got -0.1",
    );
    expect(() => evoNormB0Layer({ name: 'bn', eps: 0 })).toThrow("EvoNormB0 'bn': eps: expected a number > 0, got 0");
  });

  it('rejects a non-NHWC input and a channel mismatch with a ShapeError', async () => {
    await useBackend('cpu');
    expect(() => evoNormB0Layer({ name: 'bn' }).apply(tfl.input({ shape: [8] }))).toThrow(ShapeError);
    expect(() => evoNormB0Layer({ name: 'bn' }).apply(tfl.input({ shape: [8] }))).toThrow(
      /^EvoNormB0 'bn': input: expected rank 4, got "rank 2 \(shape \[.*, 8\]\)"$/,
    );
    const layer = evoNormB0Layer({ name: 'bn' });
    layer.apply(tfl.input({ shape: [2, 2, 4] }));
    const x3 = tf.ones([1, 2, 2, 3]);
    expect(() => layer.apply(x3, { training: true })).toThrow(ShapeError);
    expect(() => layer.apply(x3)).toThrow(`EvoNormB0 'bn': input: expected 4 channels in the last axis, got "3 (shape [1, 2, 2, 3])"`);
    x3.dispose();
  });

  it('the functional op checks x and the batch variance', async () => {
    await useBackend('cpu');
    const x = tf.ones([1, 2, 2, 4]);
    const g = [1, 1, 1, 1];
    expect(() => evoNormB0(x, g, g, g, [1, 1])).toThrow('evoNormB0: batchVariance: expected shape [4] (one per channel), got [2]');
    const x2 = tf.ones([2, 4]);
    expect(() => evoNormB0(x2, g, g, g, g)).toThrow(ShapeError);
    expect(() => batchVariance(x2)).toThrow(ShapeError);
    tf.dispose([x, x2]);
  });

  it('registers under the tinyblocks prefix, with a non-trainable moving_variance, 4 MACs per element', async () => {
    await useBackend('cpu');
    expect(tf.serialization.getRegisteredName(EvoNormB0)).toBe('tinyblocks>EvoNormB0');
    const layer = evoNormB0Layer();
    const input = tfl.input({ shape: [4, 4, 8] });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    expect(layer.trainableWeights.map((w) => w.name.split('/').pop())).toEqual(['gamma', 'beta', 'v']);
    expect(layer.nonTrainableWeights.map((w) => w.name.split('/').pop())).toEqual(['moving_variance']);
    expect(countModel(model).totalMacs).toBe(4 * 128);
  });
});
