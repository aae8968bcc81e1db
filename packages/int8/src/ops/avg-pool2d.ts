/**
 * avg_pool2d: int8 average pooling, TFLite's reference `integer_ops::AveragePool` semantics.
 *
 * Input [H, W, C] and output [OH, OW, C] share one scale and zero point, so the raw codes are
 * averaged directly. For every (oy, ox, c), over the in-bounds window only (padding is excluded
 * from the count):
 *
 *   sum   = Σ_{ky, kx in bounds} x[oy * SH - padTop + ky, ox * SW - padLeft + kx, c]
 *   count = number of in-bounds taps (>= 1: validate checks every window overlaps the input)
 *   avg   = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count   (C integer division,
 *           truncating: round half away from zero)
 *   y     = clamp(avg, actMin, actMax)
 *
 * Padding follows TF ('same': OH = ceil(H / SH), padTop = floor(max((OH-1)*SH + PH - H, 0) / 2);
 * 'valid': OH = floor((H - PH) / SH) + 1). Pooling has no fused activation in tfjs, so lowering
 * sets actMin/actMax = -128/127; the fields exist for TFLite parity.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import type { Int8Graph, NodeBase, TensorInfo } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { int8OpHelpers as h, type PaddingMode, spatialGeometry } from './conv2d.js';

export interface AvgPool2dNode extends NodeBase {
  op: 'avg_pool2d';
  /** [PH, PW]. */
  poolSize: [number, number];
  /** [SH, SW]. */
  strides: [number, number];
  padding: { top: number; left: number };
  actMin: number;
  actMax: number;
}

export interface AvgPool2dArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo;
  /** Must have the input's scale and zero point. */
  out: TensorInfo;
  poolSize: [number, number];
  /** Default: poolSize (as tfjs). */
  strides?: [number, number];
  padding: PaddingMode;
}

export function lowerAvgPool2d(args: AvgPool2dArgs): AvgPool2dNode {
  const where = { op: 'lowerAvgPool2d' };
  if (args.in?.shape?.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', args.in?.shape);
  if (args.out?.shape?.length !== 3) throw new ConfigError(where, 'out.shape', '[OH, OW, C]', args.out?.shape);
  if (args.out.scale !== args.in.scale) throw new ConfigError(where, 'out.scale', `the input scale ${args.in.scale} (int8 average pooling does not rescale)`, args.out.scale);
  if (args.out.zeroPoint !== args.in.zeroPoint) throw new ConfigError(where, 'out.zeroPoint', `the input zero point ${args.in.zeroPoint}`, args.out.zeroPoint);
  const [H, W, C] = args.in.shape as [number, number, number];
  const strides = args.strides ?? args.poolSize;
  const g = spatialGeometry(where, [H, W], args.poolSize, strides, args.padding);
  if (args.out.shape[0] !== g.outH || args.out.shape[1] !== g.outW || args.out.shape[2] !== C) {
    throw new ConfigError(where, 'out.shape', `[${g.outH}, ${g.outW}, ${C}] (padding '${args.padding}')`, args.out.shape);
  }
  return {
    op: 'avg_pool2d',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    poolSize: [args.poolSize[0], args.poolSize[1]],
    strides: [strides[0], strides[1]],
    padding: { top: g.top, left: g.left },
    actMin: -128,
    actMax: 127,
  };
}

function dims(node: AvgPool2dNode, graph: Int8Graph) {
  const [H, W, C] = graph.tensors[node.inputs[0]!]!.shape as [number, number, number];
  const [OH, OW] = graph.tensors[node.outputs[0]!]!.shape as [number, number, number];
  return { H, W, C, OH, OW };
}

export const avgPool2d: OpDef<AvgPool2dNode> = {
  op: 'avg_pool2d',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    const [H, W, C] = h.shape3(node, graph, node.inputs[0]!, 'input shape');
    const [OH, OW, OC] = h.shape3(node, graph, node.outputs[0]!, 'output shape');
    if (OC !== C) throw new DataError({ layer: node.name }, 'output shape', `${C} channels (as the input)`, graph.tensors[node.outputs[0]!]!.shape);
    const inT = graph.tensors[node.inputs[0]!]!;
    const outT = graph.tensors[node.outputs[0]!]!;
    if (outT.scale !== inT.scale) throw new DataError({ layer: node.name }, 'output scale', `the input scale ${inT.scale}`, outT.scale);
    if (outT.zeroPoint !== inT.zeroPoint) throw new DataError({ layer: node.name }, 'output zeroPoint', `the input zero point ${inT.zeroPoint}`, outT.zeroPoint);
    h.checkSpatialWindow(node, 'poolSize', node.poolSize, [H, W], [OH, OW]);
    if (node.poolSize[0] * node.poolSize[1] > 2 ** 24) throw new DataError({ layer: node.name }, 'poolSize', 'at most 2^24 taps (int32 sum)', node.poolSize);
    h.checkActRange(node);
  },

  run(node, [input], graph) {
    const { W, C, OH, OW } = dims(node, graph);
    const { actMin, actMax } = node;
    const x = input!;
    const out = new Int8Array(OH * OW * C);
    poolWindows(node, graph, (o, iy0, ix0, ky0, ky1, kx0, kx1) => {
      const count = (ky1 - ky0) * (kx1 - kx0);
      const half = (count / 2) | 0;
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let ky = ky0; ky < ky1; ky++) {
          for (let kx = kx0; kx < kx1; kx++) sum += x[((iy0 + ky) * W + ix0 + kx) * C + c]!;
        }
        // C: (sum +- count/2) / count truncates toward zero; |sum| < 2^31, so `/ | 0` is exact
        const avg = ((sum > 0 ? sum + half : sum - half) / count) | 0;
        out[o * C + c] = avg < actMin ? actMin : avg > actMax ? actMax : avg;
      }
    });
    return { outputs: [out] };
  },

  macs() {
    return 0;
  },

  runtime: ['tb_avg_pool2d.h'],

  emitC(node: AvgPool2dNode, ctx: EmitContext) {
    return { call: poolCall('tb_avg_pool2d_s8', node, ctx) };
  },
};

/** The emitted call of a pooling kernel (average or max: one parameter struct, tb_avg_pool2d_params). */
export function poolCall(fn: string, node: Omit<AvgPool2dNode, 'op'>, ctx: EmitContext): string {
  const d = dims(node as AvgPool2dNode, ctx.graph);
  const fields: Array<[string, number]> = [
    ['in_h', d.H], ['in_w', d.W], ['channels', d.C], ['out_h', d.OH], ['out_w', d.OW],
    ['pool_h', node.poolSize[0]], ['pool_w', node.poolSize[1]], ['stride_h', node.strides[0]], ['stride_w', node.strides[1]],
    ['pad_top', node.padding.top], ['pad_left', node.padding.left], ['act_min', node.actMin], ['act_max', node.actMax],
  ];
  const params = fields.map(([k, v]) => `.${k} = ${h.cInt(v)}`).join(', ');
  return `${fn}(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, &(const tb_avg_pool2d_params){ ${params} })`;
}

/** Window bounds of output (oy, ox) over the in-bounds taps: [ky0, ky1) x [kx0, kx1), origin (iy0, ix0). */
export function poolWindows(node: Omit<AvgPool2dNode, 'op'>, graph: Int8Graph, visit: (o: number, iy0: number, ix0: number, ky0: number, ky1: number, kx0: number, kx1: number) => void): void {
  const { H, W, OH, OW } = dims(node as AvgPool2dNode, graph);
  const [PH, PW] = node.poolSize;
  const [SH, SW] = node.strides;
  let o = 0;
  for (let oy = 0; oy < OH; oy++) {
    const iy0 = oy * SH - node.padding.top;
    for (let ox = 0; ox < OW; ox++) {
      const ix0 = ox * SW - node.padding.left;
      visit(o++, iy0, ix0, Math.max(0, -iy0), Math.min(PH, H - iy0), Math.max(0, -ix0), Math.min(PW, W - ix0));
    }
  }
}
