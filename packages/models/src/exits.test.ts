/**
 * retrainExits on the shipped model (real weights, real Fashion-MNIST subset, wasm): the backbone
 * and the final classifier keep their exact outputs, the new heads take the requested pooling and
 * grid, and a 2x2-grid [avg, max] exit 1 answers better than a global mix-pooled one trained the
 * same way; tuneExitThresholds stays within maxLoss on the images it was tuned on and saves MACs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, initBackend } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { loadFashionMnist } from '@tinyblocks/datasets';
import { EarlyExitHead } from '@tinyblocks/early-exit';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, holdOut, imageBatch, modelInfo, range, retrainExits, shippedModelDir, tuneExitThresholds } from './index.js';

beforeAll(() => initBackend('wasm'));

describe('retrainExits', () => {
  it('keeps the backbone, swaps the heads; a 2x2-grid [avg, max] exit 1 beats global mix pooling', async () => {
    const model = await loadModel(shippedModelDir());
    const info = modelInfo(model);
    const train = loadFashionMnist({ split: 'train', source: 'subset' });
    // thresholds are tuned on test images 0-499 (the backbone has seen every training image), heads reported on 500-1,499
    const { train: tuneSet, heldOut: test } = holdOut(loadFashionMnist({ split: 'test', source: 'subset', limit: 1500 }), 1000);
    const before = evaluate(model, info, test);
    const global = retrainExits(model, info, train, { epochs: 5, heads: [{ pooling: 'mix', grid: 1 }, {}] });
    const r = retrainExits(model, info, train, { epochs: 5, heads: [{ pooling: 'concat', grid: 2 }, {}] });
    expect(global.heads[0]).toEqual({ name: 'exit1', pooling: 'mix', grid: 1 });
    expect(r.heads).toEqual([{ name: 'exit1', pooling: 'concat', grid: 2 }, { name: 'exit2', pooling: 'concat', grid: 1 }]); // {}: as the shipped head
    expect(r.steps).toBe(5 * Math.floor(train.count / 64));
    const exit1 = r.model.getLayer('exit1') as EarlyExitHead;
    expect(exit1.params()).toMatchObject({ pooling: 'concat', grid: 2, channels: 32, features: 2 * 2 * 2 * 32 });
    // the final classifier and the concepts: bit-identical outputs (the backbone is shared, untouched)
    const x = imageBatch(test.images, range(64));
    const [a, b] = [model.predict(x) as tf.Tensor[], r.model.predict(x) as tf.Tensor[]];
    for (const k of [0, 3]) expect(Array.from(b[k]!.dataSync())).toEqual(Array.from(a[k]!.dataSync()));
    tf.dispose([x, ...a, ...b]);
    const after = evaluate(r.model, info, test);
    const mixed = evaluate(global.model, info, test);
    expect(after.accuracy).toBe(before.accuracy);
    console.log(`[models] exit1 accuracy on 1,000 subset test images, 5 epochs on 3,000 images: global mix pooling ${mixed.heads[1]!.accuracy}, 2x2 grid [avg, max] ${after.heads[1]!.accuracy}`);
    expect(after.heads[1]!.accuracy).toBeGreaterThan(mixed.heads[1]!.accuracy + 0.02);
    // thresholds: within maxLoss on the images they were tuned on, and cheaper than no exits
    const tuned = tuneExitThresholds(r.model, tuneSet, { maxLoss: 0.01 });
    expect(tuned.thresholds).toHaveLength(2);
    expect(tuned.accuracy).toBeGreaterThanOrEqual(tuned.baselineAccuracy - 0.01);
    expect(tuned.averageMacs).toBeLessThan(tuned.worstCaseMacs * 0.8);
  }, 240_000);

  it('rejects a spec list of the wrong length and a grid that does not divide the feature map', async () => {
    const model = await loadModel(shippedModelDir());
    const info = modelInfo(model);
    const data = loadFashionMnist({ split: 'train', source: 'subset', limit: 128 });
    expect(() => retrainExits(model, info, data, { epochs: 1, heads: [{}] })).toThrow(ConfigError);
    expect(() => retrainExits(model, info, data, { epochs: 1, heads: [{}] })).toThrow('retrainExits: heads: expected one spec per exit head (2)');
    expect(() => retrainExits(model, info, data, { epochs: 1, heads: [{ grid: 3 }, {}] })).toThrow(/EarlyExitHead 'exit1': input: expected \[batch, H, W, channels\] with H and W divisible by grid 3/);
  });
});
