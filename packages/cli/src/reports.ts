/** Text reports shared by eval, info and demo. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { modelGraph, runGraph, type ModelCount } from '@tinyblocks/core';
import { intervene } from '@tinyblocks/concept-bottleneck';
import { FASHION_CONCEPTS, FASHION_MNIST_CLASSES, movingFashionMnist } from '@tinyblocks/datasets';
import { Delta, temporalSparsity } from '@tinyblocks/delta';
import { sweepThresholds } from '@tinyblocks/early-exit';
import { imageBatch, range, type ImageSet } from '@tinyblocks/models';
import { table } from './table.js';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function layerTable(counts: ModelCount): string {
  const rows = counts.layers.map((l) => [l.name, l.className, `[${l.outputShape.slice(1).join('x')}]`, l.params, l.macs]);
  rows.push(['total', '', '', counts.totalParams, counts.totalMacs]);
  return table(['layer', 'op', 'output', 'params', 'MACs'], rows);
}

export const EXIT_THRESHOLDS = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999];

/**
 * Accuracy vs average MACs over confidence thresholds (max softmax >= threshold exits), swept in
 * chunks of `chunk` images so the activations of a large test set never sit in memory at once.
 */
export function earlyExitReport(model: tfl.LayersModel, set: ImageSet, chunk = 1000): string {
  let sweep: ReturnType<typeof sweepThresholds> | null = null;
  const correct = new Array<number>(EXIT_THRESHOLDS.length).fill(0);
  const macs = new Array<number>(EXIT_THRESHOLDS.length).fill(0);
  const histograms: number[][] = EXIT_THRESHOLDS.map(() => []);
  for (let start = 0; start < set.count; start += chunk) {
    const idx = range(Math.min(chunk, set.count - start), start);
    const x = imageBatch(set.images, idx);
    try {
      sweep = sweepThresholds(model, x, idx.map((i) => set.labels[i]!), EXIT_THRESHOLDS, 'confidence');
    } finally {
      x.dispose();
    }
    sweep.points.forEach((p, t) => {
      correct[t]! += p.accuracy * idx.length;
      macs[t]! += p.averageMacs * idx.length;
      histograms[t] = p.exitHistogram.map((h, i) => h + (histograms[t]![i] ?? 0));
    });
  }
  if (!sweep) return 'early exit: no images';
  const rows = EXIT_THRESHOLDS.map((threshold, t) => [
    threshold.toString(),
    (correct[t]! / set.count).toFixed(4),
    Math.round(macs[t]! / set.count),
    pct(1 - macs[t]! / set.count / sweep!.worstCaseMacs),
    histograms[t]!.join(' / '),
  ]);
  return [
    `early exit (rule: max softmax >= threshold; heads ${sweep.heads.join(', ')}; worst case ${sweep.worstCaseMacs.toLocaleString('en-US')} MACs, never lower than without exits)`,
    table(['threshold', 'accuracy', 'avg MACs', 'saved', 'exits per head'], rows),
  ].join('\n');
}

/** Predicted concepts for one image, and the prediction after overwriting some of them. */
export function interventionReport(
  model: tfl.LayersModel,
  set: ImageSet,
  index: number,
  overwrite: Partial<Record<(typeof FASHION_CONCEPTS)[number], 0 | 1>>,
): string {
  const interventions = Object.fromEntries(Object.entries(overwrite).map(([name, v]) => [FASHION_CONCEPTS.indexOf(name as (typeof FASHION_CONCEPTS)[number]), v]));
  return tf.tidy(() => {
    const x = imageBatch(set.images, [index]);
    const base = intervene(model, x, {});
    const changed = intervene(model, x, interventions);
    const probs = Array.from(base.concepts.dataSync());
    const before = tf.argMax(base.logits, 1).dataSync()[0]!;
    const after = tf.argMax(changed.logits, 1).dataSync()[0]!;
    const label = FASHION_MNIST_CLASSES[set.labels[index]!];
    const what = Object.entries(overwrite).map(([name, v]) => `"${name}" = ${v}`).join(', ');
    return [
      `concept bottleneck, test image #${index} (a ${label}): predicted ${FASHION_MNIST_CLASSES[before]}`,
      `  concepts: ${FASHION_CONCEPTS.map((c, i) => `${c} ${probs[i]!.toFixed(2)}`).join(', ')}`,
      `  intervention: ${what} -> predicted ${FASHION_MNIST_CLASSES[after]}`,
    ].join('\n');
  });
}

/**
 * The delta layer on a moving Fashion-MNIST stream (one item drifting and jittering): the
 * fraction of its outputs that do not change from frame to frame, i.e. the MACs of the next
 * layer a delta network skips.
 */
export function deltaStreamReport(model: tfl.LayersModel, set: ImageSet, index: number, frames = 32): string {
  const delta = model.layers.find((l) => l instanceof Delta) as Delta | undefined;
  if (!delta) return 'delta layer: none in this model';
  return tf.tidy(() => {
    const clip = movingFashionMnist({ image: set.images.subarray(index * 784, (index + 1) * 784), frames, seed: 7 });
    const x = imageBatch(clip, range(frames));
    const graph = modelGraph(model);
    const node = graph.nodes.find((n) => n.layer === delta)!;
    const values = runGraph(graph, x, { stopAfter: (n) => n === node });
    const q = values.get(node.outputs[0]!)!;
    const sparsity = temporalSparsity(q, 0);
    const next = graph.nodes.find((n) => n.inputs.includes(node.outputs[0]!));
    return `delta layer on a ${frames}-frame moving Fashion-MNIST stream: ${pct(sparsity)} of its outputs unchanged between frames, so a delta network skips that share of ${next ? `${next.layer.name}'s` : 'the next layer'} MACs`;
  });
}
