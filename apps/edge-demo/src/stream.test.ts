/**
 * The delta layer on a moving stream in the page: frames really play; per frame the zero deltas
 * at fc7's input and the MACs the delta network skips equal what Node computes from the delta
 * layer's outputs on the same clip; the int8 delta_dense MACs equal the integer reference's
 * stream, frame by frame.
 */
import * as tf from '@tensorflow/tfjs-core';
import { modelGraph, runGraph as runFloatGraph } from '@tinyblocks/core';
import { FASHION_MNIST_CLASSES, movingFashionMnist } from '@tinyblocks/datasets';
import { Delta, temporalSparsity } from '@tinyblocks/delta';
import { createStream } from '@tinyblocks/int8';
import { imageBatch, range } from '@tinyblocks/models';
import { describe, expect, it } from 'vitest';
import { demoPage, SKIP } from '../test/browser.js';
import { builtInt8Graph, codesOf, nodeModel, pixelsOf, testSubset } from '../test/node-reference.js';
import type { StreamState } from './state.js';

const demo = demoPage('s.stream !== null && s.stream.frames[0].int8 !== null');

const FRAMES = 32;
const clipOf = (i: number) => movingFashionMnist({ image: Uint8Array.from(pixelsOf(i)), frames: FRAMES, seed: 7 });

/** Node: the delta layer's outputs for every frame, and fc7's width. */
async function nodeDelta(i: number): Promise<{ q: tf.Tensor; rows: Float32Array[]; units: number }> {
  const model = await nodeModel();
  const graph = modelGraph(model);
  const node = graph.nodes.find((n) => n.layer instanceof Delta)!;
  const x = imageBatch(clipOf(i), range(FRAMES));
  const q = tf.tidy(() => runFloatGraph(graph, x, { stopAfter: (n) => n === node }).get(node.outputs[0]!)!);
  x.dispose();
  const data = q.dataSync() as Float32Array;
  const width = data.length / FRAMES;
  return { q, rows: range(FRAMES).map((t) => data.subarray(t * width, (t + 1) * width)), units: model.getLayer('fc7').getWeights()[1]!.shape[0]! };
}

describe.skipIf(SKIP)('delta stream in the page', () => {
  it('plays the frames in a loop, and pauses', async () => {
    const a = (await demo().state()).stream!;
    await demo().page.waitForTimeout(700);
    const b = (await demo().state()).stream!;
    expect(b.playing).toBe(true);
    expect(b.drawn).toBeGreaterThan(a.drawn + 2);
    // the canvas shows the frame the state says, the clip's pixels
    const shown = await demo().page.evaluate(() => {
      const c = document.getElementById('frame') as HTMLCanvasElement;
      const s = window.__tinyblocks.stream!;
      const d = c.getContext('2d')!.getImageData(0, 0, 28, 28).data;
      return { shown: s.shown, pixels: Array.from({ length: 784 }, (_, p) => 255 - d[p * 4]!) };
    });
    expect(shown.pixels).toEqual(b.clip.slice(shown.shown * 784, (shown.shown + 1) * 784));
    expect(await demo().page.textContent('#frameText')).toMatch(/^frame \d+\/32: .+; zero deltas [\d.]+% \(/);

    await demo().page.click('#play');
    const paused = await demo().until('s.stream.playing === false');
    await demo().page.waitForTimeout(400);
    expect((await demo().state()).stream!.drawn).toBe(paused.stream!.drawn);
    await demo().page.click('#play');
    await demo().until('s.stream.playing === true');
  });

  it('zero deltas and skipped MACs per frame equal Node on the same clip; int8 MACs equal the integer stream', async () => {
    const s: StreamState = (await demo().state()).stream!;
    expect(s.index).toBe(0);
    expect(s.clip).toEqual(Array.from(clipOf(0)));
    const { q, rows, units } = await nodeDelta(0);
    expect(s.frames).toHaveLength(FRAMES);
    for (let t = 0; t < FRAMES; t++) {
      const prev = t === 0 ? new Float32Array(rows[0]!.length) : rows[t - 1]!;
      const zero = rows[t]!.reduce((n, v, j) => n + (v === prev[j] ? 1 : 0), 0);
      const f = s.frames[t]!;
      expect(f.totalDeltas).toBe(rows[t]!.length);
      expect(Math.abs(f.zeroDeltas - zero)).toBeLessThanOrEqual(2);
      expect(f.macs).toBe((f.totalDeltas - f.zeroDeltas) * units);
      expect(f.denseMacs).toBe(f.totalDeltas * units);
      expect(f.maxError).toBeLessThan(1e-3); // the delta network's fc7 output = the dense layer's
    }
    // the share of unchanged outputs between frames: temporalSparsity, as `npm run demo` reports it
    const later = s.frames.slice(1);
    const pageShare = later.reduce((a, f) => a + f.zeroDeltas, 0) / later.reduce((a, f) => a + f.totalDeltas, 0);
    expect(Math.abs(pageShare - temporalSparsity(q, 0))).toBeLessThan(1e-3);
    expect(pageShare).toBeGreaterThan(0.5);
    q.dispose();

    const graph = builtInt8Graph();
    const stream = createStream(graph);
    const at = graph.nodes.findIndex((n) => n.op === 'delta_dense');
    const clip = clipOf(0);
    for (let t = 0; t < FRAMES; t++) {
      const r = stream.run(codesOf(graph, clip.subarray(t * 784, (t + 1) * 784)));
      expect(s.frames[t]!.int8!.macs).toBe(r.nodeMacs[at]);
    }
    console.log(`edge demo: delta stream of test image 0, ${(pageShare * 100).toFixed(1)}% of fc7's inputs unchanged between frames; int8 executed ${s.frames.reduce((a, f) => a + f.int8!.macs, 0)} of ${s.frames.reduce((a, f) => a + f.int8!.denseMacs, 0)} MACs`);
  });

  it('"stream the current image" streams the image on screen', async () => {
    const sneaker = testSubset().labels.indexOf(FASHION_MNIST_CLASSES.indexOf('Sneaker'));
    await demo().page.evaluate((i) => window.__tinyblocks.api!.classifyTest(i), sneaker);
    await demo().page.click('#streamThis');
    const s = await demo().until(`s.stream.index === ${sneaker}`);
    expect(s.stream!.clip).toEqual(Array.from(clipOf(sneaker)));
    expect(s.stream!.playing).toBe(true);
  });
});
