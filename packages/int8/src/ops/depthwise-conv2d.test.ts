/**
 * depthwise_conv2d: lowering + TS kernel against a float64 depthwise convolution (tfjs layout
 * [KH, KW, C, 1]), the C kernel against the TS kernel byte for byte, the emitted call compiled
 * and run, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams } from '../affine.js';
import type { TensorInfo } from '../graph.js';
import { depthwiseConv2d, type DepthwiseConv2dNode, lowerDepthwiseConv2d } from './depthwise-conv2d.js';
import { caseDriver, CTX, describeC, describeCortexM, expectNearFloat, geometry, graphOf, ints, type KernelCase, once, randomClamp, randomLayer, randomRequant, rng, sampleOne, validateErrors, windowFloatFields, windowRawFields } from './test-c.js';

/** Float64 depthwise conv: x [H, W, C], k [KH, KW, C, 1], zero padding. */
function floatDepthwise(x: ArrayLike<number>, H: number, W: number, C: number, k: ArrayLike<number>, b: ArrayLike<number>, KH: number, KW: number, SH: number, SW: number, padding: 'same' | 'valid') {
  const gy = geometry(H, KH, SH, padding);
  const gx = geometry(W, KW, SW, padding);
  const y = new Float64Array(gy.out * gx.out * C);
  for (let oy = 0; oy < gy.out; oy++) {
    for (let ox = 0; ox < gx.out; ox++) {
      for (let c = 0; c < C; c++) {
        let s = b[c]!;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const iy = oy * SH - gy.pad + ky;
            const ix = ox * SW - gx.pad + kx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += x[(iy * W + ix) * C + c]! * k[(ky * KW + kx) * C + c]!;
          }
        }
        y[(oy * gx.out + ox) * C + c] = s;
      }
    }
  }
  return { y, OH: gy.out, OW: gx.out };
}

const floatCase = fc.record({
  H: fc.integer({ min: 1, max: 9 }),
  W: fc.integer({ min: 1, max: 9 }),
  C: fc.integer({ min: 1, max: 6 }),
  ...windowFloatFields,
});

describe('depthwise_conv2d: lowering + TS kernel vs a float64 depthwise convolution', () => {
  it('within 1 output LSB of float64 on the quantized input, weights and bias (output rounding 0.5 + double rounding 0.5)', () => {
    let clampedRelu = 0;
    let padded = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        if (c.padding === 'valid' && (c.KH > c.H || c.KW > c.W)) return true;
        const { kernel, bias, inQ, xq, xd, kd, bd } = randomLayer(c, c.KH * c.KW * c.C, c.C, c.H * c.W * c.C);
        const ref = floatDepthwise(xd, c.H, c.W, c.C, kd, bd, c.KH, c.KW, c.SH, c.SW, c.padding);
        const outQ = chooseQuantParams(Math.min(...ref.y) * 0.9, Math.max(...ref.y) * 0.9);
        const inInfo = { name: 'x', shape: [c.H, c.W, c.C], ...inQ };
        const outInfo = { name: 'y', shape: [ref.OH, ref.OW, c.C], ...outQ };
        const node = lowerDepthwiseConv2d({ name: 'dw', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, ...(bias ? { bias } : {}), kernelSize: [c.KH, c.KW], strides: [c.SH, c.SW], padding: c.padding, activation: c.activation });
        const graph = graphOf(node, [inInfo, outInfo]);
        depthwiseConv2d.validate(node, graph);
        const y = depthwiseConv2d.run(node, [xq], graph, CTX).outputs[0]!;
        if (c.padding === 'same' && (c.KH > 1 || c.KW > 1)) padded++;
        clampedRelu += expectNearFloat(y, ref.y, outQ, c.activation, (i) => `case ${JSON.stringify(c)} output ${i}`);
        return true;
      }),
      { seed: 2, numRuns: 120 },
    );
    expect(clampedRelu).toBeGreaterThan(0);
    expect(padded).toBeGreaterThan(0);
  });

  it('lowering: depth multiplier 1 only, out shape checked; macs', () => {
    const inInfo = { name: 'x', shape: [14, 14, 8], scale: 0.1, zeroPoint: 0 };
    const outInfo = { name: 'y', shape: [7, 7, 8], scale: 0.1, zeroPoint: 0 };
    const args = { name: 'dw', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel: new Float64Array(9 * 8).fill(0.5), kernelSize: [3, 3] as [number, number], strides: [2, 2] as [number, number], padding: 'same' as const };
    const n = lowerDepthwiseConv2d(args);
    expect(n.padding).toEqual({ top: 0, left: 0 }); // (7-1)*2 + 3 - 14 = 1 -> top 0
    expect(depthwiseConv2d.macs(n, graphOf(n, [inInfo, outInfo]))).toBe(7 * 7 * 8 * 9);
    expect(() => lowerDepthwiseConv2d({ ...args, kernel: new Float64Array(9 * 8 * 2) })).toThrow(ConfigError);
    expect(() => lowerDepthwiseConv2d({ ...args, kernel: new Float64Array(9 * 8 * 2) })).toThrow(/depthMultiplier/);
    expect(() => lowerDepthwiseConv2d({ ...args, depthMultiplier: 2 })).toThrow(/depthMultiplier/);
    expect(() => lowerDepthwiseConv2d({ ...args, out: { ...outInfo, shape: [7, 7, 4] } })).toThrow(/out\.shape/);
    expect(() => lowerDepthwiseConv2d({ ...args, bias: [1, 2] })).toThrow(/bias/);
  });
});

const rawCase: fc.Arbitrary<KernelCase<DepthwiseConv2dNode>> = fc
  .record({
    H: fc.integer({ min: 1, max: 10 }),
    W: fc.integer({ min: 1, max: 10 }),
    C: fc.integer({ min: 1, max: 9 }),
    ...windowRawFields,
  })
  .filter((c) => c.same || (c.KH <= c.H && c.KW <= c.W))
  .map((c) => {
    const r = rng(c.seed);
    const gy = geometry(c.H, c.KH, c.SH, c.same ? 'same' : 'valid');
    const gx = geometry(c.W, c.KW, c.SW, c.same ? 'same' : 'valid');
    const node: DepthwiseConv2dNode = {
      op: 'depthwise_conv2d',
      name: 'dw',
      inputs: [0],
      outputs: [1],
      weights: Int8Array.from({ length: c.KH * c.KW * c.C }, () => Math.floor(r() * 256) - 128),
      ...randomRequant(r, c.C, c.bigBias, { slack: 3000, small: 20000, shiftLo: -12 }),
      kernel: [c.KH, c.KW],
      strides: [c.SH, c.SW],
      padding: { top: gy.pad, left: gx.pad },
      ...randomClamp(r, c.act),
    };
    const tensors = [
      { name: 'x', shape: [c.H, c.W, c.C], scale: 1, zeroPoint: c.inZp },
      { name: 'y', shape: [gy.out, gx.out, c.C], scale: 1, zeroPoint: c.outZp },
    ];
    return { node, graph: graphOf(node, tensors), inputs: [Int8Array.from({ length: c.H * c.W * c.C }, () => Math.floor(r() * 256) - 128)] };
  });

const DRIVER = caseDriver(
  'tb_depthwise_conv2d.h',
  'static int8_t in[4096], out[4096], w[4096];\nstatic int32_t bias[64], mult[64], shift[64];',
  String.raw`
    tb_depthwise_conv2d_params p;
    p.in_h = rd(); p.in_w = rd(); p.channels = rd(); p.out_h = rd(); p.out_w = rd();
    p.kernel_h = rd(); p.kernel_w = rd(); p.stride_h = rd(); p.stride_w = rd();
    p.pad_top = rd(); p.pad_left = rd(); p.in_zp = rd(); p.out_zp = rd(); p.act_min = rd(); p.act_max = rd();
    rd_s8(in, p.in_h * p.in_w * p.channels);
    rd_s8(w, p.kernel_h * p.kernel_w * p.channels);
    rd_s32(bias, p.channels); rd_s32(mult, p.channels); rd_s32(shift, p.channels);
    p.weights = w; p.bias = bias; p.multipliers = mult; p.shifts = shift;
    tb_depthwise_conv2d_s8(in, out, &p);
    print_s8(out, p.out_h * p.out_w * p.channels);`,
);

function caseText({ node, graph, inputs }: KernelCase<DepthwiseConv2dNode>): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  return ints(x.shape, y.shape[0]!, y.shape[1]!, node.kernel, node.strides, node.padding.top, node.padding.left, x.zeroPoint, y.zeroPoint, node.actMin, node.actMax, inputs[0]!, node.weights, node.bias, node.multipliers, node.shifts);
}

describeC('depthwise_conv2d: C tb_depthwise_conv2d_s8 is bit-exact with the TS kernel', 'tb_depthwise_conv2d', (c) => {
  const cases = once(() => fc.sample(rawCase, { seed: 11, numRuns: 400 }));
  c.itMatchesTs('400 random cases, every byte equal', DRIVER, depthwiseConv2d, cases, caseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', depthwiseConv2d, () => cases().slice(0, 12), { runtime: ['tb_depthwise_conv2d.h'], no: ['state'], timeout: 60_000 });
});

describe('depthwise_conv2d: validate', () => {
  const { node, graph } = sampleOne(rawCase, 5);
  const bad = validateErrors(depthwiseConv2d, node, graph);
  it('accepts a consistent node', () => expect(() => depthwiseConv2d.validate(node, graph)).not.toThrow());
  it('names the node and the field', () => {
    bad({ weights: node.weights.subarray(1) }, 'weights');
    bad({ bias: new Int32Array(node.bias.length + 1) }, 'bias');
    bad({ multipliers: Array.from(node.multipliers) as never }, 'multipliers');
    bad({ shifts: Int32Array.from(node.shifts, () => -32) }, 'shifts[0]');
    bad({ actMin: -129 }, 'actMin');
    bad({ padding: { top: 0, left: -1 } }, 'padding.left');
    const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
    bad({}, 'output shape', { ...graph, tensors: [x, { ...y, shape: [y.shape[0]!, y.shape[1]!, y.shape[2]! + 1] }] });
    bad({}, 'input shape', { ...graph, tensors: [{ ...x, shape: [x.shape[0]! * x.shape[1]! * x.shape[2]!] }, y] });
  });
});

describeCortexM('depthwise_conv2d', { file: 'tb_depthwise_conv2d.c' }, 'tb_depthwise_conv2d_s8');
