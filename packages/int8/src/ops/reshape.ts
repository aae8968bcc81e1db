/**
 * reshape: the same bytes under a new shape (e.g. Flatten [4, 4, 64] -> [1024]). Tensors are
 * NHWC without batch, which is the order tfjs Flatten reads, so no data moves:
 *
 *   y[i] = x[i]   for i in [0, size)
 *
 * The TS kernel returns a copy. In C, tb_reshape_s8 is a memmove and a no-op when the planner
 * gives the output the input's buffer (inPlace). 0 MACs.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { type NodeBase, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { int8OpHelpers as h } from './conv2d.js';

export interface ReshapeNode extends NodeBase {
  op: 'reshape';
}

export interface ReshapeArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo;
  /** Same size; the same scale and zero point (the codes are not requantized). */
  out: TensorInfo;
}

export function lowerReshape(args: ReshapeArgs): ReshapeNode {
  const where = { op: 'lowerReshape' };
  if (tensorSize(args.in) !== tensorSize(args.out)) throw new ConfigError(where, 'out.shape', `${tensorSize(args.in)} values (input shape [${args.in.shape.join(', ')}])`, args.out.shape);
  if (args.out.scale !== args.in.scale) throw new ConfigError(where, 'out.scale', `the input scale ${args.in.scale}`, args.out.scale);
  if (args.out.zeroPoint !== args.in.zeroPoint) throw new ConfigError(where, 'out.zeroPoint', `the input zero point ${args.in.zeroPoint}`, args.out.zeroPoint);
  return { op: 'reshape', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs] };
}

export const reshape: OpDef<ReshapeNode> = {
  op: 'reshape',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    const inT = graph.tensors[node.inputs[0]!]!;
    const outT = graph.tensors[node.outputs[0]!]!;
    const where = { layer: node.name };
    if (tensorSize(outT) !== tensorSize(inT)) throw new DataError(where, 'output shape', `${tensorSize(inT)} values (input shape [${inT.shape.join(', ')}])`, outT.shape);
    if (outT.scale !== inT.scale) throw new DataError(where, 'output scale', `the input scale ${inT.scale}`, outT.scale);
    if (outT.zeroPoint !== inT.zeroPoint) throw new DataError(where, 'output zeroPoint', `the input zero point ${inT.zeroPoint}`, outT.zeroPoint);
  },

  run(_node, [input]) {
    return { outputs: [Int8Array.from(input!)] };
  },

  macs() {
    return 0;
  },

  inPlace: true,

  runtime: ['tb_reshape.h'],

  emitC(node: ReshapeNode, ctx: EmitContext) {
    const n = tensorSize(ctx.graph.tensors[node.inputs[0]!]!);
    return { call: `tb_reshape_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, ${n})` };
  },
};
