import * as tf from '@tensorflow/tfjs-core';
import { initBackend, modelGraph } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { calibrateRanges, detachFakeQuant, FakeQuant, withFakeQuant, type LayerRanges } from '@tinyblocks/quantize';
import { roundTrip } from '@tinyblocks/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildReference, evaluate, imageBatch, modelInfo, range, shippedModelDir } from './index.js';
import { calibrateModelRanges, evaluateFakeQuant, fineTuneQat } from './qat.js';

beforeAll(() => initBackend('wasm'));

const outputsOf = (t: tf.Tensor | tf.Tensor[]) => (Array.isArray(t) ? t : [t]).map((o) => Float32Array.from(o.dataSync()));

describe('withFakeQuant on the reference architecture (width 0.5)', () => {
  it('wide ranges on a fine grid reproduce the float outputs; tight int8 ranges quantise them', async () => {
    const { model } = buildReference({ width: 0.5, seed: 2 });
    const data = loadFashionMnist({ split: 'train', source: 'subset', limit: 48 });
    const x = imageBatch(data.images, range(32));
    const calib = imageBatch(data.images, range(16, 32));
    const ref = outputsOf(model.predict(x) as tf.Tensor[]);

    const names = model.layers.map((l) => l.name);
    // every range 4x wider than the layer's values (symmetric), on a fine grid of 2^23 steps:
    // nothing clamps and the rounding (< 1e-6 of the range) is float32 noise
    const ranges = calibrateRanges(model, calib);
    const widen = (r: { min: number; max: number }) => {
      const m = 4 * Math.max(Math.abs(r.min), Math.abs(r.max), 1e-3);
      return { min: -m, max: m };
    };
    const wide: LayerRanges = Object.fromEntries(Object.entries(ranges).map(([n, r]) => [n, Array.isArray(r) ? r.map(widen) : widen(r)]));
    expect(Object.keys(wide).sort()).toEqual([...names].sort());
    const same = withFakeQuant(model, wide, { qmin: -(2 ** 22), qmax: 2 ** 22 });
    const got = outputsOf(same.predict(x) as tf.Tensor[]);
    got.forEach((o, k) => {
      for (let i = 0; i < o.length; i++) expect(Math.abs(o[i]! - ref[k]![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(ref[k]![i]!)));
    });
    // every layer got a FakeQuant after each output; the concept bottleneck has two
    expect(same.layers.filter((l) => l instanceof FakeQuant)).toHaveLength(names.length + 1);
    expect(same.getLayer('cbm_fq0')).toBeInstanceOf(FakeQuant);
    expect(same.getLayer('cbm_fq1')).toBeInstanceOf(FakeQuant);
    detachFakeQuant(same);

    // int8 with calibrated ranges (the concept bottleneck gets [logits range, concepts range])
    expect(Array.isArray(ranges['cbm']) && ranges['cbm'].length).toBe(2);
    const q = withFakeQuant(model, ranges);
    const quant = outputsOf(q.predict(x) as tf.Tensor[]);
    quant.forEach((o, k) => {
      expect(Array.from(o)).not.toEqual(Array.from(ref[k]!));
      expect(new Set(o).size).toBeLessThanOrEqual(256); // int8 grid
    });
    // still close to the float logits (this untrained model's classes are near ties, so compare
    // values: ~17% mean relative deviation after ~20 requantisations)
    let dev = 0;
    let mag = 0;
    quant[0]!.forEach((v, i) => {
      dev += Math.abs(v - ref[0]![i]!);
      mag += Math.abs(ref[0]![i]!);
    });
    expect(dev / mag).toBeLessThan(0.35);

    // the wrapped model (every block + FakeQuant) saves and loads
    const loaded = await roundTrip(q);
    const back = outputsOf(loaded.predict(x) as tf.Tensor[]);
    back.forEach((o, k) => expect(Array.from(o)).toEqual(Array.from(quant[k]!)));
    detachFakeQuant(q);

    // detached: the original model is a plain single-use graph again, outputs unchanged
    expect(modelGraph(model).nodes.length).toBe(names.length - 1);
    outputsOf(model.predict(x) as tf.Tensor[]).forEach((o, k) => expect(Array.from(o)).toEqual(Array.from(ref[k]!)));
    tf.dispose([x, calib]);
  }, 20_000);
});

describe('fineTuneQat', () => {
  it('a few QAT steps on the shipped model change the float weights, keep it usable and its quantised accuracy', async () => {
    const model = await loadModel(shippedModelDir());
    const info = modelInfo(model);
    const train = loadFashionMnist({ split: 'train', source: 'subset', limit: 256 });
    const test = loadFashionMnist({ split: 'test', source: 'subset', limit: 200 });
    const ranges = calibrateModelRanges(model, train, { count: 128 });
    const before = evaluateFakeQuant(model, info, test, ranges).accuracy;
    const floatBefore = evaluate(model, info, test).accuracy;
    const w0 = model.getWeights().map((w) => Float32Array.from(w.dataSync()));

    const progress: number[] = [];
    const summary = fineTuneQat(model, info, train, {
      ranges, epochs: 1, batchSize: 32, learningRate: 1e-4, streamEvery: 0, onProgress: (p) => progress.push(p.loss),
    });
    expect(summary.steps).toBe(8);
    expect(Number.isFinite(summary.loss)).toBe(true);
    expect(summary.seconds).toBeGreaterThan(0);
    expect(progress.length).toBeGreaterThan(0);
    expect(summary.ranges).toEqual(ranges); // fixed ranges

    // the float weights moved (kernels and the rest) and stayed off the int8 grid
    const w1 = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
    const changed = w1.filter((w, i) => w.some((v, j) => v !== w0[i]![j])).length;
    expect(changed).toBeGreaterThan(w0.length / 2);
    // the original model is plain again and still works as a float model
    expect(model.layers.some((l) => l instanceof FakeQuant)).toBe(false);
    expect(() => modelGraph(model)).not.toThrow();
    const floatAfter = evaluate(model, info, test).accuracy;
    expect(floatAfter).toBeGreaterThan(floatBefore - 0.05);
    // and its fake-quantised accuracy does not collapse
    const after = evaluateFakeQuant(model, info, test, ranges).accuracy;
    expect(after).toBeGreaterThan(0.75);
    expect(after).toBeGreaterThan(before - 0.05);
  }, 20_000);
});
