/**
 * reshape: the TS kernel returns a copy of the same bytes (NHWC flatten order, as tfjs Flatten),
 * the C tb_reshape_s8 matches byte for byte (separate and in place), the emitted call compiles
 * and runs, validate's errors, and a Cortex-M build.
 */
import { ConfigError } from '@tinyblocks/core/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lowerReshape, reshape } from './reshape.js';
import { caseDriver, CTX, describeC, describeCortexM, graphOf, ints, lcg, once, validateErrors } from './test-c.js';

const dims3 = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }));
const codes = (n: number, seed: number) => Int8Array.from({ length: n }, lcg(seed));

describe('reshape: TS kernel', () => {
  it('flatten [H, W, C] -> [H*W*C]: element (h, w, c) lands at (h*W + w)*C + c (tfjs Flatten order), dequantized values unchanged', () => {
    fc.assert(
      fc.property(dims3, fc.double({ min: 1e-3, max: 1, noNaN: true }), fc.integer({ min: -128, max: 127 }), fc.integer(), ([H, W, C], scale, zp, seed) => {
        const tIn = { name: 'x', shape: [H, W, C], scale, zeroPoint: zp };
        const tOut = { name: 'y', shape: [H * W * C], scale, zeroPoint: zp };
        const node = lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: tIn, out: tOut });
        const g = graphOf(node, [tIn, tOut]);
        reshape.validate(node, g);
        const x = codes(H * W * C, seed);
        const y = reshape.run(node, [x], g, CTX).outputs[0]!;
        expect(y).not.toBe(x); // a copy
        // nested-array flatten (what tfjs does on a [1, H, W, C] tensor) of the dequantized map
        const nested = Array.from({ length: H }, (_, h) => Array.from({ length: W }, (_, w) => Array.from({ length: C }, (_, c) => scale * (x[(h * W + w) * C + c]! - zp))));
        expect(Array.from(y, (q) => scale * (q - zp))).toEqual(nested.flat(2));
        return true;
      }),
      { seed: 7, numRuns: 60 },
    );
  });

  it('returns a copy: writing the output leaves the input intact; 0 MACs; in place allowed', () => {
    const t = { name: 'x', shape: [2, 2, 1], scale: 1, zeroPoint: 0 };
    const o = { ...t, name: 'y', shape: [4] };
    const node = lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: o });
    const x = Int8Array.from([1, 2, 3, 4]);
    const y = reshape.run(node, [x], graphOf(node, [t, o]), CTX).outputs[0]!;
    y[0] = 99;
    expect(Array.from(x)).toEqual([1, 2, 3, 4]);
    expect(reshape.macs(node, graphOf(node, [t, o]))).toBe(0);
    expect(reshape.inPlace).toBe(true);
    expect(() => lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: { ...o, shape: [5] } })).toThrow(ConfigError);
    expect(() => lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: { ...o, scale: 2 } })).toThrow(/out\.scale/);
    expect(() => lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: { ...o, zeroPoint: 2 } })).toThrow(/out\.zeroPoint/);
  });
});

const DRIVER = caseDriver(
  'tb_reshape.h',
  'static int8_t in[4096], out[4096];',
  String.raw`
    const int32_t in_place = rd(), n = rd();
    int8_t *y = in_place ? in : out;
    int32_t i;
    rd_s8(in, n);
    for (i = 0; i < n; i++) out[i] = 0;
    tb_reshape_s8(in, y, n);
    print_s8(y, n);`,
);

describeC('reshape: C tb_reshape_s8 is bit-exact with the TS kernel', 'tb_reshape', (c) => {
  const cases = once(() =>
    fc.sample(fc.tuple(dims3, fc.integer(), fc.boolean()), { seed: 29, numRuns: 100 }).map(([[H, W, C], seed, inPlace]) => {
      const t = { name: 'x', shape: [H, W, C], scale: 1, zeroPoint: 0 };
      const o = { ...t, name: 'y', shape: [H * W * C] };
      const node = lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: o });
      return { node, graph: graphOf(node, [t, o]), inputs: [codes(H * W * C, seed)], inPlace };
    }),
  );
  c.itMatchesTs('100 random tensors (about half in place), every byte equal', DRIVER, reshape, cases, (k) => ints(k.inPlace ? 1 : 0, k.inputs[0]!.length, k.inputs[0]!), 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS (also when the planner shares the buffer)', reshape, () => cases().slice(0, 8).map((k, i) => ({ ...k, inPlace: i % 2 === 1 })), { runtime: ['tb_reshape.h'], no: ['data', 'state'], timeout: 60_000 });
});

describe('reshape: validate', () => {
  const t = { name: 'x', shape: [2, 3, 4], scale: 0.5, zeroPoint: 1 };
  const o = { ...t, name: 'y', shape: [24] };
  const node = lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: o });
  const bad = validateErrors(reshape, node, graphOf(node, [t, o]));
  it('accepts a consistent node', () => expect(() => reshape.validate(node, graphOf(node, [t, o]))).not.toThrow());
  it('names the node and the field', () => {
    bad({}, 'output shape', graphOf(node, [t, { ...o, shape: [25] }]));
    bad({}, 'output scale', graphOf(node, [t, { ...o, scale: 1 }]));
    bad({}, 'output zeroPoint', graphOf(node, [t, { ...o, zeroPoint: 0 }]));
    bad({ outputs: [1, 1] }, 'outputs');
  });
});

describeCortexM(
  'reshape',
  { source: '#include "tb_reshape.h"\nvoid reshape_unit(const int8_t *in, int8_t *out, int32_t n);\nvoid reshape_unit(const int8_t *in, int8_t *out, int32_t n) { tb_reshape_s8(in, out, n); }\n' },
  'reshape_unit',
);
