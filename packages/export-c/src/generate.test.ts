/**
 * generateC on a real graph (test-graph.ts): the files compile clean with both host builds (and
 * for Cortex-M4 when arm-none-eabi-gcc is installed), the compiled model answers exactly what the
 * TS reference answers, generation is byte-for-byte deterministic, the report agrees with the
 * plan and the data file, and bad graphs fail with typed errors naming the node.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { type Int8Graph, OPS, parseGraph, runGraph, serializeGraph, tensorSize } from '@tinyblocks/int8';
import { planArena } from '@tinyblocks/plan';
import { C_BASE, C_STRICT, compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import { afterAll, describe, expect, it } from 'vitest';
import { generateC } from './generate.js';
import { blockGraph, randomFrames, standardGraph, streamFrames } from './test-graph.js';

const graph = standardGraph(1);
const gen = generateC(graph);
const bgraph = blockGraph(0.67);
const bgen = generateC(bgraph);
const tmp = makeTempDir('tb-export-c-');
afterAll(() => tmp.remove());

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/** Reads `<name>_run` outputs of every frame (stdin: raw frames; stdout: logits, rc, exit, macs). */
const DRIVER = (name: string) => {
  const N = name.toUpperCase();
  return `#include <stdint.h>
#include <stdio.h>
#include "${name}_model.h"
#include "${name}_model_data.h"

int main(void) {
  int8_t in[${N}_INPUT_SIZE];
  int8_t out[${N}_OUTPUT_SIZE];
  ${name}_result r;
  int i;
  if (((uintptr_t)${name}_conv_1_weights & 15u) != 0u) return 7; /* TB_ALIGN16 works */
  if (${name}_run(NULL, out) != ${N}_ERR_NULL || ${name}_run_ex(in, NULL, NULL, NULL) != ${N}_ERR_NULL) return 8;
  while (fread(in, 1, sizeof in, stdin) == sizeof in) {
    if (${name}_run_ex(in, out, NULL, &r) != ${N}_OK) return 9;
    for (i = 0; i < ${N}_OUTPUT_SIZE; i++) printf("%d ", (int)out[i]);
    printf("| %d %lu\\n", r.exit_taken, (unsigned long)r.macs);
  }
  return 0;
}
`;
};

describe('generateC', () => {
  it('writes the model header, data, schedule, runtime, graph and report', () => {
    const names = Object.keys(gen.files);
    expect(names.slice(0, 4)).toEqual(['tiny_model.h', 'tiny_model_data.h', 'tiny_model.c', 'tiny_model_data.c']);
    expect(names.slice(-5)).toEqual(['main.c', 'Makefile', 'CMakeLists.txt', 'tiny.int8.json', 'report.json']);
    const runtime = names.slice(4, -5);
    expect(runtime.every((f) => /^tb_\w+\.[ch]$/.test(f))).toBe(true);
    for (const h of ['tb_fixed_point.h', 'tb_conv2d.h', 'tb_conv2d.c', 'tb_depthwise_conv2d.h', 'tb_dense.h', 'tb_lut.h', 'tb_reshape.h', 'tb_avg_pool2d.h']) expect(runtime).toContain(h);
    expect(runtime).toEqual([...runtime].sort());
    // the runtime files are copies of @tinyblocks/int8's
    expect(gen.files['tb_fixed_point.h']).toContain('tb_requantize_s8');
    // the graph round-trips
    expect(serializeGraph(parseGraph(gen.files['tiny.int8.json']!))).toBe(serializeGraph(graph));
  });

  it('the header has the API and the constants', () => {
    const h = gen.files['tiny_model.h']!;
    for (const s of [
      '#ifndef TINY_MODEL_H',
      '#include <stdint.h>',
      '#define TINY_INPUT_SIZE 192',
      '#define TINY_INPUT_H 8',
      '#define TINY_INPUT_W 8',
      '#define TINY_INPUT_C 3',
      '#define TINY_OUTPUT_SIZE 10',
      '#define TINY_NUM_CLASSES 10',
      '#define TINY_NUM_CONCEPTS 0',
      '#define TINY_NUM_EXITS 0',
      `#define TINY_ARENA_SIZE ${gen.report.plan.arenaSize}`,
      '#define TINY_STATE_SIZE 0',
      `#define TINY_WEIGHT_BYTES ${gen.report.totals.flashDataBytes}`,
      `#define TINY_MACS ${gen.report.totals.macs}UL`,
      `#define TINY_INPUT_ZERO_POINT ${graph.tensors[graph.input]!.zeroPoint < 0 ? `(${graph.tensors[graph.input]!.zeroPoint})` : graph.tensors[graph.input]!.zeroPoint}`,
      '#define TINY_OK 0',
      '#define TINY_ERR_NULL (-1)',
      'int tiny_run(const int8_t *input, int8_t *output);',
      'int tiny_run_ex(const int8_t *input, int8_t *output, const tiny_options *options, tiny_result *result);',
      'int tiny_stream(const int8_t *frame, int8_t *output, const tiny_options *options, tiny_result *result);',
      'void tiny_reset(void);',
    ]) {
      expect(h).toContain(s);
    }
    const scale = /#define TINY_INPUT_SCALE (\S+)f/.exec(h)![1]!;
    expect(Math.fround(Number(scale))).toBe(Math.fround(graph.tensors[graph.input]!.scale));
  });

  it('the schedule: one commented call per node in order, trace and MACs after each, no float', () => {
    const c = gen.files['tiny_model.c']!;
    const plan = planArena(graph);
    const comments = [...c.matchAll(/^ {2}\/\* (\d+) (\S+) (\S+): (.*) \*\/$/gm)];
    expect(comments.map((m) => [Number(m[1]), m[2], m[3]])).toEqual(graph.nodes.map((n, i) => [i, n.op, n.name]));
    expect(comments[0]![4]).toBe(`[8, 8, 3] -> [8, 8, 8], arena +${plan.offsets[1]}`);
    expect(comments[1]![4]).toContain('(in place)'); // the lut writes over conv-1's output
    graph.nodes.forEach((n, i) => {
      const out = n.outputs[0]!;
      expect(c).toContain(`TB_TRACE(${i}, (arena + ${plan.offsets[out]}), ${tensorSize(graph.tensors[out]!)}u);`);
    });
    expect(c).toContain(`tb_conv2d_s8(input, (arena + ${plan.offsets[1]})`);
    expect((c.match(/macs \+= /g) ?? []).length).toBe(graph.nodes.length);
    const denseMacs = OPS.get('dense')!.macs(graph.nodes[6]!, graph);
    expect(c).toContain(`macs += ${denseMacs}u;`);
    for (const f of ['tiny_model.c', 'tiny_model_data.c', 'tiny_model_data.h']) {
      expect(gen.files[f]).not.toMatch(/\b(float|double|malloc|free)\b/);
    }
    expect(c).toMatch(/static int8_t arena\[\d+\] TB_ALIGN16;/);
  });

  it('data arrays: sanitised unique names, 16 values per line, aligned', () => {
    const d = gen.files['tiny_model_data.c']!;
    // 'conv-1' and 'conv_1' both sanitise to conv_1: the second becomes conv_1_2
    expect(d).toContain('const int8_t tiny_conv_1_weights[216] TB_ALIGN16 = {');
    expect(d).toContain('const int8_t tiny_conv_1_2_weights[72] TB_ALIGN16 = {');
    expect(d).toContain('const int8_t tiny_fc_logits_weights[1280] TB_ALIGN16 = {');
    expect(d).toContain('const int8_t tiny_act_table[256] TB_ALIGN16 = {');
    const rows = d.split('\n').filter((l) => /^ {2}-?\d/.test(l) || /^ {2}\(-2147483647 - 1\)/.test(l));
    expect(rows.length).toBeGreaterThan(0);
    const w = (graph.nodes[0] as unknown as { weights: Int8Array }).weights;
    const block = /tiny_conv_1_weights\[216\] TB_ALIGN16 = \{\n([\s\S]*?)\n\};/.exec(d)![1]!;
    const lines = block.split('\n');
    expect(lines.slice(0, -1).every((l) => l.split(',').length - 1 === 16)).toBe(true);
    expect(block.replace(/\s/g, '').split(',').filter((v) => v !== '').map(Number)).toEqual(Array.from(w));
    const h = gen.files['tiny_model_data.h']!;
    expect(h).toContain('#define TB_ALIGN16 __attribute__((aligned(16)))');
    expect(h).toContain('extern const int8_t tiny_conv_1_weights[216] TB_ALIGN16;');
  });

  it('the report agrees with the plan, the ops and the data file', () => {
    const r = gen.report;
    const plan = planArena(graph);
    expect(r.nodes.map((n) => n.arenaOffset)).toEqual(graph.nodes.map((n) => plan.offsets[n.outputs[0]!]));
    expect(r.nodes.reduce((s, n) => s + n.weightBytes, 0)).toBe(r.totals.flashDataBytes);
    expect(r.nodes.reduce((s, n) => s + n.macs, 0)).toBe(r.totals.macs);
    expect(r.totals.macs).toBe(graph.nodes.reduce((s, n) => s + OPS.get(n.op)!.macs(n, graph), 0));
    expect(r.totals.arenaBytes).toBe(plan.arenaSize);
    expect(r.plan).toEqual({ arenaSize: plan.arenaSize, greedyBySize: plan.greedyBySize.arenaSize, ratio: plan.arenaSize / plan.greedyBySize.arenaSize, lowerBound: plan.lowerBound, method: plan.method, align: 16 });
    expect(r.plan.ratio).toBeLessThanOrEqual(1);
    // flash bytes = every value in the data file times its type's size
    const sizes: Record<string, number> = { int8_t: 1, uint8_t: 1, int16_t: 2, int32_t: 4 };
    let bytes = 0;
    for (const m of gen.files['tiny_model_data.c']!.matchAll(/^const (\w+) \w+\[(\d+)\]/gm)) bytes += sizes[m[1]!]! * Number(m[2]);
    expect(bytes).toBe(r.totals.flashDataBytes);
    // conv-1: weights 216 int8 + bias, multipliers, shifts 8 int32 each
    expect(r.nodes[0]).toMatchObject({ index: 0, name: 'conv-1', op: 'conv2d', outputShape: [8, 8, 8], params: 216 + 24, weightBytes: 216 + 96, activationBytes: 512 });
    expect(r.nodes[5]).toMatchObject({ name: 'flat', op: 'reshape', params: 0, weightBytes: 0, macs: 0 });
    expect(JSON.parse(gen.files['report.json']!)).toEqual(JSON.parse(JSON.stringify(r)));
    expect(r.files).not.toContain('report.json');
  });

  it('is deterministic: the same graph (or its JSON round trip) gives identical bytes', () => {
    const again = generateC(standardGraph(1));
    expect(again.files).toEqual(gen.files);
    expect(generateC(blockGraph(0.67)).files).toEqual(bgen.files);
    const viaJson = generateC(parseGraph(serializeGraph(graph)));
    for (const [k, v] of Object.entries(gen.files)) expect(viaJson.files[k]).toBe(v);
    // a different name renames every file and symbol, nothing else
    const renamed = generateC(graph, { name: 'other' });
    expect(Object.keys(renamed.files)).toContain('other_model.c');
    expect(renamed.files['other_model.c']).not.toMatch(/\btiny_|TINY_/);
  });

  it('typed errors: unknown op and bad fields name the node; a bad name is a ConfigError', () => {
    const bad = standardGraph(1);
    (bad.nodes[2] as { op: string }).op = 'conv3d';
    expect(() => generateC(bad)).toThrow(DataError);
    expect(() => generateC(bad)).toThrow(/^conv_1: op: expected one of/);
    const short = standardGraph(1);
    (short.nodes[6] as unknown as { weights: Int8Array }).weights = new Int8Array(5);
    expect(() => generateC(short)).toThrow(/fc\.logits: weights/);
    expect(() => generateC(graph, { name: '9lives' })).toThrow(ConfigError);
    const g2: Int8Graph = { ...graph, outputs: [{ tensor: 99, role: 'logits' }] };
    expect(() => generateC(g2)).toThrow(DataError);
  });
});

describe('generateC: exits, concepts and stream state (block ops)', () => {
  const h = bgen.files['blocks_model.h']!;
  const c = bgen.files['blocks_model.c']!;
  const plan = planArena(bgraph);
  const off = (name: string) => plan.offsets[bgraph.tensors.findIndex((t) => t.name === name)]!;

  it('header: exits, concepts, state size, per-head quantisation', () => {
    for (const s of [
      '#define BLOCKS_NUM_EXITS 1',
      '#define BLOCKS_NUM_CONCEPTS 4',
      '#define BLOCKS_STATE_SIZE 320', // delta khat int16[128] + acc int32[16]
      '#define BLOCKS_EXIT0_SCALE ',
      '#define BLOCKS_EXIT0_ZERO_POINT ',
      '#define BLOCKS_CONCEPTS_ZERO_POINT ',
      '#define BLOCKS_ERR_CONCEPTS (-2)',
      'int8_t concepts[BLOCKS_NUM_CONCEPTS];',
    ]) {
      expect(h).toContain(s);
    }
    expect(bgen.report.numExits).toBe(1);
    expect(bgen.report.totals.stateBytes).toBe(320);
  });

  it('the exit copies its head, answers and returns; concepts not yet computed read 0', () => {
    const exit = /  if \(exits && \((tb_exit_decision_s8\([^\n]*)\)\) \{\n([\s\S]*?)\n  \}\n/.exec(c)!;
    expect(exit).not.toBeNull();
    expect(exit[1]).toContain(`(arena + ${off('exit0.logits')}), 10,`);
    expect(exit[2]!.split('\n').map((l) => l.trim())).toEqual([
      `memcpy(output, (arena + ${off('exit0.logits')}), 10u);`,
      'result->exit_taken = 0;',
      'result->macs = macs;',
      'memset(result->concepts, 0, 4u); /* not computed before this exit */',
      'return BLOCKS_OK;',
    ]);
    expect(c).toContain(`memcpy(result->concepts, (arena + ${off('cbm')}), 4u);`);
    expect(c).toContain(`memcpy(output, (arena + ${off('logits')}), 10u);`);
    expect(c).toMatch(/tb_concept_intervene_s8\([^;]*, concepts\);/);
    expect(c).toContain('if (concepts[i] < -1 || concepts[i] > 1) return BLOCKS_ERR_CONCEPTS;');
  });

  it('the delta layer: MACs it returns, static state cleared by _reset, _run_ex resets first', () => {
    expect(c).toMatch(/ {2}macs \+= \(uint32_t\)\(tb_delta_dense_s8\(/);
    expect(c).toContain('static int16_t blocks_delta_khat[128] TB_ALIGN16;');
    expect(c).toContain('static int32_t blocks_delta_acc[16] TB_ALIGN16;');
    const reset = /void blocks_reset\(void\) \{\n([\s\S]*?)\n\}/.exec(c)![1]!;
    expect(reset).toContain('memset(blocks_delta_khat, 0, sizeof(blocks_delta_khat));');
    expect(reset).toContain('tb_delta_dense_reset(blocks_delta_khat, 128, blocks_delta_acc, 16);');
    expect(c).toMatch(/int blocks_run_ex\([^)]*\) \{\n {2}if \(input == NULL \|\| output == NULL\) return BLOCKS_ERR_NULL;\n {2}blocks_reset\(\);/);
  });
});

/** Block graph: error codes, NULL options/result, _run == fresh runGraph even mid-stream. */
const BLOCK_DRIVER = `#include <stdint.h>
#include <stdio.h>
#include "blocks_model.h"

int main(void) {
  int8_t in[BLOCKS_INPUT_SIZE] = { 0 };
  int8_t out[BLOCKS_OUTPUT_SIZE];
  const int8_t bad[BLOCKS_NUM_CONCEPTS] = { -1, 2, 0, 0 };
  blocks_options opt = { 0, NULL };
  blocks_result r;
  int i;
  opt.concepts = bad;
  if (blocks_run_ex(in, out, &opt, &r) != BLOCKS_ERR_CONCEPTS) return 7;
  if (blocks_stream(NULL, out, NULL, NULL) != BLOCKS_ERR_NULL) return 8;
  while (fread(in, 1, sizeof in, stdin) == sizeof in) {
    if (blocks_stream(in, out, NULL, NULL) != BLOCKS_OK) return 9; /* state advances */
    if (blocks_run_ex(in, out, NULL, &r) != BLOCKS_OK) return 10;   /* fresh: reset first */
    for (i = 0; i < BLOCKS_OUTPUT_SIZE; i++) printf("%d ", (int)out[i]);
    printf("| %lu\\n", (unsigned long)r.macs);
    if (blocks_run(in, out) != BLOCKS_OK) return 11;
  }
  return 0;
}
`;

describe.skipIf(SKIP_C)('generated C compiles and matches the TS reference', () => {
  const frames = randomFrames(6, 192, 3);
  const stdin = Buffer.concat(frames.map((f) => Buffer.from(f.buffer)));
  const expected = frames
    .map((f) => {
      const r = runGraph(graph, f);
      return `${Array.from(r.logits).map((v) => `${v} `).join('')}| -1 ${r.macs}`;
    })
    .join('\n');

  const bframes = streamFrames(6, 192);
  // MACs tell a fresh run from a continued stream (the delta layer's outputs are the same either way)
  const bexpected = bframes.map((f) => {
    const r = runGraph(bgraph, f);
    return `${Array.from(r.logits).join(' ')} | ${r.macs}`;
  }).join('\n');

  for (const build of HOST_BUILDS) {
    it(`${build.name}: block ops build clean; error codes; _run equals a fresh runGraph mid-stream`, () => {
      requireCompiler();
      const dir = join(tmp.dir, `blocks-${build.name}`);
      mkdirSync(dir, { recursive: true });
      writeFiles(dir, bgen.files);
      const sources = Object.keys(bgen.files).filter((f) => f.endsWith('.c')).map((f) => join(dir, f));
      const bin = compileDriver(dir, 'driver.c', BLOCK_DRIVER, build, { sources, includeDirs: [dir] });
      expect(runBinary(bin, Buffer.concat(bframes.map((f) => Buffer.from(f.buffer)))).toString().trimEnd()).toBe(bexpected);
    });

    it(`${build.name}: clean build, same logits and MACs as runGraph`, () => {
      requireCompiler();
      const dir = join(tmp.dir, build.name);
      mkdirSync(dir, { recursive: true });
      writeFiles(dir, gen.files);
      const sources = Object.keys(gen.files).filter((f) => f.endsWith('.c')).map((f) => join(dir, f));
      const bin = compileDriver(dir, 'driver.c', DRIVER('tiny'), build, { sources, includeDirs: [dir] });
      expect(runBinary(bin, stdin).toString().trim()).toBe(expected);
    });
  }

  const hasArm = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasArm)('compiles for Cortex-M4 (arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -Werror)', () => {
    const dir = join(tmp.dir, 'arm');
    mkdirSync(dir, { recursive: true });
    writeFiles(dir, { ...gen.files, ...bgen.files });
    for (const f of Object.keys({ ...gen.files, ...bgen.files }).filter((k) => k.endsWith('.c'))) {
      const args = ['-mcpu=cortex-m4', '-mthumb', '-Os', ...C_BASE.filter((x) => x !== '-O2'), ...C_STRICT, '-c', join(dir, f), '-o', join(dir, `${f}.o`)];
      const r = spawnSync('arm-none-eabi-gcc', args, { encoding: 'utf8' });
      expect(r.stderr, f).toBe('');
      expect(r.status, f).toBe(0);
    }
  });
});
