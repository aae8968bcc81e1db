/**
 * lut: lowering + TS kernel against the float function (within half an output LSB), the C
 * tb_lut_apply_s8 against the TS kernel byte for byte (separate output and in place), the emitted
 * call compiled and run, validate's errors, and a Cortex-M build.
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
import { lowerLut, lut, type LutNode } from './lut.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
const CTX = { state: <T>(_n: unknown, init: () => T) => init(), interventions: null };

function graphOf(node: LutNode, tensors: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

const FNS: Record<string, (x: number) => number> = {
  crrelu: (x) => Math.max(x, 0) + 0.01 * x * Math.exp(-(x * x) / 2),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  square: (x) => x * x,
};
const i8 = fc.integer({ min: -128, max: 127 });
const scale = fc.double({ min: 1e-3, max: 0.5, noNaN: true });
const shape = fc.oneof(fc.tuple(fc.integer({ min: 1, max: 300 })), fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 })));
const codes = (n: number, seed: number) => {
  let r = seed >>> 0 || 1;
  return Int8Array.from({ length: n }, () => ((r = (r * 1103515245 + 12345) >>> 0), ((r >>> 8) % 256) - 128));
};

describe('lut: lowering + TS kernel vs the float function', () => {
  it('each output is within 0.5 LSB of fn(dequantized input) (or saturated), for every input code', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(FNS)), scale, i8, scale, i8, (name, inS, inZp, outS, outZp) => {
        const tIn = { name: 'x', shape: [2, 2, 64], scale: inS, zeroPoint: inZp };
        const tOut = { name: 'y', shape: [2, 2, 64], scale: outS, zeroPoint: outZp };
        const node = lowerLut({ name: 'act', inputs: [0], outputs: [1], in: tIn, out: tOut, fn: FNS[name]!, fnName: name });
        const g = graphOf(node, [tIn, tOut]);
        lut.validate(node, g);
        const x = Int8Array.from({ length: 256 }, (_, i) => i - 128);
        const y = lut.run(node, [x], g, CTX).outputs[0]!;
        for (let i = 0; i < 256; i++) {
          const want = FNS[name]!(inS * (x[i]! - inZp)) / outS + outZp;
          const got = y[i]!;
          const ok = want >= 127 ? got === 127 : want <= -128 ? got === -128 : Math.abs(got - want) <= 0.5 + 1e-9;
          expect(ok, `${name} q=${x[i]}: ${got} vs ${want}`).toBe(true);
        }
        return true;
      }),
      { seed: 6, numRuns: 100 },
    );
  });

  it('indexing: table[q + 128]; node fields; macs 0; in place allowed', () => {
    const t = { name: 'x', shape: [3], scale: 1, zeroPoint: 0 };
    const node = lowerLut({ name: 'neg', inputs: [0], outputs: [1], in: t, out: t, fn: (v) => -v, fnName: 'neg' });
    expect(node.fn).toBe('neg');
    expect(node.table.length).toBe(256);
    expect(Array.from(lut.run(node, [Int8Array.from([-128, 0, 5])], graphOf(node, [t, t]), CTX).outputs[0]!)).toEqual([127, 0, -5]);
    expect(lut.macs(node, graphOf(node, [t, t]))).toBe(0);
    expect(lut.inPlace).toBe(true);
    expect(() => lowerLut({ name: 'neg', inputs: [0], outputs: [1], in: t, out: { ...t, shape: [4] }, fn: (v) => -v, fnName: 'neg' })).toThrow(ConfigError);
    expect(() => lowerLut({ name: 'neg', inputs: [0], outputs: [1], in: t, out: t, fn: undefined as never, fnName: 'neg' })).toThrow(/fn/);
  });
});

interface RawCase {
  node: LutNode;
  graph: Int8Graph;
  input: Int8Array;
  inPlace: boolean;
}

const rawCase: fc.Arbitrary<RawCase> = fc
  .record({ shape, table: fc.array(i8, { minLength: 256, maxLength: 256 }), seed: fc.integer(), inPlace: fc.boolean() })
  .map((c) => {
    const node: LutNode = { op: 'lut', name: 'act', inputs: [0], outputs: [1], table: Int8Array.from(c.table), fn: 'random' };
    const t = { name: 'x', shape: [...c.shape], scale: 1, zeroPoint: 0 };
    const n = c.shape.reduce((a, b) => a * b, 1);
    return { node, graph: graphOf(node, [t, { ...t, name: 'y' }]), input: codes(n, c.seed), inPlace: c.inPlace };
  });

const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_lut.h"

static int8_t table[256], in[4096], out[4096];

static int32_t rd(void) {
  long v;
  if (scanf("%ld", &v) != 1) exit(2);
  return (int32_t)v;
}

int main(void) {
  long in_place;
  while (scanf("%ld", &in_place) == 1) {
    int8_t *y = in_place ? in : out;
    int32_t i, n;
    n = rd();
    for (i = 0; i < 256; i++) table[i] = (int8_t)rd();
    for (i = 0; i < n; i++) in[i] = (int8_t)rd();
    tb_lut_apply_s8(table, in, y, n);
    for (i = 0; i < n; i++) printf("%d ", (int)y[i]);
    printf("\n");
  }
  return 0;
}
`;

function expectSameOutputs(stdout: string, expected: string[]): void {
  const lines = stdout.split('\n').slice(0, -1);
  expect(lines.length).toBe(expected.length);
  const bad = lines.findIndex((l, i) => l !== expected[i]);
  if (bad >= 0) expect(lines[bad], `case ${bad}`).toBe(expected[bad]);
}

describe.skipIf(SKIP_C)('lut: C tb_lut_apply_s8 is bit-exact with the TS kernel', () => {
  const tmp = makeTempDir('tb-lut-');
  afterAll(() => tmp.remove());
  const cases = fc.sample(rawCase, { seed: 23, numRuns: 200 });
  const expected = cases.map((c) => {
    lut.validate(c.node, c.graph);
    return Array.from(lut.run(c.node, [c.input], c.graph, CTX).outputs[0]!).map((v) => `${v} `).join('');
  });
  const input = `${cases.map((c) => [[c.inPlace ? 1 : 0, c.input.length], c.node.table, c.input].map((a) => Array.from(a).join(' ')).join('\n')).join('\n')}\n`;

  it.each(HOST_BUILDS)('$name: 200 random tables and inputs (half in place), every byte equal', (build) => {
    requireCompiler();
    const bin = compileDriver(tmp.dir, 'lut_driver.c', DRIVER, build, { includeDirs: [RUNTIME] });
    expectSameOutputs(runBinary(bin, input).toString(), expected);
  }, 60_000);

  it('the emitted call compiles and matches TS (in place when the planner shares the buffer)', () => {
    requireCompiler();
    const some = cases.slice(0, 10);
    const decls: string[] = [];
    const calls: string[] = [];
    some.forEach((c, k) => {
      const ctx: EmitContext = {
        graph: c.graph,
        tensor: (id) => (id === 1 && k % 2 === 1 ? `t${k}_0` : `t${k}_${id}`),
        data: (suffix, type, values) => {
          decls.push(`static const ${type} n${k}_${suffix}[${values.length}] = {${Array.from(values).join(', ')}};`);
          return `n${k}_${suffix}`;
        },
        state: () => {
          throw new Error('no state');
        },
        interventions: 'NULL',
      };
      const { call } = lut.emitC(c.node, ctx);
      decls.push(`static int8_t t${k}_0[${c.input.length}] = {${Array.from(c.input).join(', ')}};`);
      if (k % 2 === 0) decls.push(`static int8_t t${k}_1[${c.input.length}];`);
      calls.push(`  ${call};`, `  for (i = 0; i < ${c.input.length}; i++) printf("%d ", (int)${ctx.tensor(1)}[i]);`, '  printf("\\n");');
    });
    expect(lut.runtime).toEqual(['tb_lut.h']);
    const src = `#include <stdio.h>\n${lut.runtime.map((h) => `#include "${h}"`).join('\n')}\n${decls.join('\n')}\nint main(void) {\n  int i;\n${calls.join('\n')}\n  return 0;\n}\n`;
    const bin = compileDriver(tmp.dir, 'lut_emit.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME] });
    expectSameOutputs(runBinary(bin).toString(), expected.slice(0, 10));
  }, 60_000);
});

describe('lut: validate', () => {
  const [c] = fc.sample(rawCase, { seed: 5, numRuns: 1 });
  const { node, graph } = c!;
  const bad = (patch: Partial<LutNode>, field: string, g: Int8Graph = graph) => {
    try {
      lut.validate({ ...node, ...patch }, g);
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).where).toBe('act');
      expect((e as DataError).field).toBe(field);
      return;
    }
    throw new Error(`no error for ${field}`);
  };
  it('accepts a consistent node', () => expect(() => lut.validate(node, graph)).not.toThrow());
  it('names the node and the field', () => {
    bad({ table: new Int8Array(255) }, 'table');
    bad({ table: new Uint8Array(256) as never }, 'table');
    bad({ fn: 3 as never }, 'fn');
    const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
    bad({}, 'output shape', { ...graph, tensors: [x, { ...y, shape: [...y.shape, 2] }] });
  });
});

const ARM_CC = 'arm-none-eabi-gcc';
const HAS_ARM = spawnSync(ARM_CC, ['--version'], { stdio: 'ignore' }).status === 0;
describe.skipIf(!HAS_ARM)('lut: builds for Cortex-M without float helpers', () => {
  const tmp = makeTempDir('tb-lut-arm-');
  afterAll(() => tmp.remove());
  it.each(['cortex-m4', 'cortex-m0'])('%s', (cpu) => {
    const src = join(tmp.dir, 'lut_unit.c');
    writeFileSync(src, '#include "tb_lut.h"\nvoid lut_unit(const int8_t *t, const int8_t *in, int8_t *out, int32_t n);\nvoid lut_unit(const int8_t *t, const int8_t *in, int8_t *out, int32_t n) { tb_lut_apply_s8(t, in, out, n); }\n');
    const obj = join(tmp.dir, `${cpu}.o`);
    execFileSync(ARM_CC, ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', `-mcpu=${cpu}`, '-mthumb', '-Os', `-I${RUNTIME}`, '-c', src, '-o', obj]);
    expect(execFileSync('arm-none-eabi-nm', [obj]).toString()).toMatch(/ T lut_unit\b/);
    expect(execFileSync('arm-none-eabi-nm', ['-u', obj]).toString()).not.toMatch(/__aeabi_[fd]|__aeabi_\w+2[fd]\b|__\w+[sd]f\d\b/);
  }, 30_000);
});
