/**
 * mix_pool: lowering + TS kernel against float64 a*max + (1-a)*mean, the C kernel against the TS
 * kernel byte for byte (lowered and raw random nodes), validate's errors, and a Cortex-M build
 * without float helpers.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import type { Int8Graph, TensorInfo } from '../graph.js';
import { lowerMixPool, mixPool, type MixPoolNode } from './mix-pool.js';
import { caseDriver, CTX, describeC, describeCortexM, emitStub, graphOf, ints, type KernelCase, logUniform, type Of, rng, sampleOne, toCode, validateErrors } from './test-c.js';

const floatCase = fc.record({
  h: fc.integer({ min: 1, max: 12 }),
  w: fc.integer({ min: 1, max: 12 }),
  C: fc.integer({ min: 1, max: 8 }),
  grid: fc.constantFrom(1, 1, 2, 3),
  concat: fc.boolean(),
  mix: fc.oneof(fc.constantFrom(0, 1, 0.5), fc.double({ min: 0, max: 1, noNaN: true })),
  inLo: fc.double({ min: -4, max: 0, noNaN: true }),
  inSpan: logUniform(0.05, 20),
  outShrink: logUniform(0.2, 2),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

/** Float64 reference: per region of the g x g grid (row-major), a*max + (1-a)*mean or [mean, max]. */
function floatPool(xd: Float64Array, [h, w, C]: number[], g: number, mix: number, concat: boolean): Float64Array {
  const [rh, rw] = [h! / g, w! / g];
  const out: number[] = [];
  for (let r = 0; r < g * g; r++) {
    const means: number[] = [];
    const maxes: number[] = [];
    for (let ch = 0; ch < C!; ch++) {
      let max = -Infinity;
      let sum = 0;
      for (let i = 0; i < rh; i++) {
        for (let j = 0; j < rw; j++) {
          const v = xd[((Math.floor(r / g) * rh + i) * w! + (r % g) * rw + j) * C! + ch]!;
          [max, sum] = [Math.max(max, v), sum + v];
        }
      }
      means.push(sum / (rh * rw));
      maxes.push(max);
    }
    out.push(...(concat ? [...means, ...maxes] : means.map((m, ch) => mix * maxes[ch]! + (1 - mix) * m)));
  }
  return Float64Array.from(out);
}

function makeFloatCase(c: Of<typeof floatCase>) {
  const r = rng(c.seed);
  const g = c.grid;
  const [h, w] = [c.h * g, c.w * g];
  const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
  const xq = quantizeArray(Float64Array.from({ length: h * w * c.C }, () => c.inLo + r() * c.inSpan), inQ);
  const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
  const ref = floatPool(xd, [h, w, c.C], g, c.mix, c.concat);
  const outQ = chooseQuantParams(Math.min(...ref) * c.outShrink, Math.max(...ref) * c.outShrink);
  const inInfo = { name: 'x', shape: [h, w, c.C], ...inQ };
  const outInfo = { name: 'p', shape: [ref.length], ...outQ };
  const node = lowerMixPool({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, mix: c.mix, grid: g, concat: c.concat });
  return { node, graph: graphOf(node, [inInfo, outInfo], 'exit'), xq, ref, outQ };
}

describe('mix_pool: lowering + TS kernel vs float64 a*max + (1-a)*mean', () => {
  it('within 0.5 + 1e-6 output LSB of float64 (one rounding)', () => {
    let worst = 0;
    let count = 0;
    fc.assert(
      fc.property(floatCase, (c) => {
        const { node, graph, xq, ref, outQ } = makeFloatCase(c);
        mixPool.validate(node, graph);
        const y = mixPool.run(node, [xq], graph, CTX).outputs[0]!;
        for (let i = 0; i < y.length; i++) {
          worst = Math.max(worst, Math.abs(y[i]! - toCode(ref[i]!, outQ)));
          count++;
        }
      }),
      { seed: 1, numRuns: 300 },
    );
    console.log(`mix_pool: max |int8 - float64| = ${worst.toFixed(6)} LSB over ${count} outputs`);
    expect(worst).toBeLessThanOrEqual(0.5 + 1e-6);
  });

  it('a = 1 is the max, a = 0 the mean (rounded half away from zero), a = 0.25 between', () => {
    const inInfo = { name: 'x', shape: [1, 4, 1], scale: 1, zeroPoint: 0 };
    const outInfo = { name: 'p', shape: [1], scale: 1, zeroPoint: 0 };
    const run = (mix: number, x: number[]) => {
      const node = lowerMixPool({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, mix });
      return mixPool.run(node, [Int8Array.from(x)], graphOf(node, [inInfo, outInfo], 'exit'), CTX).outputs[0]![0];
    };
    expect(run(1, [1, 9, 3, 5])).toBe(9);
    expect(run(0, [1, 9, 3, 5])).toBe(5); // mean 4.5 -> 5
    expect(run(0, [-1, -9, -3, -5])).toBe(-5); // -4.5 -> -5
    expect(run(0.25, [0, 8, 0, 0])).toBe(4); // 0.25*8 + 0.75*2 = 3.5 -> 4
  });

  it('grid 2 with concat: [mean, max] of each quadrant, quadrants row-major', () => {
    const inInfo = { name: 'x', shape: [2, 4, 1], scale: 1, zeroPoint: 0 };
    const outInfo = { name: 'p', shape: [8], scale: 1, zeroPoint: 0 };
    const node = lowerMixPool({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: outInfo, mix: 0.3, grid: 2, concat: true });
    expect(node).toMatchObject({ grid: 2, concat: true });
    // rows [1, 3, 10, 20] / [5, 7, 30, 40]: quadrants (1, 5), (10, 30) on top: h 2 / grid 2 = 1 row each
    const y = mixPool.run(node, [Int8Array.from([1, 3, 10, 20, 5, 7, 30, 40])], graphOf(node, [inInfo, outInfo], 'exit'), CTX).outputs[0]!;
    expect(Array.from(y)).toEqual([2, 3, 15, 20, 6, 7, 35, 40]);
    // no grid, no concat: the node carries neither field (graphs from before stay the same)
    expect(lowerMixPool({ name: 'pool', inputs: [0], outputs: [1], in: inInfo, out: { ...outInfo, shape: [1] }, mix: 0.3 })).not.toHaveProperty('grid');
  });

  it('lowering rejects a mix outside [0, 1] or a grid not dividing H and W (ConfigError)', () => {
    const inInfo = { name: 'x', shape: [1, 4, 1], scale: 1, zeroPoint: 0 };
    expect(() => lowerMixPool({ name: 'p', inputs: [0], outputs: [1], in: inInfo, out: { ...inInfo, shape: [1] }, mix: 1.5 })).toThrow(ConfigError);
    expect(() => lowerMixPool({ name: 'p', inputs: [0], outputs: [1], in: inInfo, out: { ...inInfo, shape: [4] }, mix: 0.5, grid: 2 })).toThrow(
      'lowerMixPool: grid: expected an integer >= 1 dividing H and W of [1, 4, 1], got 2',
    );
  });
});

// ---------------------------------------------------------------- C vs TS

const DRIVER = caseDriver(
  'tb_mix_pool.h',
  'static int8_t xin[70000], xout[4096];',
  String.raw`
    const int32_t h = rd(), w = rd(), c = rd(), g = rd(), cat = rd(), izp = rd(), ozp = rd();
    const int64_t m1 = (int64_t)rd64(), m2 = (int64_t)rd64();
    const int32_t sh = rd();
    rd_s8(xin, h * w * c);
    tb_mix_pool_s8(xin, xout, h, w, c, g, cat, izp, ozp, m1, m2, sh);
    print_s8(xout, g * g * (cat ? 2 : 1) * c);`,
);

const rawCase = fc.record({
  h: fc.integer({ min: 1, max: 10 }),
  w: fc.integer({ min: 1, max: 10 }),
  C: fc.integer({ min: 1, max: 6 }),
  grid: fc.constantFrom(1, 1, 2, 3),
  concat: fc.boolean(),
  izp: fc.integer({ min: -128, max: 127 }),
  ozp: fc.integer({ min: -128, max: 127 }),
  shift: fc.integer({ min: 1, max: 62 }),
  f1: fc.double({ min: 0, max: 1, noNaN: true }),
  f2: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
});

function rawNode(c: Of<typeof rawCase>) {
  const N = c.h * c.w; // one region; the map is (h*grid) x (w*grid)
  const budget = 2 ** 52 / 255 - 1;
  const maxMult = Math.floor(c.f1 ** 4 * budget * 0.5);
  const meanMult = Math.floor((c.f2 ** 4 * budget * 0.5) / N);
  const layout = { ...(c.grid > 1 ? { grid: c.grid } : {}), ...(c.concat ? { concat: true } : {}) };
  const node: MixPoolNode = { op: 'mix_pool', name: 'raw', inputs: [0], outputs: [1], maxMult, meanMult, shift: c.shift, ...layout };
  const r = rng(c.seed);
  const size = N * c.grid * c.grid * c.C;
  const xq = Int8Array.from({ length: size }, (_, i) => (c.seed % 3 === 0 ? (i % 2 ? 127 : -128) : Math.floor(r() * 256) - 128));
  const outSize = c.grid * c.grid * (c.concat ? 2 : 1) * c.C;
  const graph = graphOf(node, [{ name: 'x', shape: [c.h * c.grid, c.w * c.grid, c.C], scale: 1, zeroPoint: c.izp }, { name: 'p', shape: [outSize], scale: 1, zeroPoint: c.ozp }], 'exit');
  return { node, graph, xq };
}

function caseText({ node, graph, inputs }: KernelCase<MixPoolNode>): string {
  const [inT, outT] = graph.tensors as [TensorInfo, TensorInfo];
  return ints(inT.shape[0]!, inT.shape[1]!, inT.shape[2]!, node.grid ?? 1, node.concat ? 1 : 0, inT.zeroPoint, outT.zeroPoint, node.maxMult, node.meanMult, node.shift, inputs[0]!);
}

const kernelCase = ({ node, graph, xq }: { node: MixPoolNode; graph: Int8Graph; xq: Int8Array }): KernelCase<MixPoolNode> => ({ node, graph, inputs: [xq] });

describeC('mix_pool: C kernel is bit-exact with TS', 'tb_mix_pool', (c) => {
  const cases = () => {
    const big = rawNode({ h: 256, w: 256, C: 1, grid: 1, concat: false, izp: -128, ozp: 3, shift: 40, f1: 0.5, f2: 1, seed: 3 });
    return [
      ...fc.sample(floatCase, { seed: 2, numRuns: 150 }).map(makeFloatCase).map(kernelCase),
      ...fc.sample(rawCase, { seed: 3, numRuns: 400 }).map(rawNode).map(kernelCase),
      kernelCase({ ...big, xq: Int8Array.from({ length: 65536 }, () => 127) }),
    ];
  };
  c.itMatchesTs('lowered and raw nodes, every byte equals TS', DRIVER, mixPool, cases, caseText);
  c.itEmittedMatchesTs('the emitted call compiles against tb_mix_pool.h and equals TS', mixPool, () => fc.sample(floatCase, { seed: 7, numRuns: 3 }).map((k) => kernelCase(makeFloatCase(k))));

  it('emitC passes the multipliers as 64-bit literals', () => {
    const { node, graph } = makeFloatCase(sampleOne(floatCase, 4));
    expect(mixPool.emitC(node, emitStub(graph).ctx).call).toMatch(/^tb_mix_pool_s8\(T0, T1, \d+, \d+, \d+, [123], [01], -?\d+, -?\d+, INT64_C\(\d+\), INT64_C\(\d+\), \d+\)$/);
  });
});

describe('mix_pool: validate names the node and the field', () => {
  const { node, graph } = makeFloatCase(sampleOne(floatCase, 5));
  const bad = validateErrors(mixPool, node, graph);
  it('accepts the lowered node', () => expect(() => mixPool.validate(node, graph)).not.toThrow());
  it('fields out of range', () => {
    bad({ shift: 0 }, /shift/);
    bad({ maxMult: 2 ** 52 }, /maxMult/);
    bad({ maxMult: 2 ** 50, meanMult: 2 ** 50 }, /maxMult \/ meanMult/);
    bad({ meanMult: 1.5 }, /meanMult/);
    bad({ grid: 5 }, /grid: expected an integer >= 1 dividing H and W/);
    bad({ concat: 1 as unknown as boolean }, /concat: expected a boolean/);
  });
  it('an output that is not [C]', () => {
    bad({}, /output shape/, { ...graph, tensors: [graph.tensors[0]!, { ...graph.tensors[1]!, shape: [graph.tensors[1]!.shape[0]! + 1] }] });
  });
});

describeCortexM('mix_pool', { file: 'tb_mix_pool.c' }, 'tb_mix_pool_s8');
