/**
 * What Node computes for the same model and images, with the packages' own APIs (not the
 * page's code): the reference the browser tests compare with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@tinyblocks/core';
import { loadModel } from '@tinyblocks/core/node';
import { loadFashionMnist, type FashionMnist } from '@tinyblocks/datasets';
import { parseGraph, type Int8Graph } from '@tinyblocks/int8';
import { imageBatch, imageCodes, modelInfo, shippedModelDir } from '@tinyblocks/models';

export const DIST = join(import.meta.dirname, '..', 'dist');

let model: Promise<tfl.LayersModel> | undefined;
/** The shipped model on tfjs-backend-wasm in Node. */
export function nodeModel(): Promise<tfl.LayersModel> {
  return (model ??= initBackend('wasm').then(() => loadModel(shippedModelDir())));
}

let subset: FashionMnist | undefined;
export const testSubset = (): FashionMnist => (subset ??= loadFashionMnist({ split: 'test', source: 'subset' }));

export const tunedThresholds = async (): Promise<number[]> => modelInfo(await nodeModel()).exitThresholds!;

/** [1, 28, 28, 1] in [0, 1] from 784 pixels (0..255). */
export const pixelTensor = (pixels: ArrayLike<number>): tf.Tensor => imageBatch(Uint8Array.from(pixels), [0]);

/** Final logits and softmax of the shipped model on one image. */
export async function nodePredict(pixels: ArrayLike<number>): Promise<{ logits: number[]; probabilities: number[] }> {
  const m = await nodeModel();
  const [logits, probs] = tf.tidy(() => {
    const out = m.predict(pixelTensor(pixels)) as tf.Tensor[];
    return [out[0]!, tf.softmax(out[0]!)];
  });
  const r = { logits: Array.from(await logits!.data()), probabilities: Array.from(await probs!.data()) };
  tf.dispose([logits!, probs!]);
  return r;
}

/** The int8 graph the build emitted (what `tinyblocks export` wrote). */
export const builtInt8Graph = (): Int8Graph => parseGraph(readFileSync(join(DIST, 'model', 'reference.int8.json'), 'utf8'), 'dist/model/reference.int8.json');

/** Input codes of 784 pixels, as the CLI and verify quantize them. */
export const codesOf = (graph: Int8Graph, pixels: ArrayLike<number>): Int8Array => imageCodes(graph, { images: Uint8Array.from(pixels), labels: new Uint8Array(1), count: 1 }, 0);

export const pixelsOf = (i: number): number[] => Array.from(testSubset().images.subarray(i * 784, (i + 1) * 784));

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
