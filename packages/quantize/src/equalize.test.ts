/**
 * Outlier-channel equalization: with ReLU between producer and consumers the float model computes
 * the same function after equalizing (conv and early-exit-head consumers, the head with a 2x2 grid
 * and [avg, max] pooling, whose kernel rows repeat the channels), the outlier channel's range
 * shrinks to the median's, and restore() puts every weight back.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@tinyblocks/core';
import { Rng } from '@tinyblocks/core/base';
import { earlyExitHead } from '@tinyblocks/early-exit';
import { beforeAll, describe, expect, it } from 'vitest';
import { equalizeOutlierChannels } from './index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const rng = new Rng(5);
const uniform = (shape: number[], lo = -0.5, hi = 0.5) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(lo, hi)), shape);

function model() {
  const input = tfl.input({ shape: [4, 4, 2] });
  const producer = tfl.layers.conv2d({ name: 'p', filters: 4, kernelSize: 1 });
  const act = tfl.layers.activation({ name: 'a', activation: 'relu' }).apply(producer.apply(input)) as tfl.SymbolicTensor;
  const head = earlyExitHead({ name: 'head', numClasses: 3, pooling: 'concat', grid: 2 }).apply(act) as tfl.SymbolicTensor;
  const conv = tfl.layers.conv2d({ name: 'c', filters: 3, kernelSize: 3, padding: 'same' }).apply(act) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: input, outputs: [head, conv] });
  for (const w of m.weights) w.write(uniform(w.shape as number[]));
  // channel 2 of the producer: 40x the others
  const [k, b] = producer.getWeights();
  producer.setWeights([tf.mul(k!, tf.tensor1d([1, 1, 40, 1])), tf.mul(b!, tf.tensor1d([1, 1, 40, 1]))]);
  return m;
}

describe('equalizeOutlierChannels', () => {
  it('finds the outlier channel, keeps the float outputs (ReLU), and restores the weights', () => {
    const m = model();
    const x = uniform([6, 4, 4, 2], 0, 1);
    const before = (m.predict(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync()));
    const weights = m.getWeights().map((w) => Array.from(w.dataSync()));
    const eq = equalizeOutlierChannels(m, [x]);
    expect(eq.pairs).toHaveLength(1);
    expect(eq.pairs[0]).toMatchObject({ producer: 'p', activation: 'a', consumers: ['head', 'c'] });
    expect(Object.keys(eq.pairs[0]!.scales)).toEqual(['2']);
    expect(eq.pairs[0]!.scales[2]).toBeGreaterThan(10);
    const after = (m.predict(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync()));
    after.forEach((out, k) => out.forEach((v, i) => expect(v).toBeCloseTo(before[k]![i]!, 4)));
    eq.restore();
    expect(m.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(weights);
  });
});
