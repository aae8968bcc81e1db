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

/** Pixel range (max - min, of 255) below which an image counts as blank for calibration. */
export const BLANK_IMAGE_RANGE = 16;

/**
 * Refuses calibration data that cannot calibrate anything: every image (or most of them) blank or
 * constant. Such a set "succeeds" and yields an int8 model that answers one class (all-black
 * images: int8 accuracy 0.34 against 0.92 float).
 */
export function checkCalibrationImages(set: ImageSet, count: number): void {
  let blank = 0;
  let lo = 255;
  let hi = 0;
  for (let i = 0; i < count; i++) {
    const px = set.images.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE);
    let a = 255;
    let b = 0;
    for (let k = 0; k < px.length; k++) {
      const v = px[k]!;
      if (v < a) a = v;
      if (v > b) b = v;
    }
    if (b - a < BLANK_IMAGE_RANGE) blank++;
    lo = Math.min(lo, a);
    hi = Math.max(hi, b);
  }
  const where = { op: 'calibration data' };
  if (hi - lo < BLANK_IMAGE_RANGE) {
    throw new DataError(where, 'pixel range', `images with contrast (a range of at least ${BLANK_IMAGE_RANGE} of 255)`, `all ${count} images within [${lo}, ${hi}]`, 'blank or constant calibration images make an int8 model that answers one class');
  }
  if (blank * 2 > count) {
    throw new DataError(where, 'blank images', `at most half of the ${count} calibration images blank (pixel range < ${BLANK_IMAGE_RANGE} of 255)`, `${blank} blank`, 'calibrate on images like the ones the model will see');
  }
}

/** Post-training quantization of a (reference) model calibrated on Fashion-MNIST images. */
export function quantizeWithImages(model: tfl.LayersModel, calib: ImageSet, options: QuantizeImagesOptions = {}): Int8Graph {
  const count = Math.min(options.calibCount ?? 500, calib.count);
  if (count < 1) throw new DataError({ op: 'quantizeWithImages' }, 'calibration images', 'at least 1', count);
  checkCalibrationImages(calib, count);
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
