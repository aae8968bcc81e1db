/**
 * int8 checked against float. Bit-exact is not correct: an int8 graph that computes the wrong
 * function (BatchNorm folded across a fused ReLU) passes every C-vs-TypeScript check. This runs
 * the float model and the int8 graph (the TypeScript integer reference, the C code's bytes) on
 * the same inputs and reports the top-1 agreement of the logits and, for every int8 tensor that
 * has a float counterpart (same layer name), the SQNR in dB and the mean / max error in output
 * steps, in execution order, naming the worst layer and the first one where the error jumps.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, modelGraph, runGraph as runFloatGraph } from '@tinyblocks/core';
import { type Int8Graph, runGraph } from '@tinyblocks/int8';
import type { EqualizedPair } from './equalize.js';
import { quantizeInput, stableTensorNames } from './ptq.js';

export interface LayerError {
  /** The int8 node that writes the tensor, and its op. */
  node: string;
  op: string;
  /** The tensor (= the float layer output it is compared with). */
  tensor: string;
  /** 10 log10(sum float^2 / sum (float - int8)^2); Infinity when equal. */
  sqnrDb: number;
  /** |float - dequantized int8| in steps of the tensor's scale. */
  meanStepError: number;
  maxStepError: number;
}

export interface FloatCheck {
  /** Inputs compared. */
  count: number;
  /** Inputs where the int8 logits' argmax equals the float logits'. */
  agree: number;
  agreement: number;
  /** Every compared tensor, in execution order. */
  layers: LayerError[];
  /** The lowest SQNR. */
  worst: LayerError | null;
  /** The first tensor (in execution order) whose SQNR falls below `jumpDb`: where the int8 graph stops tracking the model. */
  firstJump: LayerError | null;
}

export interface FloatCheckOptions {
  /** Inputs to compare at most (default: all the batches hold). */
  limit?: number;
  /** SQNR below which a tensor counts as lost (default 12 dB; a healthy int8 tensor is at 20-45 dB). */
  jumpDb?: number;
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Per-channel factors that undo outlier-channel equalization on the tensors it rescaled. */
function equalizationFactors(graph: Int8Graph): Map<string, Record<number, number>> {
  const pairs = (graph.meta['equalized'] ?? []) as unknown as EqualizedPair[];
  const out = new Map<string, Record<number, number>>();
  for (const p of pairs) for (const t of [p.producer, p.activation]) out.set(t, p.scales);
  return out;
}

/**
 * Compares `graph` with the float `model` it was quantized from on float input batches
 * ([B, ...input shape], as the model takes them; read, not disposed).
 */
export function checkAgainstFloat(model: tfl.LayersModel, graph: Int8Graph, batches: Iterable<tf.Tensor>, options: FloatCheckOptions = {}): FloatCheck {
  const mg = modelGraph(model);
  const stable = stableTensorNames(model, mg);
  const byName = new Map(graph.tensors.map((t, i) => [t.name, i]));
  const producer = new Map<number, { node: string; op: string }>();
  graph.nodes.forEach((n) => n.outputs.forEach((t) => producer.set(t, { node: n.name, op: n.op })));
  const logits = graph.outputs.find((o) => o.role === 'logits') ?? graph.outputs[0];
  if (!logits) throw new ConfigError({ op: 'checkAgainstFloat' }, 'graph.outputs', 'a logits output', graph.outputs);
  // float tensors compared: those whose stable name is an int8 tensor written by a node, in execution order
  const pairs: Array<{ symbolic: string; tensor: number }> = [];
  for (const [symbolic, name] of stable) {
    const t = byName.get(name);
    if (t !== undefined && producer.has(t)) pairs.push({ symbolic, tensor: t });
  }
  const order = new Map<number, number>();
  graph.nodes.forEach((n, k) => n.outputs.forEach((t) => order.set(t, k)));
  pairs.sort((a, b) => order.get(a.tensor)! - order.get(b.tensor)!);
  const factors = equalizationFactors(graph);
  const acc = pairs.map(() => ({ f2: 0, e2: 0, steps: 0, max: 0, n: 0 }));
  const limit = options.limit ?? Infinity;
  let count = 0;
  let agree = 0;
  for (const batch of batches) {
    if (count >= limit) break;
    const b = Math.min(batch.shape[0]!, limit - count);
    tf.engine().startScope(); // the float run's tensors are freed at endScope; the batch is the caller's
    let floats: Array<Float32Array | null>;
    try {
      const values = runFloatGraph(mg, batch);
      floats = pairs.map((p) => (values.get(p.symbolic)?.dataSync() as Float32Array | undefined) ?? null);
    } finally {
      tf.engine().endScope();
    }
    const inputs = batch.dataSync() as Float32Array;
    const inSize = inputs.length / batch.shape[0]!;
    for (let i = 0; i < b; i++) {
      const run = runGraph(graph, quantizeInput(graph, inputs.subarray(i * inSize, (i + 1) * inSize)));
      pairs.forEach((p, k) => {
        const f = floats[k];
        const q = run.tensors[p.tensor];
        const info = graph.tensors[p.tensor]!;
        if (!f || !q || f.length !== q.length * batch.shape[0]!) return;
        const fx = f.subarray(i * q.length, (i + 1) * q.length);
        const eq = factors.get(info.name);
        const channels = info.shape[info.shape.length - 1] ?? 1;
        const a = acc[k]!;
        for (let j = 0; j < q.length; j++) {
          const s = eq?.[j % channels] ?? 1;
          const real = info.scale * (q[j]! - info.zeroPoint) * s;
          const e = fx[j]! - real;
          a.f2 += fx[j]! * fx[j]!;
          a.e2 += e * e;
          const steps = Math.abs(e) / (info.scale * s);
          a.steps += steps;
          if (steps > a.max) a.max = steps;
          a.n++;
        }
        if (p.tensor === logits.tensor && argmax(q) === argmax(fx)) agree++;
      });
      count++;
    }
  }
  const layers: LayerError[] = [];
  pairs.forEach((p, k) => {
    const a = acc[k]!;
    if (a.n === 0) return;
    layers.push({
      ...producer.get(p.tensor)!,
      tensor: graph.tensors[p.tensor]!.name,
      sqnrDb: a.e2 === 0 ? Infinity : 10 * Math.log10(a.f2 / a.e2),
      meanStepError: a.steps / a.n,
      maxStepError: a.max,
    });
  });
  const jumpDb = options.jumpDb ?? 12;
  const firstJump = layers.find((l) => l.sqnrDb < jumpDb) ?? null;
  const worst = layers.reduce<LayerError | null>((w, l) => (!w || l.sqnrDb < w.sqnrDb ? l : w), null);
  return { count, agree, agreement: count === 0 ? 0 : agree / count, layers, worst, firstJump };
}
