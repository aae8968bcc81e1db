/** Turns the `w` / `b` arguments of the functional ops into tensors, checking their size. */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, type Where } from '@tinyblocks/core';

export const POLY_DEFAULT_W: [number, number, number] = [1 / 3, 1 / 3, 1 / 3];
export const POLY_DEFAULT_B = 0;

/** Checks a plain `[w0, w1, w2]` array (w0 multiplies the highest power). */
export function requireW3(where: Where, field: string, w: unknown): [number, number, number] {
  if (!Array.isArray(w) || w.length !== 3 || !w.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new ConfigError(where, field, 'an array of 3 finite numbers', w);
  }
  return w as [number, number, number];
}

export function wTensor(where: Where, w: tf.Tensor | number[]): tf.Tensor {
  if (!(w instanceof tf.Tensor)) return tf.tensor1d(requireW3(where, 'w', w));
  if (w.size !== 3) throw new ShapeError(where, 'w', 'shape [3]', w.shape);
  return w;
}

export function bTensor(where: Where, b: tf.Tensor | number): tf.Tensor {
  if (!(b instanceof tf.Tensor)) {
    if (typeof b !== 'number' || !Number.isFinite(b)) throw new ConfigError(where, 'b', 'a finite number', b);
    return tf.scalar(b);
  }
  if (b.size !== 1) throw new ShapeError(where, 'b', 'a scalar (shape [])', b.shape);
  return b;
}
