/**
 * verifyCortexM: builds firmware for a Cortex-M core (arm-none-eabi-gcc -O2, own startup code and
 * linker script), runs it in QEMU with the instruction-counting plugin, and compares every layer's
 * output and the result of every frame (full and exits mode) with the TypeScript int8 reference.
 * Reports flash (code vs constant data), static RAM, the stack high-water mark and executed
 * instructions per inference and per layer (executed instructions, never cycles).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DataError } from '@tinyblocks/core/base';
import { type Int8Graph, type RunOutput, runGraph } from '@tinyblocks/int8';
import { type CCase, parseHarnessOutput } from '../harness.js';
import { type ModelDir, packFrames, readModelDir } from '../model-dir.js';
import { run, VerifyError } from '../toolchain.js';
import { type CortexMTarget, CORTEX_M_TARGETS, TARGET_INFO } from './targets.js';
import { type ArmTools, buildPlugin, defaultArmTools, firmwareDir, requireArmTools } from './tools.js';

export type CortexMMode = 'full' | 'exits';

export interface CortexMOptions {
  target: CortexMTarget;
  /** Limit of the QEMU run (default 120 s). */
  timeoutSeconds?: number;
  /** Override the linker regions (bytes), e.g. to check a real board's budget. */
  flashBytes?: number;
  ramBytes?: number;
  /** Also link at -Os to report the code size there (default true). */
  sizeAtOs?: boolean;
  tools?: Partial<ArmTools>;
  /**
   * Predictions only (default false): the firmware runs each frame once in full mode (no exits),
   * without TB_TRACE, and returns its logits and predicted classes (`logits`, `predictions`), so
   * 1,000 frames take seconds. `exact` counts frames whose logits equal runGraph's; per-layer
   * instructions are not measured (`perLayer` empty, `instructions.exits` NaN, `modes` ['full']).
   */
  predictionsOnly?: boolean;
}

export interface CortexMMismatch {
  frame: number;
  mode: CortexMMode;
  field: 'trace' | 'trace order' | 'logits' | 'concepts' | 'exitTaken' | 'macs' | 'rc';
  nodeIndex: number | null;
  node: string | null;
  op: string | null;
  byte: number | null;
  c: number;
  ts: number;
}

export interface CortexMLayerInstructions {
  /** Index of the node whose TB_TRACE closes the span (untraced nodes, e.g. exit decisions, fold into the next traced node). */
  nodeIndex: number;
  node: string;
  op: string;
  /** Average executed instructions over the full-mode frames. */
  instructions: number;
}

export interface CortexMResult {
  name: string;
  target: CortexMTarget;
  machine: string;
  cpu: string;
  count: number;
  exact: number;
  modes: CortexMMode[];
  firstMismatch?: CortexMMismatch;
  instructions: {
    /** Average executed instructions per inference (full mode: every layer), TB_TRACE marker calls included. */
    full: number;
    /** Average with early exits enabled. */
    exits: number;
    /** Per frame, full mode (identical run after run). */
    perFrame: number[];
    perLayer: CortexMLayerInstructions[];
  };
  flash: {
    /** Whole firmware code (.vectors + .text, -O2, harness and libc helpers included). */
    codeBytes: number;
    /** Code of the export's object files only (-O2, after --gc-sections, TB_TRACE calls compiled in). */
    modelCodeBytes: number;
    /** Same, linked at -Os without TB_TRACE (null when not built). */
    modelCodeBytesOs: number | null;
    /** Constant data of the export (its .rodata: weights, biases, multipliers, tables). */
    modelDataBytes: number;
    /** Sum of the `<name>_*` read-only data symbols (nm). */
    weightSymbolBytes: number;
    /** The test vectors (not part of a deployment). */
    framesBytes: number;
    /** Flash used in all (.vectors, .text, .rodata, .ARM.exidx, .data load image, frames). */
    totalBytes: number;
  };
  ram: {
    /** .data + .bss of the whole firmware. */
    staticBytes: number;
    /** .data + .bss of the export's object files (arena, stream state). */
    modelStaticBytes: number;
    /** Arena bytes from report.json (null when absent). */
    arenaBytes: number | null;
    /** Stack high-water mark from the top of RAM (startup + main + inference), painted at reset. */
    stackBytes: number;
    /** Stack used below main's frame by the inference calls. */
    inferenceStackBytes: number;
  };
  seconds: { build: number; qemu: number; total: number };
  /** predictionsOnly: the firmware's logits per frame (int8 codes of the final classifier). */
  logits?: Int8Array[];
  /** predictionsOnly: the firmware's predicted class per frame (argmax of its logits, first on ties). */
  predictions?: number[];
}

interface Expected {
  traces: Array<{ node: number; data: Int8Array }>;
  out: RunOutput;
  concepts: Int8Array;
}

const OP = 'verifyCortexM';

function cArray(bytes: Int8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 24) parts.push(`  ${Array.from(bytes.subarray(i, i + 24)).join(', ')}`);
  return parts.join(',\n');
}

function framesSource(inputs: readonly Int8Array[]): string {
  const rows = inputs.map((x) => `  {\n${cArray(x)}\n  }`).join(',\n');
  return `/* fw_frames.c - test vectors, generated by @tinyblocks/verify. */
#include <stdint.h>
#include "fw_config.h"
__attribute__((section(".tb_frames"), aligned(16))) const int8_t fw_frames[FW_NUM_FRAMES][FW_INPUT_SIZE] = {
${rows}
};
`;
}

function configHeader(m: ModelDir, frames: number, outPath: string, countPath: string): string {
  const N = m.name.toUpperCase();
  return `/* fw_config.h - generated by @tinyblocks/verify for '${m.name}'. */
#ifndef FW_CONFIG_H
#define FW_CONFIG_H
#include "${m.name}_model.h"
#define FW_INPUT_SIZE ${N}_INPUT_SIZE
#define FW_OUTPUT_SIZE ${N}_OUTPUT_SIZE
#define FW_NUM_CONCEPTS ${N}_NUM_CONCEPTS
#define FW_NUM_NODES ${N}_NUM_NODES
#define FW_NUM_FRAMES ${frames}
#define FW_RUN_EX ${m.name}_run_ex
#define FW_OPTIONS ${m.name}_options
#define FW_RESULT ${m.name}_result
#define FW_OUT_PATH ${JSON.stringify(outPath)}
#define FW_COUNT_PATH ${JSON.stringify(countPath)}
#endif
`;
}

function linkerScript(fw: string, flash: { origin: number; length: number }, ram: { origin: number; length: number }): string {
  const hex = (v: number) => `0x${v.toString(16)}`;
  return readFileSync(join(fw, 'cortex-m.ld'), 'utf8')
    .replaceAll('@FLASH_ORIGIN@', hex(flash.origin))
    .replaceAll('@FLASH_LENGTH@', hex(flash.length))
    .replaceAll('@RAM_ORIGIN@', hex(ram.origin))
    .replaceAll('@RAM_LENGTH@', hex(ram.length))
    .replaceAll('@MIN_STACK@', '1024');
}

interface MapSizes {
  /** per object basename: text / rodata / data / bss bytes */
  byObject: Map<string, { text: number; rodata: number; data: number; bss: number }>;
  /** output section sizes */
  sections: Map<string, number>;
}

/** Input-section sizes per object file from a GNU ld map file (after --gc-sections). */
export function parseMap(text: string): MapSizes {
  const start = text.indexOf('Linker script and memory map');
  const body = start >= 0 ? text.slice(start) : text;
  const byObject: MapSizes['byObject'] = new Map();
  const sections = new Map<string, number>();
  const re = /^ (\.[\w.$-]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)$/gm;
  for (const m of body.matchAll(re)) {
    const sec = m[1]!;
    const size = parseInt(m[3]!, 16);
    const obj = basename(m[4]!.replace(/\(.*\)$/, ''));
    const kind = sec.startsWith('.text') ? 'text' : sec.startsWith('.rodata') ? 'rodata' : sec.startsWith('.data') ? 'data' : sec.startsWith('.bss') || sec.startsWith('COMMON') ? 'bss' : null;
    if (!kind || size === 0) continue;
    const e = byObject.get(obj) ?? { text: 0, rodata: 0, data: 0, bss: 0 };
    e[kind] += size;
    byObject.set(obj, e);
  }
  for (const m of body.matchAll(/^(\.[\w.]+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/gm)) sections.set(m[1]!, (sections.get(m[1]!) ?? 0) + parseInt(m[3]!, 16));
  return { byObject, sections };
}

interface Built {
  elf: string;
  map: MapSizes;
}

async function buildFirmware(
  tools: ArmTools,
  tmp: string,
  variant: string,
  m: ModelDir,
  cflags: string[],
  opt: string,
  trace: boolean,
  ld: string,
  mainSrc = join(firmwareDir(), 'fw_main.c'),
): Promise<Built> {
  const fw = firmwareDir();
  const dir = join(tmp, variant);
  mkdirSync(dir, { recursive: true });
  const common = [...cflags, opt, '-std=c99', '-ffunction-sections', '-fdata-sections', '-Wall', '-Wextra', '-Werror', `-I${m.dir}`, `-I${tmp}`, `-I${fw}`];
  const objects: string[] = [];
  const jobs: Array<{ src: string; obj: string; extra: string[] }> = [];
  for (const src of m.sources) jobs.push({ src, obj: join(dir, `model_${basename(src, '.c')}.o`), extra: trace ? ['-DTB_TRACE=fw_trace'] : [] });
  jobs.push({ src: mainSrc, obj: join(dir, 'fw_main.o'), extra: [] });
  jobs.push({ src: join(tmp, 'fw_frames.c'), obj: join(dir, 'fw_frames.o'), extra: [] });
  jobs.push({ src: join(fw, 'startup.S'), obj: join(dir, 'startup.o'), extra: [] });
  // compile a few at a time (2 cores)
  for (let i = 0; i < jobs.length; i += 4) {
    await Promise.all(
      jobs.slice(i, i + 4).map(async (j) => {
        const args = [...common, ...j.extra, '-c', j.src, '-o', j.obj];
        const r = await run(tools.gcc, args, null);
        if (r.status !== 0) throw new VerifyError({ op: OP }, `compile ${basename(j.src)} (${variant})`, 'C that compiles for the target without warnings', `${tools.gcc} ${args.join(' ')}\n${r.stderr.slice(0, 4000)}`);
        objects.push(j.obj);
      }),
    );
  }
  const elf = join(dir, 'fw.elf');
  const mapFile = join(dir, 'fw.map');
  const args = [...cflags, opt, '-nostartfiles', '--specs=nano.specs', `-T${ld}`, '-Wl,--gc-sections', `-Wl,-Map=${mapFile}`, ...objects, '-lgcc', '-o', elf];
  const r = await run(tools.gcc, args, null);
  if (r.status !== 0) {
    const over = [...r.stderr.matchAll(/region [`']?(\w+)'? overflowed by (\d+) bytes/g)];
    if (over.length > 0) {
      const detail = over.map((o) => `region '${o[1]}' overflowed by ${o[2]} bytes`).join('; ');
      throw new VerifyError({ op: OP }, `link (${variant})`, 'firmware that fits the target memory', `${detail}\n${r.stderr.slice(0, 2000)}`);
    }
    if (/leaves too little stack/.test(r.stderr)) {
      throw new VerifyError({ op: OP }, `link (${variant})`, 'static RAM leaving at least 1024 bytes of stack', r.stderr.slice(0, 2000));
    }
    throw new VerifyError({ op: OP }, `link (${variant})`, 'firmware that links', `${tools.gcc} ${args.join(' ')}\n${r.stderr.slice(0, 4000)}`);
  }
  return { elf, map: parseMap(readFileSync(mapFile, 'utf8')) };
}

async function symbolAddress(tools: ArmTools, elf: string, symbol: string): Promise<number> {
  const r = await run(tools.nm, [elf], null);
  const line = r.stdout
    .toString('utf8')
    .split('\n')
    .find((l) => l.endsWith(` ${symbol}`));
  if (r.status !== 0 || !line) throw new VerifyError({ op: OP }, 'nm', `the symbol ${symbol} in the firmware`, r.stderr || 'not found');
  return parseInt(line.split(' ')[0]!, 16) & ~1;
}

async function weightSymbolBytes(tools: ArmTools, elf: string, name: string): Promise<number> {
  const r = await run(tools.nm, ['--size-sort', '-S', elf], null);
  let sum = 0;
  for (const l of r.stdout.toString('utf8').split('\n')) {
    const p = l.trim().split(/\s+/);
    if (p.length === 4 && /^[rR]$/.test(p[2]!) && p[3]!.startsWith(`${name}_`)) sum += parseInt(p[1]!, 16);
  }
  return sum;
}

function reference(graph: Int8Graph, x: Int8Array, exits: boolean): Expected {
  const traces: Expected['traces'] = [];
  const out = runGraph(graph, x, { exits, onNode: (_n, index, outputs) => outputs.forEach((d) => traces.push({ node: index, data: d.slice() })) });
  const ci = graph.outputs.findIndex((o) => o.role === 'concepts');
  return { traces, out, concepts: ci >= 0 ? (out.outputs[ci] ?? new Int8Array(0)) : new Int8Array(0) };
}

function firstDiff(a: Int8Array, b: Int8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function compare(graph: Int8Graph, c: CCase, e: Expected, numConcepts: number): CortexMMismatch | null {
  const mode = c.mode as CortexMMode;
  const base = { frame: c.frame, mode };
  const info = (i: number) => ({ nodeIndex: i, node: graph.nodes[i]?.name ?? null, op: graph.nodes[i]?.op ?? null });
  const scalar = { nodeIndex: null, node: null, op: null, byte: null };
  if (c.rc !== 0) return { ...base, field: 'rc', ...scalar, c: c.rc, ts: 0 };
  const n = Math.max(c.traces.length, e.traces.length);
  for (let k = 0; k < n; k++) {
    const ct = c.traces[k];
    const et = e.traces[k];
    if (!ct || !et || ct.node !== et.node) return { ...base, field: 'trace order', ...info(et?.node ?? ct!.node), byte: null, c: ct?.node ?? -1, ts: et?.node ?? -1 };
    const d = firstDiff(ct.data, et.data);
    if (d >= 0) return { ...base, field: 'trace', ...info(et.node), byte: d, c: ct.data[d] ?? NaN, ts: et.data[d] ?? NaN };
  }
  if (c.exitTaken !== e.out.exitTaken) return { ...base, field: 'exitTaken', ...scalar, c: c.exitTaken, ts: e.out.exitTaken };
  const dl = firstDiff(c.logits, e.out.logits);
  if (dl >= 0) return { ...base, field: 'logits', ...scalar, byte: dl, c: c.logits[dl] ?? NaN, ts: e.out.logits[dl] ?? NaN };
  const want = numConcepts > 0 ? (e.out.exitTaken >= 0 ? new Int8Array(numConcepts) : e.concepts) : new Int8Array(0);
  const dc = firstDiff(c.concepts, want);
  if (dc >= 0) return { ...base, field: 'concepts', ...scalar, byte: dc, c: c.concepts[dc] ?? NaN, ts: want[dc] ?? NaN };
  if (c.macs !== e.out.macs >>> 0) return { ...base, field: 'macs', ...scalar, c: c.macs, ts: e.out.macs >>> 0 };
  return null;
}

interface CountCase {
  mode: CortexMMode;
  frame: number;
  rc: number;
  nodes: number[];
}

function parseCounts(text: string, file: string): { cases: CountCase[]; stack: [number, number] } {
  const cases: CountCase[] = [];
  let stack: [number, number] | null = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [k, a, b] = line.split(' ');
    const x = Number(a);
    const y = Number(b);
    if (k === 'case') cases.push({ mode: x === 0 ? 'full' : 'exits', frame: y, rc: 0, nodes: [] });
    else if (k === 'rc') cases[cases.length - 1]!.rc = x | 0;
    else if (k === 'node') cases[cases.length - 1]!.nodes.push(y);
    else if (k === 'stack') stack = [x, y];
    else throw new DataError({ file }, 'line', "'case', 'rc', 'node' or 'stack'", line);
  }
  if (!stack) throw new DataError({ file }, 'stack line', 'the stack high-water marks at the end', 'none');
  return { cases, stack };
}

function readArenaBytes(model: ModelDir): number | null {
  const report = join(model.dir, 'report.json');
  if (existsSync(report)) {
    try {
      const j = JSON.parse(readFileSync(report, 'utf8')) as Record<string, unknown>;
      const a = (j['totals'] as Record<string, unknown> | undefined)?.['arenaBytes'];
      if (typeof a === 'number') return a;
    } catch {
      // fall through to the header
    }
  }
  const h = readFileSync(join(model.dir, `${model.name}_model.h`), 'utf8').match(new RegExp(`#define ${model.name.toUpperCase()}_ARENA_SIZE (\\d+)`));
  return h ? Number(h[1]) : null;
}

type Sizes = { text: number; rodata: number; data: number; bss: number };

function modelSizes(mp: MapSizes): Sizes[] {
  return [...mp.byObject.entries()].filter(([o]) => o.startsWith('model_')).map(([, v]) => v);
}

function sumSizes(vs: Sizes[], k: keyof Sizes): number {
  return vs.reduce((s, v) => s + v[k], 0);
}

/** Flash and RAM of a built firmware, from its linker map (and the -Os build's, when made). */
async function footprint(
  tools: ArmTools,
  main: Built,
  osBuilt: Built | null,
  model: ModelDir,
  stack: { stackBytes: number; inferenceStackBytes: number },
): Promise<Pick<CortexMResult, 'flash' | 'ram'>> {
  const sec = (n: string) => main.map.sections.get(n) ?? 0;
  const mo = modelSizes(main.map);
  return {
    flash: {
      codeBytes: sec('.vectors') + sec('.text'),
      modelCodeBytes: sumSizes(mo, 'text'),
      modelCodeBytesOs: osBuilt ? sumSizes(modelSizes(osBuilt.map), 'text') : null,
      modelDataBytes: sumSizes(mo, 'rodata'),
      weightSymbolBytes: await weightSymbolBytes(tools, main.elf, model.name),
      framesBytes: sec('.tb_frames'),
      totalBytes: sec('.vectors') + sec('.text') + sec('.ARM.extab') + sec('.ARM.exidx') + sec('.rodata') + sec('.tb_frames') + sec('.data'),
    },
    ram: {
      staticBytes: sec('.data') + sec('.bss'),
      modelStaticBytes: sumSizes(mo, 'data') + sumSizes(mo, 'bss'),
      arenaBytes: readArenaBytes(model),
      ...stack,
    },
  };
}

/** The predictionsOnly run: no trace, one full inference per frame, logits back per frame. */
async function predictionsRun(a: {
  t0: number;
  target: CortexMTarget;
  info: (typeof TARGET_INFO)[CortexMTarget];
  tools: ArmTools;
  model: ModelDir;
  inputs: readonly Int8Array[];
  options: CortexMOptions;
  tmp: string;
  ld: string;
  outPath: string;
  countPath: string;
  marksPath: string;
  timeout: number;
}): Promise<CortexMResult> {
  const { t0, target, info, tools, model, inputs, tmp, outPath, countPath, marksPath, timeout } = a;
  const { graph, name } = model;
  const plugin = buildPlugin(OP, tools.hostCC);
  plugin.catch(() => {});
  const mainSrc = join(firmwareDir(), 'fw_predict.c');
  const main = await buildFirmware(tools, tmp, 'O2', model, info.cflags, '-O2', false, a.ld, mainSrc);
  const os = a.options.sizeAtOs === false ? null : buildFirmware(tools, tmp, 'Os', model, info.cflags, '-Os', false, a.ld, mainSrc);
  os?.catch(() => {});
  const mark = await symbolAddress(tools, main.elf, 'tb_mark');
  const so = await plugin;
  const tBuild = performance.now();
  const qemuArgs = ['-M', info.machine, '-cpu', info.cpu, '-nographic', '-monitor', 'none', '-semihosting-config', 'enable=on,target=native', '-kernel', main.elf, '-plugin', `${so},mark=0x${mark.toString(16)},out=${marksPath}`];
  const ran = run('timeout', ['-k', '5', String(timeout), tools.qemu, ...qemuArgs], null);
  const expected = inputs.map((x) => runGraph(graph, x, { exits: false }).logits);
  const r = await ran;
  const tQemu = performance.now();
  const cmd = `${tools.qemu} ${qemuArgs.join(' ')}`;
  if (r.status === 124 || r.status === 137) throw new VerifyError({ op: OP }, `QEMU run (${target})`, `the firmware to finish within ${timeout} s`, `timed out\n${cmd}`);
  if (r.status !== 0) {
    const why = r.status === 0x7f ? ' (fault handler: HardFault or another exception)' : r.status === 0x70 ? ' (could not open the output file via semihosting)' : r.status === 0x71 ? ' (semihosting write failed)' : r.status === 0x72 ? ` (${name}_run_ex returned an error)` : '';
    throw new VerifyError({ op: OP }, `QEMU run (${target})`, 'the firmware to exit with status 0', `status ${r.status ?? r.signal}${why}\n${cmd}\n${r.stderr.slice(0, 2000)}${r.stdout.toString('utf8').slice(0, 2000)}`);
  }
  for (const f of [outPath, countPath, marksPath]) if (!existsSync(f)) throw new DataError({ file: f }, 'file', 'written by the firmware / plugin', 'no such file');
  const bytes = new Int8Array(new Uint8Array(readFileSync(outPath)).buffer);
  if (bytes.length !== inputs.length * model.outputSize) throw new DataError({ file: outPath }, 'bytes', `${inputs.length} x ${model.outputSize} logits`, bytes.length);
  const logits = inputs.map((_, f) => bytes.slice(f * model.outputSize, (f + 1) * model.outputSize));
  const predictions = logits.map((l) => l.reduce((best, v, i) => (v > l[best]! ? i : best), 0));
  let exact = 0;
  let firstMismatch: CortexMMismatch | undefined;
  logits.forEach((l, f) => {
    const d = firstDiff(l, expected[f]!);
    if (d < 0) exact++;
    else firstMismatch ??= { frame: f, mode: 'full', field: 'logits', nodeIndex: null, node: null, op: null, byte: d, c: l[d] ?? NaN, ts: expected[f]![d] ?? NaN };
  });
  const stack = /^stack (\d+) (\d+)$/m.exec(readFileSync(countPath, 'utf8'));
  if (!stack) throw new DataError({ file: countPath }, 'stack line', 'the stack high-water marks', 'none');
  const marks = readFileSync(marksPath, 'utf8')
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
  if (marks.length !== inputs.length * 2) throw new DataError({ file: marksPath }, 'marker calls', `${inputs.length * 2} (2 per inference)`, marks.length);
  const perFrame = inputs.map((_, f) => marks[2 * f + 1]! - marks[2 * f]!);
  const osBuilt = os ? await os : null;
  return {
    name,
    target,
    machine: info.machine,
    cpu: info.cpu,
    count: inputs.length,
    exact,
    modes: ['full'],
    ...(firstMismatch ? { firstMismatch } : {}),
    instructions: { full: perFrame.reduce((s, v) => s + v, 0) / perFrame.length, exits: NaN, perFrame, perLayer: [] },
    ...(await footprint(tools, main, osBuilt, model, { stackBytes: Number(stack[1]), inferenceStackBytes: Number(stack[2]) })),
    seconds: { build: (tBuild - t0) / 1000, qemu: (tQemu - tBuild) / 1000, total: (performance.now() - t0) / 1000 },
    logits,
    predictions,
  };
}

/** Builds firmware for `target`, runs it in QEMU on `inputs` and compares every layer with TS. */
export async function verifyCortexM(outDir: string, inputs: readonly Int8Array[], options: CortexMOptions): Promise<CortexMResult> {
  const t0 = performance.now();
  const target = options?.target;
  if (!CORTEX_M_TARGETS.includes(target)) throw new DataError({ op: OP }, 'options.target', CORTEX_M_TARGETS.join(' | '), target);
  const info = TARGET_INFO[target];
  const tools: ArmTools = { ...defaultArmTools(), ...options.tools };
  const model = readModelDir(outDir);
  packFrames(OP, inputs, model.inputSize); // validates the frames
  requireArmTools(OP, tools);
  const { graph, name, numConcepts } = model;
  const timeout = options.timeoutSeconds ?? 120;

  const tmp = mkdtempSync(join(tmpdir(), 'tb-cortex-m-'));
  try {
    const outPath = join(tmp, 'out.bin');
    const countPath = join(tmp, 'counts.txt');
    const marksPath = join(tmp, 'marks.txt');
    writeFileSync(join(tmp, 'fw_config.h'), configHeader(model, inputs.length, outPath, countPath));
    writeFileSync(join(tmp, 'fw_frames.c'), framesSource(inputs));
    const flash = { origin: info.flash.origin, length: options.flashBytes ?? info.flash.length };
    const ram = { origin: info.ram.origin, length: options.ramBytes ?? info.ram.length };
    const ld = join(tmp, 'fw.ld');
    writeFileSync(ld, linkerScript(firmwareDir(), flash, ram));

    if (options.predictionsOnly === true) return await predictionsRun({ t0, target, info, tools, model, inputs, options, tmp, ld, outPath, countPath, marksPath, timeout });

    const plugin = buildPlugin(OP, tools.hostCC);
    plugin.catch(() => {});
    const main = await buildFirmware(tools, tmp, 'O2', model, info.cflags, '-O2', true, ld);
    const os = options.sizeAtOs === false ? null : buildFirmware(tools, tmp, 'Os', model, info.cflags, '-Os', false, ld);
    os?.catch(() => {});
    const mark = await symbolAddress(tools, main.elf, 'tb_mark');
    const so = await plugin;
    const tBuild = performance.now();

    // the TS reference while QEMU runs
    const qemuArgs = ['-M', info.machine, '-cpu', info.cpu, '-nographic', '-monitor', 'none', '-semihosting-config', 'enable=on,target=native', '-kernel', main.elf, '-plugin', `${so},mark=0x${mark.toString(16)},out=${marksPath}`];
    const ran = run('timeout', ['-k', '5', String(timeout), tools.qemu, ...qemuArgs], null);
    const expected = inputs.map((x) => ({ full: reference(graph, x, false), exits: reference(graph, x, true) }));
    const r = await ran;
    const tQemu = performance.now();
    const cmd = `${tools.qemu} ${qemuArgs.join(' ')}`;
    if (r.status === 124 || r.status === 137) throw new VerifyError({ op: OP }, `QEMU run (${target})`, `the firmware to finish within ${timeout} s`, `timed out\n${cmd}`);
    if (r.status !== 0) {
      const why = r.status === 0x7f ? ' (fault handler: HardFault or another exception)' : r.status === 0x70 ? ' (could not open the output file via semihosting)' : r.status === 0x71 ? ' (semihosting write failed)' : '';
      throw new VerifyError({ op: OP }, `QEMU run (${target})`, 'the firmware to exit with status 0', `status ${r.status ?? r.signal}${why}\n${cmd}\n${r.stderr.slice(0, 2000)}${r.stdout.toString('utf8').slice(0, 2000)}`);
    }
    for (const f of [outPath, countPath, marksPath]) if (!existsSync(f)) throw new DataError({ file: f }, 'file', 'written by the firmware / plugin', 'no such file');

    // compare
    const parsed = parseHarnessOutput(new Uint8Array(readFileSync(outPath)), `Cortex-M firmware output (${target})`);
    const want = [model.inputSize, model.outputSize, numConcepts, graph.nodes.length];
    const got = [parsed.inputSize, parsed.outputSize, parsed.numConcepts, parsed.numNodes];
    if (want.some((v, k) => v !== got[k])) throw new DataError({ file: join(model.dir, `${name}_model.h`) }, 'INPUT_SIZE, OUTPUT_SIZE, NUM_CONCEPTS, NUM_NODES', want.join(', '), got.join(', '));
    if (parsed.cases.length !== inputs.length * 2) throw new DataError({ file: outPath }, 'cases', `${inputs.length * 2}`, parsed.cases.length);
    let exact = 0;
    let firstMismatch: CortexMMismatch | undefined;
    for (let f = 0; f < inputs.length; f++) {
      let ok = true;
      for (const [k, mode] of (['full', 'exits'] as const).entries()) {
        const c = parsed.cases[f * 2 + k]!;
        const m = compare(graph, c, expected[f]![mode], numConcepts);
        if (m) {
          ok = false;
          firstMismatch ??= m;
        }
      }
      if (ok) exact++;
    }

    // instructions: marks = running totals at each tb_mark call; per case: start, one per trace, end
    const counts = parseCounts(readFileSync(countPath, 'utf8'), countPath);
    const marks = readFileSync(marksPath, 'utf8')
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
    const needMarks = counts.cases.reduce((s, c) => s + c.nodes.length + 2, 0);
    if (marks.length !== needMarks) throw new DataError({ file: marksPath }, 'marker calls', `${needMarks} (2 per inference + 1 per traced node)`, marks.length);
    let p = 0;
    const perFrame: number[] = [];
    const exitsCounts: number[] = [];
    const layerSums = new Map<number, number>();
    for (const c of counts.cases) {
      const s = marks.slice(p, p + c.nodes.length + 2);
      p += c.nodes.length + 2;
      const total = s[s.length - 1]! - s[0]!;
      if (c.mode === 'full') {
        perFrame.push(total);
        c.nodes.forEach((node, j) => layerSums.set(node, (layerSums.get(node) ?? 0) + (s[j + 1]! - s[j]!)));
      } else exitsCounts.push(total);
    }
    const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
    const perLayer = [...layerSums.entries()].map(([nodeIndex, sum]) => ({
      nodeIndex,
      node: graph.nodes[nodeIndex]?.name ?? `#${nodeIndex}`,
      op: graph.nodes[nodeIndex]?.op ?? '?',
      instructions: sum / Math.max(1, perFrame.length),
    }));

    // sizes
    const osBuilt = os ? await os : null;
    return {
      name,
      target,
      machine: info.machine,
      cpu: info.cpu,
      count: inputs.length,
      exact,
      modes: ['full', 'exits'],
      ...(firstMismatch ? { firstMismatch } : {}),
      instructions: { full: avg(perFrame), exits: avg(exitsCounts), perFrame, perLayer },
      ...(await footprint(tools, main, osBuilt, model, { stackBytes: counts.stack[0], inferenceStackBytes: counts.stack[1] })),
      seconds: { build: (tBuild - t0) / 1000, qemu: (tQemu - tBuild) / 1000, total: (performance.now() - t0) / 1000 },
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** `verify cortex-m4: 10/10 bit-exact, 1,234,567 instructions/inference` (executed instructions, not cycles). */
export function formatCortexMLine(result: CortexMResult): string {
  const n = Math.round(result.instructions.full).toLocaleString('en-US');
  const line = `verify ${result.target}: ${result.exact}/${result.count} bit-exact, ${n} instructions/inference`;
  const m = result.firstMismatch;
  if (!m) return line;
  const at = m.nodeIndex !== null ? `node ${m.nodeIndex} ${m.node} (${m.op})` : m.field;
  const byte = m.byte !== null ? ` byte ${m.byte}` : '';
  return `${line}; first mismatch: frame ${m.frame}, ${m.mode}, ${at}${byte}: C ${m.c} vs TS ${m.ts}`;
}
