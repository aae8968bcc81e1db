import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, ShapeError, countModel } from '@tinyblocks/core';
import {
  BACKENDS,
  dot,
  finiteDifferences,
  maxRelError,
  predictBoth,
  projection,
  randomArray,
  roundTrip,
  tensorFrom,
  trainSteps,
  useBackend,
} from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { EarlyExitHead, earlyExitHead, earlyExitLoss } from './index.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** Float64 reference: SDN mix pooling over the spatial positions, then dense. x is [B, P, C] flat. */
function reference(x: ArrayLike<number>, [b, p, c]: number[], kernel: ArrayLike<number>, bias: ArrayLike<number>, a: number): Float64Array {
  const k = bias.length;
  const out = new Float64Array(b * k);
  for (let n = 0; n < b; n++) {
    for (let j = 0; j < k; j++) {
      let s = bias[j]!;
      for (let ch = 0; ch < c; ch++) {
        let mx = -Infinity;
        let mean = 0;
        for (let i = 0; i < p; i++) {
          const v = x[(n * p + i) * c + ch]!;
          mx = Math.max(mx, v);
          mean += v / p;
        }
        s += (a * mx + (1 - a) * mean) * kernel[ch * k + j]!;
      }
      out[n * k + j] = s;
    }
  }
  return out;
}

/**
 * Float64 reference of the grid heads: x is [B, H, W, C] flat; per region of a g x g grid
 * (row-major), 'mix' a*max + (1-a)*mean or 'concat' [mean, max]; then dense.
 */
function gridReference(
  x: ArrayLike<number>,
  [b, h, w, c]: number[],
  g: number,
  pooling: 'mix' | 'concat',
  a: number,
  kernel: ArrayLike<number>,
  bias: ArrayLike<number>,
): Float64Array {
  const k = bias.length;
  const rh = h! / g;
  const rw = w! / g;
  const out = new Float64Array(b! * k);
  for (let n = 0; n < b!; n++) {
    const feats: number[] = [];
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++) {
        const mean: number[] = [];
        const mx: number[] = [];
        for (let ch = 0; ch < c!; ch++) {
          let m = -Infinity;
          let s = 0;
          for (let i = 0; i < rh; i++) {
            for (let j = 0; j < rw; j++) {
              const v = x[((n * h! + gy * rh + i) * w! + gx * rw + j) * c! + ch]!;
              m = Math.max(m, v);
              s += v / (rh * rw);
            }
          }
          mean.push(s);
          mx.push(m);
        }
        feats.push(...(pooling === 'concat' ? [...mean, ...mx] : mean.map((v, ch) => a * mx[ch]! + (1 - a) * v)));
      }
    }
    for (let j = 0; j < k; j++) out[n * k + j] = feats.reduce((s, f, i) => s + f * kernel[i * k + j]!, bias[j]!);
  }
  return out;
}

const B = 2;
const SHAPE = [3, 3, 4]; // H, W, C
const K = 5;
const X = randomArray(B * 36, 1);
const KERNEL = randomArray(4 * K, 2, -1, 1);
const BIAS = randomArray(K, 3, -0.5, 0.5);
const MIX_LOGIT = 0.4;

function builtHead(pooling: 'mix' | 'avg' | 'max', shape = SHAPE): EarlyExitHead {
  const head = earlyExitHead({ numClasses: K, pooling, name: 'h' });
  head.apply(tfl.input({ shape }));
  const w = [tensorFrom(KERNEL, [4, K]), tensorFrom(BIAS, [K])];
  head.setWeights(pooling === 'mix' ? [...w, tf.scalar(MIX_LOGIT)] : w);
  return head;
}

describe.each(BACKENDS)('EarlyExitHead on %s', (backend) => {
  it('forward equals a*maxpool + (1-a)*avgpool then dense, for each pooling and for [B, C] input', async () => {
    await useBackend(backend);
    for (const [pooling, a] of [['mix', sigmoid(MIX_LOGIT)], ['avg', 0], ['max', 1]] as const) {
      const head = builtHead(pooling);
      const y = tf.tidy(() => (head.apply(tensorFrom(X, [B, ...SHAPE])) as tf.Tensor).dataSync());
      expect(maxRelError(y, reference(X, [B, 9, 4], KERNEL, BIAS, a))).toBeLessThan(1e-5);
      expect(head.mixValue()).toBeCloseTo(a, 6);
    }
    const flat = builtHead('mix', [4]);
    const y = tf.tidy(() => (flat.apply(tensorFrom(X.slice(0, 8), [B, 4])) as tf.Tensor).dataSync());
    expect(maxRelError(y, reference(X.slice(0, 8), [B, 1, 4], KERNEL, BIAS, 0.5))).toBeLessThan(1e-5);
  });

  it('grid pooling (g x g regions) with mix or concat equals the float64 reference', async () => {
    await useBackend(backend);
    const shape = [4, 6, 3];
    const x = randomArray(B * 72, 7);
    for (const [pooling, g] of [['concat', 2], ['mix', 2], ['concat', 1]] as const) {
      const head = earlyExitHead({ numClasses: K, pooling, grid: g, name: 'g' });
      head.apply(tfl.input({ shape }));
      const features = g * g * 3 * (pooling === 'concat' ? 2 : 1);
      const kernel = randomArray(features * K, 8, -1, 1);
      head.setWeights([tensorFrom(kernel, [features, K]), tensorFrom(BIAS, [K]), ...(pooling === 'mix' ? [tf.scalar(MIX_LOGIT)] : [])]);
      const y = tf.tidy(() => (head.apply(tensorFrom(x, [B, ...shape])) as tf.Tensor).dataSync());
      expect(maxRelError(y, gridReference(x, [B, ...shape], g, pooling, sigmoid(MIX_LOGIT), kernel, BIAS))).toBeLessThan(1e-5);
      expect(head.params()).toMatchObject({ pooling, grid: g, channels: 3, features, numClasses: K });
    }
  });

  it('grid concat: gradients for input, kernel and bias equal finite differences', async () => {
    await useBackend(backend);
    const shape = [4, 4, 2];
    const x = randomArray(B * 32, 9);
    const kernel = randomArray(16 * K, 10, -1, 1);
    const head = earlyExitHead({ numClasses: K, pooling: 'concat', grid: 2, name: 'gc' });
    head.apply(tfl.input({ shape }));
    head.setWeights([tensorFrom(kernel, [16, K]), tensorFrom(BIAS, [K])]);
    const r = projection(B * K, 11);
    const xv = tf.variable(tensorFrom(x, [B, ...shape]));
    const vars = head.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(head.apply(xv) as tf.Tensor, tensorFrom(r, [B, K]))) as tf.Scalar, [xv, ...vars]);
    const got = [xv, ...vars].map((v) => grads[v.name]!.dataSync());
    const f = (p: Float64Array[]) => dot(gridReference(p[0]!, [B, ...shape], 2, 'concat', 0, p[1]!, p[2]!), r);
    const fd = finiteDifferences(f, [x, kernel, BIAS]);
    got.forEach((g, i) => expect(maxRelError(g, fd[i]!)).toBeLessThan(1e-4));
    tf.dispose([xv, ...Object.values(grads)]);
  });

  it('gradients for input, kernel, bias and mix equal finite differences', async () => {
    await useBackend(backend);
    const head = builtHead('mix');
    const r = projection(B * K, 4);
    const xv = tf.variable(tensorFrom(X, [B, ...SHAPE]));
    const vars = head.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(head.apply(xv) as tf.Tensor, tensorFrom(r, [B, K]))) as tf.Scalar,
      [xv, ...vars],
    );
    const got = [xv, ...vars].map((v) => grads[v.name]!.dataSync());
    const f = (p: Float64Array[]) => dot(reference(p[0]!, [B, 9, 4], p[1]!, p[2]!, sigmoid(p[3]![0]!)), r);
    const fd = finiteDifferences(f, [X, KERNEL, BIAS, Float64Array.of(MIX_LOGIT)]);
    expect(head.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['kernel', 'bias', 'mix']);
    got.forEach((g, i) => expect(maxRelError(g, fd[i]!)).toBeLessThan(1e-4));
    tf.dispose([xv, ...Object.values(grads)]);
  });

  it('a few training steps of the joint (BranchyNet) loss lower it; the mix weight learns', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [4, 4, 2] });
    const glorot = (seed: number) => tfl.initializers.glorotUniform({ seed });
    const c1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: glorot(1) }).apply(input);
    const head = earlyExitHead({ numClasses: 3, seed: 2 });
    const exit0 = head.apply(c1) as tfl.SymbolicTensor;
    const flat = tfl.layers.flatten().apply(c1);
    const final = tfl.layers.dense({ units: 3, kernelInitializer: glorot(3) }).apply(flat) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: [exit0, final] });
    const x = tensorFrom(randomArray(32 * 32, 5), [32, 4, 4, 2]);
    const y = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.sum(x, [1, 2, 3]), 0), 'int32'), 3));
    const loss = (yt: tf.Tensor, yp: tf.Tensor) => earlyExitLoss(yp as unknown as tf.Tensor[], yt);
    const mix0 = head.mixValue();
    const { before, after } = trainSteps(model, x, y, loss, 30);
    expect(after).toBeLessThan(before * 0.9);
    expect(head.mixValue()).not.toBeCloseTo(mix0, 4);
    tf.dispose([x, y]);
  });

  it('save -> load gives identical outputs and keeps the parameters', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: SHAPE });
    const head = earlyExitHead({ numClasses: K, name: 'h', mixInit: 0.3 });
    const model = tfl.model({ inputs: input, outputs: head.apply(input) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    const x = tensorFrom(X, [B, ...SHAPE]);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    const l = loaded.getLayer('h') as EarlyExitHead;
    expect(l).toBeInstanceOf(EarlyExitHead);
    expect(l.params()).toEqual(head.params());
    expect(l.params().mix).toBeCloseTo(0.3, 6);
    expect(l.params()).toMatchObject({ pooling: 'mix', channels: 4, numClasses: K });
    x.dispose();
  });
});

describe('EarlyExitHead configuration and counting', () => {
  it('rejects bad config with a typed error naming layer, field, expected and got', () => {
    const bad: Array<[object, string]> = [
      [{ numClasses: 0 }, "EarlyExitHead 'h1': numClasses: expected an integer > 0, got 0"],
      [{ numClasses: 2.5 }, "EarlyExitHead 'h1': numClasses: expected an integer > 0, got 2.5"],
      [{ numClasses: 3, pooling: 'sum' }, `EarlyExitHead 'h1': pooling: expected one of 'mix', 'avg', 'max', 'concat', got "sum"`],
      [{ numClasses: 3, grid: 0 }, "EarlyExitHead 'h1': grid: expected an integer > 0, got 0"],
      [{ numClasses: 3, mixInit: 1 }, "EarlyExitHead 'h1': mixInit: expected a number in (0, 1), got 1"],
    ];
    for (const [args, message] of bad) {
      expect(() => earlyExitHead({ name: 'h1', ...args } as never)).toThrow(ConfigError);
      expect(() => earlyExitHead({ name: 'h1', ...args } as never)).toThrow(message);
    }
  });

  it('rejects an input of unknown channels or too high rank with a ShapeError', async () => {
    await useBackend('cpu');
    const head = earlyExitHead({ name: 'h1', numClasses: 3 });
    expect(() => head.apply(tfl.input({ shape: [2, 2, 2, 2, 3] }))).toThrow(ShapeError);
    expect(() => head.apply(tfl.input({ shape: [2, 2, 2, 2, 3] }))).toThrow(
      `EarlyExitHead 'h1': input: expected [batch, ...spatial, channels] of rank 2 to 5 with known channels, got "rank 6 (shape [?, 2, 2, 2, 2, 3])"`,
    );
  });

  it('a grid that does not divide H and W is a ShapeError; grid heads save and load', async () => {
    await useBackend('cpu');
    const head = earlyExitHead({ name: 'h2', numClasses: 3, grid: 2 });
    expect(() => head.apply(tfl.input({ shape: [5, 4, 2] }))).toThrow(ShapeError);
    expect(() => earlyExitHead({ name: 'h2', numClasses: 3, grid: 2 }).apply(tfl.input({ shape: [5, 4, 2] }))).toThrow(
      `EarlyExitHead 'h2': input: expected [batch, H, W, channels] with H and W divisible by grid 2, got "shape [?, 5, 4, 2]"`,
    );
    const input = tfl.input({ shape: [4, 4, 3] });
    const model = tfl.model({ inputs: input, outputs: earlyExitHead({ numClasses: K, name: 'h', pooling: 'concat', grid: 2, seed: 4 }).apply(input) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    const x = tensorFrom(randomArray(B * 48, 12), [B, 4, 4, 3]);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect((loaded.getLayer('h') as EarlyExitHead).params()).toMatchObject({ pooling: 'concat', grid: 2, channels: 3, features: 24 });
    expect(countModel(model).layers.find((l) => l.name === 'h')).toMatchObject({ macs: 24 * K });
    x.dispose();
  });

  it('counts channels*numClasses MACs and registers under the tinyblocks prefix', async () => {
    await useBackend('cpu');
    const input = tfl.input({ shape: [5, 5, 8] });
    const model = tfl.model({ inputs: input, outputs: earlyExitHead({ numClasses: 10, name: 'h' }).apply(input) as tfl.SymbolicTensor });
    const count = countModel(model);
    expect(count.layers.find((l) => l.name === 'h')).toMatchObject({ macs: 80, params: 8 * 10 + 10 + 1 });
    expect(tf.serialization.getRegisteredName(EarlyExitHead)).toBe('tinyblocks>EarlyExitHead');
  });
});
