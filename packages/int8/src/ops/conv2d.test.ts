/**
 * conv2d: lowering + TS kernel against a float64 convolution (tfjs layouts), the C kernel
 * against the TS kernel byte for byte (random shapes, strides, paddings, zero points,
 * multipliers), the emitted call compiled and run, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams } from '../affine.js';
import type { Int8Graph, TensorInfo } from '../graph.js';
import { conv2d, type Conv2dNode, lowerConv2d } from './conv2d.js';
import { caseDriver, CTX, describeC, describeCortexM, expectNearFloat, geometry, graphOf, ints, type KernelCase, once, randomClamp, randomLayer, randomRequant, rng, sampleOne, validateErrors, windowFloatFields, windowRawFields } from './test-c.js';

/** Float64 conv in tfjs layouts: x [H, W, Cin], k [KH, KW, Cin, Cout], zero padding. */
function floatConv(x: ArrayLike<number>, H: number, W: number, Cin: number, k: ArrayLike<number>, b: ArrayLike<number>, KH: number, KW: number, Cout: number, SH: number, SW: number, padding: 'same' | 'valid') {
  const gy = geometry(H, KH, SH, padding);
  const gx = geometry(W, KW, SW, padding);
  const y = new Float64Array(gy.out * gx.out * Cout);
  for (let oy = 0; oy < gy.out; oy++) {
    for (let ox = 0; ox < gx.out; ox++) {
      for (let co = 0; co < Cout; co++) {
        let s = b[co]!;
        for (let ky = 0; ky < KH; ky++) {
          for (let kx = 0; kx < KW; kx++) {
            const iy = oy * SH - gy.pad + ky;
            const ix = ox * SW - gx.pad + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < Cin; ci++) s += x[(iy * W + ix) * Cin + ci]! * k[((ky * KW + kx) * Cin + ci) * Cout + co]!;
          }
        }
        y[(oy * gx.out + ox) * Cout + co] = s;
      }
    }
  }
  return { y, OH: gy.out, OW: gx.out };
}

const floatCase = fc.record({
  H: fc.integer({ min: 1, max: 8 }),
  W: fc.integer({ min: 1, max: 8 }),
  Cin: fc.integer({ min: 1, max: 4 }),
  Cout: fc.integer({ min: 1, max: 4 }),
  ...windowFloatFields,
});

describe('conv2d: lowering + TS kernel vs a float64 convolution', () => {
  it('within 1 output LSB of float64 on the quantized input, weights and bias (output rounding 0.5 + double rounding 0.5)', () => {
    let clampedRelu = 0;
    let padded = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        if (c.padding === 'valid' && (c.KH > c.H || c.KW > c.W)) return true;
        const { kernel, bias, inQ, xq, xd, kd, bd } = randomLayer(c, c.KH * c.KW * c.Cin * c.Cout, c.Cout, c.H * c.W * c.Cin);
        const ref = floatConv(xd, c.H, c.W, c.Cin, kd, bd, c.KH, c.KW, c.Cout, c.SH, c.SW, c.padding);
        const outQ = chooseQuantParams(Math.min(...ref.y) * 0.9, Math.max(...ref.y) * 0.9); // some saturation
        const inInfo = { name: 'x', shape: [c.H, c.W, c.Cin], ...inQ };
        const outInfo = { name: 'y', shape: [ref.OH, ref.OW, c.Cout], ...outQ };
        const node = lowerConv2d({ name: 'conv', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, ...(bias ? { bias } : {}), kernelSize: [c.KH, c.KW], strides: [c.SH, c.SW], padding: c.padding, activation: c.activation });
        const graph = graphOf(node, [inInfo, outInfo]);
        conv2d.validate(node, graph);
        const y = conv2d.run(node, [xq], graph, CTX).outputs[0]!;
        if (c.padding === 'same' && (c.KH > 1 || c.KW > 1)) padded++;
        clampedRelu += expectNearFloat(y, ref.y, outQ, c.activation, (i) => `case ${JSON.stringify(c)} output ${i}`);
        return true;
      }),
      { seed: 1, numRuns: 120 },
    );
    expect(clampedRelu).toBeGreaterThan(0); // the fused relu clamp was exercised
    expect(padded).toBeGreaterThan(0);
  });

  it("a worked example: 3x3 'same' on a 3x3 ramp, stride 1, OHWI weights, bias, zero points", () => {
    // x = 1..9 (real, scale 1, zp -5); kernel: all ones for channel 0, centre tap only for channel 1
    const inInfo = { name: 'x', shape: [3, 3, 1], scale: 1, zeroPoint: -5 };
    const outInfo = { name: 'y', shape: [3, 3, 2], scale: 1, zeroPoint: 3 };
    const kernel = new Float64Array(9 * 2);
    for (let t = 0; t < 9; t++) {
      kernel[t * 2] = 1;
      kernel[t * 2 + 1] = t === 4 ? 1 : 0;
    }
    const node = lowerConv2d({ name: 'c', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, bias: [0.5, -1], kernelSize: [3, 3], strides: [1, 1], padding: 'same' });
    expect(node.padding).toEqual({ top: 1, left: 1 });
    expect(Array.from(node.weights.subarray(9))).toEqual([0, 0, 0, 0, 127, 0, 0, 0, 0]); // channel 1, OHWI
    const x = Int8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9], (v) => v - 5);
    const y = conv2d.run(node, [x], graphOf(node, [inInfo, outInfo]), CTX).outputs[0]!;
    // channel 0: window sums of 1..9 (+0.5 bias, rounded half away), + zp 3; channel 1: x - 1 + 3
    const sums = [12, 21, 16, 27, 45, 33, 24, 39, 28];
    expect(Array.from(y)).toEqual(sums.flatMap((s, i) => [s + 1 + 3, i + 3]));
  });

  it('lowering: fused activation ranges, OHWI order and errors', () => {
    const inInfo = { name: 'x', shape: [4, 4, 2], scale: 0.1, zeroPoint: 3 };
    const outInfo = { name: 'y', shape: [2, 2, 3], scale: 0.05, zeroPoint: -10 };
    const kernel = Float64Array.from({ length: 3 * 3 * 2 * 3 }, (_, i) => ((i * 37) % 11) - 5);
    const args = { name: 'c', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, kernelSize: [3, 3] as [number, number], strides: [2, 2] as [number, number], padding: 'same' as const };
    const n = lowerConv2d({ ...args, activation: 'relu6' });
    expect([n.actMin, n.actMax]).toEqual([-10, 110]); // zp + round(6 / 0.05)
    expect([lowerConv2d({ ...args, activation: 'relu' }).actMin, lowerConv2d(args).actMin]).toEqual([-10, -128]);
    expect(Array.from(n.bias)).toEqual([0, 0, 0]);
    // OHWI: weights[co][ky][kx][ci] has the sign of kernel[ky][kx][ci][co]
    for (let co = 0; co < 3; co++) for (let t = 0; t < 9; t++) for (let ci = 0; ci < 2; ci++) expect(Math.sign(n.weights[(co * 9 + t) * 2 + ci]!)).toBe(Math.sign(kernel[(t * 2 + ci) * 3 + co]!));
    expect(() => lowerConv2d({ ...args, out: { ...outInfo, shape: [4, 4, 3] } })).toThrow(ConfigError);
    expect(() => lowerConv2d({ ...args, out: { ...outInfo, shape: [4, 4, 3] } })).toThrow(/out\.shape.*\[2, 2, 3\]/);
    expect(() => lowerConv2d({ ...args, kernel: kernel.subarray(1) })).toThrow(/kernel/);
    expect(() => lowerConv2d({ ...args, activation: 'tanh' as never })).toThrow(/activation/);
    expect(() => lowerConv2d({ ...args, padding: 'valid', kernelSize: [5, 5] })).toThrow(ConfigError);
  });

  it('macs', () => {
    const n = lowerConv2d({ name: 'c', inputs: [0], outputs: [1], in: { name: 'x', shape: [28, 28, 1], scale: 1, zeroPoint: 0 }, out: { name: 'y', shape: [14, 14, 16], scale: 1, zeroPoint: 0 }, kernel: new Float64Array(9 * 16).fill(1), kernelSize: [3, 3], strides: [2, 2], padding: 'same' });
    expect(conv2d.macs(n, graphOf(n, [{ name: 'x', shape: [28, 28, 1], scale: 1, zeroPoint: 0 }, { name: 'y', shape: [14, 14, 16], scale: 1, zeroPoint: 0 }]))).toBe(14 * 14 * 16 * 9);
  });
});

// ---------------------------------------------------------------- raw random nodes (for C)

const rawCase: fc.Arbitrary<KernelCase<Conv2dNode>> = fc
  .record({
    H: fc.integer({ min: 1, max: 9 }),
    W: fc.integer({ min: 1, max: 9 }),
    Cin: fc.integer({ min: 1, max: 6 }),
    Cout: fc.integer({ min: 1, max: 5 }),
    ...windowRawFields,
  })
  .filter((c) => c.same || (c.KH <= c.H && c.KW <= c.W))
  .map((c) => {
    const r = rng(c.seed);
    const gy = geometry(c.H, c.KH, c.SH, c.same ? 'same' : 'valid');
    const gx = geometry(c.W, c.KW, c.SW, c.same ? 'same' : 'valid');
    const node: Conv2dNode = {
      op: 'conv2d',
      name: 'conv',
      inputs: [0],
      outputs: [1],
      weights: Int8Array.from({ length: c.Cout * c.KH * c.KW * c.Cin }, () => Math.floor(r() * 256) - 128),
      ...randomRequant(r, c.Cout, c.bigBias, { slack: 3000, small: 20000, shiftLo: -14 }),
      kernel: [c.KH, c.KW],
      strides: [c.SH, c.SW],
      padding: { top: gy.pad, left: gx.pad },
      ...randomClamp(r, c.act),
    };
    const tensors = [
      { name: 'x', shape: [c.H, c.W, c.Cin], scale: 1, zeroPoint: c.inZp },
      { name: 'y', shape: [gy.out, gx.out, c.Cout], scale: 1, zeroPoint: c.outZp },
    ];
    return { node, graph: graphOf(node, tensors), inputs: [Int8Array.from({ length: c.H * c.W * c.Cin }, () => Math.floor(r() * 256) - 128)] };
  });

const DRIVER = caseDriver(
  'tb_conv2d.h',
  'static int8_t in[4096], out[4096], w[8192];\nstatic int32_t bias[64], mult[64], shift[64];',
  String.raw`
    tb_conv2d_params p;
    p.in_h = rd(); p.in_w = rd(); p.in_c = rd(); p.out_h = rd(); p.out_w = rd(); p.out_c = rd();
    p.kernel_h = rd(); p.kernel_w = rd(); p.stride_h = rd(); p.stride_w = rd();
    p.pad_top = rd(); p.pad_left = rd(); p.in_zp = rd(); p.out_zp = rd(); p.act_min = rd(); p.act_max = rd();
    rd_s8(in, p.in_h * p.in_w * p.in_c);
    rd_s8(w, p.out_c * p.kernel_h * p.kernel_w * p.in_c);
    rd_s32(bias, p.out_c); rd_s32(mult, p.out_c); rd_s32(shift, p.out_c);
    p.weights = w; p.bias = bias; p.multipliers = mult; p.shifts = shift;
    tb_conv2d_s8(in, out, &p);
    print_s8(out, p.out_h * p.out_w * p.out_c);`,
);

function caseText({ node, graph, inputs }: KernelCase<Conv2dNode>): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  return ints(x.shape, y.shape, node.kernel, node.strides, node.padding.top, node.padding.left, x.zeroPoint, y.zeroPoint, node.actMin, node.actMax, inputs[0]!, node.weights, node.bias, node.multipliers, node.shifts);
}

describeC('conv2d: C tb_conv2d_s8 is bit-exact with the TS kernel', 'tb_conv2d', (c) => {
  const cases = once(() => fc.sample(rawCase, { seed: 7, numRuns: 400 }));
  c.itMatchesTs('400 random cases, every byte equal', DRIVER, conv2d, cases, caseText, 60_000);
  c.itEmittedMatchesTs('the emitted call (params compound literal, data symbols) compiles and matches TS', conv2d, () => cases().slice(0, 12), { runtime: ['tb_conv2d.h'], no: ['state'], timeout: 60_000 });
});

describe('conv2d: validate', () => {
  const { node, graph } = sampleOne(rawCase, 3);
  const bad = validateErrors(conv2d, node, graph);
  it('accepts a consistent node', () => expect(() => conv2d.validate(node, graph)).not.toThrow());
  it('names the node and the field', () => {
    bad({ weights: node.weights.subarray(1) }, 'weights');
    bad({ weights: Int16Array.from(node.weights) as never }, 'weights');
    bad({ bias: new Int32Array(node.bias.length + 1) }, 'bias');
    bad({ multipliers: new Int32Array(0) }, 'multipliers');
    bad({ shifts: Int32Array.from(node.shifts, () => 31) }, 'shifts[0]');
    bad({ multipliers: Int32Array.from(node.multipliers, () => -1) }, 'multipliers[0]');
    bad({ actMin: 10, actMax: 5 }, 'actMax');
    bad({ padding: { top: node.kernel[0], left: 0 } }, 'padding.top');
    bad({ strides: [0, 1] }, 'strides');
    bad({ kernel: [1.5, 1] }, 'kernel');
    bad({ inputs: [0, 0] }, 'inputs');
  });
  it('rejects an output larger than the windows cover, and accumulators that could overflow int32', () => {
    const tall = { ...graph, tensors: [graph.tensors[0]!, { ...graph.tensors[1]!, shape: [graph.tensors[1]!.shape[0]! + 20, ...graph.tensors[1]!.shape.slice(1)] }] };
    expect(() => conv2d.validate(node, tall)).toThrow(/output height/);
    const big: Int8Graph = { ...graph, tensors: [{ name: 'x', shape: [3, 3, 8000], scale: 1, zeroPoint: 0 }, { name: 'y', shape: [1, 1, 1], scale: 1, zeroPoint: 0 }] };
    const n = { ...node, weights: new Int8Array(9 * 8000), bias: new Int32Array(1), multipliers: new Int32Array(1), shifts: new Int32Array(1), kernel: [3, 3] as [number, number], strides: [1, 1] as [number, number], padding: { top: 0, left: 0 } };
    expect(() => conv2d.validate(n, big)).toThrow(/int32 accumulator/);
  });
});

describeCortexM('conv2d', { file: 'tb_conv2d.c' }, 'tb_conv2d_s8');
