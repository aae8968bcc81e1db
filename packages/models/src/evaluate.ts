/** Accuracy of every classifier output of a role-tagged model on a labelled image set. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { DataError } from '@tinyblocks/core';
import { imageBatch, range, type ImageSet } from './data.js';
import type { ModelInfo } from './reference.js';

export interface HeadAccuracy {
  output: number;
  role: 'logits' | 'exit';
  name: string;
  accuracy: number;
}

export interface EvalResult {
  count: number;
  /** Accuracy of the final classifier (the 'logits' output). */
  accuracy: number;
  heads: HeadAccuracy[];
}

export function evaluate(model: tfl.LayersModel, info: ModelInfo, data: ImageSet, batchSize = 500): EvalResult {
  const headIdx = info.outputRoles.flatMap((r, i) => (r === 'logits' || r === 'exit' ? [i] : []));
  const correct = new Array<number>(info.outputRoles.length).fill(0);
  for (let start = 0; start < data.count; start += batchSize) {
    const idx = range(Math.min(batchSize, data.count - start), start);
    tf.tidy(() => {
      const x = imageBatch(data.images, idx);
      const outs = model.predict(x) as tf.Tensor | tf.Tensor[];
      const list = Array.isArray(outs) ? outs : [outs];
      const labels = tf.tensor1d(Uint8Array.from(idx, (i) => data.labels[i]!), 'int32');
      for (const h of headIdx) {
        correct[h]! += tf.sum(tf.cast(tf.equal(tf.argMax(list[h]!, 1), labels), 'int32')).dataSync()[0]!;
      }
    });
  }
  const names = model.outputNames;
  const heads = headIdx.map((i) => ({
    output: i,
    role: info.outputRoles[i] as 'logits' | 'exit',
    name: names[i] ?? `output${i}`,
    accuracy: correct[i]! / data.count,
  }));
  const final = heads.find((h) => h.role === 'logits');
  if (!final) throw new DataError({ op: 'evaluate' }, 'outputRoles', "an output with role 'logits'", info.outputRoles);
  return { count: data.count, accuracy: final.accuracy, heads };
}
