/**
 * add: lowering (TFLite's add.cc parameters) + TS kernel against float64 addition, the C kernel
 * against the TS kernel byte for byte (separate output and in place), the emitted call compiled
 * and run, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TensorInfo } from '../graph.js';
import { add, type AddNode, lowerAdd } from './add.js';
import { act, caseDriver, CTX, describeC, describeCortexM, graphOf, i8, ints, type KernelCase, lcg, once, sampleOne, tsLine, validateErrors } from './test-c.js';

const scale = fc.double({ min: 1e-3, max: 1, noNaN: true });
const shape = fc.oneof(fc.tuple(fc.integer({ min: 1, max: 40 })), fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 })));

describe('add: lowering + TS kernel vs float64 addition', () => {
  it('within 1 output LSB of sA*(a - zpA) + sB*(b - zpB) (output rounding 0.5 + double rounding 0.5; 2^-20 input steps negligible)', () => {
    let clamped = 0;
    fc.assert(
      fc.property(shape, scale, i8, scale, i8, fc.double({ min: 0.3, max: 3, noNaN: true }), i8, fc.constantFrom('linear' as const, 'relu' as const, 'relu6' as const), fc.integer(), (s, sA, zA, sB, zB, outRatio, zOut, activation, seed) => {
        const n = s.reduce((p, q) => p * q, 1);
        const next = lcg(seed);
        const a = Int8Array.from({ length: n }, next);
        const b = Int8Array.from({ length: n }, next);
        const sOut = ((sA + sB) * outRatio) / 2; // output grid somewhat coarser or finer than the inputs
        const tA = { name: 'a', shape: [...s], scale: sA, zeroPoint: zA };
        const tB = { name: 'b', shape: [...s], scale: sB, zeroPoint: zB };
        const tO = { name: 'y', shape: [...s], scale: sOut, zeroPoint: zOut };
        const node = lowerAdd({ name: 'add', inputs: [0, 1], outputs: [2], in: [tA, tB], out: tO, activation });
        const graph = graphOf(node, [tA, tB, tO]);
        add.validate(node, graph);
        const y = add.run(node, [a, b], graph, CTX).outputs[0]!;
        for (let i = 0; i < n; i++) {
          const real = act(activation, sA * (a[i]! - zA) + sB * (b[i]! - zB));
          const want = Math.min(127, Math.max(-128, real / sOut + zOut));
          if (want === -128 || want === 127 || (activation !== 'linear' && real === 0)) clamped++;
          expect(Math.abs(y[i]! - want), `i ${i}: ${y[i]} vs ${want}`).toBeLessThanOrEqual(1);
        }
        return true;
      }),
      { seed: 5, numRuns: 200 },
    );
    expect(clamped).toBeGreaterThan(0);
  });

  it("lowering computes TFLite's parameters", () => {
    const tA = { name: 'a', shape: [4], scale: 0.02, zeroPoint: 3 };
    const tB = { name: 'b', shape: [4], scale: 0.05, zeroPoint: -7 };
    const tO = { name: 'y', shape: [4], scale: 0.08, zeroPoint: 1 };
    const n = lowerAdd({ name: 'add', inputs: [0, 1], outputs: [2], in: [tA, tB], out: tO });
    expect(n.leftShift).toBe(20);
    // 0.02 / 0.1 = 0.2 = 0.8 * 2^-2; 0.05 / 0.1 = 0.5 = 0.5 * 2^0; 0.1 / (2^20 * 0.08) = 0.625 * 2^-19
    expect([n.aMultiplier, n.aShift]).toEqual([Math.round(0.8 * 2 ** 31), -2]);
    expect([n.bMultiplier, n.bShift]).toEqual([2 ** 30, 0]);
    expect([n.outMultiplier, n.outShift]).toEqual([Math.round(0.625 * 2 ** 31), -19]);
    expect([n.actMin, n.actMax]).toEqual([-128, 127]);
    expect(add.inPlace).toBe(true);
    expect(add.macs(n, graphOf(n, [tA, tB, tO]))).toBe(0);
    // 0.02*(10-3) + 0 = 0.14 -> /0.08 = 1.75 -> 2, +1; 0.05*20 = 1 -> 12.5 -> 13 (half away), +1;
    // 0.02*(-131) + 0.05*(-121) = -8.67 -> -108.375 -> -108, +1
    expect(add.run(n, [Int8Array.from([10, 3, 3, -128]), Int8Array.from([-7, -7, 13, -128])], graphOf(n, [tA, tB, tO]), CTX).outputs[0]).toEqual(Int8Array.from([3, 1, 14, -107]));
    expect(() => lowerAdd({ name: 'add', inputs: [0, 1], outputs: [2], in: [tA, { ...tB, shape: [1] }], out: tO })).toThrow(/in\[1\]\.shape/);
    expect(() => lowerAdd({ name: 'add', inputs: [0, 1], outputs: [2], in: [tA, tB], out: { ...tO, scale: 1e-9 } })).toThrow(ConfigError);
    expect(() => lowerAdd({ name: 'add', inputs: [0, 1], outputs: [2], in: [tA, tB], out: tO, activation: 'sigmoid' as never })).toThrow(/activation/);
  });
});

/** inputs [a, b]; mode 0: a separate output, 1: out == a, 2: out == b. */
type RawCase = KernelCase<AddNode> & { mode: number };

const rawCase: fc.Arbitrary<RawCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 200 }),
    zps: fc.tuple(i8, i8, i8),
    leftShift: fc.oneof(fc.constant(20), fc.integer({ min: 0, max: 22 })),
    a: fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: -31, max: 0 })),
    b: fc.tuple(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: -31, max: 0 })),
    out: fc.tuple(fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), fc.integer({ min: -31, max: 0 })),
    act: fc.tuple(i8, i8),
    clampIt: fc.boolean(),
    mode: fc.integer({ min: 0, max: 2 }),
    seed: fc.integer(),
  })
  .map((c) => {
    const next = lcg(c.seed);
    const [lo, hi] = c.act[0] <= c.act[1] ? c.act : [c.act[1], c.act[0]];
    // shifts near -(leftShift + 8) keep outputs mostly inside int8, so the clamp is not all there is
    const outShift = c.out[1] < -20 ? c.out[1] : -Math.min(31, c.leftShift + 1 + (-c.out[1] % 4));
    const node: AddNode = {
      op: 'add',
      name: 'add',
      inputs: [0, 1],
      outputs: [2],
      leftShift: c.leftShift,
      aMultiplier: c.a[0],
      aShift: c.a[1],
      bMultiplier: c.b[0],
      bShift: c.b[1],
      outMultiplier: c.out[0],
      outShift,
      actMin: c.clampIt ? lo : -128,
      actMax: c.clampIt ? hi : 127,
    };
    const t = (name: string, zp: number) => ({ name, shape: [c.n], scale: 1, zeroPoint: zp });
    const graph = graphOf(node, [t('a', c.zps[0]), t('b', c.zps[1]), t('y', c.zps[2])]);
    return { node, graph, inputs: [Int8Array.from({ length: c.n }, next), Int8Array.from({ length: c.n }, next)], mode: c.mode };
  });

const DRIVER = caseDriver(
  'tb_add.h',
  'static int8_t a[4096], b[4096], out[4096];',
  String.raw`
    tb_add_params p;
    int8_t *y;
    const int32_t mode = rd(), n = rd();
    p.a_zp = rd(); p.b_zp = rd(); p.out_zp = rd(); p.left_shift = rd();
    p.a_multiplier = rd(); p.a_shift = rd(); p.b_multiplier = rd(); p.b_shift = rd();
    p.out_multiplier = rd(); p.out_shift = rd(); p.act_min = rd(); p.act_max = rd();
    rd_s8(a, n);
    rd_s8(b, n);
    y = mode == 1 ? a : mode == 2 ? b : out;
    tb_add_s8(a, b, y, n, &p);
    print_s8(y, n);`,
);

function caseText({ node, graph, inputs: [a, b], mode }: RawCase): string {
  const z = graph.tensors.map((t) => t.zeroPoint);
  return ints(mode, a!.length, z, node.leftShift, node.aMultiplier, node.aShift, node.bMultiplier, node.bShift, node.outMultiplier, node.outShift, node.actMin, node.actMax, a!, b!);
}

describeC('add: C tb_add_s8 is bit-exact with the TS kernel', 'tb_add', (c) => {
  const cases = once(() => fc.sample(rawCase, { seed: 19, numRuns: 500 }));

  it('the cases are not dominated by the clamp', () => {
    const values = cases().flatMap((k) => tsLine(add, k).split(' ').map(Number));
    expect(values.filter((v) => v > -128 && v < 127).length / values.length).toBeGreaterThan(0.3);
  });

  c.itMatchesTs('500 random cases (a third in place on a, a third on b), every byte equal', DRIVER, add, cases, caseText, 60_000);
  // odd cases: the planner shares input 0's buffer with the output
  c.itEmittedMatchesTs('the emitted call compiles and matches TS (in place when the planner shares the buffer)', add, () => cases().slice(0, 12).map((k, i) => ({ ...k, inPlace: i % 2 === 1 })), { runtime: ['tb_add.h'], no: ['data', 'state'], timeout: 60_000 });
});

describe('add: validate', () => {
  const { node, graph } = sampleOne(rawCase, 5);
  const bad = validateErrors(add, node, graph);
  it('accepts a consistent node', () => expect(() => add.validate(node, graph)).not.toThrow());
  it('names the node and the field', () => {
    bad({ leftShift: 23 }, 'leftShift');
    bad({ aShift: 1 }, 'aShift');
    bad({ bMultiplier: -1 }, 'bMultiplier');
    bad({ outMultiplier: 2 ** 31 }, 'outMultiplier');
    bad({ actMin: 1.5 }, 'actMin');
    bad({ inputs: [0] }, 'inputs');
    const [a, b, y] = graph.tensors as [TensorInfo, TensorInfo, TensorInfo];
    bad({}, 'input 1 shape', { ...graph, tensors: [a, { ...b, shape: [1, ...b.shape] }, y] });
  });
});

describeCortexM('add', { file: 'tb_add.c' }, 'tb_add_s8');
