/**
 * pad2d: the TS kernel against an independent index formula (border = the zero point, i.e. real
 * 0), the C kernel against TS byte for byte, the emitted call compiled and run, a Cortex-M build.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lowerPad2d, pad2d, type Pad2dNode } from './pad2d.js';
import { caseDriver, CTX, describeC, describeCortexM, graphOf, i8, ints, type KernelCase, once } from './test-c.js';

const padCase: fc.Arbitrary<KernelCase<Pad2dNode>> = fc
  .record({
    H: fc.integer({ min: 1, max: 8 }),
    W: fc.integer({ min: 1, max: 8 }),
    C: fc.integer({ min: 1, max: 4 }),
    pads: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
    zp: i8,
    values: fc.array(i8, { minLength: 256, maxLength: 256 }),
  })
  .map((c) => {
    const inInfo = { name: 'x', shape: [c.H, c.W, c.C], scale: 0.05, zeroPoint: c.zp };
    const outInfo = { name: 'y', shape: [c.pads[0] + c.H + c.pads[1], c.pads[2] + c.W + c.pads[3], c.C], scale: 0.05, zeroPoint: c.zp };
    const node = lowerPad2d({ name: 'pad', inputs: [0], outputs: [1], in: inInfo, out: outInfo, pads: c.pads });
    return { node, graph: graphOf(node, [inInfo, outInfo]), inputs: [Int8Array.from(c.values.slice(0, c.H * c.W * c.C))] };
  });

describe('pad2d: TS kernel', () => {
  it('inside: the input moved by (top, left); border: the zero point', () => {
    fc.assert(
      fc.property(padCase, ({ node, graph, inputs }) => {
        pad2d.validate(node, graph);
        const [H, W, C] = graph.tensors[0]!.shape as [number, number, number];
        const [OH, OW] = graph.tensors[1]!.shape as [number, number, number];
        const y = pad2d.run(node, inputs, graph, CTX).outputs[0]!;
        for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let c = 0; c < C; c++) {
          const iy = oy - node.pads[0];
          const ix = ox - node.pads[2];
          const want = iy >= 0 && iy < H && ix >= 0 && ix < W ? inputs[0]![(iy * W + ix) * C + c] : graph.tensors[1]!.zeroPoint;
          expect(y[(oy * OW + ox) * C + c]).toBe(want);
        }
        return true;
      }),
      { seed: 5, numRuns: 100 },
    );
  });
});

const DRIVER = caseDriver(
  'tb_pad2d.h',
  'static int8_t in[4096], out[8192];',
  String.raw`
    int32_t h = rd(), w = rd(), c = rd(), top = rd(), left = rd(), oh = rd(), ow = rd(), zp = rd();
    rd_s8(in, h * w * c);
    tb_pad2d_s8(in, out, h, w, c, top, left, oh, ow, zp);
    print_s8(out, oh * ow * c);`,
);

const caseText = ({ node, graph, inputs }: KernelCase<Pad2dNode>) => ints(graph.tensors[0]!.shape, node.pads[0], node.pads[2], graph.tensors[1]!.shape[0]!, graph.tensors[1]!.shape[1]!, graph.tensors[1]!.zeroPoint, inputs[0]!);

describeC('pad2d: C tb_pad2d_s8 is bit-exact with the TS kernel', 'tb_pad2d', (c) => {
  const cases = once(() => fc.sample(padCase, { seed: 29, numRuns: 300 }));
  c.itMatchesTs('300 random cases, every byte equal', DRIVER, pad2d, cases, caseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', pad2d, () => cases().slice(0, 12), { runtime: ['tb_pad2d.h'], no: ['data', 'state'], timeout: 60_000 });
});

describeCortexM('pad2d', { file: 'tb_pad2d.c' }, 'tb_pad2d_s8');
