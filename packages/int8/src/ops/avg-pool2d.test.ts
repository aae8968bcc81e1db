/**
 * avg_pool2d: TS kernel against a float64 mean over the in-bounds window (padding not counted),
 * TFLite's rounding on a worked example, the C kernel against the TS kernel byte for byte, the
 * emitted call compiled and run, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TensorInfo } from '../graph.js';
import { avgPool2d, type AvgPool2dNode, lowerAvgPool2d } from './avg-pool2d.js';
import { CTX, describeC, describeCortexM, geometry, graphOf, i8, type KernelCase, type Of, once, poolCaseText, poolDriver, sampleOne, validateErrors } from './test-c.js';

const poolCase = fc
  .record({
    H: fc.integer({ min: 1, max: 10 }),
    W: fc.integer({ min: 1, max: 10 }),
    C: fc.integer({ min: 1, max: 5 }),
    PH: fc.integer({ min: 1, max: 4 }),
    PW: fc.integer({ min: 1, max: 4 }),
    strides: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { nil: undefined }),
    padding: fc.constantFrom('same' as const, 'valid' as const),
    scale: fc.double({ min: 1e-3, max: 1, noNaN: true }),
    zp: i8,
    values: fc.array(i8, { minLength: 1000, maxLength: 1000 }),
  })
  .filter((c) => c.padding === 'same' || (c.PH <= c.H && c.PW <= c.W));

function lowered(c: Of<typeof poolCase>) {
  const [SH, SW] = c.strides ?? [c.PH, c.PW];
  const gy = geometry(c.H, c.PH, SH, c.padding);
  const gx = geometry(c.W, c.PW, SW, c.padding);
  const inInfo = { name: 'x', shape: [c.H, c.W, c.C], scale: c.scale, zeroPoint: c.zp };
  const outInfo = { name: 'y', shape: [gy.out, gx.out, c.C], scale: c.scale, zeroPoint: c.zp };
  const node = lowerAvgPool2d({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, poolSize: [c.PH, c.PW], ...(c.strides ? { strides: c.strides } : {}), padding: c.padding });
  const input = Int8Array.from(c.values.slice(0, c.H * c.W * c.C));
  return { node, graph: graphOf(node, [inInfo, outInfo]), input, gy, gx, SH, SW };
}

describe('avg_pool2d: TS kernel vs a float64 mean', () => {
  it('within 0.5 LSB of the float mean over the in-bounds taps (rounding only; input and output share the grid)', () => {
    let partial = 0;
    fc.assert(
      fc.property(poolCase, (c) => {
        const { node, graph, input, gy, gx, SH, SW } = lowered(c);
        avgPool2d.validate(node, graph);
        const y = avgPool2d.run(node, [input], graph, CTX).outputs[0]!;
        expect(y.length).toBe(gy.out * gx.out * c.C);
        for (let oy = 0; oy < gy.out; oy++) {
          for (let ox = 0; ox < gx.out; ox++) {
            for (let ch = 0; ch < c.C; ch++) {
              let s = 0;
              let n = 0;
              for (let ky = 0; ky < c.PH; ky++) {
                for (let kx = 0; kx < c.PW; kx++) {
                  const iy = oy * SH - gy.pad + ky;
                  const ix = ox * SW - gx.pad + kx;
                  if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                  s += c.scale * (input[(iy * c.W + ix) * c.C + ch]! - c.zp);
                  n++;
                }
              }
              if (n < c.PH * c.PW) partial++;
              const want = s / n / c.scale + c.zp;
              const got = y[(oy * gx.out + ox) * c.C + ch]!;
              expect(Math.abs(got - want), `case ${JSON.stringify({ ...c, values: undefined })}: ${got} vs ${want}`).toBeLessThanOrEqual(0.5 + 1e-9);
            }
          }
        }
        return true;
      }),
      { seed: 4, numRuns: 150 },
    );
    expect(partial).toBeGreaterThan(0); // windows cut by 'same' padding were exercised
  });

  it('TFLite rounding on raw codes: half away from zero; padding not counted', () => {
    const inInfo = { name: 'x', shape: [1, 4, 1], scale: 0.5, zeroPoint: 10 };
    const outInfo = { name: 'y', shape: [1, 2, 1], scale: 0.5, zeroPoint: 10 };
    const node = lowerAvgPool2d({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, poolSize: [1, 2], padding: 'valid' });
    expect(node.strides).toEqual([1, 2]); // default: poolSize
    const g = graphOf(node, [inInfo, outInfo]);
    expect(Array.from(avgPool2d.run(node, [Int8Array.from([1, 2, -1, -2])], g, CTX).outputs[0]!)).toEqual([2, -2]);
    expect(Array.from(avgPool2d.run(node, [Int8Array.from([-3, 4, 127, 126])], g, CTX).outputs[0]!)).toEqual([1, 127]);
    // 3-wide 'same' window at the border averages 2 taps, not 3 (TFLite excludes padding)
    const same = lowerAvgPool2d({ name: 'p', inputs: [0], outputs: [1], in: inInfo, out: { ...outInfo, shape: [1, 4, 1] }, poolSize: [1, 3], strides: [1, 1], padding: 'same' });
    const ys = avgPool2d.run(same, [Int8Array.from([9, 3, 0, 60])], graphOf(same, [inInfo, { ...outInfo, shape: [1, 4, 1] }]), CTX).outputs[0]!;
    expect(Array.from(ys)).toEqual([6, 4, 21, 30]);
    expect(avgPool2d.macs(same, g)).toBe(0);
  });

  it('lowering requires the input scale and zero point on the output', () => {
    const inInfo = { name: 'x', shape: [4, 4, 2], scale: 0.5, zeroPoint: 10 };
    const args = { name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: { ...inInfo, shape: [2, 2, 2] }, poolSize: [2, 2] as [number, number], padding: 'valid' as const };
    expect(() => lowerAvgPool2d(args)).not.toThrow();
    expect(() => lowerAvgPool2d({ ...args, out: { ...args.out, scale: 0.25 } })).toThrow(ConfigError);
    expect(() => lowerAvgPool2d({ ...args, out: { ...args.out, scale: 0.25 } })).toThrow(/out\.scale/);
    expect(() => lowerAvgPool2d({ ...args, out: { ...args.out, zeroPoint: 0 } })).toThrow(/out\.zeroPoint/);
    expect(() => lowerAvgPool2d({ ...args, out: { ...args.out, shape: [3, 3, 2] } })).toThrow(/out\.shape/);
  });
});

/** Raw nodes: random strides (not only poolSize) and random clamps. */
const rawCase: fc.Arbitrary<KernelCase<AvgPool2dNode>> = fc
  .tuple(poolCase, fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), fc.tuple(i8, i8), fc.boolean())
  .map(([c, strides, act, clampIt]) => {
    const { node, graph, input } = lowered({ ...c, strides });
    const [lo, hi] = act[0] <= act[1] ? act : [act[1], act[0]];
    return { node: clampIt ? { ...node, actMin: lo, actMax: hi } : node, graph, inputs: [input] };
  });

const DRIVER = poolDriver('tb_avg_pool2d.h', 'tb_avg_pool2d_s8');

describeC('avg_pool2d: C tb_avg_pool2d_s8 is bit-exact with the TS kernel', 'tb_avg_pool2d', (c) => {
  const cases = once(() => fc.sample(rawCase, { seed: 17, numRuns: 400 }));
  c.itMatchesTs('400 random cases, every byte equal', DRIVER, avgPool2d, cases, poolCaseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', avgPool2d, () => cases().slice(0, 12), { runtime: ['tb_avg_pool2d.h'], no: ['data', 'state'], timeout: 60_000 });
});

describe('avg_pool2d: validate', () => {
  const { node, graph } = sampleOne(rawCase, 5);
  const bad = validateErrors(avgPool2d, node, graph);
  it('accepts a consistent node', () => expect(() => avgPool2d.validate(node, graph)).not.toThrow());
  it('names the node and the field', () => {
    bad({ poolSize: [0, 1] }, 'poolSize');
    bad({ strides: [1] as never }, 'strides');
    bad({ padding: { top: node.poolSize[0], left: 0 } }, 'padding.top');
    bad({ actMin: 5, actMax: 4 }, 'actMax');
    const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
    bad({}, 'output scale', { ...graph, tensors: [x, { ...y, scale: y.scale * 2 }] });
    bad({}, 'output zeroPoint', { ...graph, tensors: [x, { ...y, zeroPoint: y.zeroPoint === 0 ? 1 : 0 }] });
    bad({}, 'output width', { ...graph, tensors: [x, { ...y, shape: [y.shape[0]!, y.shape[1]! + 20, y.shape[2]!] }] });
  });
});

describeCortexM('avg_pool2d', { file: 'tb_avg_pool2d.c' }, 'tb_avg_pool2d_s8');
