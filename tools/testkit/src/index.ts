/**
 * Test helpers shared by the block packages. Each block test compares tfjs against an
 * independent plain-JS (float64) implementation of the formula from blocks.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, Rng, type BackendName } from '@tinyblocks/core';
import { loadModel, saveModel } from '@tinyblocks/core/node';

export const BACKENDS: BackendName[] = ['cpu', 'wasm'];

export async function useBackend(name: BackendName): Promise<void> {
  await initBackend(name);
}

/** Deterministic random values in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -2, hi = 2): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.uniform(lo, hi));
}

export function tensorFrom(values: ArrayLike<number>, shape: number[]): tf.Tensor {
  return tf.tensor(Array.from(values), shape, 'float32');
}

/** Max |a - b| / max(1, |b|) over two arrays of the same length. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!));
    if (!(e <= m)) m = Number.isNaN(e) ? Infinity : Math.max(m, e);
  }
  return m;
}

/**
 * Central finite differences of a float64 reference function f(params) -> scalar, for every
 * entry of every parameter array. The caller builds f from the plain-JS formula.
 */
export function finiteDifferences(
  f: (params: Float64Array[]) => number,
  params: Float64Array[],
  h = 1e-5,
): Float64Array[] {
  return params.map((p, pi) => {
    const g = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const copy = params.map((q) => Float64Array.from(q));
      copy[pi]![i] = p[i]! + h;
      const up = f(copy);
      copy[pi]![i] = p[i]! - h;
      const down = f(copy);
      g[i] = (up - down) / (2 * h);
    }
    return g;
  });
}

/** Random projection weights so that sum(r * f(x)) tests every output's gradient. */
export function projection(n: number, seed: number): Float64Array {
  return randomArray(n, seed, -1, 1);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Trains `model` for `steps` full-batch steps with Adam on (x, y) using `lossFn`, and returns
 * the loss before and after. Used to check that a block trains on a backend.
 */
export function trainSteps(
  model: tfl.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  lossFn: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar,
  steps: number,
  learningRate = 0.01,
): { before: number; after: number } {
  const optimizer = tf.train.adam(learningRate);
  const loss = () => lossFn(y, model.apply(x, { training: true }) as tf.Tensor);
  const before = tf.tidy(() => loss().dataSync()[0]!);
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      optimizer.minimize(loss, false, model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
    });
  }
  const after = tf.tidy(() => loss().dataSync()[0]!);
  optimizer.dispose();
  return { before, after };
}

export const mse = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.mean(tf.squaredDifference(a, b));

/** Saves and reloads a model through a temporary directory; returns the loaded model. */
export async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinyblocks-rt-'));
  try {
    await saveModel(model, path.join(dir, 'm'));
    return await loadModel(path.join(dir, 'm'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Predictions of two models on the same input, as flat arrays. */
export function predictBoth(a: tfl.LayersModel, b: tfl.LayersModel, x: tf.Tensor): [Float32Array, Float32Array] {
  return tf.tidy(() => {
    const pa = a.predict(x) as tf.Tensor | tf.Tensor[];
    const pb = b.predict(x) as tf.Tensor | tf.Tensor[];
    const flat = (p: tf.Tensor | tf.Tensor[]) =>
      Float32Array.from((Array.isArray(p) ? p : [p]).flatMap((t) => Array.from(t.dataSync())));
    return [flat(pa), flat(pb)];
  });
}
