/**
 * concept_intervene: lowering + TS kernel against the float intervention (c' = c with chosen
 * concepts replaced), the C kernel against TS (interventions or NULL, in place and not),
 * validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Int8Graph, TensorInfo } from '../graph.js';
import { conceptIntervene, type ConceptInterveneNode, lowerConceptIntervene } from './concept-intervene.js';
import { caseDriver, CTX, describeC, describeCortexM, emitStub, graphOf, ints, type KernelCase, type Of, sampleOne, validateErrors } from './test-c.js';

const ctxOf = (interventions: Int8Array | null) => ({ ...CTX, interventions });

/** The node alone: concepts in, concepts out on the same grid. */
function cbmGraph(node: ConceptInterveneNode, info: TensorInfo): Int8Graph {
  return graphOf(node, [info, { ...info, name: 'c2' }], 'concepts');
}

const caseArb = fc.record({
  k: fc.integer({ min: 1, max: 40 }),
  scale: fc.double({ min: Math.log(0.01), max: Math.log(0.2), noNaN: true }).map(Math.exp),
  zp: fc.integer({ min: -128, max: 127 }),
  low: fc.array(fc.double({ min: -8, max: 0, noNaN: true }), { minLength: 40, maxLength: 40 }),
  high: fc.array(fc.double({ min: 0, max: 8, noNaN: true }), { minLength: 40, maxLength: 40 }),
  codes: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: 40, maxLength: 40 }),
  iv: fc.option(fc.array(fc.constantFrom(-1, -1, 0, 1, 5), { minLength: 40, maxLength: 40 }), { freq: 4 }),
});

function makeCase(c: Of<typeof caseArb>) {
  const info = { name: 'c', shape: [c.k], scale: c.scale, zeroPoint: c.zp };
  const node = lowerConceptIntervene({ name: 'cbm', inputs: [0], outputs: [1], in: info, out: info, lowLogits: c.low.slice(0, c.k), highLogits: c.high.slice(0, c.k) });
  return { node, graph: cbmGraph(node, info), x: Int8Array.from(c.codes.slice(0, c.k)), iv: c.iv ? Int8Array.from(c.iv.slice(0, c.k)) : null };
}

describe('concept_intervene: lowering + TS kernel vs the float intervention', () => {
  it('intervened concepts dequantize to the given logits within half a step (clamped at the range), the others are untouched', () => {
    let replaced = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const { node, graph, x, iv } = makeCase(c);
        conceptIntervene.validate(node, graph);
        const y = conceptIntervene.run(node, [x], graph, ctxOf(iv)).outputs[0]!;
        const lo = c.scale * (-128 - c.zp);
        const hi = c.scale * (127 - c.zp);
        for (let i = 0; i < c.k; i++) {
          const want = iv?.[i] === 1 ? c.high[i]! : iv?.[i] === 0 ? c.low[i]! : null;
          if (want === null) expect(y[i]).toBe(x[i]);
          else {
            replaced++;
            const target = Math.min(hi, Math.max(lo, want));
            expect(Math.abs(c.scale * (y[i]! - c.zp) - target)).toBeLessThanOrEqual(c.scale / 2 + 1e-12);
          }
        }
      }),
      { seed: 1, numRuns: 300 },
    );
    expect(replaced).toBeGreaterThan(1000);
  });

  it('no interventions copies; a wrong-length intervention array is a DataError naming the node', () => {
    const { node, graph, x } = makeCase(sampleOne(caseArb, 2));
    expect(Array.from(conceptIntervene.run(node, [x], graph, ctxOf(null)).outputs[0]!)).toEqual(Array.from(x));
    expect(() => conceptIntervene.run(node, [x], graph, ctxOf(new Int8Array(x.length + 1)))).toThrow(/cbm: interventions/);
  });

  it('lowering rejects logits of the wrong length (ConfigError)', () => {
    const info = { name: 'c', shape: [3], scale: 0.1, zeroPoint: 0 };
    expect(() => lowerConceptIntervene({ name: 'cbm', inputs: [0], outputs: [1], in: info, out: info, lowLogits: [0, 0], highLogits: [1, 1, 1] })).toThrow(ConfigError);
  });
});

const DRIVER = caseDriver(
  'tb_concept_intervene.h',
  'static int8_t x[64], y[64], lo[64], hi[64], iv[64];',
  String.raw`
    const int32_t k = rd(), inplace = rd(), has_iv = rd();
    rd_s8(x, k); rd_s8(lo, k); rd_s8(hi, k); rd_s8(iv, k);
    tb_concept_intervene_s8(x, inplace ? x : y, k, lo, hi, has_iv ? iv : NULL);
    print_s8(inplace ? x : y, k);`,
);

describeC('concept_intervene: C kernel is bit-exact with TS', 'tb_concept_intervene', (c) => {
  const kernelCase = ({ node, graph, x, iv }: ReturnType<typeof makeCase>, n = 0): KernelCase<ConceptInterveneNode> => ({ node, graph, inputs: [x], interventions: iv, inPlace: n % 2 === 1 });
  c.itMatchesTs('every byte equals TS (interventions or NULL, in place and not)', DRIVER, conceptIntervene, () => fc.sample(caseArb, { seed: 3, numRuns: 500 }).map(makeCase).map(kernelCase), ({ node, inputs: [x], interventions: iv, inPlace }) =>
    ints(x!.length, inPlace ? 1 : 0, iv ? 1 : 0, x!, node.low, node.high, iv ?? new Int8Array(x!.length)),
  );
  c.itEmittedMatchesTs('the emitted call compiles against tb_concept_intervene.h and equals TS (interventions and NULL)', conceptIntervene, () => {
    const all = fc.sample(caseArb, { seed: 7, numRuns: 4 }).map((k) => kernelCase(makeCase(k)));
    expect(new Set(all.map((k) => k.interventions === null))).toEqual(new Set([true, false]));
    return all;
  });

  it('emitC passes the interventions expression', () => {
    const { node, graph } = makeCase(sampleOne(caseArb, 4));
    const { ctx } = emitStub(graph, { interventions: 'model_iv' });
    expect(conceptIntervene.emitC(node, ctx)).toEqual({ call: `tb_concept_intervene_s8(T0, T1, ${graph.tensors[0]!.shape[0]}, d_low, d_high, model_iv)` });
  });
});

describe('concept_intervene: validate names the node and the field', () => {
  const { node, graph } = makeCase(sampleOne(caseArb, 5));
  const bad = validateErrors(conceptIntervene, node, graph);
  it('accepts the lowered node', () => expect(() => conceptIntervene.validate(node, graph)).not.toThrow());
  it('bad fields', () => {
    bad({ low: new Int8Array(node.low.length + 1) }, /low/);
    bad({ high: Int16Array.from(node.high) as unknown as Int8Array }, /high/);
    bad({}, /output tensor/, { ...graph, tensors: [graph.tensors[0]!, { ...graph.tensors[1]!, scale: graph.tensors[1]!.scale * 2 }] });
  });
});

describeCortexM('concept_intervene', { file: 'tb_concept_intervene.c' }, 'tb_concept_intervene_s8', { noUndefined: true });
