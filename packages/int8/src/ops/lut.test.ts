/**
 * lut: lowering + TS kernel against the float function (within half an output LSB), the C
 * tb_lut_apply_s8 against the TS kernel byte for byte (separate output and in place), the emitted
 * call compiled and run, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TensorInfo } from '../graph.js';
import { lowerLut, lut, type LutNode } from './lut.js';
import { caseDriver, CTX, describeC, describeCortexM, graphOf, i8, ints, type KernelCase, lcg, once, sampleOne, validateErrors } from './test-c.js';

const FNS: Record<string, (x: number) => number> = {
  crrelu: (x) => Math.max(x, 0) + 0.01 * x * Math.exp(-(x * x) / 2),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  square: (x) => x * x,
};
const scale = fc.double({ min: 1e-3, max: 0.5, noNaN: true });
const shape = fc.oneof(fc.tuple(fc.integer({ min: 1, max: 300 })), fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 })));
const codes = (n: number, seed: number) => Int8Array.from({ length: n }, lcg(seed));

describe('lut: lowering + TS kernel vs the float function', () => {
  it('each output is within 0.5 LSB of fn(dequantized input) (or saturated), for every input code', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(FNS)), scale, i8, scale, i8, (name, inS, inZp, outS, outZp) => {
        const tIn = { name: 'x', shape: [2, 2, 64], scale: inS, zeroPoint: inZp };
        const tOut = { name: 'y', shape: [2, 2, 64], scale: outS, zeroPoint: outZp };
        const node = lowerLut({ name: 'act', inputs: [0], outputs: [1], in: tIn, out: tOut, fn: FNS[name]!, fnName: name });
        const g = graphOf(node, [tIn, tOut]);
        lut.validate(node, g);
        const x = Int8Array.from({ length: 256 }, (_, i) => i - 128);
        const y = lut.run(node, [x], g, CTX).outputs[0]!;
        for (let i = 0; i < 256; i++) {
          const want = FNS[name]!(inS * (x[i]! - inZp)) / outS + outZp;
          const got = y[i]!;
          const ok = want >= 127 ? got === 127 : want <= -128 ? got === -128 : Math.abs(got - want) <= 0.5 + 1e-9;
          expect(ok, `${name} q=${x[i]}: ${got} vs ${want}`).toBe(true);
        }
        return true;
      }),
      { seed: 6, numRuns: 100 },
    );
  });

  it('indexing: table[q + 128]; node fields; macs 0; in place allowed', () => {
    const t = { name: 'x', shape: [3], scale: 1, zeroPoint: 0 };
    const node = lowerLut({ name: 'neg', inputs: [0], outputs: [1], in: t, out: t, fn: (v) => -v, fnName: 'neg' });
    expect(node.fn).toBe('neg');
    expect(node.table.length).toBe(256);
    expect(Array.from(lut.run(node, [Int8Array.from([-128, 0, 5])], graphOf(node, [t, t]), CTX).outputs[0]!)).toEqual([127, 0, -5]);
    expect(lut.macs(node, graphOf(node, [t, t]))).toBe(0);
    expect(lut.inPlace).toBe(true);
    expect(() => lowerLut({ name: 'neg', inputs: [0], outputs: [1], in: t, out: { ...t, shape: [4] }, fn: (v) => -v, fnName: 'neg' })).toThrow(ConfigError);
    expect(() => lowerLut({ name: 'neg', inputs: [0], outputs: [1], in: t, out: t, fn: undefined as never, fnName: 'neg' })).toThrow(/fn/);
  });
});

const rawCase: fc.Arbitrary<KernelCase<LutNode>> = fc
  .record({ shape, table: fc.array(i8, { minLength: 256, maxLength: 256 }), seed: fc.integer(), inPlace: fc.boolean() })
  .map((c) => {
    const node: LutNode = { op: 'lut', name: 'act', inputs: [0], outputs: [1], table: Int8Array.from(c.table), fn: 'random' };
    const t = { name: 'x', shape: [...c.shape], scale: 1, zeroPoint: 0 };
    const n = c.shape.reduce((a, b) => a * b, 1);
    return { node, graph: graphOf(node, [t, { ...t, name: 'y' }]), inputs: [codes(n, c.seed)], inPlace: c.inPlace };
  });

const DRIVER = caseDriver(
  'tb_lut.h',
  'static int8_t table[256], in[4096], out[4096];',
  String.raw`
    const int32_t in_place = rd(), n = rd();
    int8_t *y = in_place ? in : out;
    rd_s8(table, 256);
    rd_s8(in, n);
    tb_lut_apply_s8(table, in, y, n);
    print_s8(y, n);`,
);

describeC('lut: C tb_lut_apply_s8 is bit-exact with the TS kernel', 'tb_lut', (c) => {
  const cases = once(() => fc.sample(rawCase, { seed: 23, numRuns: 200 }));
  c.itMatchesTs('200 random tables and inputs (half in place), every byte equal', DRIVER, lut, cases, (k) => ints(k.inPlace ? 1 : 0, k.inputs[0]!.length, k.node.table, k.inputs[0]!), 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS (in place when the planner shares the buffer)', lut, () => cases().slice(0, 10).map((k, i) => ({ ...k, inPlace: i % 2 === 1 })), { runtime: ['tb_lut.h'], no: ['state'], timeout: 60_000 });
});

describe('lut: validate', () => {
  const { node, graph } = sampleOne(rawCase, 5);
  const bad = validateErrors(lut, node, graph);
  it('accepts a consistent node', () => expect(() => lut.validate(node, graph)).not.toThrow());
  it('names the node and the field', () => {
    bad({ table: new Int8Array(255) }, 'table');
    bad({ table: new Uint8Array(256) as never }, 'table');
    bad({ fn: 3 as never }, 'fn');
    const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
    bad({}, 'output shape', { ...graph, tensors: [x, { ...y, shape: [...y.shape, 2] }] });
  });
});

describeCortexM(
  'lut',
  { source: '#include "tb_lut.h"\nvoid lut_unit(const int8_t *t, const int8_t *in, int8_t *out, int32_t n);\nvoid lut_unit(const int8_t *t, const int8_t *in, int8_t *out, int32_t n) { tb_lut_apply_s8(t, in, out, n); }\n' },
  'lut_unit',
);
