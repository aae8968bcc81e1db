/** Fashion-MNIST arrays (from @tinyblocks/datasets) to batches of tensors. */
import * as tf from '@tensorflow/tfjs-core';
import { conceptsForLabels, FASHION_CONCEPTS } from '@tinyblocks/datasets';

export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export const IMAGE_SIZE = 28 * 28;

/** Images [n, 28, 28, 1] scaled to [0, 1] for the given sample indices. */
export function imageBatch(images: Uint8Array, indices: ArrayLike<number>): tf.Tensor4D {
  const out = new Float32Array(indices.length * IMAGE_SIZE);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]! * IMAGE_SIZE;
    for (let p = 0; p < IMAGE_SIZE; p++) out[i * IMAGE_SIZE + p] = images[src + p]! / 255;
  }
  return tf.tensor4d(out, [indices.length, 28, 28, 1]);
}

export interface Batch {
  x: tf.Tensor4D;
  /** One-hot labels [n, 10]. */
  y: tf.Tensor2D;
  /** Class-level concept targets [n, k]. */
  c: tf.Tensor2D;
  labels: Uint8Array;
}

export function makeBatch(images: Uint8Array, labels: Uint8Array, indices: ArrayLike<number>): Batch {
  const lab = Uint8Array.from(indices, (i) => labels[i]!);
  return {
    x: imageBatch(images, indices),
    y: tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(lab, 'int32'), 10), 'float32')) as tf.Tensor2D,
    c: tf.tensor2d(conceptsForLabels(lab), [lab.length, FASHION_CONCEPTS.length]),
    labels: lab,
  };
}

export function disposeBatch(b: Batch): void {
  tf.dispose([b.x, b.y, b.c]);
}

export function range(n: number, start = 0): number[] {
  return Array.from({ length: n }, (_, i) => start + i);
}
