import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, ShapeError, collectAuxLosses } from '@tinyblocks/core';
import {
  BACKENDS,
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
import { Delta, deltaLayer, temporalSparsity } from './index.js';
import { awayFromBoundaries, refQuantize, refSparsityLoss } from './test-reference.js';

const glorot = (seed: number) => tfl.initializers.glorotUniform({ seed });
const thresholdVar = (layer: Delta) => layer.trainableWeights[0]!.read() as tf.Variable;

/** A small sequence model: dense -> Delta -> dense, on [batch, time, features] (or frames). */
function seqModel(delta: Delta, shape: number[]): tfl.LayersModel {
  const input = tfl.input({ shape });
  const h = tfl.layers.dense({ units: 8, kernelInitializer: glorot(1) }).apply(input) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 1, kernelInitializer: glorot(2) }).apply(delta.apply(h)) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe.each(BACKENDS)('Delta layer on %s', (backend) => {
  const cases = [
    { granularity: 'channel', timeAxis: 1, shape: [2, 4, 3, 2], thr: [0.1, -0.3] },
    { granularity: 'neuron', timeAxis: 1, shape: [2, 4, 3, 2], thr: [0.1, 0.2, 0.15, -0.3, 0.25, 0.05] },
    { granularity: 'layer', timeAxis: 1, shape: [2, 4, 3, 2], thr: [0.2] },
    { granularity: 'neuron', timeAxis: 0, shape: [6, 3, 2], thr: [0.1, 0.2, 0.15, 0.3, 0.25, 0.05] },
  ] as const;

  it.each(cases)('forward equals the formula ($granularity, timeAxis $timeAxis)', async ({ granularity, timeAxis, shape, thr }) => {
    await useBackend(backend);
    for (const relu of [true, false]) {
      const layer = deltaLayer({ granularity, timeAxis, relu });
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomArray(n, 1, -1, 1);
      layer.apply(tfl.input({ batchShape: [null, ...shape.slice(1)] }));
      expect(layer.paramsShape()).toEqual(granularity === 'layer' ? [1] : granularity === 'channel' ? [2] : [3, 2]);
      layer.setWeights([tensorFrom(thr, layer.paramsShape())]);
      const y = tf.tidy(() => (layer.apply(tensorFrom(x, [...shape])) as tf.Tensor).dataSync());
      expect(maxRelError(y, refQuantize(x, thr, relu))).toBeLessThan(1e-5);
      expect(layer.params()).toEqual(Array.from(Float32Array.from(thr, Math.abs)));
    }
  });

  it('gradients of (projection + aux loss) wrt input and threshold follow the documented formula', async () => {
    await useBackend(backend);
    const shape = [2, 5, 3];
    const thr = Float64Array.of(0.1, 0.25, 0.2);
    const x = awayFromBoundaries(randomArray(30, 7, -1, 1), thr);
    const r = projection(30, 8);
    const layer = deltaLayer({ name: 'd', spRate: 0.5, fanOut: 3 });
    layer.apply(tfl.input({ shape: [5, 3] }));
    layer.setWeights([tensorFrom(thr, [3])]);
    const xv = tf.variable(tensorFrom(x, shape));
    const { grads } = tf.variableGrads(() => {
      const q = layer.apply(xv, { training: true }) as tf.Tensor;
      const aux = layer.takeAuxLoss();
      expect(aux).not.toBeNull();
      return tf.add(tf.sum(tf.mul(q, tensorFrom(r, shape))), aux!) as tf.Scalar;
    }, [xv, thresholdVar(layer)]);
    const gx = grads[xv.name]!.dataSync();
    const gt = grads[thresholdVar(layer).name]!.dataSync();
    const total = (q: Float64Array) => q.reduce((a, v, i) => a + v * r[i]!, 0) + refSparsityLoss(q, shape, 1, 0.5, 3);
    // x: straight-through: dL/dq (exact finite differences of the float64 loss in q), masked by relu
    const [dq] = finiteDifferences((p) => total(p[0]!), [refQuantize(x, thr, true)]);
    expect(maxRelError(gx, dq!.map((v, i) => (x[i]! > 0 ? v : 0)))).toBeLessThan(1e-4);
    // threshold: the authors' sign-flipped gradient = minus the finite difference of the float64 forward
    const [, fdT] = finiteDifferences((p) => total(refQuantize(p[0]!, p[1]!, true)), [x, thr], 1e-6);
    expect(maxRelError(gt, fdT!.map((v) => -v))).toBeLessThan(1e-4);
    tf.dispose([xv, ...Object.values(grads)]);
  });

  it('records its sparsity loss in training calls, also through model.apply, and takeAuxLoss clears it', async () => {
    await useBackend(backend);
    const delta = deltaLayer({ name: 'd', spRate: 0.3, fanOut: 2, timeAxis: 0, clipLength: 3 });
    const input = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: input, outputs: delta.apply(input) as tfl.SymbolicTensor });
    const x = randomArray(8 * 4, 9, -1, 1);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      model.apply(tensorFrom(x, [8, 4])); // inference: records nothing
      expect(delta.takeAuxLoss()).toBeNull();
      model.apply(tensorFrom(x, [8, 4]), { training: true });
      const aux = collectAuxLosses(model);
      expect(aux).not.toBeNull();
      const ref = refSparsityLoss(refQuantize(x, [0.1], true), [8, 4], 0, 0.3, 2, 3);
      expect(aux!.dataSync()[0]).toBeCloseTo(ref, 5);
      expect(delta.takeAuxLoss()).toBeNull();
    });
    expect(tf.memory().numTensors).toBe(before); // nothing kept behind
  });

  it('a few training steps lower task + sparsity loss', async () => {
    await useBackend(backend);
    const delta = deltaLayer({ thresholdInit: 0.05, spRate: 0.01 });
    const model = seqModel(delta, [6, 4]);
    const x = tensorFrom(randomArray(16 * 6 * 4, 4), [16, 6, 4]);
    const y = tf.tidy(() => tf.sin(tf.sum(x, -1, true)));
    let auxSeen = 0;
    const loss = (yt: tf.Tensor, yp: tf.Tensor) => {
      const aux = collectAuxLosses(model);
      if (aux) auxSeen++;
      return tf.add(mse(yt, yp), aux ?? 0) as tf.Scalar;
    };
    const t0 = delta.params();
    const { before, after } = trainSteps(model, x, y, loss, 40);
    expect(after).toBeLessThan(before * 0.9);
    expect(auxSeen).toBeGreaterThanOrEqual(40);
    expect(delta.params()).not.toEqual(t0);
    tf.dispose([x, y]);
  });

  it('the sparsity loss alone raises the thresholds and the temporal sparsity', async () => {
    await useBackend(backend);
    const delta = deltaLayer({ thresholdInit: 0.05, spRate: 1 });
    const model = seqModel(delta, [6, 4]);
    const x = tensorFrom(randomArray(16 * 6 * 4, 5), [16, 6, 4]);
    const hidden = tfl.model({ inputs: model.inputs, outputs: delta.output as tfl.SymbolicTensor });
    const sparsity = () => tf.tidy(() => temporalSparsity(hidden.predict(x) as tf.Tensor));
    const s0 = sparsity();
    const onlyAux = (_: tf.Tensor, yp: tf.Tensor) => tf.add(collectAuxLosses(model)!, tf.mul(tf.sum(yp), 0)) as tf.Scalar;
    const { before, after } = trainSteps(model, x, x, onlyAux, 30, 0.02);
    expect(after).toBeLessThan(before);
    for (const t of delta.params()) expect(t).toBeGreaterThan(0.05);
    expect(sparsity()).toBeGreaterThan(s0);
    x.dispose();
  });

  it('save -> load gives identical outputs and keeps thresholds and config', async () => {
    await useBackend(backend);
    const delta = deltaLayer({ name: 'd', granularity: 'neuron', timeAxis: 0, clipLength: 4, spRate: 0.2, fanOut: 9, relu: false });
    const input = tfl.input({ shape: [3, 2] });
    const model = tfl.model({ inputs: input, outputs: delta.apply(input) as tfl.SymbolicTensor });
    delta.setWeights([tensorFrom([0.1, 0.2, 0.15, -0.3, 0.25, 0.05], [3, 2])]);
    const loaded = await roundTrip(model);
    const x = tensorFrom(randomArray(8 * 6, 6), [8, 3, 2]);
    const [a, b] = predictBoth(model, loaded, x);
    expect(Array.from(b)).toEqual(Array.from(a));
    const l = loaded.getLayer('d') as Delta;
    expect(l).toBeInstanceOf(Delta);
    expect(l.params()).toEqual(delta.params());
    expect([l.granularity, l.timeAxis, l.clipLength, l.spRate, l.fanOut, l.relu]).toEqual(['neuron', 0, 4, 0.2, 9, false]);
    x.dispose();
  });
});

describe('Delta configuration', () => {
  it('rejects bad config with a typed error naming layer, field, expected and got', () => {
    const bad: Array<[object, string]> = [
      [{ thresholdInit: 0 }, "Delta 'd1': thresholdInit: expected a number > 0, got 0"],
      [{ thresholdInit: -0.1 }, "Delta 'd1': thresholdInit: expected a number > 0, got -0.1"],
      [{ granularity: 'pixel' }, `Delta 'd1': granularity: expected one of 'channel', 'neuron', 'layer', got "pixel"`],
      [{ spRate: -1 }, "Delta 'd1': spRate: expected a number >= 0, got -1"],
      [{ timeAxis: 2 }, "Delta 'd1': timeAxis: expected 0 or 1, got 2"],
      [{ clipLength: 4 }, "Delta 'd1': clipLength: expected an integer > 0, used with timeAxis 0, got 4"],
    ];
    for (const [args, message] of bad) {
      expect(() => deltaLayer({ name: 'd1', ...args })).toThrow(ConfigError);
      expect(() => deltaLayer({ name: 'd1', ...args })).toThrow(message);
    }
  });

  it('rejects an input without a time axis with a ShapeError', async () => {
    await useBackend('cpu');
    const layer = deltaLayer({ name: 'd1' });
    expect(() => layer.apply(tfl.input({ shape: [4] }))).toThrow(ShapeError);
    expect(() => layer.apply(tfl.input({ shape: [4] }))).toThrow(
      `Delta 'd1': input: expected rank >= 3 [batch, time, ...features], got "rank 2 (shape [?, 4])"`,
    );
    expect(() => deltaLayer({ name: 'd2', timeAxis: 0 }).apply(tf.zeros([5]))).toThrow(
      `Delta 'd2': input: expected rank >= 2 [time, ...features], got "rank 1 (shape [5])"`,
    );
  });

  it('registers under the tinyblocks prefix and costs no MACs', () => {
    expect(tf.serialization.getRegisteredName(Delta)).toBe('tinyblocks>Delta');
    expect(new Delta().countMacs()).toBe(0);
  });
});
