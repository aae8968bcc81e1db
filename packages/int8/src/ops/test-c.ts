/**
 * TEST ONLY (not exported by the package): the scaffolding the op tests share.
 *
 *   - one-node graphs, a plain run context, seeded generators and arbitraries;
 *   - `describeC`: a suite (skipped without a C compiler, failing under CI=true) with a temporary
 *     directory that compiles a driver against runtime/ for both host builds and feeds it packed
 *     cases (`caseDriver`, `packCases`, `expectLines`), and compiles and runs an op's emitted calls
 *     (`runEmitted`, on an `emitStub` EmitContext that declares the data arrays it is given), both
 *     against what TS computes (`itMatchesTs`, `itEmittedMatchesTs`);
 *   - `describeCortexM`: the arm-none-eabi-gcc build and `nm -u` check (skipped without the tool);
 *   - `validateErrors`: validate's DataError naming the node and the field.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from '@tinyblocks/core/base';
import { type CBuild, compileDriver, HOST_BUILDS, makeTempDir, requireCompiler, runBinary, SKIP_C } from '@tinyblocks/testkit/c';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseQuantParams, quantizeArray } from '../affine.js';
import { INT8_MAX, roundHalfAway } from '../fixed-point.js';
import { INT8_GRAPH_FORMAT, INT8_GRAPH_VERSION, type Int8Graph, type NodeBase, type OutputRole, type TensorInfo, tensorSize } from '../graph.js';
import type { EmitContext, EmittedC, OpDef, RunContext } from '../op.js';
import { cI32 } from './int-math.js';

const RUNTIME = fileURLToPath(new URL('../../runtime', import.meta.url));

/** A plain run: fresh state, no interventions. */
export const CTX: RunContext = { state: <T>(_node: unknown, init: () => T) => init(), interventions: null };

/** A graph of one node; its output is the last tensor. */
export function graphOf(node: NodeBase, tensors: TensorInfo[], role: OutputRole = 'logits'): Int8Graph {
  return { format: INT8_GRAPH_FORMAT, version: INT8_GRAPH_VERSION, name: 'g', tensors, nodes: [node as never], input: 0, outputs: [{ tensor: tensors.length - 1, role }], meta: {} };
}

// ---------------------------------------------------------------- seeded generators

export type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;

/** The value of `arb` fast-check draws first with `seed`. */
export function sampleOne<T>(arb: fc.Arbitrary<T>, seed: number): T {
  return fc.sample(arb, { seed, numRuns: 1 })[0]!;
}

/** xorshift32: uniform doubles in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** An LCG of int8 codes (successive calls continue the sequence). */
export function lcg(seed: number): () => number {
  let r = seed >>> 0 || 1;
  return () => ((r = (r * 1103515245 + 12345) >>> 0), ((r >>> 8) % 256) - 128);
}

export const i8 = fc.integer({ min: -128, max: 127 });
export const logUniform = (lo: number, hi: number) => fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);
export const logInt = (lo: number, hi: number) => logUniform(lo, hi).map((x) => Math.min(hi, Math.max(lo, Math.round(x))));
/** Q31 mantissas: 0 or |m| in [2^30, 2^31 - 1]. */
export const mantissa = fc.oneof(fc.constant(0), fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31 - 1), max: -(2 ** 30) }));

/** fn's value, computed on the first call. */
export function once<T>(fn: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: fn() }).v;
}

// ---------------------------------------------------------------- float references

/** The float cases of the layers with weights: fused activation, bias or not, input range, seed. */
export const layerFloatFields = {
  activation: fc.constantFrom('linear' as const, 'relu' as const, 'relu6' as const),
  hasBias: fc.boolean(),
  inLo: fc.double({ min: -3, max: 0.5, noNaN: true }),
  inSpan: fc.double({ min: 0.5, max: 4, noNaN: true }),
  seed: fc.integer({ min: 0, max: 2 ** 30 }),
};
/** ... and a window (kernel, strides, padding) before them. */
export const windowFloatFields = {
  KH: fc.integer({ min: 1, max: 4 }),
  KW: fc.integer({ min: 1, max: 4 }),
  SH: fc.integer({ min: 1, max: 3 }),
  SW: fc.integer({ min: 1, max: 3 }),
  padding: fc.constantFrom('same' as const, 'valid' as const),
  ...layerFloatFields,
};

/** A fused activation on a real value. */
export const act = (a: string, v: number) => (a === 'relu' ? Math.max(v, 0) : a === 'relu6' ? Math.min(Math.max(v, 0), 6) : v);

/** TF output size and leading padding of one axis, written from the definition. */
export function geometry(size: number, k: number, s: number, padding: 'same' | 'valid'): { out: number; pad: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / s) + 1, pad: 0 };
  const out = Math.ceil(size / s);
  return { out, pad: Math.floor(Math.max(0, (out - 1) * s + k - size) / 2) };
}

/** The real value v on an output grid, clamped to the int8 range (not rounded). */
export function toCode(v: number, q: { scale: number; zeroPoint: number }): number {
  return Math.min(127, Math.max(-128, v / q.scale + q.zeroPoint));
}

/**
 * Every output within 1 LSB of act(ref) on the output grid (clamped to int8); returns how many
 * outputs a fused relu clamped (ref below -1 LSB). `what(i)` names output i in a failure.
 */
export function expectNearFloat(y: Int8Array, ref: ArrayLike<number>, outQ: { scale: number; zeroPoint: number }, activation: string, what: (i: number) => string): number {
  expect(y.length).toBe(ref.length);
  let clamped = 0;
  for (let i = 0; i < y.length; i++) {
    const want = toCode(act(activation, ref[i]!), outQ);
    if (activation !== 'linear' && ref[i]! < -outQ.scale) clamped++;
    expect(Math.abs(y[i]! - want), `${what(i)}: ${y[i]} vs ${want}`).toBeLessThanOrEqual(1);
  }
  return clamped;
}

/**
 * Weights and bias as int8 inference sees them, written independently of the lowering: symmetric
 * per channel (the last axis of `kernel`, `channels` long), the bias on the grid inScale * wScale.
 */
function perChannelDequantized(kernel: Float64Array, channels: number, bias: ArrayLike<number> | undefined, inScale: number): { w: Float64Array; b: Float64Array } {
  const wScale = Array.from({ length: channels }, (_, ch) => {
    let m = 0;
    for (let i = ch; i < kernel.length; i += channels) m = Math.max(m, Math.abs(kernel[i]!));
    return m > 0 ? m / INT8_MAX : 1;
  });
  return {
    w: Float64Array.from(kernel, (v, i) => roundHalfAway(v / wScale[i % channels]!) * wScale[i % channels]!),
    b: Float64Array.from({ length: channels }, (_, ch) => roundHalfAway((bias?.[ch] ?? 0) / (inScale * wScale[ch]!)) * inScale * wScale[ch]!),
  };
}

/**
 * A layer's float case: kernel weights uniform in [-1, 1) (`kernelSize` values, channel = last
 * axis, `channels` long), a bias in [-0.5, 0.5) when `hasBias`, an input of `inSize` values in
 * [inLo, inLo + inSpan) quantized (xq, and xd dequantized), and kd / bd, the weights and bias as
 * int8 inference sees them.
 */
export function randomLayer(c: { seed: number; hasBias: boolean; inLo: number; inSpan: number }, kernelSize: number, channels: number, inSize: number) {
  const r = rng(c.seed);
  const kernel = Float64Array.from({ length: kernelSize }, () => r() * 2 - 1);
  const bias = c.hasBias ? Float64Array.from({ length: channels }, () => r() - 0.5) : undefined;
  const inQ = chooseQuantParams(c.inLo, c.inLo + c.inSpan);
  const xq = quantizeArray(Float64Array.from({ length: inSize }, () => c.inLo + r() * c.inSpan), inQ);
  const xd = Float64Array.from(xq, (q) => inQ.scale * (q - inQ.zeroPoint));
  const { w: kd, b: bd } = perChannelDequantized(kernel, channels, bias, inQ.scale);
  return { kernel, bias, inQ, xq, xd, kd, bd };
}

// ---------------------------------------------------------------- raw nodes (C vs TS)

/** The raw (C vs TS) cases of the layers with weights: zero points, a clamp, big biases or not, seed. */
export const layerRawFields = { inZp: i8, outZp: i8, act: fc.tuple(i8, i8), bigBias: fc.boolean(), seed: fc.integer({ min: 0, max: 2 ** 30 }) };
/** ... and a window before them ('same' padding or 'valid'). */
export const windowRawFields = {
  KH: fc.integer({ min: 1, max: 5 }),
  KW: fc.integer({ min: 1, max: 5 }),
  SH: fc.integer({ min: 1, max: 3 }),
  SW: fc.integer({ min: 1, max: 3 }),
  same: fc.boolean(),
  ...layerRawFields,
};

/**
 * Raw per-channel requantisation fields, drawn in this order: bias (near +-(2^31 - 1) when `big`, so
 * that sum + bias wraps modulo 2^32 in some cases; else in +-small), multipliers (5% zero, else
 * Q31) and shifts (10% anywhere in [-31, 30], else in [shiftLo, 1]).
 */
export function randomRequant(r: () => number, n: number, big: boolean, range: { slack: number; small: number; shiftLo: number }) {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  return {
    bias: Int32Array.from({ length: n }, () => (big ? (r() < 0.5 ? -1 : 1) * (2 ** 31 - 1 - int(0, range.slack)) : int(-range.small, range.small))),
    multipliers: Int32Array.from({ length: n }, () => (r() < 0.05 ? 0 : int(2 ** 30, 2 ** 31 - 1))),
    shifts: Int32Array.from({ length: n }, () => (r() < 0.1 ? int(-31, 30) : int(range.shiftLo, 1))),
  };
}

/** A fused clamp: half the time the full int8 range at either end, else the ends of `pair`. */
export function randomClamp(r: () => number, pair: [number, number]): { actMin: number; actMax: number } {
  const [lo, hi] = pair[0] <= pair[1] ? pair : [pair[1], pair[0]];
  return { actMin: r() < 0.5 ? -128 : lo, actMax: r() < 0.5 ? 127 : hi };
}

/** Integers and arrays of integers as one space-separated line (exact for |v| < 2^63). */
export function ints(...parts: Array<number | bigint | ArrayLike<number>>): string {
  const text = (v: number | bigint) => (typeof v === 'bigint' || Number.isSafeInteger(v) ? String(v) : BigInt(v).toString());
  return parts.map((p) => (typeof p === 'object' ? Array.from(p, text).join(' ') : text(p))).filter((t) => t !== '').join(' ');
}

// ---------------------------------------------------------------- validate

/** `bad(patch, field, g?)`: validating node + patch throws a DataError naming the node and `field` (or matching it). */
export function validateErrors<N extends NodeBase>(op: OpDef<N>, node: N, graph: Int8Graph): (patch: Partial<N>, field: string | RegExp, g?: Int8Graph) => void {
  return (patch, field, g = graph) => {
    let error: unknown;
    try {
      op.validate({ ...node, ...patch }, g);
    } catch (e) {
      error = e;
    }
    expect(error, `no DataError for ${field}`).toBeInstanceOf(DataError);
    expect((error as DataError).where).toBe(node.name);
    if (typeof field === 'string') expect((error as DataError).field).toBe(field);
    else expect((error as DataError).message).toMatch(field);
  };
}

// ---------------------------------------------------------------- C programs

/** Readers of the driver input (exit 2 on a short read) and an int8 printer, for every program. */
const C_IO = String.raw`
static inline long long rd64(void) { long long v; if (scanf("%lld", &v) != 1) exit(2); return v; }
static inline int32_t rd(void) { return (int32_t)rd64(); }
static inline void rd_s8(int8_t *a, int32_t n) { int32_t i; for (i = 0; i < n; i++) a[i] = (int8_t)rd64(); }
static inline void rd_s32(int32_t *a, int32_t n) { int32_t i; for (i = 0; i < n; i++) a[i] = (int32_t)rd64(); }
static inline void print_s8(const int8_t *a, int32_t n) { int32_t i; for (i = 0; i < n; i++) printf("%d ", (int)a[i]); printf("\n"); }
`;

/** A C program: the standard headers, `headers` (runtime/), the readers and printer, then `body`. */
export function cProgram(headers: string[], body: string): string {
  return ['#include <stdint.h>', '#include <stdio.h>', '#include <stdlib.h>', ...headers.map((h) => `#include "${h}"`), C_IO, body, ''].join('\n');
}

/**
 * A driver: reads the case count, then runs `perCase` once per case (it reads the case's fields
 * with rd / rd64 / rd_s8 / rd_s32 and prints its output lines, e.g. with print_s8).
 */
export function caseDriver(header: string, decls: string, perCase: string): string {
  return cProgram([header], `${decls}\nint main(void) {\n  long long cases = rd64();\n  while (cases-- > 0) {\n${perCase}\n  }\n  return 0;\n}`);
}

/** A driver's stdin: the case count, then one line per case. */
function packCases(cases: string[]): string {
  return `${cases.length}\n${cases.join('\n')}\n`;
}

/** stdout as lines (without the last newline), spacing normalised to single spaces. */
function outputLines(stdout: Buffer | string): string[] {
  const lines = stdout.toString().split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.trim().split(/\s+/).join(' '));
}

/** Equal line for line; a failure names the first five differences (`label(i)` names line i). */
export function expectLines(got: string[], want: string[], label: (i: number) => string = (i) => `line ${i}`): void {
  expect(got.length, 'output lines').toBe(want.length);
  const wrong = got.flatMap((g, i) => (g === want[i] ? [] : [`${label(i)}: C ${g.slice(0, 120)} / TS ${want[i]?.slice(0, 120)}`]));
  expect(wrong.slice(0, 5)).toEqual([]);
}

interface EmitStub {
  ctx: EmitContext;
  /** "type suffix" of every constant array asked for. */
  data: string[];
  /** "type suffix[length]" of every state array asked for. */
  state: string[];
}

/**
 * An EmitContext that records what the op asks for: tensors `T<id>` (or `tensor(id)`), constant
 * arrays `<prefix>d_<suffix>` and state `<prefix>s_<suffix>`, declared into `decls` when given.
 */
export function emitStub(graph: Int8Graph, options: { tensor?: (id: number) => string; prefix?: string; decls?: string[]; interventions?: string } = {}): EmitStub {
  const { prefix = '', decls } = options;
  const data: string[] = [];
  const state: string[] = [];
  const ctx: EmitContext = {
    graph,
    tensor: options.tensor ?? ((id) => `T${id}`),
    data: (suffix, type, values) => {
      data.push(`${type} ${suffix}`);
      decls?.push(`static const ${type} ${prefix}d_${suffix}[${values.length}] = { ${Array.from(values, cI32).join(', ')} };`);
      return `${prefix}d_${suffix}`;
    },
    state: (suffix, type, length) => {
      state.push(`${type} ${suffix}[${length}]`);
      decls?.push(`static ${type} ${prefix}s_${suffix}[${length}];`);
      return `${prefix}s_${suffix}`;
    },
    interventions: options.interventions ?? 'iv',
  };
  return { ctx, data, state };
}

/** A node on given inputs, for the C kernel, its emitted call and TS alike. */
export interface KernelCase<N extends NodeBase = NodeBase> {
  node: N;
  graph: Int8Graph;
  /** The node's input tensors, in `node.inputs` order. */
  inputs: Int8Array[];
  /** Output 0 shares input 0's buffer (in place). */
  inPlace?: boolean;
  /** Concept interventions (default none: NULL). */
  interventions?: Int8Array | null;
}

/** What TS computes for a validated case, as the C programs print it: output 0, or the exit decision (1 / 0). */
export function tsLine<N extends NodeBase>(op: OpDef<N>, c: KernelCase<N>): string {
  op.validate(c.node, c.graph);
  const r = op.run(c.node, c.inputs, c.graph, { ...CTX, interventions: c.interventions ?? null });
  return r.outputs.length > 0 ? ints(r.outputs[0]!) : r.exit ? '1' : '0';
}

/** "case i: the node and the tensor shapes", for failures. */
function caseLabel(cases: KernelCase[]): (i: number) => string {
  return (i) => `case ${i}: ${JSON.stringify({ ...cases[i]!.node, shapes: cases[i]!.graph.tensors.map((t) => t.shape) })}`;
}

interface PackedCases {
  /** The driver's input, one line per case (`packCases` adds the count). */
  cases: string[];
  /** The output lines TS expects. */
  expected: string[];
  /** Names output line i in a failure. */
  label?: (i: number) => string;
}

interface CSuite {
  /** Compiles `source` against runtime/ (and the kernel's .c) with `build`, runs it on `input`: its output lines. */
  run(name: string, source: string, build: CBuild, input?: string): string[];
  /** A test per host build: the driver, fed the packed cases (made once), prints the expected lines. */
  itOnHostBuilds(title: string, driver: string, make: () => PackedCases, timeout?: number): void;
  /**
   * One program with each case's emitted call on its own tensors t<k>_<id> (constant data
   * n<k>_d_*, state n<k>_s_*), built -O2 -Werror: a line per case, the decision (exit decisions),
   * the MACs (returnsMacs) and output 0. Also what the calls asked for.
   */
  runEmitted<N extends NodeBase>(op: OpDef<N>, cases: KernelCase<N>[]): { lines: string[]; data: string[]; state: string[] };
  /** A test per host build: the driver, fed `caseText` of every case, prints what TS computes (tsLine). */
  itMatchesTs<N extends NodeBase, C extends KernelCase<N>>(title: string, driver: string, op: OpDef<N>, cases: () => C[], caseText: (c: C) => string, timeout?: number): void;
  /**
   * A test: the op's emitted call on every case prints what TS computes; with `runtime`, op.runtime
   * is exactly that; with `no`, the calls ask for no constant data / no state.
   */
  itEmittedMatchesTs<N extends NodeBase>(title: string, op: OpDef<N>, cases: () => KernelCase<N>[], options?: { runtime?: string[]; no?: Array<'data' | 'state'>; timeout?: number }): void;
}

const kernelSource = (header: string) => join(RUNTIME, header.replace(/\.h$/, '.c'));

/** A temporary directory made on first use and removed after the suite. */
function suiteDir(prefix: string): () => string {
  let tmp: ReturnType<typeof makeTempDir> | undefined;
  afterAll(() => tmp?.remove());
  return () => (tmp ??= makeTempDir(prefix)).dir;
}

/** A C suite for `kernel` (runtime/<kernel>.h, and <kernel>.c when there is one); skipped without a compiler. */
export function describeC(title: string, kernel: string, body: (c: CSuite) => void): void {
  describe.skipIf(SKIP_C)(title, () => {
    const dir = suiteDir(`${kernel.replace(/_/g, '-')}-`);
    const run = (name: string, source: string, build: CBuild, input = '', headers: string[] = []): string[] => {
      requireCompiler();
      const sources = [...new Set([`${kernel}.h`, ...headers].map(kernelSource))].filter((f) => existsSync(f));
      return outputLines(runBinary(compileDriver(dir(), name, source, build, { includeDirs: [RUNTIME], sources }), input));
    };
    const runEmitted: CSuite['runEmitted'] = (op, cases) => {
      for (const h of op.runtime) expect(existsSync(join(RUNTIME, h)), `runtime/${h}`).toBe(true);
      const decls: string[] = [];
      const data: string[] = [];
      const state: string[] = [];
      const calls = cases.map((c, k) => {
        const t = (id: number) => `t${k}_${id}`;
        const out = c.node.outputs[0];
        const tensor = (id: number) => (c.inPlace && id === out ? t(c.node.inputs[0]!) : t(id));
        c.node.inputs.forEach((id, j) => decls.push(`static int8_t ${t(id)}[${c.inputs[j]!.length}] = { ${ints(c.inputs[j]!).replace(/ /g, ', ')} };`));
        if (out !== undefined && !c.inPlace) decls.push(`static int8_t ${t(out)}[${tensorSize(c.graph.tensors[out]!)}];`);
        if (c.interventions) decls.push(`static const int8_t iv${k}[${c.interventions.length}] = { ${ints(c.interventions).replace(/ /g, ', ')} };`);
        const stub = emitStub(c.graph, { tensor, prefix: `n${k}_`, decls, interventions: c.interventions ? `iv${k}` : 'NULL' });
        const e: EmittedC = op.emitC(c.node, stub.ctx);
        data.push(...stub.data);
        state.push(...stub.state);
        const call = e.exitDecision ? `printf("%d ", (${e.call}) != 0)` : e.returnsMacs ? `printf("%lu ", (unsigned long)(${e.call}))` : e.call;
        const print = out === undefined ? 'printf("\\n")' : `print_s8(${tensor(out)}, ${tensorSize(c.graph.tensors[out]!)})`;
        return `  ${call};\n  ${print};`;
      });
      const source = cProgram(op.runtime, `${decls.join('\n')}\nint main(void) {\n${calls.join('\n')}\n  return 0;\n}`);
      return { lines: run(`${kernel}_emitted.c`, source, HOST_BUILDS[0]!, '', op.runtime), data, state };
    };
    const itOnHostBuilds: CSuite['itOnHostBuilds'] = (title, driver, make, timeout = 120_000) => {
      let packed: PackedCases | undefined;
      it.each(HOST_BUILDS)(`$name: ${title}`, (build) => {
        packed ??= make();
        expectLines(run(`${kernel}_driver.c`, driver, build, packCases(packed.cases)), packed.expected, packed.label);
      }, timeout);
    };
    body({
      run: (name, source, build, input) => run(name, source, build, input),
      itOnHostBuilds,
      itMatchesTs: (title, driver, op, cases, caseText, timeout) =>
        itOnHostBuilds(title, driver, () => {
          const all = cases();
          return { cases: all.map(caseText), expected: all.map((k) => tsLine(op, k)), label: caseLabel(all) };
        }, timeout),
      itEmittedMatchesTs: (title, op, cases, options = {}) =>
        it(title, () => {
          if (options.runtime) expect(op.runtime).toEqual(options.runtime);
          const all = cases();
          const emitted = runEmitted(op, all);
          for (const what of options.no ?? []) expect(emitted[what], `${op.op} asks for no ${what}`).toEqual([]);
          expectLines(emitted.lines, all.map((k) => tsLine(op, k)), caseLabel(all));
        }, options.timeout ?? 120_000),
      runEmitted,
    });
  });
}

// ---------------------------------------------------------------- Cortex-M

const HAS_ARM = spawnSync('arm-none-eabi-gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const ARM_FLAGS = ['-std=c99', '-pedantic', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wsign-conversion', '-Wshadow', '-Wcast-qual', '-Wstrict-prototypes', '-mthumb', '-Os'];
/** Undefined symbols no kernel may need: float (soft-float ABI, libgcc), libm, 64-bit division. */
const HELPERS = [/__aeabi_[fd]|__aeabi_\w+2[fd]\b|__\w+[sd]f\d\b/, /^__aeabi_([fd]|[ilu]+2[fd])|^__aeabi_u?ldivmod|[sdt]f[0-9]?$|sqrt|exp|log|pow|floor|ceil|round|lrint/];

/**
 * `<title> on Cortex-M`: runtime/`unit.file` (or C text `unit.source` wrapping header-only
 * functions) builds -Os -Werror for cortex-m0 and -m4, defines `symbol`, and needs no float, libm or
 * 64-bit division helper (with `noUndefined`, no undefined symbol at all). Skipped without the tool.
 */
export function describeCortexM(title: string, unit: { file: string } | { source: string }, symbol: string, options: { noUndefined?: boolean } = {}): void {
  describe.skipIf(!HAS_ARM)(`${title} on Cortex-M (arm-none-eabi-gcc)`, () => {
    const dir = suiteDir('tb-arm-');
    it.each(['cortex-m0', 'cortex-m4'])(`%s: -Os -Werror, defines ${symbol}, no float, libm or 64-bit division helper`, (cpu) => {
      let src: string;
      if ('file' in unit) src = join(RUNTIME, unit.file);
      else writeFileSync((src = join(dir(), 'unit.c')), unit.source);
      const obj = join(dir(), `${cpu}.o`);
      execFileSync('arm-none-eabi-gcc', [...ARM_FLAGS, `-mcpu=${cpu}`, `-I${RUNTIME}`, '-c', src, '-o', obj], { stdio: 'pipe' });
      expect(execFileSync('arm-none-eabi-nm', [obj]).toString()).toMatch(new RegExp(` T ${symbol}\\b`));
      const undefinedSyms = execFileSync('arm-none-eabi-nm', ['-u', obj]).toString().split(/\s+/).filter((t) => t && t !== 'U');
      expect(options.noUndefined ? undefinedSyms : undefinedSyms.filter((s) => HELPERS.some((re) => re.test(s)))).toEqual([]);
    }, 30_000);
  });
}

/** The C driver of a pooling kernel taking tb_avg_pool2d_params (average and max pooling). */
export function poolDriver(header: string, fn: string): string {
  return caseDriver(
    header,
    'static int8_t in[4096], out[4096];',
    String.raw`
    tb_avg_pool2d_params p;
    p.in_h = rd(); p.in_w = rd(); p.channels = rd(); p.out_h = rd(); p.out_w = rd();
    p.pool_h = rd(); p.pool_w = rd(); p.stride_h = rd(); p.stride_w = rd();
    p.pad_top = rd(); p.pad_left = rd(); p.act_min = rd(); p.act_max = rd();
    rd_s8(in, p.in_h * p.in_w * p.channels);
    ${fn}(in, out, &p);
    print_s8(out, p.out_h * p.out_w * p.channels);`,
  );
}

/** One case line for poolDriver. */
export function poolCaseText({ node, graph, inputs }: KernelCase<NodeBase & { poolSize: number[]; strides: number[]; padding: { top: number; left: number }; actMin: number; actMax: number }>): string {
  const [x, y] = graph.tensors as [TensorInfo, TensorInfo];
  return ints(x.shape, y.shape[0]!, y.shape[1]!, node.poolSize, node.strides, node.padding.top, node.padding.left, node.actMin, node.actMax, inputs[0]!);
}
