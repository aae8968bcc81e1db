/**
 * The model as a list of nodes in execution order, and a layer-by-layer executor that can stop
 * early. Early-exit inference, per-layer counting and (later) int8 lowering all walk this list.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ConfigError } from './errors.js';

type Layer = LayersModel['layers'][number];
type Symbolic = LayersModel['inputs'][number];

export interface GraphNode {
  layer: Layer;
  /** Names of the symbolic tensors this layer reads, in call order. */
  inputs: string[];
  /** Names of the symbolic tensors it produces. */
  outputs: string[];
  inputShapes: Array<Array<number | null>>;
  outputShapes: Array<Array<number | null>>;
}

export interface ModelGraph {
  inputs: string[];
  outputs: string[];
  nodes: GraphNode[];
}

function asArray<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

/** Flattens a (functional or sequential) LayersModel into nodes in topological order. */
export function modelGraph(model: LayersModel): ModelGraph {
  const nodes: GraphNode[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const inbound = (layer as unknown as { inboundNodes: Array<{ inputTensors: Symbolic[]; outputTensors: Symbolic[] }> })
      .inboundNodes;
    if (inbound.length !== 1) {
      throw new ConfigError(
        { layer: layer.name },
        'inboundNodes',
        'a layer called exactly once in the model (shared layers are not supported)',
        inbound.length,
      );
    }
    const node = inbound[0]!;
    nodes.push({
      layer,
      inputs: node.inputTensors.map((t) => t.name),
      outputs: node.outputTensors.map((t) => t.name),
      inputShapes: node.inputTensors.map((t) => t.shape.slice()),
      outputShapes: node.outputTensors.map((t) => t.shape.slice()),
    });
  }
  return { inputs: model.inputs.map((t) => t.name), outputs: model.outputs.map((t) => t.name), nodes };
}

export interface RunGraphOptions {
  training?: boolean;
  /** Called after each node; return true to stop executing the rest of the graph. */
  stopAfter?: (node: GraphNode, values: Map<string, tf.Tensor>) => boolean;
}

/**
 * Runs the graph node by node. Returns every computed tensor by symbolic name; the caller owns
 * them (wrap in tf.tidy). Nodes whose inputs were never computed are skipped.
 */
export function runGraph(
  graph: ModelGraph,
  inputs: tf.Tensor | tf.Tensor[],
  options: RunGraphOptions = {},
): Map<string, tf.Tensor> {
  const values = new Map<string, tf.Tensor>();
  asArray(inputs).forEach((t, i) => values.set(graph.inputs[i]!, t));
  for (const node of graph.nodes) {
    if (!node.inputs.every((n) => values.has(n))) continue;
    const args = node.inputs.map((n) => values.get(n)!);
    const out = node.layer.apply(args.length === 1 ? args[0]! : args, { training: options.training ?? false });
    asArray(out as tf.Tensor | tf.Tensor[]).forEach((t, i) => values.set(node.outputs[i]!, t));
    if (options.stopAfter?.(node, values)) break;
  }
  return values;
}
