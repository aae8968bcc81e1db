/**
 * upsample2d: the TS kernel against nearest-neighbour indexing, the C kernel against TS byte for
 * byte, the emitted call compiled and run, a Cortex-M build.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseDriver, CTX, describeC, describeCortexM, graphOf, i8, ints, type KernelCase, once } from './test-c.js';
import { lowerUpsample2d, upsample2d, type Upsample2dNode } from './upsample2d.js';

const upCase: fc.Arbitrary<KernelCase<Upsample2dNode>> = fc
  .record({
    H: fc.integer({ min: 1, max: 6 }),
    W: fc.integer({ min: 1, max: 6 }),
    C: fc.integer({ min: 1, max: 4 }),
    size: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    values: fc.array(i8, { minLength: 144, maxLength: 144 }),
  })
  .map((c) => {
    const inInfo = { name: 'x', shape: [c.H, c.W, c.C], scale: 0.05, zeroPoint: 3 };
    const outInfo = { ...inInfo, name: 'y', shape: [c.H * c.size[0], c.W * c.size[1], c.C] };
    const node = lowerUpsample2d({ name: 'up', inputs: [0], outputs: [1], in: inInfo, out: outInfo, size: c.size });
    return { node, graph: graphOf(node, [inInfo, outInfo]), inputs: [Int8Array.from(c.values.slice(0, c.H * c.W * c.C))] };
  });

describe('upsample2d: TS kernel', () => {
  it('each output reads input (floor(oy / SH), floor(ox / SW))', () => {
    fc.assert(
      fc.property(upCase, ({ node, graph, inputs }) => {
        upsample2d.validate(node, graph);
        const [, W, C] = graph.tensors[0]!.shape as [number, number, number];
        const [OH, OW] = graph.tensors[1]!.shape as [number, number, number];
        const y = upsample2d.run(node, inputs, graph, CTX).outputs[0]!;
        for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let c = 0; c < C; c++) {
          expect(y[(oy * OW + ox) * C + c]).toBe(inputs[0]![(Math.floor(oy / node.size[0]) * W + Math.floor(ox / node.size[1])) * C + c]);
        }
        return true;
      }),
      { seed: 6, numRuns: 100 },
    );
  });
});

const DRIVER = caseDriver(
  'tb_upsample2d.h',
  'static int8_t in[4096], out[8192];',
  String.raw`
    int32_t h = rd(), w = rd(), c = rd(), sh = rd(), sw = rd();
    rd_s8(in, h * w * c);
    tb_upsample2d_s8(in, out, h, w, c, sh, sw);
    print_s8(out, h * sh * w * sw * c);`,
);

const caseText = ({ node, graph, inputs }: KernelCase<Upsample2dNode>) => ints(graph.tensors[0]!.shape, node.size, inputs[0]!);

describeC('upsample2d: C tb_upsample2d_s8 is bit-exact with the TS kernel', 'tb_upsample2d', (c) => {
  const cases = once(() => fc.sample(upCase, { seed: 31, numRuns: 300 }));
  c.itMatchesTs('300 random cases, every byte equal', DRIVER, upsample2d, cases, caseText, 60_000);
  c.itEmittedMatchesTs('the emitted call compiles and matches TS', upsample2d, () => cases().slice(0, 12), { runtime: ['tb_upsample2d.h'], no: ['data', 'state'], timeout: 60_000 });
});

describeCortexM('upsample2d', { file: 'tb_upsample2d.c' }, 'tb_upsample2d_s8');
