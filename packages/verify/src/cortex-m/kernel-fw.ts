/**
 * Kernel firmware: runs the runtime's conv2d / depthwise_conv2d / dense kernels on given cases in
 * QEMU, each case twice, the portable C kernel (`tb_*_s8_portable`) and the dispatching one
 * (`tb_*_s8`: the MVE (Helium) path on Cortex-M55, the DSP SIMD path on Cortex-M4/M7, the
 * portable path elsewhere), with the instruction-counting plugin's marker around each call.
 * Returns both outputs, the executed instructions (not cycles) of each call and the path the
 * dispatching kernels were built with (TB_KERNEL_PATH of runtime/tb_mve.h, written by the firmware
 * after the outputs). Reuses firmware/startup.S, cortex-m.ld and
 * tb_insn_count.c, the target flags of targets.ts and the tools of tools.ts. Used by
 * kernels.test.ts (bit-exactness) and kernel-bench.ts (instructions per MAC).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@tinyblocks/core/base';
import { runtimeDir } from '@tinyblocks/export-c';
import {
  type Conv2dNode,
  conv2d,
  type DenseNode,
  type DepthwiseConv2dNode,
  dense,
  depthwiseConv2d,
  INT8_GRAPH_FORMAT,
  INT8_GRAPH_VERSION,
  type Int8Graph,
  type OpDef,
  type RunContext,
  spatialGeometry,
  type TensorInfo,
} from '@tinyblocks/int8';
import { run, VerifyError } from '../toolchain.js';
import { type CortexMTarget, TARGET_INFO } from './targets.js';
import { type ArmTools, buildPlugin, defaultArmTools, firmwareDir, requireArmTools } from './tools.js';

const OP = 'kernelFirmware';

export type KernelNode = Conv2dNode | DepthwiseConv2dNode | DenseNode;

export interface KernelCase {
  name: string;
  node: KernelNode;
  /** One-node graph: tensor 0 the input, tensor 1 the output. */
  graph: Int8Graph;
  input: Int8Array;
}

export interface KernelRun {
  name: string;
  op: KernelNode['op'];
  macs: number;
  portable: Int8Array;
  fast: Int8Array;
  /** Executed instructions (not cycles) of each call, callees included. */
  portableInstructions: number;
  fastInstructions: number;
  /** The path of the dispatching kernels in this build (TB_KERNEL_PATH): 'mve', 'dsp' or 'portable'. */
  path: KernelPath;
}

export type KernelPath = 'mve' | 'dsp' | 'portable';

const CTX: RunContext = { state: <T>(_node: unknown, init: () => T) => init(), interventions: null };

function opDef(node: KernelNode): OpDef<KernelNode> {
  return (node.op === 'conv2d' ? conv2d : node.op === 'depthwise_conv2d' ? depthwiseConv2d : dense) as OpDef<KernelNode>;
}

/** The TypeScript kernel's output (validate first). */
export function tsKernel(c: KernelCase): Int8Array {
  const op = opDef(c.node);
  op.validate(c.node, c.graph);
  return op.run(c.node, [c.input], c.graph, CTX).outputs[0]!;
}

export function kernelMacs(c: KernelCase): number {
  return opDef(c.node).macs(c.node, c.graph);
}

// ---------------------------------------------------------------- random cases

/** Uniform doubles in [0, 1) from core's seeded Rng. */
function rng(seed: number): () => number {
  const g = new Rng(seed);
  return () => g.next();
}

const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const i8s = (r: () => number, n: number) => Int8Array.from({ length: n }, () => int(r, -128, 127));

/** Per-channel requantisation that keeps outputs mostly unsaturated for `taps` products; some big biases (wrap), some left shifts. */
function requant(r: () => number, channels: number, taps: number) {
  const base = -Math.round(6.4 + 0.5 * Math.log2(Math.max(1, taps)));
  const bias = Int32Array.from({ length: channels }, () => (r() < 0.1 ? int(r, -(2 ** 31), 2 ** 31 - 1) : int(r, -30000, 30000)));
  const multipliers = Int32Array.from({ length: channels }, () => (r() < 0.05 ? 0 : int(r, 2 ** 30, 2 ** 31 - 1)));
  const shifts = Int32Array.from({ length: channels }, () => (r() < 0.05 ? int(r, 1, 3) : Math.max(-31, Math.min(30, base + int(r, -2, 2)))));
  return { bias, multipliers, shifts };
}

function clampRange(r: () => number, outZp: number): { actMin: number; actMax: number } {
  const u = r();
  if (u < 0.6) return { actMin: -128, actMax: 127 };
  if (u < 0.85) return { actMin: Math.max(-128, outZp), actMax: 127 };
  const actMin = Math.max(-128, outZp);
  return { actMin, actMax: int(r, actMin, 127) };
}

function tensors(inShape: number[], outShape: number[], inZp: number, outZp: number): TensorInfo[] {
  return [
    { name: 'x', shape: inShape, scale: 1, zeroPoint: inZp },
    { name: 'y', shape: outShape, scale: 1, zeroPoint: outZp },
  ];
}

function graphOf(node: KernelNode, ts: TensorInfo[]): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'k', tensors: ts, nodes: [node as never], input: 0, outputs: [{ tensor: 1, role: 'logits' }], meta: {} };
}

export interface ConvShape {
  H: number;
  W: number;
  Cin: number;
  Cout: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  padding: 'same' | 'valid';
}

export function convCase(name: string, s: ConvShape, seed: number): KernelCase {
  const r = rng(seed);
  const g = spatialGeometry({ op: OP }, [s.H, s.W], [s.KH, s.KW], [s.SH, s.SW], s.padding);
  const inZp = int(r, -128, 127);
  const outZp = int(r, -128, 127);
  const node: Conv2dNode = {
    op: 'conv2d',
    name,
    inputs: [0],
    outputs: [1],
    weights: i8s(r, s.Cout * s.KH * s.KW * s.Cin),
    ...requant(r, s.Cout, s.KH * s.KW * s.Cin),
    kernel: [s.KH, s.KW],
    strides: [s.SH, s.SW],
    padding: { top: g.top, left: g.left },
    ...clampRange(r, outZp),
  };
  return { name, node, graph: graphOf(node, tensors([s.H, s.W, s.Cin], [g.outH, g.outW, s.Cout], inZp, outZp)), input: i8s(r, s.H * s.W * s.Cin) };
}

export type DepthwiseShape = Omit<ConvShape, 'Cin' | 'Cout'> & { C: number };

export function depthwiseCase(name: string, s: DepthwiseShape, seed: number): KernelCase {
  const r = rng(seed);
  const g = spatialGeometry({ op: OP }, [s.H, s.W], [s.KH, s.KW], [s.SH, s.SW], s.padding);
  const inZp = int(r, -128, 127);
  const outZp = int(r, -128, 127);
  const node: DepthwiseConv2dNode = {
    op: 'depthwise_conv2d',
    name,
    inputs: [0],
    outputs: [1],
    weights: i8s(r, s.KH * s.KW * s.C),
    ...requant(r, s.C, s.KH * s.KW),
    kernel: [s.KH, s.KW],
    strides: [s.SH, s.SW],
    padding: { top: g.top, left: g.left },
    ...clampRange(r, outZp),
  };
  return { name, node, graph: graphOf(node, tensors([s.H, s.W, s.C], [g.outH, g.outW, s.C], inZp, outZp)), input: i8s(r, s.H * s.W * s.C) };
}

export function denseCase(name: string, D: number, N: number, seed: number): KernelCase {
  const r = rng(seed);
  const inZp = int(r, -128, 127);
  const outZp = int(r, -128, 127);
  const node: DenseNode = { op: 'dense', name, inputs: [0], outputs: [1], weights: i8s(r, N * D), ...requant(r, N, D), ...clampRange(r, outZp) };
  return { name, node, graph: graphOf(node, tensors([D], [N], inZp, outZp)), input: i8s(r, D) };
}

/** Random conv / depthwise / dense cases: odd channel counts, kernels 1-5, strides 1-3, both paddings, zero points. */
export function randomKernelCases(count: number, seed: number): KernelCase[] {
  const r = rng(seed);
  const out: KernelCase[] = [];
  for (let i = 0; out.length < count; i++) {
    const kind = i % 3;
    const s = int(r, 1, 2 ** 30);
    if (kind === 2) {
      out.push(denseCase(`dense_${i}`, r() < 0.2 ? int(r, 1, 8) : int(r, 1, 300), int(r, 1, 13), s));
      continue;
    }
    const KH = int(r, 1, r() < 0.2 ? 5 : 3);
    const KW = r() < 0.7 ? KH : int(r, 1, 4);
    const padding = r() < 0.6 ? 'same' : 'valid';
    const H = int(r, padding === 'valid' ? KH : 1, 11);
    const W = int(r, padding === 'valid' ? KW : 1, 11);
    const SH = int(r, 1, r() < 0.3 ? 3 : 2);
    const SW = r() < 0.7 ? SH : int(r, 1, 3);
    if (kind === 0) {
      const Cin = r() < 0.5 ? [1, 2, 3, 5, 6, 7][int(r, 0, 5)]! : [4, 8, 12, 16, 20][int(r, 0, 4)]!;
      out.push(convCase(`conv_${i}`, { H, W, Cin, Cout: int(r, 1, 11), KH, KW, SH, SW, padding }, s));
    } else {
      const C = r() < 0.5 ? int(r, 1, 11) : [4, 8, 16, 20, 24][int(r, 0, 4)]!;
      out.push(depthwiseCase(`dw_${i}`, { H, W, C, KH, KW, SH, SW, padding }, s));
    }
  }
  return out;
}

/** The five bench shapes (a-e). */
export function benchKernelCases(seed = 1): KernelCase[] {
  return [
    convCase('a: conv 3x3 s1 28x28x1->16', { H: 28, W: 28, Cin: 1, Cout: 16, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, seed),
    convCase('b: conv 3x3 s2 28x28x16->32', { H: 28, W: 28, Cin: 16, Cout: 32, KH: 3, KW: 3, SH: 2, SW: 2, padding: 'same' }, seed + 1),
    convCase('c: conv 1x1 14x14x32->64', { H: 14, W: 14, Cin: 32, Cout: 64, KH: 1, KW: 1, SH: 1, SW: 1, padding: 'same' }, seed + 2),
    depthwiseCase('d: depthwise 3x3 s1 14x14x64', { H: 14, W: 14, C: 64, KH: 3, KW: 3, SH: 1, SW: 1, padding: 'same' }, seed + 3),
    denseCase('e: dense 1024->128', 1024, 128, seed + 4),
  ];
}

// ---------------------------------------------------------------- firmware

const cList = (v: ArrayLike<number>) => {
  const parts: string[] = [];
  for (let i = 0; i < v.length; i += 32) parts.push(Array.from({ length: Math.min(32, v.length - i) }, (_, k) => (v[i + k] === -2147483648 ? '(-2147483647 - 1)' : String(v[i + k]))).join(', '));
  return parts.join(',\n  ') || '0';
};

function caseSource(c: KernelCase, k: number): { decls: string; kernel: string; params: string; outSize: number } {
  const n = c.node;
  const [x, y] = c.graph.tensors as [TensorInfo, TensorInfo];
  const arr = (t: string, s: string, v: ArrayLike<number>) => `static const ${t} k${k}_${s}[${Math.max(1, v.length)}] = {\n  ${cList(v)}\n};`;
  const decls = [arr('int8_t', 'in', c.input), arr('int8_t', 'w', n.weights), arr('int32_t', 'b', n.bias), arr('int32_t', 'm', n.multipliers), arr('int32_t', 's', n.shifts)].join('\n');
  const data = `.weights = k${k}_w, .bias = k${k}_b, .multipliers = k${k}_m, .shifts = k${k}_s`;
  const q = `.in_zp = ${x.zeroPoint}, .out_zp = ${y.zeroPoint}, .act_min = ${n.actMin}, .act_max = ${n.actMax}`;
  const outSize = y.shape.reduce((a, b) => a * b, 1);
  if (n.op === 'dense') {
    return { decls, kernel: 'tb_dense_s8', outSize, params: `static const tb_dense_params k${k}_p = { .in_features = ${c.input.length}, .out_features = ${outSize}, ${q}, ${data} };` };
  }
  const [H, W, C] = x.shape as [number, number, number];
  const [OH, OW, OC] = y.shape as [number, number, number];
  const geo = `.kernel_h = ${n.kernel[0]}, .kernel_w = ${n.kernel[1]}, .stride_h = ${n.strides[0]}, .stride_w = ${n.strides[1]}, .pad_top = ${n.padding.top}, .pad_left = ${n.padding.left}`;
  if (n.op === 'conv2d') {
    return { decls, kernel: 'tb_conv2d_s8', outSize, params: `static const tb_conv2d_params k${k}_p = { .in_h = ${H}, .in_w = ${W}, .in_c = ${C}, .out_h = ${OH}, .out_w = ${OW}, .out_c = ${OC}, ${geo}, ${q}, ${data} };` };
  }
  return { decls, kernel: 'tb_depthwise_conv2d_s8', outSize, params: `static const tb_depthwise_conv2d_params k${k}_p = { .in_h = ${H}, .in_w = ${W}, .channels = ${C}, .out_h = ${OH}, .out_w = ${OW}, ${geo}, ${q}, ${data} };` };
}

function mainSource(cases: readonly KernelCase[], outPath: string): string {
  const parts = cases.map((c, k) => caseSource(c, k));
  const maxOut = Math.max(1, ...parts.map((p) => p.outSize));
  const calls = parts
    .map((p, k) =>
      [`  memset(out, 0x55, ${p.outSize});`, '  tb_mark();', `  ${p.kernel}_portable(k${k}_in, out, &k${k}_p);`, '  tb_mark();', `  sh_write(fd, out, ${p.outSize});`, `  memset(out, 0x55, ${p.outSize});`, '  tb_mark();', `  ${p.kernel}(k${k}_in, out, &k${k}_p);`, '  tb_mark();', `  sh_write(fd, out, ${p.outSize});`].join('\n'),
    )
    .join('\n');
  return `/* kernel firmware, generated by @tinyblocks/verify (kernel-fw.ts). */
#include <stdint.h>
#include <string.h>
#include "tb_conv2d.h"
#include "tb_depthwise_conv2d.h"
#include "tb_dense.h"
#include "tb_mve.h"
#include "fw_io.h"

int main(void);

${parts.map((p) => `${p.decls}\n${p.params}`).join('\n')}

static int8_t out[${maxOut}];
static const char out_path[] = ${JSON.stringify(outPath)};

int main(void) {
  const int fd = sh_open(out_path);
  if (fd < 0) fw_exit(0x70);
${calls}
  sh_write(fd, TB_KERNEL_PATH, sizeof TB_KERNEL_PATH - 1);
  sh_close(fd);
  return 0;
}
`;
}

export interface KernelFirmwareOptions {
  target: CortexMTarget;
  timeoutSeconds?: number;
  /** Compiler optimisation (default -O2, what verifyCortexM builds). */
  opt?: string;
  /** Extra preprocessor definitions for every file, e.g. ['TB_MVE=0'] (the DSP path on Cortex-M55). */
  defines?: string[];
  tools?: Partial<ArmTools>;
}

const RUNTIME_SOURCES = ['tb_conv2d.c', 'tb_depthwise_conv2d.c', 'tb_dense.c'];

/** Builds the kernel firmware for `target`, runs it in QEMU with the counting plugin; outputs and instruction counts per case. */
export async function runKernelFirmware(cases: readonly KernelCase[], options: KernelFirmwareOptions): Promise<KernelRun[]> {
  const info = TARGET_INFO[options.target];
  const tools: ArmTools = { ...defaultArmTools(), ...options.tools };
  requireArmTools(OP, tools);
  const fw = firmwareDir();
  const rt = runtimeDir();
  const tmp = mkdtempSync(join(tmpdir(), 'tb-kernels-'));
  try {
    const outPath = join(tmp, 'out.bin');
    const marksPath = join(tmp, 'marks.txt');
    writeFileSync(join(tmp, 'kmain.c'), mainSource(cases, outPath));
    const hex = (v: number) => `0x${v.toString(16)}`;
    const ld = join(tmp, 'fw.ld');
    writeFileSync(
      ld,
      readFileSync(join(fw, 'cortex-m.ld'), 'utf8')
        .replaceAll('@FLASH_ORIGIN@', hex(info.flash.origin))
        .replaceAll('@FLASH_LENGTH@', hex(info.flash.length))
        .replaceAll('@RAM_ORIGIN@', hex(info.ram.origin))
        .replaceAll('@RAM_LENGTH@', hex(info.ram.length))
        .replaceAll('@MIN_STACK@', '4096'),
    );
    const plugin = buildPlugin(OP, tools.hostCC);
    plugin.catch(() => {});
    const opt = options.opt ?? '-O2';
    const common = [...info.cflags, opt, ...(options.defines ?? []).map((d) => `-D${d}`), '-std=c99', '-ffunction-sections', '-fdata-sections', '-Wall', '-Wextra', '-Werror', `-I${rt}`, `-I${firmwareDir()}`];
    const jobs = [
      ...RUNTIME_SOURCES.map((f) => ({ src: join(rt, f), extra: ['-pedantic', '-Wconversion', '-Wsign-conversion', '-Wshadow'] })),
      { src: join(tmp, 'kmain.c'), extra: [] as string[] },
      { src: join(fw, 'startup.S'), extra: [] as string[] },
    ];
    const objects = jobs.map((_, i) => join(tmp, `o${i}.o`));
    for (let i = 0; i < jobs.length; i += 2) {
      await Promise.all(
        jobs.slice(i, i + 2).map(async (j, d) => {
          const args = [...common, ...j.extra, '-c', j.src, '-o', objects[i + d]!];
          const r = await run(tools.gcc, args, null);
          if (r.status !== 0) throw new VerifyError({ op: OP }, `compile ${j.src} (${options.target})`, 'C that compiles without warnings', `${tools.gcc} ${args.join(' ')}\n${r.stderr.slice(0, 4000)}`);
        }),
      );
    }
    const elf = join(tmp, 'fw.elf');
    const largs = [...info.cflags, opt, '-nostartfiles', '--specs=nano.specs', `-T${ld}`, '-Wl,--gc-sections', ...objects, '-lgcc', '-o', elf];
    const l = await run(tools.gcc, largs, null);
    if (l.status !== 0) throw new VerifyError({ op: OP }, `link (${options.target})`, 'firmware that links', `${tools.gcc} ${largs.join(' ')}\n${l.stderr.slice(0, 4000)}`);
    const nm = await run(tools.nm, [elf], null);
    const markLine = nm.stdout
      .toString('utf8')
      .split('\n')
      .find((s) => s.endsWith(' tb_mark'));
    if (!markLine) throw new VerifyError({ op: OP }, 'nm', 'the symbol tb_mark in the firmware', 'not found');
    const mark = parseInt(markLine.split(' ')[0]!, 16) & ~1;
    const so = await plugin;
    const timeout = options.timeoutSeconds ?? 60;
    const qargs = ['-M', info.machine, '-cpu', info.cpu, '-nographic', '-monitor', 'none', '-semihosting-config', 'enable=on,target=native', '-kernel', elf, '-plugin', `${so},mark=0x${mark.toString(16)},out=${marksPath}`];
    const r = await run('timeout', ['-k', '5', String(timeout), tools.qemu, ...qargs], null);
    if (r.status !== 0) throw new VerifyError({ op: OP }, `QEMU run (${options.target})`, 'the kernel firmware to exit with status 0', `status ${r.status ?? r.signal}${r.status === 0x7f ? ' (fault handler)' : ''}\n${tools.qemu} ${qargs.join(' ')}\n${r.stderr.slice(0, 2000)}`);
    for (const f of [outPath, marksPath]) if (!existsSync(f)) throw new VerifyError({ op: OP }, f, 'written by the firmware / plugin', 'no such file');
    const bytes = new Int8Array(readFileSync(outPath));
    const marks = readFileSync(marksPath, 'utf8')
      .split('\n')
      .filter((s) => /^\d+$/.test(s))
      .map(Number);
    if (marks.length !== cases.length * 4) throw new VerifyError({ op: OP }, 'marker calls', `${cases.length * 4}`, marks.length);
    const outBytes = cases.reduce((a, c) => a + 2 * (c.graph.tensors[1]!.shape as number[]).reduce((x, y) => x * y, 1), 0);
    const path = Buffer.from(bytes.buffer, bytes.byteOffset + outBytes, bytes.length - outBytes).toString('latin1');
    if (path !== 'mve' && path !== 'dsp' && path !== 'portable') throw new VerifyError({ op: OP }, 'TB_KERNEL_PATH after the outputs', "'mve', 'dsp' or 'portable'", JSON.stringify(path));
    let p = 0;
    return cases.map((c, k) => {
      const n = (c.graph.tensors[1]!.shape as number[]).reduce((a, b) => a * b, 1);
      const portable = bytes.slice(p, p + n);
      const fast = bytes.slice(p + n, p + 2 * n);
      p += 2 * n;
      return { name: c.name, op: c.node.op, macs: kernelMacs(c), portable, fast, portableInstructions: marks[4 * k + 1]! - marks[4 * k]!, fastInstructions: marks[4 * k + 3]! - marks[4 * k + 2]!, path };
    });
  } finally {
    mkdirSync(tmp, { recursive: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}
