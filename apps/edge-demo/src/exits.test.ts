/**
 * Early exits in the page: the accuracy / average-MACs curve over the shipped test images equals
 * what Node's early-exit API computes for the same model; moving the slider changes where
 * early-exit inference stops for an image, and what it spends, as earlyExitPredict in Node says.
 */
import * as tf from '@tensorflow/tfjs-core';
import { applyThresholds, concatHeadProbabilities, earlyExitPredict, headProbabilities, maxProbability, type HeadProbabilities } from '@tinyblocks/early-exit';
import { imageBatch, range } from '@tinyblocks/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDemo, SKIP, type DemoPage } from '../test/browser.js';
import { nodeModel, pixelTensor, pixelsOf, testSubset, tunedThresholds } from '../test/node-reference.js';
import type { PageState } from './state.js';

let demo: DemoPage;
let s: PageState;
let node: HeadProbabilities;

beforeAll(async () => {
  if (SKIP) return;
  demo = await openDemo();
  s = await demo.until('s.curve !== null', 90_000);
  // Node: every head on every shipped test image (chunks of 200), with the early-exit package
  const model = await nodeModel();
  const set = testSubset();
  const parts: HeadProbabilities[] = [];
  for (let from = 0; from < set.count; from += 200) {
    const idx = range(Math.min(200, set.count - from)).map((i) => from + i);
    const x = imageBatch(set.images, idx);
    parts.push(headProbabilities(model, x, idx.map((i) => set.labels[i]!)));
    x.dispose();
  }
  node = concatHeadProbabilities(parts);
}, 180_000);
afterAll(() => demo?.close());

/** Same answers up to a couple of images whose confidence sits on a threshold (float rounding). */
function expectClose(page: { accuracy: number; averageMacs: number; exitHistogram: number[] }, ref: { accuracy: number; averageMacs: number; exitHistogram: number[] }) {
  const n = ref.exitHistogram.reduce((a, b) => a + b, 0);
  expect(Math.abs(page.accuracy - ref.accuracy) * n).toBeLessThanOrEqual(2);
  expect(Math.abs(page.averageMacs - ref.averageMacs) / ref.averageMacs).toBeLessThan(2e-3);
  page.exitHistogram.forEach((h, i) => expect(Math.abs(h - ref.exitHistogram[i]!)).toBeLessThanOrEqual(2));
}

describe.skipIf(SKIP)('early exits in the page', () => {
  it('the curve over the 2,000 shipped test images equals Node applyThresholds on the same model', async () => {
    const c = s.curve!;
    expect(c.images).toBe(testSubset().count);
    expect(c.heads).toEqual(node.heads);
    expect(c.exitMacs).toEqual(node.exitMacs);
    expect(c.fullModelMacs).toBe(node.fullModelMacs);
    expect(c.points.length).toBeGreaterThan(10);
    for (const p of c.points) expectClose(p, applyThresholds(node, [p.threshold, p.threshold]));
    expect(c.tuned.thresholds).toEqual(await tunedThresholds());
    expectClose(c.tuned, applyThresholds(node, c.tuned.thresholds));
    expect(Math.abs(c.finalAccuracy - applyThresholds(node, [2, 2]).accuracy)).toBeLessThanOrEqual(2 / c.images);
    // the chart: a dot per threshold, the tuned and the current setting as rings
    expect(await demo.page.locator('#curve circle.pt').count()).toBe(c.points.length);
    expect(await demo.page.locator('#curve circle.tuned').count()).toBe(1);
    expect(await demo.page.locator('#curve circle.current').count()).toBe(1);
    console.log(`edge demo: tuned exits ${c.tuned.thresholds.join('/')} on the ${c.images} shipped test images: accuracy ${c.tuned.accuracy.toFixed(4)} (no exits ${c.finalAccuracy.toFixed(4)}), ${((1 - c.tuned.averageMacs / c.fullModelMacs) * 100).toFixed(1)}% fewer MACs; curve in ${c.ms.toFixed(0)} ms`);
  });

  it('the slider moves where an image exits, and what it spends, as earlyExitPredict in Node', async () => {
    const tuned = await tunedThresholds();
    const low = 0.7;
    // a test image that exit1 answers at 0.7 but not at the tuned threshold
    const k = node.classes;
    const i = range(node.labels.length).find((j) => {
      const c = maxProbability(node.probabilities[0]!.subarray(j * k, (j + 1) * k));
      return c >= low + 0.02 && c < tuned[0]! - 0.02;
    })!;
    expect(i).toBeDefined();
    const tunedRun = await demo.page.evaluate((j) => window.__tinyblocks.api!.classifyTest(j), i);
    expect(tunedRun.early.exitAt).not.toBe('exit1');

    await demo.page.locator('#threshold').fill(String(low));
    const after = await demo.until(`s.exitSetting?.mode === 'slider' && s.current?.early.thresholds[0] === ${low}`);
    expect(after.exitSetting!.thresholds).toEqual([low, low]);
    expect(await demo.page.isChecked('#mode-slider')).toBe(true);
    const e = after.current!.early;
    expect(e.exitAt).toBe('exit1');
    expect(e.macs).toBeLessThan(tunedRun.early.macs);
    expect(await demo.page.textContent('#exitAt')).toContain('answered at exit1');

    const model = await nodeModel();
    for (const [thresholds, run] of [[tuned, tunedRun.early], [[low, low], e]] as const) {
      const x = pixelTensor(pixelsOf(i));
      const r = earlyExitPredict(model, x, { rule: 'confidence', threshold: [...thresholds] });
      tf.dispose(x);
      expect(run.exitIndex).toBe(r.samples[0]!.exitIndex);
      expect(run.macs).toBe(r.samples[0]!.macs);
      expect(run.predicted).toBe(r.samples[0]!.prediction);
    }
    expectClose(after.exitSetting!.point!, applyThresholds(node, [low, low]));
    expect(await demo.page.textContent('#exitPoint')).toContain(`0.700 / 0.700: accuracy ${after.exitSetting!.point!.accuracy.toFixed(4)}`);

    await demo.page.check('#mode-tuned');
    const back = await demo.until(`s.exitSetting?.mode === 'tuned'`);
    expect(back.exitSetting!.thresholds).toEqual(tuned);
    expect(back.current!.early.exitAt).toBe(tunedRun.early.exitAt);
  });
});
