/**
 * exit_decision: the integer rule against the float rule (max softmax >= tau on the dequantized
 * logits) outside the stated margin, the C kernel against TS, validate's errors, and a Cortex-M
 * build without float helpers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext, EmittedC } from '../op.js';
import { exitDecision, type ExitDecisionNode, lowerExitDecision } from './exit-decision.js';
import { cI32 } from './int-math.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: ExitDecisionNode, logits: TensorInfo): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors: [logits], nodes: [node as never], input: 0, outputs: [{ tensor: 0, role: 'exit' }], meta: {} };
}

const caseArb = fc.record({
  K: fc.integer({ min: 1, max: 100 }),
  scale: fc.double({ min: Math.log(0.005), max: Math.log(2), noNaN: true }).map(Math.exp),
  zp: fc.integer({ min: -128, max: 127 }),
  codes: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: 100, maxLength: 100 }),
  spread: fc.integer({ min: 1, max: 256 }),
  tauKind: fc.constantFrom('random', 'near', 'near', 'edge'),
  tauRandom: fc.double({ min: 0, max: 1, noNaN: true }),
  nearDelta: fc.tuple(fc.constantFrom(-1, 1), fc.double({ min: Math.log(1e-4), max: Math.log(0.05), noNaN: true })).map(([s, l]) => s * Math.exp(l)),
  edge: fc.constantFrom(-1, 0, 1, 1.5, 1e-9),
});

type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

function makeCase(c: Of<typeof caseArb>) {
  const q = Int8Array.from(c.codes.slice(0, c.K), (v) => Math.max(-128, 127 - (((v + 128) % c.spread) | 0)));
  const l = Array.from(q, (v) => c.scale * (v - c.zp));
  const lmax = Math.max(...l);
  const sumExp = l.reduce((a, v) => a + Math.exp(v - lmax), 0);
  const tau = c.tauKind === 'random' ? c.tauRandom : c.tauKind === 'near' ? (1 / sumExp) * (1 + c.nearDelta) : c.edge;
  const info = { name: 'logits', shape: [c.K], scale: c.scale, zeroPoint: c.zp };
  const node = lowerExitDecision({ name: 'exit0', inputs: [0], outputs: [], in: info, threshold: tau });
  return { node, graph: graphOf(node, info), q, sumExp, tau };
}

describe('exit_decision: the integer rule vs max softmax >= tau on the dequantized logits', () => {
  it('equal except within |Σexp - 1/tau| <= (K/2 + 1)/2^16; thresholds near the boundary included', () => {
    let agree = 0;
    let inMargin = 0;
    let exits = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const { node, graph, q, sumExp, tau } = makeCase(c);
        exitDecision.validate(node, graph);
        const r = exitDecision.run(node, [q], graph, CTX);
        expect(r.outputs).toEqual([]);
        const floatExit = tau <= 0 || 1 / sumExp >= tau;
        const margin = (c.K / 2 + 1) / 65536;
        if (tau > 0 && Math.abs(sumExp - 1 / tau) <= margin) inMargin++;
        else {
          expect(r.exit).toBe(floatExit);
          agree++;
        }
        if (r.exit) exits++;
      }),
      { seed: 1, numRuns: 3000 },
    );
    console.log(`exit_decision: ${agree} decisions equal to float, ${inMargin} inside the margin (not compared), ${exits} exits`);
    expect(agree).toBeGreaterThan(2000);
    expect(exits).toBeGreaterThan(300);
    expect(3000 - exits).toBeGreaterThan(300);
  });

  it('tau <= 0 always exits, tau > 1 never, tau = 1 only when every other logit is far below', () => {
    const info = { name: 'logits', shape: [3], scale: 0.1, zeroPoint: 0 };
    const decide = (tau: number, q: number[]) => {
      const node = lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: tau });
      return exitDecision.run(node, [Int8Array.from(q)], graphOf(node, info), CTX).exit;
    };
    expect(decide(0, [0, 0, 0])).toBe(true);
    expect(decide(-2, [0, 0, 0])).toBe(true);
    expect(decide(1.5, [127, -128, -128])).toBe(false);
    expect(decide(1, [127, -128, -128])).toBe(true); // exp(-25.5) * 2^16 rounds to 0
    expect(decide(1, [127, 120, -128])).toBe(false);
    expect(decide(0.5, [10, 0, -128])).toBe(true); // softmax max = 1/(1 + e^-1 + ...) = 0.73
    expect(decide(0.75, [10, 0, -128])).toBe(false);
  });

  it('lowering rejects a NaN threshold (ConfigError)', () => {
    const info = { name: 'logits', shape: [3], scale: 0.1, zeroPoint: 0 };
    expect(() => lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: NaN })).toThrow(ConfigError);
  });
});


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
#include "tb_exit_decision.h"
static int8_t q[40000];
static int32_t table[256];
static long long rd(void) { long long v; if (scanf("%lld", &v) != 1) exit(2); return v; }
int main(void) {
  long long cases = rd();
  while (cases-- > 0) {
    const int32_t k = (int32_t)rd(), limit = (int32_t)rd();
    int32_t i;
    for (i = 0; i < 256; i++) table[i] = (int32_t)rd();
    for (i = 0; i < k; i++) q[i] = (int8_t)rd();
    printf("%d\n", (int)tb_exit_decision_s8(q, k, table, limit));
  }
  return 0;
}
`;

describe.skipIf(SKIP_C)('exit_decision: C kernel is bit-exact with TS', () => {
  const tmp = makeTempDir('tb-exit-');
  afterAll(() => tmp.remove());

  it.each(HOST_BUILDS.map((b) => [b.name, b] as const))('%s: every decision equals TS', (_name, build) => {
    requireCompiler();
    const lines: string[] = [];
    const expected: string[] = [];
    const add = (node: ExitDecisionNode, q: Int8Array) => {
      lines.push([q.length, node.limit, ...node.table, ...q].join(' '));
      expected.push(exitDecision.run(node, [q], graphOf(node, { name: 'l', shape: [q.length], scale: 1, zeroPoint: 0 }), CTX).exit ? '1' : '0');
    };
    for (const c of fc.sample(caseArb, { seed: 2, numRuns: 2000 })) {
      const { node, q } = makeCase(c);
      add(node, q);
    }
    // raw tables and limits, and the largest K (sum near 2^31)
    for (const [t, limit, k] of fc.sample(fc.tuple(fc.array(fc.integer({ min: 0, max: 65536 }), { minLength: 256, maxLength: 256 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 50 })), { seed: 3, numRuns: 500 })) {
      add({ op: 'exit_decision', name: 'r', inputs: [0], outputs: [], table: Int32Array.from(t), limit }, Int8Array.from({ length: k }, (_, i) => ((i * 37 + limit) % 256) - 128));
    }
    const full = Int32Array.from({ length: 256 }, () => 65536);
    add({ op: 'exit_decision', name: 'r', inputs: [0], outputs: [], table: full, limit: 2 ** 31 - 1 }, new Int8Array(32767));
    add({ op: 'exit_decision', name: 'r', inputs: [0], outputs: [], table: full, limit: 32767 * 65536 - 1 }, new Int8Array(32767));
    const bin = compileDriver(tmp.dir, 'exit_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_exit_decision.c')] });
    const out = runBinary(bin, `${lines.length}\n${lines.join('\n')}\n`).toString().trim().split('\n');
    expect(out).toEqual(expected);
    expect(expected.slice(-2)).toEqual(['1', '0']);
  }, 120_000);

  it('the emitted expression compiles against tb_exit_decision.h and decides as TS', () => {
    requireCompiler();
    const samples = fc.sample(caseArb, { seed: 7, numRuns: 40 });
    const lines: string[] = [];
    const want: string[] = [];
    const info = { name: 'logits', shape: [12], scale: 0.15, zeroPoint: -5 };
    const node = lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: 0.7 });
    const graph = graphOf(node, info);
    for (const c of samples) {
      const q = Int8Array.from(c.codes.slice(0, 12), (v) => Math.max(-128, 127 - (((v + 128) % c.spread) | 0)));
      lines.push(Array.from(q).join(' '));
      want.push(exitDecision.run(node, [q], graph, CTX).exit ? '1' : '0');
    }
    const src = emittedProgram((ctx) => exitDecision.emitC(node, ctx), graph, 'tb_exit_decision.h', (e) =>
      `static int8_t in[12];\n${READ}\nint main(void) { int i, t; for (t = 0; t < ${lines.length}; t++) { for (i = 0; i < 12; i++) in[i] = (int8_t)rd(); printf("%d\\n", (${e.call}) != 0); } return 0; }`);
    const bin = compileDriver(tmp.dir, 'exit_emitted.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_exit_decision.c')] });
    expect(runBinary(bin, lines.join('\n')).toString().trim().split('\n')).toEqual(want);
    expect(new Set(want).size).toBe(2);
  }, 120_000);

  it('emitC is an exit decision expression', () => {
    const info = { name: 'logits', shape: [10], scale: 0.1, zeroPoint: 0 };
    const node = lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: 0.9 });
    const ctx = { graph: graphOf(node, info), tensor: (id: number) => `T${id}`, data: (s: string) => `d_${s}`, state: () => 's', interventions: 'iv' } as unknown as EmitContext;
    expect(exitDecision.emitC(node, ctx)).toEqual({ call: 'tb_exit_decision_s8(T0, 10, d_table, 72817)', exitDecision: true });
    expect(exitDecision.macs(node, ctx.graph)).toBe(0);
  });
});

describe('exit_decision: validate names the node and the field', () => {
  const info = { name: 'logits', shape: [10], scale: 0.1, zeroPoint: 0 };
  const node = lowerExitDecision({ name: 'exit0', inputs: [0], outputs: [], in: info, threshold: 0.8 });
  const graph = graphOf(node, info);
  const bad = (patch: Partial<ExitDecisionNode>, field: RegExp) => {
    const n = { ...node, ...patch } as ExitDecisionNode;
    expect(() => exitDecision.validate(n, graph)).toThrow(DataError);
    expect(() => exitDecision.validate(n, graph)).toThrow(field);
    expect(() => exitDecision.validate(n, graph)).toThrow(/^exit0:/);
  };
  it('accepts the lowered node', () => expect(() => exitDecision.validate(node, graph)).not.toThrow());
  it('bad fields', () => {
    bad({ table: new Int32Array(255) }, /table/);
    bad({ table: Int32Array.from(node.table, () => 70000) }, /table\[0\]/);
    bad({ limit: -1 }, /limit/);
    bad({ outputs: [0] }, /outputs/);
  });
});

const HAS_ARM = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const ARM_FLAGS = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes', '-mthumb', '-Os'];

describe.skipIf(!HAS_ARM)('exit_decision on Cortex-M (arm-none-eabi-gcc)', () => {
  it.each(['cortex-m0', 'cortex-m4'])('%s: -Os -Werror, no float, libm or 64-bit division helper', (cpu) => {
    const tmp = makeTempDir('tb-exit-arm-');
    try {
      const obj = join(tmp.dir, 'k.o');
      execFileSync('arm-none-eabi-gcc', [...ARM_FLAGS, `-mcpu=${cpu}`, `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_exit_decision.c'), '-o', obj], { stdio: 'pipe' });
      const syms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString().split(/\s+/).filter((t) => t && t !== 'U');
      expect(syms.filter((s) => /^__aeabi_([fd]|[ilu]+2[fd])|^__aeabi_u?ldivmod|[sdt]f[0-9]?$|sqrt|exp|log|pow|floor|ceil|round|lrint/.test(s))).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});
