/**
 * evonorm_b0: lowering + TS kernel against a float64 EvoNorm-B0, the C kernel against the TS
 * kernel byte for byte (lowered and raw random nodes, in place and not), validate's errors, and a
 * Cortex-M build without float or 64-bit division helpers.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import type { Int8Graph } from '../graph.js';
import { EVONORM_B0_VQ_MAX, evoNormB0, type EvoNormB0Node, lowerEvoNormB0 } from './evonorm-b0.js';
import { caseDriver, CTX, describeC, describeCortexM, emitStub, graphOf, ints, type KernelCase, logInt, logUniform, mantissa, type Of, rng, sampleOne, toCode, validateErrors } from './test-c.js';

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
          const want = toCode(ref[i]!, outQ);
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

const DRIVER = caseDriver(
  'tb_evonorm_b0.h',
  'static int8_t xin[70000], xout[70000];\nstatic int32_t fb[64], bs[64], vq[64], mu[64], sh[64], be[64];',
  String.raw`
    const int32_t n = rd(), c = rd(), zp = rd(), inplace = rd(), f = rd();
    const uint64_t e = (uint64_t)rd64();
    const int32_t im = rd(), is = rd();
    rd_s32(fb, c); rd_s32(bs, c); rd_s32(vq, c); rd_s32(mu, c); rd_s32(sh, c); rd_s32(be, c);
    rd_s8(xin, n * c);
    tb_evonorm_b0_s8(xin, inplace ? xin : xout, n, c, zp, fb, bs, vq, mu, sh, be, f, e, im, is);
    print_s8(inplace ? xin : xout, n * c);`,
);

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

function caseText({ node, graph, inputs, inPlace }: KernelCase<EvoNormB0Node>): string {
  const [h, w, C] = graph.tensors[0]!.shape as [number, number, number];
  return ints(h * w, C, graph.tensors[0]!.zeroPoint, inPlace ? 1 : 0, node.varShift, node.epsQ, node.invNMult, node.invNShift, node.fracBits, node.batchStd, node.vQ, node.multiplier, node.shift, node.betaQ, inputs[0]!);
}

const kernelCase = ({ node, graph, xq }: { node: EvoNormB0Node; graph: Int8Graph; xq: Int8Array }, k = 0): KernelCase<EvoNormB0Node> => ({ node, graph, inputs: [xq], inPlace: k % 2 === 1 });

describeC('evonorm_b0: C kernel is bit-exact with TS', 'tb_evonorm_b0', (c) => {
  // lowered and raw nodes, every other one in place; last, the largest map (N = 65536): sums at their bounds
  const cases = () => {
    const big = rawNode({ h: 256, w: 256, C: 1, zp: -128, fields: [{ F: 10, B: 1000, vq: 12345, m: 2 ** 30 + 7, sh: -3, beta: 5 }], epsQ: 2 ** 60, fDown: 0, seed: 3 });
    return [
      ...fc.sample(floatCase, { seed: 2, numRuns: 60 }).map(makeFloatCase).map(kernelCase),
      ...fc.sample(rawCase, { seed: 3, numRuns: 300 }).map(rawNode).map(kernelCase),
      kernelCase({ ...big, xq: Int8Array.from({ length: 65536 }, (_, i) => (i % 2 ? 127 : -128)) }),
    ];
  };
  c.itMatchesTs('lowered and raw nodes, in place and not, every byte equals TS', DRIVER, evoNormB0, cases, caseText);
  c.itEmittedMatchesTs('the emitted call compiles against tb_evonorm_b0.h and equals TS', evoNormB0, () => fc.sample(floatCase, { seed: 7, numRuns: 3 }).map((k) => kernelCase(makeFloatCase(k))));

  it('emitC names the kernel, its constant arrays and the 64-bit epsilon literal', () => {
    const { node, graph } = makeFloatCase(sampleOne(floatCase, 4));
    const { ctx, data } = emitStub(graph);
    const { call } = evoNormB0.emitC(node, ctx);
    expect(call).toMatch(/^tb_evonorm_b0_s8\(T0, T1, \d+, \d+, -?\d+, d_frac_bits, d_batch_std, d_v_q, d_multiplier, d_shift, d_beta_q, \d+, UINT64_C\(\d+\), \d+, -?\d+\)$/);
    expect(data).toEqual(['int32_t frac_bits', 'int32_t batch_std', 'int32_t v_q', 'int32_t multiplier', 'int32_t shift', 'int32_t beta_q']);
  });
});

describe('evonorm_b0: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(sampleOne(floatCase, 5));
  const bad = validateErrors(evoNormB0, node, graph);
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

describeCortexM('evonorm_b0', { file: 'tb_evonorm_b0.c' }, 'tb_evonorm_b0_s8');
