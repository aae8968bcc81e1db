/** Parameters and multiply-accumulates per layer, for one sample. */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelGraph, type GraphNode } from './graph.js';
import { isMacCounter } from './layers.js';

export interface LayerCount {
  name: string;
  className: string;
  outputShape: Array<number | null>;
  params: number;
  macs: number;
}

export interface ModelCount {
  layers: LayerCount[];
  totalParams: number;
  totalMacs: number;
}

const prod = (xs: ReadonlyArray<number | null>): number => xs.reduce<number>((a, b) => a * (b ?? 1), 1);

/** MACs of the tf.layers built-ins that do multiply-accumulates; other built-ins count 0. */
function builtinMacs(node: GraphNode): number {
  const cfg = node.layer.getConfig() as Record<string, unknown>;
  const inShape = node.inputShapes[0]!;
  const outShape = node.outputShapes[0]!;
  const cin = inShape[inShape.length - 1] ?? 0;
  const outPositions = prod(outShape.slice(1, -1));
  const k = prod((cfg['kernelSize'] as number[] | undefined) ?? []);
  switch (node.layer.getClassName()) {
    case 'Dense':
      return prod(inShape.slice(1)) * (cfg['units'] as number);
    case 'Conv2D':
    case 'Conv1D':
      return outPositions * (outShape[outShape.length - 1] ?? 0) * k * cin;
    case 'DepthwiseConv2D':
      return outPositions * (outShape[outShape.length - 1] ?? 0) * k;
    case 'SeparableConv2D': {
      const mult = (cfg['depthMultiplier'] as number) ?? 1;
      return outPositions * cin * mult * k + outPositions * cin * mult * (outShape[outShape.length - 1] ?? 0);
    }
    default:
      return 0;
  }
}

export function countNode(node: GraphNode): LayerCount {
  const macs = isMacCounter(node.layer)
    ? node.layer.countMacs(node.inputShapes.length === 1 ? node.inputShapes[0]! : node.inputShapes)
    : builtinMacs(node);
  return {
    name: node.layer.name,
    className: node.layer.getClassName(),
    outputShape: node.outputShapes[0]!,
    params: node.layer.countParams(),
    macs,
  };
}

export function countModel(model: LayersModel): ModelCount {
  const layers = modelGraph(model).nodes.map(countNode);
  return {
    layers,
    totalParams: layers.reduce((a, l) => a + l.params, 0),
    totalMacs: layers.reduce((a, l) => a + l.macs, 0),
  };
}
