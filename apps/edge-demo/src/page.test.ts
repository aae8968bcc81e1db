/**
 * The built page in headless Chromium: runs on wasm, makes no request beyond 127.0.0.1, and
 * classifies test image 0 exactly as Node does with the same model on the same backend.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { imageBatch, shippedModelDir } from '@tinyblocks/models';
import { loadFashionMnist } from '@tinyblocks/datasets';
// @ts-expect-error plain ESM helper without types
import { build, startServer } from '../serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = join(here, '..', 'test-output');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const INDEX = 0;

interface Prediction {
  index: number;
  label: number;
  predicted: number;
  probabilities: number[];
  logits: number[];
  exits: Array<{ name: string; predicted: number; confidence: number; threshold: number | null }>;
  exitAt: string;
}
interface PageState {
  backend: string | null;
  error: string | null;
  ready: boolean;
  firstPredictionMs: number | null;
  predictions: Prediction[];
}

// locally a missing Chromium skips with what to install; under CI=true it is a failure
const HAS_CHROMIUM = existsSync(CHROMIUM);
const SKIP = !HAS_CHROMIUM && process.env.CI !== 'true';
if (SKIP) console.warn(`[edge-demo] no Chromium at ${CHROMIUM}: skipping the browser test (apt-get install --no-install-recommends chromium)`);

let server: { url: string; close: () => Promise<void> };
let browser: Browser;
let page: Page;
const offHost: string[] = [];
const pageErrors: string[] = [];
let state: PageState;

beforeAll(async () => {
  if (SKIP) return;
  if (!HAS_CHROMIUM) throw new Error(`CI=true and no Chromium at ${CHROMIUM}: apt-get install --no-install-recommends chromium`);
  if (!process.env.EDGE_DEMO_SKIP_BUILD) build();
  server = await startServer({ port: 0 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    const { protocol, hostname } = new URL(url);
    const local = ['127.0.0.1', 'localhost'].includes(hostname) && protocol === 'http:';
    if (local || protocol === 'data:' || protocol === 'blob:') return route.continue();
    offHost.push(url);
    return route.abort();
  });
  await page.goto(server.url);
  await page.waitForFunction(() => {
    const s = (window as unknown as { __tinyblocks?: PageState }).__tinyblocks;
    return s && (s.ready || s.error);
  }, null, { timeout: 60_000 });
  state = await page.evaluate(() => (window as unknown as { __tinyblocks: PageState }).__tinyblocks);
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, 'page.png'), fullPage: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe.skipIf(SKIP)('edge demo page', () => {
  it('runs on the wasm backend without errors', () => {
    expect(state.error).toBeNull();
    expect(pageErrors).toEqual([]);
    expect(state.backend).toBe('wasm');
  });

  it('requests nothing beyond 127.0.0.1/localhost', () => {
    expect(offHost).toEqual([]);
  });

  it('records the time from navigation to the first prediction', () => {
    expect(state.firstPredictionMs).toBeGreaterThan(0);
    console.log(`edge demo: first prediction ${state.firstPredictionMs!.toFixed(0)} ms after navigation (wasm, headless chromium)`);
  });

  it(`classifies test image ${INDEX} as Node does with the same model (within 1e-4)`, async () => {
    const first = state.predictions.find((p) => p.index === INDEX)!;
    expect(first).toBeDefined();

    await initBackend('wasm');
    const model = await loadModel(shippedModelDir());
    const test = loadFashionMnist({ split: 'test', source: 'subset' });
    const x = imageBatch(test.images, [INDEX]);
    const out = model.predict(x);
    const logits = Array.isArray(out) ? out[0]! : out;
    const probs = tf.softmax(logits);
    const node = Array.from(await probs.data());
    const nodeLogits = Array.from(await logits.data());
    tf.dispose([x, out, probs]);

    expect(first.label).toBe(test.labels[INDEX]);
    expect(first.probabilities).toHaveLength(10);
    expect(first.predicted).toBe(node.indexOf(Math.max(...node)));
    for (let k = 0; k < 10; k++) expect(Math.abs(first.probabilities[k]! - node[k]!)).toBeLessThanOrEqual(1e-4);
    // Image 0 is classified with near-certainty, so also compare the logits the softmax flattens.
    for (let k = 0; k < 10; k++) expect(Math.abs(first.logits[k]! - nodeLogits[k]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(nodeLogits[k]!)));
  });

  it('classifies a clicked grid image', async () => {
    await page.click('#grid canvas[data-index="3"]');
    await page.waitForFunction(() => (window as unknown as { __tinyblocks: PageState }).__tinyblocks.predictions.some((p) => p.index === 3));
    const text = await page.textContent('#prediction');
    expect(text).toMatch(/^predicted: /);
    expect(await page.locator('#probs tr').count()).toBe(10);
    const p3 = (await page.evaluate(() => (window as unknown as { __tinyblocks: PageState }).__tinyblocks.predictions)).find((p) => p.index === 3)!;
    expect(p3.exits).toHaveLength(2);
    expect(['exit1', 'exit2', 'final']).toContain(p3.exitAt);
  });

  it('says so on the page, and does not fall back to cpu, when wasm cannot start', async () => {
    const ctx = await browser.newContext();
    const broken = await ctx.newPage();
    await broken.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (!['127.0.0.1', 'localhost'].includes(url.hostname)) return route.abort();
      return url.pathname.endsWith('.wasm') ? route.abort() : route.continue();
    });
    await broken.goto(server.url);
    await broken.waitForFunction(() => (window as unknown as { __tinyblocks?: PageState }).__tinyblocks?.error, null, { timeout: 60_000 });
    const s = await broken.evaluate(() => (window as unknown as { __tinyblocks: PageState }).__tinyblocks);
    expect(s.error).toMatch(/wasm backend failed to start/);
    expect(s.backend).not.toBe('cpu');
    expect(s.predictions).toEqual([]);
    expect(await broken.textContent('#status')).toMatch(/No fallback to cpu/);
    await ctx.close();
  }, 90_000);
});
