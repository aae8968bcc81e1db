/**
 * delta_dense: lowering + TS kernel against the float formula (y = Σ W thr k + bias), streaming
 * (state across frames equals fresh single-frame runs byte for byte, with fewer MACs), the C
 * kernel against TS (single frames and streams with state, reset and MACs), validate's errors,
 * and a Cortex-M build without float helpers.
 */
import { ConfigError } from '@tinyblocks/core/base';
import { HOST_BUILDS } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import { roundHalfAway } from '../fixed-point.js';
import type { Int8Graph, TensorInfo } from '../graph.js';
import type { RunContext } from '../op.js';
import { deltaDense, type DeltaDenseNode, lowerDeltaDense } from './delta-dense.js';
import { caseDriver, cProgram, describeC, describeCortexM, emitStub, expectLines, graphOf, ints, logUniform, type Of, rng, sampleOne, toCode, validateErrors } from './test-c.js';

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
          const err = Math.abs(y[j]! - toCode(ref[j]!, outQ));
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

/* case: d n in_zp relu out_zp act_min act_max step[d] w[d*n] bias[n] mult[n] shift[n] frames
   then per frame: reset_flag x[d]; prints per frame: macs y[n]. The state persists across
   frames; a case starts from whatever the previous case left unless its first frame resets. */
const DRIVER = caseDriver(
  'tb_delta_dense.h',
  String.raw`#define MAXD 4096
#define MAXN 64
static int8_t x[MAXD], y[MAXN], w[MAXD * MAXN];
static int16_t step[MAXD], khat[MAXD];
static int32_t bias[MAXN], mult[MAXN], sh[MAXN], acc[MAXN];`,
  String.raw`
    const int32_t d = rd(), n = rd(), izp = rd(), relu = rd(), ozp = rd(), lo = rd(), hi = rd();
    int32_t i, t, frames;
    for (i = 0; i < d; i++) step[i] = (int16_t)rd();
    rd_s8(w, d * n);
    rd_s32(bias, n); rd_s32(mult, n); rd_s32(sh, n);
    frames = rd();
    for (t = 0; t < frames; t++) {
      uint32_t macs;
      if (rd()) tb_delta_dense_reset(khat, d, acc, n);
      rd_s8(x, d);
      macs = tb_delta_dense_s8(x, y, d, n, izp, relu, step, w, bias, mult, sh, ozp, lo, hi, khat, acc);
      printf("%lu ", (unsigned long)macs);
      print_s8(y, n);
    }`,
);

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
  const head = ints(D, N, inT.zeroPoint, node.relu ? 1 : 0, outT.zeroPoint, node.actMin, node.actMax, node.step, node.weights, node.bias, node.multiplier, node.shift, frames.length);
  const ctx = streamCtx();
  const expected: string[] = [];
  const body = frames.map((f, t) => {
    if (resets.has(t)) ctx.reset();
    const r = deltaDense.run(node, [f], graph, ctx);
    expected.push(ints(r.macs!, r.outputs[0]!));
    return ints(resets.has(t) ? 1 : 0, f);
  });
  return { text: [head, ...body].join(' '), expected };
}

describeC('delta_dense: C kernel is bit-exact with TS, state and MACs included', 'tb_delta_dense', (c) => {
  c.itOnHostBuilds('streams (state across calls, reset) and single frames: every byte and MAC count equals TS', DRIVER, () => {
    const cases: string[] = [];
    const expected: string[] = [];
    const add = (node: DeltaDenseNode, graph: Int8Graph, frames: Int8Array[], resets: Set<number>) => {
      deltaDense.validate(node, graph);
      const s = streamCase(node, graph, frames, resets);
      cases.push(s.text);
      expected.push(...s.expected);
    };
    // first case: the C statics are zero-filled, no reset call (a fresh state needs no initialisation)
    fc.sample(floatCase, { seed: 2, numRuns: 80 }).forEach((sample, k) => {
      const { node, graph } = makeFloatCase(sample);
      add(node, graph, framesOf(sample.seed, sample.D, 12, 0.2), new Set(k === 0 ? [7] : [0, 7]));
    });
    for (const sample of fc.sample(rawCase, { seed: 3, numRuns: 300 })) {
      const { node, graph } = rawNode(sample);
      add(node, graph, framesOf(sample.seed, sample.D, 6, sample.p), new Set([0, 3]));
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
    return { cases, expected };
  });

  it('the emitted call, state and reset compile against tb_delta_dense.h and stream as TS', () => {
    for (const sample of fc.sample(floatCase, { seed: 7, numRuns: 3 })) {
      const { node, graph } = makeFloatCase(sample);
      const [D, N] = [sample.D, sample.N];
      const frames = framesOf(sample.seed, D, 8, 0.2);
      const ctx = streamCtx();
      const want = frames.map((f, t) => {
        if (t === 5) ctx.reset();
        const r = deltaDense.run(node, [f], graph, ctx);
        return ints(r.macs!, r.outputs[0]!);
      });
      const decls: string[] = [];
      const e = deltaDense.emitC(node, emitStub(graph, { tensor: (id) => (id === 0 ? 'in' : 'out'), decls }).ctx);
      const src = cProgram(deltaDense.runtime, `static int8_t in[${D}], out[${N}];\n${decls.join('\n')}\nint main(void) { int t; for (t = 0; t < ${frames.length}; t++) { uint32_t macs; if (t == 5) { ${e.reset}; } rd_s8(in, ${D}); macs = ${e.call}; printf("%lu ", (unsigned long)macs); print_s8(out, ${N}); } return 0; }`);
      expectLines(c.run('delta_emitted.c', src, HOST_BUILDS[0]!, frames.map((f) => ints(f)).join('\n')), want);
    }
  }, 120_000);

  it('emitC uses two state arrays, returns MACs and resets them', () => {
    const { node, graph } = makeFloatCase(sampleOne(floatCase, 4));
    const { ctx, state } = emitStub(graph);
    const e = deltaDense.emitC(node, ctx);
    const [D, N] = [graph.tensors[0]!.shape[0], graph.tensors[1]!.shape[0]];
    expect(state).toEqual([`int16_t khat[${D}]`, `int32_t acc[${N}]`]);
    expect(e.returnsMacs).toBe(true);
    expect(e.reset).toBe(`tb_delta_dense_reset(s_khat, ${D}, s_acc, ${N})`);
    expect(e.call).toMatch(new RegExp(`^tb_delta_dense_s8\\(T0, T1, ${D}, ${N}, -?\\d+, [01], d_step, d_weights, d_bias, d_multiplier, d_shift, -?\\d+, -?\\d+, -?\\d+, s_khat, s_acc\\)$`));
  });
});

describe('delta_dense: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(sampleOne(floatCase, 5));
  const bad = validateErrors(deltaDense, node, graph);
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

describeCortexM('delta_dense', { file: 'tb_delta_dense.c' }, 'tb_delta_dense_s8');
