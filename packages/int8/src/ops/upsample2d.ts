/**
 * upsample2d: UpSampling2D with nearest interpolation. Input [H, W, C] and output
 * [H * SH, W * SW, C] share scale and zero point:
 *
 *   y[oy, ox, c] = x[floor(oy / SH), floor(ox / SW), c]
 *
 * 0 MACs. C: runtime/tb_upsample2d.c.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import type { Int8Graph, NodeBase, TensorInfo } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { int8OpHelpers as h } from './conv2d.js';

export interface Upsample2dNode extends NodeBase {
  op: 'upsample2d';
  /** [SH, SW]. */
  size: [number, number];
}

export interface Upsample2dArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo;
  out: TensorInfo;
  size: [number, number];
}

const okSize = (s: unknown): s is [number, number] => Array.isArray(s) && s.length === 2 && s.every((v) => Number.isInteger(v) && v >= 1 && v <= 64);

export function lowerUpsample2d(args: Upsample2dArgs): Upsample2dNode {
  const where = { op: 'lowerUpsample2d' };
  if (args.in?.shape?.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', args.in?.shape);
  if (!okSize(args.size)) throw new ConfigError(where, 'size', '[SH, SW] integers in [1, 64]', args.size);
  const [H, W, C] = args.in.shape as [number, number, number];
  if (args.out.shape.join(',') !== [H * args.size[0], W * args.size[1], C].join(',')) throw new ConfigError(where, 'out.shape', `[${H * args.size[0]}, ${W * args.size[1]}, ${C}]`, args.out.shape);
  if (args.out.scale !== args.in.scale || args.out.zeroPoint !== args.in.zeroPoint) throw new ConfigError(where, 'out quantization', "the input's scale and zero point", args.out);
  return { op: 'upsample2d', name: args.name, inputs: [...args.inputs], outputs: [...args.outputs], size: [args.size[0], args.size[1]] };
}

function dims(node: Upsample2dNode, graph: Int8Graph) {
  const [H, W, C] = graph.tensors[node.inputs[0]!]!.shape as [number, number, number];
  return { H, W, C, OH: H * node.size[0], OW: W * node.size[1] };
}

export const upsample2d: OpDef<Upsample2dNode> = {
  op: 'upsample2d',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    h.shape3(node, graph, node.inputs[0]!, 'input shape');
    if (!okSize(node.size)) throw new DataError({ layer: node.name }, 'size', '[SH, SW] integers in [1, 64]', node.size);
    const d = dims(node, graph);
    const outT = graph.tensors[node.outputs[0]!]!;
    const inT = graph.tensors[node.inputs[0]!]!;
    if (outT.shape.join(',') !== [d.OH, d.OW, d.C].join(',')) throw new DataError({ layer: node.name }, 'output shape', `[${d.OH}, ${d.OW}, ${d.C}]`, outT.shape);
    if (outT.scale !== inT.scale || outT.zeroPoint !== inT.zeroPoint) throw new DataError({ layer: node.name }, 'output quantization', "the input's scale and zero point", { scale: outT.scale, zeroPoint: outT.zeroPoint });
  },

  run(node, [input], graph) {
    const { W, C, OH, OW } = dims(node, graph);
    const [SH, SW] = node.size;
    const out = new Int8Array(OH * OW * C);
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const src = ((Math.floor(oy / SH) * W) + Math.floor(ox / SW)) * C;
        out.set(input!.subarray(src, src + C), (oy * OW + ox) * C);
      }
    }
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_upsample2d.h'],

  emitC(node: Upsample2dNode, ctx: EmitContext) {
    const d = dims(node, ctx.graph);
    return { call: `tb_upsample2d_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, ${d.H}, ${d.W}, ${d.C}, ${node.size[0]}, ${node.size[1]})` };
  },
};
