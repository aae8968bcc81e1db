/**
 * One extension point for int8 lowerings. Every tf.layers class the quantizer knows, the six
 * tinyblocks blocks and the standard layers alike, is an entry of this registry; a user's own
 * layer gets the same treatment with `registerLowering`, without editing tinyblocks (as TFLM
 * lets users register custom ops). A lowering:
 *
 * - `check(layer)` (optional): refuses a configuration before any calibration runs;
 * - `calibrate(ctx)` (optional): observes tensors that live inside the layer (a pre-activation,
 *   a pooled feature), besides its outputs, which are always observed;
 * - `lower(ctx)`: emits int8 nodes (ops of @tinyblocks/int8, built-in or registered with
 *   `registerOp`) through the context: the input tensor (`io`), new output tensors with their
 *   calibrated quantization (`newOut`), `push` for a node.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ConfigError, type GraphNode, type ModelGraph } from '@tinyblocks/core';
import type { Int8Node, QuantParams, TensorInfo } from '@tinyblocks/int8';

type Layer = tfl.LayersModel['layers'][number];

/** The int8 graph being built (tensors by the float model's names, nodes in order). */
export interface LoweringBuilder {
  /** The calibrated quantization of tensor `name` (a symbolic tensor or an inner '<layer>/<x>' one). */
  params(name: string, where: string): QuantParams;
  /** Adds a tensor (or returns the id it already has). */
  add(name: string, shape: number[], q: QuantParams): number;
  /** The id of a tensor an earlier lowering produced. */
  id(name: string, where: string): number;
  info(id: number): TensorInfo;
  push(node: Int8Node): void;
  /** `name` is the same tensor as `id` (a no-op at inference). */
  alias(name: string, id: number): void;
}

export interface LoweringContext {
  layer: Layer & Record<string, unknown>;
  node: GraphNode;
  graph: ModelGraph;
  /** The layer's name and class. */
  name: string;
  cls: string;
  /** Symbolic names of input 0 and output 0. */
  inName: string;
  outName: string;
  /** Output 0's shape without the batch axis. */
  outShape: number[];
  b: LoweringBuilder;
  /** Input 0's tensor id and info. */
  io(): { i: number; inInfo: TensorInfo };
  /** A new tensor for `name` (default: its calibrated quantization). */
  newOut(name: string, shape: number[], q?: QuantParams): number;
  /** Pushes a node scheduled as soon as its inputs exist (early-exit heads). */
  early(node: Int8Node): void;
  /** The single layer reading `tensor` (null when none, several, or it is a model output). */
  only(tensor: string): GraphNode | null;
  /** Layers this lowering absorbed (a folded BatchNormalization, a fused ReLU). */
  skip: Set<Layer>;
  /** The exit threshold of the next early-exit head. */
  thresholdOf(where: string): number;
}

export interface CalibrationContext {
  layer: Layer & Record<string, unknown>;
  node: GraphNode;
  /** Input 0 of this batch, and every tensor of it by symbolic name. */
  x: tf.Tensor;
  values: Map<string, tf.Tensor>;
  observe(name: string, values: ArrayLike<number>): void;
}

export interface LayerLowering {
  /** tf.layers class names (getClassName()) this lowering takes. */
  classes: readonly string[];
  check?(layer: Layer): void;
  calibrate?(ctx: CalibrationContext): void;
  lower(ctx: LoweringContext): void;
}

const REGISTRY = new Map<string, LayerLowering>();

/**
 * Registers a lowering for its layer classes. A class that already has one is refused unless
 * `replace` (a user's own version of a built-in lowering, at their own risk).
 */
export function registerLowering(lowering: LayerLowering, options: { replace?: boolean } = {}): void {
  const where = { op: 'registerLowering' };
  if (!lowering || typeof lowering.lower !== 'function') throw new ConfigError(where, 'lower', 'a function (ctx) => void', lowering?.lower);
  if (!Array.isArray(lowering.classes) || lowering.classes.length === 0 || !lowering.classes.every((c) => typeof c === 'string' && c !== '')) {
    throw new ConfigError(where, 'classes', 'layer class names', lowering?.classes);
  }
  for (const c of lowering.classes) {
    if (REGISTRY.has(c) && !options.replace) throw new ConfigError(where, 'classes', `a class without a lowering (pass { replace: true } to replace it)`, c);
  }
  for (const c of lowering.classes) REGISTRY.set(c, lowering);
}

/** The lowering of a layer class (undefined: none). */
export function loweringOf(cls: string): LayerLowering | undefined {
  return REGISTRY.get(cls);
}

/** Every layer class with a lowering, sorted. */
export function lowerableLayers(): string[] {
  return [...REGISTRY.keys()].sort();
}
