/**
 * polynorm: lowering + TS kernel against a float64 PolyNorm, the C kernel against the TS kernel
 * byte for byte (lowered and raw random nodes, in place and not, the largest vector), validate's
 * errors, and a Cortex-M build without float or 64-bit division helpers.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import type { Int8Graph } from '../graph.js';
import { lowerPolyNorm, POLYNORM_MAX_D, polyNorm, type PolyNormNode } from './polynorm.js';
import { caseDriver, CTX, describeC, describeCortexM, emitStub, graphOf, ints, type KernelCase, logInt, logUniform, mantissa, type Of, rng, sampleOne, toCode, validateErrors } from './test-c.js';

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
          worst = Math.max(worst, Math.abs(y[i]! - toCode(ref[i]!, outQ)));
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

const DRIVER = caseDriver(
  'tb_polynorm.h',
  'static int8_t xin[70000], xout[70000];',
  String.raw`
    const int32_t rows = rd(), d = rd(), zp = rd(), inplace = rd();
    int32_t m[3], e[3], g[3], i, bias;
    uint64_t eps[3];
    rd_s32(m, 3); rd_s32(e, 3); rd_s32(g, 3);
    for (i = 0; i < 3; i++) eps[i] = (uint64_t)rd64();
    bias = rd();
    rd_s8(xin, rows * d);
    tb_polynorm_s8(xin, inplace ? xin : xout, rows, d, zp, m, e, g, eps[0], eps[1], eps[2], bias);
    print_s8(inplace ? xin : xout, rows * d);`,
);

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

function caseText({ node, graph, inputs: [xq], inPlace }: KernelCase<PolyNormNode>): string {
  const shape = graph.tensors[0]!.shape;
  const D = shape[shape.length - 1]!;
  return ints(xq!.length / D, D, graph.tensors[0]!.zeroPoint, inPlace ? 1 : 0, node.mult, node.exp, node.epsShift, node.epsQ, node.biasQ, xq!);
}

const kernelCase = ({ node, graph, xq }: { node: PolyNormNode; graph: Int8Graph; xq: Int8Array }, k = 0): KernelCase<PolyNormNode> => ({ node, graph, inputs: [xq], inPlace: k % 2 === 1 });

describeC('polynorm: C kernel is bit-exact with TS', 'tb_polynorm', (c) => {
  // lowered and raw nodes, every other one in place; last, the longest vector at the largest magnitudes: S3 near 2^60
  const cases = () => {
    const big = rawNode({ rows: 2, D: POLYNORM_MAX_D, zp: 127, m: [2 ** 30, -(2 ** 31 - 1), 2 ** 30 + 99], e: [10, 0, -20], g: [32, 16, 0], eps: [1, 2 ** 40, 2 ** 60], bias: 7, seed: 0 });
    return [
      ...fc.sample(floatCase, { seed: 2, numRuns: 100 }).map(makeFloatCase).map(kernelCase),
      ...fc.sample(rawCase, { seed: 3, numRuns: 400 }).map(rawNode).map(kernelCase),
      kernelCase({ ...big, xq: Int8Array.from({ length: 2 * POLYNORM_MAX_D }, (_, i) => (i % 3 ? -128 : 127)) }),
    ];
  };
  c.itMatchesTs('lowered and raw nodes, in place and not, every byte equals TS', DRIVER, polyNorm, cases, caseText);
  c.itEmittedMatchesTs('the emitted call compiles against tb_polynorm.h and equals TS', polyNorm, () => fc.sample(floatCase, { seed: 7, numRuns: 3 }).map((k) => kernelCase(makeFloatCase(k))));

  it('emitC names the kernel, its constant arrays and the three 64-bit epsilon literals', () => {
    const { node, graph } = makeFloatCase(sampleOne(floatCase, 4));
    const { ctx, data } = emitStub(graph);
    const { call } = polyNorm.emitC(node, ctx);
    expect(call).toMatch(/^tb_polynorm_s8\(T0, T1, \d+, \d+, -?\d+, d_mult, d_exp, d_eps_shift, UINT64_C\(\d+\), UINT64_C\(\d+\), UINT64_C\(\d+\), -?\d+\)$/);
    expect(data).toEqual(['int32_t mult', 'int32_t exp', 'int32_t eps_shift']);
  });
});

describe('polynorm: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(sampleOne(floatCase, 5));
  const bad = validateErrors(polyNorm, node, graph);
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

describeCortexM('polynorm', { file: 'tb_polynorm.c' }, 'tb_polynorm_s8');
