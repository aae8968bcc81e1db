/**
 * The reference model in int8: quantize with Fashion-MNIST calibration images, and measure the
 * int8 graph with the TypeScript integer reference (the same bytes the generated C produces).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '@tinyblocks/core';
import { type Int8Graph, runGraph } from '@tinyblocks/int8';
import { quantizeInput, quantizeModel, type QuantizeOptions } from '@tinyblocks/quantize';
import { IMAGE_SIZE, imageBatch, range, type ImageSet } from './data.js';

export interface QuantizeImagesOptions extends QuantizeOptions {
  /** Calibration images taken from the start of the set (default 500). */
  calibCount?: number;
  batchSize?: number;
}

/** Float batches [B, 28, 28, 1] of the first `count` images (created lazily, caller disposes). */
export function* calibrationBatches(set: ImageSet, count: number, batchSize = 50): Generator<tf.Tensor4D> {
  const n = Math.min(count, set.count);
  for (let start = 0; start < n; start += batchSize) {
    const batch = imageBatch(set.images, range(Math.min(batchSize, n - start), start));
    try {
      yield batch;
    } finally {
      batch.dispose();
    }
  }
}

/**
 * Refuses calibration data that cannot calibrate anything: every sample constant, or most of them
 * blank (a range below 1/16 of the whole set's). Such a set "succeeds" and yields an int8 model
 * that answers one class (all-black images: int8 accuracy 0.34 against 0.92 float). Any data:
 * uint8 pixels, floats, `count` samples of `size` values each.
 */
export function checkCalibrationValues(values: ArrayLike<number>, count: number, size: number, source: string): void {
  const lo = new Float64Array(count).fill(Infinity);
  const hi = new Float64Array(count).fill(-Infinity);
  for (let i = 0; i < count; i++) {
    for (let k = i * size; k < (i + 1) * size; k++) {
      const v = values[k]!;
      if (v < lo[i]!) lo[i] = v;
      if (v > hi[i]!) hi[i] = v;
    }
  }
  const min = Math.min(...lo);
  const max = Math.max(...hi);
  const where = { op: `calibration data (${source})` };
  if (!(max - min > 1e-6 * Math.max(1, Math.abs(min), Math.abs(max)))) {
    throw new DataError(where, 'value range', 'samples that vary', `all ${count} samples within [${min}, ${max}]`, 'blank or constant calibration data make an int8 model that answers one class');
  }
  let blank = 0;
  for (let i = 0; i < count; i++) if (hi[i]! - lo[i]! < (max - min) / 16) blank++;
  if (blank * 2 > count) {
    throw new DataError(where, 'blank samples', `at most half of the ${count} calibration samples blank (a range below 1/16 of the data's)`, `${blank} blank`, 'calibrate on data like the data the model will see');
  }
}

/** Post-training quantization of a (reference) model calibrated on Fashion-MNIST images. */
export function quantizeWithImages(model: tfl.LayersModel, calib: ImageSet, options: QuantizeImagesOptions = {}): Int8Graph {
  const count = Math.min(options.calibCount ?? 500, calib.count);
  if (count < 1) throw new DataError({ op: 'quantizeWithImages' }, 'calibration images', 'at least 1', count);
  checkCalibrationValues(calib.images, count, IMAGE_SIZE, 'images');
  const batchSize = options.batchSize ?? 50;
  return quantizeModel(model, () => calibrationBatches(calib, count, batchSize), {
    ...options,
    totalBatches: Math.ceil(count / batchSize),
    meta: { calibrationImages: count, ...(options.meta ?? {}) },
  });
}

/** Image `index` of a set as the graph's int8 input codes. */
export function imageCodes(graph: Int8Graph, set: ImageSet, index: number): Int8Array {
  const px = set.images.subarray(index * IMAGE_SIZE, (index + 1) * IMAGE_SIZE);
  return quantizeInput(graph, Float32Array.from(px, (p) => p / 255));
}

export function argmax(codes: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < codes.length; i++) if (codes[i]! > codes[best]!) best = i;
  return best;
}

export interface Int8HeadAccuracy {
  name: string;
  role: 'logits' | 'exit';
  accuracy: number;
}

export interface Int8EvalResult {
  count: number;
  /** Final classifier accuracy (every head computed). */
  accuracy: number;
  heads: Int8HeadAccuracy[];
  /** Average MACs executed by a full inference (every head; zero delta codes skipped). */
  fullMacs: number;
  /** With early exits taken (when requested). */
  earlyExit?: { accuracy: number; avgMacs: number; saved: number; exitRates: number[] };
}

/**
 * Accuracy of every head of an int8 graph on a labelled set, computed by the TypeScript integer
 * reference; with `exits`, also the early-exit accuracy and the MACs actually executed.
 */
export function evaluateInt8(
  graph: Int8Graph,
  set: ImageSet,
  options: { limit?: number; exits?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Int8EvalResult {
  const count = Math.min(options.limit ?? set.count, set.count);
  const heads = graph.outputs.flatMap((o, i) => (o.role === 'concepts' ? [] : [{ i, name: graph.tensors[o.tensor]!.name, role: o.role as 'logits' | 'exit' }]));
  const correct = new Array<number>(graph.outputs.length).fill(0);
  let fullMacs = 0; // summed: the delta layer skips zero codes even in a single run, so MACs vary
  let exitCorrect = 0;
  let exitMacs = 0;
  const exitCounts = new Array<number>(heads.filter((h) => h.role === 'exit').length).fill(0);
  for (let n = 0; n < count; n++) {
    const x = imageCodes(graph, set, n);
    const label = set.labels[n]!;
    const full = runGraph(graph, x);
    fullMacs += full.macs;
    for (const h of heads) if (argmax(full.outputs[h.i]!) === label) correct[h.i]!++;
    if (options.exits) {
      const r = runGraph(graph, x, { exits: true });
      if (argmax(r.logits) === label) exitCorrect++;
      exitMacs += r.macs;
      if (r.exitTaken >= 0) exitCounts[r.exitTaken]!++;
    }
    if (options.onProgress && (n % 100 === 99 || n === count - 1)) options.onProgress(n + 1, count);
  }
  const headAcc = heads.map((h) => ({ name: h.name, role: h.role, accuracy: correct[h.i]! / count }));
  const final = headAcc.find((h) => h.role === 'logits');
  if (!final) throw new DataError({ op: 'evaluateInt8' }, 'outputs', "an output with role 'logits'", graph.outputs.map((o) => o.role));
  return {
    count,
    accuracy: final.accuracy,
    heads: headAcc,
    fullMacs: fullMacs / count,
    ...(options.exits
      ? { earlyExit: { accuracy: exitCorrect / count, avgMacs: exitMacs / count, saved: 1 - exitMacs / fullMacs, exitRates: exitCounts.map((c) => c / count) } }
      : {}),
  };
}
