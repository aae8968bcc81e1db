/**
 * max_pool2d: TS kernel against the float max over the in-bounds window (exact: one grid for
 * input and output), the C kernel against the TS kernel byte for byte, the emitted call compiled
 * and run, and a Cortex-M build.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lowerMaxPool2d, maxPool2d, type MaxPool2dNode } from './max-pool2d.js';
import { CTX, describeC, describeCortexM, geometry, graphOf, i8, type KernelCase, once, poolCaseText, poolDriver } from './test-c.js';

const maxCase: fc.Arbitrary<KernelCase<MaxPool2dNode>> = fc
  .record({
    H: fc.integer({ min: 1, max: 10 }),
    W: fc.integer({ min: 1, max: 10 }),
    C: fc.integer({ min: 1, max: 5 }),
    PH: fc.integer({ min: 1, max: 4 }),
    PW: fc.integer({ min: 1, max: 4 }),
    SH: fc.integer({ min: 1, max: 3 }),
    SW: fc.integer({ min: 1, max: 3 }),
    padding: fc.constantFrom('same' as const, 'valid' as const),
    zp: i8,
    clamp: fc.option(fc.tuple(i8, i8), { nil: undefined }),
    values: fc.array(i8, { minLength: 500, maxLength: 500 }),
  })
  .filter((c) => c.padding === 'same' || (c.PH <= c.H && c.PW <= c.W))
  .map((c) => {
    const gy = geometry(c.H, c.PH, c.SH, c.padding);
    const gx = geometry(c.W, c.PW, c.SW, c.padding);
    const inInfo = { name: 'x', shape: [c.H, c.W, c.C], scale: 0.1, zeroPoint: c.zp };
    const outInfo = { name: 'y', shape: [gy.out, gx.out, c.C], scale: 0.1, zeroPoint: c.zp };
    const node = lowerMaxPool2d({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, poolSize: [c.PH, c.PW], strides: [c.SH, c.SW], padding: c.padding });
    const [lo, hi] = c.clamp ? [Math.min(...c.clamp), Math.max(...c.clamp)] : [-128, 127];
    return { node: { ...node, actMin: lo, actMax: hi }, graph: graphOf(node, [inInfo, outInfo]), inputs: [Int8Array.from(c.values.slice(0, c.H * c.W * c.C))] };
  });

describe('max_pool2d: TS kernel vs the max over the window', () => {
  it('equals the largest in-bounds code (padding never read), clamped', () => {
    fc.assert(
      fc.property(maxCase, ({ node, graph, inputs }) => {
        maxPool2d.validate(node, graph);
        const [H, W, C] = graph.tensors[0]!.shape as [number, number, number];
        const [OH, OW] = graph.tensors[1]!.shape as [number, number, number];
        const y = maxPool2d.run(node, inputs, graph, CTX).outputs[0]!;
        for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let c = 0; c < C; c++) {
          let m = -Infinity;
          for (let ky = 0; ky < node.poolSize[0]; ky++) for (let kx = 0; kx < node.poolSize[1]; kx++) {
            const iy = oy * node.strides[0] - node.padding.top + ky;
            const ix = ox * node.strides[1] - node.padding.left + kx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) m = Math.max(m, inputs[0]![(iy * W + ix) * C + c]!);
          }
          expect(y[(oy * OW + ox) * C + c]).toBe(Math.min(Math.max(m, node.actMin), node.actMax));
        }
        return true;
      }),
      { seed: 8, numRuns: 150 },
    );
  });

  it('a window of negatives next to the padding stays negative (padding is not a zero tap)', () => {
    const inInfo = { name: 'x', shape: [1, 3, 1], scale: 0.1, zeroPoint: 0 };
    const outInfo = { name: 'y', shape: [1, 3, 1], scale: 0.1, zeroPoint: 0 };
    const node = lowerMaxPool2d({ name: 'p', inputs: [0], outputs: [1], in: inInfo, out: outInfo, poolSize: [1, 3], strides: [1, 1], padding: 'same' });
    expect(Array.from(maxPool2d.run(node, [Int8Array.from([-5, -9, -7])], graphOf(node, [inInfo, outInfo]), CTX).outputs[0]!)).toEqual([-5, -5, -7]);
  });
});

const DRIVER = poolDriver('tb_max_pool2d.h', 'tb_max_pool2d_s8');

describeC('max_pool2d: C tb_max_pool2d_s8 is bit-exact with the TS kernel', 'tb_max_pool2d', (c) => {
  const cases = once(() => fc.sample(maxCase, { seed: 19, numRuns: 400 }));
  c.itMatchesTs('400 random cases, every byte equal', DRIVER, maxPool2d, cases, poolCaseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', maxPool2d, () => cases().slice(0, 12), { runtime: ['tb_avg_pool2d.h', 'tb_max_pool2d.h'], no: ['data', 'state'], timeout: 60_000 });
});

describeCortexM('max_pool2d', { file: 'tb_max_pool2d.c' }, 'tb_max_pool2d_s8');
