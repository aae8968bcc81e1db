/**
 * The edge demo: the shipped reference model in the browser on the tfjs wasm backend. Never
 * falls back to cpu: if wasm cannot start, the page says so and stops (`?backend=cpu` asks for
 * cpu explicitly, for comparison). The first prediction comes first; the int8 graph, the delta
 * stream and the early-exit curve load after it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { initBackend, type BackendName } from '@tinyblocks/core';
import { decodeIdx, FASHION_MNIST_CLASSES, IDX_IMAGES, IDX_LABELS, type IdxExpect } from '@tinyblocks/datasets/browser';
import { ConceptPanel } from './concepts.js';
import { $, argmax, bar, esc, int, paint } from './dom.js';
import { DrawingPad } from './draw.js';
import { computeCurve, ExitPanel } from './exits.js';
import { Int8Model } from './int8.js';
import { showLayers } from './layers.js';
import { DemoModel } from './model.js';
import type { PageState, Prediction } from './state.js';
import { StreamPanel } from './stream.js';

const GRID = 20;
const BACKENDS: BackendName[] = ['wasm', 'cpu'];

const state: PageState = {
  requestedBackend: new URLSearchParams(location.search).get('backend') ?? 'wasm',
  backend: null,
  error: null,
  ready: false,
  timings: { backendReady: null, modelLoaded: null, firstPrediction: null, curveReady: null, int8Ready: null },
  predictions: [],
  current: null,
  curve: null,
  exitSetting: null,
  intervention: null,
  stream: null,
  layers: null,
  testImages: 0,
};
window.__tinyblocks = state;

function fail(message: string): void {
  state.error = message;
  state.backend = tf.engine().backendName ?? null;
  $('backend').textContent = state.backend ?? 'none';
  const s = $('status');
  s.className = 'error';
  s.textContent = message;
}

async function fetchIdx(url: string, expect: IdxExpect) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return decodeIdx(new Uint8Array(await res.arrayBuffer()), url, expect);
}

/** wasm (or an explicit ?backend=cpu); false when it cannot start: the page then stops. */
async function startBackend(): Promise<boolean> {
  const name = state.requestedBackend as BackendName;
  if (!BACKENDS.includes(name)) {
    fail(`?backend=${state.requestedBackend}: expected wasm or cpu`);
    return false;
  }
  if (name === 'wasm') {
    // the single-threaded builds only (emitted under wasm/ by the build; no COOP/COEP, threads off)
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths('wasm/');
  }
  try {
    await initBackend(name);
  } catch (err) {
    fail(`The ${name} backend failed to start: ${(err as Error).message}. No fallback to ${name === 'wasm' ? 'cpu' : 'another backend'}.`);
    return false;
  }
  state.backend = tf.getBackend();
  state.timings.backendReady = performance.now();
  $('backend').textContent = state.backend + (name === 'cpu' ? ' (asked for with ?backend=cpu)' : '');
  return true;
}

async function main(): Promise<void> {
  if (!(await startBackend())) return;
  const [model, images, labels] = await Promise.all([
    DemoModel.load('model/model.json'),
    fetchIdx('data/t10k-images-idx3-ubyte.gz', { magic: IDX_IMAGES, dims: [null, 28, 28] }),
    fetchIdx('data/t10k-labels-idx1-ubyte.gz', { magic: IDX_LABELS }),
  ]);
  state.timings.modelLoaded = performance.now();
  state.testImages = labels.dims[0]!;
  const pixelsOf = (i: number) => images.data.subarray(i * 784, (i + 1) * 784);
  let int8: Int8Model | null = null;

  const exitPanel = new ExitPanel(state, model, () => {
    const p = state.current;
    if (!p) return;
    p.early = model.earlyExit(p.pixels, exitPanel.thresholds());
    exitPanel.show(p);
  });
  const conceptPanel = new ConceptPanel(state, model);
  const streamPanel = new StreamPanel(state, model);

  async function classify(source: Prediction['source'], pixels: ArrayLike<number>, index: number | null): Promise<Prediction> {
    const t0 = performance.now();
    const px = Array.from(pixels);
    const f = await model.predict(px);
    const early = model.earlyExit(px, exitPanel.thresholds());
    const p: Prediction = {
      source,
      index,
      label: index === null ? null : labels.data[index]!,
      pixels: px,
      predicted: argmax(f.probabilities),
      ...f,
      early,
      int8: int8?.run(px) ?? null,
      ms: performance.now() - t0,
    };
    state.predictions.push(p);
    state.current = p;
    show(p);
    return p;
  }

  function show(p: Prediction): void {
    paint($<HTMLCanvasElement>('big'), p.pixels);
    $('truth').textContent = p.index === null ? 'your drawing' : `test image ${p.index}, true class: ${FASHION_MNIST_CLASSES[p.label!]}`;
    $('prediction').innerHTML = `predicted: <b>${esc(FASHION_MNIST_CLASSES[p.predicted]!)}</b> (${(p.probabilities[p.predicted]! * 100).toFixed(1)}%) in ${p.ms.toFixed(1)} ms on ${state.backend}`;
    $('probs').innerHTML = p.probabilities
      .map((v, k) => `<tr class="${k === p.predicted ? 'top' : ''}"><td>${esc(FASHION_MNIST_CLASSES[k]!)}</td><td class="num">${v.toFixed(4)}</td><td>${bar(v, 180)}</td></tr>`)
      .join('');
    showInt8(p);
    exitPanel.show(p);
    conceptPanel.show(p);
    document.querySelectorAll<HTMLCanvasElement>('#grid canvas').forEach((c) => c.classList.toggle('selected', Number(c.dataset['index']) === p.index));
  }

  function showInt8(p: Prediction): void {
    const r = p.int8;
    if (!r) {
      $('int8').textContent = int8 ? '' : 'loading the int8 graph…';
      return;
    }
    const head = r.exitTaken < 0 ? 'the final classifier' : `exit head ${r.exitTaken + 1}`;
    const thresholds = ([int8!.graph.meta['exitThreshold']] as unknown[]).flat().join(' / ');
    $('int8').innerHTML = `predicted <b>${esc(FASHION_MNIST_CLASSES[r.predicted]!)}</b> by ${head} (exported thresholds ${esc(thresholds)}),<br>${int(r.macs)} MACs executed; logits ${esc(r.logits.join(' '))}`;
  }

  // ---- the grid of test images, the drawing pad
  const grid = $('grid');
  for (let i = 0; i < Math.min(GRID, state.testImages); i++) {
    const c = document.createElement('canvas');
    c.width = c.height = 28;
    c.dataset['index'] = String(i);
    c.title = `test image ${i}: ${FASHION_MNIST_CLASSES[labels.data[i]!]}`;
    paint(c, pixelsOf(i));
    c.addEventListener('click', () => void classify('test', pixelsOf(i), i));
    grid.append(c);
  }
  const pad = new DrawingPad($<HTMLCanvasElement>('pad'), (px) => void classify('drawn', px, null));
  $<HTMLSelectElement>('brush').addEventListener('change', (e) => (pad.radius = Number((e.target as HTMLSelectElement).value)));
  $('clear').addEventListener('click', () => pad.clear());
  $('edit').addEventListener('click', () => state.current && pad.load(state.current.pixels));
  $('streamThis').addEventListener('click', () => state.current && void streamPanel.start(state.current.pixels, state.current.index));

  state.api = {
    classifyTest: (i) => classify('test', pixelsOf(i), i),
    classifyPixels: (px) => classify('drawn', px, null),
    timeInference: async (n) => {
      const px = state.current!.pixels;
      await model.predict(px);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await model.predict(px);
      return (performance.now() - t0) / n;
    },
  };

  // ---- the first prediction (performance.now() counts from navigation start)
  await classify('test', pixelsOf(0), 0);
  state.timings.firstPrediction = performance.now();
  state.ready = true;
  $('status').textContent = `first prediction ${state.timings.firstPrediction.toFixed(0)} ms after navigation`;

  // ---- then the rest: int8 graph and export report, the delta stream, the early-exit curve
  int8 = await Int8Model.load('model/reference.int8.json', 'model/report.json');
  state.timings.int8Ready = performance.now();
  conceptPanel.int8 = int8;
  streamPanel.int8 = int8;
  showLayers(state, model.layers, int8.report);
  if (state.current && !state.current.int8) {
    state.current.int8 = int8.run(state.current.pixels);
    showInt8(state.current);
  }
  await streamPanel.start(pixelsOf(0), 0);
  const { curve, probs } = await computeCurve(model, images.data, labels.data, (done, total) => exitPanel.progress(done, total));
  exitPanel.setCurve(curve, probs);
  state.timings.curveReady = performance.now();
}

main().catch((err) => fail(`Error: ${(err as Error).message}`));
