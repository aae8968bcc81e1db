/**
 * conv2d: lowering + TS kernel against a float64 convolution (tfjs layouts), the C kernel
 * against the TS kernel byte for byte (random shapes, strides, paddings, zero points,
 * multipliers), the emitted call compiled and run, validate's errors, and a Cortex-M build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import { INT8_MAX, requantize, roundHalfAway } from '../fixed-point.js';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext } from '../op.js';
import { conv2d, type Conv2dNode, int8OpHelpers, lowerConv2d } from './conv2d.js';
import { EDGES, int32, shiftArb } from '../test-reference.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: Conv2dNode, tensors: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

/** TF geometry, written from the definition. */
function geometry(size: number, k: number, s: number, padding: 'same' | 'valid'): { out: number; pad: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / s) + 1, pad: 0 };
  const out = Math.ceil(size / s);
  return { out, pad: Math.floor(Math.max(0, (out - 1) * s + k - size) / 2) };
}

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

const act = (a: string, v: number) => (a === 'relu' ? Math.max(v, 0) : a === 'relu6' ? Math.min(Math.max(v, 0), 6) : v);

const floatCase = fc.record({
  H: fc.integer({ min: 1, max: 8 }),
  W: fc.integer({ min: 1, max: 8 }),
  Cin: fc.integer({ min: 1, max: 4 }),
  Cout: fc.integer({ min: 1, max: 4 }),
  KH: fc.integer({ min: 1, max: 4 }),
  KW: fc.integer({ min: 1, max: 4 }),
  SH: fc.integer({ min: 1, max: 3 }),
  SW: fc.integer({ min: 1, max: 3 }),
  padding: fc.constantFrom('same' as const, 'valid' as const),
  activation: fc.constantFrom('linear' as const, 'relu' as const, 'relu6' as const),
  hasBias: fc.boolean(),
  inLo: fc.double({ min: -3, max: 0.5, noNaN: true }),
  inSpan: fc.double({ min: 0.5, max: 4, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('conv2d: lowering + TS kernel vs a float64 convolution', () => {
  it('within 1 output LSB of float64 on the quantized input, weights and bias (output rounding 0.5 + double rounding 0.5)', () => {
    let clampedRelu = 0;
    let padded = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        if (c.padding === 'valid' && (c.KH > c.H || c.KW > c.W)) return true;
        const r = rng(c.seed);
        const kernel = Float64Array.from({ length: c.KH * c.KW * c.Cin * c.Cout }, () => r() * 2 - 1);
        const bias = c.hasBias ? Float64Array.from({ length: c.Cout }, () => r() - 0.5) : undefined;
        const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
        const xq = quantizeArray(Float64Array.from({ length: c.H * c.W * c.Cin }, () => c.inLo + r() * c.inSpan), inQ);
        const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
        // weights / bias as int8 inference sees them: per-output-channel symmetric, written here independently
        const wScale = Array.from({ length: c.Cout }, (_, co) => {
          let m = 0;
          for (let i = co; i < kernel.length; i += c.Cout) m = Math.max(m, Math.abs(kernel[i]!));
          return m > 0 ? m / INT8_MAX : 1;
        });
        const kd = Float64Array.from(kernel, (w, i) => roundHalfAway(w / wScale[i % c.Cout]!) * wScale[i % c.Cout]!);
        const bd = Float64Array.from({ length: c.Cout }, (_, co) => roundHalfAway((bias?.[co] ?? 0) / (inQ.scale * wScale[co]!)) * inQ.scale * wScale[co]!);
        const ref = floatConv(xd, c.H, c.W, c.Cin, kd, bd, c.KH, c.KW, c.Cout, c.SH, c.SW, c.padding);
        const ya = ref.y.map((v) => act(c.activation, v));
        const outQ = chooseQuantParams(Math.min(...ref.y) * 0.9, Math.max(...ref.y) * 0.9); // some saturation
        const inInfo = { name: 'x', shape: [c.H, c.W, c.Cin], ...inQ };
        const outInfo = { name: 'y', shape: [ref.OH, ref.OW, c.Cout], ...outQ };
        const node = lowerConv2d({ name: 'conv', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, ...(bias ? { bias } : {}), kernelSize: [c.KH, c.KW], strides: [c.SH, c.SW], padding: c.padding, activation: c.activation });
        const graph = graphOf(node, [inInfo, outInfo]);
        conv2d.validate(node, graph);
        const y = conv2d.run(node, [xq], graph, CTX).outputs[0]!;
        expect(y.length).toBe(ya.length);
        if (c.padding === 'same' && (c.KH > 1 || c.KW > 1)) padded++;
        for (let i = 0; i < y.length; i++) {
          const want = Math.min(127, Math.max(-128, ya[i]! / outQ.scale + outQ.zeroPoint));
          if (c.activation !== 'linear' && ref.y[i]! < -outQ.scale) clampedRelu++;
          expect(Math.abs(y[i]! - want), `case ${JSON.stringify(c)} output ${i}: ${y[i]} vs ${want}`).toBeLessThanOrEqual(1);
        }
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

describe('int8OpHelpers.requantizeWith (the kernels\' fast path) equals requantize', () => {
  const { channelRequant, requantizeWith } = int8OpHelpers;
  const mult = fc.oneof(fc.constantFrom(0, 1, 2 ** 16 - 1, 2 ** 16, 2 ** 30, 2 ** 31 - 1), fc.integer({ min: 0, max: 2 ** 31 - 1 }));
  it('on every int32 edge x multiplier edge x shift', () => {
    for (const m of [0, 1, 65535, 65536, 2 ** 30, 1518500250, 2 ** 31 - 1]) {
      const shifts = Int32Array.from({ length: 62 }, (_, i) => i - 31);
      const rq = channelRequant(new Int32Array(62).fill(m), shifts);
      for (const acc of EDGES) {
        for (let c = 0; c < 62; c++) expect(requantizeWith(acc, rq, c, 3, -128, 127), `acc ${acc} m ${m} shift ${shifts[c]}`).toBe(requantize(acc, m, shifts[c]!, 3, -128, 127));
      }
    }
  });
  it('on random int32 accumulators, multipliers, shifts, zero points and clamps', () => {
    fc.assert(
      fc.property(int32, mult, shiftArb, fc.integer({ min: -128, max: 127 }), fc.integer({ min: -128, max: 0 }), fc.integer({ min: 0, max: 127 }), (acc, m, s, zp, lo, hi) => {
        const rq = channelRequant(Int32Array.of(7, m), Int32Array.of(0, s));
        return requantizeWith(acc, rq, 1, zp, lo, hi) === requantize(acc, m, s, zp, lo, hi);
      }),
      { seed: 8, numRuns: 200_000 },
    );
  });
});

// ---------------------------------------------------------------- raw random nodes (for C)

interface RawCase {
  node: Conv2dNode;
  graph: Int8Graph;
  input: Int8Array;
}

const i8 = fc.integer({ min: -128, max: 127 });
const rawCase: fc.Arbitrary<RawCase> = fc
  .record({
    H: fc.integer({ min: 1, max: 9 }),
    W: fc.integer({ min: 1, max: 9 }),
    Cin: fc.integer({ min: 1, max: 6 }),
    Cout: fc.integer({ min: 1, max: 5 }),
    KH: fc.integer({ min: 1, max: 5 }),
    KW: fc.integer({ min: 1, max: 5 }),
    SH: fc.integer({ min: 1, max: 3 }),
    SW: fc.integer({ min: 1, max: 3 }),
    same: fc.boolean(),
    inZp: i8,
    outZp: i8,
    act: fc.tuple(i8, i8),
    bigBias: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .filter((c) => c.same || (c.KH <= c.H && c.KW <= c.W))
  .map((c) => {
    const r = rng(c.seed);
    const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
    const gy = geometry(c.H, c.KH, c.SH, c.same ? 'same' : 'valid');
    const gx = geometry(c.W, c.KW, c.SW, c.same ? 'same' : 'valid');
    const [actMin, actMax] = c.act[0] <= c.act[1] ? c.act : [c.act[1], c.act[0]];
    const node: Conv2dNode = {
      op: 'conv2d',
      name: 'conv',
      inputs: [0],
      outputs: [1],
      weights: Int8Array.from({ length: c.Cout * c.KH * c.KW * c.Cin }, () => int(-128, 127)),
      // biases near +-(2^31 - 1): sum + bias wraps modulo 2^32 in some cases
      bias: Int32Array.from({ length: c.Cout }, () => (c.bigBias ? (r() < 0.5 ? -1 : 1) * (2 ** 31 - 1 - int(0, 3000)) : int(-20000, 20000))),
      multipliers: Int32Array.from({ length: c.Cout }, () => (r() < 0.05 ? 0 : int(2 ** 30, 2 ** 31 - 1))),
      shifts: Int32Array.from({ length: c.Cout }, () => (r() < 0.1 ? int(-31, 30) : int(-14, 1))),
      kernel: [c.KH, c.KW],
      strides: [c.SH, c.SW],
      padding: { top: gy.pad, left: gx.pad },
      actMin: r() < 0.5 ? -128 : actMin,
      actMax: r() < 0.5 ? 127 : actMax,
    };
    const tensors = [
      { name: 'x', shape: [c.H, c.W, c.Cin], scale: 1, zeroPoint: c.inZp },
      { name: 'y', shape: [gy.out, gx.out, c.Cout], scale: 1, zeroPoint: c.outZp },
    ];
    return { node, graph: graphOf(node, tensors), input: Int8Array.from({ length: c.H * c.W * c.Cin }, () => int(-128, 127)) };
  });

const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_conv2d.h"

static int8_t in[4096], out[4096], w[8192];
static int32_t bias[64], mult[64], shift[64];

static int32_t rd(void) {
  long v;
  if (scanf("%ld", &v) != 1) exit(2);
  return (int32_t)v;
}

int main(void) {
  long ncase;
  while (scanf("%ld", &ncase) == 1) {
    tb_conv2d_params p;
    int32_t i, n;
    (void)ncase;
    p.in_h = rd(); p.in_w = rd(); p.in_c = rd(); p.out_h = rd(); p.out_w = rd(); p.out_c = rd();
    p.kernel_h = rd(); p.kernel_w = rd(); p.stride_h = rd(); p.stride_w = rd();
    p.pad_top = rd(); p.pad_left = rd(); p.in_zp = rd(); p.out_zp = rd(); p.act_min = rd(); p.act_max = rd();
    n = p.in_h * p.in_w * p.in_c;
    for (i = 0; i < n; i++) in[i] = (int8_t)rd();
    n = p.out_c * p.kernel_h * p.kernel_w * p.in_c;
    for (i = 0; i < n; i++) w[i] = (int8_t)rd();
    for (i = 0; i < p.out_c; i++) bias[i] = rd();
    for (i = 0; i < p.out_c; i++) mult[i] = rd();
    for (i = 0; i < p.out_c; i++) shift[i] = rd();
    p.weights = w; p.bias = bias; p.multipliers = mult; p.shifts = shift;
    tb_conv2d_s8(in, out, &p);
    n = p.out_h * p.out_w * p.out_c;
    for (i = 0; i < n; i++) printf("%d ", (int)out[i]);
    printf("\n");
  }
  return 0;
}
`;

function caseText({ node, graph, input }: RawCase, i: number): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  const head = [i, ...x.shape, ...y.shape, ...node.kernel, ...node.strides, node.padding.top, node.padding.left, x.zeroPoint, y.zeroPoint, node.actMin, node.actMax];
  return [head, input, node.weights, node.bias, node.multipliers, node.shifts].map((a) => Array.from(a).join(' ')).join('\n');
}

function expectSameOutputs(stdout: string, expected: string[], cases: RawCase[]): void {
  const lines = stdout.split('\n').slice(0, -1);
  expect(lines.length).toBe(expected.length);
  const bad = lines.findIndex((l, i) => l !== expected[i]);
  if (bad >= 0) expect(lines[bad], `case ${bad}: ${JSON.stringify({ ...cases[bad]!.node, shapes: cases[bad]!.graph.tensors.map((t) => t.shape) })}`).toBe(expected[bad]);
}

describe.skipIf(SKIP_C)('conv2d: C tb_conv2d_s8 is bit-exact with the TS kernel', () => {
  const tmp = makeTempDir('tb-conv2d-');
  afterAll(() => tmp.remove());
  const cases = fc.sample(rawCase, { seed: 7, numRuns: 400 });
  const expected = cases.map((c) => {
    conv2d.validate(c.node, c.graph);
    return Array.from(conv2d.run(c.node, [c.input], c.graph, CTX).outputs[0]!).map((v) => `${v} `).join('');
  });
  const input = `${cases.map(caseText).join('\n')}\n`;

  it.each(HOST_BUILDS)('$name: 400 random cases, every byte equal', (build) => {
    requireCompiler();
    const bin = compileDriver(tmp.dir, 'conv2d_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_conv2d.c')] });
    expectSameOutputs(runBinary(bin, input).toString(), expected, cases);
  }, 60_000);

  it('the emitted call (params compound literal, data symbols) compiles and matches TS', () => {
    requireCompiler();
    const some = cases.slice(0, 12);
    const decls: string[] = [];
    const calls: string[] = [];
    some.forEach((c, k) => {
      const ctx: EmitContext = {
        graph: c.graph,
        tensor: (id) => `t${k}_${id}`,
        data: (suffix, type, values) => {
          decls.push(`static const ${type} n${k}_${suffix}[${values.length}] = {${Array.from(values, (v) => (v === -2147483648 ? '(-2147483647 - 1)' : String(v))).join(', ')}};`);
          return `n${k}_${suffix}`;
        },
        state: () => {
          throw new Error('no state');
        },
        interventions: 'NULL',
      };
      const { call } = conv2d.emitC(c.node, ctx);
      decls.push(`static int8_t t${k}_0[${c.input.length}] = {${Array.from(c.input).join(', ')}};`, `static int8_t t${k}_1[${expected[k]!.trim().split(' ').length}];`);
      calls.push(`  ${call};`, `  for (i = 0; i < (int)sizeof t${k}_1; i++) printf("%d ", (int)t${k}_1[i]);`, '  printf("\\n");');
    });
    expect(conv2d.runtime).toEqual(['tb_conv2d.h']);
    const src = `#include <stdio.h>\n${conv2d.runtime.map((h) => `#include "${h}"`).join('\n')}\n${decls.join('\n')}\nint main(void) {\n  int i;\n${calls.join('\n')}\n  return 0;\n}\n`;
    const bin = compileDriver(tmp.dir, 'conv2d_emit.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_conv2d.c')] });
    expectSameOutputs(runBinary(bin).toString(), expected.slice(0, 12), some);
  }, 60_000);
});

describe('conv2d: validate', () => {
  const [c] = fc.sample(rawCase, { seed: 3, numRuns: 1 });
  const { node, graph } = c!;
  const bad = (patch: Partial<Conv2dNode>, field: string) => {
    try {
      conv2d.validate({ ...node, ...patch }, graph);
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).where).toBe('conv');
      expect((e as DataError).field).toBe(field);
      return;
    }
    throw new Error(`no error for ${field}`);
  };
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

// ---------------------------------------------------------------- Cortex-M

const ARM_CC = 'arm-none-eabi-gcc';
const HAS_ARM = spawnSync(ARM_CC, ['--version'], { stdio: 'ignore' }).status === 0;
describe.skipIf(!HAS_ARM)('conv2d: builds for Cortex-M without float helpers', () => {
  const tmp = makeTempDir('tb-conv2d-arm-');
  afterAll(() => tmp.remove());
  it.each(['cortex-m4', 'cortex-m0'])('%s', (cpu) => {
    const obj = join(tmp.dir, `${cpu}.o`);
    execFileSync(ARM_CC, ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', `-mcpu=${cpu}`, '-mthumb', '-Os', `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_conv2d.c'), '-o', obj]);
    expect(execFileSync('arm-none-eabi-nm', [obj]).toString()).toMatch(/ T tb_conv2d_s8\b/);
    const undefinedSyms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString();
    expect(undefinedSyms).not.toMatch(/__aeabi_[fd]|__aeabi_\w+2[fd]\b|__\w+[sd]f\d\b/);
  }, 30_000);
});
