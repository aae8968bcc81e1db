/**
 * Every op the int8 graph knows, by its `op` key. Adding an op: write ops/<op>.ts (lowering,
 * TS kernel, C emission) and runtime/tb_<op>.h/.c, then list it here.
 */
import { ConfigError, DataError } from '@tinyblocks/core/base';
import { checkEnvelope, type Int8Graph, type Int8Node } from './graph.js';
import type { OpDef } from './op.js';
import { add } from './ops/add.js';
import { avgPool2d } from './ops/avg-pool2d.js';
import { conceptIntervene } from './ops/concept-intervene.js';
import { concat } from './ops/concat.js';
import { conv2d } from './ops/conv2d.js';
import { deltaDense } from './ops/delta-dense.js';
import { dense } from './ops/dense.js';
import { depthwiseConv2d } from './ops/depthwise-conv2d.js';
import { evoNormB0 } from './ops/evonorm-b0.js';
import { evoNormS0 } from './ops/evonorm-s0.js';
import { exitDecision } from './ops/exit-decision.js';
import { lut } from './ops/lut.js';
import { maxPool2d } from './ops/max-pool2d.js';
import { mixPool } from './ops/mix-pool.js';
import { polyNorm } from './ops/polynorm.js';
import { pad2d } from './ops/pad2d.js';
import { reshape } from './ops/reshape.js';
import { softmax } from './ops/softmax.js';
import { upsample2d } from './ops/upsample2d.js';

const ALL = [conv2d, depthwiseConv2d, dense, avgPool2d, maxPool2d, add, lut, reshape, evoNormB0, evoNormS0, polyNorm, mixPool, exitDecision, conceptIntervene, deltaDense, softmax, pad2d, upsample2d, concat] as unknown as OpDef[];

const REGISTRY = new Map<string, OpDef>(ALL.map((d) => [d.op, d]));
const BUILT_IN = new Set(REGISTRY.keys());

/** Every op by its `op` key: the built-in ones and those added with registerOp. */
export const OPS: ReadonlyMap<string, OpDef> = REGISTRY;

/**
 * Adds an op from outside tinyblocks (a user's own kernel): its TypeScript reference (`run`),
 * `validate`, `macs`, `emitC`, and its C files in `sources` (named in `runtime`), exactly as a
 * built-in op's. Built-in ops cannot be replaced; a user op can be registered again.
 */
export function registerOp(def: OpDef): void {
  const where = { op: 'registerOp' };
  if (!def || typeof def.op !== 'string' || !/^[a-z][a-z0-9_]*$/.test(def.op)) throw new ConfigError(where, 'op', 'a lowercase C-style name', def?.op);
  if (BUILT_IN.has(def.op)) throw new ConfigError(where, 'op', 'a name no built-in op has', def.op);
  for (const f of ['validate', 'run', 'macs', 'emitC'] as const) if (typeof def[f] !== 'function') throw new ConfigError(where, f, 'a function', typeof def[f]);
  if (!Array.isArray(def.runtime) || !def.runtime.every((h) => typeof h === 'string' && /^[A-Za-z0-9_.-]+\.h$/.test(h))) throw new ConfigError(where, 'runtime', 'header file names', def.runtime);
  for (const [name, text] of Object.entries(def.sources ?? {})) {
    if (!/^[A-Za-z0-9_.-]+\.[ch]$/.test(name) || typeof text !== 'string') throw new ConfigError(where, `sources.${name}`, 'C file names (.h/.c) with their text', typeof text);
  }
  REGISTRY.set(def.op, def);
}

/** The OpDef of a node; DataError naming the node when the op is unknown. */
export function opOf(node: Int8Node): OpDef {
  const def = OPS.get(node.op);
  if (!def) throw new DataError({ layer: node.name }, 'op', `one of ${[...OPS.keys()].join(', ')}`, node.op);
  return def;
}

/**
 * Full check of a graph: the envelope, every node's op-specific fields, and that each tensor is
 * written once before it is read.
 */
export function validateGraph(graph: Int8Graph, file = 'int8 graph'): void {
  checkEnvelope(graph, file);
  const written = new Set<number>([graph.input]);
  for (const node of graph.nodes) {
    const def = opOf(node);
    for (const id of node.inputs) {
      if (!written.has(id)) throw new DataError({ layer: node.name }, 'inputs', `tensors written by earlier nodes`, `tensor ${id} (${graph.tensors[id]!.name}) not yet written`);
    }
    for (const id of node.outputs) {
      if (written.has(id)) throw new DataError({ layer: node.name }, 'outputs', 'tensors written once', `tensor ${id} (${graph.tensors[id]!.name}) written twice`);
      written.add(id);
    }
    def.validate(node, graph);
  }
  for (const o of graph.outputs) {
    if (!written.has(o.tensor)) throw new DataError({ file }, 'outputs', 'tensors some node writes', `tensor ${o.tensor} never written`);
  }
}
