/**
 * planArena: a byte-level simulation of random graphs (every node checks its inputs are still
 * intact before and after it writes), never worse than greedy-by-size, and the in-place rules on
 * a real graph (lut, add and reshape run in place; dense does not).
 */
import { DataError } from '@tinyblocks/core/base';
import {
  chooseQuantParams,
  type Int8Graph,
  type Int8Node,
  lowerAdd,
  lowerConv2d,
  lowerDense,
  lowerDepthwiseConv2d,
  lowerLut,
  lowerReshape,
  type TensorInfo,
  tensorSize,
} from '@tinyblocks/int8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ArenaPlan, planArena } from './arena.js';

const SYNTH_OPS = new Map([
  ['ip', { inPlace: true }],
  ['op', {}],
]);

/**
 * Runs the schedule on a simulated arena: each byte holds the id of the tensor that last wrote
 * it. A node's inputs must be intact when it starts, and still intact after it wrote its outputs
 * (except input 0 when output 0 is its in-place alias). Graph outputs must be intact at the end.
 */
function simulate(graph: Int8Graph, plan: ArenaPlan): void {
  const mem = new Int32Array(plan.arenaSize).fill(-1);
  const intact = (id: number, when: string) => {
    if (id === graph.input) return;
    const off = plan.offsets[id]!;
    const size = tensorSize(graph.tensors[id]!);
    expect(off, `tensor ${id} placed`).toBeGreaterThanOrEqual(0);
    expect(off % plan.align).toBe(0);
    expect(off + size).toBeLessThanOrEqual(plan.arenaSize);
    for (let b = off; b < off + size; b++) if (mem[b] !== id) throw new Error(`tensor ${id} clobbered by ${mem[b]} ${when}`);
  };
  graph.nodes.forEach((node, i) => {
    node.inputs.forEach((id) => intact(id, `before node ${i}`));
    for (const id of node.outputs) {
      const off = plan.offsets[id]!;
      mem.fill(id, off, off + tensorSize(graph.tensors[id]!));
    }
    node.inputs.forEach((id, k) => {
      if (k === 0 && plan.aliasOf[node.outputs[0]!] === id) return;
      intact(id, `after node ${i} wrote`);
    });
  });
  for (const o of graph.outputs) intact(o.tensor, 'at the end');
}

const q = { scale: 0.1, zeroPoint: 0 };

/** Random DAG: each node reads 1-2 earlier tensors; 'ip' nodes keep input 0's size (aliasable). */
const graphArb = fc
  .array(
    fc.record({
      inPlace: fc.boolean(),
      a: fc.nat(),
      b: fc.option(fc.nat(), { nil: undefined }),
      size: fc.integer({ min: 1, max: 300 }),
    }),
    { minLength: 1, maxLength: 24 },
  )
  .chain((specs) => fc.tuple(fc.constant(specs), fc.subarray(specs.map((_, i) => i + 1), { minLength: 1 }), fc.constantFrom(1, 16)))
  .map(([specs, outs, align]) => {
    const tensors: TensorInfo[] = [{ name: 't0', shape: [17], ...q }];
    const nodes: Int8Node[] = specs.map((s, i) => {
      const a = s.a % tensors.length;
      const inputs = s.b === undefined ? [a] : [a, s.b % tensors.length];
      const size = s.inPlace ? tensorSize(tensors[a]!) : s.size;
      tensors.push({ name: `t${i + 1}`, shape: [size], ...q });
      return { op: s.inPlace ? 'ip' : 'op', name: `n${i}`, inputs, outputs: [i + 1] };
    });
    const graph: Int8Graph = {
      format: 'tinyblocks-int8-graph',
      version: 1,
      name: 'g',
      tensors,
      nodes,
      input: 0,
      outputs: outs.map((t, k) => ({ tensor: t, role: k === 0 ? 'logits' : 'exit' })),
      meta: {},
    };
    return { graph, align };
  });

describe('planArena (random graphs)', () => {
  it('the schedule never reads a clobbered tensor; arena <= greedy-by-size; lower bound holds', () => {
    let aliased = 0;
    fc.assert(
      fc.property(graphArb, ({ graph, align }) => {
        const plan = planArena(graph, { align, ops: SYNTH_OPS });
        simulate(graph, plan);
        expect(plan.offsets[graph.input]).toBe(-1);
        expect(plan.arenaSize).toBeLessThanOrEqual(plan.greedyBySize.arenaSize);
        expect(plan.arenaSize).toBeGreaterThanOrEqual(plan.lowerBound);
        expect(Math.max(...plan.perNode.map((p) => p.liveBytes))).toBe(plan.lowerBound);
        // alias rules: only 'ip' nodes, never the graph input or a graph output, last reader only
        graph.nodes.forEach((n, i) => {
          const src = plan.aliasOf[n.outputs[0]!]!;
          if (src < 0) return;
          aliased++;
          expect(n.op).toBe('ip');
          expect(src).toBe(n.inputs[0]);
          expect(src).not.toBe(graph.input);
          expect(graph.outputs.map((o) => o.tensor)).not.toContain(src);
          expect(graph.nodes.slice(i + 1).some((m) => m.inputs.includes(src))).toBe(false);
          expect(plan.offsets[n.outputs[0]!]).toBe(plan.offsets[src]);
        });
      }),
      { seed: 5, numRuns: 300 },
    );
    expect(aliased).toBeGreaterThan(50); // the property exercised in-place reuse
  });
});

// ---------------------------------------------------------------- a real graph

function realGraph(): Int8Graph {
  const t = (name: string, shape: number[], min: number, max: number): TensorInfo => ({ name, shape, ...chooseQuantParams(min, max) });
  const tensors = [
    t('input', [6, 6, 2], -1, 1), // 0
    t('relu_in', [6, 6, 2], 0, 1), // 1: lut on the graph input: must not write over it
    t('conv', [6, 6, 4], -2, 2), // 2
    t('act', [6, 6, 4], 0, 2), // 3: lut in place over conv
    t('dw', [6, 6, 4], -2, 2), // 4
    t('sum', [6, 6, 4], -3, 3), // 5: add(act, dw) in place over act
    t('flat', [144], -3, 3), // 6: reshape in place over sum
    t('logits', [5], -4, 4), // 7: dense, not in place
    t('exit_act', [5], -4, 4), // 8: lut over a graph output: must not write over it
  ];
  tensors[6] = { ...tensors[5]!, name: 'flat', shape: [144] };
  const T = (i: number) => tensors[i]!;
  const k = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.3);
  const nodes = [
    lowerLut({ name: 'relu_in', inputs: [0], outputs: [1], in: T(0), out: T(1), fn: (v) => Math.max(v, 0), fnName: 'relu' }),
    lowerConv2d({ name: 'conv', inputs: [1], outputs: [2], in: T(1), out: T(2), kernel: k(3 * 3 * 2 * 4), kernelSize: [3, 3], strides: [1, 1], padding: 'same' }),
    lowerLut({ name: 'act', inputs: [2], outputs: [3], in: T(2), out: T(3), fn: (v) => Math.max(v, 0), fnName: 'relu' }),
    lowerDepthwiseConv2d({ name: 'dw', inputs: [3], outputs: [4], in: T(3), out: T(4), kernel: k(3 * 3 * 4), kernelSize: [3, 3], strides: [1, 1], padding: 'same' }),
    lowerAdd({ name: 'sum', inputs: [3, 4], outputs: [5], in: [T(3), T(4)], out: T(5) }),
    lowerReshape({ name: 'flat', inputs: [5], outputs: [6], in: T(5), out: T(6) }),
    lowerDense({ name: 'fc', inputs: [6], outputs: [7], in: T(6), out: T(7), kernel: k(144 * 5) }),
    lowerLut({ name: 'exit_act', inputs: [7], outputs: [8], in: T(7), out: T(8), fn: (v) => v, fnName: 'identity' }),
  ] as unknown as Int8Node[];
  return {
    format: 'tinyblocks-int8-graph',
    version: 1,
    name: 'real',
    tensors,
    nodes,
    input: 0,
    outputs: [
      { tensor: 7, role: 'logits' },
      { tensor: 8, role: 'exit' },
    ],
    meta: {},
  };
}

describe('planArena (real in-place ops)', () => {
  const graph = realGraph();
  const plan = planArena(graph);

  it('lut, add and reshape reuse input 0 when it is dead; never the graph input or a graph output', () => {
    simulate(graph, plan);
    expect(plan.offsets[0]).toBe(-1);
    expect(plan.aliasOf[1]).toBe(-1); // lut reading the caller's input
    expect(plan.aliasOf[3]).toBe(2); // act over conv
    expect(plan.aliasOf[5]).toBe(3); // add over act (act's last reader)
    expect(plan.aliasOf[6]).toBe(5); // reshape over sum
    expect(plan.aliasOf[7]).toBe(-1); // dense is not in place
    expect(plan.aliasOf[8]).toBe(-1); // logits are a graph output
    expect(new Set([2, 3, 5, 6].map((t) => plan.offsets[t])).size).toBe(1);
    expect(plan.buffers.find((b) => b.tensors.includes(2))!.tensors).toEqual([2, 3, 5, 6]);
    expect(plan.offsets[4]).not.toBe(plan.offsets[3]); // dw lives alongside act
    expect(plan.offsets[8]).not.toBe(plan.offsets[7]);
  });

  it('arena <= greedy-by-size, per-node live bytes, outputs live to the end', () => {
    expect(plan.arenaSize).toBeLessThanOrEqual(plan.greedyBySize.arenaSize);
    expect(plan.perNode.map((p) => p.node)).toEqual(graph.nodes.map((n) => n.name));
    // node 4 (add): act/sum buffer (144 -> 144) + dw (144) live
    expect(plan.perNode[4]!.liveBytes).toBe(144 + 144);
    const logits = plan.buffers.find((b) => b.tensors.includes(7))!;
    expect(logits.last).toBe(graph.nodes.length - 1);
    expect(plan.lowerBound).toBe(Math.max(...plan.perNode.map((p) => p.liveBytes)));
  });

  it('without in-place ops the arena can only grow', () => {
    const noInPlace = planArena(graph, { ops: new Map(['lut', 'conv2d', 'depthwise_conv2d', 'add', 'reshape', 'dense'].map((o) => [o, {}])) });
    simulate(graph, noInPlace);
    expect(noInPlace.aliasOf.every((a) => a === -1)).toBe(true);
    expect(noInPlace.arenaSize).toBeGreaterThan(plan.arenaSize);
  });

  it('typed errors name the node', () => {
    const bad = realGraph();
    (bad.nodes[3] as { op: string }).op = 'nope';
    expect(() => planArena(bad)).toThrow(DataError);
    expect(() => planArena(bad)).toThrow(/^dw: op:/);
    const early = realGraph();
    early.nodes[1]!.inputs = [5];
    expect(() => planArena(early)).toThrow(/^conv: inputs: expected tensors written by earlier nodes/);
    const twice = realGraph();
    twice.nodes[2]!.outputs = [2];
    expect(() => planArena(twice)).toThrow(/^act: outputs/);
    expect(() => planArena({ ...realGraph(), format: 'x' } as unknown as Int8Graph)).toThrow(/format/);
  });
});
