/**
 * The built page in headless Chromium: runs on wasm (never silently on cpu), requests nothing
 * beyond 127.0.0.1, and classifies test images exactly as Node does with the same model on the
 * same backend; its int8 answers are the integer reference's bytes.
 */
import { runGraph } from '@tinyblocks/int8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageState } from './state.js';
import { openDemo, screenshot, SKIP, type DemoPage } from '../test/browser.js';
import { builtInt8Graph, codesOf, maxAbsDiff, nodePredict, pixelsOf, testSubset } from '../test/node-reference.js';

let demo: DemoPage;
let first: PageState;

beforeAll(async () => {
  if (SKIP) return;
  demo = await openDemo();
  first = await demo.until('s.ready');
});
afterAll(() => demo?.close());

describe.skipIf(SKIP)('edge demo page', () => {
  it('runs on the wasm backend without errors', async () => {
    expect(first.error).toBeNull();
    expect(demo.pageErrors).toEqual([]);
    expect(first.backend).toBe('wasm');
    expect(await demo.page.textContent('#backend')).toBe('wasm');
  });

  it('records the time from navigation to the first prediction', () => {
    const t = first.timings;
    expect(t.firstPrediction).toBeGreaterThan(t.modelLoaded!);
    expect(t.modelLoaded).toBeGreaterThan(t.backendReady!);
    console.log(`edge demo: first prediction ${t.firstPrediction!.toFixed(0)} ms after navigation (backend ready ${t.backendReady!.toFixed(0)} ms, model and data ${t.modelLoaded!.toFixed(0)} ms; wasm, headless chromium)`);
  });

  it('classifies test image 0 as Node does with the same model (probabilities within 1e-4)', async () => {
    const p = first.predictions[0]!;
    expect(p).toMatchObject({ source: 'test', index: 0, label: testSubset().labels[0] });
    expect(p.pixels).toEqual(pixelsOf(0));
    const node = await nodePredict(p.pixels);
    expect(p.predicted).toBe(node.probabilities.indexOf(Math.max(...node.probabilities)));
    expect(maxAbsDiff(p.probabilities, node.probabilities)).toBeLessThanOrEqual(1e-4);
    // image 0 is classified with near-certainty, so also compare the logits the softmax flattens
    for (let k = 0; k < 10; k++) expect(Math.abs(p.logits[k]! - node.logits[k]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(node.logits[k]!)));
  });

  it("its int8 answer is the integer reference's, byte for byte (the generated C's)", async () => {
    const s = await demo.until('s.timings.int8Ready !== null && s.current?.int8 != null');
    const graph = builtInt8Graph();
    for (const i of [0, 5]) {
      const p = i === 0 ? s.current! : await demo.page.evaluate((k) => window.__tinyblocks.api!.classifyTest(k), i);
      const ref = runGraph(graph, codesOf(graph, pixelsOf(i)), { exits: true });
      expect(p.int8!.logits).toEqual(Array.from(ref.logits));
      expect(p.int8!.exitTaken).toBe(ref.exitTaken);
      expect(p.int8!.macs).toBe(ref.macs);
    }
  });

  it('classifies a clicked grid image, as Node does', async () => {
    await demo.page.click('#grid canvas[data-index="3"]');
    const s = await demo.until('s.current?.index === 3');
    expect(await demo.page.textContent('#prediction')).toMatch(/^predicted: /);
    expect(await demo.page.locator('#probs tr').count()).toBe(10);
    expect(await demo.page.getAttribute('#grid canvas[data-index="3"]', 'class')).toBe('selected');
    const node = await nodePredict(pixelsOf(3));
    expect(maxAbsDiff(s.current!.probabilities, node.probabilities)).toBeLessThanOrEqual(1e-4);
    expect(s.current!.exits.map((e) => e.name)).toEqual(['exit1', 'exit2']);
  });

  it('requests nothing beyond 127.0.0.1, and only the single-threaded wasm build', async () => {
    await demo.until('s.curve !== null', 90_000);
    expect(demo.offHost).toEqual([]);
    const wasm = demo.requests.filter((u) => u.endsWith('.wasm')).map((u) => u.split('/').pop());
    expect(wasm).toEqual(['tfjs-backend-wasm-simd.wasm']);
    console.log(`edge demo: screenshot ${await screenshot(demo.page, 'page.png')}`);
  }, 120_000);
});

describe.skipIf(SKIP)('edge demo backends', () => {
  it('says so on the page, and does not fall back to cpu, when wasm cannot start', async () => {
    const broken = await openDemo({ route: (url) => (url.pathname.endsWith('.wasm') ? 'abort' : 'continue') });
    try {
      const s = await broken.until('s.error !== null');
      expect(s.error).toMatch(/The wasm backend failed to start: .*No fallback to cpu\./);
      expect(s.backend).not.toBe('cpu');
      expect(s.predictions).toEqual([]);
      expect(await broken.page.textContent('#status')).toMatch(/No fallback to cpu/);
    } finally {
      await broken.close();
    }
  });

  it('runs on cpu only when asked (?backend=cpu), and says so', async () => {
    const cpu = await openDemo({ query: '?backend=cpu' });
    try {
      const s = await cpu.until('s.ready');
      expect(s.backend).toBe('cpu');
      expect(await cpu.page.textContent('#backend')).toBe('cpu (asked for with ?backend=cpu)');
      expect(cpu.requests.filter((u) => u.endsWith('.wasm'))).toEqual([]);
      const node = await nodePredict(pixelsOf(0));
      expect(maxAbsDiff(s.current!.probabilities, node.probabilities)).toBeLessThanOrEqual(1e-4);
      const bad = await openDemo({ query: '?backend=webgl' });
      const e = await bad.until('s.error !== null');
      expect(e.error).toBe('?backend=webgl: expected wasm or cpu');
      await bad.close();
    } finally {
      await cpu.close();
    }
  });
});
