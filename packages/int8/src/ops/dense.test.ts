/**
 * dense: lowering + TS kernel against a float64 matrix product (tfjs kernel [D, N], input read
 * flat in NHWC order), the C kernel against the TS kernel byte for byte, the emitted call
 * compiled and run, validate's errors, and a Cortex-M build.
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
import { dense, type DenseNode, lowerDense } from './dense.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: DenseNode, tensors: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const act = (a: string, v: number) => (a === 'relu' ? Math.max(v, 0) : a === 'relu6' ? Math.min(Math.max(v, 0), 6) : v);

const floatCase = fc.record({
  inShape: fc.oneof(fc.tuple(fc.integer({ min: 1, max: 64 })), fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }))),
  N: fc.integer({ min: 1, max: 12 }),
  activation: fc.constantFrom('linear' as const, 'relu' as const, 'relu6' as const),
  hasBias: fc.boolean(),
  inLo: fc.double({ min: -3, max: 0.5, noNaN: true }),
  inSpan: fc.double({ min: 0.5, max: 4, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

describe('dense: lowering + TS kernel vs a float64 matrix product', () => {
  it('within 1 output LSB of float64 on the quantized input, weights and bias (output rounding 0.5 + double rounding 0.5)', () => {
    let clampedRelu = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        const r = rng(c.seed);
        const D = c.inShape.reduce((a, b) => a * b, 1);
        const kernel = Float64Array.from({ length: D * c.N }, () => r() * 2 - 1);
        const bias = c.hasBias ? Float64Array.from({ length: c.N }, () => r() - 0.5) : undefined;
        const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
        const xq = quantizeArray(Float64Array.from({ length: D }, () => c.inLo + r() * c.inSpan), inQ);
        const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
        const wScale = Array.from({ length: c.N }, (_, n) => {
          let m = 0;
          for (let d = 0; d < D; d++) m = Math.max(m, Math.abs(kernel[d * c.N + n]!));
          return m > 0 ? m / INT8_MAX : 1;
        });
        const ref = Float64Array.from({ length: c.N }, (_, n) => {
          let s = roundHalfAway((bias?.[n] ?? 0) / (inQ.scale * wScale[n]!)) * inQ.scale * wScale[n]!;
          for (let d = 0; d < D; d++) s += xd[d]! * roundHalfAway(kernel[d * c.N + n]! / wScale[n]!) * wScale[n]!;
          return s;
        });
        const outQ = chooseQuantParams(Math.min(...ref) * 0.9, Math.max(...ref) * 0.9);
        const inInfo = { name: 'x', shape: [...c.inShape], ...inQ };
        const outInfo = { name: 'y', shape: [c.N], ...outQ };
        const node = lowerDense({ name: 'fc', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, ...(bias ? { bias } : {}), activation: c.activation });
        const graph = graphOf(node, [inInfo, outInfo]);
        dense.validate(node, graph);
        const y = dense.run(node, [xq], graph, CTX).outputs[0]!;
        expect(y.length).toBe(c.N);
        for (let n = 0; n < c.N; n++) {
          const want = Math.min(127, Math.max(-128, act(c.activation, ref[n]!) / outQ.scale + outQ.zeroPoint));
          if (c.activation !== 'linear' && ref[n]! < -outQ.scale) clampedRelu++;
          expect(Math.abs(y[n]! - want), `case ${JSON.stringify(c)} unit ${n}: ${y[n]} vs ${want}`).toBeLessThanOrEqual(1);
        }
        return true;
      }),
      { seed: 3, numRuns: 150 },
    );
    expect(clampedRelu).toBeGreaterThan(0);
  });

  it('lowering: [D, N] -> [N, D], zero bias when absent, errors; macs', () => {
    const inInfo = { name: 'x', shape: [2, 2, 3], scale: 0.1, zeroPoint: 0 };
    const outInfo = { name: 'y', shape: [5], scale: 0.1, zeroPoint: 0 };
    const kernel = Float64Array.from({ length: 12 * 5 }, (_, i) => (i % 7) - 3 + 0.5);
    const n = lowerDense({ name: 'fc', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel });
    for (let d = 0; d < 12; d++) for (let u = 0; u < 5; u++) expect(Math.sign(n.weights[u * 12 + d]!)).toBe(Math.sign(kernel[d * 5 + u]!));
    expect(Array.from(n.bias)).toEqual([0, 0, 0, 0, 0]);
    expect([n.actMin, n.actMax]).toEqual([-128, 127]);
    expect(dense.macs(n, graphOf(n, [inInfo, outInfo]))).toBe(60);
    expect(() => lowerDense({ name: 'fc', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel: kernel.subarray(5) })).toThrow(ConfigError);
    expect(() => lowerDense({ name: 'fc', inputs: [0], outputs: [1], in: inInfo, out: { ...outInfo, shape: [1, 5] }, kernel })).toThrow(/out\.shape/);
    expect(() => lowerDense({ name: 'fc', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, bias: [1] })).toThrow(/bias/);
  });
});

interface RawCase {
  node: DenseNode;
  graph: Int8Graph;
  input: Int8Array;
}

const i8 = fc.integer({ min: -128, max: 127 });
const rawCase: fc.Arbitrary<RawCase> = fc
  .record({
    D: fc.integer({ min: 1, max: 300 }),
    N: fc.integer({ min: 1, max: 40 }),
    inZp: i8,
    outZp: i8,
    act: fc.tuple(i8, i8),
    bigBias: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
  })
  .map((c) => {
    const r = rng(c.seed);
    const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
    const [actMin, actMax] = c.act[0] <= c.act[1] ? c.act : [c.act[1], c.act[0]];
    const node: DenseNode = {
      op: 'dense',
      name: 'fc',
      inputs: [0],
      outputs: [1],
      weights: Int8Array.from({ length: c.N * c.D }, () => int(-128, 127)),
      // biases near +-(2^31 - 1): sum + bias wraps modulo 2^32 in some cases
      bias: Int32Array.from({ length: c.N }, () => (c.bigBias ? (r() < 0.5 ? -1 : 1) * (2 ** 31 - 1 - int(0, 30000)) : int(-50000, 50000))),
      multipliers: Int32Array.from({ length: c.N }, () => (r() < 0.05 ? 0 : int(2 ** 30, 2 ** 31 - 1))),
      shifts: Int32Array.from({ length: c.N }, () => (r() < 0.1 ? int(-31, 30) : int(-16, 1))),
      actMin: r() < 0.5 ? -128 : actMin,
      actMax: r() < 0.5 ? 127 : actMax,
    };
    const tensors = [
      { name: 'x', shape: [c.D], scale: 1, zeroPoint: c.inZp },
      { name: 'y', shape: [c.N], scale: 1, zeroPoint: c.outZp },
    ];
    return { node, graph: graphOf(node, tensors), input: Int8Array.from({ length: c.D }, () => int(-128, 127)) };
  });

const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_dense.h"

static int8_t in[4096], out[256], w[65536];
static int32_t bias[256], mult[256], shift[256];

static int32_t rd(void) {
  long v;
  if (scanf("%ld", &v) != 1) exit(2);
  return (int32_t)v;
}

int main(void) {
  long ncase;
  while (scanf("%ld", &ncase) == 1) {
    tb_dense_params p;
    int32_t i, n;
    p.in_features = rd(); p.out_features = rd(); p.in_zp = rd(); p.out_zp = rd(); p.act_min = rd(); p.act_max = rd();
    for (i = 0; i < p.in_features; i++) in[i] = (int8_t)rd();
    n = p.out_features * p.in_features;
    for (i = 0; i < n; i++) w[i] = (int8_t)rd();
    for (i = 0; i < p.out_features; i++) bias[i] = rd();
    for (i = 0; i < p.out_features; i++) mult[i] = rd();
    for (i = 0; i < p.out_features; i++) shift[i] = rd();
    p.weights = w; p.bias = bias; p.multipliers = mult; p.shifts = shift;
    tb_dense_s8(in, out, &p);
    for (i = 0; i < p.out_features; i++) printf("%d ", (int)out[i]);
    printf("\n");
  }
  return 0;
}
`;

function caseText({ node, graph, input }: RawCase, i: number): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  const head = [i, x.shape[0]!, y.shape[0]!, x.zeroPoint, y.zeroPoint, node.actMin, node.actMax];
  return [head, input, node.weights, node.bias, node.multipliers, node.shifts].map((a) => Array.from(a).join(' ')).join('\n');
}

function expectSameOutputs(stdout: string, expected: string[], cases: RawCase[]): void {
  const lines = stdout.split('\n').slice(0, -1);
  expect(lines.length).toBe(expected.length);
  const bad = lines.findIndex((l, i) => l !== expected[i]);
  if (bad >= 0) expect(lines[bad], `case ${bad}: ${JSON.stringify({ ...cases[bad]!.node, shapes: cases[bad]!.graph.tensors.map((t) => t.shape) })}`).toBe(expected[bad]);
}

describe.skipIf(SKIP_C)('dense: C tb_dense_s8 is bit-exact with the TS kernel', () => {
  const tmp = makeTempDir('tb-dense-');
  afterAll(() => tmp.remove());
  const cases = fc.sample(rawCase, { seed: 13, numRuns: 400 });
  const expected = cases.map((c) => {
    dense.validate(c.node, c.graph);
    return Array.from(dense.run(c.node, [c.input], c.graph, CTX).outputs[0]!).map((v) => `${v} `).join('');
  });
  const input = `${cases.map(caseText).join('\n')}\n`;
  const sources = [join(RUNTIME, 'tb_dense.c')];

  it.each(HOST_BUILDS)('$name: 400 random cases, every byte equal', (build) => {
    requireCompiler();
    const bin = compileDriver(tmp.dir, 'dense_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources });
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
      const { call } = dense.emitC(c.node, ctx);
      decls.push(`static int8_t t${k}_0[${c.input.length}] = {${Array.from(c.input).join(', ')}};`, `static int8_t t${k}_1[${c.node.bias.length}];`);
      calls.push(`  ${call};`, `  for (i = 0; i < (int)sizeof t${k}_1; i++) printf("%d ", (int)t${k}_1[i]);`, '  printf("\\n");');
    });
    expect(dense.runtime).toEqual(['tb_dense.h']);
    const src = `#include <stdio.h>\n${dense.runtime.map((h) => `#include "${h}"`).join('\n')}\n${decls.join('\n')}\nint main(void) {\n  int i;\n${calls.join('\n')}\n  return 0;\n}\n`;
    const bin = compileDriver(tmp.dir, 'dense_emit.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources });
    expectSameOutputs(runBinary(bin).toString(), expected.slice(0, 12), some);
  }, 60_000);
});

describe('dense: validate', () => {
  const [c] = fc.sample(rawCase, { seed: 5, numRuns: 1 });
  const { node, graph } = c!;
  const bad = (patch: Partial<DenseNode>, field: string, g: Int8Graph = graph) => {
    try {
      dense.validate({ ...node, ...patch }, g);
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).where).toBe('fc');
      expect((e as DataError).field).toBe(field);
      return;
    }
    throw new Error(`no error for ${field}`);
  };
  it('accepts a consistent node', () => expect(() => dense.validate(node, graph)).not.toThrow());
  it('names the node and the field', () => {
    bad({ weights: new Int8Array(node.weights.length + 1) }, 'weights');
    bad({ bias: Float64Array.from(node.bias) as never }, 'bias');
    bad({ shifts: new Int32Array(node.shifts.length - 1) }, 'shifts');
    bad({ actMax: 128 }, 'actMax');
    bad({ outputs: [] }, 'outputs');
    const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
    bad({}, 'output shape', { ...graph, tensors: [x, { ...y, shape: [1, y.shape[0]!] }] });
    bad({}, 'input size', { ...graph, tensors: [{ ...x, shape: [70000] }, y] });
  });
});

const ARM_CC = 'arm-none-eabi-gcc';
const HAS_ARM = spawnSync(ARM_CC, ['--version'], { stdio: 'ignore' }).status === 0;
describe.skipIf(!HAS_ARM)('dense: builds for Cortex-M without float helpers', () => {
  const tmp = makeTempDir('tb-dense-arm-');
  afterAll(() => tmp.remove());
  it.each(['cortex-m4', 'cortex-m0'])('%s', (cpu) => {
    const obj = join(tmp.dir, `${cpu}.o`);
    execFileSync(ARM_CC, ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', `-mcpu=${cpu}`, '-mthumb', '-Os', `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_dense.c'), '-o', obj]);
    expect(execFileSync('arm-none-eabi-nm', [obj]).toString()).toMatch(/ T tb_dense_s8\b/);
    expect(execFileSync('arm-none-eabi-nm', ['-u', obj]).toString()).not.toMatch(/__aeabi_[fd]|__aeabi_\w+2[fd]\b|__\w+[sd]f\d\b/);
  }, 30_000);
});
