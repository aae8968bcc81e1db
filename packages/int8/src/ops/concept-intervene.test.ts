/**
 * concept_intervene: lowering + TS kernel against the float intervention (c' = c with chosen
 * concepts replaced), the C kernel against TS (interventions or NULL, in place and not),
 * validate's errors, and a Cortex-M build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type TensorInfo } from '../graph.js';
import type { EmitContext, EmittedC } from '../op.js';
import { conceptIntervene, type ConceptInterveneNode, lowerConceptIntervene } from './concept-intervene.js';
import { cI32 } from './int-math.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));
type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;
const ctxOf = (interventions: Int8Array | null) => ({ state: <T>(_n: unknown, init: () => T) => init(), interventions });

function graphOf(node: ConceptInterveneNode, info: TensorInfo): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors: [info, { ...info, name: 'c2' }], nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'concepts' }], meta: {} };
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
  return { node, graph: graphOf(node, info), x: Int8Array.from(c.codes.slice(0, c.k)), iv: c.iv ? Int8Array.from(c.iv.slice(0, c.k)) : null };
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
    const { node, graph, x } = makeCase(fc.sample(caseArb, { seed: 2, numRuns: 1 })[0]!);
    expect(Array.from(conceptIntervene.run(node, [x], graph, ctxOf(null)).outputs[0]!)).toEqual(Array.from(x));
    expect(() => conceptIntervene.run(node, [x], graph, ctxOf(new Int8Array(x.length + 1)))).toThrow(/cbm: interventions/);
  });

  it('lowering rejects logits of the wrong length (ConfigError)', () => {
    const info = { name: 'c', shape: [3], scale: 0.1, zeroPoint: 0 };
    expect(() => lowerConceptIntervene({ name: 'cbm', inputs: [0], outputs: [1], in: info, out: info, lowLogits: [0, 0], highLogits: [1, 1, 1] })).toThrow(ConfigError);
  });
});


const READ = 'static int rd(void) { int v; if (scanf("%d", &v) != 1) exit(2); return v; }';

/** A C program around an emitted call: constant arrays from ctx.data, state from ctx.state,
 *  tensor 0 -> `in`, tensor 1 -> `out`, the interventions -> `iv`. */
function emittedProgram(emit: (ctx: EmitContext) => EmittedC, graph: Int8Graph, header: string, body: (e: EmittedC) => string): string {
  const decls: string[] = [];
  const ctx = {
    graph,
    tensor: (id: number) => (id === 0 ? 'in' : 'out'),
    data: (suffix: string, type: string, values: ArrayLike<number>) => {
      decls.push(`static const ${type} d_${suffix}[] = { ${Array.from(values, cI32).join(', ')} };`);
      return `d_${suffix}`;
    },
    state: (suffix: string, type: string, n: number) => {
      decls.push(`static ${type} s_${suffix}[${n}];`);
      return `s_${suffix}`;
    },
    interventions: 'iv',
  } as unknown as EmitContext;
  const e = emit(ctx);
  return ['#include <stdio.h>', '#include <stdlib.h>', `#include "${header}"`, ...decls, body(e), ''].join('\n');
}

const DRIVER = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include "tb_concept_intervene.h"
static int8_t x[64], y[64], lo[64], hi[64], iv[64];
static long long rd(void) { long long v; if (scanf("%lld", &v) != 1) exit(2); return v; }
static void rda(int8_t *a, int32_t k) { int32_t i; for (i = 0; i < k; i++) a[i] = (int8_t)rd(); }
int main(void) {
  long long cases = rd();
  while (cases-- > 0) {
    const int32_t k = (int32_t)rd(), inplace = (int32_t)rd(), has_iv = (int32_t)rd();
    int32_t i;
    rda(x, k); rda(lo, k); rda(hi, k); rda(iv, k);
    tb_concept_intervene_s8(x, inplace ? x : y, k, lo, hi, has_iv ? iv : NULL);
    for (i = 0; i < k; i++) printf("%d ", (int)(inplace ? x : y)[i]);
    printf("\n");
  }
  return 0;
}
`;

describe.skipIf(SKIP_C)('concept_intervene: C kernel is bit-exact with TS', () => {
  const tmp = makeTempDir('tb-cbm-');
  afterAll(() => tmp.remove());

  it.each(HOST_BUILDS.map((b) => [b.name, b] as const))('%s: every byte equals TS (interventions or NULL, in place and not)', (_name, build) => {
    requireCompiler();
    const lines: string[] = [];
    const expected: string[] = [];
    fc.sample(caseArb, { seed: 3, numRuns: 500 }).forEach((c, n) => {
      const { node, graph, x, iv } = makeCase(c);
      lines.push([c.k, n % 2, iv ? 1 : 0, ...x, ...node.low, ...node.high, ...(iv ?? new Int8Array(c.k))].join(' '));
      expected.push(Array.from(conceptIntervene.run(node, [x], graph, ctxOf(iv)).outputs[0]!).join(' '));
    });
    const bin = compileDriver(tmp.dir, 'cbm_driver.c', DRIVER, build, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_concept_intervene.c')] });
    const out = runBinary(bin, `${lines.length}\n${lines.join('\n')}\n`).toString().trim().split('\n').map((l) => l.trim());
    expect(out).toEqual(expected);
  }, 120_000);

  it('the emitted call compiles against tb_concept_intervene.h and equals TS (interventions and NULL)', () => {
    requireCompiler();
    for (const c of fc.sample(caseArb, { seed: 7, numRuns: 4 })) {
      const { node, graph, x, iv } = makeCase(c);
      const k = x.length;
      const ivDecl = iv ? `static const int8_t ivs[${k}] = { ${Array.from(iv).join(', ')} };\nstatic const int8_t *iv = ivs;` : 'static const int8_t *iv = NULL;';
      const src = emittedProgram((ctx) => conceptIntervene.emitC(node, ctx), graph, 'tb_concept_intervene.h', (e) =>
        `${ivDecl}\nstatic int8_t in[${k}], out[${k}];\n${READ}\nint main(void) { int i; for (i = 0; i < ${k}; i++) in[i] = (int8_t)rd(); ${e.call}; for (i = 0; i < ${k}; i++) printf("%d ", out[i]); return 0; }`);
      const bin = compileDriver(tmp.dir, 'cbm_emitted.c', src, HOST_BUILDS[0]!, { includeDirs: [RUNTIME], sources: [join(RUNTIME, 'tb_concept_intervene.c')] });
      expect(runBinary(bin, Array.from(x).join(' ')).toString().trim()).toBe(Array.from(conceptIntervene.run(node, [x], graph, ctxOf(iv)).outputs[0]!).join(' '));
    }
  }, 120_000);

  it('emitC passes the interventions expression', () => {
    const { node, graph } = makeCase(fc.sample(caseArb, { seed: 4, numRuns: 1 })[0]!);
    const ctx = { graph, tensor: (id: number) => `T${id}`, data: (s: string) => `d_${s}`, state: () => 's', interventions: 'model_iv' } as unknown as EmitContext;
    expect(conceptIntervene.emitC(node, ctx)).toEqual({ call: `tb_concept_intervene_s8(T0, T1, ${graph.tensors[0]!.shape[0]}, d_low, d_high, model_iv)` });
  });
});

describe('concept_intervene: validate names the node and the field', () => {
  const { node, graph } = makeCase(fc.sample(caseArb, { seed: 5, numRuns: 1 })[0]!);
  const bad = (patch: Partial<ConceptInterveneNode>, field: RegExp, g = graph) => {
    const n = { ...node, ...patch } as ConceptInterveneNode;
    expect(() => conceptIntervene.validate(n, g)).toThrow(DataError);
    expect(() => conceptIntervene.validate(n, g)).toThrow(field);
    expect(() => conceptIntervene.validate(n, g)).toThrow(/^cbm:/);
  };
  it('accepts the lowered node', () => expect(() => conceptIntervene.validate(node, graph)).not.toThrow());
  it('bad fields', () => {
    bad({ low: new Int8Array(node.low.length + 1) }, /low/);
    bad({ high: Int16Array.from(node.high) as unknown as Int8Array }, /high/);
    bad({}, /output tensor/, { ...graph, tensors: [graph.tensors[0]!, { ...graph.tensors[1]!, scale: graph.tensors[1]!.scale * 2 }] });
  });
});

const HAS_ARM = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const ARM_FLAGS = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes', '-mthumb', '-Os'];

describe.skipIf(!HAS_ARM)('concept_intervene on Cortex-M (arm-none-eabi-gcc)', () => {
  it.each(['cortex-m0', 'cortex-m4'])('%s: -Os -Werror, no float or library helper', (cpu) => {
    const tmp = makeTempDir('tb-cbm-arm-');
    try {
      const obj = join(tmp.dir, 'k.o');
      execFileSync('arm-none-eabi-gcc', [...ARM_FLAGS, `-mcpu=${cpu}`, `-I${RUNTIME}`, '-c', join(RUNTIME, 'tb_concept_intervene.c'), '-o', obj], { stdio: 'pipe' });
      const syms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString().split(/\s+/).filter((t) => t && t !== 'U');
      expect(syms).toEqual([]);
    } finally {
      tmp.remove();
    }
  });
});
