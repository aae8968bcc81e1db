/**
 * C99 code generation for an int8 graph. Every op emits its own call (OpDef.emitC); this module
 * supplies the frame around it: the arena (planned by @tinyblocks/plan), the constant data, the
 * stream state, the schedule with MAC accounting, tracing and early exits, and the public API.
 *
 * Files for a model `<name>`:
 *   <name>_model.h        public API + compile-time constants (sizes, quantisation, error codes)
 *   <name>_model_data.h   internal: extern declarations of the constant arrays, TB_ALIGN16
 *   <name>_model_data.c   the constant arrays (weights, biases, tables, requantisation constants)
 *   <name>_model.c        arena, stream state, schedule, API functions
 *   tb_*.h / tb_*.c       the runtime kernels the used ops need (copied from @tinyblocks/int8)
 *   main.c                an example of the API (weak main(), compiles on the host with cc *.c)
 *   Makefile              lib<name>.a (arm-none-eabi-gcc by default, CPU=cortex-m4), make CC=cc example
 *   CMakeLists.txt        add_library(<name>_model STATIC ...) for add_subdirectory
 *   <name>.int8.json      the graph (serializeGraph), so verify can run the TS reference
 *   report.json           per-node and total sizes, MACs and the arena plan
 *
 * Everything is deterministic: the same graph gives the same bytes.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import {
  type EmitContext,
  type EmittedC,
  type Int8Graph,
  opOf,
  serializeGraph,
  type TensorInfo,
  tensorSize,
  validateGraph,
} from '@tinyblocks/int8';
import { type ArenaPlan, planArena } from '@tinyblocks/plan';
import { C_TYPES, cComment, cFloat, cIdent, cInt, type CType, cUnsigned, cValues } from './c-text.js';
import { buildReport, type ExportReport, type NodeReport } from './report.js';
import { cmakeLists, EXAMPLE_MAIN, exampleMain, makefile } from './project.js';
import { collectRuntime } from './runtime.js';

export interface GenerateOptions {
  /** Prefix of every C symbol and file (a C identifier); default `graph.name`. */
  name?: string;
}

export interface GeneratedC {
  /** The model name used as C prefix. */
  name: string;
  /** File name -> contents (in a fixed order). */
  files: Record<string, string>;
  report: ExportReport;
}

interface DataArray {
  symbol: string;
  type: CType;
  values: ArrayLike<number>;
  node: string;
  suffix: string;
}

interface StateArray {
  symbol: string;
  type: 'int8_t' | 'int16_t' | 'int32_t';
  length: number;
  node: string;
  suffix: string;
}

const CHECK_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function shapeText(t: TensorInfo): string {
  return `[${t.shape.join(', ')}]`;
}

/** Generates the C sources of `graph` (validated first; DataError naming a bad node). */
export function generateC(graph: Int8Graph, options: GenerateOptions = {}): GeneratedC {
  validateGraph(graph);
  const name = options.name ?? graph.name;
  if (typeof name !== 'string' || !CHECK_NAME.test(name)) throw new ConfigError({ op: 'generateC' }, 'name', 'a C identifier', name);
  const NAME = name.toUpperCase();
  const plan: ArenaPlan = planArena(graph);

  // ---- outputs and their roles
  const logitsOut = graph.outputs.find((o) => o.role === 'logits') ?? graph.outputs[0]!;
  const conceptsOut = graph.outputs.find((o) => o.role === 'concepts');
  const logitsT = graph.tensors[logitsOut.tensor]!;
  const outputSize = tensorSize(logitsT);
  const numConcepts = conceptsOut ? tensorSize(graph.tensors[conceptsOut.tensor]!) : 0;
  const writer = new Map<number, number>();
  graph.nodes.forEach((n, i) => n.outputs.forEach((t) => writer.set(t, i)));

  // ---- symbols: one namespace for data and state arrays
  const used = new Set<string>();
  const nodeIdent = new Map<string, string>();
  for (const node of graph.nodes) {
    let id = cIdent(node.name);
    for (let k = 2; [...nodeIdent.values()].includes(id); k++) id = `${cIdent(node.name)}_${k}`;
    nodeIdent.set(node.name, id);
  }
  const data: DataArray[] = [];
  const state: StateArray[] = [];
  const runtimeHeaders: string[] = [];
  let arenaUsed = false;

  const tensorExpr = (id: number, where: string): string => {
    if (id === graph.input) return 'input';
    const off = plan.offsets[id]!;
    if (!(off >= 0)) throw new DataError({ layer: where }, 'tensor', 'a tensor placed in the arena', `tensor ${id} (${graph.tensors[id]?.name})`);
    arenaUsed = true;
    return `(arena + ${off})`;
  };

  // ---- schedule
  const body: string[] = [];
  const resets: string[] = [];
  const nodeReports: NodeReport[] = [];
  let exitCount = 0;
  let denseMacs = 0;
  const exitMacros: string[] = [];

  graph.nodes.forEach((node, index) => {
    const def = opOf(node);
    for (const h of def.runtime) if (!runtimeHeaders.includes(h)) runtimeHeaders.push(h);
    const nodeData: DataArray[] = [];
    const symbolFor = (suffix: string): string => {
      const symbol = `${name}_${nodeIdent.get(node.name)}_${cIdent(suffix)}`;
      if (used.has(symbol)) throw new DataError({ layer: node.name }, `emitC suffix '${suffix}'`, 'a suffix used once per node', symbol);
      used.add(symbol);
      return symbol;
    };
    const ctx: EmitContext = {
      graph,
      tensor: (id) => tensorExpr(id, node.name),
      data(suffix, type, values) {
        if (type === undefined || !Object.hasOwn(C_TYPES, type)) throw new DataError({ layer: node.name }, `data ${suffix}`, 'int8_t, uint8_t, int16_t or int32_t', type);
        const { min, max } = C_TYPES[type];
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          if (!Number.isInteger(v) || v < min || v > max) throw new DataError({ layer: node.name }, `data ${suffix}[${i}]`, `an integer in [${min}, ${max}] (${type})`, v);
        }
        const symbol = symbolFor(suffix);
        const arr = { symbol, type, values, node: node.name, suffix };
        data.push(arr);
        nodeData.push(arr);
        return symbol;
      },
      state(suffix, type, length) {
        if (!['int8_t', 'int16_t', 'int32_t'].includes(type)) throw new DataError({ layer: node.name }, `state ${suffix}`, 'int8_t, int16_t or int32_t', type);
        if (!Number.isInteger(length) || length < 1) throw new DataError({ layer: node.name }, `state ${suffix}`, 'a length >= 1', length);
        const symbol = symbolFor(suffix);
        state.push({ symbol, type, length, node: node.name, suffix });
        return symbol;
      },
      interventions: 'concepts',
    };
    const emitted: EmittedC = def.emitC(node, ctx);
    if (typeof emitted?.call !== 'string' || emitted.call.trim() === '') throw new DataError({ layer: node.name }, 'emitC().call', 'a C statement or expression', emitted?.call);
    if (emitted.returnsMacs && emitted.exitDecision) throw new DataError({ layer: node.name }, 'emitC()', 'returnsMacs or exitDecision, not both', emitted);
    if (emitted.reset) resets.push(`  ${emitted.reset.trim().replace(/;?$/, ';')}`);

    const opMacs = def.macs(node, graph);
    denseMacs += opMacs;
    const ins = node.inputs.map((t) => shapeText(graph.tensors[t]!)).join(', ') || '(none)';
    const outs = node.outputs.map((t) => shapeText(graph.tensors[t]!)).join(', ') || '(none)';
    const out0 = node.outputs[0];
    const where = out0 === undefined ? '' : `, arena +${plan.offsets[out0]}${plan.aliasOf[out0]! >= 0 ? ' (in place)' : ''}`;
    body.push(`  /* ${index} ${cComment(node.op)} ${cComment(node.name)}: ${ins} -> ${outs}${where} */`);
    const traces = node.outputs.map((t) => `TB_TRACE(${index}, ${tensorExpr(t, node.name)}, ${tensorSize(graph.tensors[t]!)}u);`);

    if (emitted.exitDecision) {
      const k = exitCount++;
      const exitLogits = node.inputs[0];
      if (exitLogits === undefined) throw new DataError({ layer: node.name }, 'inputs', "the exit head's logits as input 0", node.inputs);
      const exitT = graph.tensors[exitLogits]!;
      if (tensorSize(exitT) !== outputSize) {
        throw new DataError({ layer: node.name }, 'inputs[0]', `exit logits of ${outputSize} values (the final logits' size, the output buffer)`, tensorSize(exitT));
      }
      exitMacros.push(
        `#define ${NAME}_EXIT${k}_SCALE ${cFloat(exitT.scale)}`,
        `#define ${NAME}_EXIT${k}_ZERO_POINT ${cInt(exitT.zeroPoint)}`,
      );
      body.push(`  macs += ${cUnsigned(opMacs)};`);
      const taken = [
        `    memcpy(output, ${tensorExpr(exitLogits, node.name)}, ${outputSize}u);`,
        `    result->exit_taken = ${k};`,
        `    result->macs = macs;`,
        ...conceptsCopy(index, '    '),
        `    return ${NAME}_OK;`,
      ];
      if (node.outputs.length > 0) {
        body.push(`  {`, `    const int take = (${emitted.call}) != 0;`, ...traces.map((t) => `    ${t}`), `    if (exits && take) {`, ...taken.map((l) => `  ${l}`), `    }`, `  }`);
      } else {
        body.push(`  if (exits && (${emitted.call})) {`, ...taken, `  }`);
      }
    } else {
      body.push(emitted.returnsMacs ? `  macs += (uint32_t)(${emitted.call});` : `  ${emitted.call};`);
      if (!emitted.returnsMacs) body.push(`  macs += ${cUnsigned(opMacs)};`);
      body.push(...traces.map((t) => `  ${t}`));
    }

    const bytes = nodeData.reduce((s, d) => s + d.values.length * C_TYPES[d.type].bytes, 0);
    nodeReports.push({
      index,
      name: node.name,
      op: node.op,
      outputShape: out0 === undefined ? [] : [...graph.tensors[out0]!.shape],
      params: nodeData.reduce((s, d) => s + d.values.length, 0),
      macs: opMacs,
      weightBytes: bytes,
      activationBytes: node.outputs.reduce((s, t) => s + tensorSize(graph.tensors[t]!), 0),
      arenaOffset: out0 === undefined ? -1 : plan.offsets[out0]!,
    });
  });

  function conceptsCopy(atNode: number, indent: string): string[] {
    if (!conceptsOut) return [];
    const w = conceptsOut.tensor === graph.input ? -1 : writer.get(conceptsOut.tensor)!;
    if (w <= atNode) return [`${indent}memcpy(result->concepts, ${tensorExpr(conceptsOut.tensor, 'concepts')}, ${numConcepts}u);`];
    return [`${indent}memset(result->concepts, 0, ${numConcepts}u); /* not computed before this exit */`];
  }

  body.push(
    `  memcpy(output, ${tensorExpr(logitsOut.tensor, 'logits')}, ${outputSize}u);`,
    `  result->exit_taken = -1;`,
    `  result->macs = macs;`,
    ...conceptsCopy(graph.nodes.length, '  '),
    `  return ${NAME}_OK;`,
  );

  const weightBytes = data.reduce((s, d) => s + d.values.length * C_TYPES[d.type].bytes, 0);
  const stateBytes = state.reduce((s, d) => s + d.length * C_TYPES[d.type].bytes, 0);
  const inT = graph.tensors[graph.input]!;
  const sources = Object.assign({}, ...graph.nodes.map((n) => opOf(n).sources ?? {})) as Record<string, string>;
  const runtime = collectRuntime(runtimeHeaders, undefined, sources);

  const header = modelHeader({ name, NAME, graph, plan, inT, logitsT, outputSize, numConcepts, exits: exitCount, weightBytes, stateBytes, macs: denseMacs, exitMacros, conceptsT: conceptsOut ? graph.tensors[conceptsOut.tensor]! : undefined });
  const dataHeader = modelDataHeader(name, NAME, data);
  const dataSource = modelDataSource(name, data);
  const source = modelSource({ name, NAME, plan, state, runtimeHeaders, body, resets, arenaUsed, numConcepts });

  const files: Record<string, string> = {
    [`${name}_model.h`]: header,
    [`${name}_model_data.h`]: dataHeader,
    [`${name}_model.c`]: source,
    [`${name}_model_data.c`]: dataSource,
    ...runtime,
  };
  const project = { name, NAME, sources: Object.keys(files).filter((f) => f.endsWith('.c')), numConcepts, exits: exitCount, stateful: state.length > 0 || resets.length > 0 };
  files[EXAMPLE_MAIN] = exampleMain(project);
  files['Makefile'] = makefile(project);
  files['CMakeLists.txt'] = cmakeLists(project);
  files[`${name}.int8.json`] = serializeGraph({ ...graph, name }) + '\n';
  const report = buildReport({
    name,
    graph,
    plan,
    nodes: nodeReports,
    weightBytes,
    stateBytes,
    macs: denseMacs,
    exits: exitCount,
    files: Object.keys(files),
  });
  files['report.json'] = JSON.stringify(report, null, 2) + '\n';
  return { name, files, report };
}

// ---------------------------------------------------------------- files

interface HeaderArgs {
  name: string;
  NAME: string;
  graph: Int8Graph;
  plan: ArenaPlan;
  inT: TensorInfo;
  logitsT: TensorInfo;
  conceptsT: TensorInfo | undefined;
  outputSize: number;
  numConcepts: number;
  exits: number;
  weightBytes: number;
  stateBytes: number;
  macs: number;
  exitMacros: string[];
}

function modelHeader(a: HeaderArgs): string {
  const { name, NAME } = a;
  const shape = a.inT.shape.length <= 3 ? [...Array(3 - a.inT.shape.length).fill(1), ...a.inT.shape] : null;
  const guard = `${NAME}_MODEL_H`;
  const lines = [
    `/*`,
    ` * ${name}_model.h - generated by @tinyblocks/export-c from the int8 graph '${cComment(a.graph.name)}'. Do not edit.`,
    ` *`,
    ` * C99, no malloc, no float on the inference path: int8 activations in one static arena of`,
    ` * ${NAME}_ARENA_SIZE bytes, constant data in flash (${name}_model_data.c).`,
    ` * Not re-entrant: the arena and the stream state are static (one inference at a time).`,
    ` * Bit-exact with the TypeScript reference of @tinyblocks/int8 (runGraph / createStream).`,
    ` */`,
    `#ifndef ${guard}`,
    `#define ${guard}`,
    ``,
    `#include <stdint.h>`,
    ``,
    `#ifdef __cplusplus`,
    `extern "C" {`,
    `#endif`,
    ``,
    `/* Input: int8 codes, ${shapeText(a.inT)} (NHWC without the batch axis). */`,
    `#define ${NAME}_INPUT_SIZE ${tensorSize(a.inT)}`,
    ...(shape ? [`#define ${NAME}_INPUT_H ${shape[0]}`, `#define ${NAME}_INPUT_W ${shape[1]}`, `#define ${NAME}_INPUT_C ${shape[2]}`] : []),
    `/* Output: the answering head's logits (int8 codes). */`,
    `#define ${NAME}_OUTPUT_SIZE ${a.outputSize}`,
    `#define ${NAME}_NUM_CLASSES ${a.outputSize}`,
    `#define ${NAME}_NUM_CONCEPTS ${a.numConcepts}`,
    `#define ${NAME}_NUM_EXITS ${a.exits}`,
    `#define ${NAME}_NUM_NODES ${a.graph.nodes.length}`,
    `/* Static RAM: activation arena and stream state (delta layers), in bytes. */`,
    `#define ${NAME}_ARENA_SIZE ${a.plan.arenaSize}`,
    `#define ${NAME}_STATE_SIZE ${a.stateBytes}`,
    `/* Flash: all constant data (weights, biases, tables, requantisation constants), in bytes. */`,
    `#define ${NAME}_WEIGHT_BYTES ${a.weightBytes}`,
    `/* Multiply-accumulates of one full inference (no exit taken, every delta transmitted). */`,
    `#define ${NAME}_MACS ${a.macs <= 0xffffffff ? `${a.macs}UL` : `${a.macs}ULL`}`,
    ``,
    `/*`,
    ` * Quantisation: real = scale * (code - zero_point). The scales are for your convenience`,
    ` * (dequantising results on the host); the int8 code never uses them.`,
    ` */`,
    `#define ${NAME}_INPUT_SCALE ${cFloat(a.inT.scale)}`,
    `#define ${NAME}_INPUT_ZERO_POINT ${cInt(a.inT.zeroPoint)}`,
    `#define ${NAME}_OUTPUT_SCALE ${cFloat(a.logitsT.scale)}`,
    `#define ${NAME}_OUTPUT_ZERO_POINT ${cInt(a.logitsT.zeroPoint)}`,
    ...a.exitMacros,
    ...(a.conceptsT ? [`#define ${NAME}_CONCEPTS_SCALE ${cFloat(a.conceptsT.scale)}`, `#define ${NAME}_CONCEPTS_ZERO_POINT ${cInt(a.conceptsT.zeroPoint)}`] : []),
    ``,
    `/* Return codes. */`,
    `#define ${NAME}_OK 0`,
    `#define ${NAME}_ERR_NULL (-1)     /* input or output is NULL */`,
    `#define ${NAME}_ERR_CONCEPTS (-2) /* options->concepts holds a value other than -1, 0, 1 */`,
    ``,
    `typedef struct {`,
    `  int exits;              /* 1: stop at the first confident exit head; 0: run every layer */`,
    `  const int8_t *concepts; /* NULL, or ${NAME}_NUM_CONCEPTS entries: -1 as predicted, 0 off, 1 on */`,
    `} ${name}_options;`,
    ``,
    `typedef struct {`,
    `  int exit_taken;         /* -1 = final classifier, else the index of the exit head taken */`,
    `  uint32_t macs;          /* multiply-accumulates executed (exits and skipped deltas save some) */`,
    a.numConcepts > 0
      ? `  int8_t concepts[${NAME}_NUM_CONCEPTS]; /* concept output codes (0 when an exit came first) */`
      : `  int8_t concepts[1];     /* unused: this model has no concepts */`,
    `} ${name}_result;`,
    ``,
    `/* One inference from a fresh state (resets the stream). output: ${NAME}_OUTPUT_SIZE codes. */`,
    `int ${name}_run(const int8_t *input, int8_t *output);`,
    `/* As ${name}_run, with options and result (either may be NULL). */`,
    `int ${name}_run_ex(const int8_t *input, int8_t *output, const ${name}_options *options, ${name}_result *result);`,
    `/* Next frame of a stream: delta layers keep their state between calls (${name}_reset clears it). */`,
    `int ${name}_stream(const int8_t *frame, int8_t *output, const ${name}_options *options, ${name}_result *result);`,
    `/* Clears the stream state. */`,
    `void ${name}_reset(void);`,
    ``,
    `#ifdef __cplusplus`,
    `}`,
    `#endif`,
    ``,
    `#endif /* ${guard} */`,
    ``,
  ];
  return lines.join('\n');
}

function modelDataHeader(name: string, NAME: string, data: DataArray[]): string {
  const guard = `${NAME}_MODEL_DATA_H`;
  return [
    `/* ${name}_model_data.h - generated by @tinyblocks/export-c. Internal: the constant arrays of ${name}_model_data.c. */`,
    `#ifndef ${guard}`,
    `#define ${guard}`,
    ``,
    `#include <stdint.h>`,
    ``,
    `/*`,
    ` * TB_ALIGN16: 16-byte alignment of the constant arrays and the arena (C99 has no alignas).`,
    ` * GCC, Clang and Arm Compiler 5/6 take __attribute__((aligned(16))). For another compiler,`,
    ` * define TB_ALIGN16 before this header (e.g. -DTB_ALIGN16=) with its own syntax, or leave it`,
    ` * empty: alignment only helps speed, the kernels do not require it.`,
    ` */`,
    `#ifndef TB_ALIGN16`,
    `#if defined(__GNUC__) || defined(__clang__) || defined(__ARMCC_VERSION) || defined(__CC_ARM)`,
    `#define TB_ALIGN16 __attribute__((aligned(16)))`,
    `#else`,
    `#define TB_ALIGN16`,
    `#endif`,
    `#endif`,
    ``,
    ...data.map((d) => `extern const ${d.type} ${d.symbol}[${Math.max(1, d.values.length)}] TB_ALIGN16;`),
    ``,
    `#endif /* ${guard} */`,
    ``,
  ].join('\n');
}

function modelDataSource(name: string, data: DataArray[]): string {
  const parts = [`/* ${name}_model_data.c - generated by @tinyblocks/export-c. Do not edit. */`, `#include "${name}_model_data.h"`, ``];
  for (const d of data) {
    parts.push(
      `/* ${cComment(d.node)}: ${cComment(d.suffix)}, ${d.values.length} x ${d.type} */`,
      `const ${d.type} ${d.symbol}[${Math.max(1, d.values.length)}] TB_ALIGN16 = {`,
      d.values.length > 0 ? cValues(d.values) : '  0, /* empty */',
      `};`,
      ``,
    );
  }
  return parts.join('\n');
}

interface SourceArgs {
  name: string;
  NAME: string;
  plan: ArenaPlan;
  state: StateArray[];
  runtimeHeaders: string[];
  body: string[];
  resets: string[];
  arenaUsed: boolean;
  numConcepts: number;
}

function modelSource(a: SourceArgs): string {
  const { name, NAME } = a;
  const checkConcepts =
    a.numConcepts > 0
      ? [
          `  if (concepts != NULL) {`,
          `    int i;`,
          `    for (i = 0; i < ${NAME}_NUM_CONCEPTS; i++) {`,
          `      if (concepts[i] < -1 || concepts[i] > 1) return ${NAME}_ERR_CONCEPTS;`,
          `    }`,
          `  }`,
        ]
      : [];
  return [
    `/* ${name}_model.c - generated by @tinyblocks/export-c. Do not edit. */`,
    `#include <stddef.h>`,
    `#include <stdint.h>`,
    `#include <string.h>`,
    ``,
    `#include "${name}_model.h"`,
    `#include "${name}_model_data.h"`,
    ...a.runtimeHeaders.map((h) => `#include "${h}"`),
    ``,
    `/*`,
    ` * TB_TRACE(node, data, bytes) is called after every node with each output tensor. Empty unless`,
    ` * the build defines TB_TRACE as the name of a function of yours, e.g. -DTB_TRACE=my_trace with`,
    ` * void my_trace(int node, const int8_t *data, uint32_t bytes) (@tinyblocks/verify does this).`,
    ` */`,
    `#ifdef TB_TRACE`,
    `void TB_TRACE(int node, const int8_t *data, uint32_t bytes);`,
    `#else`,
    `#define TB_TRACE(node, data, bytes) ((void)0)`,
    `#endif`,
    ``,
    ...(a.arenaUsed ? [`/* Activations (planned by @tinyblocks/plan: ${a.plan.method}). */`, `static int8_t arena[${Math.max(1, a.plan.arenaSize)}] TB_ALIGN16;`, ``] : []),
    ...(a.state.length > 0 ? [`/* Stream state, kept between frames. */`, ...a.state.map((s) => `static ${s.type} ${s.symbol}[${s.length}] TB_ALIGN16;`), ``] : []),
    `void ${name}_reset(void) {`,
    ...a.state.map((s) => `  memset(${s.symbol}, 0, sizeof(${s.symbol}));`),
    ...a.resets,
    `}`,
    ``,
    `static int run_frame(const int8_t *input, int8_t *output, const ${name}_options *options, ${name}_result *result) {`,
    `  ${name}_result local;`,
    `  const int exits = options != NULL && options->exits != 0;`,
    `  const int8_t *concepts = options != NULL ? options->concepts : NULL;`,
    `  uint32_t macs = 0u;`,
    `  if (input == NULL || output == NULL) return ${NAME}_ERR_NULL;`,
    ...checkConcepts,
    `  if (result == NULL) result = &local;`,
    `  (void)exits;`,
    `  (void)concepts;`,
    ``,
    ...a.body,
    `}`,
    ``,
    `int ${name}_stream(const int8_t *frame, int8_t *output, const ${name}_options *options, ${name}_result *result) {`,
    `  return run_frame(frame, output, options, result);`,
    `}`,
    ``,
    `int ${name}_run_ex(const int8_t *input, int8_t *output, const ${name}_options *options, ${name}_result *result) {`,
    `  if (input == NULL || output == NULL) return ${NAME}_ERR_NULL;`,
    `  ${name}_reset();`,
    `  return run_frame(input, output, options, result);`,
    `}`,
    ``,
    `int ${name}_run(const int8_t *input, int8_t *output) {`,
    `  return ${name}_run_ex(input, output, NULL, NULL);`,
    `}`,
    ``,
  ].join('\n');
}
