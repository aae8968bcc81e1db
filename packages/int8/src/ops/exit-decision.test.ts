/**
 * exit_decision: the integer rule against the float rule (max softmax >= tau on the dequantized
 * logits) outside the stated margin, the C kernel against TS, validate's errors, and a Cortex-M
 * build without float helpers.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exitDecision, type ExitDecisionNode, lowerExitDecision } from './exit-decision.js';
import { caseDriver, CTX, describeC, describeCortexM, emitStub, graphOf, ints, type KernelCase, type Of, tsLine, validateErrors } from './test-c.js';

const caseArb = fc.record({
  K: fc.integer({ min: 1, max: 100 }),
  scale: fc.double({ min: Math.log(0.005), max: Math.log(2), noNaN: true }).map(Math.exp),
  zp: fc.integer({ min: -128, max: 127 }),
  codes: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: 100, maxLength: 100 }),
  spread: fc.integer({ min: 1, max: 256 }),
  tauKind: fc.constantFrom('random', 'near', 'near', 'edge'),
  tauRandom: fc.double({ min: 0, max: 1, noNaN: true }),
  nearDelta: fc.tuple(fc.constantFrom(-1, 1), fc.double({ min: Math.log(1e-4), max: Math.log(0.05), noNaN: true })).map(([s, l]) => s * Math.exp(l)),
  edge: fc.constantFrom(-1, 0, 1, 1.5, 1e-9),
});

function makeCase(c: Of<typeof caseArb>) {
  const q = Int8Array.from(c.codes.slice(0, c.K), (v) => Math.max(-128, 127 - (((v + 128) % c.spread) | 0)));
  const l = Array.from(q, (v) => c.scale * (v - c.zp));
  const lmax = Math.max(...l);
  const sumExp = l.reduce((a, v) => a + Math.exp(v - lmax), 0);
  const tau = c.tauKind === 'random' ? c.tauRandom : c.tauKind === 'near' ? (1 / sumExp) * (1 + c.nearDelta) : c.edge;
  const info = { name: 'logits', shape: [c.K], scale: c.scale, zeroPoint: c.zp };
  const node = lowerExitDecision({ name: 'exit0', inputs: [0], outputs: [], in: info, threshold: tau });
  return { node, graph: graphOf(node, [info], 'exit'), q, sumExp, tau };
}

describe('exit_decision: the integer rule vs max softmax >= tau on the dequantized logits', () => {
  it('equal except within |Σexp - 1/tau| <= (K/2 + 1)/2^16; thresholds near the boundary included', () => {
    let agree = 0;
    let inMargin = 0;
    let exits = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const { node, graph, q, sumExp, tau } = makeCase(c);
        exitDecision.validate(node, graph);
        const r = exitDecision.run(node, [q], graph, CTX);
        expect(r.outputs).toEqual([]);
        const floatExit = tau <= 0 || 1 / sumExp >= tau;
        const margin = (c.K / 2 + 1) / 65536;
        if (tau > 0 && Math.abs(sumExp - 1 / tau) <= margin) inMargin++;
        else {
          expect(r.exit).toBe(floatExit);
          agree++;
        }
        if (r.exit) exits++;
      }),
      { seed: 1, numRuns: 3000 },
    );
    console.log(`exit_decision: ${agree} decisions equal to float, ${inMargin} inside the margin (not compared), ${exits} exits`);
    expect(agree).toBeGreaterThan(2000);
    expect(exits).toBeGreaterThan(300);
    expect(3000 - exits).toBeGreaterThan(300);
  });

  it('tau <= 0 always exits, tau > 1 never, tau = 1 only when every other logit is far below', () => {
    const info = { name: 'logits', shape: [3], scale: 0.1, zeroPoint: 0 };
    const decide = (tau: number, q: number[]) => {
      const node = lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: tau });
      return exitDecision.run(node, [Int8Array.from(q)], graphOf(node, [info], 'exit'), CTX).exit;
    };
    expect(decide(0, [0, 0, 0])).toBe(true);
    expect(decide(-2, [0, 0, 0])).toBe(true);
    expect(decide(1.5, [127, -128, -128])).toBe(false);
    expect(decide(1, [127, -128, -128])).toBe(true); // exp(-25.5) * 2^16 rounds to 0
    expect(decide(1, [127, 120, -128])).toBe(false);
    expect(decide(0.5, [10, 0, -128])).toBe(true); // softmax max = 1/(1 + e^-1 + ...) = 0.73
    expect(decide(0.75, [10, 0, -128])).toBe(false);
  });

  it('lowering rejects a NaN threshold (ConfigError)', () => {
    const info = { name: 'logits', shape: [3], scale: 0.1, zeroPoint: 0 };
    expect(() => lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: NaN })).toThrow(ConfigError);
  });
});

const DRIVER = caseDriver(
  'tb_exit_decision.h',
  'static int8_t q[40000];\nstatic int32_t table[256];',
  String.raw`
    const int32_t k = rd(), limit = rd();
    rd_s32(table, 256);
    rd_s8(q, k);
    printf("%d\n", (int)tb_exit_decision_s8(q, k, table, limit));`,
);

describeC('exit_decision: C kernel is bit-exact with TS', 'tb_exit_decision', (c) => {
  const raw = (table: Int32Array, limit: number, q: Int8Array): KernelCase<ExitDecisionNode> => {
    const node: ExitDecisionNode = { op: 'exit_decision', name: 'r', inputs: [0], outputs: [], table, limit };
    return { node, graph: graphOf(node, [{ name: 'l', shape: [q.length], scale: 1, zeroPoint: 0 }], 'exit'), inputs: [q] };
  };
  const cases = () => {
    const all = fc.sample(caseArb, { seed: 2, numRuns: 2000 }).map((sample): KernelCase<ExitDecisionNode> => {
      const { node, graph, q } = makeCase(sample);
      return { node, graph, inputs: [q] };
    });
    // raw tables and limits, and the largest K (sum near 2^31)
    for (const [t, limit, k] of fc.sample(fc.tuple(fc.array(fc.integer({ min: 0, max: 65536 }), { minLength: 256, maxLength: 256 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 50 })), { seed: 3, numRuns: 500 })) {
      all.push(raw(Int32Array.from(t), limit, Int8Array.from({ length: k }, (_, i) => ((i * 37 + limit) % 256) - 128)));
    }
    const full = Int32Array.from({ length: 256 }, () => 65536);
    all.push(raw(full, 2 ** 31 - 1, new Int8Array(32767)), raw(full, 32767 * 65536 - 1, new Int8Array(32767)));
    expect(all.slice(-2).map((k) => tsLine(exitDecision, k))).toEqual(['1', '0']);
    return all;
  };
  c.itMatchesTs('every decision equals TS', DRIVER, exitDecision, cases, ({ node, inputs: [q] }) => ints(q!.length, node.limit, node.table, q!));

  c.itEmittedMatchesTs('the emitted expression compiles against tb_exit_decision.h and decides as TS', exitDecision, () => {
    const info = { name: 'logits', shape: [12], scale: 0.15, zeroPoint: -5 };
    const node = lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: 0.7 });
    const graph = graphOf(node, [info], 'exit');
    const all = fc.sample(caseArb, { seed: 7, numRuns: 40 }).map((sample) => ({ node, graph, inputs: [Int8Array.from(sample.codes.slice(0, 12), (v) => Math.max(-128, 127 - (((v + 128) % sample.spread) | 0)))] }));
    expect(new Set(all.map((k) => tsLine(exitDecision, k))).size).toBe(2); // both decisions
    return all;
  });

  it('emitC is an exit decision expression', () => {
    const info = { name: 'logits', shape: [10], scale: 0.1, zeroPoint: 0 };
    const node = lowerExitDecision({ name: 'e', inputs: [0], outputs: [], in: info, threshold: 0.9 });
    const { ctx } = emitStub(graphOf(node, [info], 'exit'));
    expect(exitDecision.emitC(node, ctx)).toEqual({ call: 'tb_exit_decision_s8(T0, 10, d_table, 72817)', exitDecision: true });
    expect(exitDecision.macs(node, ctx.graph)).toBe(0);
  });
});

describe('exit_decision: validate names the node and the field', () => {
  const info = { name: 'logits', shape: [10], scale: 0.1, zeroPoint: 0 };
  const node = lowerExitDecision({ name: 'exit0', inputs: [0], outputs: [], in: info, threshold: 0.8 });
  const graph = graphOf(node, [info], 'exit');
  const bad = validateErrors(exitDecision, node, graph);
  it('accepts the lowered node', () => expect(() => exitDecision.validate(node, graph)).not.toThrow());
  it('bad fields', () => {
    bad({ table: new Int32Array(255) }, /table/);
    bad({ table: Int32Array.from(node.table, () => 70000) }, /table\[0\]/);
    bad({ limit: -1 }, /limit/);
    bad({ outputs: [0] }, /outputs/);
  });
});

describeCortexM('exit_decision', { file: 'tb_exit_decision.c' }, 'tb_exit_decision_s8');
