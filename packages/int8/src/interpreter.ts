/**
 * The TypeScript integer reference: runs an int8 graph node by node with each op's integer
 * kernel. It is the ground truth every C build is compared with, byte for byte.
 *
 *   runGraph(graph, input)                       one inference, fresh state, no early exit
 *   runGraph(graph, input, { exits: true })      stops at the first confident exit head
 *   runGraph(graph, input, { interventions })    concept interventions (-1 free, 0 off, 1 on)
 *   const s = createStream(graph); s.run(frame)  delta layers keep state between frames
 */
import { DataError } from '@tinyblocks/core/base';
import { type Int8Graph, type Int8Node, tensorSize } from './graph.js';
import type { RunContext } from './op.js';
import { opOf } from './registry.js';

export interface RunOptions {
  /** Take early exits (default false: every head runs, the final logits answer). */
  exits?: boolean;
  /** One entry per concept: -1 as predicted, 0 off, 1 on. */
  interventions?: ArrayLike<number> | null;
  /** Called after each node with its outputs (tracing, per-layer comparison). */
  onNode?: (node: Int8Node, index: number, outputs: Int8Array[]) => void;
}

export interface RunOutput {
  /** Every tensor computed (undefined for tensors skipped by an early exit). */
  tensors: Array<Int8Array | undefined>;
  /** graph.outputs in order (undefined when skipped by an early exit). */
  outputs: Array<Int8Array | undefined>;
  /** The answer: the final logits, or the logits of the exit taken. */
  logits: Int8Array;
  /** Index into the exit heads (0 = first exit) or -1 when the final classifier answered. */
  exitTaken: number;
  /** MACs actually executed. */
  macs: number;
  /** MACs executed by each node (index as graph.nodes; 0 for nodes not run). */
  nodeMacs: number[];
}

type StateMap = Map<string, unknown>;

function execute(graph: Int8Graph, input: Int8Array, options: RunOptions, states: StateMap): RunOutput {
  const inT = graph.tensors[graph.input]!;
  if (!(input instanceof Int8Array) || input.length !== tensorSize(inT)) {
    throw new DataError({ op: 'runGraph' }, 'input', `an Int8Array of ${tensorSize(inT)} codes (shape [${inT.shape.join(', ')}])`, input instanceof Int8Array ? `${input.length} codes` : typeof input);
  }
  const interventions = options.interventions ? Int8Array.from(options.interventions) : null;
  const ctx: RunContext = {
    state<T>(node: { name: string }, init: () => T): T {
      if (!states.has(node.name)) states.set(node.name, init());
      return states.get(node.name) as T;
    },
    interventions,
  };
  const tensors: Array<Int8Array | undefined> = new Array(graph.tensors.length);
  tensors[graph.input] = input;
  let macs = 0;
  const nodeMacs = new Array<number>(graph.nodes.length).fill(0);
  let exitIndex = 0;
  for (let i = 0; i < graph.nodes.length; i++) {
    const node = graph.nodes[i]!;
    const def = opOf(node);
    const result = def.run(node, node.inputs.map((id) => tensors[id]!), graph, ctx);
    result.outputs.forEach((t, j) => (tensors[node.outputs[j]!] = t));
    nodeMacs[i] = result.macs ?? def.macs(node, graph);
    macs += nodeMacs[i]!;
    options.onNode?.(node, i, result.outputs);
    if (result.exit !== undefined) {
      if (result.exit && options.exits) {
        return finish(graph, tensors, macs, nodeMacs, exitIndex, tensors[node.inputs[0]!]!);
      }
      exitIndex++;
    }
  }
  const logitsOut = graph.outputs.find((o) => o.role === 'logits') ?? graph.outputs[0]!;
  return finish(graph, tensors, macs, nodeMacs, -1, tensors[logitsOut.tensor]!);
}

function finish(graph: Int8Graph, tensors: Array<Int8Array | undefined>, macs: number, nodeMacs: number[], exitTaken: number, logits: Int8Array): RunOutput {
  return { tensors, outputs: graph.outputs.map((o) => tensors[o.tensor]), logits, exitTaken, macs, nodeMacs };
}

/** One inference with fresh state (delta layers see a first frame). */
export function runGraph(graph: Int8Graph, input: Int8Array, options: RunOptions = {}): RunOutput {
  return execute(graph, input, options, new Map());
}

export interface Stream {
  /** Next frame: delta layers transmit only the changes since the previous frame. */
  run(frame: Int8Array, options?: RunOptions): RunOutput;
  reset(): void;
}

export function createStream(graph: Int8Graph): Stream {
  const states: StateMap = new Map();
  return {
    run: (frame, options = {}) => execute(graph, frame, options, states),
    reset: () => states.clear(),
  };
}
