/**
 * The concept bottleneck in the page: concept activations as Node computes them, and an
 * intervention set with the page's controls changing the output exactly as the Node API
 * (`intervene`) and the int8 integer reference (concept codes overwritten) do.
 */
import * as tf from '@tensorflow/tfjs-core';
import { intervene } from '@tinyblocks/concept-bottleneck';
import { FASHION_CONCEPTS, FASHION_MNIST_CLASSES } from '@tinyblocks/datasets';
import { runGraph } from '@tinyblocks/int8';
import { describe, expect, it } from 'vitest';
import { demoPage, screenshot, SKIP } from '../test/browser.js';
import { builtInt8Graph, codesOf, maxAbsDiff, nodeModel, pixelTensor, pixelsOf, testSubset } from '../test/node-reference.js';

const demo = demoPage('s.ready && s.timings.int8Ready !== null');

// the CLI demo's intervention: a sneaker said to cover the ankle and to be closed
const SNEAKER = testSubset().labels.indexOf(FASHION_MNIST_CLASSES.indexOf('Sneaker'));
const HIGH_TOP = FASHION_CONCEPTS.indexOf('high top');
const OPEN = FASHION_CONCEPTS.indexOf('open');

async function nodeIntervene(pixels: number[], values: Record<number, number>) {
  const model = await nodeModel();
  const x = pixelTensor(pixels);
  const { logits, concepts } = intervene(model, x, values);
  const r = { logits: Array.from(await logits.data()), concepts: Array.from(await concepts.data()) };
  tf.dispose([x, logits, concepts]);
  return r;
}

describe.skipIf(SKIP)('concept bottleneck in the page', () => {
  it("shows the image's concept activations as Node computes them", async () => {
    const p = await demo().page.evaluate((i) => window.__tinyblocks.api!.classifyTest(i), SNEAKER);
    const node = await nodeIntervene(pixelsOf(SNEAKER), {});
    expect(p.concepts).toHaveLength(FASHION_CONCEPTS.length);
    expect(maxAbsDiff(p.concepts, node.concepts)).toBeLessThanOrEqual(1e-4);
    expect(await demo().page.locator('#conceptTable select').count()).toBe(FASHION_CONCEPTS.length);
    expect(await demo().page.textContent('#conceptTable')).toContain('high top');
  });

  it('an intervention from the controls changes the output as intervene() and the int8 graph do', async () => {
    const before = (await demo().state()).current!;
    expect(before.index).toBe(SNEAKER);
    await demo().page.selectOption(`select[data-concept="${HIGH_TOP}"]`, '1');
    await demo().page.selectOption(`select[data-concept="${OPEN}"]`, '0');
    const s = await demo().until(`Object.keys(s.intervention?.values ?? {}).length === 2`);
    const iv = s.intervention!;
    expect(iv.values).toEqual({ [HIGH_TOP]: 1, [OPEN]: 0 });
    expect(iv.before.predicted).toBe(before.predicted);

    const node = await nodeIntervene(pixelsOf(SNEAKER), { [HIGH_TOP]: 1, [OPEN]: 0 });
    const nodePredicted = node.logits.indexOf(Math.max(...node.logits));
    expect(iv.after.predicted).toBe(nodePredicted);
    for (let k = 0; k < 10; k++) expect(Math.abs(iv.after.logits[k]! - node.logits[k]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(node.logits[k]!)));
    // the output really changes: the sneaker becomes an ankle boot (as `npm run demo` reports)
    expect(FASHION_MNIST_CLASSES[iv.before.predicted]).toBe('Sneaker');
    expect(FASHION_MNIST_CLASSES[iv.after.predicted]).toBe('Ankle boot');
    expect(await demo().page.textContent('#interventionResult')).toContain('Sneaker → Ankle boot');

    const graph = builtInt8Graph();
    const codes = new Int8Array(FASHION_CONCEPTS.length).fill(-1);
    codes[HIGH_TOP] = 1;
    codes[OPEN] = 0;
    const ref = runGraph(graph, codesOf(graph, pixelsOf(SNEAKER)), { interventions: codes });
    expect(iv.int8!.logits).toEqual(Array.from(ref.logits));
    expect(iv.int8!.after).toBe(Array.from(ref.logits).indexOf(Math.max(...ref.logits)));
    await screenshot(demo().page, 'intervention.png');
  });

  it('reset frees every concept again', async () => {
    await demo().page.click('#resetConcepts');
    const s = await demo().until(`s.intervention !== null && Object.keys(s.intervention.values).length === 0`);
    expect(s.intervention!.after.predicted).toBe(s.current!.predicted);
    expect(maxAbsDiff(s.intervention!.after.logits, s.current!.logits)).toBeLessThanOrEqual(1e-5);
  });
});
