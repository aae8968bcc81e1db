/**
 * TEST ONLY (not exported; verify's tests use it too). standardGraph: a small int8 graph built
 * with the real lowerings from random float weights. Node names are deliberately not C
 * identifiers ('conv-1', 'conv_1' collide once sanitised). The lut, add and reshape nodes can run
 * in place.
 *
 *   input [8,8,3] -> conv-1 (3x3 same) [8,8,8] -> act (lut, leaky) [8,8,8]
 *     -> conv_1 (depthwise 3x3) [8,8,8] -> add(act, conv_1) [8,8,8] -> pool (2x2) [4,4,8]
 *     -> flat (reshape) [128] -> fc.logits (dense) [10]
 */
import { Rng } from '@tinyblocks/core/base';
import {
  chooseQuantParams,
  type Int8Graph,
  type Int8Node,
  lowerAdd,
  lowerAvgPool2d,
  lowerConceptIntervene,
  lowerConv2d,
  lowerDeltaDense,
  lowerDense,
  lowerDepthwiseConv2d,
  lowerEvoNormB0,
  lowerEvoNormS0,
  lowerExitDecision,
  lowerLut,
  lowerMixPool,
  lowerPolyNorm,
  lowerReshape,
  type TensorInfo,
} from '@tinyblocks/int8';

export function standardGraph(seed = 1, name = 'tiny'): Int8Graph {
  const rng = new Rng(seed);
  const randn = (n: number, std: number) => Float32Array.from({ length: n }, () => rng.normal(0, std));
  const tensors: TensorInfo[] = [];
  const t = (tname: string, shape: number[], min: number, max: number): number => {
    tensors.push({ name: tname, shape, ...chooseQuantParams(min, max) });
    return tensors.length - 1;
  };
  const same = (tname: string, shape: number[], like: number): number => {
    tensors.push({ ...tensors[like]!, name: tname, shape });
    return tensors.length - 1;
  };
  const x = t('input', [8, 8, 3], -1, 1);
  const c1 = t('conv-1', [8, 8, 8], -3, 3);
  const a1 = t('act', [8, 8, 8], -0.5, 3);
  const d1 = t('conv_1', [8, 8, 8], -3, 3);
  const s1 = t('sum', [8, 8, 8], -5, 5);
  const p1 = same('pool', [4, 4, 8], s1);
  const f1 = same('flat', [128], p1);
  const lg = t('logits', [10], -6, 6);
  const T = (id: number) => tensors[id]!;
  const nodes = [
    lowerConv2d({ name: 'conv-1', inputs: [x], outputs: [c1], in: T(x), out: T(c1), kernel: randn(3 * 3 * 3 * 8, 0.4), bias: randn(8, 0.1), kernelSize: [3, 3], strides: [1, 1], padding: 'same' }),
    lowerLut({ name: 'act', inputs: [c1], outputs: [a1], in: T(c1), out: T(a1), fn: (v) => (v > 0 ? v : 0.1 * v), fnName: 'leaky_relu' }),
    lowerDepthwiseConv2d({ name: 'conv_1', inputs: [a1], outputs: [d1], in: T(a1), out: T(d1), kernel: randn(3 * 3 * 8, 0.4), bias: randn(8, 0.1), kernelSize: [3, 3], strides: [1, 1], padding: 'same' }),
    lowerAdd({ name: 'add', inputs: [a1, d1], outputs: [s1], in: [T(a1), T(d1)], out: T(s1) }),
    lowerAvgPool2d({ name: 'pool', inputs: [s1], outputs: [p1], in: T(s1), out: T(p1), poolSize: [2, 2], padding: 'valid' }),
    lowerReshape({ name: 'flat', inputs: [p1], outputs: [f1], in: T(p1), out: T(f1) }),
    lowerDense({ name: 'fc.logits', inputs: [f1], outputs: [lg], in: T(f1), out: T(lg), kernel: randn(128 * 10, 0.15), bias: randn(10, 0.1) }),
  ] as unknown as Int8Node[];
  return { format: 'tinyblocks-int8-graph', version: 1, name, tensors, nodes, input: x, outputs: [{ tensor: lg, role: 'logits' }], meta: { test: true } };
}

/** Deterministic random int8 frames. */
export function randomFrames(count: number, size: number, seed = 7): Int8Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => Int8Array.from({ length: size }, () => rng.int(256) - 128));
}

/**
 * Every block op in one graph, with an early exit, a concept bottleneck and a delta layer:
 *
 *   input [8,8,3] -> stem (conv 3x3) -> enb0 (evonorm_b0, in place) -> ens0 (evonorm_s0, 2 groups)
 *     -> exit0.pool (mix_pool) [8] -> exit0.fc (dense) [10] -> exit0 (exit_decision, tau)
 *     -> dw (depthwise 3x3) -> pool (avg 2x2) [4,4,8] -> flat [128] -> delta (delta_dense, stateful) [16]
 *     -> pn (polynorm, in place) -> concepts (dense) [4] -> cbm (concept_intervene) [4] -> head (dense) [10]
 * Outputs: logits (head), exit (exit0.fc), concepts (cbm).
 */
export function blockGraph(tau: number, seed = 3, name = 'blocks'): Int8Graph {
  const rng = new Rng(seed);
  const randn = (n: number, std: number, mean = 0) => Float32Array.from({ length: n }, () => rng.normal(mean, std));
  const tensors: TensorInfo[] = [];
  const t = (tname: string, shape: number[], min: number, max: number): number => {
    tensors.push({ name: tname, shape, ...chooseQuantParams(min, max) });
    return tensors.length - 1;
  };
  const same = (tname: string, shape: number[], like: number): number => {
    tensors.push({ ...tensors[like]!, name: tname, shape });
    return tensors.length - 1;
  };
  const x = t('input', [8, 8, 3], -1, 1);
  const stem = t('stem', [8, 8, 8], -3, 3);
  const enb0 = t('enb0', [8, 8, 8], -3, 3);
  const ens0 = t('ens0', [8, 8, 8], -3, 3);
  const exPool = t('exit0.pool', [8], -3, 3);
  const exLogits = t('exit0.logits', [10], -6, 6);
  const dw = t('dw', [8, 8, 8], -4, 4);
  const pool = same('pool', [4, 4, 8], dw);
  const flat = same('flat', [128], pool);
  const delta = t('delta', [16], -4, 4);
  const pn = t('pn', [16], -3, 3);
  const cl = t('concept_logits', [4], -6, 6);
  const cbm = same('cbm', [4], cl);
  const logits = t('logits', [10], -8, 8);
  const T = (id: number) => tensors[id]!;
  const C = 8;
  const nodes = [
    lowerConv2d({ name: 'stem', inputs: [x], outputs: [stem], in: T(x), out: T(stem), kernel: randn(3 * 3 * 3 * C, 0.4), bias: randn(C, 0.1), kernelSize: [3, 3], strides: [1, 1], padding: 'same' }),
    lowerEvoNormB0({ name: 'enb0', inputs: [stem], outputs: [enb0], in: T(stem), out: T(enb0), gamma: randn(C, 0.2, 1), beta: randn(C, 0.2), v: randn(C, 0.3), movingVariance: randn(C, 0.1, 1).map(Math.abs), eps: 1e-3 }),
    lowerEvoNormS0({ name: 'ens0', inputs: [enb0], outputs: [ens0], in: T(enb0), out: T(ens0), gamma: randn(C, 0.2, 1), beta: randn(C, 0.2), v: randn(C, 0.3, 1), groups: 2, eps: 1e-3 }),
    lowerMixPool({ name: 'exit0.pool', inputs: [ens0], outputs: [exPool], in: T(ens0), out: T(exPool), mix: 0.4 }),
    lowerDense({ name: 'exit0.fc', inputs: [exPool], outputs: [exLogits], in: T(exPool), out: T(exLogits), kernel: randn(C * 10, 0.8), bias: randn(10, 0.3) }),
    lowerExitDecision({ name: 'exit0', inputs: [exLogits], outputs: [], in: T(exLogits), threshold: tau }),
    lowerDepthwiseConv2d({ name: 'dw', inputs: [ens0], outputs: [dw], in: T(ens0), out: T(dw), kernel: randn(3 * 3 * C, 0.4), bias: randn(C, 0.1), kernelSize: [3, 3], strides: [1, 1], padding: 'same', activation: 'relu' }),
    lowerAvgPool2d({ name: 'pool', inputs: [dw], outputs: [pool], in: T(dw), out: T(pool), poolSize: [2, 2], padding: 'valid' }),
    lowerReshape({ name: 'flat', inputs: [pool], outputs: [flat], in: T(pool), out: T(flat) }),
    lowerDeltaDense({ name: 'delta', inputs: [flat], outputs: [delta], in: T(flat), out: T(delta), thresholds: [0.2], relu: true, kernel: randn(128 * 16, 0.15), bias: randn(16, 0.1) }),
    lowerPolyNorm({ name: 'pn', inputs: [delta], outputs: [pn], in: T(delta), out: T(pn), w: [0.2, 0.3, 1], b: 0.1 }),
    lowerDense({ name: 'concepts', inputs: [pn], outputs: [cl], in: T(pn), out: T(cl), kernel: randn(16 * 4, 0.6), bias: randn(4, 0.2) }),
    lowerConceptIntervene({ name: 'cbm', inputs: [cl], outputs: [cbm], in: T(cl), out: T(cbm), lowLogits: [-4, -4, -4, -4], highLogits: [4, 4, 4, 4] }),
    lowerDense({ name: 'head', inputs: [cbm], outputs: [logits], in: T(cbm), out: T(logits), kernel: randn(4 * 10, 1), bias: randn(10, 0.2) }),
  ] as unknown as Int8Node[];
  return {
    format: 'tinyblocks-int8-graph',
    version: 1,
    name,
    tensors,
    nodes,
    input: x,
    outputs: [
      { tensor: logits, role: 'logits' },
      { tensor: exLogits, role: 'exit' },
      { tensor: cbm, role: 'concepts' },
    ],
    meta: { threshold: tau },
  };
}

/**
 * Correlated frames for streaming: runs of repeated frames (the delta layer sends nothing) and
 * small perturbations (it sends a few columns), with fresh frames in between.
 */
export function streamFrames(count: number, size: number, seed = 5): Int8Array[] {
  const rng = new Rng(seed);
  const frames: Int8Array[] = [];
  let cur = Int8Array.from({ length: size }, () => rng.int(256) - 128);
  for (let f = 0; f < count; f++) {
    const r = f % 4;
    if (r === 0 && f > 0) cur = Int8Array.from({ length: size }, () => rng.int(256) - 128);
    else if (r === 2) cur = cur.map((v) => (rng.next() < 0.05 ? Math.max(-128, Math.min(127, v + rng.int(21) - 10)) : v));
    frames.push(cur.slice());
  }
  return frames;
}
