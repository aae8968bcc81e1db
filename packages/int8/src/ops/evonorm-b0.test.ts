/**
 * evonorm_b0: lowering + TS kernel against a float64 EvoNorm-B0, the C kernel against the TS
 * kernel byte for byte (lowered and raw random nodes, in place and not), validate's errors, and a
 * Cortex-M build without float or 64-bit division helpers.
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
import { EVONORM_B0_VQ_MAX, evoNormB0, type EvoNormB0Node, lowerEvoNormB0 } from './evonorm-b0.js';
import { cI32 } from './int-math.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: EvoNormB0Node, tensors: TensorInfo[]): Int8Graph {
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

/** float64 EvoNorm-B0 on a dequantized [H, W, C] map. */
function floatB0(x: Float64Array, n: number, C: number, p: { gamma: number[]; beta: number[]; v: number[]; mv: number[]; eps: number }): Float64Array {
  const y = new Float64Array(n * C);
  for (let c = 0; c < C; c++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * C + c]!;
    m /= n;
    let v2 = 0;
    for (let i = 0; i < n; i++) v2 += (x[i * C + c]! - m) ** 2;
    const istd = Math.sqrt(v2 / n + p.eps);
    const bstd = Math.sqrt(p.mv[c]! + p.eps);
    for (let i = 0; i < n; i++) {
      const xi = x[i * C + c]!;
      y[i * C + c] = (xi / Math.max(bstd, p.v[c]! * xi + istd)) * p.gamma[c]! + p.beta[c]!;
    }
  }
  return y;
}

const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);

const floatCase = fc.record({
  h: fc.integer({ min: 1, max: 8 }),
  w: fc.integer({ min: 1, max: 8 }),
  C: fc.integer({ min: 1, max: 6 }),
  inLo: fc.double({ min: -4, max: 0, noNaN: true }),
  inSpan: logUniform(0.05, 20),
  mvScale: logUniform(0.01, 10),
  eps: fc.constantFrom(1e-5, 1e-3, 0.1),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

function makeFloatCase(c: Of<typeof floatCase>) {
  const r = rng(c.seed);
  const N = c.h * c.w;
  const gamma = Array.from({ length: c.C }, () => (r() < 0.2 ? -1 : 1) * (0.2 + 2 * r()));
  const beta = Array.from({ length: c.C }, () => r() - 0.5);
  const v = Array.from({ length: c.C }, () => (r() < 0.1 ? 0 : r() * 3 - 1));
  const mv = Array.from({ length: c.C }, () => c.mvScale * (0.2 + r()) * c.inSpan ** 2 / 16);
  const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
  const xq = quantizeArray(Float64Array.from({ length: N * c.C }, () => c.inLo + r() * c.inSpan), inQ);
  const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
  const params = { gamma, beta, v, mv, eps: c.eps };
  const ref = floatB0(xd, N, c.C, params);
  let lo = 0;
  let hi = 0;
  for (const y of ref) [lo, hi] = [Math.min(lo, y), Math.max(hi, y)];
  const outQ = chooseQuantParams(lo, hi);
  const inInfo = { name: 'x', shape: [c.h, c.w, c.C], ...inQ };
  const outInfo = { name: 'y', shape: [c.h, c.w, c.C], ...outQ };
  const node = lowerEvoNormB0({ name: 'en', inputs: [0], outputs: [1], in: inInfo, out: outInfo, gamma, beta, v, movingVariance: mv, eps: c.eps });
  return { node, graph: graphOf(node, [inInfo, outInfo]), xq, ref, outQ };
}

describe('evonorm_b0: lowering + TS kernel vs float64 EvoNorm-B0', () => {
  it('within 0.6 output LSB of float64 on the dequantized input (output rounding 0.5 + quotient 1/64 + multiplier and beta in Q4 1/16)', () => {
    let worst = 0;
    let count = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        const { node, graph, xq, ref, outQ } = makeFloatCase(c);
        evoNormB0.validate(node, graph);
        const y = evoNormB0.run(node, [xq], graph, CTX).outputs[0]!;
        for (let i = 0; i < y.length; i++) {
          const want = Math.min(127, Math.max(-128, ref[i]! / outQ.scale + outQ.zeroPoint));
          worst = Math.max(worst, Math.abs(y[i]! - want));
          count++;
        }
      }),
      { seed: 1, numRuns: 150 },
    );
    console.log(`evonorm_b0: max |int8 - float64| = ${worst.toFixed(4)} LSB over ${count} outputs`);
    expect(worst).toBeLessThanOrEqual(0.6);
  });

  it('the batch term wins where v*x + instanceStd is smaller (a constant channel with v = 0 is x/bstd)', () => {
    const inInfo = { name: 'x', shape: [2, 2, 1], scale: 0.05, zeroPoint: 0 };
    const outInfo = { name: 'y', shape: [2, 2, 1], scale: 0.02, zeroPoint: 0 };
    const node = lowerEvoNormB0({ name: 'en', inputs: [0], outputs: [1], in: inInfo, out: outInfo, gamma: [1], beta: [0], v: [0], movingVariance: [4 - 1e-5], eps: 1e-5 });
    const xq = Int8Array.from([20, 20, 20, 20]); // x = 1, instanceStd = sqrt(eps) ~ 0: y = 1/2
    const y = evoNormB0.run(node, [xq], graphOf(node, [inInfo, outInfo]), CTX).outputs[0]!;
    expect(Array.from(y)).toEqual([25, 25, 25, 25]);
  });

  it('lowering rejects a channel count mismatch and a non-positive eps (ConfigError)', () => {
    const inInfo = { name: 'x', shape: [2, 2, 2], scale: 0.05, zeroPoint: 0 };
    const base = { name: 'en', inputs: [0], outputs: [1], in: inInfo, out: inInfo, gamma: [1, 1], beta: [0, 0], v: [1, 1], movingVariance: [1, 1], eps: 1e-5 };
    expect(() => lowerEvoNormB0({ ...base, gamma: [1] })).toThrow(ConfigError);
    expect(() => lowerEvoNormB0({ ...base, eps: 0 })).toThrow(/eps/);
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
#include "tb_evonorm_b0.h"
#define MAXE 70000
#define MAXC 64
static int8_t xin[MAXE], xout[MAXE];
static int32_t fb[MAXC], bs[MAXC], vq[MAXC], mu[MAXC], sh[MAXC], be[MAXC];
static long long rd(void) { long long v; if (scanf("%lld", &v) != 1) exit(2); return v; }
static void rda(int32_t *a, int32_t c) { int32_t i; for (i = 0; i < c; i++) a[i] = (int32_t)rd(); }
int main(void) {
  long long cases = rd();
  while (cases-- > 0) {
    const int32_t n = (int32_t)rd(), c = (int32_t)rd(), zp = (int32_t)rd(), inplace = (int32_t)rd();
    const int32_t f = (int32_t)rd();
    const uint64_t e = (uint64_t)rd();
    const int32_t im = (int32_t)rd(), is = (int32_t)rd();
    int32_t i;
    rda(fb, c); rda(bs, c); rda(vq, c); rda(mu, c); rda(sh, c); rda(be, c);
    for (i = 0; i < n * c; i++) xin[i] = (int8_t)rd();
    tb_evonorm_b0_s8(xin, inplace ? xin : xout, n, c, zp, fb, bs, vq, mu, sh, be, f, e, im, is);
    for (i = 0; i < n * c; i++) printf("%d ", (int)(inplace ? xin : xout)[i]);
    printf("\n");
  }
  return 0;
}
`;

const mantissa = fc.oneof(fc.constant(0), fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31 - 1), max: -(2 ** 30) }));
const logInt = (lo: number, hi: number) => logUniform(lo, hi).map((x) => Math.min(hi, Math.max(lo, Math.round(x))));

/** Random node fields anywhere in validate's ranges (clamps, saturation, tiny and huge values). */
const rawCase = fc.record({
  h: fc.integer({ min: 1, max: 6 }),
  w: fc.integer({ min: 1, max: 6 }),
  C: fc.integer({ min: 1, max: 5 }),
  zp: fc.integer({ min: -128, max: 127 }),
  fields: fc.array(
    fc.record({
      F: fc.integer({ min: 0, max: 30 }),
      B: logInt(2, 2 ** 30),
      vq: fc.oneof(fc.constant(0), logInt(1, EVONORM_B0_VQ_MAX), logInt(1, EVONORM_B0_VQ_MAX).map((x) => -x)),
      m: mantissa,
      sh: fc.integer({ min: -31, max: 0 }),
      beta: fc.oneof(fc.integer({ min: -200, max: 200 }), fc.integer({ min: -(2 ** 29), max: 2 ** 29 })),
    }),
    { minLength: 5, maxLength: 5 },
  ),
  epsQ: logInt(1, 2 ** 60),
  fDown: fc.integer({ min: 0, max: 60 }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function rawNode(c: Of<typeof rawCase>) {
  const N = c.h * c.w;
  let l = 0;
  while (2 ** l < N) l++;
  const pick = <K extends keyof (typeof c.fields)[0]>(k: K) => Int32Array.from({ length: c.C }, (_, i) => c.fields[i]![k] as number);
  const node: EvoNormB0Node = {
    op: 'evonorm_b0', name: 'raw', inputs: [0], outputs: [1],
    fracBits: pick('F'), batchStd: pick('B'), vQ: pick('vq'), multiplier: pick('m'), shift: pick('sh'), betaQ: pick('beta'),
    varShift: Math.max(-62, 46 - 2 * l - (c.fDown < 30 ? 0 : 2 * (c.fDown - 30))), epsQ: c.epsQ, invNMult: 0, invNShift: 0,
  };
  const inv = 1 / N;
  let e = Math.floor(Math.log2(inv)) + 1;
  node.invNMult = Math.round((inv / 2 ** e) * 2 ** 31);
  if (node.invNMult === 2 ** 31) [node.invNMult, e] = [2 ** 30, e + 1];
  node.invNShift = e;
  const info = { name: 'x', shape: [c.h, c.w, c.C], scale: 0.1, zeroPoint: c.zp };
  const r = rng(c.seed);
  const mode = c.seed % 4; // random, constant, two-valued, extreme codes
  const xq = Int8Array.from({ length: N * c.C }, (_, i) =>
    mode === 0 ? Math.floor(r() * 256) - 128 : mode === 1 ? 17 : mode === 2 ? (r() < 0.5 ? -3 : 40) : (i % 2 ? 127 : -128),
  );
  return { node, graph: graphOf(node, [info, info]), xq };
}

function caseLine(node: EvoNormB0Node, graph: Int8Graph, xq: Int8Array, inplace: boolean): string {
  const [h, w, C] = graph.tensors[0]!.shape as [number, number, number];
  return [
    h * w, C, graph.tensors[0]!.zeroPoint, inplace ? 1 : 0, node.varShift, BigInt(node.epsQ).toString(), node.invNMult, node.invNShift,
    ...node.fracBits, ...node.batchStd, ...node.vQ, ...node.multiplier, ...node.shift, ...node.betaQ, ...xq,
  ].join(' ');
}

describe.skipIf(SKIP_C)('evonorm_b0: C kernel is bit-exact with TS', () => {
  const tmp = makeTempDir('tb-evonorm-b0-');
  afterAll(() => tmp.remove());

  it.each(HOST_BUILDS.map((b) => [b.name, b] as const))('%s: lowered and raw nodes, in place and not, every byte equals TS', (_name, build) => {
    requireCompiler();
    const lines: string[] = [];
    const expected: string[] = [];
    const add = (node: EvoNormB0Node, graph: Int8Graph, xq: Int8Array, k: number) => {
      evoNormB0.validate(node, graph);
      lines.push(caseLine(node, graph, xq, k % 2 === 1));
      expected.push(Array.from(evoNormB0.run(node, [xq], graph, CTX).outputs[0]!).join(' '));
    };
    fc.sample(floatCase, { seed: 2, numRuns: 60 }).forEach((c, k) => {
      const { node, graph, xq } = makeFloatCase(c);
      add(node, graph, xq, k);
    });
    fc.sample(rawCase, { seed: 3, numRuns: 300 }).forEach((c, k) => {
      const { node, graph, xq } = rawNode(c);
      add(node, graph, xq, k);
    });
    // the largest map (N = 65536): sums at their bounds
    const big = rawNode({ h: 256, w: 256, C: 1, zp: -128, fields: [{ F: 10, B: 1000, vq: 12345, m: 2 ** 30 + 7, sh: -3, beta: 5 }], epsQ: 2 ** 60, fDown: 0, seed: 3 });
    add(big.node, big.graph, Int8Array.from({ length: 65536 }, (_, i) => (i % 2 ? 127 : -128)), 0);
    const bin = compileDriver(tmp.dir, 'evonorm_b0_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_evonorm_b0.c')] });
    const out = runBinary(bin, `${lines.length}\n${lines.join('\n')}\n`).toString().trim().split('\n').map((l) => l.trim());
    expect(out.length).toBe(expected.length);
    const wrong = out.flatMap((v, i) => (v === expected[i] ? [] : [`case ${i}: C ${v.slice(0, 80)} / TS ${expected[i]!.slice(0, 80)}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
  }, 120_000);

  it('the emitted call compiles against tb_evonorm_b0.h and equals TS', () => {
    requireCompiler();
    for (const c of fc.sample(floatCase, { seed: 7, numRuns: 3 })) {
      const { node, graph, xq } = makeFloatCase(c);
      const n = xq.length;
      const src = emittedProgram((ctx) => evoNormB0.emitC(node, ctx), graph, 'tb_evonorm_b0.h', (e) =>
        `static int8_t in[${n}], out[${n}];\n${READ}\nint main(void) { int i; for (i = 0; i < ${n}; i++) in[i] = (int8_t)rd(); ${e.call}; for (i = 0; i < ${n}; i++) printf("%d ", out[i]); return 0; }`);
      const bin = compileDriver(tmp.dir, 'evonorm_b0_emitted.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_evonorm_b0.c')] });
      expect(runBinary(bin, Array.from(xq).join(' ')).toString().trim()).toBe(Array.from(evoNormB0.run(node, [xq], graph, CTX).outputs[0]!).join(' '));
    }
  }, 120_000);

  it('emitC names the kernel, its constant arrays and the 64-bit epsilon literal', () => {
    const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 4, numRuns: 1 })[0]!);
    const data: string[] = [];
    const ctx = { graph, tensor: (id: number) => `T${id}`, data: (s: string, t: string) => (data.push(`${t} ${s}`), `d_${s}`), state: () => 's', interventions: 'iv' } as unknown as EmitContext;
    const { call } = evoNormB0.emitC(node, ctx);
    expect(call).toMatch(/^tb_evonorm_b0_s8\(T0, T1, \d+, \d+, -?\d+, d_frac_bits, d_batch_std, d_v_q, d_multiplier, d_shift, d_beta_q, \d+, UINT64_C\(\d+\), \d+, -?\d+\)$/);
    expect(data).toEqual(['int32_t frac_bits', 'int32_t batch_std', 'int32_t v_q', 'int32_t multiplier', 'int32_t shift', 'int32_t beta_q']);
  });
});

describe('evonorm_b0: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 5, numRuns: 1 })[0]!);
  const bad = (patch: Partial<EvoNormB0Node>, field: RegExp) => {
    const n = { ...node, ...patch } as EvoNormB0Node;
    expect(() => evoNormB0.validate(n, graph)).toThrow(DataError);
    expect(() => evoNormB0.validate(n, graph)).toThrow(field);
    expect(() => evoNormB0.validate(n, graph)).toThrow(/^en:/);
  };
  it('accepts the lowered node', () => expect(() => evoNormB0.validate(node, graph)).not.toThrow());
  it('wrong array length or type', () => {
    bad({ batchStd: new Int32Array(node.batchStd.length + 1) }, /batchStd/);
    bad({ vQ: Array.from(node.vQ) as unknown as Int32Array }, /vQ/);
  });
  it('values out of range', () => {
    bad({ shift: Int32Array.from(node.shift, () => 1) }, /shift\[0\]/);
    bad({ fracBits: Int32Array.from(node.fracBits, () => 31) }, /fracBits\[0\]/);
    bad({ multiplier: Int32Array.from(node.multiplier, () => 5) }, /multiplier\[0\]/);
    bad({ varShift: 47 }, /varShift/);
    bad({ epsQ: 0 }, /epsQ/);
  });
  it('an output shape different from the input', () => {
    const g = { ...graph, tensors: [graph.tensors[0]!, { ...graph.tensors[1]!, shape: [1, 1, 1] }] };
    expect(() => evoNormB0.validate(node, g)).toThrow(/output shape/);
  });
});

// ---------------------------------------------------------------- Cortex-M

const HAS_ARM = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const ARM_FLAGS = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes', '-mthumb', '-Os'];

describe.skipIf(!HAS_ARM)('evonorm_b0 on Cortex-M (arm-none-eabi-gcc)', () => {
  it.each(['cortex-m0', 'cortex-m4'])('%s: -Os -Werror, no float, libm or 64-bit division helper', (cpu) => {
    const tmp = makeTempDir('tb-evonorm-b0-arm-');
    try {
      const obj = join(tmp.dir, 'k.o');
      execFileSync('arm-none-eabi-gcc', [...ARM_FLAGS, `-mcpu=${cpu}`, `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_evonorm_b0.c'), '-o', obj], { stdio: 'pipe' });
      const syms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString().split(/\s+/).filter((t) => t && t !== 'U');
      expect(syms.filter((s) => /^__aeabi_([fd]|[ilu]+2[fd])|^__aeabi_u?ldivmod|[sdt]f[0-9]?$|sqrt|exp|log|pow|floor|ceil|round|lrint/.test(s))).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});
