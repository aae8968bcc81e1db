/**
 * concat: Concatenate on the last (channel) axis of N int8 tensors of equal leading dims, each
 * requantized to the output's grid (TFLite's concatenation with scaling, in fixed point):
 *
 *   (multiplier_k, shift_k) = quantizeMultiplier(scale_k / outScale)        (export time)
 *   y[r, off_k + c] = clamp(multiplyByQuantizedMultiplier(x_k[r, c] - zp_k, multiplier_k, shift_k) + outZp, -128, 127)
 *
 * An input already on the output's grid (same scale, same zero point) is copied exactly. 0 MACs.
 * C: runtime/tb_concat.c.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { quantizeMultiplier, requantize } from '../fixed-point.js';
import { type Int8Graph, type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { checkTyped } from './int-math.js';

export interface ConcatNode extends NodeBase {
  op: 'concat';
  /** Per input: requantization to the output grid. */
  multipliers: Int32Array;
  shifts: Int32Array;
}

export interface ConcatArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo[];
  out: TensorInfo;
}

const lead = (t: TensorInfo) => t.shape.slice(0, -1).join(',');
const channels = (t: TensorInfo) => t.shape[t.shape.length - 1]!;

export function lowerConcat(args: ConcatArgs): ConcatNode {
  const where = { op: 'lowerConcat' };
  if (!Array.isArray(args.in) || args.in.length < 2 || args.in.length !== args.inputs.length) throw new ConfigError(where, 'in', 'two or more TensorInfos, one per input', args.in?.length);
  for (const [k, t] of args.in.entries()) {
    if (t.shape.length < 1 || lead(t) !== lead(args.out)) throw new ConfigError(where, `in[${k}].shape`, `[${args.out.shape.slice(0, -1).join(', ')}, C] (concatenation on the last axis)`, t.shape);
  }
  const total = args.in.reduce((n, t) => n + channels(t), 0);
  if (channels(args.out) !== total) throw new ConfigError(where, 'out.shape', `${total} channels in the last axis`, args.out.shape);
  const q = args.in.map((t) => quantizeMultiplier(t.scale / args.out.scale));
  return {
    op: 'concat', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs],
    multipliers: Int32Array.from(q, (m) => m.multiplier), shifts: Int32Array.from(q, (m) => m.shift),
  };
}

function layout(node: ConcatNode, graph: Int8Graph) {
  const ins = node.inputs.map((id) => graph.tensors[id]!);
  const out = graph.tensors[node.outputs[0]!]!;
  return { ins, out, rows: tensorSize(out) / channels(out), outC: channels(out) };
}

export const concat: OpDef<ConcatNode> = {
  op: 'concat',

  validate(node, graph) {
    const where = { layer: node.name };
    if (!Array.isArray(node.inputs) || node.inputs.length < 2 || node.inputs.length > 64) throw new DataError(where, 'inputs', '2 to 64 tensor ids', node.inputs);
    if (!Array.isArray(node.outputs) || node.outputs.length !== 1) throw new DataError(where, 'outputs', 'one tensor id', node.outputs);
    for (const id of [...node.inputs, ...node.outputs]) if (!graph.tensors[id]) throw new DataError(where, 'tensor', 'an existing tensor id', id);
    checkTyped(node, 'multipliers', Int32Array, node.inputs.length);
    checkTyped(node, 'shifts', Int32Array, node.inputs.length);
    const { ins, out } = layout(node, graph);
    ins.forEach((t, k) => {
      if (lead(t) !== lead(out)) throw new DataError(where, `input ${k} shape`, `[${out.shape.slice(0, -1).join(', ')}, C]`, t.shape);
      if (node.multipliers[k]! < 0 || node.shifts[k]! < -31 || node.shifts[k]! > 30) throw new DataError(where, `multipliers/shifts[${k}]`, 'a multiplier >= 0 and a shift in [-31, 30]', [node.multipliers[k], node.shifts[k]]);
    });
    const total = ins.reduce((n, t) => n + channels(t), 0);
    if (channels(out) !== total) throw new DataError(where, 'output shape', `${total} channels in the last axis`, out.shape);
  },

  run(node, inputs, graph) {
    const { ins, out, rows, outC } = layout(node, graph);
    const y = new Int8Array(rows * outC);
    let off = 0;
    ins.forEach((t, k) => {
      const c = channels(t);
      const x = inputs[k]!;
      const m = node.multipliers[k]!;
      const s = node.shifts[k]!;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < c; j++) y[r * outC + off + j] = requantize(x[r * c + j]! - t.zeroPoint, m, s, out.zeroPoint);
      }
      off += c;
    });
    return { outputs: [y] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_concat.h'],

  emitC(node: ConcatNode, ctx: EmitContext) {
    const { ins, out, rows } = layout(node, ctx.graph);
    const n = ins.length;
    const chans = ctx.data('channels', 'int32_t', Int32Array.from(ins, channels));
    const zps = ctx.data('zero_points', 'int32_t', Int32Array.from(ins, (t) => t.zeroPoint));
    const mults = ctx.data('multipliers', 'int32_t', node.multipliers);
    const shifts = ctx.data('shifts', 'int32_t', node.shifts);
    const list = `(const int8_t *const[]){ ${node.inputs.map((id) => ctx.tensor(id)).join(', ')} }`;
    return { call: `tb_concat_s8(${list}, ${chans}, ${zps}, ${mults}, ${shifts}, ${n}, ${rows}, ${ctx.tensor(node.outputs[0]!)}, ${out.zeroPoint})` };
  },
};
