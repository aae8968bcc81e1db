/**
 * Arena planning for an int8 graph: every tensor a node writes gets a byte range in one static
 * arena; tensors whose lifetimes do not overlap share bytes.
 *
 * - Buffers: every tensor a node writes. The graph input is not one: the caller's const input
 *   buffer is read directly and never written (offset -1, as for tensors no node writes).
 * - Lifetime of a tensor, in node indices: [the node that writes it, the last node that reads
 *   it]. Graph outputs (logits, exit logits, concepts) live to the last node: they are copied out
 *   at the end of a run (or when an exit is taken).
 * - In place: when a node's op has `inPlace`, its output 0 takes input 0's bytes (same offset,
 *   one buffer) if input 0 is not the graph input, not a graph output, not read by any later node
 *   nor twice by this one, and has the same size. Chains of in-place ops share one buffer.
 * - Placement: `planBuffers` (buffers.ts). Sizes are int8 bytes rounded up to `align`.
 */
import { DataError } from '@tinyblocks/core/base';
import { checkEnvelope, type Int8Graph, OPS, tensorSize } from '@tinyblocks/int8';
import { alignUp, type BufferPlan, planBuffers, type PlanMethod, type PlanOptions } from './buffers.js';

export interface ArenaPlanOptions extends PlanOptions {
  /** Which ops may run in place (default: the int8 registry `OPS`). */
  ops?: ReadonlyMap<string, { inPlace?: boolean }>;
}

export interface ArenaBuffer {
  /** The tensors sharing this buffer: the first is written first; the others are in-place aliases. */
  tensors: number[];
  /** Bytes (unaligned). */
  size: number;
  first: number;
  last: number;
  offset: number;
}

export interface ArenaPlan {
  /** Byte offset in the arena per tensor id; -1 for the graph input and tensors no node writes. */
  offsets: number[];
  /** Bytes of the arena (a multiple of `align`). */
  arenaSize: number;
  /** The heuristic whose placement is used. */
  method: PlanMethod;
  /** TFLite Micro's greedy-by-size planner on the same buffers. */
  greedyBySize: { arenaSize: number };
  /** Most bytes alive at any node (aligned sizes): no plan can be smaller. */
  lowerBound: number;
  /** Aligned bytes alive while each node runs (its inputs, its outputs, everything still needed). */
  perNode: Array<{ index: number; node: string; liveBytes: number }>;
  /** The buffers placed, in tensor-id order of their first tensor. */
  buffers: ArenaBuffer[];
  /** Per tensor id: the tensor whose bytes it reuses in place, or -1. */
  aliasOf: number[];
  align: number;
}

/** Plans the arena of an int8 graph; see the file comment for the rules. */
export function planArena(graph: Int8Graph, options: ArenaPlanOptions = {}): ArenaPlan {
  checkEnvelope(graph);
  const ops = options.ops ?? OPS;
  const n = graph.nodes.length;
  const T = graph.tensors.length;
  const writer = new Array<number>(T).fill(-1);
  const lastRead = new Array<number>(T).fill(-1);
  const isOutput = new Set(graph.outputs.map((o) => o.tensor));

  graph.nodes.forEach((node, i) => {
    if (!ops.has(node.op)) throw new DataError({ layer: node.name }, 'op', `one of ${[...ops.keys()].join(', ')}`, node.op);
    for (const id of node.inputs) {
      if (id !== graph.input && (writer[id]! < 0 || writer[id] === i)) {
        throw new DataError({ layer: node.name }, 'inputs', 'tensors written by earlier nodes', `tensor ${id} (${graph.tensors[id]!.name}) not yet written`);
      }
      lastRead[id] = i;
    }
    for (const id of node.outputs) {
      if (id === graph.input || writer[id]! >= 0) {
        throw new DataError({ layer: node.name }, 'outputs', 'tensors written once (never the graph input)', `tensor ${id} (${graph.tensors[id]!.name})`);
      }
      writer[id] = i;
    }
  });
  for (const o of graph.outputs) {
    if (o.tensor !== graph.input && writer[o.tensor]! < 0) throw new DataError({ file: 'int8 graph' }, 'outputs', 'tensors some node writes', `tensor ${o.tensor} never written`);
  }

  // in-place aliases: root[t] = the tensor whose buffer t uses
  const root = Array.from({ length: T }, (_, t) => t);
  const aliasOf = new Array<number>(T).fill(-1);
  graph.nodes.forEach((node, i) => {
    if (!ops.get(node.op)!.inPlace || node.inputs.length === 0 || node.outputs.length === 0) return;
    const src = node.inputs[0]!;
    const dst = node.outputs[0]!;
    const ok =
      src !== graph.input &&
      !isOutput.has(src) &&
      lastRead[src] === i &&
      node.inputs.indexOf(src, 1) < 0 &&
      tensorSize(graph.tensors[src]!) === tensorSize(graph.tensors[dst]!);
    if (ok) {
      root[dst] = root[src]!;
      aliasOf[dst] = src;
    }
  });

  // one buffer per root: lifetime = union over its tensors
  const groups = new Map<number, ArenaBuffer>();
  for (let t = 0; t < T; t++) {
    if (writer[t]! < 0) continue;
    const end = isOutput.has(t) ? Math.max(n - 1, writer[t]!) : Math.max(lastRead[t]!, writer[t]!);
    const r = root[t]!;
    const g = groups.get(r);
    if (g) {
      g.tensors.push(t);
      g.first = Math.min(g.first, writer[t]!);
      g.last = Math.max(g.last, end);
      g.size = Math.max(g.size, tensorSize(graph.tensors[t]!));
    } else {
      groups.set(r, { tensors: [t], size: tensorSize(graph.tensors[t]!), first: writer[t]!, last: end, offset: 0 });
    }
  }
  const buffers = [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
  const plan: BufferPlan = planBuffers(
    buffers.map((b, i) => ({ id: i, size: b.size, first: b.first, last: b.last })),
    { align: options.align ?? 16 },
  );
  const align = options.align ?? 16;
  const offsets = new Array<number>(T).fill(-1);
  buffers.forEach((b, i) => {
    b.offset = plan.offsets[i]!;
    for (const t of b.tensors) offsets[t] = b.offset;
  });

  const perNode = graph.nodes.map((node, i) => ({
    index: i,
    node: node.name,
    liveBytes: buffers.reduce((s, b) => (b.first <= i && i <= b.last ? s + alignUp(b.size, align) : s), 0),
  }));

  return {
    offsets,
    arenaSize: plan.arenaSize,
    method: plan.method,
    greedyBySize: { arenaSize: plan.greedyBySize.arenaSize },
    lowerBound: plan.lowerBound,
    perNode,
    buffers,
    aliasOf,
    align,
  };
}
