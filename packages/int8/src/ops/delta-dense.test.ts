/**
 * delta_dense: lowering + TS kernel against the float formula (y = Σ W thr k + bias), streaming
 * (state across frames equals fresh single-frame runs byte for byte, with fewer MACs), the C
 * kernel against TS (single frames and streams with state, reset and MACs), validate's errors,
 * and a Cortex-M build without float helpers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import { roundHalfAway } from '../fixed-point.js';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext, EmittedC, RunContext } from '../op.js';
import { deltaDense, type DeltaDenseNode, lowerDeltaDense } from './delta-dense.js';
import { cI32 } from './int-math.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** A RunContext whose state persists (a stream) until `reset`. */
function streamCtx(): RunContext & { reset(): void } {
  const states = new Map<string, unknown>();
  return {
    state<T>(node: { name: string }, init: () => T): T {
      if (!states.has(node.name)) states.set(node.name, init());
      return states.get(node.name) as T;
    },
    interventions: null,
    reset: () => states.clear(),
  };
}
const fresh = () => streamCtx();

function graphOf(node: DeltaDenseNode, tensors: TensorInfo[]): Int8Graph {
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

const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);

const floatCase = fc.record({
  D: fc.integer({ min: 1, max: 48 }),
  N: fc.integer({ min: 1, max: 10 }),
  relu: fc.boolean(),
  perFeature: fc.boolean(),
  multiple: fc.boolean(), // thresholds exact multiples of the input step
  thr: logUniform(0.005, 1),
  hasBias: fc.boolean(),
  inLo: fc.double({ min: -3, max: 0, noNaN: true }),
  inSpan: logUniform(0.5, 6),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function makeFloatCase(c: Of<typeof floatCase>) {
  const r = rng(c.seed);
  const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
  const thresholds = Array.from({ length: c.perFeature ? c.D : 1 }, () => {
    const t = c.thr * (0.5 + r());
    return c.multiple ? Math.max(1, Math.round(t / inQ.scale)) * inQ.scale : t;
  });
  const kernel = Float64Array.from({ length: c.D * c.N }, () => r() * 2 - 1);
  const bias = c.hasBias ? Float64Array.from({ length: c.N }, () => r() - 0.5) : undefined;
  const xq = quantizeArray(Float64Array.from({ length: c.D }, () => c.inLo + r() * c.inSpan), inQ);
  // the float formula with the effective thresholds thr_i = m_i * s (exactly thr_i when `multiple`)
  const m = Array.from({ length: c.D }, (_, i) => Math.min(Math.max(roundHalfAway(thresholds[c.perFeature ? i : 0]! / inQ.scale), 1), 511));
  const ref = Float64Array.from({ length: c.N }, (_, j) => {
    let y = bias?.[j] ?? 0;
    for (let i = 0; i < c.D; i++) {
      // x / thr = (s*u) / (m*s) = u/m exactly; computed as u/m so that exact ties (u/m = n + 1/2)
      // stay ties instead of landing a rounding error to either side
      let u = xq[i]! - inQ.zeroPoint;
      if (c.relu) u = Math.max(u, 0);
      const thr = c.multiple ? thresholds[c.perFeature ? i : 0]! : m[i]! * inQ.scale;
      y += kernel[i * c.N + j]! * thr * roundHalfAway(u / m[i]!);
    }
    return y;
  });
  // an output range for typical inputs (3 sigma of a random-sign sum), not just this one
  const xAbs = Math.max(Math.abs(c.inLo), Math.abs(c.inLo + c.inSpan));
  let range = 0;
  for (let j = 0; j < c.N; j++) {
    let ss = 0;
    for (let i = 0; i < c.D; i++) ss += (kernel[i * c.N + j]! * xAbs) ** 2;
    range = Math.max(range, 3 * Math.sqrt(ss) + Math.abs(bias?.[j] ?? 0), Math.abs(ref[j]!));
  }
  const outQ = chooseQuantParams(-range, range);
  const inInfo = { name: 'x', shape: [c.D], ...inQ };
  const outInfo = { name: 'y', shape: [c.N], ...outQ };
  const node = lowerDeltaDense({ name: 'dd', inputs: [0], outputs: [1], in: inInfo, out: outInfo, thresholds, relu: c.relu, kernel, ...(bias ? { bias } : {}) });
  return { node, graph: graphOf(node, [inInfo, outInfo]), xq, ref, outQ, kernel, inQ };
}

describe('delta_dense: lowering + TS kernel vs the float formula y = Σ W thr round(relu(x)/thr) + bias', () => {
  it('within 0.5 LSB (+ TFLite double rounding 2^(shift-1)) of the formula on the int8 weights and bias; within the weight-rounding bound of the float weights (thresholds rounded to m*s, exact when multiples)', () => {
    let worst = 0;
    let worstQ = 0;
    let worstRatio = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        const { node, graph, xq, ref, outQ } = makeFloatCase(c);
        deltaDense.validate(node, graph);
        const res = deltaDense.run(node, [xq], graph, fresh());
        const y = res.outputs[0]!;
        // k as the kernel computes it, for the bound and the fresh-run MACs
        let sumK = 0;
        let nnz = 0;
        for (let i = 0; i < c.D; i++) {
          let u = xq[i]! - graph.tensors[0]!.zeroPoint;
          if (c.relu) u = Math.max(u, 0);
          const k = Math.abs(roundHalfAway(u / node.step[i]!));
          sumK += k;
          if (k) nnz++;
        }
        expect(res.macs).toBe(nnz * c.N);
        for (let j = 0; j < c.N; j++) {
          const wScale = node.multiplier[j]! * 2 ** (node.shift[j]! - 31) * outQ.scale; // wScale'[j] (to 2^-31)
          const sh = node.shift[j]!;
          const dr = sh < 0 ? 0.5 * 2 ** sh : 0; // TFLite's double rounding: the high multiply rounds to 2^shift LSB first
          const bound = 0.5 + dr + 1e-3 + (0.5 * (sumK + 1) * wScale) / outQ.scale;
          const err = Math.abs(y[j]! - Math.min(127, Math.max(-128, ref[j]! / outQ.scale + outQ.zeroPoint)));
          worst = Math.max(worst, err);
          worstRatio = Math.max(worstRatio, err / bound);
          expect(err).toBeLessThanOrEqual(bound);
          // the same formula on the dequantized int8 weights and bias: only the output rounding is left
          let yq = node.bias[j]! * wScale;
          for (let i = 0; i < c.D; i++) {
            let u = xq[i]! - graph.tensors[0]!.zeroPoint;
            if (c.relu) u = Math.max(u, 0);
            yq += node.weights[i * c.N + j]! * wScale * roundHalfAway(u / node.step[i]!);
          }
          const errQ = Math.abs(y[j]! - Math.min(node.actMax, Math.max(node.actMin, yq / outQ.scale + outQ.zeroPoint)));
          worstQ = Math.max(worstQ, errQ);
          expect(errQ).toBeLessThanOrEqual(0.5 + dr + 1e-3);
        }
      }),
      { seed: 1, numRuns: 300 },
    );
    console.log(`delta_dense: max |int8 - float64| = ${worstQ.toFixed(4)} LSB on the int8 weights; ${worst.toFixed(2)} LSB on the float weights (at most ${(worstRatio * 100).toFixed(0)}% of the weight-rounding bound)`);
  });

  it('relu and the threshold matter: negative inputs send nothing with relu, a coarse step rounds to multiples', () => {
    const inInfo = { name: 'x', shape: [2], scale: 0.1, zeroPoint: 0 };
    const outInfo = { name: 'y', shape: [1], scale: 0.1, zeroPoint: 0 };
    const run = (relu: boolean, thr: number, x: number[]) => {
      const node = lowerDeltaDense({ name: 'dd', inputs: [0], outputs: [1], in: inInfo, out: outInfo, thresholds: [thr], relu, kernel: [1, 1] });
      const r = deltaDense.run(node, [Int8Array.from(x)], graphOf(node, [inInfo, outInfo]), fresh());
      return [r.outputs[0]![0], r.macs];
    };
    expect(run(true, 0.1, [-30, 20])).toEqual([20, 1]); // relu(-3) = 0 is not sent
    expect(run(false, 0.1, [-30, 20])).toEqual([-10, 2]);
    expect(run(false, 0.4, [5, 6])).toEqual([12, 2]); // steps of 4 codes: 0.5 -> 0.4, 0.6 (1.5 steps, away from 0) -> 0.8
    expect(run(false, 0.4, [1, 1])).toEqual([0, 0]); // below half a step: nothing sent
  });

  it('lowering rejects thresholds of the wrong length (ConfigError)', () => {
    const inInfo = { name: 'x', shape: [3], scale: 0.1, zeroPoint: 0 };
    const outInfo = { name: 'y', shape: [1], scale: 0.1, zeroPoint: 0 };
    expect(() => lowerDeltaDense({ name: 'dd', inputs: [0], outputs: [1], in: inInfo, out: outInfo, thresholds: [0.1, 0.1], relu: true, kernel: [1, 1, 1] })).toThrow(ConfigError);
  });
});

/** T correlated frames: a random walk where each code changes with probability p. */
function framesOf(seed: number, D: number, T: number, p: number): Int8Array[] {
  const r = rng(seed);
  let x = Int8Array.from({ length: D }, () => Math.floor(r() * 256) - 128);
  const frames: Int8Array[] = [];
  for (let t = 0; t < T; t++) {
    x = Int8Array.from(x, (v) => (r() < p ? Math.max(-128, Math.min(127, v + Math.floor(r() * 41) - 20)) : v));
    frames.push(x);
  }
  return frames;
}

describe('delta_dense: streaming', () => {
  it('each frame of a stream equals a fresh single-frame run, with fewer MACs on correlated frames; reset restarts', () => {
    let streamMacs = 0;
    let denseMacs = 0;
    let freshMacs = 0;
    for (const c of fc.sample(floatCase, { seed: 6, numRuns: 40 })) {
      const { node, graph } = makeFloatCase(c);
      const frames = framesOf(c.seed, c.D, 20, 0.15);
      const ctx = streamCtx();
      frames.forEach((f, t) => {
        if (t === 10) ctx.reset();
        const s = deltaDense.run(node, [f], graph, ctx);
        const one = deltaDense.run(node, [f], graph, fresh());
        expect(Array.from(s.outputs[0]!)).toEqual(Array.from(one.outputs[0]!));
        if (t === 0 || t === 10) expect(s.macs).toBe(one.macs);
        streamMacs += s.macs!;
        freshMacs += one.macs!;
        denseMacs += deltaDense.macs(node, graph);
      });
    }
    console.log(`delta_dense: stream MACs ${streamMacs} vs fresh runs ${freshMacs} vs dense ${denseMacs} (${((1 - streamMacs / denseMacs) * 100).toFixed(1)}% skipped)`);
    expect(streamMacs).toBeLessThan(0.5 * freshMacs);
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
#include "tb_delta_dense.h"
#define MAXD 4096
#define MAXN 64
static int8_t x[MAXD], y[MAXN], w[MAXD * MAXN];
static int16_t step[MAXD], khat[MAXD];
static int32_t bias[MAXN], mult[MAXN], sh[MAXN], acc[MAXN];
static long long rd(void) { long long v; if (scanf("%lld", &v) != 1) exit(2); return v; }
/* case: d n in_zp relu out_zp act_min act_max step[d] w[d*n] bias[n] mult[n] shift[n] frames
   then per frame: reset_flag x[d]; prints per frame: macs y[n]. The state persists across
   frames; a case starts from whatever the previous case left unless its first frame resets. */
int main(void) {
  long long cases = rd();
  while (cases-- > 0) {
    const int32_t d = (int32_t)rd(), n = (int32_t)rd(), izp = (int32_t)rd(), relu = (int32_t)rd();
    const int32_t ozp = (int32_t)rd(), lo = (int32_t)rd(), hi = (int32_t)rd();
    int32_t i, t, frames;
    for (i = 0; i < d; i++) step[i] = (int16_t)rd();
    for (i = 0; i < d * n; i++) w[i] = (int8_t)rd();
    for (i = 0; i < n; i++) bias[i] = (int32_t)rd();
    for (i = 0; i < n; i++) mult[i] = (int32_t)rd();
    for (i = 0; i < n; i++) sh[i] = (int32_t)rd();
    frames = (int32_t)rd();
    for (t = 0; t < frames; t++) {
      uint32_t macs;
      if (rd()) tb_delta_dense_reset(khat, d, acc, n);
      for (i = 0; i < d; i++) x[i] = (int8_t)rd();
      macs = tb_delta_dense_s8(x, y, d, n, izp, relu, step, w, bias, mult, sh, ozp, lo, hi, khat, acc);
      printf("%lu", (unsigned long)macs);
      for (i = 0; i < n; i++) printf(" %d", (int)y[i]);
      printf("\n");
    }
  }
  return 0;
}
`;

const rawCase = fc.record({
  D: fc.integer({ min: 1, max: 40 }),
  N: fc.integer({ min: 1, max: 12 }),
  izp: fc.integer({ min: -128, max: 127 }),
  ozp: fc.integer({ min: -128, max: 127 }),
  relu: fc.boolean(),
  act: fc.constantFrom([-128, 127], [-20, 127], [-128, 30], [5, 6]),
  steps: fc.array(fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 511 })), { minLength: 40, maxLength: 40 }),
  mult: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 })), { minLength: 12, maxLength: 12 }),
  shift: fc.array(fc.integer({ min: -31, max: 4 }), { minLength: 12, maxLength: 12 }),
  bias: fc.array(fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), { minLength: 12, maxLength: 12 }),
  p: fc.constantFrom(0, 0.05, 0.3, 1),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function rawNode(c: Of<typeof rawCase>) {
  const r = rng(c.seed);
  const node: DeltaDenseNode = {
    op: 'delta_dense', name: 'raw', inputs: [0], outputs: [1],
    step: Int16Array.from(c.steps.slice(0, c.D)), relu: c.relu,
    weights: Int8Array.from({ length: c.D * c.N }, () => Math.floor(r() * 256) - 128),
    bias: Int32Array.from(c.bias.slice(0, c.N)), multiplier: Int32Array.from(c.mult.slice(0, c.N)), shift: Int32Array.from(c.shift.slice(0, c.N)),
    actMin: c.act[0]!, actMax: c.act[1]!,
  };
  const graph = graphOf(node, [{ name: 'x', shape: [c.D], scale: 1, zeroPoint: c.izp }, { name: 'y', shape: [c.N], scale: 1, zeroPoint: c.ozp }]);
  return { node, graph };
}

/** The driver's case text and the TS stream's expected lines (macs then outputs per frame). */
function streamCase(node: DeltaDenseNode, graph: Int8Graph, frames: Int8Array[], resets: Set<number>) {
  const [inT, outT] = graph.tensors as [TensorInfo, TensorInfo];
  const D = inT.shape[0]!;
  const N = outT.shape[0]!;
  const head = [D, N, inT.zeroPoint, node.relu ? 1 : 0, outT.zeroPoint, node.actMin, node.actMax, ...node.step, ...node.weights, ...node.bias, ...node.multiplier, ...node.shift, frames.length];
  const ctx = streamCtx();
  const expected: string[] = [];
  const body = frames.map((f, t) => {
    if (resets.has(t)) ctx.reset();
    const r = deltaDense.run(node, [f], graph, ctx);
    expected.push([r.macs, ...r.outputs[0]!].join(' '));
    return [resets.has(t) ? 1 : 0, ...f].join(' ');
  });
  return { text: [...head, ...body].join(' '), expected };
}

describe.skipIf(SKIP_C)('delta_dense: C kernel is bit-exact with TS, state and MACs included', () => {
  const tmp = makeTempDir('tb-delta-');
  afterAll(() => tmp.remove());

  it.each(HOST_BUILDS.map((b) => [b.name, b] as const))('%s: streams (state across calls, reset) and single frames: every byte and MAC count equals TS', (_name, build) => {
    requireCompiler();
    const lines: string[] = [];
    const expected: string[] = [];
    const add = (node: DeltaDenseNode, graph: Int8Graph, frames: Int8Array[], resets: Set<number>) => {
      deltaDense.validate(node, graph);
      const s = streamCase(node, graph, frames, resets);
      lines.push(s.text);
      expected.push(...s.expected);
    };
    // first case: the C statics are zero-filled, no reset call (a fresh state needs no initialisation)
    fc.sample(floatCase, { seed: 2, numRuns: 80 }).forEach((c, k) => {
      const { node, graph } = makeFloatCase(c);
      add(node, graph, framesOf(c.seed, c.D, 12, 0.2), new Set(k === 0 ? [7] : [0, 7]));
    });
    for (const c of fc.sample(rawCase, { seed: 3, numRuns: 300 })) {
      const { node, graph } = rawNode(c);
      add(node, graph, framesOf(c.seed, c.D, 6, c.p), new Set([0, 3]));
    }
    // the largest D at the extremes: |acc + bias| near its bound
    const D = 4096;
    const big: DeltaDenseNode = {
      op: 'delta_dense', name: 'big', inputs: [0], outputs: [1], step: new Int16Array(D).fill(1), relu: false,
      weights: new Int8Array(D * 2).fill(-128), bias: Int32Array.from([2 ** 31 - 1 - D * 128 * 255, -(2 ** 31 - 1 - D * 128 * 255)]),
      multiplier: Int32Array.from([2 ** 30, 2 ** 31 - 1]), shift: Int32Array.from([-31, -20]), actMin: -128, actMax: 127,
    };
    const bg = graphOf(big, [{ name: 'x', shape: [D], scale: 1, zeroPoint: 127 }, { name: 'y', shape: [2], scale: 1, zeroPoint: 0 }]);
    add(big, bg, [new Int8Array(D).fill(-128), new Int8Array(D).fill(127), new Int8Array(D).fill(-128)], new Set([0]));
    const bin = compileDriver(tmp.dir, 'delta_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_delta_dense.c')] });
    const out = runBinary(bin, `${lines.length}\n${lines.join('\n')}\n`).toString().trim().split('\n');
    expect(out.length).toBe(expected.length);
    const wrong = out.flatMap((v, i) => (v === expected[i] ? [] : [`line ${i}: C ${v} / TS ${expected[i]}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
  }, 120_000);

  it('the emitted call, state and reset compile against tb_delta_dense.h and stream as TS', () => {
    requireCompiler();
    for (const c of fc.sample(floatCase, { seed: 7, numRuns: 3 })) {
      const { node, graph } = makeFloatCase(c);
      const [D, N] = [c.D, c.N];
      const frames = framesOf(c.seed, D, 8, 0.2);
      const ctx = streamCtx();
      const want = frames.map((f, t) => {
        if (t === 5) ctx.reset();
        const r = deltaDense.run(node, [f], graph, ctx);
        return [r.macs, ...r.outputs[0]!].join(' ');
      });
      const src = emittedProgram((e) => deltaDense.emitC(node, e), graph, 'tb_delta_dense.h', (e) =>
        `static int8_t in[${D}], out[${N}];\n${READ}\nint main(void) { int i, t; for (t = 0; t < ${frames.length}; t++) { uint32_t macs; if (t == 5) { ${e.reset}; } for (i = 0; i < ${D}; i++) in[i] = (int8_t)rd(); macs = ${e.call}; printf("%lu", (unsigned long)macs); for (i = 0; i < ${N}; i++) printf(" %d", out[i]); printf("\\n"); } return 0; }`);
      const bin = compileDriver(tmp.dir, 'delta_emitted.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_delta_dense.c')] });
      expect(runBinary(bin, frames.map((f) => Array.from(f).join(' ')).join('\n')).toString().trim().split('\n')).toEqual(want);
    }
  }, 120_000);

  it('emitC uses two state arrays, returns MACs and resets them', () => {
    const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 4, numRuns: 1 })[0]!);
    const state: string[] = [];
    const ctx = {
      graph, tensor: (id: number) => `T${id}`, data: (s: string) => `d_${s}`, interventions: 'iv',
      state: (s: string, t: string, n: number) => (state.push(`${t} ${s}[${n}]`), `s_${s}`),
    } as unknown as EmitContext;
    const e = deltaDense.emitC(node, ctx);
    const [D, N] = [graph.tensors[0]!.shape[0], graph.tensors[1]!.shape[0]];
    expect(state).toEqual([`int16_t khat[${D}]`, `int32_t acc[${N}]`]);
    expect(e.returnsMacs).toBe(true);
    expect(e.reset).toBe(`tb_delta_dense_reset(s_khat, ${D}, s_acc, ${N})`);
    expect(e.call).toMatch(new RegExp(`^tb_delta_dense_s8\\(T0, T1, ${D}, ${N}, -?\\d+, [01], d_step, d_weights, d_bias, d_multiplier, d_shift, -?\\d+, -?\\d+, -?\\d+, s_khat, s_acc\\)$`));
  });
});

describe('delta_dense: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(fc.sample(floatCase, { seed: 5, numRuns: 1 })[0]!);
  const bad = (patch: Partial<DeltaDenseNode>, field: RegExp) => {
    const n = { ...node, ...patch } as DeltaDenseNode;
    expect(() => deltaDense.validate(n, graph)).toThrow(DataError);
    expect(() => deltaDense.validate(n, graph)).toThrow(field);
    expect(() => deltaDense.validate(n, graph)).toThrow(/^dd:/);
  };
  it('accepts the lowered node', () => expect(() => deltaDense.validate(node, graph)).not.toThrow());
  it('bad fields', () => {
    bad({ weights: new Int8Array(node.weights.length - 1) }, /weights/);
    bad({ step: Int16Array.from(node.step, () => 0) }, /step\[0\]/);
    bad({ step: Int16Array.from(node.step, () => 512) }, /step\[0\]/);
    bad({ bias: Int32Array.from(node.bias, () => 2 ** 31 - 1) }, /bias\[0\]/);
    bad({ relu: 1 as unknown as boolean }, /relu/);
    bad({ actMin: 10, actMax: 5 }, /actMax/);
  });
});

const HAS_ARM = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const ARM_FLAGS = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes', '-mthumb', '-Os'];

describe.skipIf(!HAS_ARM)('delta_dense on Cortex-M (arm-none-eabi-gcc)', () => {
  it.each(['cortex-m0', 'cortex-m4'])('%s: -Os -Werror, no float, libm or 64-bit division helper', (cpu) => {
    const tmp = makeTempDir('tb-delta-arm-');
    try {
      const obj = join(tmp.dir, 'k.o');
      execFileSync('arm-none-eabi-gcc', [...ARM_FLAGS, `-mcpu=${cpu}`, `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_delta_dense.c'), '-o', obj], { stdio: 'pipe' });
      const syms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString().split(/\s+/).filter((t) => t && t !== 'U');
      expect(syms.filter((s) => /^__aeabi_([fd]|[ilu]+2[fd])|^__aeabi_u?ldivmod|[sdt]f[0-9]?$|sqrt|exp|log|pow|floor|ceil|round|lrint/.test(s))).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});
