/**
 * depthwise_conv2d: int8 depthwise 2-D convolution with depth multiplier 1, TFLite's reference
 * `integer_ops::DepthwiseConvPerChannel` semantics.
 *
 * Input [H, W, C] (zero point inZp), output [OH, OW, C] (zero point outZp), weights [KH, KW, C]
 * int8 (symmetric per channel), bias int32[C], per-channel multipliers/shifts. For every (oy, ox, c):
 *
 *   iy = oy * SH - padTop + ky,  ix = ox * SW - padLeft + kx     (taps outside the input skipped)
 *   sum = Σ_{ky, kx in bounds} w[ky, kx, c] * (x[iy, ix, c] - inZp)
 *   acc = wrap32(sum + bias[c])
 *   y   = clamp(multiplyByQuantizedMultiplier(acc, multipliers[c], shifts[c]) + outZp, actMin, actMax)
 *
 * Padding, fused activations and the int32 accumulator bound (KH*KW*128*255 <= INT32_MAX) are
 * as in conv2d.ts. Depth multipliers other than 1 are rejected when lowering.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { channelRequant, requantizeWith } from '../fixed-point.js';
import type { Int8Graph, NodeBase } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { fusedActivationRange, int8OpHelpers as h, quantizeLayerWeights, type SpatialConvArgs, type SpatialConvFields, spatialGeometry } from './conv2d.js';
import { checkTyped } from './int-math.js';

export interface DepthwiseConv2dNode extends NodeBase, SpatialConvFields {
  op: 'depthwise_conv2d';
  /** [KH, KW, C]. */
  weights: Int8Array;
}

export interface DepthwiseConv2dArgs extends SpatialConvArgs {
  /** tfjs layout [KH, KW, C, depthMultiplier]; the multiplier must be 1. */
  kernel: ArrayLike<number>;
  /** Optional; when given it must be 1 (the kernel length is checked either way). */
  depthMultiplier?: number;
}

export function lowerDepthwiseConv2d(args: DepthwiseConv2dArgs): DepthwiseConv2dNode {
  const where = { op: 'lowerDepthwiseConv2d' };
  if (args.in?.shape?.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, C]', args.in?.shape);
  if (args.out?.shape?.length !== 3) throw new ConfigError(where, 'out.shape', '[OH, OW, C]', args.out?.shape);
  const [H, W, C] = args.in.shape as [number, number, number];
  const g = spatialGeometry(where, [H, W], args.kernelSize, args.strides, args.padding);
  const [KH, KW] = args.kernelSize;
  const multiplier = args.kernel.length / (KH * KW * C);
  if (args.depthMultiplier !== undefined && args.depthMultiplier !== 1) throw new ConfigError(where, 'depthMultiplier', '1 (int8 depthwise supports depth multiplier 1 only)', args.depthMultiplier);
  if (multiplier !== 1) throw new ConfigError(where, 'depthMultiplier', `1: a kernel of ${KH * KW * C} values ([${KH}, ${KW}, ${C}, 1])`, Number.isInteger(multiplier) ? multiplier : `${args.kernel.length} kernel values`);
  if (args.out.shape[0] !== g.outH || args.out.shape[1] !== g.outW || args.out.shape[2] !== C) {
    throw new ConfigError(where, 'out.shape', `[${g.outH}, ${g.outW}, ${C}] (padding '${args.padding}')`, args.out.shape);
  }
  const q = quantizeLayerWeights(where, args.kernel, [KH, KW, C], args.bias, args.in.scale, args.out.scale);
  return {
    op: 'depthwise_conv2d',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    weights: q.values, // [KH, KW, C, 1] is already [KH, KW, C]
    bias: q.bias,
    multipliers: q.multipliers,
    shifts: q.shifts,
    kernel: [KH, KW],
    strides: [args.strides[0], args.strides[1]],
    padding: { top: g.top, left: g.left },
    ...fusedActivationRange(where, args.activation, args.out),
  };
}

function dims(node: DepthwiseConv2dNode, graph: Int8Graph) {
  const inT = graph.tensors[node.inputs[0]!]!;
  const outT = graph.tensors[node.outputs[0]!]!;
  const [H, W, C] = inT.shape as [number, number, number];
  const [OH, OW] = outT.shape as [number, number, number];
  return { H, W, C, OH, OW, inZp: inT.zeroPoint, outZp: outT.zeroPoint };
}

export const depthwiseConv2d: OpDef<DepthwiseConv2dNode> = {
  op: 'depthwise_conv2d',

  validate(node, graph) {
    h.checkArity(node, 1, 1);
    const [H, W, C] = h.shape3(node, graph, node.inputs[0]!, 'input shape');
    const [OH, OW, OC] = h.shape3(node, graph, node.outputs[0]!, 'output shape');
    if (OC !== C) throw new DataError({ layer: node.name }, 'output shape', `${C} channels (as the input)`, graph.tensors[node.outputs[0]!]!.shape);
    h.checkSpatialWindow(node, 'kernel', node.kernel, [H, W], [OH, OW]);
    const [KH, KW] = node.kernel;
    h.checkTaps(node, 'kernel', KH * KW);
    checkTyped(node, 'weights', Int8Array, KH * KW * C);
    checkTyped(node, 'bias', Int32Array, C);
    checkTyped(node, 'multipliers', Int32Array, C);
    checkTyped(node, 'shifts', Int32Array, C);
    h.checkRequantFields(node);
    h.checkActRange(node);
  },

  run(node, [input], graph) {
    const { H, W, C, OH, OW, inZp, outZp } = dims(node, graph);
    const [KH, KW] = node.kernel;
    const [SH, SW] = node.strides;
    const { top, left } = node.padding;
    const { weights, bias, actMin, actMax } = node;
    const rq = channelRequant(node.multipliers, node.shifts);
    const xs = new Int32Array(input!.length);
    for (let i = 0; i < xs.length; i++) xs[i] = input![i]! - inZp;
    const out = new Int8Array(OH * OW * C);
    const acc = new Int32Array(C); // |sum| < 2^31 (validate): exact
    let o = 0;
    for (let oy = 0; oy < OH; oy++) {
      const iy0 = oy * SH - top;
      const ky0 = iy0 < 0 ? -iy0 : 0;
      const ky1 = Math.min(KH, H - iy0);
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * SW - left;
        const kx0 = ix0 < 0 ? -ix0 : 0;
        const kx1 = Math.min(KW, W - ix0);
        acc.fill(0);
        for (let ky = ky0; ky < ky1; ky++) {
          for (let kx = kx0; kx < kx1; kx++) {
            const xi = ((iy0 + ky) * W + ix0 + kx) * C;
            const wi = (ky * KW + kx) * C;
            for (let c = 0; c < C; c++) acc[c] += weights[wi + c]! * xs[xi + c]!;
          }
        }
        for (let c = 0; c < C; c++) out[o++] = requantizeWith((acc[c]! + bias[c]!) | 0, rq, c, outZp, actMin, actMax);
      }
    }
    return { outputs: [out] };
  },

  macs(node, graph) {
    const { C, OH, OW } = dims(node, graph);
    return OH * OW * C * node.kernel[0] * node.kernel[1];
  },

  runtime: ['tb_depthwise_conv2d.h'],

  emitC(node: DepthwiseConv2dNode, ctx: EmitContext) {
    const d = dims(node, ctx.graph);
    const fields: Array<[string, string | number]> = [
      ['in_h', d.H], ['in_w', d.W], ['channels', d.C], ['out_h', d.OH], ['out_w', d.OW],
      ['kernel_h', node.kernel[0]], ['kernel_w', node.kernel[1]], ['stride_h', node.strides[0]], ['stride_w', node.strides[1]],
      ['pad_top', node.padding.top], ['pad_left', node.padding.left], ['in_zp', d.inZp], ['out_zp', d.outZp],
      ['act_min', node.actMin], ['act_max', node.actMax],
      ['weights', ctx.data('weights', 'int8_t', node.weights)], ['bias', ctx.data('bias', 'int32_t', node.bias)],
      ['multipliers', ctx.data('multipliers', 'int32_t', node.multipliers)], ['shifts', ctx.data('shifts', 'int32_t', node.shifts)],
    ];
    const params = fields.map(([k, v]) => `.${k} = ${typeof v === 'number' ? h.cInt(v) : v}`).join(', ');
    return { call: `tb_depthwise_conv2d_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, &(const tb_depthwise_conv2d_params){ ${params} })` };
  },
};
