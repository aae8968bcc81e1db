/**
 * delta_dense: a Delta activation layer fused with the dense layer that follows it, run as a
 * delta network (blocks.md): x int8 [D] (any shape, read flat) -> y int8 [N]; STATEFUL.
 * Float model: k_i = round(relu?(x_i) / thr_i), y_j = Σ_i W[i,j] * thr_i * k_i + bias_j.
 *
 * Integer semantics. u_i = relu ? max(q_i - inZp, 0) : q_i - inZp; m_i = step[i] in [1, 511]:
 *   k_i = sign(u_i) * floor((2|u_i| + m_i) / (2 m_i))          (round half away of u_i / m_i; |k| <= 255)
 * State (per node): khat int16[D] (last transmitted k), acc int32[N] (Σ_i W'[i,j] * khat_i),
 * both zero at the start and after a reset. Each run, for i = 0..D-1:
 *   d = k_i - khat_i;  if d != 0: acc[j] += W'[i,j] * d for all j (one contiguous column of the
 *   [D][N] weights), khat_i = k_i  — zero deltas skip their column: MACs = N * #(d != 0)
 *   y_j = clamp(MBQM(acc[j] + bias[j], multiplier[j], shift[j]) + outZp, actMin, actMax)
 * Integer accumulation is exact (|acc + bias| <= D*128*255 + |bias| < 2^31, checked), so every
 * frame's output equals a fresh single-frame run on that frame; only the MACs differ.
 * (acc holds the weighted sum WITHOUT the bias, so a zero-filled state is a fresh state: the C
 * statics need no initialisation; the bias joins at requantisation. Same outputs as acc = bias.)
 *
 * Lowering (float, s = in.scale): m_i = clamp(round(thr_i / s), 1, 511): THE THRESHOLD IS ROUNDED
 * TO A WHOLE NUMBER OF INPUT STEPS (the int8 layer quantizes with step m_i*s instead of thr_i; a
 * threshold below s/2 becomes one step; any m >= 511 sends every k to 0). Ties round away from
 * zero (tf.round in the float layer rounds half to even). W'[i,j] = W[i,j] * m_i * s quantized
 * symmetric per output j (wScale'[j]; the dense input is k: scale 1, zero point 0), bias int32
 * with scale wScale'[j], multiplier = quantizeMultiplier(wScale'[j] / out.scale).
 * Measured (tests): within 0.75 LSB of the formula on the int8 weights (output rounding plus
 * TFLite's double rounding), 0.93 LSB of the float formula (thr = m*s) with the float weights;
 * on correlated random-walk frames (15% of codes change per frame) streams ran 93% fewer MACs
 * than the dense layer.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { quantizeBias, quantizeWeightsPerChannel } from '../affine.js';
import { quantizeMultiplier, requantize, roundHalfAway } from '../fixed-point.js';
import { type Int8Graph, type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { checkArity, checkInt, checkTyped, fieldError, isMantissa } from './int-math.js';

export const DELTA_MAX_STEP = 511;
const INT32_MAX = 2 ** 31 - 1;

export interface DeltaDenseNode extends NodeBase {
  op: 'delta_dense';
  /** [D] m_i: the delta threshold in input steps, in [1, 511]. */
  step: Int16Array;
  /** Relu before quantizing (the Delta layer's default). */
  relu: boolean;
  /** [D][N] int8 W' (column i = the weights fed by input feature i, contiguous). */
  weights: Int8Array;
  /** [N] scale wScale'[j]. */
  bias: Int32Array;
  /** [N] Q31 mantissas of wScale'[j] / outScale. */
  multiplier: Int32Array;
  /** [N] in [-31, 30]. */
  shift: Int32Array;
  actMin: number;
  actMax: number;
}

export interface DeltaDenseArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  /** Any shape; D = its size. */
  in: TensorInfo;
  /** [N]. */
  out: TensorInfo;
  /** |threshold| per input feature (length D) or one for all (length 1). */
  thresholds: ArrayLike<number>;
  relu: boolean;
  /** tfjs dense kernel [D, N]. */
  kernel: ArrayLike<number>;
  /** [N]; zeros when absent. */
  bias?: ArrayLike<number>;
  /** The dense layer's activation fused into the clamp (default 'linear'). */
  activation?: 'linear' | 'relu' | 'relu6';
}

export function lowerDeltaDense(args: DeltaDenseArgs): DeltaDenseNode {
  const where = { op: 'lowerDeltaDense' };
  const D = tensorSize(args.in);
  if (args.out?.shape?.length !== 1) throw new ConfigError(where, 'out.shape', '[N]', args.out?.shape);
  const N = args.out.shape[0]!;
  if (D > 65535) throw new ConfigError(where, 'in.shape', 'at most 65535 features', args.in.shape);
  const thr = args.thresholds;
  if (!thr || (thr.length !== D && thr.length !== 1)) throw new ConfigError(where, 'thresholds', `1 or ${D} numbers`, thr?.length);
  if (typeof args.relu !== 'boolean') throw new ConfigError(where, 'relu', 'true or false', args.relu);
  if (!args.kernel || args.kernel.length !== D * N) throw new ConfigError(where, 'kernel', `${D * N} numbers ([${D}, ${N}])`, args.kernel?.length);
  if (args.bias && args.bias.length !== N) throw new ConfigError(where, 'bias', `${N} numbers`, args.bias.length);
  const s = args.in.scale;
  const step = new Int16Array(D);
  for (let i = 0; i < D; i++) {
    const t = Math.abs(thr[thr.length === 1 ? 0 : i]!);
    if (!Number.isFinite(t)) throw new ConfigError(where, `thresholds[${i}]`, 'a finite number', thr[i]);
    step[i] = Math.min(Math.max(roundHalfAway(t / s), 1), DELTA_MAX_STEP);
  }
  const scaled = new Float64Array(D * N);
  for (let i = 0; i < D; i++) for (let j = 0; j < N; j++) scaled[i * N + j] = args.kernel[i * N + j]! * step[i]! * s;
  const w = quantizeWeightsPerChannel(scaled, [D, N], -1);
  const bias = quantizeBias(args.bias ?? new Float64Array(N), 1, w.scales);
  const bound = INT32_MAX - D * 128 * 255;
  for (let j = 0; j < N; j++) bias[j] = Math.min(Math.max(bias[j]!, -bound), bound);
  const multiplier = new Int32Array(N);
  const shift = new Int32Array(N);
  for (let j = 0; j < N; j++) {
    const q = quantizeMultiplier(w.scales[j]! / args.out.scale);
    multiplier[j] = q.multiplier;
    shift[j] = q.shift;
  }
  const act = args.activation ?? 'linear';
  const zp = args.out.zeroPoint;
  if (!['linear', 'relu', 'relu6'].includes(act)) throw new ConfigError(where, 'activation', "'linear', 'relu' or 'relu6'", act);
  return {
    op: 'delta_dense',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    step,
    relu: args.relu,
    weights: w.values,
    bias,
    multiplier,
    shift,
    actMin: act === 'linear' ? -128 : Math.max(-128, Math.min(127, zp)),
    actMax: act === 'relu6' ? Math.max(-128, Math.min(127, zp + roundHalfAway(6 / args.out.scale))) : 127,
  };
}

function dims(node: DeltaDenseNode, graph: Int8Graph) {
  const inT = graph.tensors[node.inputs[0]!]!;
  const outT = graph.tensors[node.outputs[0]!]!;
  return { D: tensorSize(inT), N: tensorSize(outT), inZp: inT.zeroPoint, outZp: outT.zeroPoint };
}

interface DeltaState {
  khat: Int16Array;
  acc: Int32Array;
}

export const deltaDense: OpDef<DeltaDenseNode> = {
  op: 'delta_dense',

  validate(node, graph) {
    checkArity(node, 1, 1);
    const outShape = graph.tensors[node.outputs[0]!]!.shape;
    if (outShape.length !== 1) fieldError(node, 'output shape', 'a [N] tensor', outShape);
    const { D, N } = dims(node, graph);
    if (D > 65535) fieldError(node, 'input size', 'at most 65535', D);
    checkTyped(node, 'step', Int16Array, D, 1, DELTA_MAX_STEP);
    if (typeof node.relu !== 'boolean') fieldError(node, 'relu', 'true or false', node.relu);
    checkTyped(node, 'weights', Int8Array, D * N, -128, 127);
    const bound = INT32_MAX - D * 128 * 255;
    checkTyped(node, 'bias', Int32Array, N, -bound, bound);
    checkTyped(node, 'multiplier', Int32Array, N, 0, INT32_MAX);
    node.multiplier.forEach((m, j) => isMantissa(m) || fieldError(node, `multiplier[${j}]`, '0 or a mantissa in [2^30, 2^31)', m));
    checkTyped(node, 'shift', Int32Array, N, -31, 30);
    const lo = checkInt(node, 'actMin', -128, 127);
    checkInt(node, 'actMax', lo, 127);
  },

  run(node, [input], graph, ctx) {
    const { D, N, inZp, outZp } = dims(node, graph);
    const x = input!;
    const st = ctx.state<DeltaState>(node, () => ({ khat: new Int16Array(D), acc: new Int32Array(N) }));
    if (st.khat.length !== D || st.acc.length !== N) throw new DataError({ layer: node.name }, 'state', `khat[${D}] and acc[${N}]`, `khat[${st.khat.length}], acc[${st.acc.length}]`);
    const { khat, acc } = st;
    const w = node.weights;
    let sent = 0;
    for (let i = 0; i < D; i++) {
      let u = x[i]! - inZp;
      if (node.relu && u < 0) u = 0;
      const m = node.step[i]!;
      const k = u >= 0 ? Math.floor((2 * u + m) / (2 * m)) : -Math.floor((m - 2 * u) / (2 * m));
      const d = k - khat[i]!;
      if (d !== 0) {
        for (let j = 0, wi = i * N; j < N; j++, wi++) acc[j] += w[wi]! * d;
        khat[i] = k;
        sent++;
      }
    }
    const out = new Int8Array(N);
    for (let j = 0; j < N; j++) out[j] = requantize(acc[j]! + node.bias[j]!, node.multiplier[j]!, node.shift[j]!, outZp, node.actMin, node.actMax);
    return { outputs: [out], macs: sent * N };
  },

  macs(node, graph) {
    const { D, N } = dims(node, graph);
    return D * N;
  },

  runtime: ['tb_fixed_point.h', 'tb_delta_dense.h'],

  emitC(node: DeltaDenseNode, ctx: EmitContext) {
    const { D, N, inZp, outZp } = dims(node, ctx.graph);
    const khat = ctx.state('khat', 'int16_t', D);
    const acc = ctx.state('acc', 'int32_t', N);
    const args = [
      ctx.tensor(node.inputs[0]!),
      ctx.tensor(node.outputs[0]!),
      D,
      N,
      inZp,
      node.relu ? 1 : 0,
      ctx.data('step', 'int16_t', node.step),
      ctx.data('weights', 'int8_t', node.weights),
      ctx.data('bias', 'int32_t', node.bias),
      ctx.data('multiplier', 'int32_t', node.multiplier),
      ctx.data('shift', 'int32_t', node.shift),
      outZp,
      node.actMin,
      node.actMax,
      khat,
      acc,
    ];
    return { call: `tb_delta_dense_s8(${args.join(', ')})`, returnsMacs: true, reset: `tb_delta_dense_reset(${khat}, ${D}, ${acc}, ${N})` };
  },
};
