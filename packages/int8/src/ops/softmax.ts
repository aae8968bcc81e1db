/**
 * softmax: int8 softmax over the last axis, with TFLite's int8 output convention (scale 1/256,
 * zero point -128: code -128 is probability 0, code 127 is 255/256). Integer only at run time:
 *
 *   m     = max_i x[i]                      (per row of `depth` codes)
 *   e[i]  = expTable[m - x[i]]              (expTable[d] = round(2^16 * exp(-d * inScale * beta)), d in 0..255)
 *   S     = Σ e[i]                          (uint32: depth <= 32768 keeps S <= 2^31)
 *   y[i]  = clamp(floor((256 * e[i] + floor(S / 2)) / S) - 128, -128, 127)
 *
 * The table is built at lowering from the input scale (the only float math). The kernel is
 * ours, not TFLite's gemmlowp fixed-point exp, so outputs may differ from TFLite's by a step;
 * the argmax is the input's. C: runtime/tb_softmax.c.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { int8OpHelpers as h } from './conv2d.js';
import { checkTyped } from './int-math.js';

/** TFLite's int8 softmax output quantization. */
export const SOFTMAX_OUTPUT: { scale: number; zeroPoint: number } = { scale: 1 / 256, zeroPoint: -128 };
const MAX_DEPTH = 32768;

export interface SoftmaxNode extends NodeBase {
  op: 'softmax';
  /** Values per row (the last axis). */
  depth: number;
  /** 256 entries, Q16: expTable[d] = round(65536 * exp(-d * inScale * beta)). */
  expTable: Int32Array;
}

export interface SoftmaxArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo;
  /** Must be SOFTMAX_OUTPUT's scale and zero point. */
  out: TensorInfo;
  beta?: number;
}

export function lowerSoftmax(args: SoftmaxArgs): SoftmaxNode {
  const where = { op: 'lowerSoftmax' };
  const depth = args.in?.shape?.[args.in.shape.length - 1];
  if (!Number.isInteger(depth) || depth! < 1 || depth! > MAX_DEPTH) throw new ConfigError(where, 'in.shape', `a last axis of 1 to ${MAX_DEPTH} values`, args.in?.shape);
  if (tensorSize(args.out) !== tensorSize(args.in)) throw new ConfigError(where, 'out.shape', `the input shape [${args.in.shape.join(', ')}]`, args.out.shape);
  if (args.out.scale !== SOFTMAX_OUTPUT.scale || args.out.zeroPoint !== SOFTMAX_OUTPUT.zeroPoint) {
    throw new ConfigError(where, 'out', 'scale 1/256 and zero point -128 (the TFLite int8 softmax output)', { scale: args.out.scale, zeroPoint: args.out.zeroPoint });
  }
  const beta = args.beta ?? 1;
  if (!(beta > 0) || !Number.isFinite(beta)) throw new ConfigError(where, 'beta', 'a number > 0', beta);
  const expTable = Int32Array.from({ length: 256 }, (_, d) => Math.round(65536 * Math.exp(-d * args.in.scale * beta)));
  return { op: 'softmax', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs], depth: depth!, expTable };
}

export const softmax: OpDef<SoftmaxNode> = {
  op: 'softmax',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    checkTyped(node, 'expTable', Int32Array, 256);
    if (node.expTable[0] !== 65536 || !node.expTable.every((v, i) => v >= 0 && (i === 0 || v <= node.expTable[i - 1]!))) {
      throw new DataError({ layer: node.name }, 'expTable', 'non-increasing values from 65536 down to >= 0', Array.from(node.expTable.slice(0, 4)));
    }
    const inT = graph.tensors[node.inputs[0]!]!;
    const outT = graph.tensors[node.outputs[0]!]!;
    const n = tensorSize(inT);
    if (!Number.isInteger(node.depth) || node.depth < 1 || node.depth > MAX_DEPTH || n % node.depth !== 0 || inT.shape[inT.shape.length - 1] !== node.depth) {
      throw new DataError({ layer: node.name }, 'depth', `the input's last axis (${inT.shape[inT.shape.length - 1]}), at most ${MAX_DEPTH}`, node.depth);
    }
    if (tensorSize(outT) !== n) throw new DataError({ layer: node.name }, 'output shape', `${n} values (as the input)`, outT.shape);
    if (outT.scale !== SOFTMAX_OUTPUT.scale || outT.zeroPoint !== SOFTMAX_OUTPUT.zeroPoint) throw new DataError({ layer: node.name }, 'output quantization', 'scale 1/256, zero point -128', { scale: outT.scale, zeroPoint: outT.zeroPoint });
  },

  run(node, [input]) {
    const x = input!;
    const t = node.expTable;
    const d = node.depth;
    const out = new Int8Array(x.length);
    for (let r = 0; r < x.length; r += d) {
      let m = -128;
      for (let i = r; i < r + d; i++) if (x[i]! > m) m = x[i]!;
      let sum = 0;
      for (let i = r; i < r + d; i++) sum += t[m - x[i]!]!;
      const half = Math.floor(sum / 2);
      for (let i = r; i < r + d; i++) {
        const v = Math.floor((t[m - x[i]!]! * 256 + half) / sum) - 128;
        out[i] = v > 127 ? 127 : v;
      }
    }
    return { outputs: [out] };
  },

  macs(node, graph) {
    return tensorSize(graph.tensors[node.inputs[0]!]!);
  },

  runtime: ['tb_softmax.h'],

  emitC(node: SoftmaxNode, ctx: EmitContext) {
    const n = tensorSize(ctx.graph.tensors[node.inputs[0]!]!);
    const table = ctx.data('exp', 'int32_t', node.expTable);
    return { call: `tb_softmax_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, ${table}, ${n / node.depth}, ${node.depth})` };
  },
};
