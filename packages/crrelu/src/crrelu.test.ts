import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError } from '@tinyblocks/core';
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
import { CRReLU, crrelu, crreluLayer } from './index.js';

/** Independent float64 reference straight from blocks.md. */
function reference(x: ArrayLike<number>, eps: number): Float64Array {
  return Float64Array.from(x, (v) => (v > 0 ? v : 0) + eps * v * Math.exp((-v * v) / 2));
}

describe.each(BACKENDS)('CRReLU on %s', (backend) => {
  it('forward equals the formula', async () => {
    await useBackend(backend);
    const x = randomArray(200, 1, -4, 4);
    for (const eps of [0.01, -0.3, 1.5]) {
      const y = tf.tidy(() => crrelu(tensorFrom(x, [10, 20]), eps).dataSync());
      expect(maxRelError(y, reference(x, eps))).toBeLessThan(1e-5);
    }
  });

  it('gradients for x and eps equal finite differences', async () => {
    await useBackend(backend);
    // keep x away from 0, where relu has its kink
    const x = randomArray(60, 2, -3, 3).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const eps = 0.37;
    const r = projection(60, 3);
    const [gx, geps] = tf.tidy(() => {
      const f = (xt: tf.Tensor, et: tf.Tensor) => tf.sum(tf.mul(crrelu(xt, et as tf.Scalar), tensorFrom(r, [60])));
      const g = tf.grads(f)([tensorFrom(x, [60]), tf.scalar(eps)]);
      return [g[0]!.dataSync(), g[1]!.dataSync()];
    });
    const [nx, neps] = finiteDifferences((p) => dot(reference(p[0]!, p[1]![0]!), r), [x, Float64Array.of(eps)]);
    expect(maxRelError(gx, nx!)).toBeLessThan(1e-4);
    expect(maxRelError(geps, neps!)).toBeLessThan(1e-4);
  });

  it('a few training steps lower the loss (eps learns)', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [8] });
    const act = crreluLayer({ epsInit: 0.01 });
    const out = tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(
      act.apply(tfl.layers.dense({ units: 8, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(input)),
    ) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const x = tensorFrom(randomArray(64 * 8, 4), [64, 8]);
    const y = tf.tidy(() => tf.sin(tf.sum(x, 1, true)));
    const { before, after } = trainSteps(model, x, y, mse, 30);
    expect(after).toBeLessThan(before * 0.9);
    expect(act.epsValue()).not.toBeCloseTo(0.01, 6);
    tf.dispose([x, y]);
  });

  it('save -> load gives identical outputs and keeps eps', async () => {
    await useBackend(backend);
    const input = tfl.input({ shape: [5] });
    const model = tfl.model({ inputs: input, outputs: crreluLayer({ epsInit: 0.25 }).apply(input) as tfl.SymbolicTensor });
    const loaded = await roundTrip(model);
    const x = tensorFrom(randomArray(20, 5), [4, 5]);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(loaded.layers[1]).toBeInstanceOf(CRReLU);
    expect(loaded.layers[1]!.getClassName()).toBe('CRReLU');
    expect((loaded.layers[1] as CRReLU).epsValue()).toBeCloseTo(0.25, 6);
  });
});

describe('CRReLU configuration', () => {
  it('rejects a non-finite epsInit with a typed error naming layer, field, expected and got', () => {
    expect(() => crreluLayer({ name: 'act1', epsInit: Number.NaN })).toThrow(ConfigError);
    expect(() => crreluLayer({ name: 'act1', epsInit: Number.NaN })).toThrow(
      "CRReLU 'act1': epsInit: expected a finite number, got NaN",
    );
  });

  it('registers under the tinyblocks prefix and exposes its float function', () => {
    const layer = new CRReLU({ epsInit: 0.5 });
    layer.apply(tfl.input({ shape: [3] }));
    expect(tf.serialization.getRegisteredName(CRReLU)).toBe('tinyblocks>CRReLU');
    expect(layer.elementwiseFn()(-1)).toBeCloseTo(0.5 * -1 * Math.exp(-0.5), 6);
  });
});
