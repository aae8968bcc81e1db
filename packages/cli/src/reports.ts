/** Text reports shared by eval, info and demo. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { modelGraph, runGraph as runFloatGraph, type ModelCount } from '@tinyblocks/core';
import { createStream, type Int8Graph, OPS, runGraph } from '@tinyblocks/int8';
import { intervene } from '@tinyblocks/concept-bottleneck';
import { FASHION_CONCEPTS, FASHION_MNIST_CLASSES, movingFashionMnist } from '@tinyblocks/datasets';
import { Delta, temporalSparsity } from '@tinyblocks/delta';
import { applyThresholds } from '@tinyblocks/early-exit';
import { argmax, exitProbabilities, imageBatch, imageCodes, range, type ImageSet, type Int8EvalResult } from '@tinyblocks/models';
import type { FloatCheck } from '@tinyblocks/quantize';
import { table } from './table.js';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function layerTable(counts: ModelCount): string {
  const rows = counts.layers.map((l) => [l.name, l.className, `[${l.outputShape.slice(1).join('x')}]`, l.params, l.macs]);
  rows.push(['total', '', '', counts.totalParams, counts.totalMacs]);
  return table(['layer', 'op', 'output', 'params', 'MACs'], rows);
}

export const EXIT_THRESHOLDS = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999];

/**
 * Accuracy vs average MACs over confidence thresholds (max softmax >= threshold exits), and with
 * the model's own tuned thresholds (one per head) when it has them. The heads' probabilities are
 * computed in chunks so the activations of a large test set never sit in memory at once.
 */
export function earlyExitReport(model: tfl.LayersModel, set: ImageSet, tuned?: number[]): string {
  if (set.count === 0) return 'early exit: no images';
  const probs = exitProbabilities(model, set);
  const exits = probs.probabilities.length - 1;
  const row = (label: string, thresholds: number[]) => {
    const p = applyThresholds(probs, thresholds);
    return [label, p.accuracy.toFixed(4), Math.round(p.averageMacs), pct(1 - p.averageMacs / probs.worstCaseMacs), p.exitHistogram.join(' / ')];
  };
  const rows = EXIT_THRESHOLDS.map((t) => row(t.toString(), new Array<number>(exits).fill(t)));
  if (tuned && tuned.length === exits) rows.push(row(`tuned ${tuned.map((t) => (t <= 1 ? t : 'never')).join(', ')}`, tuned));
  return [
    `early exit (rule: max softmax >= threshold; heads ${probs.heads.join(', ')}; worst case ${probs.worstCaseMacs.toLocaleString('en-US')} MACs, never lower than without exits)`,
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
    const values = runFloatGraph(graph, x, { stopAfter: (n) => n === node });
    const q = values.get(node.outputs[0]!)!;
    const sparsity = temporalSparsity(q, 0);
    const next = graph.nodes.find((n) => n.inputs.includes(node.outputs[0]!));
    return `delta layer on a ${frames}-frame moving Fashion-MNIST stream: ${pct(sparsity)} of its outputs unchanged between frames, so a delta network skips that share of ${next ? `${next.layer.name}'s` : 'the next layer'} MACs`;
  });
}

// ---------------------------------------------------------------- int8 (the TS integer reference)

/** Exit heads' int8 early exit on a set: accuracy, exits taken and MACs actually executed. */
export function int8EarlyExitReport(result: Int8EvalResult, threshold: number | string): string {
  const e = result.earlyExit!;
  return [
    `int8 early exit (max softmax >= ${threshold}, decided from int8 logits): accuracy ${e.accuracy.toFixed(4)} (${((e.accuracy - result.accuracy) * 100).toFixed(2)} pp vs no exits)`,
    `  answered by ${e.exitRates.map((r, i) => `exit${i + 1} ${pct(r)}`).join(', ')}, final ${pct(1 - e.exitRates.reduce((a, b) => a + b, 0))}`,
    `  MACs executed: ${Math.round(e.avgMacs).toLocaleString('en-US')} of ${Math.round(result.fullMacs).toLocaleString('en-US')} per image (${pct(e.saved)} saved)`,
  ].join('\n');
}

/** The same intervention as interventionReport, run on the int8 graph (concept codes replaced). */
export function int8InterventionReport(graph: Int8Graph, set: ImageSet, index: number, overwrite: Partial<Record<(typeof FASHION_CONCEPTS)[number], 0 | 1>>): string {
  const x = imageCodes(graph, set, index);
  const iv = new Int8Array(FASHION_CONCEPTS.length).fill(-1);
  for (const [name, v] of Object.entries(overwrite)) iv[FASHION_CONCEPTS.indexOf(name as (typeof FASHION_CONCEPTS)[number])] = v!;
  const before = argmax(runGraph(graph, x).logits);
  const after = argmax(runGraph(graph, x, { interventions: iv }).logits);
  const what = Object.entries(overwrite).map(([name, v]) => `"${name}" = ${v}`).join(', ');
  return `int8 concept intervention on test image #${index}: predicted ${FASHION_MNIST_CLASSES[before]}; ${what} -> predicted ${FASHION_MNIST_CLASSES[after]}`;
}

/** The int8 delta_dense op on a moving stream: MACs it executes vs a dense layer, outputs equal to fresh runs. */
export function int8DeltaStreamReport(graph: Int8Graph, set: ImageSet, index: number, frames = 32): string {
  const node = graph.nodes.find((n) => n.op === 'delta_dense');
  if (!node) return 'int8 delta layer: none in this graph';
  const clip = movingFashionMnist({ image: set.images.subarray(index * 784, (index + 1) * 784), frames, seed: 7 });
  const frameSet = { images: clip, labels: new Uint8Array(frames), count: frames };
  const stream = createStream(graph);
  const at = graph.nodes.indexOf(node);
  const denseMacs = OPS.get('delta_dense')!.macs(node, graph);
  let executed = 0;
  let equal = 0;
  for (let t = 0; t < frames; t++) {
    const x = imageCodes(graph, frameSet, t);
    const streamed = stream.run(x);
    executed += streamed.nodeMacs[at]!;
    if (streamed.logits.every((v, i) => v === runGraph(graph, x).logits[i])) equal++;
  }
  const share = executed / (denseMacs * frames);
  return `int8 delta layer (${node.name}) on the same ${frames}-frame stream: ${pct(share)} of its MACs executed, ${pct(1 - share)} skipped; every frame's logits equal a fresh run: ${equal}/${frames}`;
}

/** Top-1 agreement of int8 with float below which verify fails (and export warns), unless --min-agreement. */
export const MIN_AGREEMENT = 0.97;

/** The int8-vs-float table and its summary line (`float agreement: N/M top-1, worst layer <name> <dB>`). */
export function floatCheckReport(check: FloatCheck, what: string): string[] {
  const rows = check.layers.map((l) => [l.node, l.op, db(l.sqnrDb), l.meanStepError.toFixed(2), l.maxStepError.toFixed(1), l === check.firstJump ? '<- error jumps here' : '']);
  return [
    `int8 vs float on ${what}: SQNR per tensor, error in output steps`,
    table(['layer', 'op', 'SQNR dB', 'mean err', 'max err', ''], rows),
    floatAgreementLine(check),
  ];
}

/** SQNR for people: 'exact' (no error), '-inf' (a float tensor of zeros that int8 misses). */
const db = (v: number) => (v === Infinity ? 'exact' : v === -Infinity ? '-inf' : v.toFixed(1));

export function floatAgreementLine(check: FloatCheck): string {
  const w = check.worst;
  return `float agreement: ${check.agree}/${check.count} top-1${w ? `, worst layer ${w.node} ${db(w.sqnrDb)}${Number.isFinite(w.sqnrDb) ? ' dB' : ''}` : ''}`;
}
