/**
 * dense: int8 fully connected layer with per-channel weights, TFLite's reference
 * `integer_ops::FullyConnectedPerChannel` semantics.
 *
 * Input: any shape, read flat as [D] (a [H, W, C] map in NHWC order, as tfjs Flatten) with zero
 * point inZp; output [N] (zero point outZp); weights [N, D] int8 (symmetric per output unit), bias
 * int32[N], per-unit multipliers/shifts. For every unit n:
 *
 *   sum = Σ_d w[n, d] * (x[d] - inZp)
 *   acc = wrap32(sum + bias[n])
 *   y   = clamp(multiplyByQuantizedMultiplier(acc, multipliers[n], shifts[n]) + outZp, actMin, actMax)
 *
 * validate guarantees D * 128 * 255 <= INT32_MAX (sum exact in int32); the bias add wraps modulo
 * 2^32 (done on uint32_t in C). Fused relu/relu6 as in conv2d.ts.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { channelRequant, requantizeWith } from '../fixed-point.js';
import { type Int8Graph, type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { type FusedActivation, fusedActivationRange, int8OpHelpers as h, quantizeLayerWeights } from './conv2d.js';
import { checkTyped } from './int-math.js';

export interface DenseNode extends NodeBase {
  op: 'dense';
  /** [N, D] (row n = the weights of output unit n). */
  weights: Int8Array;
  /** [N], scale inScale * wScale[n]. */
  bias: Int32Array;
  /** [N] Q31 mantissas of inScale * wScale[n] / outScale. */
  multipliers: Int32Array;
  /** [N] exponents in [-31, 30]. */
  shifts: Int32Array;
  actMin: number;
  actMax: number;
}

export interface DenseArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  /** Any shape; D = its size. */
  in: TensorInfo;
  /** [N]. */
  out: TensorInfo;
  /** tfjs layout [D, N]. */
  kernel: ArrayLike<number>;
  /** [N]; zeros when absent. */
  bias?: ArrayLike<number>;
  activation?: FusedActivation;
}

export function lowerDense(args: DenseArgs): DenseNode {
  const where = { op: 'lowerDense' };
  if (args.out?.shape?.length !== 1) throw new ConfigError(where, 'out.shape', '[N]', args.out?.shape);
  const D = tensorSize(args.in);
  const N = args.out.shape[0]!;
  const q = quantizeLayerWeights(where, args.kernel, [D, N], args.bias, args.in.scale, args.out.scale);
  const weights = new Int8Array(N * D); // [D, N] -> [N, D]
  for (let d = 0; d < D; d++) for (let n = 0; n < N; n++) weights[n * D + d] = q.values[d * N + n]!;
  return {
    op: 'dense',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    weights,
    bias: q.bias,
    multipliers: q.multipliers,
    shifts: q.shifts,
    ...fusedActivationRange(where, args.activation, args.out),
  };
}

function dims(node: DenseNode, graph: Int8Graph) {
  const inT = graph.tensors[node.inputs[0]!]!;
  const outT = graph.tensors[node.outputs[0]!]!;
  return { D: tensorSize(inT), N: tensorSize(outT), inZp: inT.zeroPoint, outZp: outT.zeroPoint };
}

export const dense: OpDef<DenseNode> = {
  op: 'dense',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    const outShape = graph.tensors[node.outputs[0]!]!.shape;
    if (outShape.length !== 1) throw new DataError({ layer: node.name }, 'output shape', 'a [N] tensor', outShape);
    const { D, N } = dims(node, graph);
    h.checkTaps(node, 'input size', D);
    checkTyped(node, 'weights', Int8Array, N * D);
    checkTyped(node, 'bias', Int32Array, N);
    checkTyped(node, 'multipliers', Int32Array, N);
    checkTyped(node, 'shifts', Int32Array, N);
    h.checkRequantFields(node);
    h.checkActRange(node);
  },

  run(node, [input], graph) {
    const { D, N, inZp, outZp } = dims(node, graph);
    const { weights, bias, actMin, actMax } = node;
    const rq = channelRequant(node.multipliers, node.shifts);
    const xs = new Int32Array(D);
    for (let d = 0; d < D; d++) xs[d] = input![d]! - inZp;
    const out = new Int8Array(N);
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let d = 0, wi = n * D; d < D; d++, wi++) acc += weights[wi]! * xs[d]!;
      out[n] = requantizeWith((acc + bias[n]!) | 0, rq, n, outZp, actMin, actMax);
    }
    return { outputs: [out] };
  },

  macs(node, graph) {
    const { D, N } = dims(node, graph);
    return N * D;
  },

  runtime: ['tb_dense.h'],

  emitC(node: DenseNode, ctx: EmitContext) {
    const d = dims(node, ctx.graph);
    const fields: Array<[string, string | number]> = [
      ['in_features', d.D], ['out_features', d.N], ['in_zp', d.inZp], ['out_zp', d.outZp], ['act_min', node.actMin], ['act_max', node.actMax],
      ['weights', ctx.data('weights', 'int8_t', node.weights)], ['bias', ctx.data('bias', 'int32_t', node.bias)],
      ['multipliers', ctx.data('multipliers', 'int32_t', node.multipliers)], ['shifts', ctx.data('shifts', 'int32_t', node.shifts)],
    ];
    const params = fields.map(([k, v]) => `.${k} = ${typeof v === 'number' ? h.cInt(v) : v}`).join(', ');
    return { call: `tb_dense_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, &(const tb_dense_params){ ${params} })` };
  },
};
