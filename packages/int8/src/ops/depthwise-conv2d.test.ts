/**
 * depthwise_conv2d: lowering + TS kernel against a float64 depthwise convolution (tfjs layout
 * [KH, KW, C, 1]), the C kernel against the TS kernel byte for byte, the emitted call compiled
 * and run, validate's errors, and a Cortex-M build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import { INT8_MAX, roundHalfAway } from '../fixed-point.js';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext } from '../op.js';
import { depthwiseConv2d, type DepthwiseConv2dNode, lowerDepthwiseConv2d } from './depthwise-conv2d.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: DepthwiseConv2dNode, tensors: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

function geometry(size: number, k: number, s: number, padding: 'same' | 'valid'): { out: number; pad: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / s) + 1, pad: 0 };
  const out = Math.ceil(size / s);
  return { out, pad: Math.floor(Math.max(0, (out - 1) * s + k - size) / 2) };
}

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

const act = (a: string, v: number) => (a === 'relu' ? Math.max(v, 0) : a === 'relu6' ? Math.min(Math.max(v, 0), 6) : v);

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const floatCase = fc.record({
  H: fc.integer({ min: 1, max: 9 }),
  W: fc.integer({ min: 1, max: 9 }),
  C: fc.integer({ min: 1, max: 6 }),
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

describe('depthwise_conv2d: lowering + TS kernel vs a float64 depthwise convolution', () => {
  it('within 1 output LSB of float64 on the quantized input, weights and bias (output rounding 0.5 + double rounding 0.5)', () => {
    let clampedRelu = 0;
    let padded = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        if (c.padding === 'valid' && (c.KH > c.H || c.KW > c.W)) return true;
        const r = rng(c.seed);
        const kernel = Float64Array.from({ length: c.KH * c.KW * c.C }, () => r() * 2 - 1);
        const bias = c.hasBias ? Float64Array.from({ length: c.C }, () => r() - 0.5) : undefined;
        const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
        const xq = quantizeArray(Float64Array.from({ length: c.H * c.W * c.C }, () => c.inLo + r() * c.inSpan), inQ);
        const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
        const wScale = Array.from({ length: c.C }, (_, ch) => {
          let m = 0;
          for (let i = ch; i < kernel.length; i += c.C) m = Math.max(m, Math.abs(kernel[i]!));
          return m > 0 ? m / INT8_MAX : 1;
        });
        const kd = Float64Array.from(kernel, (w, i) => roundHalfAway(w / wScale[i % c.C]!) * wScale[i % c.C]!);
        const bd = Float64Array.from({ length: c.C }, (_, ch) => roundHalfAway((bias?.[ch] ?? 0) / (inQ.scale * wScale[ch]!)) * inQ.scale * wScale[ch]!);
        const ref = floatDepthwise(xd, c.H, c.W, c.C, kd, bd, c.KH, c.KW, c.SH, c.SW, c.padding);
        const outQ = chooseQuantParams(Math.min(...ref.y) * 0.9, Math.max(...ref.y) * 0.9);
        const inInfo = { name: 'x', shape: [c.H, c.W, c.C], ...inQ };
        const outInfo = { name: 'y', shape: [ref.OH, ref.OW, c.C], ...outQ };
        const node = lowerDepthwiseConv2d({ name: 'dw', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, ...(bias ? { bias } : {}), kernelSize: [c.KH, c.KW], strides: [c.SH, c.SW], padding: c.padding, activation: c.activation });
        const graph = graphOf(node, [inInfo, outInfo]);
        depthwiseConv2d.validate(node, graph);
        const y = depthwiseConv2d.run(node, [xq], graph, CTX).outputs[0]!;
        expect(y.length).toBe(ref.y.length);
        if (c.padding === 'same' && (c.KH > 1 || c.KW > 1)) padded++;
        for (let i = 0; i < y.length; i++) {
          const want = Math.min(127, Math.max(-128, act(c.activation, ref.y[i]!) / outQ.scale + outQ.zeroPoint));
          if (c.activation !== 'linear' && ref.y[i]! < -outQ.scale) clampedRelu++;
          expect(Math.abs(y[i]! - want), `case ${JSON.stringify(c)} output ${i}: ${y[i]} vs ${want}`).toBeLessThanOrEqual(1);
        }
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

interface RawCase {
  node: DepthwiseConv2dNode;
  graph: Int8Graph;
  input: Int8Array;
}

const i8 = fc.integer({ min: -128, max: 127 });
const rawCase: fc.Arbitrary<RawCase> = fc
  .record({
    H: fc.integer({ min: 1, max: 10 }),
    W: fc.integer({ min: 1, max: 10 }),
    C: fc.integer({ min: 1, max: 9 }),
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
    const node: DepthwiseConv2dNode = {
      op: 'depthwise_conv2d',
      name: 'dw',
      inputs: [0],
      outputs: [1],
      weights: Int8Array.from({ length: c.KH * c.KW * c.C }, () => int(-128, 127)),
      // biases near +-(2^31 - 1): sum + bias wraps modulo 2^32 in some cases
      bias: Int32Array.from({ length: c.C }, () => (c.bigBias ? (r() < 0.5 ? -1 : 1) * (2 ** 31 - 1 - int(0, 3000)) : int(-20000, 20000))),
      multipliers: Int32Array.from({ length: c.C }, () => (r() < 0.05 ? 0 : int(2 ** 30, 2 ** 31 - 1))),
      shifts: Int32Array.from({ length: c.C }, () => (r() < 0.1 ? int(-31, 30) : int(-12, 1))),
      kernel: [c.KH, c.KW],
      strides: [c.SH, c.SW],
      padding: { top: gy.pad, left: gx.pad },
      actMin: r() < 0.5 ? -128 : actMin,
      actMax: r() < 0.5 ? 127 : actMax,
    };
    const tensors = [
      { name: 'x', shape: [c.H, c.W, c.C], scale: 1, zeroPoint: c.inZp },
      { name: 'y', shape: [gy.out, gx.out, c.C], scale: 1, zeroPoint: c.outZp },
    ];
    return { node, graph: graphOf(node, tensors), input: Int8Array.from({ length: c.H * c.W * c.C }, () => int(-128, 127)) };
  });

const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_depthwise_conv2d.h"

static int8_t in[4096], out[4096], w[4096];
static int32_t bias[64], mult[64], shift[64];

static int32_t rd(void) {
  long v;
  if (scanf("%ld", &v) != 1) exit(2);
  return (int32_t)v;
}

int main(void) {
  long ncase;
  while (scanf("%ld", &ncase) == 1) {
    tb_depthwise_conv2d_params p;
    int32_t i, n;
    p.in_h = rd(); p.in_w = rd(); p.channels = rd(); p.out_h = rd(); p.out_w = rd();
    p.kernel_h = rd(); p.kernel_w = rd(); p.stride_h = rd(); p.stride_w = rd();
    p.pad_top = rd(); p.pad_left = rd(); p.in_zp = rd(); p.out_zp = rd(); p.act_min = rd(); p.act_max = rd();
    n = p.in_h * p.in_w * p.channels;
    for (i = 0; i < n; i++) in[i] = (int8_t)rd();
    n = p.kernel_h * p.kernel_w * p.channels;
    for (i = 0; i < n; i++) w[i] = (int8_t)rd();
    for (i = 0; i < p.channels; i++) bias[i] = rd();
    for (i = 0; i < p.channels; i++) mult[i] = rd();
    for (i = 0; i < p.channels; i++) shift[i] = rd();
    p.weights = w; p.bias = bias; p.multipliers = mult; p.shifts = shift;
    tb_depthwise_conv2d_s8(in, out, &p);
    n = p.out_h * p.out_w * p.channels;
    for (i = 0; i < n; i++) printf("%d ", (int)out[i]);
    printf("\n");
  }
  return 0;
}
`;

function caseText({ node, graph, input }: RawCase, i: number): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  const head = [i, ...x.shape, y.shape[0]!, y.shape[1]!, ...node.kernel, ...node.strides, node.padding.top, node.padding.left, x.zeroPoint, y.zeroPoint, node.actMin, node.actMax];
  return [head, input, node.weights, node.bias, node.multipliers, node.shifts].map((a) => Array.from(a).join(' ')).join('\n');
}

function expectSameOutputs(stdout: string, expected: string[], cases: RawCase[]): void {
  const lines = stdout.split('\n').slice(0, -1);
  expect(lines.length).toBe(expected.length);
  const bad = lines.findIndex((l, i) => l !== expected[i]);
  if (bad >= 0) expect(lines[bad], `case ${bad}: ${JSON.stringify({ ...cases[bad]!.node, shapes: cases[bad]!.graph.tensors.map((t) => t.shape) })}`).toBe(expected[bad]);
}

describe.skipIf(SKIP_C)('depthwise_conv2d: C tb_depthwise_conv2d_s8 is bit-exact with the TS kernel', () => {
  const tmp = makeTempDir('tb-dw-');
  afterAll(() => tmp.remove());
  const cases = fc.sample(rawCase, { seed: 11, numRuns: 400 });
  const expected = cases.map((c) => {
    depthwiseConv2d.validate(c.node, c.graph);
    return Array.from(depthwiseConv2d.run(c.node, [c.input], c.graph, CTX).outputs[0]!).map((v) => `${v} `).join('');
  });
  const input = `${cases.map(caseText).join('\n')}\n`;
  const sources = [join(RUNTIME, 'tb_depthwise_conv2d.c')];

  it.each(HOST_BUILDS)('$name: 400 random cases, every byte equal', (build) => {
    requireCompiler();
    const bin = compileDriver(tmp.dir, 'dw_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources });
    expectSameOutputs(runBinary(bin, input).toString(), expected, cases);
  }, 60_000);

  it('the emitted call compiles and matches TS', () => {
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
      const { call } = depthwiseConv2d.emitC(c.node, ctx);
      decls.push(`static int8_t t${k}_0[${c.input.length}] = {${Array.from(c.input).join(', ')}};`, `static int8_t t${k}_1[${expected[k]!.trim().split(' ').length}];`);
      calls.push(`  ${call};`, `  for (i = 0; i < (int)sizeof t${k}_1; i++) printf("%d ", (int)t${k}_1[i]);`, '  printf("\\n");');
    });
    expect(depthwiseConv2d.runtime).toEqual(['tb_depthwise_conv2d.h']);
    const src = `#include <stdio.h>\n${depthwiseConv2d.runtime.map((h) => `#include "${h}"`).join('\n')}\n${decls.join('\n')}\nint main(void) {\n  int i;\n${calls.join('\n')}\n  return 0;\n}\n`;
    const bin = compileDriver(tmp.dir, 'dw_emit.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources });
    expectSameOutputs(runBinary(bin).toString(), expected.slice(0, 12), some);
  }, 60_000);
});

describe('depthwise_conv2d: validate', () => {
  const [c] = fc.sample(rawCase, { seed: 5, numRuns: 1 });
  const { node, graph } = c!;
  const bad = (patch: Partial<DepthwiseConv2dNode>, field: string, g: Int8Graph = graph) => {
    try {
      depthwiseConv2d.validate({ ...node, ...patch }, g);
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).where).toBe('dw');
      expect((e as DataError).field).toBe(field);
      return;
    }
    throw new Error(`no error for ${field}`);
  };
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

const ARM_CC = 'arm-none-eabi-gcc';
const HAS_ARM = spawnSync(ARM_CC, ['--version'], { stdio: 'ignore' }).status === 0;
describe.skipIf(!HAS_ARM)('depthwise_conv2d: builds for Cortex-M without float helpers', () => {
  const tmp = makeTempDir('tb-dw-arm-');
  afterAll(() => tmp.remove());
  it.each(['cortex-m4', 'cortex-m0'])('%s', (cpu) => {
    const obj = join(tmp.dir, `${cpu}.o`);
    execFileSync(ARM_CC, ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', `-mcpu=${cpu}`, '-mthumb', '-Os', `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_depthwise_conv2d.c'), '-o', obj]);
    expect(execFileSync('arm-none-eabi-nm', [obj]).toString()).toMatch(/ T tb_depthwise_conv2d_s8\b/);
    expect(execFileSync('arm-none-eabi-nm', ['-u', obj]).toString()).not.toMatch(/__aeabi_[fd]|__aeabi_\w+2[fd]\b|__\w+[sd]f\d\b/);
  }, 30_000);
});
