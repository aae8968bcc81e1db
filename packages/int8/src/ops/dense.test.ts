/**
 * dense: lowering + TS kernel against a float64 matrix product (tfjs kernel [D, N], input read
 * flat in NHWC order), the C kernel against the TS kernel byte for byte, the emitted call
 * compiled and run, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams } from '../affine.js';
import type { TensorInfo } from '../graph.js';
import { dense, type DenseNode, lowerDense } from './dense.js';
import { caseDriver, CTX, describeC, describeCortexM, expectNearFloat, graphOf, ints, type KernelCase, layerFloatFields, layerRawFields, once, randomClamp, randomLayer, randomRequant, rng, sampleOne, validateErrors } from './test-c.js';

const floatCase = fc.record({
  inShape: fc.oneof(fc.tuple(fc.integer({ min: 1, max: 64 })), fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }))),
  N: fc.integer({ min: 1, max: 12 }),
  ...layerFloatFields,
});

describe('dense: lowering + TS kernel vs a float64 matrix product', () => {
  it('within 1 output LSB of float64 on the quantized input, weights and bias (output rounding 0.5 + double rounding 0.5)', () => {
    let clampedRelu = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        const D = c.inShape.reduce((a, b) => a * b, 1);
        const { kernel, bias, inQ, xq, xd, kd, bd } = randomLayer(c, D * c.N, c.N, D);
        const ref = Float64Array.from({ length: c.N }, (_, n) => {
          let s = bd[n]!;
          for (let d = 0; d < D; d++) s += xd[d]! * kd[d * c.N + n]!;
          return s;
        });
        const outQ = chooseQuantParams(Math.min(...ref) * 0.9, Math.max(...ref) * 0.9);
        const inInfo = { name: 'x', shape: [...c.inShape], ...inQ };
        const outInfo = { name: 'y', shape: [c.N], ...outQ };
        const node = lowerDense({ name: 'fc', inputs: [0], outputs: [1], in: inInfo, out: outInfo, kernel, ...(bias ? { bias } : {}), activation: c.activation });
        const graph = graphOf(node, [inInfo, outInfo]);
        dense.validate(node, graph);
        const y = dense.run(node, [xq], graph, CTX).outputs[0]!;
        clampedRelu += expectNearFloat(y, ref, outQ, c.activation, (n) => `case ${JSON.stringify(c)} unit ${n}`);
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

const rawCase: fc.Arbitrary<KernelCase<DenseNode>> = fc
  .record({
    D: fc.integer({ min: 1, max: 300 }),
    N: fc.integer({ min: 1, max: 40 }),
    ...layerRawFields,
  })
  .map((c) => {
    const r = rng(c.seed);
    const node: DenseNode = {
      op: 'dense',
      name: 'fc',
      inputs: [0],
      outputs: [1],
      weights: Int8Array.from({ length: c.N * c.D }, () => Math.floor(r() * 256) - 128),
      ...randomRequant(r, c.N, c.bigBias, { slack: 30000, small: 50000, shiftLo: -16 }),
      ...randomClamp(r, c.act),
    };
    const tensors = [
      { name: 'x', shape: [c.D], scale: 1, zeroPoint: c.inZp },
      { name: 'y', shape: [c.N], scale: 1, zeroPoint: c.outZp },
    ];
    return { node, graph: graphOf(node, tensors), inputs: [Int8Array.from({ length: c.D }, () => Math.floor(r() * 256) - 128)] };
  });

const DRIVER = caseDriver(
  'tb_dense.h',
  'static int8_t in[4096], out[256], w[65536];\nstatic int32_t bias[256], mult[256], shift[256];',
  String.raw`
    tb_dense_params p;
    p.in_features = rd(); p.out_features = rd(); p.in_zp = rd(); p.out_zp = rd(); p.act_min = rd(); p.act_max = rd();
    rd_s8(in, p.in_features);
    rd_s8(w, p.out_features * p.in_features);
    rd_s32(bias, p.out_features); rd_s32(mult, p.out_features); rd_s32(shift, p.out_features);
    p.weights = w; p.bias = bias; p.multipliers = mult; p.shifts = shift;
    tb_dense_s8(in, out, &p);
    print_s8(out, p.out_features);`,
);

function caseText({ node, graph, inputs }: KernelCase<DenseNode>): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  return ints(x.shape[0]!, y.shape[0]!, x.zeroPoint, y.zeroPoint, node.actMin, node.actMax, inputs[0]!, node.weights, node.bias, node.multipliers, node.shifts);
}

describeC('dense: C tb_dense_s8 is bit-exact with the TS kernel', 'tb_dense', (c) => {
  const cases = once(() => fc.sample(rawCase, { seed: 13, numRuns: 400 }));
  c.itMatchesTs('400 random cases, every byte equal', DRIVER, dense, cases, caseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', dense, () => cases().slice(0, 12), { runtime: ['tb_dense.h'], no: ['state'], timeout: 60_000 });
});

describe('dense: validate', () => {
  const { node, graph } = sampleOne(rawCase, 5);
  const bad = validateErrors(dense, node, graph);
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

describeCortexM('dense', { file: 'tb_dense.c' }, 'tb_dense_s8');
