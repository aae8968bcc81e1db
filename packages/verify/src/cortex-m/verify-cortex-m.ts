/**
 * verifyCortexM: builds firmware for a Cortex-M core (arm-none-eabi-gcc -O2, own startup code and
 * linker script), runs it in QEMU with the instruction-counting plugin, and compares every layer's
 * output and the result of every frame with the TypeScript int8 reference in the modes of
 * verifyHost (full, exits, intervene when the model has concepts, stream), with the same cases,
 * reference and comparison (harness.ts). Two images share the model's objects: fw_main.c as it
 * was (full, exits) and fw_main.c -DFW_MORE_MODES (intervene, stream), so full and exits count
 * the instructions they always counted. Reports flash (code vs constant data), static RAM, the
 * stack high-water mark and executed instructions per inference and per layer (executed
 * instructions, never cycles).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DataError } from '@tinyblocks/core/base';
import { runGraph } from '@tinyblocks/int8';
import {
  type CaseMismatch,
  checkHarnessOutput,
  compareRuns,
  describeMismatch,
  firstDiff,
  interventionsInitializer,
  MODES,
  modesFor,
  parseHarnessOutput,
  referenceCases,
  type VerifyMode,
} from '../harness.js';
import { type ModelDir, packFrames, readModelDir } from '../model-dir.js';
import { run, VerifyError } from '../toolchain.js';
import { type CortexMTarget, CORTEX_M_TARGETS, TARGET_INFO } from './targets.js';
import { type ArmTools, buildPlugin, defaultArmTools, firmwareDir, requireArmTools } from './tools.js';

/** The modes of verifyHost (harness.ts). */
export type CortexMMode = VerifyMode;

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
  /**
   * With predictionsOnly: run each frame with early exits (default false), so `logits` are the
   * answering head's, `exitsTaken` says which head answered (-1: the final classifier, as runGraph's
   * exitTaken), and `instructions.exits` / `perFrame` count the early-exit inference
   * (`instructions.full` NaN, `modes` ['exits']).
   */
  exits?: boolean;
}

/** Where the firmware first differs from TS: frame, mode, node (as verifyHost's, without a build). */
export type CortexMMismatch = CaseMismatch;

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
  /** Frames with every byte equal in every mode. */
  exact: number;
  /** The modes run and compared (modesFor: full, exits, intervene when the model has concepts, stream). */
  modes: CortexMMode[];
  firstMismatch?: CortexMMismatch;
  instructions: {
    /** Average executed instructions per inference (full mode: every layer), TB_TRACE marker calls included. */
    full: number;
    /** Average with early exits enabled. */
    exits: number;
    /** Average over the stream cases (`<name>_stream` after `<name>_reset`; delta layers skip unchanged inputs). */
    stream: number;
    /** Average with the interventions of the intervene mode (models with concepts). */
    intervene?: number;
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
  /** predictionsOnly with exits: the head that answered each frame (-1: the final classifier). */
  exitsTaken?: number[];
  /** predictionsOnly: the firmware's predicted class per frame (argmax of its logits, first on ties). */
  predictions?: number[];
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

/** A firmware image: its main (the model objects are shared), extra defines and the files it writes. */
interface Image {
  name: string;
  src: string;
  defines: string[];
  outPath: string;
  countPath: string;
  marksPath: string;
}

function image(tmp: string, name: string, src: string, defines: string[] = []): Image {
  return { name, src, defines, outPath: join(tmp, `${name}.out.bin`), countPath: join(tmp, `${name}.counts.txt`), marksPath: join(tmp, `${name}.marks.txt`) };
}

/** fw_config.h; the image built with -DFW_MORE_MODES (fw_main.c's second image) writes `more`'s files. */
function configHeader(m: ModelDir, frames: number, first: Image, more: Image): string {
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
#define FW_STREAM ${m.name}_stream
#define FW_RESET ${m.name}_reset
${m.numConcepts > 0 ? `#define FW_INTERVENTIONS ${interventionsInitializer(m.numConcepts)}\n` : ''}#define FW_OPTIONS ${m.name}_options
#define FW_RESULT ${m.name}_result
#ifdef FW_MORE_MODES
#define FW_OUT_PATH ${JSON.stringify(more.outPath)}
#define FW_COUNT_PATH ${JSON.stringify(more.countPath)}
#else
#define FW_OUT_PATH ${JSON.stringify(first.outPath)}
#define FW_COUNT_PATH ${JSON.stringify(first.countPath)}
#endif
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

/** Compiles the model, the frames and the startup code once, and each image's main; links one ELF per image. */
/** Promise.all that waits for every promise to settle before rejecting (nothing still writes into the temporary folder). */
async function allSettled<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

async function buildFirmware(tools: ArmTools, tmp: string, variant: string, m: ModelDir, cflags: string[], opt: string, trace: boolean, ld: string, images: readonly Image[]): Promise<Built[]> {
  const fw = firmwareDir();
  const dir = join(tmp, variant);
  mkdirSync(dir, { recursive: true });
  const common = [...cflags, opt, '-std=c99', '-ffunction-sections', '-fdata-sections', '-Wall', '-Wextra', '-Werror', `-I${m.dir}`, `-I${tmp}`, `-I${fw}`];
  const jobs: Array<{ src: string; obj: string; extra: string[] }> = [];
  for (const src of m.sources) jobs.push({ src, obj: join(dir, `model_${basename(src, '.c')}.o`), extra: trace ? ['-DTB_TRACE=fw_trace'] : [] });
  const mains = images.map((im) => ({ src: im.src, obj: join(dir, `${im.name}_main.o`), extra: im.defines }));
  const shared = [{ src: join(tmp, 'fw_frames.c'), obj: join(dir, 'fw_frames.o'), extra: [] }, { src: join(fw, 'startup.S'), obj: join(dir, 'startup.o'), extra: [] }];
  jobs.push(...mains, ...shared);
  // compile a few at a time (2 cores)
  for (let i = 0; i < jobs.length; i += 4) {
    await allSettled(
      jobs.slice(i, i + 4).map(async (j) => {
        const args = [...common, ...j.extra, '-c', j.src, '-o', j.obj];
        const r = await run(tools.gcc, args, null);
        if (r.status !== 0) throw new VerifyError({ op: OP }, `compile ${basename(j.src)} (${variant})`, 'C that compiles for the target without warnings', `${tools.gcc} ${args.join(' ')}\n${r.stderr.slice(0, 4000)}`);
      }),
    );
  }
  const modelObjects = jobs.slice(0, m.sources.length).map((j) => j.obj);
  return allSettled(images.map((im, i) => link(tools, dir, `${variant}${i > 0 ? ` ${im.name}` : ''}`, cflags, opt, ld, im.name, [...modelObjects, mains[i]!.obj, ...shared.map((j) => j.obj)])));
}

async function link(tools: ArmTools, dir: string, what: string, cflags: string[], opt: string, ld: string, name: string, objects: string[]): Promise<Built> {
  const elf = join(dir, `${name}.elf`);
  const mapFile = join(dir, `${name}.map`);
  const args = [...cflags, opt, '-nostartfiles', '--specs=nano.specs', `-T${ld}`, '-Wl,--gc-sections', `-Wl,-Map=${mapFile}`, ...objects, '-lgcc', '-o', elf];
  const r = await run(tools.gcc, args, null);
  if (r.status !== 0) {
    const over = [...r.stderr.matchAll(/region [`']?(\w+)'? overflowed by (\d+) bytes/g)];
    if (over.length > 0) {
      const detail = over.map((o) => `region '${o[1]}' overflowed by ${o[2]} bytes`).join('; ');
      throw new VerifyError({ op: OP }, `link (${what})`, 'firmware that fits the target memory', `${detail}\n${r.stderr.slice(0, 2000)}`);
    }
    if (/leaves too little stack/.test(r.stderr)) {
      throw new VerifyError({ op: OP }, `link (${what})`, 'static RAM leaving at least 1024 bytes of stack', r.stderr.slice(0, 2000));
    }
    throw new VerifyError({ op: OP }, `link (${what})`, 'firmware that links', `${tools.gcc} ${args.join(' ')}\n${r.stderr.slice(0, 4000)}`);
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

interface CountCase {
  mode: VerifyMode;
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
    if (k === 'case') {
      const mode = MODES[x];
      if (!mode) throw new DataError({ file }, 'case mode', 'a mode 0-3', line);
      cases.push({ mode, frame: y, rc: 0, nodes: [] });
    }
    else if (k === 'rc') cases[cases.length - 1]!.rc = x | 0;
    else if (k === 'node') cases[cases.length - 1]!.nodes.push(y);
    else if (k === 'stack') stack = [x, y];
    else throw new DataError({ file }, 'line', "'case', 'rc', 'node' or 'stack'", line);
  }
  if (!stack) throw new DataError({ file }, 'stack line', 'the stack high-water marks at the end', 'none');
  return { cases, stack };
}

function readArenaBytes(model: ModelDir): number | null {
  // the header the firmware is compiled with (report.json is only for people to read)
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

/** What a run needs: the target, the model and frames, the temporary folder and the linker script. */
interface Job {
  t0: number;
  target: CortexMTarget;
  info: (typeof TARGET_INFO)[CortexMTarget];
  tools: ArmTools;
  model: ModelDir;
  inputs: readonly Int8Array[];
  options: CortexMOptions;
  tmp: string;
  ld: string;
  timeout: number;
}

interface Ran<T> {
  /** Per image: the -O2 build and the plugin's running instruction totals, one per tb_mark call. */
  images: Array<{ built: Built; marks: number[] }>;
  /** The first image at -Os (code size), when asked for. */
  os: Promise<Built[]> | null;
  /** What `reference` returned (computed while QEMU ran). */
  expected: T;
  tBuild: number;
  tQemu: number;
}

/** Runs one image in QEMU with the instruction-counting plugin; checks it exited with 0 and wrote its files. */
async function qemuRun(job: Job, im: Image, built: Built, so: string): Promise<number[]> {
  const { target, info, tools, model, timeout } = job;
  const mark = await symbolAddress(tools, built.elf, 'tb_mark');
  const qemuArgs = ['-M', info.machine, '-cpu', info.cpu, '-nographic', '-monitor', 'none', '-semihosting-config', 'enable=on,target=native', '-kernel', built.elf, '-plugin', `${so},mark=0x${mark.toString(16)},out=${im.marksPath}`];
  const r = await run('timeout', ['-k', '5', String(timeout), tools.qemu, ...qemuArgs], null);
  const cmd = `${tools.qemu} ${qemuArgs.join(' ')}`;
  if (r.status === 124 || r.status === 137) throw new VerifyError({ op: OP }, `QEMU run (${target})`, `the firmware to finish within ${timeout} s`, `timed out\n${cmd}`);
  if (r.status !== 0) {
    const why = r.status === 0x7f ? ' (fault handler: HardFault or another exception)' : r.status === 0x70 ? ' (could not open the output file via semihosting)' : r.status === 0x71 ? ' (semihosting write failed)' : r.status === 0x72 ? ` (${model.name}_run_ex returned an error)` : '';
    throw new VerifyError({ op: OP }, `QEMU run (${target})`, 'the firmware to exit with status 0', `status ${r.status ?? r.signal}${why}\n${cmd}\n${r.stderr.slice(0, 2000)}${r.stdout.toString('utf8').slice(0, 2000)}`);
  }
  for (const f of [im.outPath, im.countPath, im.marksPath]) if (!existsSync(f)) throw new DataError({ file: f }, 'file', 'written by the firmware / plugin', 'no such file');
  return readFileSync(im.marksPath, 'utf8')
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

/**
 * Builds the images (-O2, TB_TRACE when `trace`; the first also at -Os without it, for the code
 * size, unless sizeAtOs is false), runs them in QEMU side by side while `reference` computes the
 * TS side, and checks that each exited with 0 and wrote its files.
 */
async function buildAndRun<T>(job: Job, images: readonly Image[], trace: boolean, reference: () => T): Promise<Ran<T>> {
  const { info, tools, model, tmp, ld } = job;
  const plugin = buildPlugin(OP, tools.hostCC);
  plugin.catch(() => {});
  let built: Built[];
  try {
    built = await buildFirmware(tools, tmp, 'O2', model, info.cflags, '-O2', trace, ld, images);
  } catch (e) {
    await plugin.catch(() => {});
    throw e;
  }
  const os = job.options.sizeAtOs === false ? null : buildFirmware(tools, tmp, 'Os', model, info.cflags, '-Os', false, ld, images.slice(0, 1));
  os?.catch(() => {});
  const so = await plugin;
  const tBuild = performance.now();
  const runs = images.map((im, i) => qemuRun(job, im, built[i]!, so));
  runs.forEach((r) => r.catch(() => {}));
  const expected = reference(); // while QEMU runs
  let marks: number[][];
  try {
    marks = await allSettled(runs); // every run ended before the temporary folder goes
  } catch (e) {
    await os?.catch(() => {}); // and the -Os build too
    throw e;
  }
  const tQemu = performance.now();
  return { images: marks.map((m, i) => ({ built: built[i]!, marks: m })), os, expected, tBuild, tQemu };
}

/** The result: what the run compared and counted (`head`), then flash, RAM and times, then `tail`. */
async function resultOf<T>(
  job: Job,
  ran: Ran<T>,
  stack: { stackBytes: number; inferenceStackBytes: number },
  head: Pick<CortexMResult, 'exact' | 'modes' | 'firstMismatch' | 'instructions'>,
  tail: Pick<CortexMResult, 'logits' | 'predictions' | 'exitsTaken'> = {},
): Promise<CortexMResult> {
  const { firstMismatch, ...rest } = head;
  const osBuilt = ran.os ? (await ran.os)[0]! : null;
  return {
    name: job.model.name,
    target: job.target,
    machine: job.info.machine,
    cpu: job.info.cpu,
    count: job.inputs.length,
    exact: rest.exact,
    modes: rest.modes,
    ...(firstMismatch ? { firstMismatch } : {}),
    instructions: rest.instructions,
    ...(await footprint(job.tools, ran.images[0]!.built, osBuilt, job.model, stack)),
    seconds: { build: (ran.tBuild - job.t0) / 1000, qemu: (ran.tQemu - ran.tBuild) / 1000, total: (performance.now() - job.t0) / 1000 },
    ...tail,
  };
}

/**
 * The predictionsOnly run: no trace, one inference per frame (full, or with early exits), the
 * logits and the head that answered back per frame.
 */
async function predictionsRun(job: Job, im: Image): Promise<CortexMResult> {
  const { model, inputs } = job;
  const exits = job.options.exits === true;
  const mode = exits ? ('exits' as const) : ('full' as const);
  const ran = await buildAndRun(job, [im], false, () => inputs.map((x) => runGraph(model.graph, x, { exits })));
  const expected = ran.expected;
  const bytes = new Int8Array(new Uint8Array(readFileSync(im.outPath)).buffer);
  const record = model.outputSize + 1; // logits, then the exit taken
  if (bytes.length !== inputs.length * record) throw new DataError({ file: im.outPath }, 'bytes', `${inputs.length} x (${model.outputSize} logits + 1 exit byte)`, bytes.length);
  const logits = inputs.map((_, f) => bytes.slice(f * record, f * record + model.outputSize));
  const exitsTaken = inputs.map((_, f) => bytes[f * record + model.outputSize]!);
  const predictions = logits.map((l) => l.reduce((best, v, i) => (v > l[best]! ? i : best), 0));
  let exact = 0;
  let firstMismatch: CortexMMismatch | undefined;
  logits.forEach((l, f) => {
    const want = expected[f]!;
    const d = firstDiff(l, want.logits);
    if (d < 0 && exitsTaken[f] === want.exitTaken) exact++;
    else if (d >= 0) firstMismatch ??= { frame: f, mode, field: 'logits', nodeIndex: null, node: null, op: null, byte: d, c: l[d] ?? NaN, ts: want.logits[d] ?? NaN };
    else firstMismatch ??= { frame: f, mode, field: 'exitTaken', nodeIndex: null, node: null, op: null, byte: null, c: exitsTaken[f]!, ts: want.exitTaken };
  });
  const stack = /^stack (\d+) (\d+)$/m.exec(readFileSync(im.countPath, 'utf8'));
  if (!stack) throw new DataError({ file: im.countPath }, 'stack line', 'the stack high-water marks', 'none');
  const marks = ran.images[0]!.marks;
  if (marks.length !== inputs.length * 2) throw new DataError({ file: im.marksPath }, 'marker calls', `${inputs.length * 2} (2 per inference)`, marks.length);
  const perFrame = inputs.map((_, f) => marks[2 * f + 1]! - marks[2 * f]!);
  const average = perFrame.reduce((s, v) => s + v, 0) / perFrame.length;
  const instructions = { full: exits ? NaN : average, exits: exits ? average : NaN, stream: NaN, perFrame, perLayer: [] };
  const head = { exact, modes: [mode], firstMismatch, instructions };
  return resultOf(job, ran, { stackBytes: Number(stack[1]), inferenceStackBytes: Number(stack[2]) }, head, { logits, predictions, ...(exits ? { exitsTaken } : {}) });
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
  const { graph, numConcepts } = model;

  const tmp = mkdtempSync(join(tmpdir(), 'tb-cortex-m-'));
  try {
    const fw = firmwareDir();
    // fw_main.c twice: full and exits (the firmware as it always was), then intervene and stream
    const predict = options.predictionsOnly === true;
    const first = predict
      ? image(tmp, 'predict', join(fw, 'fw_predict.c'), [`-DFW_PREDICT_EXITS=${options.exits === true ? 1 : 0}`])
      : image(tmp, 'fw', join(fw, 'fw_main.c'));
    const more = image(tmp, 'more', join(fw, 'fw_main.c'), ['-DFW_MORE_MODES']);
    writeFileSync(join(tmp, 'fw_config.h'), configHeader(model, inputs.length, first, more));
    writeFileSync(join(tmp, 'fw_frames.c'), framesSource(inputs));
    const flash = { origin: info.flash.origin, length: options.flashBytes ?? info.flash.length };
    const ram = { origin: info.ram.origin, length: options.ramBytes ?? info.ram.length };
    const ld = join(tmp, 'fw.ld');
    writeFileSync(ld, linkerScript(fw, flash, ram));
    const job: Job = { t0, target, info, tools, model, inputs, options, tmp, ld, timeout: options.timeoutSeconds ?? 120 };

    if (predict) return await predictionsRun(job, first);

    // the cases of the host harness, compared as verifyHost compares them
    const modes = modesFor(numConcepts);
    const imageModes = [modes.filter((m) => m === 'full' || m === 'exits'), modes.filter((m) => m !== 'full' && m !== 'exits')];
    const images = [first, more];
    const ran = await buildAndRun(job, images, true, () => referenceCases(graph, inputs, numConcepts, modes));
    const what = `Cortex-M firmware output (${target})`;
    const outputs = images.map((im, i) => {
      const parsed = parseHarnessOutput(new Uint8Array(readFileSync(im.outPath)), `${what}, ${im.name}`);
      checkHarnessOutput(parsed, model, inputs.length, imageModes[i]!, `${what}, ${im.name}`);
      return parsed;
    });
    const output = { ...outputs[0]!, cases: outputs.flatMap((o) => o.cases) };
    const { exact, firstMismatch } = compareRuns(graph, modes, inputs.length, [{ output, extra: {}, what }], ran.expected);

    // instructions: marks = running totals at each tb_mark call; per case: start, one per trace, end
    const totals = new Map<VerifyMode, number[]>(modes.map((m) => [m, []]));
    const layerSums = new Map<number, number>();
    const stack = { stackBytes: 0, inferenceStackBytes: 0 };
    images.forEach((im, i) => {
      const counts = parseCounts(readFileSync(im.countPath, 'utf8'), im.countPath);
      const need = inputs.length * imageModes[i]!.length;
      if (counts.cases.length !== need) throw new DataError({ file: im.countPath }, 'cases', `${need}`, counts.cases.length);
      const marks = ran.images[i]!.marks;
      const needMarks = counts.cases.reduce((s, c) => s + c.nodes.length + 2, 0);
      if (marks.length !== needMarks) throw new DataError({ file: im.marksPath }, 'marker calls', `${needMarks} (2 per inference + 1 per traced node)`, marks.length);
      let p = 0;
      for (const c of counts.cases) {
        const s = marks.slice(p, p + c.nodes.length + 2);
        p += c.nodes.length + 2;
        totals.get(c.mode)?.push(s[s.length - 1]! - s[0]!);
        if (c.mode === 'full') c.nodes.forEach((node, j) => layerSums.set(node, (layerSums.get(node) ?? 0) + (s[j + 1]! - s[j]!)));
      }
      // the deepest of the images (they share the startup code and the model)
      stack.stackBytes = Math.max(stack.stackBytes, counts.stack[0]);
      stack.inferenceStackBytes = Math.max(stack.inferenceStackBytes, counts.stack[1]);
    });
    const perFrame = totals.get('full')!;
    const avg = (mode: VerifyMode) => {
      const v = totals.get(mode) ?? [];
      return v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
    };
    const perLayer = [...layerSums.entries()].map(([nodeIndex, sum]) => ({
      nodeIndex,
      node: graph.nodes[nodeIndex]?.name ?? `#${nodeIndex}`,
      op: graph.nodes[nodeIndex]?.op ?? '?',
      instructions: sum / Math.max(1, perFrame.length),
    }));
    const instructions = { full: avg('full'), exits: avg('exits'), stream: avg('stream'), ...(numConcepts > 0 ? { intervene: avg('intervene') } : {}), perFrame, perLayer };
    return await resultOf(job, ran, stack, { exact, modes, firstMismatch, instructions });
  } finally {
    rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** `verify cortex-m4: 10/10 bit-exact, 1,234,567 instructions/inference` (executed instructions, not cycles). */
export function formatCortexMLine(result: CortexMResult): string {
  const n = Math.round(result.instructions.full).toLocaleString('en-US');
  const line = `verify ${result.target}: ${result.exact}/${result.count} bit-exact, ${n} instructions/inference`;
  return result.firstMismatch ? `${line}; first mismatch: ${describeMismatch(result.firstMismatch)}` : line;
}
