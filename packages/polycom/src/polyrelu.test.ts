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
import { PolyReLU, polyReLU, polyReLULayer } from './index.js';

/** Independent float64 reference straight from blocks.md: r = relu(x); w0 r^3 + w1 r^2 + w2 r + b. */
function reference(x: ArrayLike<number>, w: ArrayLike<number>, b: number): Float64Array {
  return Float64Array.from(x, (v) => {
    const r = Math.max(v, 0);
    return w[0]! * r ** 3 + w[1]! * r ** 2 + w[2]! * r + b;
  });
}

/** A dense -> act -> dense regression model, for the training check. */
function tinyModel(act: tfl.layers.Layer, inputs: number): tfl.LayersModel {
  const input = tfl.input({ shape: [inputs] });
  const hidden = tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) });
  const head = tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) });
  const out = head.apply(act.apply(hidden.apply(input))) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe.each(BACKENDS)('PolyReLU on %s', (backend) => {
  it('forward equals the formula (w0 multiplies the cube)', async () => {
    await useBackend(backend);
    const x = randomArray(200, 1, -4, 4);
    for (const [w, b] of [
      [[1 / 3, 1 / 3, 1 / 3], 0],
      [[0.5, -1.25, 2], 0.75],
      [[-0.1, 0, 0.3], -2],
    ] as Array<[number[], number]>) {
      const y = tf.tidy(() => polyReLU(tensorFrom(x, [10, 20]), w, b).dataSync());
      expect(maxRelError(y, reference(x, w, b))).toBeLessThan(1e-5);
    }
  });

  it('gradients for x, w and b equal finite differences', async () => {
    await useBackend(backend);
    // keep x away from 0, where relu has its kink
    const x = randomArray(60, 2, -3, 3).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const w = Float64Array.of(0.4, -0.7, 1.3);
    const b = Float64Array.of(0.2);
    const r = projection(60, 3);
    const grads = tf.tidy(() => {
      const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(polyReLU(xt, wt, bt), tensorFrom(r, [6, 10])));
      return tf.grads(f)([tensorFrom(x, [6, 10]), tensorFrom(w, [3]), tf.scalar(b[0]!)]).map((g) => g.dataSync());
    });
    const numeric = finiteDifferences((p) => dot(reference(p[0]!, p[1]!, p[2]![0]!), r), [x, w, b]);
    for (let i = 0; i < 3; i++) expect(maxRelError(grads[i]!, numeric[i]!)).toBeLessThan(1e-4);
  });

  it('a few training steps lower the loss (w and b learn)', async () => {
    await useBackend(backend);
    const act = polyReLULayer();
    const model = tinyModel(act, 8);
    const x = tensorFrom(randomArray(64 * 8, 4), [64, 8]);
    const y = tf.tidy(() => tf.sin(tf.sum(x, 1, true)));
    const { before, after } = trainSteps(model, x, y, mse, 30);
    expect(after).toBeLessThan(before * 0.9);
    const { w, b } = act.params();
    expect(maxRelError(w, [1 / 3, 1 / 3, 1 / 3])).toBeGreaterThan(1e-3);
    expect(Math.abs(b)).toBeGreaterThan(1e-4);
    tf.dispose([x, y]);
  });

  it('save -> load gives identical outputs and keeps w and b', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [5] });
    const layer = polyReLULayer({ wInit: [0.1, -0.2, 0.9], bInit: 0.3 });
    const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    const x = tensorFrom(randomArray(20, 5), [4, 5]);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(maxRelError(a, reference(x.dataSync(), [0.1, -0.2, 0.9], 0.3))).toBeLessThan(1e-5);
    const l = loaded.layers[1] as PolyReLU;
    expect(l).toBeInstanceOf(PolyReLU);
    expect(l.getClassName()).toBe('PolyReLU');
    expect(maxRelError(l.params().w, [0.1, -0.2, 0.9])).toBeLessThan(1e-6);
    expect(l.params().b).toBeCloseTo(0.3, 6);
    x.dispose();
  });
});

describe('PolyReLU configuration and API', () => {
  it('rejects a bad wInit / bInit with a typed error naming layer, field, expected and got', () => {
    expect(() => polyReLULayer({ name: 'act1', wInit: [1, 2] as unknown as [number, number, number] })).toThrow(ConfigError);
    expect(() => polyReLULayer({ name: 'act1', wInit: [1, 2] as unknown as [number, number, number] })).toThrow(
      "PolyReLU 'act1': wInit: expected an array of 3 finite numbers, got [1, 2]",
    );
    expect(() => polyReLULayer({ name: 'act2', bInit: Number.POSITIVE_INFINITY })).toThrow(
      "PolyReLU 'act2': bInit: expected a finite number, got Infinity",
    );
  });

  it('the functional op rejects a w of the wrong size', async () => {
    await useBackend('cpu');
    const x = tf.ones([2, 3]);
    expect(() => polyReLU(x, [1, 2, 3, 4], 0)).toThrow(ConfigError);
    expect(() => polyReLU(x, [1, 2, 3, 4], 0)).toThrow('polyReLU: w: expected an array of 3 finite numbers, got [1, 2, 3, 4]');
    const w4 = tf.ones([4]);
    expect(() => polyReLU(x, w4, 0)).toThrow(ShapeError);
    expect(() => polyReLU(x, w4, 0)).toThrow('polyReLU: w: expected shape [3], got [4]');
    tf.dispose([x, w4]);
  });

  it('registers under the tinyblocks prefix with weights w [3] and b []', () => {
    const layer = new PolyReLU();
    layer.apply(tfl.input({ shape: [3] }));
    expect(tf.serialization.getRegisteredName(PolyReLU)).toBe('tinyblocks>PolyReLU');
    expect(layer.weights.map((v) => [v.name.split('/').pop(), v.shape])).toEqual([
      ['w', [3]],
      ['b', []],
    ]);
  });

  it('elementwiseFn is the float function with the current parameters frozen', async () => {
    await useBackend('cpu');
    const layer = polyReLULayer({ wInit: [1, 2, 3], bInit: 4 });
    layer.apply(tfl.input({ shape: [3] }));
    const f = layer.elementwiseFn();
    expect(f(2)).toBeCloseTo(8 + 8 + 6 + 4, 6);
    expect(f(-1)).toBeCloseTo(4, 6);
    layer.setWeights([tf.tensor1d([0, 0, 1]), tf.scalar(0)]);
    expect(f(2)).toBeCloseTo(26, 6); // frozen at creation
    expect(layer.elementwiseFn()(2)).toBeCloseTo(2, 6);
  });

  it('counts 3 MACs per element', async () => {
    await useBackend('cpu');
    const input = tfl.input({ shape: [4, 5] });
    const model = tfl.model({ inputs: input, outputs: polyReLULayer().apply(input) as tfl.SymbolicTensor });
    expect(countModel(model).totalMacs).toBe(60);
  });
});
