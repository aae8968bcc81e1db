import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, modelGraph, registerLayer, singleInput } from '@tinyblocks/core';
import { BACKENDS, predictBoth, randomArray, roundTrip, tensorFrom, useBackend } from '@tinyblocks/testkit';
import { describe, expect, it } from 'vitest';
import { FakeQuant, fakeQuant } from './fake-quant.js';
import { quantizeWeightsPerChannel } from '@tinyblocks/int8';
import {
  calibrateRanges,
  detachFakeQuant,
  fakeQuantLayers,
  fakeQuantRanges,
  qatKernels,
  qatWeightHooks,
  withFakeQuant,
  type LayerRanges,
} from './qat.js';

/** A two-output test layer: [x * 2, sigmoid(x)]. */
class TwoOut extends tfl.layers.Layer {
  static className = 'QatTestTwoOut';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const x = singleInput(inputs, this.name);
    return [tf.mul(x, 2), tf.sigmoid(x)];
  }
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    return [s as tfl.Shape, s as tfl.Shape];
  }
}
registerLayer(TwoOut);

const glorot = (seed: number) => tfl.initializers.glorotUniform({ seed });

/**
 * Two inputs -> conv / depthwise (multiplier 2) / dense branches -> concatenate -> dense ->
 * a two-output layer; outputs [twoOut[0], twoOut[1], aux].
 */
function buildGraph(): tfl.LayersModel {
  const img = tfl.input({ shape: [6, 6, 2], name: 'img' });
  const vec = tfl.input({ shape: [5], name: 'vec' });
  let a = tfl.layers.conv2d({ name: 'conv', filters: 3, kernelSize: 3, padding: 'same', kernelInitializer: glorot(1), biasInitializer: 'glorotUniform' }).apply(img) as tfl.SymbolicTensor;
  a = tfl.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, depthMultiplier: 2, depthwiseInitializer: glorot(2) }).apply(a) as tfl.SymbolicTensor;
  a = tfl.layers.flatten({ name: 'flat' }).apply(a) as tfl.SymbolicTensor;
  const b = tfl.layers.dense({ name: 'vecfc', units: 4, activation: 'relu', kernelInitializer: glorot(3) }).apply(vec) as tfl.SymbolicTensor;
  const c = tfl.layers.concatenate({ name: 'cat' }).apply([a, b]) as tfl.SymbolicTensor;
  const d = tfl.layers.dense({ name: 'fc', units: 3, kernelInitializer: glorot(4) }).apply(c) as tfl.SymbolicTensor;
  const [o1, o2] = new TwoOut({ name: 'two' }).apply(d) as tfl.SymbolicTensor[];
  const aux = tfl.layers.dense({ name: 'aux', units: 2, kernelInitializer: glorot(5) }).apply(b) as tfl.SymbolicTensor;
  return tfl.model({ name: 'g', inputs: [img, vec], outputs: [o1!, o2!, aux] });
}

function inputs(n: number, seed: number): tf.Tensor[] {
  return [tensorFrom(randomArray(n * 72, seed), [n, 6, 6, 2]), tensorFrom(randomArray(n * 5, seed + 1), [n, 5])];
}

const flat = (ts: tf.Tensor | tf.Tensor[]) => (Array.isArray(ts) ? ts : [ts]).map((t) => Array.from(t.dataSync()));

describe.each(BACKENDS)('QAT graph tools on %s', (backend) => {
  it('calibrateRanges: the min / max of every layer output and input, one per output of multi-output layers', async () => {
    await useBackend(backend);
    const model = buildGraph();
    const x = inputs(10, 1);
    const ranges = calibrateRanges(model, x, 'minmax', { batchSize: 4 });
    const names = model.layers.map((l) => l.name);
    expect(Object.keys(ranges).sort()).toEqual([...names].sort());
    // the same values straight from a model that outputs the intermediate tensors
    const probe = tfl.model({ inputs: model.inputs, outputs: [model.getLayer('fc').output as tfl.SymbolicTensor, ...(model.getLayer('two').output as tfl.SymbolicTensor[])] });
    const [fc, o1, o2] = (probe.predict(x) as tf.Tensor[]).map((t) => t.dataSync());
    const mm = (a: ArrayLike<number>) => ({ min: Math.min(...Array.from(a)), max: Math.max(...Array.from(a)) });
    expect(ranges['fc']).toEqual(mm(fc!));
    expect(ranges['two']).toEqual([mm(o1!), mm(o2!)]);
    expect(ranges['vec']).toEqual(mm(x[1]!.dataSync()));
    const pct = calibrateRanges(model, x, 'percentile', { percentile: 99 });
    const fcRange = pct['fc'] as { min: number; max: number };
    expect(fcRange.min).toBeGreaterThanOrEqual(mm(fc!).min);
    expect(fcRange.max).toBeLessThanOrEqual(mm(fc!).max);
    expect(() => calibrateRanges(model, x[0]!)).toThrow(ConfigError);
    tf.dispose(x);
  });

  it('withFakeQuant: same outputs with huge ranges, quantised ones with tight ranges; shares weights; detaches', async () => {
    await useBackend(backend);
    const model = buildGraph();
    const x = inputs(8, 2);
    // ranges far wider than the activations on a fine grid (step 64 / 2^22 = 1.5e-5): no clamping,
    // rounding below float32 noise of the layers, so the wrapper computes the same function
    const huge: LayerRanges = Object.fromEntries(model.layers.map((l) => [l.name, { min: -64, max: 64 }]));
    const wide = withFakeQuant(model, huge, { qmin: -(2 ** 22), qmax: 2 ** 22 });
    const [a, b] = predictBoth(model, wide, x as unknown as tf.Tensor);
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(a[i]!)));
    expect(wide.layers.filter((l) => l instanceof FakeQuant)).toHaveLength(model.layers.length + 1); // 'two' has 2 outputs
    // the wrapper reuses the layer objects: same variables
    const ids = (m: tfl.LayersModel) => m.trainableWeights.map((w) => (w.read() as tf.Variable).id).sort();
    expect(ids(wide)).toEqual(ids(model));
    expect(() => modelGraph(model)).toThrow(); // layers are called twice while the wrapper exists
    expect(detachFakeQuant(wide)).toBe(model);
    expect(modelGraph(model).nodes).toHaveLength(model.layers.length - 2);

    // tight ranges on the outputs only: the wrapper's outputs are the fake-quantised originals
    const ref = flat(model.predict(x) as tf.Tensor[]);
    const tight = withFakeQuant(model, { two: [{ min: -0.5, max: 0.5 }, { min: 0, max: 1 }], aux: { min: -0.25, max: 0.25 } });
    const got = flat(tight.predict(x) as tf.Tensor[]);
    const expected = [
      fakeQuant(tf.tensor(ref[0]!), -0.5, 0.5), fakeQuant(tf.tensor(ref[1]!), 0, 1), fakeQuant(tf.tensor(ref[2]!), -0.25, 0.25),
    ].map((t) => Array.from(t.dataSync()));
    expect(got).toEqual(expected);
    expect(got[0]).not.toEqual(ref[0]);
    expect(new Set(got[0]).size).toBeLessThanOrEqual(256);
    expect([...fakeQuantLayers(tight).keys()].sort()).toEqual(['aux', 'two']);
    expect(fakeQuantRanges(tight)['two']).toEqual([{ min: -0.5, max: 0.5 }, { min: 0, max: 1 }]);
    detachFakeQuant(tight);
    expect(() => detachFakeQuant(tight)).toThrow(ConfigError);

    expect(() => withFakeQuant(model, { nope: { min: 0, max: 1 } })).toThrow(ConfigError);
    expect(() => withFakeQuant(model, { two: [{ min: 0, max: 1 }] })).toThrow(ConfigError);
    // disposing a detached wrapper leaves the shared weights alone; the original frees them
    tight.dispose();
    expect(flat(model.predict(x) as tf.Tensor[])).toEqual(ref);
    expect(model.dispose().numDisposedVariables).toBe(model.weights.length);
    tf.dispose(x);
  });

  it('a wrapped model (FakeQuant after every layer) saves and loads with identical outputs', async () => {
    await useBackend(backend);
    const model = buildGraph();
    const x = inputs(4, 3);
    const wrapped = withFakeQuant(model, calibrateRanges(model, x));
    const loaded = await roundTrip(wrapped);
    const [a, b] = predictBoth(wrapped, loaded, x as unknown as tf.Tensor);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(loaded.layers.filter((l) => l.getClassName() === 'FakeQuant')).toHaveLength(model.layers.length + 1);
    expect((loaded.getLayer('two_fq1') as FakeQuant).range()).toEqual((wrapped.getLayer('two_fq1') as FakeQuant).range());
    detachFakeQuant(wrapped);
    tf.dispose(x);
  });

  it('qatWeightHooks swap per-channel fake-quantised kernels in and the float ones back', async () => {
    await useBackend(backend);
    const model = buildGraph();
    const kernels = qatKernels(model);
    expect(kernels.map((k) => k.weight)).toEqual(['conv/kernel', 'dw/depthwise_kernel', 'vecfc/kernel', 'fc/kernel', 'aux/kernel']);
    const floats = model.weights.map((w) => Array.from(w.read().dataSync()));
    const hooks = qatWeightHooks(model);
    hooks.before();
    expect(() => hooks.before()).toThrow(ConfigError);
    for (const k of kernels) {
      const i = model.weights.findIndex((w) => w.originalName === k.weight);
      const shape = model.weights[i]!.shape as number[];
      // depthwise [kh, kw, in, mult]: in*mult output channels
      const qshape = k.weight.startsWith('dw') ? [shape[0]!, shape[1]!, shape[2]! * shape[3]!] : shape;
      const ref = quantizeWeightsPerChannel(floats[i]!, qshape, -1);
      const channels = qshape[qshape.length - 1]!;
      const expected = Array.from(ref.values, (q, j) => Math.fround(q * ref.scales[j % channels]!));
      const got = Array.from(k.variable.dataSync());
      for (let j = 0; j < got.length; j++) expect(Math.abs(got[j]! - expected[j]!)).toBeLessThanOrEqual(1e-6 * Math.abs(expected[j]!));
    }
    // biases are untouched
    model.weights.forEach((w, i) => {
      if (!w.originalName.endsWith('kernel')) expect(Array.from(w.read().dataSync())).toEqual(floats[i]);
    });
    hooks.after();
    model.weights.forEach((w, i) => expect(Array.from(w.read().dataSync())).toEqual(floats[i]));
    expect(() => hooks.after()).toThrow(ConfigError);
  });

  it('a hooked SGD step applies the gradient at the quantised kernels to the float kernels (STE)', async () => {
    await useBackend(backend);
    const model = buildGraph();
    const x = inputs(6, 4);
    const loss = () => tf.tidy(() => tf.addN((model.apply(x) as tf.Tensor[]).map((o) => tf.mean(tf.square(o)))) as tf.Scalar);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const floats = vars.map((v) => Float32Array.from(v.dataSync()));
    const hooks = qatWeightHooks(model);
    // the gradient at the fake-quantised kernels, computed independently
    hooks.before();
    const { grads: ref } = tf.variableGrads(loss, vars);
    const refGrads = vars.map((v) => Float32Array.from(ref[v.name]!.dataSync()));
    tf.dispose(Object.values(ref));
    hooks.after();
    const lr = 0.1;
    const opt = tf.train.sgd(lr);
    tf.tidy(() => {
      hooks.before();
      const { grads } = opt.computeGradients(loss, vars);
      hooks.after();
      opt.applyGradients(grads);
    });
    vars.forEach((v, i) => {
      const now = v.dataSync();
      for (let j = 0; j < now.length; j++) expect(now[j]!).toBeCloseTo(floats[i]![j]! - lr * refGrads[i]![j]!, 5);
    });
    // the float kernels moved off the int8 grid (they are not the quantised values)
    expect(Array.from(vars[0]!.dataSync())).not.toEqual(Array.from(qatKernels(model)[0]!.quantize(vars[0]!).dataSync()));
    opt.dispose();
    tf.dispose(x);
  });
});
