/**
 * polynorm: lowering + TS kernel against a float64 PolyNorm, the C kernel against the TS kernel
 * byte for byte (lowered and raw random nodes, in place and not, the largest vector), validate's
 * errors, and a Cortex-M build without float or 64-bit division helpers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext, EmittedC } from '../op.js';
import { lowerPolyNorm, POLYNORM_MAX_D, polyNorm, type PolyNormNode } from './polynorm.js';
import { cI32 } from './int-math.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };
type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

function graphOf(node: PolyNormNode, tensors: TensorInfo[]): Int8Graph {
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

/** float64 PolyNorm over the last axis. */
function floatPolyNorm(x: Float64Array, D: number, w: number[], b: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    const row = x.subarray(r * D, (r + 1) * D);
    const inv = [1, 2, 3].map((k) => 1 / Math.sqrt(row.reduce((a, v) => a + v ** (2 * k), 0) / D + eps));
    for (let i = 0; i < D; i++) {
      const v = row[i]!;
      y[r * D + i] = w[0]! * v ** 3 * inv[2]! + w[1]! * v ** 2 * inv[1]! + w[2]! * v * inv[0]! + b;
    }
  }
  return y;
}

const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);

const floatCase = fc.record({
  shape: fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 64 })),
    fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 24 })),
  ),
  inLo: fc.double({ min: -4, max: 0, noNaN: true }),
  inSpan: logUniform(0.01, 20),
  eps: fc.constantFrom(1e-6, 1e-3, 0.1),
  defaultW: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function makeFloatCase(c: Of<typeof floatCase>) {
  const r = rng(c.seed);
  const size = c.shape.reduce((a, b) => a * b, 1);
  const D = c.shape[c.shape.length - 1]!;
  const w = c.defaultW ? [1 / 3, 1 / 3, 1 / 3] : [r() * 2 - 1, r() * 2 - 1, r() * 2 - 1];
  const b = c.defaultW ? 0 : r() - 0.5;
  const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
  const xq = quantizeArray(Float64Array.from({ length: size }, () => c.inLo + r() * c.inSpan), inQ);
  const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
  const ref = floatPolyNorm(xd, D, w, b, c.eps);
  let lo = 0;
  let hi = 0;
  for (const y of ref) [lo, hi] = [Math.min(lo, y), Math.max(hi, y)];
  const outQ = chooseQuantParams(lo, hi);
  const inInfo = { name: 'x', shape: [...c.shape], ...inQ };
  const outInfo = { name: 'y', shape: [...c.shape], ...outQ };
  const node = lowerPolyNorm({ name: 'pn', inputs: [0], outputs: [1], in: inInfo, out: outInfo, w, b, eps: c.eps });
  return { node, graph: graphOf(node, [inInfo, outInfo]), xq, ref, outQ };
}

describe('polynorm: lowering + TS kernel vs float64 PolyNorm', () => {
  it('within 0.52 output LSB of float64 on the dequantized input (output rounding 0.5 + three Q10 terms)', () => {
    let worst = 0;
    let count = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        const { node, graph, xq, ref, outQ } = makeFloatCase(c);
        polyNorm.validate(node, graph);
        const y = polyNorm.run(node, [xq], graph, CTX).outputs[0]!;
        for (let i = 0; i < y.length; i++) {
          worst = Math.max(worst, Math.abs(y[i]! - Math.min(127, Math.max(-128, ref[i]! / outQ.scale + outQ.zeroPoint))));
          count++;
        }
      }),
      { seed: 1, numRuns: 200 },
    );
    console.log(`polynorm: max |int8 - float64| = ${worst.toFixed(4)} LSB over ${count} outputs`);
    expect(worst).toBeLessThanOrEqual(0.52);
  });

  it('each power has its own norm: w = [1, 0, 0] is x^3 / rms(x^3), w = [0, 1, 0] is x^2 / rms(x^2)', () => {
    const inInfo = { name: 'x', shape: [2], scale: 1 / 64, zeroPoint: 0 };
    const outInfo = { name: 'y', shape: [2], scale: 1 / 64, zeroPoint: 0 };
    const run = (w: number[]) => {
      const node = lowerPolyNorm({ name: 'pn', inputs: [0], outputs: [1], in: inInfo, out: outInfo, w, b: 0, eps: 1e-9 });
      return Array.from(polyNorm.run(node, [Int8Array.from([64, -32])], graphOf(node, [inInfo, outInfo]), CTX).outputs[0]!);
    };
    // x = [1, -1/2]: x^3 = [1, -1/8], rms = sqrt((1 + 1/64)/2); x^2 = [1, 1/4], rms = sqrt((1 + 1/16)/2)
    const r3 = Math.sqrt((1 + 1 / 64) / 2);
    const r2 = Math.sqrt((1 + 1 / 16) / 2);
    expect(run([1, 0, 0])).toEqual([Math.round(64 / r3), Math.round(-8 / r3)]);
    expect(run([0, 1, 0])).toEqual([Math.round(64 / r2), Math.round(16 / r2)]);
  });

  it('lowering rejects a w of the wrong length and a too long axis (ConfigError)', () => {
    const info = { name: 'x', shape: [8], scale: 0.05, zeroPoint: 0 };
    expect(() => lowerPolyNorm({ name: 'pn', inputs: [0], outputs: [1], in: info, out: info, w: [1, 1], b: 0 })).toThrow(ConfigError);
    const long = { ...info, shape: [POLYNORM_MAX_D + 1] };
    expect(() => lowerPolyNorm({ name: 'pn', inputs: [0], outputs: [1], in: long, out: long, w: [1, 1, 1], b: 0 })).toThrow(/in.shape/);
  });
});

// ---------------------------------------------------------------- C vs TS

const READ = 'static int rd(void) { int v; if (scanf("%d", &v) != 1) exit(2); return v; }';

/** A C program around an emitted call: constant arrays from ctx.data, state from ctx.state,
 *  tensor 0 -> `in`, tensor 1 -> `out`, the interventions -> `iv`. */
function emittedProgram(emit: (ctx: EmitContext) => EmittedC, graph: Int8Graph, header: string, body: (e: EmittedC) => string): string {
  const decls: string[] = [];
  const ctx = {
    graph,
    tensor: (id: number) => (id === 0 ? 'in' : 'out'),
    data: (suffix: string, type: string, values: ArrayLike<number>) => {
      decls.push(`static const ${type} d_${suffix}[] = { ${Array.from(values, cI32).join(', ')} };`);
      return `d_${suffix}`;
    },
    state: (suffix: string, type: string, n: number) => {
      decls.push(`static ${type} s_${suffix}[${n}];`);
      return `s_${suffix}`;
    },
    interventions: 'iv',
  } as unknown as EmitContext;
  const e = emit(ctx);
  return ['#include <stdio.h>', '#include <stdlib.h>', `#include "${header}"`, ...decls, body(e), ''].join('\n');
}


const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_polynorm.h"
#define MAXE 70000
static int8_t xin[MAXE], xout[MAXE];
static long long rd(void) { long long v; if (scanf("%lld", &v) != 1) exit(2); return v; }
int main(void) {
  long long cases = rd();
  while (cases-- > 0) {
    const int32_t rows = (int32_t)rd(), d = (int32_t)rd(), zp = (int32_t)rd(), inplace = (int32_t)rd();
    int32_t m[3], e[3], g[3], i, bias;
    uint64_t eps[3];
    for (i = 0; i < 3; i++) m[i] = (int32_t)rd();
    for (i = 0; i < 3; i++) e[i] = (int32_t)rd();
    for (i = 0; i < 3; i++) g[i] = (int32_t)rd();
    for (i = 0; i < 3; i++) eps[i] = (uint64_t)rd();
    bias = (int32_t)rd();
    for (i = 0; i < rows * d; i++) xin[i] = (int8_t)rd();
    tb_polynorm_s8(xin, inplace ? xin : xout, rows, d, zp, m, e, g, eps[0], eps[1], eps[2], bias);
    for (i = 0; i < rows * d; i++) printf("%d ", (int)(inplace ? xin : xout)[i]);
    printf("\n");
  }
  return 0;
}
`;

const mantissa = fc.oneof(fc.constant(0), fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31 - 1), max: -(2 ** 30) }));
const logInt = (lo: number, hi: number) => logUniform(lo, hi).map((x) => Math.min(hi, Math.max(lo, Math.round(x))));

const rawCase = fc.record({
  rows: fc.integer({ min: 1, max: 4 }),
  D: fc.integer({ min: 1, max: 40 }),
  zp: fc.integer({ min: -128, max: 127 }),
  m: fc.array(mantissa, { minLength: 3, maxLength: 3 }),
  e: fc.array(fc.oneof(fc.integer({ min: -60, max: 30 }), fc.integer({ min: -4096, max: 4096 })), { minLength: 3, maxLength: 3 }),
  g: fc.array(fc.integer({ min: -31, max: 16 }).map((x) => 2 * x), { minLength: 3, maxLength: 3 }),
  eps: fc.array(logInt(1, 2 ** 60), { minLength: 3, maxLength: 3 }),
  bias: fc.oneof(fc.integer({ min: -200000, max: 200000 }), fc.integer({ min: -(2 ** 28), max: 2 ** 28 })),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function rawNode(c: Of<typeof rawCase>) {
  const node: PolyNormNode = {
    op: 'polynorm', name: 'raw', inputs: [0], outputs: [1],
    mult: Int32Array.from(c.m), exp: Int32Array.from(c.e), epsShift: Int32Array.from(c.g), epsQ: [...c.eps], biasQ: c.bias,
  };
  const info = { name: 'x', shape: [c.rows, c.D], scale: 0.1, zeroPoint: c.zp };
  const r = rng(c.seed);
  const mode = c.seed % 4;
  const xq = Int8Array.from({ length: c.rows * c.D }, (_, i) =>
    mode === 0 ? Math.floor(r() * 256) - 128 : mode === 1 ? c.zp : mode === 2 ? (r() < 0.5 ? -3 : 40) : i % 2 ? 127 : -128,
  );
  return { node, graph: graphOf(node, [info, info]), xq };
}

function caseLine(node: PolyNormNode, graph: Int8Graph, xq: Int8Array, inplace: boolean): string {
  const shape = graph.tensors[0]!.shape;
  const D = shape[shape.length - 1]!;
  return [xq.length / D, D, graph.tensors[0]!.zeroPoint, inplace ? 1 : 0, ...node.mult, ...node.exp, ...node.epsShift, ...node.epsQ.map((e) => BigInt(e).toString()), node.biasQ, ...xq].join(' ');
}

describe.skipIf(SKIP_C)('polynorm: C kernel is bit-exact with TS', () => {
  const tmp = makeTempDir('tb-polynorm-');
  afterAll(() => tmp.remove());

  it.each(HOST_BUILDS.map((b) => [b.name, b] as const))('%s: lowered and raw nodes, in place and not, every byte equals TS', (_name, build) => {
    requireCompiler();
    const lines: string[] = [];
    const expected: string[] = [];
    const add = (node: PolyNormNode, graph: Int8Graph, xq: Int8Array, k: number) => {
      polyNorm.validate(node, graph);
      lines.push(caseLine(node, graph, xq, k % 2 === 1));
      expected.push(Array.from(polyNorm.run(node, [xq], graph, CTX).outputs[0]!).join(' '));
    };
    fc.sample(floatCase, { seed: 2, numRuns: 100 }).forEach((c, k) => {
      const { node, graph, xq } = makeFloatCase(c);
      add(node, graph, xq, k);
    });
    fc.sample(rawCase, { seed: 3, numRuns: 400 }).forEach((c, k) => {
      const { node, graph, xq } = rawNode(c);
      add(node, graph, xq, k);
    });
    // the longest vector at the largest magnitudes: S3 near 2^60
    const big = rawNode({ rows: 2, D: POLYNORM_MAX_D, zp: 127, m: [2 ** 30, -(2 ** 31 - 1), 2 ** 30 + 99], e: [10, 0, -20], g: [32, 16, 0], eps: [1, 2 ** 40, 2 ** 60], bias: 7, seed: 0 });
    add(big.node, big.graph, Int8Array.from({ length: 2 * POLYNORM_MAX_D }, (_, i) => (i % 3 ? -128 : 127)), 0);
    const bin = compileDriver(tmp.dir, 'polynorm_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_polynorm.c')] });
    const out = runBinary(bin, `${lines.length}\n${lines.join('\n')}\n`).toString().trim().split('\n').map((l) => l.trim());
    expect(out.length).toBe(expected.length);
    const wrong = out.flatMap((v, i) => (v === expected[i] ? [] : [`case ${i}: C ${v.slice(0, 80)} / TS ${expected[i]!.slice(0, 80)}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
  }, 120_000);

  it('the emitted call compiles against tb_polynorm.h and equals TS', () => {
    requireCompiler();
    for (const c of fc.sample(floatCase, { seed: 7, numRuns: 3 })) {
      const { node, graph, xq } = makeFloatCase(c);
      const n = xq.length;
      const src = emittedProgram((ctx) => polyNorm.emitC(node, ctx), graph, 'tb_polynorm.h', (e) =>
        `static int8_t in[${n}], out[${n}];\n${READ}\nint main(void) { int i; for (i = 0; i < ${n}; i++) in[i] = (int8_t)rd(); ${e.call}; for (i = 0; i < ${n}; i++) printf("%d ", out[i]); return 0; }`);
      const bin = compileDriver(tmp.dir, 'polynorm_emitted.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_polynorm.c')] });
      expect(runBinary(bin, Array.from(xq).join(' ')).toString().trim()).toBe(Array.from(polyNorm.run(node, [xq], graph, CTX).outputs[0]!).join(' '));
    }
  }, 120_000);

  it('emitC names the kernel, its constant arrays and the three 64-bit epsilon literals', () => {
    const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 4, numRuns: 1 })[0]!);
    const data: string[] = [];
    const ctx = { graph, tensor: (id: number) => `T${id}`, data: (s: string, t: string) => (data.push(`${t} ${s}`), `d_${s}`), state: () => 's', interventions: 'iv' } as unknown as EmitContext;
    const { call } = polyNorm.emitC(node, ctx);
    expect(call).toMatch(/^tb_polynorm_s8\(T0, T1, \d+, \d+, -?\d+, d_mult, d_exp, d_eps_shift, UINT64_C\(\d+\), UINT64_C\(\d+\), UINT64_C\(\d+\), -?\d+\)$/);
    expect(data).toEqual(['int32_t mult', 'int32_t exp', 'int32_t eps_shift']);
  });
});

describe('polynorm: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 5, numRuns: 1 })[0]!);
  const bad = (patch: Partial<PolyNormNode>, field: RegExp) => {
    const n = { ...node, ...patch } as PolyNormNode;
    expect(() => polyNorm.validate(n, graph)).toThrow(DataError);
    expect(() => polyNorm.validate(n, graph)).toThrow(field);
    expect(() => polyNorm.validate(n, graph)).toThrow(/^pn:/);
  };
  it('accepts the lowered node', () => expect(() => polyNorm.validate(node, graph)).not.toThrow());
  it('wrong array length or type', () => {
    bad({ mult: new Int32Array(2) }, /mult/);
    bad({ epsQ: [1, 2] }, /epsQ/);
  });
  it('values out of range', () => {
    bad({ epsShift: Int32Array.from([33, 0, 0]) }, /epsShift\[0\]/);
    bad({ epsShift: Int32Array.from([3, 0, 0]) }, /epsShift\[0\]/);
    bad({ epsQ: [0, 1, 1] }, /epsQ\[0\]/);
    bad({ mult: Int32Array.from([1, 0, 0]) }, /mult\[0\]/);
    bad({ biasQ: 2 ** 29 }, /biasQ/);
  });
});

// ---------------------------------------------------------------- Cortex-M

const HAS_ARM = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const ARM_FLAGS = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes', '-mthumb', '-Os'];

describe.skipIf(!HAS_ARM)('polynorm on Cortex-M (arm-none-eabi-gcc)', () => {
  it.each(['cortex-m0', 'cortex-m4'])('%s: -Os -Werror, no float, libm or 64-bit division helper', (cpu) => {
    const tmp = makeTempDir('tb-polynorm-arm-');
    try {
      const obj = join(tmp.dir, 'k.o');
      execFileSync('arm-none-eabi-gcc', [...ARM_FLAGS, `-mcpu=${cpu}`, `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_polynorm.c'), '-o', obj], { stdio: 'pipe' });
      const syms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString().split(/\s+/).filter((t) => t && t !== 'U');
      expect(syms.filter((s) => /^__aeabi_([fd]|[ilu]+2[fd])|^__aeabi_u?ldivmod|[sdt]f[0-9]?$|sqrt|exp|log|pow|floor|ceil|round|lrint/.test(s))).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});
