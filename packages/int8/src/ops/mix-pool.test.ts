/**
 * mix_pool: lowering + TS kernel against float64 a*max + (1-a)*mean, the C kernel against the TS
 * kernel byte for byte (lowered and raw random nodes), validate's errors, and a Cortex-M build
 * without float helpers.
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
import { lowerMixPool, mixPool, type MixPoolNode } from './mix-pool.js';
import { cI32 } from './int-math.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };
type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

function graphOf(node: MixPoolNode, tensors: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'exit' }], meta: {} };
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

const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);

const floatCase = fc.record({
  h: fc.integer({ min: 1, max: 12 }),
  w: fc.integer({ min: 1, max: 12 }),
  C: fc.integer({ min: 1, max: 8 }),
  mix: fc.oneof(fc.constantFrom(0, 1, 0.5), fc.double({ min: 0, max: 1, noNaN: true })),
  inLo: fc.double({ min: -4, max: 0, noNaN: true }),
  inSpan: logUniform(0.05, 20),
  outShrink: logUniform(0.2, 2),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function makeFloatCase(c: Of<typeof floatCase>) {
  const r = rng(c.seed);
  const N = c.h * c.w;
  const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
  const xq = quantizeArray(Float64Array.from({ length: N * c.C }, () => c.inLo + r() * c.inSpan), inQ);
  const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
  const ref = Float64Array.from({ length: c.C }, (_, ch) => {
    let max = -Infinity;
    let sum = 0;
    for (let i = 0; i < N; i++) [max, sum] = [Math.max(max, xd[i * c.C + ch]!), sum + xd[i * c.C + ch]!];
    return c.mix * max + (1 - c.mix) * (sum / N);
  });
  const outQ = chooseQuantParams(Math.min(...ref) * c.outShrink, Math.max(...ref) * c.outShrink);
  const inInfo = { name: 'x', shape: [c.h, c.w, c.C], ...inQ };
  const outInfo = { name: 'p', shape: [c.C], ...outQ };
  const node = lowerMixPool({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, mix: c.mix });
  return { node, graph: graphOf(node, [inInfo, outInfo]), xq, ref, outQ };
}

describe('mix_pool: lowering + TS kernel vs float64 a*max + (1-a)*mean', () => {
  it('within 0.5 + 1e-6 output LSB of float64 (one rounding)', () => {
    let worst = 0;
    let count = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        const { node, graph, xq, ref, outQ } = makeFloatCase(c);
        mixPool.validate(node, graph);
        const y = mixPool.run(node, [xq], graph, CTX).outputs[0]!;
        for (let i = 0; i < y.length; i++) {
          worst = Math.max(worst, Math.abs(y[i]! - Math.min(127, Math.max(-128, ref[i]! / outQ.scale + outQ.zeroPoint))));
          count++;
        }
      }),
      { seed: 1, numRuns: 300 },
    );
    console.log(`mix_pool: max |int8 - float64| = ${worst.toFixed(6)} LSB over ${count} outputs`);
    expect(worst).toBeLessThanOrEqual(0.5 + 1e-6);
  });

  it('a = 1 is the max, a = 0 the mean (rounded half away from zero), a = 0.25 between', () => {
    const inInfo = { name: 'x', shape: [1, 4, 1], scale: 1, zeroPoint: 0 };
    const outInfo = { name: 'p', shape: [1], scale: 1, zeroPoint: 0 };
    const run = (mix: number, x: number[]) => {
      const node = lowerMixPool({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, mix });
      return mixPool.run(node, [Int8Array.from(x)], graphOf(node, [inInfo, outInfo]), CTX).outputs[0]![0];
    };
    expect(run(1, [1, 9, 3, 5])).toBe(9);
    expect(run(0, [1, 9, 3, 5])).toBe(5); // mean 4.5 -> 5
    expect(run(0, [-1, -9, -3, -5])).toBe(-5); // -4.5 -> -5
    expect(run(0.25, [0, 8, 0, 0])).toBe(4); // 0.25*8 + 0.75*2 = 3.5 -> 4
  });

  it('lowering rejects a mix outside [0, 1] (ConfigError)', () => {
    const inInfo = { name: 'x', shape: [1, 4, 1], scale: 1, zeroPoint: 0 };
    expect(() => lowerMixPool({ name: 'p', inputs: [0], outputs: [1], in: inInfo, out: { ...inInfo, shape: [1] }, mix: 1.5 })).toThrow(ConfigError);
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
#include "tb_mix_pool.h"
#define MAXE 70000
static int8_t xin[MAXE], xout[4096];
static long long rd(void) { long long v; if (scanf("%lld", &v) != 1) exit(2); return v; }
int main(void) {
  long long cases = rd();
  while (cases-- > 0) {
    const int32_t n = (int32_t)rd(), c = (int32_t)rd(), izp = (int32_t)rd(), ozp = (int32_t)rd();
    const int64_t m1 = (int64_t)rd(), m2 = (int64_t)rd();
    const int32_t sh = (int32_t)rd();
    int32_t i;
    for (i = 0; i < n * c; i++) xin[i] = (int8_t)rd();
    tb_mix_pool_s8(xin, xout, n, c, izp, ozp, m1, m2, sh);
    for (i = 0; i < c; i++) printf("%d ", (int)xout[i]);
    printf("\n");
  }
  return 0;
}
`;

const rawCase = fc.record({
  h: fc.integer({ min: 1, max: 10 }),
  w: fc.integer({ min: 1, max: 10 }),
  C: fc.integer({ min: 1, max: 6 }),
  izp: fc.integer({ min: -128, max: 127 }),
  ozp: fc.integer({ min: -128, max: 127 }),
  shift: fc.integer({ min: 1, max: 62 }),
  f1: fc.double({ min: 0, max: 1, noNaN: true }),
  f2: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function rawNode(c: Of<typeof rawCase>) {
  const N = c.h * c.w;
  const budget = 2 ** 52 / 255 - 1;
  const maxMult = Math.floor(c.f1 ** 4 * budget * 0.5);
  const meanMult = Math.floor((c.f2 ** 4 * budget * 0.5) / N);
  const node: MixPoolNode = { op: 'mix_pool', name: 'raw', inputs: [0], outputs: [1], maxMult, meanMult, shift: c.shift };
  const r = rng(c.seed);
  const xq = Int8Array.from({ length: N * c.C }, (_, i) => (c.seed % 3 === 0 ? (i % 2 ? 127 : -128) : Math.floor(r() * 256) - 128));
  const graph = graphOf(node, [{ name: 'x', shape: [c.h, c.w, c.C], scale: 1, zeroPoint: c.izp }, { name: 'p', shape: [c.C], scale: 1, zeroPoint: c.ozp }]);
  return { node, graph, xq };
}

describe.skipIf(SKIP_C)('mix_pool: C kernel is bit-exact with TS', () => {
  const tmp = makeTempDir('tb-mix-pool-');
  afterAll(() => tmp.remove());

  it.each(HOST_BUILDS.map((b) => [b.name, b] as const))('%s: lowered and raw nodes, every byte equals TS', (_name, build) => {
    requireCompiler();
    const lines: string[] = [];
    const expected: string[] = [];
    const add = (node: MixPoolNode, graph: Int8Graph, xq: Int8Array) => {
      mixPool.validate(node, graph);
      const [inT, outT] = graph.tensors as [TensorInfo, TensorInfo];
      lines.push([inT.shape[0]! * inT.shape[1]!, inT.shape[2], inT.zeroPoint, outT.zeroPoint, node.maxMult, node.meanMult, node.shift, ...xq].join(' '));
      expected.push(Array.from(mixPool.run(node, [xq], graph, CTX).outputs[0]!).join(' '));
    };
    for (const c of fc.sample(floatCase, { seed: 2, numRuns: 150 })) {
      const { node, graph, xq } = makeFloatCase(c);
      add(node, graph, xq);
    }
    for (const c of fc.sample(rawCase, { seed: 3, numRuns: 400 })) {
      const { node, graph, xq } = rawNode(c);
      add(node, graph, xq);
    }
    const big = rawNode({ h: 256, w: 256, C: 1, izp: -128, ozp: 3, shift: 40, f1: 0.5, f2: 1, seed: 3 });
    add(big.node, big.graph, Int8Array.from({ length: 65536 }, () => 127));
    const bin = compileDriver(tmp.dir, 'mix_pool_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_mix_pool.c')] });
    const out = runBinary(bin, `${lines.length}\n${lines.join('\n')}\n`).toString().trim().split('\n').map((l) => l.trim());
    expect(out.length).toBe(expected.length);
    const wrong = out.flatMap((v, i) => (v === expected[i] ? [] : [`case ${i}: C ${v} / TS ${expected[i]}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
  }, 120_000);

  it('the emitted call compiles against tb_mix_pool.h and equals TS', () => {
    requireCompiler();
    for (const c of fc.sample(floatCase, { seed: 7, numRuns: 3 })) {
      const { node, graph, xq } = makeFloatCase(c);
      const [n, k] = [xq.length, graph.tensors[1]!.shape[0]!];
      const src = emittedProgram((ctx) => mixPool.emitC(node, ctx), graph, 'tb_mix_pool.h', (e) =>
        `static int8_t in[${n}], out[${k}];\n${READ}\nint main(void) { int i; for (i = 0; i < ${n}; i++) in[i] = (int8_t)rd(); ${e.call}; for (i = 0; i < ${k}; i++) printf("%d ", out[i]); return 0; }`);
      const bin = compileDriver(tmp.dir, 'mix_pool_emitted.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_mix_pool.c')] });
      expect(runBinary(bin, Array.from(xq).join(' ')).toString().trim()).toBe(Array.from(mixPool.run(node, [xq], graph, CTX).outputs[0]!).join(' '));
    }
  }, 120_000);

  it('emitC passes the multipliers as 64-bit literals', () => {
    const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 4, numRuns: 1 })[0]!);
    const ctx = { graph, tensor: (id: number) => `T${id}`, data: () => 'd', state: () => 's', interventions: 'iv' } as unknown as EmitContext;
    expect(mixPool.emitC(node, ctx).call).toMatch(/^tb_mix_pool_s8\(T0, T1, \d+, \d+, -?\d+, -?\d+, INT64_C\(\d+\), INT64_C\(\d+\), \d+\)$/);
  });
});

describe('mix_pool: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 5, numRuns: 1 })[0]!);
  const bad = (patch: Partial<MixPoolNode>, field: RegExp, g = graph) => {
    const n = { ...node, ...patch } as MixPoolNode;
    expect(() => mixPool.validate(n, g)).toThrow(DataError);
    expect(() => mixPool.validate(n, g)).toThrow(field);
    expect(() => mixPool.validate(n, g)).toThrow(/^pool:/);
  };
  it('accepts the lowered node', () => expect(() => mixPool.validate(node, graph)).not.toThrow());
  it('fields out of range', () => {
    bad({ shift: 0 }, /shift/);
    bad({ maxMult: 2 ** 52 }, /maxMult/);
    bad({ maxMult: 2 ** 50, meanMult: 2 ** 50 }, /maxMult \/ meanMult/);
    bad({ meanMult: 1.5 }, /meanMult/);
  });
  it('an output that is not [C]', () => {
    bad({}, /output shape/, { ...graph, tensors: [graph.tensors[0]!, { ...graph.tensors[1]!, shape: [graph.tensors[1]!.shape[0]! + 1] }] });
  });
});

// ---------------------------------------------------------------- Cortex-M

const HAS_ARM = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const ARM_FLAGS = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes', '-mthumb', '-Os'];

describe.skipIf(!HAS_ARM)('mix_pool on Cortex-M (arm-none-eabi-gcc)', () => {
  it.each(['cortex-m0', 'cortex-m4'])('%s: -Os -Werror, no float, libm or 64-bit division helper', (cpu) => {
    const tmp = makeTempDir('tb-mix-pool-arm-');
    try {
      const obj = join(tmp.dir, 'k.o');
      execFileSync('arm-none-eabi-gcc', [...ARM_FLAGS, `-mcpu=${cpu}`, `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_mix_pool.c'), '-o', obj], { stdio: 'pipe' });
      const syms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString().split(/\s+/).filter((t) => t && t !== 'U');
      expect(syms.filter((s) => /^__aeabi_([fd]|[ilu]+2[fd])|^__aeabi_u?ldivmod|[sdt]f[0-9]?$|sqrt|exp|log|pow|floor|ceil|round|lrint/.test(s))).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});
