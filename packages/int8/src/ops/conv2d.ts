/**
 * conv2d: int8 2-D convolution, TFLite's reference `integer_ops::ConvPerChannel` semantics.
 *
 * Input [H, W, Cin] (zero point inZp), output [OH, OW, Cout] (zero point outZp), weights OHWI
 * `[Cout, KH, KW, Cin]` int8 (symmetric per output channel), bias int32[Cout], per-channel
 * multipliers/shifts. For every output (oy, ox, c):
 *
 *   iy = oy * SH - padTop + ky,  ix = ox * SW - padLeft + kx     (taps outside the input skipped)
 *   sum = Σ_{ky, kx in bounds, ci} w[c, ky, kx, ci] * (x[iy, ix, ci] - inZp)
 *   acc = wrap32(sum + bias[c])
 *   y   = clamp(multiplyByQuantizedMultiplier(acc, multipliers[c], shifts[c]) + outZp, actMin, actMax)
 *
 * |sum| < 2^31 is guaranteed by validate (KH*KW*Cin*128*255 <= INT32_MAX), so sum is exact in
 * both languages; the bias add wraps modulo 2^32 (what TFLite's int32 code does on hardware; in C
 * it is done on uint32_t, so never undefined). Padding follows TF: 'same' has
 * OH = ceil(H / SH), padTotal = max((OH - 1) * SH + KH - H, 0), padTop = floor(padTotal / 2);
 * 'valid' has OH = floor((H - KH) / SH) + 1 and no padding. actMin/actMax clamp a fused
 * relu (`[max(-128, outZp), 127]`) or relu6 (`[.., min(127, outZp + round(6 / outScale))]`).
 *
 * This module also exports the helpers the other standard ops share: `spatialGeometry`,
 * `fusedActivationRange`, `quantizeLayerWeights` (lowering) and `int8OpHelpers` (validate, emitC).
 * The kernels requantise with fixed-point.ts's `channelRequant` / `requantizeWith`.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { quantizeBias, quantizeWeightsPerChannel } from '../affine.js';
import { channelRequant, INT32_MAX, quantizeMultiplier, requantizeWith, roundHalfAway } from '../fixed-point.js';
import type { Int8Graph, NodeBase, TensorInfo } from '../graph.js';
import type { EmitContext, OpDef } from '../op.js';
import { checkArity, checkTyped } from './int-math.js';

export type FusedActivation = 'linear' | 'relu' | 'relu6';
export type PaddingMode = 'same' | 'valid';

/** Fields conv2d and depthwise_conv2d share (per-channel requantization, geometry, clamp). */
export interface SpatialConvFields {
  /** [Cout] (depthwise: [C]), scale inScale * wScale[c]. */
  bias: Int32Array;
  /** Q31 mantissas of inScale * wScale[c] / outScale, one per output channel. */
  multipliers: Int32Array;
  /** Exponents in [-31, 30], one per output channel. */
  shifts: Int32Array;
  /** [KH, KW]. */
  kernel: [number, number];
  /** [SH, SW]. */
  strides: [number, number];
  padding: { top: number; left: number };
  actMin: number;
  actMax: number;
}

export interface Conv2dNode extends NodeBase, SpatialConvFields {
  op: 'conv2d';
  /** OHWI: [Cout, KH, KW, Cin]. */
  weights: Int8Array;
}

/** Lowering arguments conv2d and depthwise_conv2d share. */
export interface SpatialConvArgs {
  name: string;
  inputs: number[];
  outputs: number[];
  in: TensorInfo;
  out: TensorInfo;
  /** [Cout]; zeros when absent. */
  bias?: ArrayLike<number>;
  kernelSize: [number, number];
  strides: [number, number];
  padding: PaddingMode;
  activation?: FusedActivation;
}

export interface Conv2dArgs extends SpatialConvArgs {
  /** tfjs layout [KH, KW, Cin, Cout]. */
  kernel: ArrayLike<number>;
}

// ---------------------------------------------------------------- shared helpers (lowering)

/** TF output size and leading padding of one spatial axis pair. ConfigError for a bad config. */
export function spatialGeometry(
  where: { op: string },
  inHW: readonly [number, number],
  kernelSize: readonly number[],
  strides: readonly number[],
  padding: PaddingMode,
): { outH: number; outW: number; top: number; left: number } {
  const k = [kernelSize?.[0], kernelSize?.[1]];
  const s = [strides?.[0], strides?.[1]];
  if (!Array.isArray(kernelSize) || kernelSize.length !== 2 || !k.every((v) => Number.isInteger(v) && v! > 0)) {
    throw new ConfigError(where, 'kernelSize', 'two integers > 0', kernelSize);
  }
  if (!Array.isArray(strides) || strides.length !== 2 || !s.every((v) => Number.isInteger(v) && v! > 0)) {
    throw new ConfigError(where, 'strides', 'two integers > 0', strides);
  }
  if (padding !== 'same' && padding !== 'valid') throw new ConfigError(where, 'padding', "'same' or 'valid'", padding);
  const axis = (size: number, kk: number, ss: number, field: string): [number, number] => {
    if (padding === 'valid') {
      if (size < kk) throw new ConfigError(where, field, `a window <= the input size ${size} with 'valid' padding`, kk);
      return [Math.floor((size - kk) / ss) + 1, 0];
    }
    const o = Math.ceil(size / ss);
    return [o, Math.floor(Math.max((o - 1) * ss + kk - size, 0) / 2)];
  };
  const [outH, top] = axis(inHW[0], k[0]!, s[0]!, 'kernelSize[0]');
  const [outW, left] = axis(inHW[1], k[1]!, s[1]!, 'kernelSize[1]');
  return { outH, outW, top, left };
}

/** TFLite's CalculateActivationRangeQuantized for a fused activation, in the output domain. */
export function fusedActivationRange(where: { op: string }, activation: FusedActivation | undefined, out: TensorInfo): { actMin: number; actMax: number } {
  const a = activation ?? 'linear';
  if (a === 'linear') return { actMin: -128, actMax: 127 };
  if (a !== 'relu' && a !== 'relu6') throw new ConfigError(where, 'activation', "'linear', 'relu' or 'relu6'", activation);
  const actMin = Math.max(-128, out.zeroPoint);
  const actMax = a === 'relu' ? 127 : Math.min(127, out.zeroPoint + roundHalfAway(6 / out.scale));
  return { actMin, actMax };
}

/**
 * Per-channel int8 weights (channel = last axis of `shape`), int32 bias and the requantisation
 * multipliers `quantizeMultiplier(inScale * wScale[c] / outScale)`.
 */
export function quantizeLayerWeights(
  where: { op: string },
  kernel: ArrayLike<number>,
  shape: number[],
  bias: ArrayLike<number> | undefined,
  inScale: number,
  outScale: number,
): { values: Int8Array; bias: Int32Array; multipliers: Int32Array; shifts: Int32Array } {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!kernel || kernel.length !== size) throw new ConfigError(where, 'kernel', `${size} values (shape [${shape.join(', ')}])`, kernel?.length);
  const channels = shape[shape.length - 1]!;
  if (bias !== undefined && bias.length !== channels) throw new ConfigError(where, 'bias', `${channels} values`, bias.length);
  const pc = quantizeWeightsPerChannel(kernel, shape, -1);
  const q = quantizeBias(bias ?? new Float64Array(channels), inScale, pc.scales);
  const multipliers = new Int32Array(channels);
  const shifts = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    const m = quantizeMultiplier((inScale * pc.scales[c]!) / outScale);
    multipliers[c] = m.multiplier;
    shifts[c] = m.shift;
  }
  return { values: pc.values, bias: q, multipliers, shifts };
}

// ---------------------------------------------------------------- shared helpers (validate)

/** The shape of tensor `id` as [H, W, C]; DataError naming `field` otherwise. */
function shape3(node: NodeBase, graph: Int8Graph, id: number, field: string): [number, number, number] {
  const s = graph.tensors[id]!.shape;
  if (s.length !== 3) throw new DataError({ layer: node.name }, field, 'a [H, W, C] tensor', s);
  return [s[0]!, s[1]!, s[2]!];
}

/** actMin/actMax integers with -128 <= actMin <= actMax <= 127. */
function checkActRange(node: NodeBase & { actMin: number; actMax: number }): void {
  const { actMin, actMax } = node;
  if (!Number.isInteger(actMin) || actMin < -128 || actMin > 127) throw new DataError({ layer: node.name }, 'actMin', 'an integer in [-128, 127]', actMin);
  if (!Number.isInteger(actMax) || actMax < actMin || actMax > 127) throw new DataError({ layer: node.name }, 'actMax', `an integer in [actMin (${actMin}), 127]`, actMax);
}

/** multipliers in [0, 2^31 - 1] (any int32 >= 0), shifts in [-31, 30]. */
function checkRequantFields(node: NodeBase & { multipliers: Int32Array; shifts: Int32Array }): void {
  node.multipliers.forEach((m, c) => {
    if (m < 0) throw new DataError({ layer: node.name }, `multipliers[${c}]`, 'an integer >= 0', m);
  });
  node.shifts.forEach((s, c) => {
    if (s < -31 || s > 30) throw new DataError({ layer: node.name }, `shifts[${c}]`, 'an integer in [-31, 30]', s);
  });
}

/** Accumulator bound: `taps` products of int8 weights and (x - zp) stay inside int32. */
function checkTaps(node: NodeBase, field: string, taps: number): void {
  if (taps * 128 * 255 > INT32_MAX) throw new DataError({ layer: node.name }, field, `at most ${Math.floor(INT32_MAX / (128 * 255))} taps per output (int32 accumulator)`, taps);
}

/**
 * kernel/strides: two integers > 0; padding {top, left} with 0 <= pad < kernel; and every output
 * window overlaps the input (the last window starts inside it), so no window is empty.
 */
function checkSpatialWindow(
  node: NodeBase & { strides: [number, number]; padding: { top: number; left: number } },
  kernelField: string,
  kernel: [number, number],
  inHW: [number, number],
  outHW: [number, number],
): void {
  const where = { layer: node.name };
  const pair = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x > 0);
  if (!pair(kernel)) throw new DataError(where, kernelField, 'two integers > 0', kernel);
  if (!pair(node.strides)) throw new DataError(where, 'strides', 'two integers > 0', node.strides);
  const p = node.padding;
  if (!p || typeof p !== 'object') throw new DataError(where, 'padding', '{ top, left }', p);
  const pads = [p.top, p.left];
  for (let a = 0; a < 2; a++) {
    const field = a === 0 ? 'padding.top' : 'padding.left';
    const pad = pads[a]!;
    if (!Number.isInteger(pad) || pad < 0 || pad >= kernel[a]!) throw new DataError(where, field, `an integer in [0, ${kernel[a]! - 1}]`, pad);
    const lastStart = (outHW[a]! - 1) * node.strides[a]! - pad;
    if (lastStart > inHW[a]! - 1) throw new DataError(where, a === 0 ? 'output height' : 'output width', `at most ${Math.floor((inHW[a]! - 1 + pad) / node.strides[a]!) + 1} (every window must overlap the input)`, outHW[a]);
  }
}

/** `-128` etc. as C literals; INT32_MIN as `(-2147483647 - 1)`. */
function cInt(v: number): string {
  return v === -2147483648 ? '(-2147483647 - 1)' : String(v);
}

/**
 * Validation, emission and kernel helpers the standard ops share (one exported name, so
 * `export *` in index.ts cannot collide with other modules). channelRequant / requantizeWith are
 * fixed-point.ts's, kept here for callers of this object; the ops import them from fixed-point.ts.
 */
export const int8OpHelpers = { checkArity, shape3, checkActRange, checkRequantFields, checkTaps, checkSpatialWindow, cInt, channelRequant, requantizeWith };

// ---------------------------------------------------------------- lowering

export function lowerConv2d(args: Conv2dArgs): Conv2dNode {
  const where = { op: 'lowerConv2d' };
  if (args.in?.shape?.length !== 3) throw new ConfigError(where, 'in.shape', '[H, W, Cin]', args.in?.shape);
  if (args.out?.shape?.length !== 3) throw new ConfigError(where, 'out.shape', '[OH, OW, Cout]', args.out?.shape);
  const [H, W, Cin] = args.in.shape as [number, number, number];
  const Cout = args.out.shape[2]!;
  const g = spatialGeometry(where, [H, W], args.kernelSize, args.strides, args.padding);
  if (args.out.shape[0] !== g.outH || args.out.shape[1] !== g.outW) {
    throw new ConfigError(where, 'out.shape', `[${g.outH}, ${g.outW}, ${Cout}] (padding '${args.padding}')`, args.out.shape);
  }
  const [KH, KW] = args.kernelSize;
  const q = quantizeLayerWeights(where, args.kernel, [KH, KW, Cin, Cout], args.bias, args.in.scale, args.out.scale);
  const weights = new Int8Array(q.values.length); // [KH, KW, Cin, Cout] -> [Cout, KH, KW, Cin]
  for (let co = 0; co < Cout; co++) {
    for (let t = 0; t < KH * KW; t++) {
      for (let ci = 0; ci < Cin; ci++) weights[(co * KH * KW + t) * Cin + ci] = q.values[(t * Cin + ci) * Cout + co]!;
    }
  }
  return {
    op: 'conv2d',
    name: args.name,
    inputs: [...args.inputs],
    outputs: [...args.outputs],
    weights,
    bias: q.bias,
    multipliers: q.multipliers,
    shifts: q.shifts,
    kernel: [KH, KW],
    strides: [args.strides[0], args.strides[1]],
    padding: { top: g.top, left: g.left },
    ...fusedActivationRange(where, args.activation, args.out),
  };
}

// ---------------------------------------------------------------- OpDef

function dims(node: Conv2dNode, graph: Int8Graph) {
  const inT = graph.tensors[node.inputs[0]!]!;
  const outT = graph.tensors[node.outputs[0]!]!;
  const [H, W, Cin] = inT.shape as [number, number, number];
  const [OH, OW, Cout] = outT.shape as [number, number, number];
  return { H, W, Cin, OH, OW, Cout, inZp: inT.zeroPoint, outZp: outT.zeroPoint };
}

export const conv2d: OpDef<Conv2dNode> = {
  op: 'conv2d',

  validate(node, graph) {
    checkArity(node, 1, 1);
    const [H, W, Cin] = shape3(node, graph, node.inputs[0]!, 'input shape');
    const [OH, OW, Cout] = shape3(node, graph, node.outputs[0]!, 'output shape');
    checkSpatialWindow(node, 'kernel', node.kernel, [H, W], [OH, OW]);
    const [KH, KW] = node.kernel;
    checkTaps(node, 'weights', KH * KW * Cin);
    checkTyped(node, 'weights', Int8Array, Cout * KH * KW * Cin);
    checkTyped(node, 'bias', Int32Array, Cout);
    checkTyped(node, 'multipliers', Int32Array, Cout);
    checkTyped(node, 'shifts', Int32Array, Cout);
    checkRequantFields(node);
    checkActRange(node);
  },

  run(node, [input], graph) {
    const { H, W, Cin, OH, OW, Cout, inZp, outZp } = dims(node, graph);
    const [KH, KW] = node.kernel;
    const [SH, SW] = node.strides;
    const { top, left } = node.padding;
    const { bias, actMin, actMax } = node;
    const rq = channelRequant(node.multipliers, node.shifts);
    // Integers held in doubles (V8's fastest multiply-add); every product and partial sum is an
    // integer below 2^31 in magnitude, so the arithmetic is exact.
    const weights = Float64Array.from(node.weights);
    const xs = new Float64Array(input!.length);
    for (let i = 0; i < xs.length; i++) xs[i] = input![i]! - inZp;
    // One window gathered per output position, OHWI order; out-of-bounds taps are 0 (= skipped).
    const K = KH * KW * Cin;
    const patch = new Float64Array(K);
    const K4 = K - (K % 4);
    const out = new Int8Array(OH * OW * Cout);
    let o = 0;
    for (let oy = 0; oy < OH; oy++) {
      const iy0 = oy * SH - top;
      for (let ox = 0; ox < OW; ox++) {
        const ix0 = ox * SW - left;
        let p = 0;
        for (let ky = 0; ky < KH; ky++) {
          const iy = iy0 + ky;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ix0 + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
              for (let ci = 0; ci < Cin; ci++) patch[p++] = 0;
            } else {
              for (let ci = 0, xi = (iy * W + ix) * Cin; ci < Cin; ci++) patch[p++] = xs[xi++]!;
            }
          }
        }
        for (let oc = 0, wi = 0; oc < Cout; oc++, wi += K) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          let k = 0;
          for (; k < K4; k += 4) {
            a0 += weights[wi + k]! * patch[k]!;
            a1 += weights[wi + k + 1]! * patch[k + 1]!;
            a2 += weights[wi + k + 2]! * patch[k + 2]!;
            a3 += weights[wi + k + 3]! * patch[k + 3]!;
          }
          for (; k < K; k++) a0 += weights[wi + k]! * patch[k]!;
          out[o++] = requantizeWith((a0 + a1 + a2 + a3 + bias[oc]!) | 0, rq, oc, outZp, actMin, actMax);
        }
      }
    }
    return { outputs: [out] };
  },

  macs(node, graph) {
    const { Cin, OH, OW, Cout } = dims(node, graph);
    return OH * OW * Cout * node.kernel[0] * node.kernel[1] * Cin;
  },

  runtime: ['tb_conv2d.h'],

  emitC(node: Conv2dNode, ctx: EmitContext) {
    const d = dims(node, ctx.graph);
    const fields: Array<[string, string | number]> = [
      ['in_h', d.H], ['in_w', d.W], ['in_c', d.Cin], ['out_h', d.OH], ['out_w', d.OW], ['out_c', d.Cout],
      ['kernel_h', node.kernel[0]], ['kernel_w', node.kernel[1]], ['stride_h', node.strides[0]], ['stride_w', node.strides[1]],
      ['pad_top', node.padding.top], ['pad_left', node.padding.left], ['in_zp', d.inZp], ['out_zp', d.outZp],
      ['act_min', node.actMin], ['act_max', node.actMax],
      ['weights', ctx.data('weights', 'int8_t', node.weights)], ['bias', ctx.data('bias', 'int32_t', node.bias)],
      ['multipliers', ctx.data('multipliers', 'int32_t', node.multipliers)], ['shifts', ctx.data('shifts', 'int32_t', node.shifts)],
    ];
    const params = fields.map(([k, v]) => `.${k} = ${typeof v === 'number' ? cInt(v) : v}`).join(', ');
    return { call: `tb_conv2d_s8(${ctx.tensor(node.inputs[0]!)}, ${ctx.tensor(node.outputs[0]!)}, &(const tb_conv2d_params){ ${params} })` };
  },
};
