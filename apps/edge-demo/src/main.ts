/**
 * The shipped reference model on the tfjs wasm backend, in the browser. Never falls back to cpu:
 * if wasm cannot start, the page says so and stops.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
// setWasmPaths wants all three; the threaded build is never loaded (flag off, no COOP/COEP).
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { initBackend } from '@tinyblocks/core';
// The custom layers of the reference model register themselves on import. (@tinyblocks/models and
// @tinyblocks/datasets read files with node:fs, so the browser imports the block packages.)
import '@tinyblocks/crrelu';
import '@tinyblocks/polycom';
import '@tinyblocks/delta';
import '@tinyblocks/evonorm';
import '@tinyblocks/concept-bottleneck';
import '@tinyblocks/early-exit';
import { fetchIdx } from './idx.js';

export const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const GRID = 20;

export interface Prediction {
  index: number;
  label: number;
  predicted: number;
  probabilities: number[];
  /** Raw class logits (model output 0), before the softmax. */
  logits: number[];
  /** Early-exit heads (model outputs 1, 2): their own prediction, max softmax and threshold. */
  exits: ExitInfo[];
  /** Where early-exit inference would stop: an exit head's name, or 'final' (the concept head). */
  exitAt: string;
  ms: number;
}

export interface ExitInfo {
  name: string;
  predicted: number;
  confidence: number;
  threshold: number | null;
}

interface PageState {
  backend: string | null;
  error: string | null;
  ready: boolean;
  modelLoadMs: number | null;
  firstPredictionMs: number | null;
  predictions: Prediction[];
  classify?: (index: number) => Promise<Prediction>;
}

const state: PageState = { backend: null, error: null, ready: false, modelLoadMs: null, firstPredictionMs: null, predictions: [] };
(window as unknown as { __tinyblocks: PageState }).__tinyblocks = state;

const $ = (id: string) => document.getElementById(id)!;

function fail(message: string): void {
  state.error = message;
  state.backend = tf.engine().backendName ?? null;
  $('backend').textContent = state.backend ?? 'none';
  const s = $('status');
  s.className = 'error';
  s.textContent = message;
}

function draw(canvas: HTMLCanvasElement, pixels: Uint8Array): void {
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  for (let p = 0; p < 784; p++) {
    const v = 255 - pixels[p]!;
    img.data.set([v, v, v, 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
}

async function main(): Promise<void> {
  // wasm files bundled by Vite; the threaded build is never used (no COOP/COEP, flag off).
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmUrl,
    'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
  });
  try {
    await initBackend('wasm');
  } catch (err) {
    fail(`The wasm backend failed to start: ${(err as Error).message}. No fallback to cpu.`);
    return;
  }
  state.backend = tf.getBackend();
  $('backend').textContent = state.backend;

  const [model, images, labels] = await Promise.all([
    tfl.loadLayersModel('model/model.json'),
    fetchIdx('data/t10k-images-idx3-ubyte.gz'),
    fetchIdx('data/t10k-labels-idx1-ubyte.gz'),
  ]);
  state.modelLoadMs = performance.now();
  // Output roles and exit thresholds from the model's metadata (userDefinedMetadata.tinyblocks).
  const meta = (model.getUserDefinedMetadata() ?? {}) as { tinyblocks?: { outputRoles?: string[]; exitThresholds?: number[] } };
  const roles = meta.tinyblocks?.outputRoles ?? [];
  const exitOutputs = roles.flatMap((r, i) => (r === 'exit' ? [i] : []));
  const thresholds = meta.tinyblocks?.exitThresholds ?? [];
  const pixels = (i: number) => images.data.subarray(i * 784, (i + 1) * 784);

  async function classify(index: number): Promise<Prediction> {
    const t0 = performance.now();
    const [logitsT, probs, ...exitProbs] = tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from(pixels(index), (v) => v / 255), [1, 28, 28, 1]);
      const out = model.predict(x);
      const outs = Array.isArray(out) ? out : [out];
      const logits = outs[0]!;
      return [logits, tf.softmax(logits), ...exitOutputs.map((o) => tf.softmax(outs[o]!))];
    });
    const probabilities = Array.from(await probs.data());
    const logits = Array.from(await logitsT.data());
    const exits: ExitInfo[] = [];
    for (let e = 0; e < exitProbs.length; e++) {
      const q = Array.from(await exitProbs[e]!.data());
      const confidence = Math.max(...q);
      exits.push({ name: model.outputNames[exitOutputs[e]!] ?? `exit${e + 1}`, predicted: q.indexOf(confidence), confidence, threshold: thresholds[e] ?? null });
    }
    tf.dispose([logitsT, probs, ...exitProbs]);
    const predicted = probabilities.indexOf(Math.max(...probabilities));
    const taken = exits.find((e) => e.threshold !== null && e.confidence >= e.threshold);
    const p: Prediction = {
      index,
      label: labels.data[index]!,
      predicted,
      probabilities,
      logits,
      exits,
      exitAt: taken?.name ?? 'final',
      ms: performance.now() - t0,
    };
    state.predictions.push(p);
    show(p);
    return p;
  }
  state.classify = classify;

  function show(p: Prediction): void {
    draw($('big') as HTMLCanvasElement, pixels(p.index));
    $('truth').textContent = `test image ${p.index}, true class: ${CLASSES[p.label]}`;
    $('prediction').textContent = `predicted: ${CLASSES[p.predicted]} (${(p.probabilities[p.predicted]! * 100).toFixed(1)}%) in ${p.ms.toFixed(1)} ms`;
    $('probs').innerHTML = p.probabilities
      .map((v, k) => `<tr class="${k === p.predicted ? 'top' : ''}"><td>${CLASSES[k]}</td><td>${v.toFixed(4)}</td><td><span class="bar" style="width:${Math.round(v * 200)}px"></span></td></tr>`)
      .join('');
    $('exits').innerHTML =
      `<tr><th>head</th><th>prediction</th><th>confidence</th><th>threshold</th></tr>` +
      p.exits
        .map((e) => `<tr class="${p.exitAt === e.name ? 'top' : ''}"><td>${e.name}</td><td>${CLASSES[e.predicted]}</td><td>${e.confidence.toFixed(4)}</td><td>${e.threshold ?? '–'}</td></tr>`)
        .join('') +
      `<tr class="${p.exitAt === 'final' ? 'top' : ''}"><td>final (cbm)</td><td>${CLASSES[p.predicted]}</td><td>${p.probabilities[p.predicted]!.toFixed(4)}</td><td></td></tr>`;
    $('exitAt').textContent = `early-exit inference stops at: ${p.exitAt}`;
    document.querySelectorAll('#grid canvas').forEach((c) => c.classList.toggle('selected', Number((c as HTMLElement).dataset['index']) === p.index));
  }

  const grid = $('grid');
  for (let i = 0; i < Math.min(GRID, images.dims[0]!); i++) {
    const c = document.createElement('canvas');
    c.width = c.height = 28;
    c.dataset['index'] = String(i);
    c.title = `test image ${i}: ${CLASSES[labels.data[i]!]}`;
    draw(c, pixels(i));
    c.addEventListener('click', () => void classify(i));
    grid.append(c);
  }

  await classify(0);
  // performance.now() counts from navigation start.
  state.firstPredictionMs = performance.now();
  state.ready = true;
  $('status').textContent = `first prediction ${state.firstPredictionMs.toFixed(0)} ms after navigation`;
}

main().catch((err) => fail(`Error: ${(err as Error).message}`));
