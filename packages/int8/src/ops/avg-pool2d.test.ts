/**
 * avg_pool2d: TS kernel against a float64 mean over the in-bounds window (padding not counted),
 * TFLite's rounding on a worked example, the C kernel against the TS kernel byte for byte, the
 * emitted call compiled and run, validate's errors, and a Cortex-M build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext } from '../op.js';
import { avgPool2d, type AvgPool2dNode, lowerAvgPool2d } from './avg-pool2d.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: AvgPool2dNode, tensors: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

function geometry(size: number, k: number, s: number, padding: 'same' | 'valid'): { out: number; pad: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / s) + 1, pad: 0 };
  const out = Math.ceil(size / s);
  return { out, pad: Math.floor(Math.max(0, (out - 1) * s + k - size) / 2) };
}

const i8 = fc.integer({ min: -128, max: 127 });
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

function lowered(c: typeof poolCase extends fc.Arbitrary<infer T> ? T : never) {
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

interface RawCase {
  node: AvgPool2dNode;
  graph: Int8Graph;
  input: Int8Array;
}

/** Raw nodes: random strides (not only poolSize) and random clamps. */
const rawCase: fc.Arbitrary<RawCase> = fc
  .tuple(poolCase, fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), fc.tuple(i8, i8), fc.boolean())
  .map(([c, strides, act, clampIt]) => {
    const { node, graph, input } = lowered({ ...c, strides });
    const [lo, hi] = act[0] <= act[1] ? act : [act[1], act[0]];
    return { node: clampIt ? { ...node, actMin: lo, actMax: hi } : node, graph, input };
  });

const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_avg_pool2d.h"

static int8_t in[4096], out[4096];

static int32_t rd(void) {
  long v;
  if (scanf("%ld", &v) != 1) exit(2);
  return (int32_t)v;
}

int main(void) {
  long ncase;
  while (scanf("%ld", &ncase) == 1) {
    tb_avg_pool2d_params p;
    int32_t i, n;
    p.in_h = rd(); p.in_w = rd(); p.channels = rd(); p.out_h = rd(); p.out_w = rd();
    p.pool_h = rd(); p.pool_w = rd(); p.stride_h = rd(); p.stride_w = rd();
    p.pad_top = rd(); p.pad_left = rd(); p.act_min = rd(); p.act_max = rd();
    n = p.in_h * p.in_w * p.channels;
    for (i = 0; i < n; i++) in[i] = (int8_t)rd();
    tb_avg_pool2d_s8(in, out, &p);
    n = p.out_h * p.out_w * p.channels;
    for (i = 0; i < n; i++) printf("%d ", (int)out[i]);
    printf("\n");
  }
  return 0;
}
`;

function caseText({ node, graph, input }: RawCase, i: number): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  const head = [i, ...x.shape, y.shape[0]!, y.shape[1]!, ...node.poolSize, ...node.strides, node.padding.top, node.padding.left, node.actMin, node.actMax];
  return [head, input].map((a) => Array.from(a).join(' ')).join('\n');
}

function expectSameOutputs(stdout: string, expected: string[], cases: RawCase[]): void {
  const lines = stdout.split('\n').slice(0, -1);
  expect(lines.length).toBe(expected.length);
  const bad = lines.findIndex((l, i) => l !== expected[i]);
  if (bad >= 0) expect(lines[bad], `case ${bad}: ${JSON.stringify({ ...cases[bad]!.node, shapes: cases[bad]!.graph.tensors.map((t) => t.shape) })}`).toBe(expected[bad]);
}

describe.skipIf(SKIP_C)('avg_pool2d: C tb_avg_pool2d_s8 is bit-exact with the TS kernel', () => {
  const tmp = makeTempDir('tb-pool-');
  afterAll(() => tmp.remove());
  const cases = fc.sample(rawCase, { seed: 17, numRuns: 400 });
  const expected = cases.map((c) => {
    avgPool2d.validate(c.node, c.graph);
    return Array.from(avgPool2d.run(c.node, [c.input], c.graph, CTX).outputs[0]!).map((v) => `${v} `).join('');
  });
  const input = `${cases.map(caseText).join('\n')}\n`;
  const sources = [join(RUNTIME, 'tb_avg_pool2d.c')];

  it.each(HOST_BUILDS)('$name: 400 random cases, every byte equal', (build) => {
    requireCompiler();
    const bin = compileDriver(tmp.dir, 'pool_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources });
    expectSameOutputs(runBinary(bin, input).toString(), expected, cases);
  }, 60_000);

  it('the emitted call compiles and matches TS', () => {
    requireCompiler();
    const some = cases.slice(0, 12);
    const decls: string[] = [];
    const calls: string[] = [];
    some.forEach((c, k) => {
      const ctx: EmitContext = {
        graph: c.graph,
        tensor: (id) => `t${k}_${id}`,
        data: () => {
          throw new Error('avg_pool2d has no constant data');
        },
        state: () => {
          throw new Error('no state');
        },
        interventions: 'NULL',
      };
      const { call } = avgPool2d.emitC(c.node, ctx);
      decls.push(`static int8_t t${k}_0[${c.input.length}] = {${Array.from(c.input).join(', ')}};`, `static int8_t t${k}_1[${expected[k]!.trim().split(' ').length}];`);
      calls.push(`  ${call};`, `  for (i = 0; i < (int)sizeof t${k}_1; i++) printf("%d ", (int)t${k}_1[i]);`, '  printf("\\n");');
    });
    expect(avgPool2d.runtime).toEqual(['tb_avg_pool2d.h']);
    const src = `#include <stdio.h>\n${avgPool2d.runtime.map((h) => `#include "${h}"`).join('\n')}\n${decls.join('\n')}\nint main(void) {\n  int i;\n${calls.join('\n')}\n  return 0;\n}\n`;
    const bin = compileDriver(tmp.dir, 'pool_emit.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources });
    expectSameOutputs(runBinary(bin).toString(), expected.slice(0, 12), some);
  }, 60_000);
});

describe('avg_pool2d: validate', () => {
  const [c] = fc.sample(rawCase, { seed: 5, numRuns: 1 });
  const { node, graph } = c!;
  const bad = (patch: Partial<AvgPool2dNode>, field: string, g: Int8Graph = graph) => {
    try {
      avgPool2d.validate({ ...node, ...patch }, g);
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).where).toBe('pool');
      expect((e as DataError).field).toBe(field);
      return;
    }
    throw new Error(`no error for ${field}`);
  };
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

const ARM_CC = 'arm-none-eabi-gcc';
const HAS_ARM = spawnSync(ARM_CC, ['--version'], { stdio: 'ignore' }).status === 0;
describe.skipIf(!HAS_ARM)('avg_pool2d: builds for Cortex-M without float helpers', () => {
  const tmp = makeTempDir('tb-pool-arm-');
  afterAll(() => tmp.remove());
  it.each(['cortex-m4', 'cortex-m0'])('%s', (cpu) => {
    const obj = join(tmp.dir, `${cpu}.o`);
    execFileSync(ARM_CC, ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', `-mcpu=${cpu}`, '-mthumb', '-Os', `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_avg_pool2d.c'), '-o', obj]);
    expect(execFileSync('arm-none-eabi-nm', [obj]).toString()).toMatch(/ T tb_avg_pool2d_s8\b/);
    expect(execFileSync('arm-none-eabi-nm', ['-u', obj]).toString()).not.toMatch(/__aeabi_[fd]|__aeabi_\w+2[fd]\b|__\w+[sd]f\d\b/);
  }, 30_000);
});
