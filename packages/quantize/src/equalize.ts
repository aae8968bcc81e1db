/**
 * Outlier-channel equalization (a data-driven form of cross-layer equalization, Nagel et al.
 * 2019), applied before calibration so a per-tensor int8 grid is not spent on one channel.
 *
 * Pattern: P (Conv2D / Dense) -> A (an elementwise activation: ReLU, linear, CRReLU) -> consumers
 * that are linear per input channel (Conv2D, Dense on a [B, C] tensor, EarlyExitHead: max and
 * mean pooling, per region of its grid, are positively homogeneous). For an outlier channel c of A's output (max |value|
 * over the calibration set > `factor` x the median channel's), P's output channel c is divided
 * by s_c = max|A_c| / median and every consumer's input channel c is multiplied by s_c.
 *
 * With ReLU / linear the float model computes exactly the same function. CRReLU is only
 * approximately homogeneous: s*f(x/s) = relu(x) + eps*x*exp(-x^2 / (2 s^2)), so the correction
 * bump of that one channel widens by s. The accuracy effect is measured, not assumed (see the
 * package README). Equalization writes the model's weights; `restore()` puts the originals back.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type GraphNode, modelGraph, runGraph as runFloatGraph } from '@tinyblocks/core';

type Layer = tfl.LayersModel['layers'][number];

export interface EqualizeOptions {
  /** A channel is an outlier when its max |activation| exceeds factor x the median (default 4). */
  factor?: number;
}

export interface EqualizedPair {
  producer: string;
  activation: string;
  consumers: string[];
  /** channel -> s_c (P's channel divided, consumers' channel multiplied) */
  scales: Record<number, number>;
}

export interface Equalization {
  pairs: EqualizedPair[];
  /** Puts the original weights back. */
  restore(): void;
}

const HOMOGENEOUS = new Set(['ReLU', 'CRReLU']);

function isHomogeneousActivation(layer: Layer): boolean {
  // a capped ReLU (maxValue, ReLU6) is not homogeneous: s * min(x / s, 6) != min(x, 6)
  if (layer.getClassName() === 'ReLU') return (layer.getConfig() as { maxValue?: number | null }).maxValue == null;
  if (HOMOGENEOUS.has(layer.getClassName())) return true;
  if (layer.getClassName() !== 'Activation') return false;
  const a = (layer.getConfig() as { activation?: string }).activation;
  return a === 'relu' || a === 'linear';
}

function linearActivation(layer: Layer): boolean {
  const a = (layer.getConfig() as { activation?: string }).activation;
  return a === undefined || a === 'linear' || a === 'relu';
}

interface Candidate {
  producer: GraphNode;
  activation: GraphNode;
  consumers: GraphNode[];
}

function candidates(model: tfl.LayersModel): Candidate[] {
  const graph = modelGraph(model);
  const readers = (t: string) => graph.nodes.filter((n) => n.inputs.includes(t));
  const found: Candidate[] = [];
  for (const p of graph.nodes) {
    const cls = p.layer.getClassName();
    if ((cls !== 'Conv2D' && cls !== 'Dense') || !linearActivation(p.layer) || graph.outputs.includes(p.outputs[0]!)) continue;
    const next = readers(p.outputs[0]!);
    if (next.length !== 1 || !isHomogeneousActivation(next[0]!.layer)) continue;
    const a = next[0]!;
    if (graph.outputs.includes(a.outputs[0]!)) continue;
    const consumers = readers(a.outputs[0]!);
    const ok = consumers.length > 0 && consumers.every((c) => {
      const k = c.layer.getClassName();
      if (c.inputs.length !== 1) return false;
      if (k === 'Conv2D' || k === 'EarlyExitHead') return true;
      return k === 'Dense' && (a.outputShapes[0]?.length ?? 0) === 2;
    });
    if (ok) found.push({ producer: p, activation: a, consumers });
  }
  return found;
}

/** Per-channel max |value| of each named tensor over the batches. */
function channelMaxima(model: tfl.LayersModel, names: string[], batches: Iterable<tf.Tensor>): Map<string, Float64Array> {
  const graph = modelGraph(model);
  const out = new Map<string, Float64Array>();
  for (const batch of batches) {
    const values = runFloatGraph(graph, batch);
    try {
      for (const name of names) {
        const t = values.get(name)!;
        const c = t.shape[t.rank - 1]!;
        const data = t.dataSync();
        const m = out.get(name) ?? new Float64Array(c);
        for (let i = 0; i < data.length; i++) {
          const v = Math.abs(data[i]!);
          if (v > m[i % c]!) m[i % c] = v;
        }
        out.set(name, m);
      }
    } finally {
      for (const [name, t] of values) if (!graph.inputs.includes(name)) t.dispose();
    }
  }
  return out;
}

function median(values: Float64Array): number {
  const s = Array.from(values).sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Scales channel i along `axis` of a weight by scales[i] (or 1 / scales[i]); with `period` P, index
 * i is channel i mod P (an early-exit head's kernel rows repeat the channels per region and part).
 * Returns a new tensor.
 */
function scaleChannels(w: tf.Tensor, axis: number, scales: Record<number, number>, invert: boolean, period?: number): tf.Tensor {
  return tf.tidy(() => {
    const n = w.shape[axis]!;
    const f = Float32Array.from({ length: n }, (_, i) => {
      const s = scales[period ? i % period : i] ?? 1;
      return invert ? 1 / s : s;
    });
    const shape = w.shape.map((_, i) => (i === axis ? n : 1));
    return tf.mul(w, tf.tensor(f, shape));
  });
}

/** Kernel weight, its input-channel axis and (early-exit heads) the channel period of its rows. */
function kernelOf(layer: Layer, channels: number): { index: number; inAxis: number; period?: number } {
  const names = layer.weights.map((w) => w.originalName.split('/').pop()!);
  const index = names.indexOf('kernel');
  const cls = layer.getClassName();
  return { index, inAxis: cls === 'Conv2D' ? 2 : 0, ...(cls === 'EarlyExitHead' ? { period: channels } : {}) };
}

/**
 * Finds outlier channels on the calibration batches and equalizes them in the model's weights.
 * Call `restore()` when done (quantizeModel does).
 */
export function equalizeOutlierChannels(model: tfl.LayersModel, batches: Iterable<tf.Tensor>, options: EqualizeOptions = {}): Equalization {
  const factor = options.factor ?? 4;
  const found = candidates(model);
  const saved: Array<{ layer: Layer; weights: tf.Tensor[] }> = [];
  const restore = () => {
    for (const s of saved.reverse()) {
      s.layer.setWeights(s.weights);
      tf.dispose(s.weights);
    }
    saved.length = 0;
  };
  if (found.length === 0) return { pairs: [], restore };
  const maxima = channelMaxima(model, found.map((c) => c.activation.outputs[0]!), batches);
  const pairs: EqualizedPair[] = [];
  const keep = (layer: Layer) => saved.push({ layer, weights: layer.getWeights().map((w) => tf.clone(w)) });
  try {
    for (const c of found) {
      const m = maxima.get(c.activation.outputs[0]!)!;
      const med = median(m);
      if (!(med > 0)) continue;
      const scales: Record<number, number> = {};
      m.forEach((v, i) => {
        if (v > factor * med) scales[i] = v / med;
      });
      if (Object.keys(scales).length === 0) continue;
      // producer: output channel (last axis of kernel and bias) divided by s
      keep(c.producer.layer);
      const scaled = c.producer.layer.getWeights().map((w) => scaleChannels(w, w.rank - 1, scales, true));
      c.producer.layer.setWeights(scaled);
      tf.dispose(scaled);
      for (const consumer of c.consumers) {
        keep(consumer.layer);
        const { index, inAxis, period } = kernelOf(consumer.layer, m.length);
        const weights = consumer.layer.getWeights();
        const kernel = scaleChannels(weights[index]!, inAxis, scales, false, period);
        consumer.layer.setWeights(weights.map((w, i) => (i === index ? kernel : w)));
        kernel.dispose();
      }
      pairs.push({ producer: c.producer.layer.name, activation: c.activation.layer.name, consumers: c.consumers.map((x) => x.layer.name), scales });
    }
  } catch (e) {
    restore();
    throw e;
  }
  return { pairs, restore };
}
