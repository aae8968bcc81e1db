/**
 * concat: the TS kernel against float requantization (dequantize, concatenate, quantize to the
 * output grid: within one step; exact for an input on the output grid), the C kernel against
 * TS byte for byte, the emitted call compiled and run, validate's errors, a Cortex-M build.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, type ConcatNode, lowerConcat } from './concat.js';
import { caseDriver, CTX, describeC, describeCortexM, graphOf, i8, ints, type KernelCase, once, validateErrors } from './test-c.js';

const grid = fc.record({ scale: fc.double({ min: 0.01, max: 0.5, noNaN: true }), zp: i8 });
const concatCase: fc.Arbitrary<KernelCase<ConcatNode>> = fc
  .record({
    rows: fc.integer({ min: 1, max: 12 }),
    parts: fc.array(fc.record({ c: fc.integer({ min: 1, max: 6 }), g: grid, same: fc.boolean() }), { minLength: 2, maxLength: 4 }),
    out: grid,
    values: fc.array(i8, { minLength: 300, maxLength: 300 }),
  })
  .map((c) => {
    const ins = c.parts.map((p, k) => ({ name: `x${k}`, shape: [c.rows, p.c], scale: p.same ? c.out.scale : p.g.scale, zeroPoint: p.same ? c.out.zp : p.g.zp }));
    const total = c.parts.reduce((n, p) => n + p.c, 0);
    const outInfo = { name: 'y', shape: [c.rows, total], scale: c.out.scale, zeroPoint: c.out.zp };
    const node = lowerConcat({ name: 'cat', inputs: ins.map((_, k) => k), outputs: [ins.length], in: ins, out: outInfo });
    let at = 0;
    const inputs = ins.map((t) => Int8Array.from(c.values.slice(at, (at += t.shape[0]! * t.shape[1]!))));
    return { node, graph: graphOf(node, [...ins, outInfo]), inputs };
  });

describe('concat: TS kernel vs float requantization', () => {
  it('each value within one output step of round(real / outScale) + outZp (clamped); exact on the same grid', () => {
    fc.assert(
      fc.property(concatCase, ({ node, graph, inputs }) => {
        concat.validate(node, graph);
        const out = graph.tensors[node.outputs[0]!]!;
        const outC = out.shape[1]!;
        const y = concat.run(node, inputs, graph, CTX).outputs[0]!;
        let off = 0;
        node.inputs.forEach((id, k) => {
          const t = graph.tensors[id]!;
          const c = t.shape[1]!;
          for (let r = 0; r < t.shape[0]!; r++) for (let j = 0; j < c; j++) {
            const real = t.scale * (inputs[k]![r * c + j]! - t.zeroPoint);
            const want = Math.min(127, Math.max(-128, Math.round(real / out.scale) + out.zeroPoint));
            const got = y[r * outC + off + j]!;
            if (t.scale === out.scale && t.zeroPoint === out.zeroPoint) expect(got).toBe(inputs[k]![r * c + j]);
            else expect(Math.abs(got - want)).toBeLessThanOrEqual(1);
          }
          off += c;
        });
        return true;
      }),
      { seed: 9, numRuns: 150 },
    );
  });
});

const DRIVER = caseDriver(
  'tb_concat.h',
  'static int8_t in[4][1024], out[4096]; static int32_t ch[4], zp[4], mu[4], sh[4];',
  String.raw`
    int32_t n = rd(), rows = rd(), out_zp = rd(), k;
    const int8_t *ptrs[4];
    for (k = 0; k < n; k++) { ch[k] = rd(); zp[k] = rd(); mu[k] = rd(); sh[k] = rd(); }
    for (k = 0; k < n; k++) { rd_s8(in[k], rows * ch[k]); ptrs[k] = in[k]; }
    tb_concat_s8(ptrs, ch, zp, mu, sh, n, rows, out, out_zp);
    { int32_t total = 0; for (k = 0; k < n; k++) total += ch[k]; print_s8(out, rows * total); }`,
);

function caseText({ node, graph, inputs }: KernelCase<ConcatNode>): string {
  const ins = node.inputs.map((id) => graph.tensors[id]!);
  const head = ins.flatMap((t, k) => [t.shape[1]!, t.zeroPoint, node.multipliers[k]!, node.shifts[k]!]);
  return ints(ins.length, ins[0]!.shape[0]!, graph.tensors[node.outputs[0]!]!.zeroPoint, head, ...inputs);
}

describeC('concat: C tb_concat_s8 is bit-exact with the TS kernel', 'tb_concat', (c) => {
  const cases = once(() => fc.sample(concatCase, { seed: 37, numRuns: 300 }));
  c.itMatchesTs('300 random cases, every byte equal', DRIVER, concat, cases, caseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', concat, () => cases().slice(0, 12), { runtime: ['tb_concat.h'], no: ['state'], timeout: 60_000 });
});

describe('concat: validate', () => {
  const { node, graph } = fc.sample(concatCase, { seed: 4, numRuns: 1 })[0]!;
  const bad = validateErrors(concat, node, graph);
  it('names the node and the field', () => {
    bad({ multipliers: new Int32Array(1) }, 'multipliers');
    bad({ inputs: [0] }, 'inputs');
  });
});

describeCortexM('concat', { file: 'tb_concat.c' }, 'tb_concat_s8');
