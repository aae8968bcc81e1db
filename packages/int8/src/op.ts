/**
 * The contract every int8 op implements, in one place per op (ops/<op>.ts):
 *   - `lower<Op>(...)`: float parameters + quantization -> a node (float math allowed here only);
 *   - `run`: the TypeScript integer reference kernel (integer arithmetic only);
 *   - `emitC`: the C call (and its constant data) for the generated model;
 *   - the C kernel itself in runtime/tb_<op>.h/.c, bit-exact with `run`.
 */
import type { Int8Graph, Int8Node, NodeBase } from './graph.js';

/** What the interpreter passes to a kernel besides its input tensors. */
export interface RunContext {
  /**
   * Persistent per-node state for streaming ops (the delta layer): the object `init()` returned
   * the first time this node asked, until the stream is reset. A plain run starts fresh.
   */
  state<T>(node: NodeBase, init: () => T): T;
  /** Concept interventions, one entry per concept: -1 leave as predicted, 0 off, 1 on. */
  interventions: Int8Array | null;
}

export interface RunResult {
  /** One int8 array per node output, in `node.outputs` order. */
  outputs: Int8Array[];
  /** MACs executed when they differ from `macs(node)` (the delta layer skips zero deltas). */
  macs?: number;
  /** Exit-decision ops: true when this exit is confident enough to stop. */
  exit?: boolean;
}

/** Code generation services the generic emitter (export-c) gives each op. */
export interface EmitContext {
  graph: Int8Graph;
  /** C expression of a tensor's buffer (`int8_t *`), e.g. `(arena + 1024)` or `input`. */
  tensor(id: number): string;
  /**
   * A const array in `<name>_model_data.c` (16-byte aligned); returns its C symbol, unique per
   * node and `suffix`. Declared in the internal header so the schedule can reference it.
   */
  data(suffix: string, type: 'int8_t' | 'uint8_t' | 'int16_t' | 'int32_t', values: ArrayLike<number>): string;
  /** A zero-initialised static mutable array kept between calls (stream state); returns its symbol. */
  state(suffix: string, type: 'int8_t' | 'int16_t' | 'int32_t', length: number): string;
  /** C expression of the concept interventions (`const int8_t *`, may be NULL). */
  interventions: string;
}

export interface EmittedC {
  /**
   * The call. Default: a C statement (without `;`). With `returnsMacs`: an expression returning
   * the MACs actually executed (uint32_t). With `exitDecision`: an int expression, non-zero when
   * the exit is taken (the generic code then copies that head's logits out and returns).
   */
  call: string;
  returnsMacs?: boolean;
  exitDecision?: boolean;
  /** Statement(s) resetting stream state (emitted into `<name>_reset`). */
  reset?: string;
}

export interface OpDef<N extends NodeBase = Int8Node> {
  op: string;
  /**
   * Checks the op-specific fields against the graph (shapes, array lengths, ranges); throws a
   * DataError naming the node (`where: { layer: node.name }`) and field.
   */
  validate(node: N, graph: Int8Graph): void;
  /** TypeScript integer reference: integer arithmetic only, bit-exact with the C kernel. */
  run(node: N, inputs: Int8Array[], graph: Int8Graph, ctx: RunContext): RunResult;
  /** Multiply-accumulates of one dense (non-skipping) execution. */
  macs(node: N, graph: Int8Graph): number;
  /** Output 0 may reuse input 0's bytes when input 0 is not read later (kernel handles in == out). */
  inPlace?: boolean;
  /** Runtime headers under int8/runtime the emitted call needs (each `tb_x.h` may have a `tb_x.c`). */
  runtime: string[];
  /**
   * C files of an op registered from outside tinyblocks (file name -> text): looked up before
   * int8/runtime, shipped with every export that uses the op. Built-in ops have none.
   */
  sources?: Readonly<Record<string, string>>;
  emitC(node: N, ctx: EmitContext): EmittedC;
}
