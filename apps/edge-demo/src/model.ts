/**
 * The shipped float model in the page: loading, one image's prediction (every head, the concepts,
 * early-exit inference that really stops), interventions, head probabilities for the exit curve,
 * and the delta layer's outputs on a clip. Tensors stay inside; plain arrays come out.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { countModel, modelGraph, runGraph, type LayerCount, type ModelGraph } from '@tinyblocks/core';
import { intervene } from '@tinyblocks/concept-bottleneck';
import { Delta } from '@tinyblocks/delta';
import { earlyExitPredict, headProbabilities, type HeadProbabilities } from '@tinyblocks/early-exit';
import { argmax } from './dom.js';
import type { EarlyExitRun, ExitInfo } from './state.js';
// The custom layers of the reference model register themselves on import. (@tinyblocks/models
// reads files with node:fs, so the page imports the block packages.)
import '@tinyblocks/crrelu';
import '@tinyblocks/polycom';
import '@tinyblocks/evonorm';

interface Meta {
  outputRoles: string[];
  exitThresholds?: number[];
  conceptNames?: string[];
}

export interface FloatPrediction {
  logits: number[];
  probabilities: number[];
  exits: ExitInfo[];
  concepts: number[];
}

/** Float images [n, 28, 28, 1] in [0, 1] from 0..255 pixels. */
export const imageTensor = (pixels: ArrayLike<number>, n = 1): tf.Tensor4D =>
  tf.tensor4d(Float32Array.from(pixels, (v) => v / 255), [n, 28, 28, 1]);

export class DemoModel {
  readonly graph: ModelGraph;
  readonly layers: LayerCount[];
  readonly roles: string[];
  readonly tunedThresholds: number[];
  readonly conceptNames: string[];
  readonly exitNames: string[];

  private constructor(readonly model: tfl.LayersModel) {
    const meta = ((model.getUserDefinedMetadata() ?? {}) as { tinyblocks?: Meta }).tinyblocks;
    if (!meta?.outputRoles) throw new Error('model.json: userDefinedMetadata.tinyblocks.outputRoles missing (not a tinyblocks model)');
    this.roles = meta.outputRoles;
    this.exitNames = this.outputsOf('exit').map((o) => model.outputNames[o]!.split('/')[0]!);
    this.tunedThresholds = meta.exitThresholds ?? this.exitNames.map(() => 0.99);
    this.conceptNames = meta.conceptNames ?? [];
    this.graph = modelGraph(model);
    this.layers = countModel(model).layers;
  }

  static async load(url: string): Promise<DemoModel> {
    return new DemoModel(await tfl.loadLayersModel(url));
  }

  private outputsOf(role: string): number[] {
    return this.roles.flatMap((r, i) => (r === role ? [i] : []));
  }

  /** Every output of the model on one image: final and exit probabilities, concepts. */
  async predict(pixels: ArrayLike<number>): Promise<FloatPrediction> {
    const outs = tf.tidy(() => {
      const out = this.model.predict(imageTensor(pixels));
      const list = Array.isArray(out) ? out : [out];
      const logits = list[this.outputsOf('logits')[0] ?? 0]!;
      return [logits, tf.softmax(logits), ...this.outputsOf('exit').map((o) => tf.softmax(list[o]!)), list[this.outputsOf('concepts')[0]!]!];
    });
    const data = await Promise.all(outs.map(async (t) => Array.from(await t.data())));
    tf.dispose(outs);
    const [logits, probabilities, ...rest] = data;
    const concepts = rest.pop() ?? [];
    const exits = rest.map((q, e) => {
      const predicted = argmax(q);
      return { name: this.exitNames[e]!, predicted, confidence: q[predicted]! };
    });
    return { logits: logits!, probabilities: probabilities!, exits, concepts };
  }

  /** Early-exit inference on one image: the layers after the head that answers never run. */
  earlyExit(pixels: ArrayLike<number>, thresholds: number[]): EarlyExitRun {
    const x = imageTensor(pixels);
    try {
      const r = earlyExitPredict(this.model, x, { rule: 'confidence', threshold: thresholds });
      const s = r.samples[0]!;
      return { thresholds: [...thresholds], exitAt: r.heads[s.exitIndex]!, exitIndex: s.exitIndex, predicted: s.prediction, macs: s.macs, fullModelMacs: r.fullModelMacs };
    } finally {
      x.dispose();
    }
  }

  /** The final classifier with some concepts overwritten (concept index -> value). */
  async intervene(pixels: ArrayLike<number>, values: Record<number, number>): Promise<{ logits: number[]; probabilities: number[] }> {
    const x = imageTensor(pixels);
    const { logits, concepts } = intervene(this.model, x, values);
    const probs = tf.softmax(logits);
    const out = { logits: Array.from(await logits.data()), probabilities: Array.from(await probs.data()) };
    tf.dispose([x, logits, concepts, probs]);
    return out;
  }

  /** Every head's softmax rows for images [from, from + count) of `images` (784 pixels each). */
  headProbabilities(images: Uint8Array, labels: Uint8Array, from: number, count: number): HeadProbabilities {
    const x = imageTensor(images.subarray(from * 784, (from + count) * 784), count);
    try {
      return headProbabilities(this.model, x, Array.from(labels.subarray(from, from + count)));
    } finally {
      x.dispose();
    }
  }

  /**
   * The delta layer's outputs on T frames (the batch axis is time for this layer), the kernel
   * and bias of the Dense layer that reads them, its outputs, and the final predictions.
   */
  async deltaOutputs(frames: ArrayLike<number>, count: number): Promise<{ q: Float32Array; width: number; next: { kernel: Float32Array; bias: Float32Array; out: Float32Array; units: number } | null; predicted: number[] }> {
    const delta = this.graph.nodes.find((n) => n.layer instanceof Delta);
    if (!delta) throw new Error('the model has no Delta layer');
    const nextNode = this.graph.nodes.find((n) => n.inputs.includes(delta.outputs[0]!));
    const dense = nextNode?.layer.getClassName() === 'Dense' ? nextNode : undefined;
    const logitsName = this.graph.outputs[this.outputsOf('logits')[0] ?? 0]!;
    const [q, out, logits] = tf.tidy(() => {
      const values = runGraph(this.graph, imageTensor(frames, count));
      return [values.get(delta.outputs[0]!)!, dense ? values.get(dense.outputs[0]!)! : tf.zeros([1]), values.get(logitsName)!];
    });
    const [qData, outData, logitsData] = await Promise.all([q!.data(), out!.data(), logits!.data()]);
    tf.dispose([q!, out!, logits!]);
    const classes = logitsData.length / count;
    const predicted = Array.from({ length: count }, (_, t) => argmax(logitsData.subarray(t * classes, (t + 1) * classes)));
    let next = null;
    if (dense) {
      const [kernel, bias] = dense.layer.getWeights();
      next = { kernel: (await kernel!.data()) as Float32Array, bias: (await bias!.data()) as Float32Array, out: outData as Float32Array, units: bias!.shape[0]! };
    }
    return { q: qData as Float32Array, width: qData.length / count, next, predicted };
  }
}
