/**
 * Model inputs from the user's data, shaped by the model's own input: `--calib` / `--data`
 * take the Fashion-MNIST sets (subset, train, test; for a [28, 28, 1] model), `random` or
 * `random:<seed>` (uniform in [0, 1), for models without data), a `.npy` file (float32 as is,
 * uint8 scaled by 1/255; [N, ...input] or [N, H, W] for one channel) or an IDX images file
 * ([N, H, W] uint8, scaled by 1/255). A shape that does not fit is a DataError naming expected
 * vs got, before any work.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DataError } from '@tinyblocks/core';
import { readFileBounded } from '@tinyblocks/core/node';
import { readIdx } from '@tinyblocks/datasets';
import { Rng } from '@tinyblocks/core/base';

export interface InputSet {
  /** count x prod(shape) float values, as the model takes them. */
  values: Float32Array;
  count: number;
  /** One sample's shape (the model input without the batch axis). */
  shape: number[];
  source: string;
}

export const FASHION_SPECS = ['subset', 'train', 'test', 'full'] as const;
export const isFashionSpec = (spec: string) => (FASHION_SPECS as readonly string[]).includes(spec);
const MAX_INPUT_BYTES = 1 << 30;

const shapeText = (s: ReadonlyArray<number | null>) => `[${s.map((d) => d ?? 'N').join(', ')}]`;

/** Fits [N, ...dims] to the model's sample shape (one channel may be left out); returns N. */
function fitShape(flag: string, file: string, dims: number[], shape: number[]): number {
  const rest = dims.slice(1);
  const ok = rest.join(',') === shape.join(',') || (shape[shape.length - 1] === 1 && rest.join(',') === shape.slice(0, -1).join(','));
  if (!ok || dims.length < 1) throw new DataError({ file }, flag, `samples shaped like the model input ${shapeText([null, ...shape])}`, shapeText(dims));
  return dims[0]!;
}

/** A .npy file (format 1.0-3.0, C order, '<f4' or '|u1'). */
function readNpy(flag: string, file: string, bytes: Uint8Array, shape: number[]): InputSet {
  const bad = (field: string, expected: string, got: unknown) => new DataError({ file }, field, expected, got);
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw bad('magic', 'a .npy file (\\x93NUMPY)', 'other bytes');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw bad('header', `${headerLen} header bytes`, `${bytes.length - start}`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw bad('fortran_order', 'False (C order)', 'True');
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1]?.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!dims || dims.some((d) => !Number.isInteger(d) || d < 0)) throw bad('shape', 'a tuple of sizes', header.slice(0, 80));
  const count = fitShape(flag, file, dims, shape);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = bytes.subarray(start + headerLen);
  if (descr === '<f4') {
    if (data.length !== count * size * 4) throw bad('data', `${count * size * 4} bytes`, `${data.length} bytes`);
    const values = new Float32Array(data.slice().buffer);
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) throw bad(`values[${i}]`, 'finite numbers', String(values[i]));
    return { values, count, shape, source: path.basename(file) };
  }
  if (descr === '|u1') {
    if (data.length !== count * size) throw bad('data', `${count * size} bytes`, `${data.length} bytes`);
    return { values: Float32Array.from(data, (v) => v / 255), count, shape, source: `${path.basename(file)} (/255)` };
  }
  throw bad('descr', "'<f4' (float32) or '|u1' (uint8)", descr ?? 'none');
}

/**
 * Inputs for a model whose sample shape is `shape`. Fashion-MNIST specs are not handled here
 * (callers keep their labelled path); a Fashion-MNIST spec for a model of another shape is an error.
 */
export function loadInputs(flag: '--calib' | '--data', spec: string, shape: number[], defaultCount: number): InputSet {
  const size = shape.reduce((a, b) => a * b, 1);
  if (isFashionSpec(spec) && shape.join(',') === '28,28,1') {
    throw new DataError({ op: `${flag} ${spec}` }, flag, 'subset or train (the Fashion-MNIST calibration sets), random, a .npy or an IDX images file', spec);
  }
  if (isFashionSpec(spec)) {
    throw new DataError({ op: `${flag} ${spec}` }, flag, `data shaped like the model input ${shapeText([null, ...shape])}`, 'Fashion-MNIST images [N, 28, 28, 1]', `pass ${flag} random, a .npy file or an IDX images file of that shape`);
  }
  const random = /^random(?::(\d+))?$/.exec(spec);
  if (random) {
    const rng = new Rng(Number(random[1] ?? 1));
    const values = Float32Array.from({ length: defaultCount * size }, () => rng.next());
    return { values, count: defaultCount, shape, source: `random (uniform [0, 1), seed ${random[1] ?? 1})` };
  }
  const bytes = readFileBounded(spec, { what: `${flag}: subset, train, test, random, a .npy file or an IDX images file`, maxBytes: MAX_INPUT_BYTES });
  const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (spec.endsWith('.npy')) return readNpy(flag, spec, u8, shape);
  const idx = readIdx(u8, spec);
  const count = fitShape(flag, spec, idx.dims, shape);
  return { values: Float32Array.from(idx.data, (v) => v / 255), count, shape, source: `${path.basename(spec)} (/255)` };
}

/** Float batches [B, ...shape] of the first `count` samples (created lazily; the consumer disposes). */
export function* inputBatches(set: InputSet, count = set.count, batchSize = 50): Generator<tf.Tensor> {
  const size = set.shape.reduce((a, b) => a * b, 1);
  const n = Math.min(count, set.count);
  for (let s = 0; s < n; s += batchSize) {
    const b = Math.min(batchSize, n - s);
    const t = tf.tensor(set.values.subarray(s * size, (s + b) * size), [b, ...set.shape]);
    try {
      yield t;
    } finally {
      t.dispose();
    }
  }
}
