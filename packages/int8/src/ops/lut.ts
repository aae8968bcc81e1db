/**
 * lut: an elementwise nonlinearity on int8 through a 256-entry table built at export.
 *
 *   lowering: table[q + 128] = clamp(round(fn(inScale * (q - inZp)) / outScale) + outZp, -128, 127)
 *             (buildLut, ../lut.ts; round half away from zero)
 *   kernel:   y[i] = table[x[i] + 128]
 *
 * Same shape in and out; inPlace: the output may reuse the input buffer (C handles in == out).
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import { buildLut } from '../lut.js';
import type { EmitContext, OpDef } from '../op.js';
import { int8OpHelpers as h } from './conv2d.js';
import { checkTyped } from './int-math.js';

export interface LutNode extends NodeBase {
  op: 'lut';
  /** 256 entries; the entry for code q is table[q + 128]. */
  table: Int8Array;
  /** The function's name, for documentation and generated comments (e.g. 'crrelu'). */
  fn: string;
}

export interface LutArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo;
  out: TensorInfo;
  /** The float function, evaluated on the 256 input codes at export. */
  fn: (x: number) => number;
  fnName: string;
}

export function lowerLut(args: LutArgs): LutNode {
  const where = { op: 'lowerLut' };
  if (typeof args.fn !== 'function') throw new ConfigError(where, 'fn', 'a function (x: number) => number', args.fn);
  if (typeof args.fnName !== 'string' || args.fnName === '') throw new ConfigError(where, 'fnName', 'a non-empty string', args.fnName);
  if (tensorSize(args.in) !== tensorSize(args.out)) throw new ConfigError(where, 'out.shape', `the input shape [${args.in.shape.join(', ')}]`, args.out.shape);
  return {
    op: 'lut',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    table: buildLut(args.fn, args.in.scale, args.in.zeroPoint, args.out.scale, args.out.zeroPoint),
    fn: args.fnName,
  };
}

export const lut: OpDef<LutNode> = {
  op: 'lut',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    checkTyped(node, 'table', Int8Array, 256);
    if (typeof node.fn !== 'string') throw new DataError({ layer: node.name }, 'fn', 'a string', node.fn);
    const n = tensorSize(graph.tensors[node.inputs[0]!]!);
    const m = tensorSize(graph.tensors[node.outputs[0]!]!);
    if (n !== m) throw new DataError({ layer: node.name }, 'output shape', `${n} values (as the input)`, graph.tensors[node.outputs[0]!]!.shape);
  },

  run(node, [input]) {
    const x = input!;
    const t = node.table;
    const out = new Int8Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = t[x[i]! + 128]!;
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  inPlace: true,

  runtime: ['tb_lut.h'],

  emitC(node: LutNode, ctx: EmitContext) {
    const n = tensorSize(ctx.graph.tensors[node.inputs[0]!]!);
    const table = ctx.data('table', 'int8_t', node.table);
    return { call: `tb_lut_apply_s8(${table}, ${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, ${n}) /* ${node.fn.replace(/\*\//g, '* /')} */` };
  },
};
