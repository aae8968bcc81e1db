/**
 * The shipped reference model in int8, measured by the TypeScript integer reference (the bytes
 * the generated C produces) on the FULL Fashion-MNIST test set, against the float model on the
 * same images. Target: within 0.5 percentage points.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { fullSetDir, loadFashionMnist, movingFashionMnist } from '@tinyblocks/datasets';
import { createStream, runGraph } from '@tinyblocks/int8';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, evaluateInt8, imageCodes, modelInfo, quantizeWithImages, shippedModelDir } from './index.js';

const HAS_FULL = fs.existsSync(path.join(fullSetDir(), 't10k-images-idx3-ubyte.gz')) || fs.existsSync(path.join(fullSetDir(), 't10k-images-idx3-ubyte'));
const CI = process.env.CI === 'true';
if (!HAS_FULL && !CI) console.warn('[models] full Fashion-MNIST test set not installed: the int8 full-test-set accuracy test is skipped (apt-get install dataset-fashion-mnist)');

beforeAll(() => initBackend('wasm'));

describe('int8 shipped model', () => {
  it.skipIf(!HAS_FULL && !CI)('full test set: int8 accuracy within 0.5 pp of float', async () => {
    const model = await loadModel(shippedModelDir());
    const info = modelInfo(model);
    const graph = quantizeWithImages(model, loadFashionMnist({ split: 'train', source: 'subset' }), { outputRoles: info.outputRoles });
    const test = loadFashionMnist({ split: 'test', source: 'full' });
    expect(test.count).toBe(10000);
    const float = evaluate(model, info, test);
    const int8 = evaluateInt8(graph, test);
    console.log(`[models] full test set: float ${float.accuracy.toFixed(4)}, int8 ${int8.accuracy.toFixed(4)} (${int8.heads.map((h) => `${h.name} ${h.accuracy.toFixed(4)}`).join(', ')})`);
    expect(int8.count).toBe(10000);
    expect(Math.abs(float.accuracy - int8.accuracy)).toBeLessThanOrEqual(0.005);
    // every head stays close too
    for (const h of int8.heads.filter((x) => x.role === 'exit')) {
      const f = float.heads.find((x) => x.role === 'exit' && h.name.startsWith(x.name))!;
      expect(Math.abs(f.accuracy - h.accuracy)).toBeLessThan(0.02);
    }
  }, 600_000);

  it('early exits stop the computation and delta streams skip MACs (int8 reference)', async () => {
    const model = await loadModel(shippedModelDir());
    const info = modelInfo(model);
    const graph = quantizeWithImages(model, loadFashionMnist({ split: 'train', source: 'subset' }), { outputRoles: info.outputRoles, calibCount: 200 });
    const set = loadFashionMnist({ split: 'test', source: 'subset', limit: 200 });
    const r = evaluateInt8(graph, set, { exits: true });
    expect(r.earlyExit!.saved).toBeGreaterThan(0.05);
    expect(r.earlyExit!.accuracy).toBeGreaterThan(r.accuracy - 0.02);
    expect(r.earlyExit!.exitRates.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.1);
    // an exit taken returns that head's logits and skips everything after it
    const index = Array.from({ length: set.count }, (_, i) => i).find((i) => runGraph(graph, imageCodes(graph, set, i), { exits: true }).exitTaken >= 0);
    expect(index).toBeDefined();
    const x = imageCodes(graph, set, index!);
    const full = runGraph(graph, x);
    const early = runGraph(graph, x, { exits: true });
    const head = graph.outputs.filter((o) => o.role === 'exit')[early.exitTaken]!;
    expect(Array.from(early.logits)).toEqual(Array.from(full.tensors[head.tensor]!));
    expect(early.macs).toBeLessThan(full.macs);
    const final = graph.outputs.find((o) => o.role === 'logits')!;
    expect(early.tensors[final.tensor]).toBeUndefined();
    // the delta layer on a moving stream: fewer MACs than a dense layer, every frame equal to a fresh run
    const clip = movingFashionMnist({ image: set.images.subarray(0, 784), frames: 16, seed: 3 });
    const frames = { images: clip, labels: new Uint8Array(16), count: 16 };
    const at = graph.nodes.findIndex((n) => n.op === 'delta_dense');
    const dense = (graph.nodes[at]!['weights'] as Int8Array).length;
    const stream = createStream(graph);
    let executed = 0;
    for (let t = 0; t < 16; t++) {
      const f = imageCodes(graph, frames, t);
      const r = stream.run(f);
      executed += r.nodeMacs[at]!;
      expect(Array.from(r.logits)).toEqual(Array.from(runGraph(graph, f).logits));
    }
    expect(executed).toBeLessThan((16 * dense) / 2);
  }, 300_000);
});
