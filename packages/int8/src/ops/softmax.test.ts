/**
 * softmax: the TS kernel against float softmax of the dequantized codes (within one output step),
 * probabilities summing to ~1, the argmax kept; the C kernel against the TS kernel byte for
 * byte, the emitted call compiled and run, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseDriver, CTX, describeC, describeCortexM, graphOf, i8, ints, type KernelCase, once, validateErrors } from './test-c.js';
import { lowerSoftmax, softmax, SOFTMAX_OUTPUT, type SoftmaxNode } from './softmax.js';

const softmaxCase: fc.Arbitrary<KernelCase<SoftmaxNode>> = fc
  .record({
    rows: fc.integer({ min: 1, max: 4 }),
    depth: fc.integer({ min: 1, max: 40 }),
    scale: fc.double({ min: 0.005, max: 0.5, noNaN: true }),
    zp: i8,
    values: fc.array(i8, { minLength: 160, maxLength: 160 }),
  })
  .map((c) => {
    const inInfo = { name: 'x', shape: [c.rows, c.depth], scale: c.scale, zeroPoint: c.zp };
    const outInfo = { name: 'y', shape: [c.rows, c.depth], ...SOFTMAX_OUTPUT };
    const node = lowerSoftmax({ name: 'sm', inputs: [0], outputs: [1], in: inInfo, out: outInfo });
    return { node, graph: graphOf(node, [inInfo, outInfo]), inputs: [Int8Array.from(c.values.slice(0, c.rows * c.depth))] };
  });

describe('softmax: TS kernel vs float softmax', () => {
  it('within one output step of 256 * softmax - 128, the argmax kept, rows summing to ~1', () => {
    fc.assert(
      fc.property(softmaxCase, ({ node, graph, inputs }) => {
        softmax.validate(node, graph);
        const x = inputs[0]!;
        const { scale } = graph.tensors[0]!;
        const y = softmax.run(node, inputs, graph, CTX).outputs[0]!;
        for (let r = 0; r < x.length; r += node.depth) {
          const row = Array.from(x.subarray(r, r + node.depth), (q) => q * scale);
          const m = Math.max(...row);
          const e = row.map((v) => Math.exp(v - m));
          const s = e.reduce((a, b) => a + b, 0);
          let total = 0;
          e.forEach((v, i) => {
            const want = Math.min((256 * v) / s - 128, 127);
            expect(Math.abs(y[r + i]! - want)).toBeLessThanOrEqual(1);
            total += (y[r + i]! + 128) / 256;
          });
          expect(Math.abs(total - 1)).toBeLessThanOrEqual(node.depth / 256 + 1 / 256);
          const best = x.subarray(r, r + node.depth).reduce((b, q, i, a) => (q > a[b]! ? i : b), 0);
          expect(y[r + best]).toBe(Math.max(...y.subarray(r, r + node.depth)));
        }
        return true;
      }),
      { seed: 3, numRuns: 200 },
    );
  });

  it('lowering takes only the TFLite output quantization and a last axis it can sum', () => {
    const inInfo = { name: 'x', shape: [10], scale: 0.1, zeroPoint: 0 };
    const args = { name: 'sm', inputs: [0], outputs: [1], in: inInfo, out: { name: 'y', shape: [10], ...SOFTMAX_OUTPUT } };
    expect(lowerSoftmax(args).expTable[0]).toBe(65536);
    expect(() => lowerSoftmax({ ...args, out: { ...args.out, scale: 0.01 } })).toThrow(ConfigError);
    expect(() => lowerSoftmax({ ...args, in: { ...inInfo, shape: [40000] }, out: { ...args.out, shape: [40000] } })).toThrow(/last axis of 1 to 32768/);
  });
});

const DRIVER = caseDriver(
  'tb_softmax.h',
  'static int8_t in[4096], out[4096]; static int32_t table[256];',
  String.raw`
    int32_t rows = rd(), depth = rd();
    rd_s32(table, 256);
    rd_s8(in, rows * depth);
    tb_softmax_s8(in, out, table, rows, depth);
    print_s8(out, rows * depth);`,
);

const caseText = ({ node, graph, inputs }: KernelCase<SoftmaxNode>) => ints(graph.tensors[0]!.shape[0]!, node.depth, node.expTable, inputs[0]!);

describeC('softmax: C tb_softmax_s8 is bit-exact with the TS kernel', 'tb_softmax', (c) => {
  const cases = once(() => fc.sample(softmaxCase, { seed: 23, numRuns: 400 }));
  c.itMatchesTs('400 random cases, every byte equal', DRIVER, softmax, cases, caseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', softmax, () => cases().slice(0, 12), { runtime: ['tb_softmax.h'], no: ['state'], timeout: 60_000 });
});

describe('softmax: validate', () => {
  const { node, graph } = fc.sample(softmaxCase, { seed: 2, numRuns: 1 })[0]!;
  const bad = validateErrors(softmax, node, graph);
  it('names the node and the field', () => {
    bad({ depth: 0 }, 'depth');
    bad({ expTable: new Int32Array(10) }, 'expTable');
    bad({ expTable: Int32Array.from({ length: 256 }, (_, i) => i) }, 'expTable');
  });
});

describeCortexM('softmax', { file: 'tb_softmax.c' }, 'tb_softmax_s8');
