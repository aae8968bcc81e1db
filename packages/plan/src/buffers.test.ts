/**
 * planBuffers: property tests over random lifetime sets (valid placement, never worse than the
 * greedy-by-size baseline, at least the lower bound), the baseline against an independent
 * brute-force statement of TFLite's rule, and typed errors.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PlanBuffer, planBuffers } from './buffers.js';

const up = (n: number, a: number) => Math.ceil(n / a) * a;
const conflict = (a: PlanBuffer, b: PlanBuffer) => a.first <= b.last && b.first <= a.last;

/** Every pair alive together occupies disjoint bytes; offsets aligned; everything inside the arena. */
function expectValid(buffers: PlanBuffer[], offsets: number[], arenaSize: number, align: number): void {
  expect(offsets).toHaveLength(buffers.length);
  buffers.forEach((b, i) => {
    expect(offsets[i]! % align).toBe(0);
    expect(offsets[i]!).toBeGreaterThanOrEqual(0);
    expect(offsets[i]! + up(b.size, align)).toBeLessThanOrEqual(arenaSize);
  });
  for (let i = 0; i < buffers.length; i++) {
    for (let j = i + 1; j < buffers.length; j++) {
      const a = buffers[i]!;
      const b = buffers[j]!;
      if (!conflict(a, b) || a.size === 0 || b.size === 0) continue;
      const disjoint = offsets[i]! + a.size <= offsets[j]! || offsets[j]! + b.size <= offsets[i]!;
      if (!disjoint) throw new Error(`buffers ${a.id} and ${b.id} live together and overlap: ${JSON.stringify({ a, b, oa: offsets[i], ob: offsets[j] })}`);
    }
  }
}

/** TFLite greedy-by-size restated: largest first (ties: input order), lowest offset that fits. */
function referenceGreedy(buffers: PlanBuffer[], align: number): number[] {
  const order = buffers.map((_, i) => i).sort((i, j) => up(buffers[j]!.size, align) - up(buffers[i]!.size, align) || i - j);
  const offsets: number[] = new Array(buffers.length).fill(0);
  const placed: number[] = [];
  for (const i of order) {
    const b = buffers[i]!;
    const size = up(b.size, align);
    const others = placed.filter((j) => conflict(buffers[j]!, b) && buffers[j]!.size > 0);
    const candidates = [0, ...others.map((j) => offsets[j]! + up(buffers[j]!.size, align))].sort((x, y) => x - y);
    offsets[i] = size === 0 ? 0 : candidates.find((o) => others.every((j) => o + size <= offsets[j]! || offsets[j]! + up(buffers[j]!.size, align) <= o))!;
    placed.push(i);
  }
  return offsets;
}

const buffersArb = fc
  .array(
    fc.record({
      size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 4096 })),
      first: fc.integer({ min: 0, max: 24 }),
      length: fc.integer({ min: 0, max: 12 }),
    }),
    { maxLength: 40 },
  )
  .map((rs) => rs.map((r, i): PlanBuffer => ({ id: 100 + i, size: r.size, first: r.first, last: r.first + r.length })));
const alignArb = fc.constantFrom(1, 4, 16, 64);

describe('planBuffers', () => {
  it('places lifetime-overlapping buffers in disjoint bytes, <= greedy-by-size, >= the lower bound', () => {
    let strictlyBetter = 0;
    fc.assert(
      fc.property(buffersArb, alignArb, (buffers, align) => {
        const plan = planBuffers(buffers, { align });
        expectValid(buffers, plan.offsets, plan.arenaSize, align);
        expectValid(buffers, plan.greedyBySize.offsets, plan.greedyBySize.arenaSize, align);
        expect(plan.arenaSize).toBeLessThanOrEqual(plan.greedyBySize.arenaSize);
        expect(plan.arenaSize).toBeGreaterThanOrEqual(plan.lowerBound);
        expect(plan.arenaSize % align).toBe(0);
        expect(plan.candidates.find((c) => c.method === plan.method)!.arenaSize).toBe(plan.arenaSize);
        expect(Math.min(...plan.candidates.map((c) => c.arenaSize))).toBe(plan.arenaSize);
        if (plan.arenaSize < plan.greedyBySize.arenaSize) strictlyBetter++;
      }),
      { seed: 1, numRuns: 300 },
    );
    // the extra heuristics are not dead weight: on random sets they beat the baseline sometimes
    expect(strictlyBetter).toBeGreaterThan(0);
  });

  it('the greedy-by-size baseline is TFLite rule restated (brute force over candidate offsets)', () => {
    fc.assert(
      fc.property(buffersArb, alignArb, (buffers, align) => {
        const plan = planBuffers(buffers, { align });
        expect(plan.greedyBySize.offsets).toEqual(referenceGreedy(buffers, align));
      }),
      { seed: 2, numRuns: 200 },
    );
  });

  it('the lower bound is the peak of aligned live bytes (checked step by step)', () => {
    fc.assert(
      fc.property(buffersArb, alignArb, (buffers, align) => {
        let peak = 0;
        for (let t = 0; t <= 40; t++) peak = Math.max(peak, buffers.filter((b) => b.first <= t && t <= b.last).reduce((s, b) => s + up(b.size, align), 0));
        expect(planBuffers(buffers, { align }).lowerBound).toBe(peak);
      }),
      { seed: 3, numRuns: 100 },
    );
  });

  it('simple cases: disjoint lifetimes share offset 0; all-overlapping buffers stack', () => {
    const chain = [0, 1, 2, 3].map((i) => ({ id: i, size: 10 * (i + 1), first: i, last: i }));
    const p = planBuffers(chain, { align: 16 });
    expect(p.offsets).toEqual([0, 0, 0, 0]);
    expect(p.arenaSize).toBe(48);
    expect(p.lowerBound).toBe(48);
    const stack = [0, 1, 2].map((i) => ({ id: i, size: 100, first: 0, last: 5 }));
    const s = planBuffers(stack, { align: 4 });
    expect([...s.offsets].sort((a, b) => a - b)).toEqual([0, 100, 200]);
    expect(s.arenaSize).toBe(300);
    expect(planBuffers([]).arenaSize).toBe(0);
  });

  it('a chain x -> y -> z where x and z can share: planner reuses the freed bytes', () => {
    // a: steps 0-1, b: 1-2, c: 2-3 -> a and c never live together
    const bufs = [
      { id: 0, size: 64, first: 0, last: 1 },
      { id: 1, size: 32, first: 1, last: 2 },
      { id: 2, size: 64, first: 2, last: 3 },
    ];
    const p = planBuffers(bufs, { align: 16 });
    expect(p.offsets[0]).toBe(p.offsets[2]);
    expect(p.arenaSize).toBe(96);
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(buffersArb, (buffers) => {
        expect(planBuffers(buffers)).toEqual(planBuffers(buffers));
      }),
      { seed: 4, numRuns: 30 },
    );
  });

  it('typed errors for bad input', () => {
    expect(() => planBuffers([], { align: 0 })).toThrow(ConfigError);
    expect(() => planBuffers([], { align: 1.5 })).toThrow(/align/);
    expect(() => planBuffers([{ id: 1, size: 4, first: 0, last: 0 }, { id: 1, size: 4, first: 0, last: 0 }])).toThrow(DataError);
    expect(() => planBuffers([{ id: 1, size: 4, first: 3, last: 2 }])).toThrow(/buffers\[0\]\.last/);
    expect(() => planBuffers([{ id: 1, size: -1, first: 0, last: 2 }])).toThrow(/buffers\[0\]\.size/);
    expect(() => planBuffers([{ id: 1, size: 4, first: -1, last: 2 }])).toThrow(/buffers\[0\]\.first/);
    expect(() => planBuffers(null as unknown as PlanBuffer[])).toThrow(DataError);
  });
});
