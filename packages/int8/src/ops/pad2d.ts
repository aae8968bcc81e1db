/**
 * pad2d: ZeroPadding2D, TFLite's int8 PAD with the pad value at the zero point (real 0). Input
 * [H, W, C] and output [top + H + bottom, left + W + right, C] share scale and zero point:
 *
 *   y[oy, ox, c] = x[oy - top, ox - left, c]  inside,  zeroPoint  in the border
 *
 * 0 MACs. C: runtime/tb_pad2d.c.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import type { Int8Graph, NodeBase, TensorInfo } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { int8OpHelpers as h } from './conv2d.js';

export interface Pad2dNode extends NodeBase {
  op: 'pad2d';
  /** [top, bottom, left, right]. */
  pads: [number, number, number, number];
}

export interface Pad2dArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo;
  /** The input's scale and zero point. */
  out: TensorInfo;
  pads: [number, number, number, number];
}

function sameGrid(where: { op: string } | { layer: string }, inT: TensorInfo, outT: TensorInfo, err: typeof ConfigError | typeof DataError): void {
  if (outT.scale !== inT.scale || outT.zeroPoint !== inT.zeroPoint) throw new err(where, 'out quantization', `the input's (scale ${inT.scale}, zero point ${inT.zeroPoint})`, { scale: outT.scale, zeroPoint: outT.zeroPoint });
}

function outShape(inShape: number[], pads: readonly number[]): number[] {
  return [pads[0]! + inShape[0]! + pads[1]!, pads[2]! + inShape[1]! + pads[3]!, inShape[2]!];
}

export function lowerPad2d(args: Pad2dArgs): Pad2dNode {
  const where = { op: 'lowerPad2d' };
  if (args.in?.shape?.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', args.in?.shape);
  if (!Array.isArray(args.pads) || args.pads.length !== 4 || !args.pads.every((p) => Number.isInteger(p) && p >= 0 && p <= 4096)) throw new ConfigError(where, 'pads', '[top, bottom, left, right] integers in [0, 4096]', args.pads);
  if (outShape(args.in.shape, args.pads).join(',') !== args.out.shape.join(',')) throw new ConfigError(where, 'out.shape', `[${outShape(args.in.shape, args.pads).join(', ')}]`, args.out.shape);
  sameGrid(where, args.in, args.out, ConfigError);
  return { op: 'pad2d', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs], pads: [...args.pads] };
}

function dims(node: Pad2dNode, graph: Int8Graph) {
  const [H, W, C] = graph.tensors[node.inputs[0]!]!.shape as [number, number, number];
  const [OH, OW] = graph.tensors[node.outputs[0]!]!.shape as [number, number, number];
  return { H, W, C, OH, OW };
}

export const pad2d: OpDef<Pad2dNode> = {
  op: 'pad2d',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    const inShape = h.shape3(node, graph, node.inputs[0]!, 'input shape');
    h.shape3(node, graph, node.outputs[0]!, 'output shape');
    if (!Array.isArray(node.pads) || node.pads.length !== 4 || !node.pads.every((p) => Number.isInteger(p) && p >= 0 && p <= 4096)) throw new DataError({ layer: node.name }, 'pads', '[top, bottom, left, right] integers in [0, 4096]', node.pads);
    const want = outShape(inShape, node.pads);
    if (want.join(',') !== graph.tensors[node.outputs[0]!]!.shape.join(',')) throw new DataError({ layer: node.name }, 'output shape', `[${want.join(', ')}]`, graph.tensors[node.outputs[0]!]!.shape);
    sameGrid({ layer: node.name }, graph.tensors[node.inputs[0]!]!, graph.tensors[node.outputs[0]!]!, DataError);
  },

  run(node, [input], graph) {
    const { H, W, C, OH, OW } = dims(node, graph);
    const [top, , left] = node.pads;
    const out = new Int8Array(OH * OW * C).fill(graph.tensors[node.outputs[0]!]!.zeroPoint);
    for (let y = 0; y < H; y++) out.set(input!.subarray(y * W * C, (y + 1) * W * C), ((y + top) * OW + left) * C);
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_pad2d.h'],

  emitC(node: Pad2dNode, ctx: EmitContext) {
    const d = dims(node, ctx.graph);
    const zp = ctx.graph.tensors[node.outputs[0]!]!.zeroPoint;
    return { call: `tb_pad2d_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, ${d.H}, ${d.W}, ${d.C}, ${node.pads[0]}, ${node.pads[2]}, ${d.OH}, ${d.OW}, ${h.cInt(zp)})` };
  },
};
