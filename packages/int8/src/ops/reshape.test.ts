/**
 * reshape: the TS kernel returns a copy of the same bytes (NHWC flatten order, as tfjs Flatten),
 * the C tb_reshape_s8 matches byte for byte (separate and in place), the emitted call compiles
 * and runs, validate's errors, and a Cortex-M build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext } from '../op.js';
import { lowerReshape, reshape, type ReshapeNode } from './reshape.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: ReshapeNode, tensors: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

const dims3 = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }));
const codes = (n: number, seed: number) => {
  let r = seed >>> 0 || 1;
  return Int8Array.from({ length: n }, () => ((r = (r * 1103515245 + 12345) >>> 0), ((r >>> 8) % 256) - 128));
};

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

const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_reshape.h"

static int8_t in[4096], out[4096];

static int32_t rd(void) {
  long v;
  if (scanf("%ld", &v) != 1) exit(2);
  return (int32_t)v;
}

int main(void) {
  long in_place;
  while (scanf("%ld", &in_place) == 1) {
    int8_t *y = in_place ? in : out;
    int32_t i, n = rd();
    for (i = 0; i < n; i++) in[i] = (int8_t)rd();
    for (i = 0; i < n; i++) out[i] = 0;
    tb_reshape_s8(in, y, n);
    for (i = 0; i < n; i++) printf("%d ", (int)y[i]);
    printf("\n");
  }
  return 0;
}
`;

describe.skipIf(SKIP_C)('reshape: C tb_reshape_s8 is bit-exact with the TS kernel', () => {
  const tmp = makeTempDir('tb-reshape-');
  afterAll(() => tmp.remove());
  const cases = fc.sample(fc.tuple(dims3, fc.integer(), fc.boolean()), { seed: 29, numRuns: 100 }).map(([[H, W, C], seed, inPlace]) => {
    const t = { name: 'x', shape: [H, W, C], scale: 1, zeroPoint: 0 };
    const o = { ...t, name: 'y', shape: [H * W * C] };
    const node = lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: o });
    return { node, graph: graphOf(node, [t, o]), input: codes(H * W * C, seed), inPlace };
  });
  const expected = cases.map((c) => Array.from(reshape.run(c.node, [c.input], c.graph, CTX).outputs[0]!).map((v) => `${v} `).join(''));
  const text = `${cases.map((c) => `${c.inPlace ? 1 : 0} ${c.input.length}\n${Array.from(c.input).join(' ')}`).join('\n')}\n`;
  const check = (stdout: string, want: string[]) => {
    const lines = stdout.split('\n').slice(0, -1);
    expect(lines.length).toBe(want.length);
    lines.forEach((l, i) => expect(l, `case ${i}`).toBe(want[i]));
  };

  it.each(HOST_BUILDS)('$name: 100 random tensors (about half in place), every byte equal', (build) => {
    requireCompiler();
    check(runBinary(compileDriver(tmp.dir, 'reshape_driver.c', DRIVER, build, { includeDirs: [RUNTIME] }), text).toString(), expected);
  }, 60_000);

  it('the emitted call compiles and matches TS (also when the planner shares the buffer)', () => {
    requireCompiler();
    const some = cases.slice(0, 8);
    const decls: string[] = [];
    const calls: string[] = [];
    some.forEach((c, k) => {
      const ctx: EmitContext = {
        graph: c.graph,
        tensor: (id) => (id === 1 && k % 2 === 1 ? `t${k}_0` : `t${k}_${id}`),
        data: () => {
          throw new Error('reshape has no constant data');
        },
        state: () => {
          throw new Error('no state');
        },
        interventions: 'NULL',
      };
      const { call } = reshape.emitC(c.node, ctx);
      decls.push(`static int8_t t${k}_0[${c.input.length}] = {${Array.from(c.input).join(', ')}};`);
      if (k % 2 === 0) decls.push(`static int8_t t${k}_1[${c.input.length}];`);
      calls.push(`  ${call};`, `  for (i = 0; i < ${c.input.length}; i++) printf("%d ", (int)${ctx.tensor(1)}[i]);`, '  printf("\\n");');
    });
    expect(reshape.runtime).toEqual(['tb_reshape.h']);
    const src = `#include <stdio.h>\n${reshape.runtime.map((h) => `#include "${h}"`).join('\n')}\n${decls.join('\n')}\nint main(void) {\n  int i;\n${calls.join('\n')}\n  return 0;\n}\n`;
    check(runBinary(compileDriver(tmp.dir, 'reshape_emit.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME] })).toString(), expected.slice(0, 8));
  }, 60_000);
});

describe('reshape: validate', () => {
  const t = { name: 'x', shape: [2, 3, 4], scale: 0.5, zeroPoint: 1 };
  const o = { ...t, name: 'y', shape: [24] };
  const node = lowerReshape({ name: 'flat', inputs: [0], outputs: [1], in: t, out: o });
  const bad = (g: Int8Graph, field: string, patch: Partial<ReshapeNode> = {}) => {
    try {
      reshape.validate({ ...node, ...patch }, g);
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).where).toBe('flat');
      expect((e as DataError).field).toBe(field);
      return;
    }
    throw new Error(`no error for ${field}`);
  };
  it('accepts a consistent node', () => expect(() => reshape.validate(node, graphOf(node, [t, o]))).not.toThrow());
  it('names the node and the field', () => {
    bad(graphOf(node, [t, { ...o, shape: [25] }]), 'output shape');
    bad(graphOf(node, [t, { ...o, scale: 1 }]), 'output scale');
    bad(graphOf(node, [t, { ...o, zeroPoint: 0 }]), 'output zeroPoint');
    bad(graphOf(node, [t, o]), 'outputs', { outputs: [1, 1] });
  });
});

const ARM_CC = 'arm-none-eabi-gcc';
const HAS_ARM = spawnSync(ARM_CC, ['--version'], { stdio: 'ignore' }).status === 0;
describe.skipIf(!HAS_ARM)('reshape: builds for Cortex-M without float helpers', () => {
  const tmp = makeTempDir('tb-reshape-arm-');
  afterAll(() => tmp.remove());
  it.each(['cortex-m4', 'cortex-m0'])('%s', (cpu) => {
    const src = join(tmp.dir, 'reshape_unit.c');
    writeFileSync(src, '#include "tb_reshape.h"\nvoid reshape_unit(const int8_t *in, int8_t *out, int32_t n);\nvoid reshape_unit(const int8_t *in, int8_t *out, int32_t n) { tb_reshape_s8(in, out, n); }\n');
    const obj = join(tmp.dir, `${cpu}.o`);
    execFileSync(ARM_CC, ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', `-mcpu=${cpu}`, '-mthumb', '-Os', `-I${RUNTIME}`, '-c', src, '-o', obj]);
    expect(execFileSync('arm-none-eabi-nm', [obj]).toString()).toMatch(/ T reshape_unit\b/);
    expect(execFileSync('arm-none-eabi-nm', ['-u', obj]).toString()).not.toMatch(/__aeabi_[fd]|__aeabi_\w+2[fd]\b|__\w+[sd]f\d\b/);
  }, 30_000);
});
