import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, countModel, initBackend } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { FASHION_MNIST_SYSTEM_DIR, loadFashionMnist } from '@tinyblocks/datasets';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildArchitecture,
  buildReference,
  calibrateConceptInterventions,
  evaluate,
  imageBatch,
  modelInfo,
  range,
  shippedModelDir,
  trainModel,
} from './index.js';

beforeAll(() => initBackend('wasm'));

describe('reference architecture', () => {
  it('uses every block and has the documented outputs', () => {
    const { model, info } = buildReference();
    const classes = new Set(model.layers.map((l) => l.getClassName()));
    for (const c of ['CRReLU', 'PolyReLU', 'PolyNorm', 'Delta', 'EvoNormB0', 'EvoNormS0', 'ConceptBottleneck', 'EarlyExitHead']) {
      expect(classes.has(c)).toBe(true);
    }
    expect(model.outputs.map((o) => o.shape)).toEqual([[null, 10], [null, 10], [null, 10], [null, 8]]);
    expect(info.outputRoles).toEqual(['logits', 'exit', 'exit', 'concepts']);
    const counts = countModel(model);
    expect(counts.totalParams).toBe(model.countParams());
    // the dense layer reads the 4x4x64 pooled features: 1024 -> 128
    expect(counts.layers.find((l) => l.name === 'fc7')!.macs).toBe(1024 * 128);
    expect(() => buildArchitecture('vgg')).toThrow(ConfigError);
  });
});

describe('seeding', () => {
  it('the same seed builds the same weights (heads and concept bottleneck included)', () => {
    const a = buildReference({ width: 0.5, seed: 4 }).model.getWeights();
    const b = buildReference({ width: 0.5, seed: 4 }).model.getWeights();
    const c = buildReference({ width: 0.5, seed: 5 }).model.getWeights();
    expect(a.length).toBe(b.length);
    a.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(b[i]!.dataSync())));
    const differs = a.filter((w, i) => w.size > 1 && Array.from(w.dataSync()).some((v, j) => v !== c[i]!.dataSync()[j]));
    expect(differs.length).toBeGreaterThan(10);
  });
});

describe('training', () => {
  it('lowers the loss and raises accuracy on the shipped subset (wasm)', () => {
    const data = loadFashionMnist({ split: 'train', source: 'subset', limit: 1024 });
    const { model, info } = buildArchitecture('reference-small', 3);
    const losses: number[] = [];
    const summary = trainModel(model, info, data, {
      epochs: 2, batchSize: 32, onProgress: (p) => losses.push(p.loss),
    });
    expect(summary.steps).toBe(64);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);
    expect(summary.trainAccuracy).toBeGreaterThan(0.2);
    const pairs = calibrateConceptInterventions(model, data.images, 256)!;
    expect(pairs).toHaveLength(8);
    for (const [lo, hi] of pairs) expect(lo).toBeLessThan(hi);
  }, 120_000);
});

describe('evaluate', () => {
  it('counts correct argmax predictions of every head', () => {
    const { model, info } = buildArchitecture('reference-small', 5);
    const data = loadFashionMnist({ split: 'test', source: 'subset', limit: 50 });
    const result = evaluate(model, info, data, 16);
    const outs = model.predict(imageBatch(data.images, range(50))) as tf.Tensor[];
    const expected = Array.from(tf.argMax(outs[0]!, 1).dataSync()).filter((p, i) => p === data.labels[i]).length / 50;
    expect(result.accuracy).toBeCloseTo(expected, 10);
    expect(result.heads.map((h) => h.role)).toEqual(['logits', 'exit', 'exit']);
  });
});

describe('the shipped reference model', () => {
  const dir = shippedModelDir();

  it('is at most 1 MB, loads, and carries its training command and roles', async () => {
    const bytes = fs.readdirSync(dir).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(1024 * 1024);
    const model = await loadModel(dir);
    const meta = model.getUserDefinedMetadata() as { training: { command: string } };
    expect(meta.training.command).toContain('tinyblocks train --arch reference');
    expect(modelInfo(model).outputRoles).toEqual(['logits', 'exit', 'exit', 'concepts']);
  });

  const full = fs.existsSync(path.join(FASHION_MNIST_SYSTEM_DIR, 't10k-images-idx3-ubyte.gz')) || process.env.CI === 'true';
  it.runIf(full)('reaches >= 91% on the full 10,000-image test set, as the README states', async () => {
    const model = await loadModel(dir);
    const test = loadFashionMnist({ split: 'test', source: 'full' });
    const result = evaluate(model, modelInfo(model), test);
    expect(test.count).toBe(10_000);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.91);
    const meta = model.getUserDefinedMetadata() as { evaluation: { accuracy: number } };
    expect(result.accuracy).toBeCloseTo(meta.evaluation.accuracy, 3);
  }, 120_000);
});
